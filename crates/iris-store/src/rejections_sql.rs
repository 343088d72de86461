//! The record of refused requests in SQL: one row each, keyed by tenant and a time-ordered id, so
//! the newest are an index range and pruning the oldest is one statement.

use async_trait::async_trait;
use iris_core::StoreError;
use iris_core::rejections::RejectedRequest;
use iris_core::store::{RecordStore, TenantScope};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::rows::db_error;
use crate::sql_store::SqlStore;

#[async_trait]
impl RecordStore for SqlStore {
    async fn insert_rejected_request(
        &self,
        scope: &TenantScope,
        request: &RejectedRequest,
        keep: u32,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO rejected_requests (tenant_id, id, received_at, method, resource_type, \
             resource_id, status, scim_type, detail, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(scope.tenant_id().to_owned())
        .bind(request.id.clone())
        .bind(request.received_at.clone())
        .bind(request.method.clone())
        .bind(request.resource_type.clone())
        .bind(request.resource_id.clone())
        .bind(i32::from(request.status))
        .bind(request.scim_type.clone())
        .bind(request.detail.clone())
        .bind(request.body.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "DELETE FROM rejected_requests WHERE tenant_id = $1 AND id < (\
             SELECT id FROM rejected_requests WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        )
        .bind(scope.tenant_id().to_owned())
        .bind(i64::from(keep.saturating_sub(1)))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        self.commit(tx).await
    }

    async fn rejected_requests(
        &self,
        scope: &TenantScope,
        limit: u32,
    ) -> Result<Vec<RejectedRequest>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, received_at, method, resource_type, resource_id, status, scim_type, \
             detail, body FROM rejected_requests WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(scope.tenant_id().to_owned())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| rejected_from_row(row).map_err(db_error))
            .collect()
    }
}

fn rejected_from_row(row: &AnyRow) -> Result<RejectedRequest, sqlx::Error> {
    let status: i32 = row.try_get("status")?;
    Ok(RejectedRequest {
        id: row.try_get("id")?,
        received_at: row.try_get("received_at")?,
        method: row.try_get("method")?,
        resource_type: row.try_get("resource_type")?,
        resource_id: row.try_get("resource_id")?,
        status: u16::try_from(status).unwrap_or_default(),
        scim_type: row.try_get("scim_type")?,
        detail: row.try_get("detail")?,
        body: row.try_get("body")?,
    })
}
