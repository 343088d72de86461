//! What Iris keeps about requests, per tenant: today the refused requests.

use async_trait::async_trait;

use super::TenantScope;
use crate::error::StoreError;
use crate::rejections::RejectedRequest;

#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Records a refused request and keeps only the newest `keep` of the tenant.
    async fn insert_rejected_request(
        &self,
        scope: &TenantScope,
        request: &RejectedRequest,
        keep: u32,
    ) -> Result<(), StoreError>;

    /// The newest `limit` refused requests of a tenant, newest first.
    async fn rejected_requests(
        &self,
        scope: &TenantScope,
        limit: u32,
    ) -> Result<Vec<RejectedRequest>, StoreError>;
}
