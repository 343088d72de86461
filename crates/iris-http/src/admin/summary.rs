//! `/admin/v1/metrics/summary`: what `/metrics` would tell, in JSON for a person or a script:
//! every tenant's verdict and the request counts and failure rate of its last cycle (from the
//! recorded cycles, so all processes count), and this process's own totals.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{AdminResult, ErrorBody};
use super::{OperatorAuth, ok};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    pub process: ProcessTotals,
    pub tenants: Vec<TenantSummary>,
}

/// This process, since it started.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessTotals {
    pub uptime_seconds: u64,
    /// Every HTTP request answered (SCIM, admin and health).
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    /// Requests refused for a missing or invalid token.
    pub unauthenticated: u64,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub pools: Vec<PoolOut>,
}

/// A connection pool right now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolOut {
    /// `reader` or `writer` (SQLite), `main` (PostgreSQL).
    pub pool: String,
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

/// One tenant, judged on its recorded cycles (all processes).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantSummary {
    pub tenant: String,
    pub enabled: bool,
    /// `healthy`, `degraded`, `failing` or `silent`.
    pub health: String,
    pub reason: String,
    pub last_request: Option<String>,
    /// The judged cycle: the newest that was not a Test Connection (else the newest).
    pub cycle_kind: Option<String>,
    pub requests: u64,
    pub failures: u64,
    pub unauthorized: u64,
    pub failure_rate: f64,
}

#[utoipa::path(
    get, path = "/metrics/summary", tag = "metrics",
    summary = "Per-tenant request counts and failure rates, and this process's totals",
    responses(
        (status = 200, body = Summary),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
    )
)]
pub async fn summary(_: OperatorAuth, State(state): State<AppState>) -> AdminResult<Response> {
    let settings = state.activity.settings();
    let now = time::OffsetDateTime::now_utc();
    let mut tenants = Vec::new();
    for tenant in state.tenants.list().await? {
        let status = state.log.status(&tenant, &settings, now).await?;
        let judged = status
            .last_provisioning_cycle
            .as_ref()
            .or(status.last_cycle.as_ref());
        let counts = judged.map(|c| c.counts).unwrap_or_default();
        tenants.push(TenantSummary {
            tenant: status.tenant,
            enabled: tenant.disabled_at().is_none(),
            health: status.health.as_str().to_owned(),
            reason: status.reason,
            last_request: status.last_request,
            cycle_kind: judged.map(|c| c.kind.as_str().to_owned()),
            requests: counts.requests,
            failures: counts.failures,
            unauthorized: counts.unauthorized,
            failure_rate: status.failure_rate,
        });
    }
    let totals = state.metrics.totals();
    let pools = state
        .store
        .pool_stats()
        .into_iter()
        .map(|p| PoolOut {
            pool: p.pool.to_owned(),
            in_use: p.size.saturating_sub(p.idle),
            idle: p.idle,
            max: p.max,
        })
        .collect();
    Ok(ok(&Summary {
        process: ProcessTotals {
            uptime_seconds: state.metrics.uptime().as_secs(),
            requests: totals.requests,
            client_errors: totals.client_errors,
            server_errors: totals.server_errors,
            unauthenticated: totals.unauthenticated,
            database: state.store.backend_name().to_owned(),
            pools,
        },
        tenants,
    }))
}
