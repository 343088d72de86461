//! What Iris keeps about requests, per tenant: the provisioning log.

use async_trait::async_trait;

use super::TenantScope;
use crate::error::StoreError;
use crate::provisioning::{ActivitySegment, Cycle, CycleSettings, EventQuery, ProvisioningEvent};

#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Records events that change nothing else (refused requests), in a transaction of their
    /// own. Events of a change are written by the change's own transaction instead.
    async fn record_events(
        &self,
        scope: &TenantScope,
        events: &[ProvisioningEvent],
    ) -> Result<(), StoreError>;

    /// A page of the tenant's provisioning log.
    async fn events(
        &self,
        scope: &TenantScope,
        query: &EventQuery,
    ) -> Result<Vec<ProvisioningEvent>, StoreError>;

    /// One event of the tenant's log, by id.
    async fn event(
        &self,
        scope: &TenantScope,
        id: &str,
    ) -> Result<Option<ProvisioningEvent>, StoreError>;

    /// Deletes up to `batch` of the tenant's events with ids below `before_id` (oldest first), in
    /// one short transaction; how many went.
    async fn purge_events(
        &self,
        scope: &TenantScope,
        before_id: &str,
        batch: u32,
    ) -> Result<u64, StoreError>;

    /// Adds runs of requests to the tenant's cycles (extending the newest cycle when a run
    /// follows it within the idle gap, opening one otherwise), counts the changes recorded since
    /// the last time, and classifies the cycles again. Serialised per tenant across processes.
    async fn record_activity(
        &self,
        scope: &TenantScope,
        segments: &[ActivitySegment],
        settings: &CycleSettings,
    ) -> Result<(), StoreError>;

    /// The tenant's cycles, newest first: up to `limit`, older than the cycle `before` if given.
    async fn cycles(
        &self,
        scope: &TenantScope,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Cycle>, StoreError>;
}
