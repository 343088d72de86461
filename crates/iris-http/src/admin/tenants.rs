//! `/admin/v1/tenants`: list, create, read, disable, enable, status.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use iris_core::{Tenant, TenantName};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AdminError, AdminResult, ErrorBody};
use super::log::{CycleOut, EventOut};
use super::tokens::IssuedTokenOut;
use super::{AdminJson, AdminPath, OperatorAuth, json_response, ok};
use crate::AppState;

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    /// The name in its Tenant URL.
    pub name: String,
    /// What the customer pastes into the identity provider.
    pub tenant_url: String,
    pub created: String,
    pub enabled: bool,
    /// Since when it is disabled (all its tokens refused).
    pub disabled_at: Option<String>,
    /// Days its provisioning events are kept.
    pub log_retention_days: u32,
}

impl TenantOut {
    pub fn of(state: &AppState, t: &Tenant) -> Self {
        Self {
            name: t.name().to_owned(),
            tenant_url: state.tenant_url(t.name()),
            created: t.created().to_owned(),
            enabled: t.disabled_at().is_none(),
            disabled_at: t.disabled_at().map(str::to_owned),
            log_retention_days: t.log_retention_days(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// 1–63 of `a-z 0-9 -`, not starting or ending with `-`.
    pub name: String,
}

/// A new tenant and its first token. The token is shown only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTenant {
    pub tenant: TenantOut,
    pub token: IssuedTokenOut,
}

/// The tenant's provisioning at a glance.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantStatusOut {
    pub tenant: String,
    /// `healthy`, `degraded`, `failing` or `silent`.
    pub health: String,
    /// Why, for a person.
    pub reason: String,
    /// Failed requests ÷ requests of the judged cycle (the newest that was not a Test Connection).
    pub failure_rate: f64,
    /// When the newest cycle's last request came.
    pub last_request: Option<String>,
    pub last_cycle: Option<CycleOut>,
    pub last_provisioning_cycle: Option<CycleOut>,
    pub last_failure: Option<EventOut>,
}

#[utoipa::path(
    get, path = "/tenants", tag = "tenants",
    summary = "List tenants",
    responses(
        (status = 200, description = "Every tenant, by name", body = Vec<TenantOut>),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
    )
)]
pub async fn list(_: OperatorAuth, State(state): State<AppState>) -> AdminResult<Response> {
    let all = state.tenants.list().await?;
    let out: Vec<TenantOut> = all.iter().map(|t| TenantOut::of(&state, t)).collect();
    Ok(ok(&out))
}

#[utoipa::path(
    post, path = "/tenants", tag = "tenants",
    summary = "Create a tenant and its first token (shown once)",
    request_body = CreateTenant,
    responses(
        (status = 201, description = "Created; the token's secret is in this response only", body = CreatedTenant),
        (status = 400, description = "Invalid name or body", body = ErrorBody),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 409, description = "A tenant of that name exists (code `uniqueness`)", body = ErrorBody),
    )
)]
pub async fn create(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminJson(body): AdminJson<CreateTenant>,
) -> AdminResult<Response> {
    let name = TenantName::parse(&body.name)
        .map_err(|message| AdminError::bad_request("invalid_value", message))?;
    let (tenant, token) = state.tenants.create(&name).await?;
    let out = CreatedTenant {
        tenant: TenantOut::of(&state, &tenant),
        token: IssuedTokenOut::of(&token, Some("initial")),
    };
    Ok(json_response(StatusCode::CREATED, &out))
}

#[utoipa::path(
    get, path = "/tenants/{tenant}", tag = "tenants",
    summary = "Read a tenant",
    params(("tenant" = String, Path, description = "Tenant name")),
    responses(
        (status = 200, body = TenantOut),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn fetch(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath(name): AdminPath<String>,
) -> AdminResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    Ok(ok(&TenantOut::of(&state, &tenant)))
}

#[utoipa::path(
    post, path = "/tenants/{tenant}/disable", tag = "tenants",
    summary = "Disable a tenant: every token of it is refused at once; data is kept",
    params(("tenant" = String, Path, description = "Tenant name")),
    responses(
        (status = 200, body = TenantOut),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn disable(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath(name): AdminPath<String>,
) -> AdminResult<Response> {
    let tenant = state.tenants.set_disabled(&name, true).await?;
    Ok(ok(&TenantOut::of(&state, &tenant)))
}

#[utoipa::path(
    post, path = "/tenants/{tenant}/enable", tag = "tenants",
    summary = "Enable a disabled tenant",
    params(("tenant" = String, Path, description = "Tenant name")),
    responses(
        (status = 200, body = TenantOut),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn enable(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath(name): AdminPath<String>,
) -> AdminResult<Response> {
    let tenant = state.tenants.set_disabled(&name, false).await?;
    Ok(ok(&TenantOut::of(&state, &tenant)))
}

#[utoipa::path(
    get, path = "/tenants/{tenant}/status", tag = "tenants",
    summary = "The tenant's provisioning status: newest cycles, failure rate, verdict, last failure",
    params(("tenant" = String, Path, description = "Tenant name")),
    responses(
        (status = 200, body = TenantStatusOut),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn status(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath(name): AdminPath<String>,
) -> AdminResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let settings = state.activity.settings();
    let status = state
        .log
        .status(&tenant, &settings, time::OffsetDateTime::now_utc())
        .await?;
    Ok(ok(&TenantStatusOut {
        tenant: status.tenant,
        health: status.health.as_str().to_owned(),
        reason: status.reason,
        failure_rate: status.failure_rate,
        last_request: status.last_request,
        last_cycle: status.last_cycle.as_ref().map(CycleOut::of),
        last_provisioning_cycle: status.last_provisioning_cycle.as_ref().map(CycleOut::of),
        last_failure: status.last_failure.as_ref().map(EventOut::of),
    }))
}
