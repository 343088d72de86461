//! `iris oauth client …`: a tenant's OAuth clients and secrets, through the same OAuthService as
//! `/oauth/token`, on the same database as `serve`.

use anyhow::Context;
use iris_core::oauth::{ClientInfo, IssuedSecret};
use iris_core::{OAuthService, TenantService};
use serde_json::json;

use crate::admin::core_error;
use crate::cli::{OauthClientCommand, OauthCommand, OauthSecretCommand};
use crate::config::Config;
use crate::server::open_existing_store;

/// Prints what an admin pastes into the identity provider; the secret is shown only this once.
fn print_secret(public_url: &str, issued: &IssuedSecret, json: bool) {
    let endpoint = token_endpoint(public_url);
    if json {
        let out = json!({"client_id": issued.client_id, "client_secret": issued.secret, "secret_id": issued.secret_id, "token_endpoint": endpoint});
        println!("{out}");
        return;
    }
    println!("Token Endpoint:    {endpoint}");
    println!("Client Identifier: {}", issued.client_id);
    println!("Client Secret:     {}", issued.secret);
    println!(
        "(secret id {}; the secret is shown only now)",
        issued.secret_id
    );
}

fn token_endpoint(public_url: &str) -> String {
    format!(
        "{}{}",
        public_url.trim_end_matches('/'),
        iris_http::oauth::TOKEN_PATH
    )
}

fn client_json(c: &ClientInfo) -> serde_json::Value {
    let secrets: Vec<_> = c
        .secrets
        .iter()
        .map(|s| json!({"secret_id": s.id, "created": s.created, "last_used": s.last_used, "revoked_at": s.revoked_at}))
        .collect();
    json!({"client_id": c.id, "label": c.label, "created": c.created, "revoked_at": c.revoked_at, "secrets": secrets})
}

pub async fn oauth(config: &Config, command: OauthCommand) -> anyhow::Result<()> {
    let store = open_existing_store(config).await?;
    let public_url = config.public_url_for(config.listen_addr()?);
    let tenants = TenantService::new(store.clone());
    let oauth = OAuthService::new(store);
    let OauthCommand::Client(command) = command;
    match command {
        OauthClientCommand::Create {
            tenant,
            label,
            json,
        } => {
            let tenant = tenants.find(&tenant).await.map_err(core_error)?;
            let issued = oauth
                .create_client(&tenant, label.as_deref())
                .await
                .map_err(core_error)?;
            if !json {
                println!(
                    "Tenant URL:        {}",
                    iris_http::tenant_url(&public_url, tenant.name())
                );
            }
            print_secret(&public_url, &issued, json);
        }
        OauthClientCommand::List { tenant, json } => {
            let tenant = tenants.find(&tenant).await.map_err(core_error)?;
            let clients = oauth.clients(&tenant).await.map_err(core_error)?;
            if json {
                let all: Vec<_> = clients.iter().map(client_json).collect();
                println!("{}", serde_json::Value::Array(all));
                return Ok(());
            }
            for c in &clients {
                let state = c
                    .revoked_at
                    .as_deref()
                    .map_or_else(|| "live".to_owned(), |at| format!("revoked {at}"));
                println!(
                    "{}\t{}\t{state}\t{}",
                    c.id,
                    c.created,
                    c.label.as_deref().unwrap_or("")
                );
                for s in &c.secrets {
                    let state = s
                        .revoked_at
                        .as_deref()
                        .map_or_else(|| "live".to_owned(), |at| format!("revoked {at}"));
                    let used = s.last_used.as_deref().unwrap_or("never used");
                    println!("  secret {}\t{}\t{state}\t{used}", s.id, s.created);
                }
            }
        }
        OauthClientCommand::Revoke { client_id } => {
            oauth
                .revoke_client(&client_id)
                .await
                .map_err(core_error)
                .context("revoking OAuth client")?;
            println!("OAuth client {client_id} revoked, with its secrets and access tokens");
        }
        OauthClientCommand::Secret(OauthSecretCommand::Add { client_id, json }) => {
            let issued = oauth.add_secret(&client_id).await.map_err(core_error)?;
            print_secret(&public_url, &issued, json);
        }
        OauthClientCommand::Secret(OauthSecretCommand::Revoke {
            client_id,
            secret_id,
        }) => {
            oauth
                .revoke_secret(&client_id, &secret_id)
                .await
                .map_err(core_error)
                .context("revoking OAuth client secret")?;
            println!(
                "secret {secret_id} of OAuth client {client_id} revoked, with its access tokens"
            );
        }
    }
    Ok(())
}
