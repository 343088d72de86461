//! OAuth 2.0 clients of a tenant, their secrets, and the access tokens issued to them (RFC 6749
//! §4.4, client credentials). Access tokens live in the `tokens` table beside the tenant's own
//! tokens, marked with the client and secret that obtained them, so the SCIM endpoints accept
//! them through the very same lookup.

use async_trait::async_trait;

use crate::error::StoreError;
use crate::store::{TenantId, TenantRow, TokenRow};

/// An OAuth client as stored.
#[derive(Debug, Clone)]
pub struct OAuthClientRow {
    pub id: String,
    pub tenant_id: TenantId,
    pub label: Option<String>,
    pub created: String,
    pub revoked_at: Option<String>,
}

/// One of a client's secrets: only its SHA-256 (hex), never the secret.
#[derive(Debug, Clone)]
pub struct OAuthSecretRow {
    pub id: String,
    pub client_id: String,
    pub secret_hash: String,
    pub created: String,
    /// When it last obtained an access token.
    pub last_used: Option<String>,
    pub revoked_at: Option<String>,
}

#[async_trait]
pub trait OAuthStore: Send + Sync {
    /// A new client with its first secret, in one transaction.
    async fn insert_oauth_client(
        &self,
        client: &OAuthClientRow,
        secret: &OAuthSecretRow,
    ) -> Result<(), StoreError>;
    /// The tenant's clients, oldest first.
    async fn oauth_clients(&self, tenant: &TenantId) -> Result<Vec<OAuthClientRow>, StoreError>;
    /// The client and its tenant, read from the database on every call.
    async fn oauth_client_with_tenant(
        &self,
        client_id: &str,
    ) -> Result<Option<(OAuthClientRow, TenantRow)>, StoreError>;
    async fn insert_oauth_secret(&self, secret: &OAuthSecretRow) -> Result<(), StoreError>;
    /// The client's secrets, oldest first.
    async fn oauth_secrets(&self, client_id: &str) -> Result<Vec<OAuthSecretRow>, StoreError>;
    async fn oauth_secret(&self, secret_id: &str) -> Result<Option<OAuthSecretRow>, StoreError>;
    /// Revokes a live secret of the client and every unexpired access token it obtained, in one
    /// transaction; `false` if the client has no live secret with that id.
    async fn revoke_oauth_secret(
        &self,
        client_id: &str,
        secret_id: &str,
        at: &str,
    ) -> Result<bool, StoreError>;
    /// Revokes a live client, all its secrets and every access token it obtained, in one
    /// transaction; `false` if no live client has that id.
    async fn revoke_oauth_client(&self, client_id: &str, at: &str) -> Result<bool, StoreError>;
    /// Stores an access token obtained by `client_id` with `secret_id` (and notes the secret's
    /// use), in one transaction.
    async fn insert_access_token(
        &self,
        token: &TokenRow,
        client_id: &str,
        secret_id: &str,
    ) -> Result<(), StoreError>;
    /// Deletes the access tokens that expired before `before`; how many went.
    async fn purge_access_tokens(&self, before: &str) -> Result<u64, StoreError>;
}
