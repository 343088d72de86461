//! Operators' bearer tokens: what authenticates the admin API. They belong to no tenant.

use async_trait::async_trait;

use crate::error::StoreError;

/// An operator token as stored: never the secret, only its SHA-256 (hex).
#[derive(Debug, Clone)]
pub struct OperatorTokenRow {
    pub id: String,
    pub label: Option<String>,
    pub secret_hash: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked_at: Option<String>,
}

#[async_trait]
pub trait OperatorStore: Send + Sync {
    async fn insert_operator_token(&self, token: &OperatorTokenRow) -> Result<(), StoreError>;
    /// Every operator token, oldest first.
    async fn operator_tokens(&self) -> Result<Vec<OperatorTokenRow>, StoreError>;
    /// Read from the database on every call, so a revocation takes effect at once everywhere.
    async fn operator_token(&self, token_id: &str) -> Result<Option<OperatorTokenRow>, StoreError>;
    /// Marks a token revoked; `false` if no live operator token has that id.
    async fn revoke_operator_token(&self, token_id: &str, at: &str) -> Result<bool, StoreError>;
    async fn touch_operator_token(&self, token_id: &str, at: &str) -> Result<(), StoreError>;
}
