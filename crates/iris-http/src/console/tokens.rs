//! A tenant's Secret Tokens: list, issue (the secret is shown once, beside the Tenant URL, in the
//! order Entra's provisioning page asks for them), and revoke after a confirmation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use iris_core::tenants::TokenInfo;
use iris_core::{IssuedToken, Tenant, TokenId};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::{ConsoleError, ConsoleResult};
use super::layout::{self, Tab, csrf_input, maybe_time};
use super::session::{Console, ConsoleForm};
use super::sign_in::NoFields;
use crate::AppState;

/// Token lifetimes offered by the issue form, in days (0: until revoked).
const LIFETIMES: [(u32, &str); 5] = [
    (0, "Never (until revoked)"),
    (30, "30 days"),
    (90, "90 days"),
    (180, "180 days"),
    (365, "1 year"),
];

fn token_state(token: &TokenInfo, now: &str) -> Markup {
    if let Some(at) = &token.revoked_at {
        html! { span.badge.revoked { "revoked" } " " (layout::time(at)) }
    } else if token.is_live(now) {
        html! { span.badge.live { "live" } }
    } else {
        html! { span.badge.expired { "expired" } }
    }
}

fn issue_form(console: &Console, tenant: &str) -> Markup {
    html! {
        section.panel aria-labelledby="issue-token" {
            h2 #issue-token { "Issue a Secret Token" }
            p.help { "For rotation: issue the new token, paste it into Entra, then revoke the old one." }
            form method="post" action=(console.url(&format!("/tenants/{tenant}/tokens"))) {
                (csrf_input(console))
                div.field {
                    label for="label" { "Label" }
                    input #label name="label" type="text" maxlength="200" aria-describedby="label-help";
                    p #label-help .help { "A note to recognise the token by, e.g. “Entra production”." }
                }
                div.field {
                    label for="expires" { "Expires" }
                    select #expires name="expires_in_days" {
                        @for (days, label) in LIFETIMES {
                            option value=(days) { (label) }
                        }
                    }
                }
                button.primary type="submit" { "Issue token" }
            }
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(name): Path<String>,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let tokens = state.tenants.tokens(&tenant).await?;
    let now = iris_core::clock::now();
    let body = html! {
        h1 { "Secret Tokens" }
        p { "Iris keeps only a hash of each token: a secret is shown once, when it is issued." }
        @if tokens.is_empty() {
            p { "This tenant has no tokens." }
        } @else {
            div.table-wrap {
                table {
                    caption.visually-hidden { "Tokens of " (name) }
                    thead { tr { th scope="col" { "Label" } th scope="col" { "Token id" } th scope="col" { "Created" } th scope="col" { "Last used" } th scope="col" { "Expires" } th scope="col" { "State" } th scope="col" { span.visually-hidden { "Actions" } } } }
                    tbody {
                        @for t in &tokens {
                            tr {
                                td { (t.label.as_deref().unwrap_or("—")) }
                                td { code { (t.id) } }
                                td { (layout::time(&t.created)) }
                                td { (maybe_time(t.last_used.as_deref(), "never")) }
                                td { (maybe_time(t.expires_at.as_deref(), "never")) }
                                td { (token_state(t, &now)) }
                                td {
                                    @if t.revoked_at.is_none() {
                                        a.button.danger href=(console.url(&format!("/tenants/{name}/tokens/{}/revoke", t.id)))
                                            aria-label={ "Revoke token " (t.label.as_deref().unwrap_or(&t.id)) } { "Revoke…" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (issue_form(&console, &name))
    };
    Ok(layout::page(
        &console,
        &format!("Tokens of {name}"),
        Some((tenant.name(), Tab::Tokens)),
        body,
    ))
}

#[derive(Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    expires_in_days: String,
}

pub async fn issue(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ConsoleForm { console, form }: ConsoleForm<IssueForm>,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let label = Some(form.label.trim()).filter(|l| !l.is_empty());
    let days: u32 = match form.expires_in_days.trim() {
        "" => 0,
        raw => raw
            .parse()
            .map_err(|_| ConsoleError::BadRequest(format!("'{raw}' is not a number of days")))?,
    };
    let lifetime = (days > 0).then(|| time::Duration::days(i64::from(days)));
    let token = state.tenants.issue_token(&tenant, label, lifetime).await?;
    tracing::info!(account = %console.account(), tenant = tenant.name(), token_id = token.id.as_str(), "console: token issued");
    Ok(credentials_page(
        &state,
        &console,
        &tenant,
        &token,
        "Token issued",
        label,
    ))
}

/// The Tenant URL and the new Secret Token, laid out as Entra's "Admin Credentials" asks for
/// them, with copy buttons (which need JavaScript; the fields can be selected without it). The
/// page is never cached and the secret is never shown again.
pub fn credentials_page(
    state: &AppState,
    console: &Console,
    tenant: &Tenant,
    token: &IssuedToken,
    title: &str,
    label: Option<&str>,
) -> Response {
    let name = tenant.name();
    let tenant_url = state.tenant_url(name);
    let body = html! {
        h1 { (title) }
        (layout::notice("warning", "Copy the Secret Token now: Iris keeps only its hash and will never show it again."))
        section.panel.credentials aria-labelledby="admin-credentials" {
            h2 #admin-credentials { "Admin Credentials" }
            p.help { "In Entra: Enterprise applications → your app → Provisioning → Provisioning Mode “Automatic” → Admin Credentials. Paste both, then Test Connection and Save." }
            div.field {
                label for="tenant-url" { "Tenant URL" }
                div.copy-row {
                    input #tenant-url type="text" readonly value=(tenant_url) spellcheck="false";
                    button.copy type="button" data-copy="tenant-url" hidden { "Copy" }
                }
            }
            div.field {
                label for="secret-token" { "Secret Token" }
                div.copy-row {
                    input #secret-token type="text" readonly value=(token.token) spellcheck="false" autocomplete="off";
                    button.copy type="button" data-copy="secret-token" hidden { "Copy" }
                }
            }
            dl.facts {
                dt { "Token id" } dd { code { (token.id.as_str()) } }
                dt { "Label" } dd { (label.unwrap_or("—")) }
                dt { "Expires" } dd { (maybe_time(token.expires_at.as_deref(), "never (until revoked)")) }
            }
        }
        p { a href=(console.url(&format!("/tenants/{name}/tokens"))) { "Done: back to the tokens" } }
    };
    let mut response = layout::page(console, title, Some((name, Tab::Tokens)), body);
    *response.status_mut() = StatusCode::CREATED;
    response
}

fn live_token(tokens: &[TokenInfo], token_id: &str) -> ConsoleResult<TokenInfo> {
    tokens
        .iter()
        .find(|t| t.id == token_id && t.revoked_at.is_none())
        .cloned()
        .ok_or_else(|| ConsoleError::NotFound(format!("no live token with id '{token_id}'")))
}

pub async fn confirm_revoke(
    State(state): State<AppState>,
    console: Console,
    Path((name, token_id)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    TokenId::parse(&token_id).ok_or_else(|| ConsoleError::NotFound("no such token".into()))?;
    let token = live_token(&state.tenants.tokens(&tenant).await?, &token_id)?;
    let body = html! {
        h1 { "Revoke this token?" }
        section.panel {
            dl.facts {
                dt { "Token id" } dd { code { (token.id) } }
                dt { "Label" } dd { (token.label.as_deref().unwrap_or("—")) }
                dt { "Created" } dd { (layout::time(&token.created)) }
                dt { "Last used" } dd { (maybe_time(token.last_used.as_deref(), "never")) }
            }
            p { "An identity provider still using it is refused from its next request on, by every Iris process. This cannot be undone." }
            form method="post" action=(console.url(&format!("/tenants/{name}/tokens/{token_id}/revoke"))) {
                (csrf_input(&console))
                div.actions {
                    button.danger type="submit" { "Revoke token" }
                    a.button href=(console.url(&format!("/tenants/{name}/tokens"))) { "Cancel" }
                }
            }
        }
    };
    Ok(layout::page(
        &console,
        "Revoke token",
        Some((tenant.name(), Tab::Tokens)),
        body,
    ))
}

pub async fn revoke(
    State(state): State<AppState>,
    Path((name, token_id)): Path<(String, String)>,
    ConsoleForm { console, .. }: ConsoleForm<NoFields>,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    state
        .tenants
        .revoke_tenant_token(&tenant, &token_id)
        .await?;
    tracing::info!(account = %console.account(), tenant = tenant.name(), token_id = %token_id, "console: token revoked");
    Ok(Redirect::to(&console.url(&format!("/tenants/{name}/tokens"))).into_response())
}
