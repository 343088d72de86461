//! The provisioning log: what every request changed (or why it was refused), per tenant, written
//! in the same transaction as the change; and reading it back.

mod context;
mod cycles;
mod events;
mod pages;
mod query;
mod refusals;
mod tracker;

use std::sync::Arc;

pub use context::{Client, MAX_REQUEST_ID, RequestContext, is_well_formed_request_id};
pub use cycles::{
    Cycle, CycleCounts, CycleKind, CycleSettings, FAILING_RATE, Health, RequestKind, classify,
    health, human, is_probe,
};
pub use events::{
    AttributeChange, MembersDelta, Operation, ProvisioningEvent, created, diff, identity_of,
    modification, settle_members,
};
pub use pages::{MAX_PAGE, Page};
pub use query::{EventQuery, StatusFilter, id_bound};
pub use refusals::{
    MAX_LOGGED_BODY, MAX_RECORDED_BODY, RefusedRequest, redact_passwords, refused_event, storable,
};
pub use tracker::{ActivitySegment, ActivityTracker};

use iris_scim::ScimError;

use crate::error::CoreResult;
use crate::store::Store;
use crate::tenants::Tenant;

/// Events deleted per retention transaction: small enough that writers never wait long.
pub const PURGE_BATCH: u32 = 1000;

/// Cycles read to find the newest one that provisioned anything (probes come between them).
const STATUS_LOOKBACK: u32 = 50;

/// What an operator needs at a glance about one tenant.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantStatus {
    pub tenant: String,
    /// When the newest cycle's last request came.
    pub last_request: Option<String>,
    /// The newest cycle (a Test Connection included).
    pub last_cycle: Option<Cycle>,
    /// The newest cycle that was not a Test Connection: what the verdict judges.
    pub last_provisioning_cycle: Option<Cycle>,
    /// Failed requests ÷ requests of that cycle.
    pub failure_rate: f64,
    pub health: Health,
    pub reason: String,
    /// The most recent refusal, if there is one.
    pub last_failure: Option<ProvisioningEvent>,
}

#[derive(Clone)]
pub struct ProvisioningLog {
    store: Arc<dyn Store>,
}

impl ProvisioningLog {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Records a refused request. Recording is best effort: the client's answer does not depend
    /// on it, so a failure here is logged, never returned.
    pub async fn record_refused(
        &self,
        tenant: &Tenant,
        context: &RequestContext,
        request: RefusedRequest<'_>,
        error: &ScimError,
    ) {
        let mut event = refused_event(context, request, error);
        if event.identity.is_empty()
            && !event.resource_id.is_empty()
            && !event.resource_id.chars().any(char::is_control)
        {
            // A refused PATCH or DELETE names the resource by id only: show its name, as the
            // other events of its history do (a lookup paid only by refusals).
            if let Ok(Some(current)) = self
                .store
                .get(tenant.scope(), request.kind, request.resource_id)
                .await
            {
                event.identity = identity_of(request.kind, &current.doc);
            }
        }
        tracing::warn!(
            tenant = tenant.name(),
            method = %context.method,
            resource = request.kind.name(),
            id = request.resource_id,
            status = error.status,
            detail = %error.detail,
            body = %refusals::truncate(event.body.clone().unwrap_or_default(), MAX_LOGGED_BODY),
            "request refused"
        );
        if let Err(e) = self
            .store
            .record_events(tenant.scope(), std::slice::from_ref(&event))
            .await
        {
            tracing::error!(tenant = tenant.name(), error = %e, "could not record a refused request");
        }
    }

    /// A page of a tenant's log.
    pub async fn events(
        &self,
        tenant: &Tenant,
        query: &EventQuery,
    ) -> CoreResult<Vec<ProvisioningEvent>> {
        Ok(self.store.events(tenant.scope(), query).await?)
    }

    /// One event of the tenant's log; 404 if it has none of that id (or it was purged).
    pub async fn event(&self, tenant: &Tenant, id: &str) -> CoreResult<ProvisioningEvent> {
        self.store.event(tenant.scope(), id).await?.ok_or_else(|| {
            ScimError::not_found(format!("no event '{id}' in this tenant's log")).into()
        })
    }

    /// A page of the tenant's cycles, newest first.
    pub async fn cycles(
        &self,
        tenant: &Tenant,
        before: Option<&str>,
        limit: u32,
    ) -> CoreResult<Vec<Cycle>> {
        Ok(self
            .store
            .cycles(tenant.scope(), before, limit.clamp(1, 1000))
            .await?)
    }

    /// The tenant's status: its newest cycles, the failure rate and the verdict (as of `now`).
    pub async fn status(
        &self,
        tenant: &Tenant,
        settings: &CycleSettings,
        now: time::OffsetDateTime,
    ) -> CoreResult<TenantStatus> {
        let recent = self.cycles(tenant, None, STATUS_LOOKBACK).await?;
        let last = recent.first().cloned();
        let real = recent
            .iter()
            .find(|c| c.kind != CycleKind::TestConnection)
            .cloned();
        let (health, reason) = health(last.as_ref(), real.as_ref(), now, settings);
        let failures = EventQuery {
            status: Some(StatusFilter::Failure),
            newest_first: true,
            limit: 1,
            ..EventQuery::default()
        };
        let last_failure = self.events(tenant, &failures).await?.into_iter().next();
        Ok(TenantStatus {
            tenant: tenant.name().to_owned(),
            last_request: last.as_ref().map(|c| c.ended.clone()),
            failure_rate: real
                .as_ref()
                .or(last.as_ref())
                .map_or(0.0, |c| c.counts.failure_rate()),
            last_cycle: last,
            last_provisioning_cycle: real,
            health,
            reason,
            last_failure,
        })
    }

    /// Purges every tenant's events past its retention; how many went. Called hourly by
    /// `iris serve` and by `iris log purge`.
    pub async fn purge_expired(&self) -> CoreResult<u64> {
        let mut purged = 0;
        for row in self.store.tenants().await? {
            let days = i64::from(row.log_retention_days);
            let tenant = Tenant::from_row(row);
            let before = time::OffsetDateTime::now_utc() - time::Duration::days(days);
            purged += self.purge(&tenant, before).await?;
        }
        Ok(purged)
    }

    /// Purges expired events every `every`, forever (a task of `iris serve`).
    pub async fn run_retention(self, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "purged provisioning events past retention"),
                Err(e) => tracing::error!(error = %e, "purging provisioning events failed"),
            }
        }
    }

    /// Deletes the tenant's events older than `before` in batches of [`PURGE_BATCH`], each its
    /// own short transaction so writers never wait behind a purge; how many went.
    pub async fn purge(&self, tenant: &Tenant, before: time::OffsetDateTime) -> CoreResult<u64> {
        let bound = id_bound(before);
        let mut purged = 0;
        loop {
            let n = self
                .store
                .purge_events(tenant.scope(), &bound, PURGE_BATCH)
                .await?;
            purged += n;
            if n < u64::from(PURGE_BATCH) {
                return Ok(purged);
            }
            tokio::task::yield_now().await;
        }
    }
}
