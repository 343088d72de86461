//! `iris admin …`: operator tokens (the same OperatorService the admin API authenticates with),
//! the console's operator accounts (the same AccountService the console signs in with) and the
//! admin API's OpenAPI document.

use std::io::BufRead;

use anyhow::{Context, bail};
use iris_core::OperatorService;
use iris_core::accounts::{AccountName, AccountService, Password};
use serde_json::json;

use crate::admin::core_error;
use crate::cli::{AdminCommand, ConsoleUserCommand, OperatorTokenCommand};
use crate::config::Config;
use crate::server::open_existing_store;

pub async fn admin(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Openapi => {
            println!("{}", iris_http::admin::openapi().to_pretty_json()?);
            Ok(())
        }
        AdminCommand::Token(command) => token(config, command).await,
        AdminCommand::User(command) => user(config, command).await,
    }
}

/// The password for an account: the first line of standard input with `--password-stdin`, else
/// asked for twice on the terminal without echo.
fn read_password(from_stdin: bool) -> anyhow::Result<Password> {
    let raw = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ").context(
            "cannot read the password from the terminal (use --password-stdin in scripts)",
        )?;
        let again = rpassword::prompt_password("Password again: ")
            .context("cannot read the password from the terminal")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    };
    Password::parse(&raw).map_err(anyhow::Error::msg)
}

async fn user(config: &Config, command: ConsoleUserCommand) -> anyhow::Result<()> {
    let accounts = AccountService::new(open_existing_store(config).await?);
    let parse_name = |raw: &str| AccountName::parse(raw).map_err(anyhow::Error::msg);
    match command {
        ConsoleUserCommand::Create {
            name,
            password_stdin,
        } => {
            let name = parse_name(&name)?;
            let password = read_password(password_stdin)?;
            let account = accounts.create(&name, password).await.map_err(core_error)?;
            println!(
                "created console account '{}'; sign in at {}{}/sign-in",
                account.name,
                config.public_url_for(config.listen_addr()?),
                config.console_path
            );
        }
        ConsoleUserCommand::Password {
            name,
            password_stdin,
        } => {
            let name = parse_name(&name)?;
            let password = read_password(password_stdin)?;
            accounts
                .set_password(&name, password)
                .await
                .map_err(core_error)?;
            println!(
                "password of '{}' changed; its sessions have ended",
                name.as_str()
            );
        }
        ConsoleUserCommand::List { json } => {
            let all = accounts.list().await.map_err(core_error)?;
            if json {
                let rows: Vec<_> = all
                    .iter()
                    .map(|a| json!({"name": a.name, "created": a.created, "last_sign_in": a.last_sign_in, "locked_until": a.locked_until}))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for a in &all {
                    let signed_in = a.last_sign_in.as_deref().unwrap_or("never signed in");
                    let locked = a
                        .locked_until
                        .as_deref()
                        .map(|t| format!("\tlocked until {t}"))
                        .unwrap_or_default();
                    println!("{}\t{}\t{signed_in}{locked}", a.name, a.created);
                }
            }
        }
        ConsoleUserCommand::Delete { name } => {
            let name = parse_name(&name)?;
            accounts.delete(&name).await.map_err(core_error)?;
            println!(
                "console account '{}' deleted; its sessions have ended",
                name.as_str()
            );
        }
    }
    Ok(())
}

async fn token(config: &Config, command: OperatorTokenCommand) -> anyhow::Result<()> {
    let operators = OperatorService::new(open_existing_store(config).await?);
    match command {
        OperatorTokenCommand::Issue { label, json } => {
            let issued = operators
                .issue(label.as_deref())
                .await
                .map_err(core_error)?;
            if json {
                let out =
                    json!({"token": issued.token, "token_id": issued.id.as_str(), "label": label});
                println!("{out}");
            } else {
                println!("Operator Token: {}", issued.token);
                println!(
                    "(token id {}; the token is shown only now. Send it as 'Authorization: Bearer …' to /admin/v1)",
                    issued.id.as_str()
                );
            }
        }
        OperatorTokenCommand::List { json } => {
            let all = operators.list().await.map_err(core_error)?;
            if json {
                let rows: Vec<_> = all
                    .iter()
                    .map(|t| json!({"token_id": t.id, "label": t.label, "created": t.created, "last_used": t.last_used, "revoked_at": t.revoked_at}))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for t in &all {
                    let state = t
                        .revoked_at
                        .as_deref()
                        .map_or("live".to_owned(), |at| format!("revoked {at}"));
                    let used = t.last_used.as_deref().unwrap_or("never used");
                    println!(
                        "{}\t{}\t{state}\t{used}\t{}",
                        t.id,
                        t.created,
                        t.label.as_deref().unwrap_or("")
                    );
                }
            }
        }
        OperatorTokenCommand::Revoke { token_id } => {
            operators.revoke(&token_id).await.map_err(core_error)?;
            println!("operator token {token_id} revoked");
        }
    }
    Ok(())
}
