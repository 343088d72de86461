//! Operators' tokens in SQL.

use async_trait::async_trait;
use iris_core::StoreError;
use iris_core::store::{OperatorStore, OperatorTokenRow};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::rows::db_error;
use crate::sql_store::SqlStore;

fn operator_token_from_row(row: &AnyRow) -> Result<OperatorTokenRow, sqlx::Error> {
    Ok(OperatorTokenRow {
        id: row.try_get("id")?,
        label: row.try_get("label")?,
        secret_hash: row.try_get("secret_hash")?,
        created: row.try_get("created")?,
        last_used: row.try_get("last_used")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

#[async_trait]
impl OperatorStore for SqlStore {
    async fn insert_operator_token(&self, token: &OperatorTokenRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO operator_tokens (id, label, secret_hash, created, last_used, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.id.clone())
        .bind(token.label.clone())
        .bind(token.secret_hash.clone())
        .bind(token.created.clone())
        .bind(token.last_used.clone())
        .bind(token.revoked_at.clone())
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        self.durable().await
    }

    async fn operator_tokens(&self) -> Result<Vec<OperatorTokenRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, label, secret_hash, created, last_used, revoked_at \
             FROM operator_tokens ORDER BY created, id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| operator_token_from_row(r).map_err(db_error))
            .collect()
    }

    async fn operator_token(&self, token_id: &str) -> Result<Option<OperatorTokenRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, label, secret_hash, created, last_used, revoked_at \
             FROM operator_tokens WHERE id = $1",
        )
        .bind(token_id.to_owned())
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?;
        row.as_ref()
            .map(operator_token_from_row)
            .transpose()
            .map_err(db_error)
    }

    async fn revoke_operator_token(&self, token_id: &str, at: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE operator_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(token_id.to_owned())
        .bind(at.to_owned())
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        self.durable().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_operator_token(&self, token_id: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE operator_tokens SET last_used = $2 WHERE id = $1")
            .bind(token_id.to_owned())
            .bind(at.to_owned())
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
