//! OAuth clients, their secrets and their access tokens in SQL.

use async_trait::async_trait;
use iris_core::StoreError;
use iris_core::store::{OAuthClientRow, OAuthSecretRow, OAuthStore, TenantId, TenantRow, TokenRow};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::rows::db_error;
use crate::sql_store::SqlStore;
use crate::tenancy_sql::tenant_from_row;

fn client_from_row(row: &AnyRow) -> Result<OAuthClientRow, sqlx::Error> {
    Ok(OAuthClientRow {
        id: row.try_get("id")?,
        tenant_id: TenantId::from_row(row.try_get("tenant_id")?),
        label: row.try_get("label")?,
        created: row.try_get("created")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn secret_from_row(row: &AnyRow) -> Result<OAuthSecretRow, sqlx::Error> {
    Ok(OAuthSecretRow {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        secret_hash: row.try_get("secret_hash")?,
        created: row.try_get("created")?,
        last_used: row.try_get("last_used")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

const SECRET_COLUMNS: &str = "SELECT id, client_id, secret_hash, created, last_used, revoked_at \
                              FROM oauth_client_secrets";

async fn insert_secret(
    conn: &mut sqlx::AnyConnection,
    secret: &OAuthSecretRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oauth_client_secrets (id, client_id, secret_hash, created, last_used, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(secret.id.clone())
    .bind(secret.client_id.clone())
    .bind(secret.secret_hash.clone())
    .bind(secret.created.clone())
    .bind(secret.last_used.clone())
    .bind(secret.revoked_at.clone())
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

#[async_trait]
impl OAuthStore for SqlStore {
    async fn insert_oauth_client(
        &self,
        client: &OAuthClientRow,
        secret: &OAuthSecretRow,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO oauth_clients (id, tenant_id, label, created, revoked_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(client.id.clone())
        .bind(client.tenant_id.as_str().to_owned())
        .bind(client.label.clone())
        .bind(client.created.clone())
        .bind(client.revoked_at.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        insert_secret(&mut tx, secret).await?;
        self.commit(tx).await
    }

    async fn oauth_clients(&self, tenant: &TenantId) -> Result<Vec<OAuthClientRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, label, created, revoked_at FROM oauth_clients \
             WHERE tenant_id = $1 ORDER BY created, id",
        )
        .bind(tenant.as_str().to_owned())
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| client_from_row(r).map_err(db_error))
            .collect()
    }

    async fn oauth_client_with_tenant(
        &self,
        client_id: &str,
    ) -> Result<Option<(OAuthClientRow, TenantRow)>, StoreError> {
        let row = sqlx::query(
            "SELECT c.id, c.tenant_id, c.label, c.created, c.revoked_at, \
                    n.id AS n_id, n.name AS n_name, n.created AS n_created, \
                    n.disabled_at AS n_disabled_at, n.log_retention_days AS n_log_retention_days \
             FROM oauth_clients c JOIN tenants n ON n.id = c.tenant_id WHERE c.id = $1",
        )
        .bind(client_id.to_owned())
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let client = client_from_row(&row).map_err(db_error)?;
        let tenant = tenant_from_row(&row, "n_").map_err(db_error)?;
        Ok(Some((client, tenant)))
    }

    async fn insert_oauth_secret(&self, secret: &OAuthSecretRow) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_secret(&mut tx, secret).await?;
        self.commit(tx).await
    }

    async fn oauth_secrets(&self, client_id: &str) -> Result<Vec<OAuthSecretRow>, StoreError> {
        let sql = format!("{SECRET_COLUMNS} WHERE client_id = $1 ORDER BY created, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(client_id.to_owned())
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| secret_from_row(r).map_err(db_error))
            .collect()
    }

    async fn oauth_secret(&self, secret_id: &str) -> Result<Option<OAuthSecretRow>, StoreError> {
        let sql = format!("{SECRET_COLUMNS} WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(secret_id.to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_error)?;
        row.map(|r| secret_from_row(&r).map_err(db_error))
            .transpose()
    }

    async fn revoke_oauth_secret(
        &self,
        client_id: &str,
        secret_id: &str,
        at: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE oauth_client_secrets SET revoked_at = $3 \
             WHERE id = $1 AND client_id = $2 AND revoked_at IS NULL",
        )
        .bind(secret_id.to_owned())
        .bind(client_id.to_owned())
        .bind(at.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE tokens SET revoked_at = $2 WHERE oauth_secret_id = $1 AND revoked_at IS NULL",
        )
        .bind(secret_id.to_owned())
        .bind(at.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        self.commit(tx).await?;
        Ok(true)
    }

    async fn revoke_oauth_client(&self, client_id: &str, at: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE oauth_clients SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(client_id.to_owned())
        .bind(at.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for sql in [
            "UPDATE oauth_client_secrets SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL",
            "UPDATE tokens SET revoked_at = $2 WHERE oauth_client_id = $1 AND revoked_at IS NULL",
        ] {
            sqlx::query(sql)
                .bind(client_id.to_owned())
                .bind(at.to_owned())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        self.commit(tx).await?;
        Ok(true)
    }

    async fn insert_access_token(
        &self,
        token: &TokenRow,
        client_id: &str,
        secret_id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO tokens \
             (id, tenant_id, label, secret_hash, created, last_used, revoked_at, expires_at, \
              oauth_client_id, oauth_secret_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(token.id.clone())
        .bind(token.tenant_id.as_str().to_owned())
        .bind(token.label.clone())
        .bind(token.secret_hash.clone())
        .bind(token.created.clone())
        .bind(token.last_used.clone())
        .bind(token.revoked_at.clone())
        .bind(token.expires_at.clone())
        .bind(client_id.to_owned())
        .bind(secret_id.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("UPDATE oauth_client_secrets SET last_used = $2 WHERE id = $1")
            .bind(secret_id.to_owned())
            .bind(token.created.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        self.commit(tx).await
    }

    async fn purge_access_tokens(&self, before: &str) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM tokens WHERE oauth_client_id IS NOT NULL AND expires_at < $1")
                .bind(before.to_owned())
                .execute(&self.writer)
                .await
                .map_err(db_error)?;
        self.durable().await?;
        Ok(done.rows_affected())
    }
}
