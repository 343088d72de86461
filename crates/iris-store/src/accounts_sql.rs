//! The admin console's operator accounts and sessions in SQL.

use async_trait::async_trait;
use iris_core::StoreError;
use iris_core::store::{AccountRow, AccountStore, SessionRow};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::rows::db_error;
use crate::sql_store::SqlStore;

const ACCOUNT_COLUMNS: &str =
    "id, name, password_hash, created, failed_sign_ins, locked_until, last_sign_in";

fn account_from_row(row: &AnyRow) -> Result<AccountRow, sqlx::Error> {
    Ok(AccountRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        created: row.try_get("created")?,
        failed_sign_ins: row.try_get("failed_sign_ins")?,
        locked_until: row.try_get("locked_until")?,
        last_sign_in: row.try_get("last_sign_in")?,
    })
}

fn session_from_row(row: &AnyRow) -> Result<(SessionRow, String), sqlx::Error> {
    Ok((
        SessionRow {
            id_hash: row.try_get("id_hash")?,
            account_id: row.try_get("account_id")?,
            created: row.try_get("created")?,
            last_seen: row.try_get("last_seen")?,
            expires_at: row.try_get("expires_at")?,
        },
        row.try_get("name")?,
    ))
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn insert_account(&self, account: &AccountRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO console_accounts \
             (id, name, password_hash, created, failed_sign_ins, locked_until, last_sign_in) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(account.id.clone())
        .bind(account.name.clone())
        .bind(account.password_hash.clone())
        .bind(account.created.clone())
        .bind(account.failed_sign_ins)
        .bind(account.locked_until.clone())
        .bind(account.last_sign_in.clone())
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        self.durable().await
    }

    async fn accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM console_accounts ORDER BY name"
        )))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| account_from_row(r).map_err(db_error))
            .collect()
    }

    async fn account_by_name(&self, name: &str) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM console_accounts WHERE name = $1"
        )))
        .bind(name.to_owned())
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?;
        row.as_ref()
            .map(account_from_row)
            .transpose()
            .map_err(db_error)
    }

    async fn set_account_password(&self, name: &str, hash: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE console_accounts SET password_hash = $2, failed_sign_ins = 0, \
             locked_until = NULL WHERE name = $1",
        )
        .bind(name.to_owned())
        .bind(hash.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        // A new password ends every session signed in with the old one.
        sqlx::query(
            "DELETE FROM console_sessions WHERE account_id IN \
             (SELECT id FROM console_accounts WHERE name = $1)",
        )
        .bind(name.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        self.durable().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_account(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM console_sessions WHERE account_id IN \
             (SELECT id FROM console_accounts WHERE name = $1)",
        )
        .bind(name.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let done = sqlx::query("DELETE FROM console_accounts WHERE name = $1")
            .bind(name.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        self.durable().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn count_failed_sign_in(&self, account_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "UPDATE console_accounts SET failed_sign_ins = failed_sign_ins + 1 \
             WHERE id = $1 RETURNING failed_sign_ins",
        )
        .bind(account_id.to_owned())
        .fetch_optional(&self.writer)
        .await
        .map_err(db_error)?;
        self.durable().await?;
        match row {
            Some(row) => row.try_get("failed_sign_ins").map_err(db_error),
            None => Err(StoreError::NotFound),
        }
    }

    async fn lock_account(&self, account_id: &str, until: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE console_accounts SET locked_until = $2 WHERE id = $1")
            .bind(account_id.to_owned())
            .bind(until.to_owned())
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        self.durable().await
    }

    async fn record_sign_in(&self, account_id: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE console_accounts SET failed_sign_ins = 0, locked_until = NULL, \
             last_sign_in = $2 WHERE id = $1",
        )
        .bind(account_id.to_owned())
        .bind(at.to_owned())
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        self.durable().await
    }

    async fn insert_session(&self, session: &SessionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, account_id, created, last_seen, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session.id_hash.clone())
        .bind(session.account_id.clone())
        .bind(session.created.clone())
        .bind(session.last_seen.clone())
        .bind(session.expires_at.clone())
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        self.durable().await
    }

    async fn session(&self, id_hash: &str) -> Result<Option<(SessionRow, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT s.id_hash, s.account_id, s.created, s.last_seen, s.expires_at, a.name \
             FROM console_sessions s JOIN console_accounts a ON a.id = s.account_id \
             WHERE s.id_hash = $1",
        )
        .bind(id_hash.to_owned())
        .fetch_optional(&self.reader)
        .await
        .map_err(db_error)?;
        row.as_ref()
            .map(session_from_row)
            .transpose()
            .map_err(db_error)
    }

    async fn touch_session(
        &self,
        id_hash: &str,
        at: &str,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE console_sessions SET last_seen = $2, expires_at = $3 WHERE id_hash = $1",
        )
        .bind(id_hash.to_owned())
        .bind(at.to_owned())
        .bind(expires_at.to_owned())
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
            .bind(id_hash.to_owned())
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        self.durable().await
    }

    async fn delete_expired_sessions(&self, now: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
            .bind(now.to_owned())
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}
