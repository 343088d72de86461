//! Tenants and their tokens in SQL.

use async_trait::async_trait;
use iris_core::StoreError;
use iris_core::store::{TenantId, TenantRow, TenantStore, TokenRow};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::rows::db_error;
use crate::sql_store::SqlStore;

pub(crate) fn tenant_from_row(row: &AnyRow, prefix: &str) -> Result<TenantRow, sqlx::Error> {
    Ok(TenantRow {
        id: TenantId::from_row(row.try_get(format!("{prefix}id").as_str())?),
        name: row.try_get(format!("{prefix}name").as_str())?,
        created: row.try_get(format!("{prefix}created").as_str())?,
        disabled_at: row.try_get(format!("{prefix}disabled_at").as_str())?,
        log_retention_days: retention(row.try_get(format!("{prefix}log_retention_days").as_str())?),
    })
}

fn token_from_row(row: &AnyRow) -> Result<TokenRow, sqlx::Error> {
    Ok(TokenRow {
        id: row.try_get("id")?,
        tenant_id: TenantId::from_row(row.try_get("tenant_id")?),
        label: row.try_get("label")?,
        secret_hash: row.try_get("secret_hash")?,
        created: row.try_get("created")?,
        last_used: row.try_get("last_used")?,
        revoked_at: row.try_get("revoked_at")?,
        expires_at: row.try_get("expires_at")?,
        oauth_client_id: row.try_get("oauth_client_id")?,
    })
}

fn retention(days: i64) -> u32 {
    u32::try_from(days.max(1)).unwrap_or(u32::MAX)
}

const TOKEN_COLUMNS: &str = "id, tenant_id, label, secret_hash, created, last_used, revoked_at, expires_at, oauth_client_id";

#[async_trait]
impl TenantStore for SqlStore {
    async fn insert_tenant(&self, tenant: &TenantRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenants (id, name, created, disabled_at, log_retention_days) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant.id.as_str().to_owned())
        .bind(tenant.name.clone())
        .bind(tenant.created.clone())
        .bind(tenant.disabled_at.clone())
        .bind(i64::from(tenant.log_retention_days))
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        self.durable().await?;
        Ok(())
    }

    async fn tenants(&self) -> Result<Vec<TenantRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, created, disabled_at, log_retention_days FROM tenants ORDER BY name",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| tenant_from_row(r, "").map_err(db_error))
            .collect()
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<TenantRow>, StoreError> {
        let row = sqlx::query("SELECT id, name, created, disabled_at, log_retention_days FROM tenants WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        row.map(|r| tenant_from_row(&r, "").map_err(db_error))
            .transpose()
    }

    async fn set_tenant_disabled(
        &self,
        tenant: &TenantId,
        disabled_at: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET disabled_at = $2 WHERE id = $1")
            .bind(tenant.as_str().to_owned())
            .bind(disabled_at.map(str::to_owned))
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        self.durable().await?;
        Ok(())
    }

    async fn set_log_retention(&self, tenant: &TenantId, days: u32) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET log_retention_days = $2 WHERE id = $1")
            .bind(tenant.as_str().to_owned())
            .bind(i64::from(days))
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        self.durable().await
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for sql in [
            "DELETE FROM provisioning_events WHERE tenant_id = $1",
            "DELETE FROM group_members WHERE tenant_id = $1",
            "DELETE FROM groups WHERE tenant_id = $1",
            "DELETE FROM user_values WHERE tenant_id = $1",
            "DELETE FROM users WHERE tenant_id = $1",
            "DELETE FROM tokens WHERE tenant_id = $1",
            "DELETE FROM oauth_client_secrets WHERE client_id IN \
             (SELECT id FROM oauth_clients WHERE tenant_id = $1)",
            "DELETE FROM oauth_clients WHERE tenant_id = $1",
            "DELETE FROM tenants WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(tenant.as_str().to_owned())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    async fn insert_token(&self, token: &TokenRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens \
             (id, tenant_id, label, secret_hash, created, last_used, revoked_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token.id.clone())
        .bind(token.tenant_id.as_str().to_owned())
        .bind(token.label.clone())
        .bind(token.secret_hash.clone())
        .bind(token.created.clone())
        .bind(token.last_used.clone())
        .bind(token.revoked_at.clone())
        .bind(token.expires_at.clone())
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        self.durable().await?;
        Ok(())
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRow>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE tenant_id = $1 AND oauth_client_id IS NULL ORDER BY created, id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.as_str().to_owned())
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| token_from_row(r).map_err(db_error))
            .collect()
    }

    async fn revoke_token(&self, token_id: &str, at: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(token_id.to_owned())
                .bind(at.to_owned())
                .execute(&self.writer)
                .await
                .map_err(db_error)?;
        self.durable().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn token_with_tenant(
        &self,
        token_id: &str,
    ) -> Result<Option<(TokenRow, TenantRow)>, StoreError> {
        let row = sqlx::query(
            "SELECT t.id, t.tenant_id, t.label, t.secret_hash, t.created, t.last_used, t.revoked_at, t.expires_at, \
                    t.oauth_client_id, n.id AS tenant_id2, n.name AS tenant_name, n.created AS tenant_created, \
                    n.disabled_at AS tenant_disabled_at, n.log_retention_days AS tenant_log_retention_days \
             FROM tokens t JOIN tenants n ON n.id = t.tenant_id WHERE t.id = $1",
        )
        .bind(token_id.to_owned())
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let token = token_from_row(&row).map_err(db_error)?;
        let tenant = TenantRow {
            id: TenantId::from_row(row.try_get("tenant_id2").map_err(db_error)?),
            name: row.try_get("tenant_name").map_err(db_error)?,
            created: row.try_get("tenant_created").map_err(db_error)?,
            disabled_at: row.try_get("tenant_disabled_at").map_err(db_error)?,
            log_retention_days: retention(
                row.try_get("tenant_log_retention_days").map_err(db_error)?,
            ),
        };
        Ok(Some((token, tenant)))
    }

    async fn touch_token(&self, token_id: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE tokens SET last_used = $2 WHERE id = $1")
            .bind(token_id.to_owned())
            .bind(at.to_owned())
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn tokens_expiring(
        &self,
        after: &str,
        until: &str,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.name AS name, COUNT(*) AS expiring FROM tokens t \
             JOIN tenants n ON n.id = t.tenant_id \
             WHERE t.revoked_at IS NULL AND t.oauth_client_id IS NULL AND t.expires_at > $1 AND t.expires_at <= $2 \
             GROUP BY n.name ORDER BY n.name",
        )
        .bind(after.to_owned())
        .bind(until.to_owned())
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("name")?;
                let n: i64 = r.try_get("expiring")?;
                Ok((name, u64::try_from(n).unwrap_or(0)))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_error)
    }
}
