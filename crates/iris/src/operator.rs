//! `iris admin …`: operator tokens (the same OperatorService the admin API authenticates with) and
//! the admin API's OpenAPI document.

use iris_core::OperatorService;
use serde_json::json;

use crate::admin::core_error;
use crate::cli::{AdminCommand, OperatorTokenCommand};
use crate::config::Config;
use crate::server::open_existing_store;

pub async fn admin(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Openapi => {
            println!("{}", iris_http::admin::openapi().to_pretty_json()?);
            Ok(())
        }
        AdminCommand::Token(command) => token(config, command).await,
    }
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
