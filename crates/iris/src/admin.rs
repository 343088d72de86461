//! `iris tenant …` and `iris token …`: the same TenantService the HTTP API uses, on the same
//! database as `serve`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, anyhow};
use iris_core::ProvisioningLog;
use iris_core::provisioning::{EventQuery, ProvisioningEvent, StatusFilter};
use iris_core::tenants::TokenInfo;
use iris_core::transfer::{Line, TransferService};
use iris_core::{CoreError, IssuedToken, Tenant, TenantName, TenantService};
use serde_json::json;

use crate::cli::{TenantCommand, TokenCommand};
use crate::config::Config;
use crate::server::open_existing_store;

pub(crate) fn core_error(e: CoreError) -> anyhow::Error {
    match e {
        CoreError::Scim(s) => anyhow!(s.detail),
        CoreError::Store(s) => anyhow!(s),
    }
}

async fn service(config: &Config) -> anyhow::Result<(TenantService, ProvisioningLog, String)> {
    let store = open_existing_store(config).await?;
    let public_url = config.public_url_for(config.listen_addr()?);
    Ok((
        TenantService::new(store.clone()),
        ProvisioningLog::new(store),
        public_url,
    ))
}

/// Prints what an admin pastes into the identity provider: the Tenant URL (on request) and the
/// token, which is shown only this once.
fn print_credentials(
    public_url: &str,
    tenant: &Tenant,
    token: &IssuedToken,
    json: bool,
    with_url: bool,
) {
    let tenant_url = iris_http::tenant_url(public_url, tenant.name());
    if json {
        let out = json!({"tenant": tenant.name(), "tenant_url": tenant_url, "token": token.token, "token_id": token.id.as_str(), "expires_at": token.expires_at});
        println!("{out}");
        return;
    }
    if with_url {
        println!("Tenant URL:   {tenant_url}");
    }
    println!("Secret Token: {}", token.token);
    println!(
        "(token id {}; the token is shown only now)",
        token.id.as_str()
    );
    if let Some(at) = &token.expires_at {
        println!("Expires:      {at} (refused afterwards; issue the next one before then)");
    }
}

fn print_rejected(recent: &[ProvisioningEvent], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if recent.is_empty() && !json {
        writeln!(out, "no refused requests recorded")?;
    }
    for r in recent {
        if json {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        } else {
            let scim_type = r.scim_type.as_deref().unwrap_or("-");
            writeln!(
                out,
                "{}  {} {}/{}  {} {scim_type}: {}\n  {}",
                r.at,
                r.method,
                r.resource_type.name(),
                r.resource_id,
                r.status,
                r.detail.as_deref().unwrap_or_default(),
                r.body.as_deref().unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

pub async fn tenant(config: &Config, command: TenantCommand) -> anyhow::Result<()> {
    let (tenants, rejections, public_url) = service(config).await?;
    match command {
        TenantCommand::Create { name, json } => {
            let name = TenantName::parse(&name).map_err(anyhow::Error::msg)?;
            let (tenant, token) = tenants.create(&name).await.map_err(core_error)?;
            print_credentials(&public_url, &tenant, &token, json, true);
        }
        TenantCommand::List { json } => {
            let all = tenants.list().await.map_err(core_error)?;
            if json {
                let rows: Vec<_> = all
                    .iter()
                    .map(|t| json!({"tenant": t.name(), "tenant_url": iris_http::tenant_url(&public_url, t.name()), "created": t.created(), "disabled_at": t.disabled_at()}))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                for t in &all {
                    let state = t
                        .disabled_at()
                        .map_or("enabled".to_owned(), |at| format!("disabled since {at}"));
                    println!(
                        "{}\t{}\t{state}",
                        t.name(),
                        iris_http::tenant_url(&public_url, t.name())
                    );
                }
            }
        }
        TenantCommand::Disable { name } => {
            tenants
                .set_disabled(&name, true)
                .await
                .map_err(core_error)?;
            println!("tenant '{name}' disabled: its tokens are refused from now on");
        }
        TenantCommand::Enable { name } => {
            tenants
                .set_disabled(&name, false)
                .await
                .map_err(core_error)?;
            println!("tenant '{name}' enabled");
        }
        TenantCommand::Status { name, json } => {
            return crate::log_cli::tenant_status(config, &name, json).await;
        }
        TenantCommand::Retention { name, days } => {
            return crate::log_cli::set_retention(config, &name, days).await;
        }
        TenantCommand::Rejected { name, limit, json } => {
            let tenant = tenants.find(&name).await.map_err(core_error)?;
            let query = EventQuery {
                status: Some(StatusFilter::Failure),
                newest_first: true,
                limit,
                ..EventQuery::default()
            };
            let recent = rejections
                .events(&tenant, &query)
                .await
                .map_err(core_error)?;
            print_rejected(&recent, json)?;
        }
    }
    Ok(())
}

fn token_json(t: &TokenInfo) -> serde_json::Value {
    json!({"token_id": t.id, "label": t.label, "created": t.created, "last_used": t.last_used, "revoked_at": t.revoked_at, "expires_at": t.expires_at})
}

pub async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    let (tenants, _, public_url) = service(config).await?;
    match command {
        TokenCommand::Issue {
            tenant,
            label,
            expires,
            json,
        } => {
            let lifetime = expires
                .as_deref()
                .map(crate::log_cli::parse_span)
                .transpose()
                .context("--expires")?;
            let tenant = tenants.find(&tenant).await.map_err(core_error)?;
            let token = tenants
                .issue_token(&tenant, label.as_deref(), lifetime)
                .await
                .map_err(core_error)?;
            print_credentials(&public_url, &tenant, &token, json, false);
        }
        TokenCommand::List { tenant, json } => {
            let tenant = tenants.find(&tenant).await.map_err(core_error)?;
            let all = tenants.tokens(&tenant).await.map_err(core_error)?;
            if json {
                println!(
                    "{}",
                    serde_json::Value::Array(all.iter().map(token_json).collect())
                );
            } else {
                let now = iris_core::clock::now();
                for t in &all {
                    let state = match (&t.revoked_at, &t.expires_at) {
                        (Some(at), _) => format!("revoked {at}"),
                        (None, Some(at)) if !t.is_live(&now) => format!("expired {at}"),
                        (None, Some(at)) => format!("live until {at}"),
                        (None, None) => "live".to_owned(),
                    };
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
        TokenCommand::Revoke { token_id } => {
            tenants
                .revoke_token(&token_id)
                .await
                .map_err(core_error)
                .context("revoking token")?;
            println!("token {token_id} revoked");
        }
    }
    Ok(())
}

/// `iris export`: one JSON object per line, flushed as it goes.
pub async fn export(config: &Config, tenant: &str, output: Option<&Path>) -> anyhow::Result<()> {
    let store = open_existing_store(config).await?;
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let users = TransferService::new(store)
        .export(tenant, |line| {
            serde_json::to_writer(&mut out, line)?;
            out.write_all(b"\n")
        })
        .await
        .map_err(core_error)?;
    out.flush()?;
    eprintln!("exported tenant '{tenant}' with {users} users");
    Ok(())
}

/// `iris import`: reads and writes as it goes; a failure (an unreadable line included) leaves
/// nothing behind.
pub async fn import(config: &Config, input: Option<&Path>) -> anyhow::Result<()> {
    let reader: Box<dyn BufRead> = match input {
        Some(path) => Box::new(BufReader::new(
            File::open(path).with_context(|| format!("opening {}", path.display()))?,
        )),
        None => Box::new(BufReader::new(std::io::stdin().lock())),
    };
    let lines = reader
        .lines()
        .enumerate()
        .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|(n, line)| {
            let unreadable = |what: String| {
                CoreError::Scim(iris_scim::ScimError::invalid_syntax(format!(
                    "line {}: {what}",
                    n + 1
                )))
            };
            let line = line.map_err(|e| unreadable(format!("cannot be read: {e}")))?;
            serde_json::from_str::<Line>(&line)
                .map_err(|e| unreadable(format!("is not an export record: {e}")))
        });
    let store = open_existing_store(config).await?;
    let summary = TransferService::new(store)
        .import(lines)
        .await
        .map_err(core_error)?;
    println!(
        "imported {} tokens and {} users",
        summary.tokens, summary.users
    );
    Ok(())
}
