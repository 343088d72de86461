//! The storage seam, split by concern: tenants and tokens ([`TenantStore`]), resources of every
//! kind ([`ResourceStore`]), group memberships ([`MembershipStore`]) and the per-tenant records
//! ([`RecordStore`], the provisioning log). Both backends (SQLite, PostgreSQL) implement all of them as one [`Store`];
//! everything above it is backend-agnostic.
//!
//! Every method that touches a tenant's data takes its [`TenantScope`], which only this crate
//! makes, from a tenant an authenticated token or an operator's command produced.

mod accounts;
mod membership;
mod oauth;
mod operators;
mod pages;
mod records;
mod resources;
mod tenancy;

use async_trait::async_trait;

pub use accounts::{AccountRow, AccountStore, SessionRow};
pub use membership::{DirectGroup, Member, MembershipChange, MembershipStore};
pub use oauth::{OAuthClientRow, OAuthSecretRow, OAuthStore};
pub use operators::{OperatorStore, OperatorTokenRow};
pub use pages::{ListPage, ListQuery, PageStart, SortKey, SortOrder};
pub use records::RecordStore;
pub use resources::{
    Change, Describe, Imported, Inserted, Modified, MultiValue, Mutation, ResourceRecord,
    ResourceStore, ResourceWrite, Shadow,
};
pub use tenancy::{
    DEFAULT_LOG_RETENTION_DAYS, TenantId, TenantRow, TenantScope, TenantStore, TokenRow,
};

use crate::error::StoreError;

/// A database Iris runs on: every part of the seam, plus what operating it needs.
#[async_trait]
pub trait Store:
    TenantStore
    + ResourceStore
    + MembershipStore
    + RecordStore
    + OperatorStore
    + AccountStore
    + OAuthStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`, for logs and readiness output.
    fn backend_name(&self) -> &'static str;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Brings the query planner's statistics up to date after a bulk load: without them a
    /// PostgreSQL planner may scan where an index lookup belongs.
    async fn refresh_statistics(&self) -> Result<(), StoreError>;

    /// The connection pools' occupancy right now, for metrics (sampled when they are scraped).
    fn pool_stats(&self) -> Vec<PoolStats> {
        Vec::new()
    }
}

/// One connection pool's occupancy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// `reader` and `writer` on SQLite; `main` on PostgreSQL (one pool for both).
    pub pool: &'static str,
    /// Connections open, idle or in use.
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}
