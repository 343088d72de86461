//! Tenants: the list with a health card each, create, the overview of one, disable and enable.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use iris_core::listing::ListParams;
use iris_core::provisioning::TenantStatus;
use iris_core::{ResourceKind, Tenant, TenantName};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::{ConsoleError, ConsoleResult};
use super::layout::{self, Tab, csrf_input, health_badge, maybe_time, percent};
use super::session::{Console, ConsoleForm};
use super::sign_in::NoFields;
use super::tokens;
use crate::AppState;

/// One tenant's card: its verdict and what it is judged on.
struct Card {
    tenant: Tenant,
    status: TenantStatus,
    users: u64,
    groups: u64,
}

/// How many resources of `kind` the tenant has (a count query, no rows read).
pub async fn count(state: &AppState, tenant: &Tenant, kind: ResourceKind) -> ConsoleResult<u64> {
    let params = ListParams {
        count: Some(0),
        ..ListParams::default()
    };
    Ok(state
        .resources
        .list(tenant, kind, &params)
        .await?
        .page
        .total)
}

async fn card(state: &AppState, tenant: Tenant) -> ConsoleResult<Card> {
    let settings = state.activity.settings();
    let status = state
        .log
        .status(&tenant, &settings, time::OffsetDateTime::now_utc())
        .await?;
    let users = count(state, &tenant, ResourceKind::User).await?;
    let groups = count(state, &tenant, ResourceKind::Group).await?;
    Ok(Card {
        tenant,
        status,
        users,
        groups,
    })
}

fn card_markup(console: &Console, card: &Card) -> Markup {
    let name = card.tenant.name();
    let status = &card.status;
    let health = status.health.as_str();
    let last_cycle = status.last_cycle.as_ref();
    html! {
        article.card aria-labelledby={ "tenant-" (name) } {
            header {
                h2 #{ "tenant-" (name) } {
                    a href=(console.url(&format!("/tenants/{name}"))) { (name) }
                }
                @if card.tenant.disabled_at().is_some() {
                    span.badge.disabled { "disabled" }
                } @else {
                    (health_badge(health))
                }
            }
            p.reason { (status.reason) }
            dl.facts {
                dt { "Last cycle" }
                dd {
                    @match last_cycle {
                        Some(cycle) => { (cycle.kind.as_str()) ", " (layout::time(&cycle.ended)) }
                        None => span.muted { "none yet" }
                    }
                }
                dt { "Failure rate" }
                dd { (percent(status.failure_rate)) }
                dt { "Users" }
                dd { (card.users) }
                dt { "Groups" }
                dd { (card.groups) }
            }
        }
    }
}

fn create_form(console: &Console, value: &str, error: Option<&str>) -> Markup {
    html! {
        section.panel aria-labelledby="create-tenant" {
            h2 #create-tenant { "Create a tenant" }
            form method="post" action=(console.url("/tenants")) {
                (csrf_input(console))
                div.field {
                    label for="tenant-name" { "Tenant name" }
                    input #tenant-name name="name" type="text" required pattern="[a-z0-9]([a-z0-9\\-]{0,61}[a-z0-9])?"
                        value=(value) aria-describedby="tenant-name-help"
                        aria-invalid=[error.map(|_| "true")] autocapitalize="none" spellcheck="false";
                    p #tenant-name-help .help { "Lowercase letters, digits and '-'; it becomes part of the Tenant URL." }
                    @if let Some(error) = error {
                        p.field-error role="alert" { (error) }
                    }
                }
                button.primary type="submit" { "Create tenant" }
            }
        }
    }
}

async fn list_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    value: &str,
    error: Option<&str>,
) -> ConsoleResult<Response> {
    let mut cards = Vec::new();
    for tenant in state.tenants.list().await? {
        cards.push(card(state, tenant).await?);
    }
    let body = html! {
        h1 { "Tenants" }
        @if cards.is_empty() {
            p { "No tenants yet." }
        } @else {
            div.cards { @for c in &cards { (card_markup(console, c)) } }
        }
        (create_form(console, value, error))
    };
    let mut response = layout::page(console, "Tenants", None, body);
    *response.status_mut() = status;
    Ok(response)
}

pub async fn list(State(state): State<AppState>, console: Console) -> ConsoleResult<Response> {
    list_page(&state, &console, StatusCode::OK, "", None).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
}

/// Creates a tenant and shows its Tenant URL and first Secret Token, once.
pub async fn create(
    State(state): State<AppState>,
    ConsoleForm { console, form }: ConsoleForm<CreateForm>,
) -> ConsoleResult<Response> {
    let name = match TenantName::parse(form.name.trim()) {
        Ok(name) => name,
        Err(message) => {
            return list_page(
                &state,
                &console,
                StatusCode::BAD_REQUEST,
                &form.name,
                Some(&message),
            )
            .await;
        }
    };
    match state.tenants.create(&name).await {
        Ok((tenant, token)) => {
            tracing::info!(account = %console.account(), tenant = tenant.name(), "console: tenant created");
            Ok(tokens::credentials_page(
                &state,
                &console,
                &tenant,
                &token,
                "Tenant created",
                Some("initial"),
            ))
        }
        Err(e) => match ConsoleError::from(e) {
            ConsoleError::Refused(status, message) => {
                list_page(&state, &console, status, &form.name, Some(&message)).await
            }
            other => Err(other),
        },
    }
}

pub async fn overview(
    State(state): State<AppState>,
    console: Console,
    Path(name): Path<String>,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let card = card(&state, tenant.clone()).await?;
    let status = &card.status;
    let enabled = tenant.disabled_at().is_none();
    let tenant_url = state.tenant_url(tenant.name());
    let body = html! {
        h1 { "Tenant " (tenant.name()) }
        div.overview {
            section.panel aria-labelledby="health" {
                h2 #health { "Health " (health_badge(status.health.as_str())) }
                p { (status.reason) }
                dl.facts {
                    dt { "Last request" } dd { (maybe_time(status.last_request.as_deref(), "none yet")) }
                    dt { "Last cycle" }
                    dd {
                        @match &status.last_cycle {
                            Some(c) => { (c.kind.as_str()) ", " (c.counts.requests) " requests, ended " (layout::time(&c.ended)) }
                            None => span.muted { "none yet" }
                        }
                    }
                    dt { "Failure rate" } dd { (percent(status.failure_rate)) " of the last provisioning cycle" }
                    dt { "Users" } dd { a href=(console.url(&format!("/tenants/{name}/users"))) { (card.users) } }
                    dt { "Groups" } dd { a href=(console.url(&format!("/tenants/{name}/groups"))) { (card.groups) } }
                    dt { "Created" } dd { (layout::time(tenant.created())) }
                    dt { "Log kept" } dd { (tenant.log_retention_days()) " days" }
                }
                @if let Some(failure) = &status.last_failure {
                    p {
                        "Last failure: "
                        a href=(console.url(&format!("/tenants/{name}/log/{}", failure.id))) {
                            (failure.identity) " — " (failure.detail.as_deref().unwrap_or("refused"))
                        }
                        " (" (layout::time(&failure.at)) ")"
                    }
                }
            }
            section.panel aria-labelledby="connection" {
                h2 #connection { "Connection" }
                div.field {
                    label for="tenant-url" { "Tenant URL" }
                    div.copy-row {
                        input #tenant-url type="text" readonly value=(tenant_url);
                        button.copy type="button" data-copy="tenant-url" hidden { "Copy" }
                    }
                }
                p { a href=(console.url(&format!("/tenants/{name}/tokens"))) { "Issue or revoke Secret Tokens" } }
                h3 { "State" }
                @if enabled {
                    p { "Enabled: its tokens are accepted." }
                    form method="post" action=(console.url(&format!("/tenants/{name}/disable"))) {
                        (csrf_input(&console))
                        button.danger type="submit" { "Disable tenant" }
                        p.help { "Every token of the tenant is refused at once; its data is kept." }
                    }
                } @else {
                    p { "Disabled since " (maybe_time(tenant.disabled_at(), "")) ": all its tokens are refused." }
                    form method="post" action=(console.url(&format!("/tenants/{name}/enable"))) {
                        (csrf_input(&console))
                        button.primary type="submit" { "Enable tenant" }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &console,
        &format!("Tenant {name}"),
        Some((tenant.name(), Tab::Overview)),
        body,
    ))
}

async fn set_disabled(
    state: &AppState,
    console: &Console,
    name: &str,
    disabled: bool,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.set_disabled(name, disabled).await?;
    tracing::info!(account = %console.account(), tenant = tenant.name(), disabled, "console: tenant state changed");
    Ok(Redirect::to(&console.url(&format!("/tenants/{}", tenant.name()))).into_response())
}

pub async fn disable(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ConsoleForm { console, .. }: ConsoleForm<NoFields>,
) -> ConsoleResult<Response> {
    set_disabled(&state, &console, &name, true).await
}

pub async fn enable(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ConsoleForm { console, .. }: ConsoleForm<NoFields>,
) -> ConsoleResult<Response> {
    set_disabled(&state, &console, &name, false).await
}
