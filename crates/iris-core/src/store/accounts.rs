//! The admin console's operator accounts and their sessions. They belong to no tenant.

use async_trait::async_trait;

use crate::error::StoreError;

/// An operator account as stored: the password only as its argon2id PHC string.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: String,
    /// Lowercased.
    pub name: String,
    pub password_hash: String,
    pub created: String,
    /// Failed sign-ins since the last successful one.
    pub failed_sign_ins: i64,
    /// Sign-ins are refused until then (the stored time format).
    pub locked_until: Option<String>,
    pub last_sign_in: Option<String>,
}

/// A console session as stored: found by the SHA-256 (hex) of its cookie's secret.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id_hash: String,
    pub account_id: String,
    pub created: String,
    pub last_seen: String,
    pub expires_at: String,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// [`StoreError::Conflict`] when an account of that name exists.
    async fn insert_account(&self, account: &AccountRow) -> Result<(), StoreError>;
    /// Every account, by name.
    async fn accounts(&self) -> Result<Vec<AccountRow>, StoreError>;
    async fn account_by_name(&self, name: &str) -> Result<Option<AccountRow>, StoreError>;
    /// Replaces the password, clears the lockout and ends every session of the account; `false`
    /// if there is no such account.
    async fn set_account_password(&self, name: &str, hash: &str) -> Result<bool, StoreError>;
    /// Deletes the account and its sessions; `false` if there is no such account.
    async fn delete_account(&self, name: &str) -> Result<bool, StoreError>;
    /// Counts one more failed sign-in (atomically, so processes sharing the database count
    /// together) and returns the count.
    async fn count_failed_sign_in(&self, account_id: &str) -> Result<i64, StoreError>;
    async fn lock_account(&self, account_id: &str, until: &str) -> Result<(), StoreError>;
    /// A successful sign-in: the failures are forgotten.
    async fn record_sign_in(&self, account_id: &str, at: &str) -> Result<(), StoreError>;

    async fn insert_session(&self, session: &SessionRow) -> Result<(), StoreError>;
    /// The session and the name of its account. Read from the database on every call, so a
    /// sign-out takes effect at once in every process.
    async fn session(&self, id_hash: &str) -> Result<Option<(SessionRow, String)>, StoreError>;
    async fn touch_session(
        &self,
        id_hash: &str,
        at: &str,
        expires_at: &str,
    ) -> Result<(), StoreError>;
    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
    /// Deletes sessions that expired before `now`; how many.
    async fn delete_expired_sessions(&self, now: &str) -> Result<u64, StoreError>;
}
