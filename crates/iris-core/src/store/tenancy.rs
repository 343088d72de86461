//! Tenants and their bearer tokens, and the scope through which a tenant's resources are reached.

use async_trait::async_trait;

use crate::error::StoreError;

/// The database identity of a tenant. Only the tenant service (from an authenticated token or an
/// admin command) and store rows produce one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    pub(crate) fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }

    /// Rebuilds an id read from the database. Stores call this; nothing else should.
    pub fn from_row(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key to one tenant's resources. Every resource, membership and record method of the store
/// takes one, and only this crate makes one: from a [`crate::Tenant`], which only an
/// authenticated token or an operator's command naming the tenant produces. So no query can be
/// written that is not confined to a tenant the caller proved, and a store never has to trust an
/// id it was handed.
///
/// Outside this crate a scope cannot be made from a bare id:
///
/// ```compile_fail
/// let id = iris_core::TenantId::from_row("someone-else".to_owned());
/// let scope = iris_core::store::TenantScope::new(id);
/// ```
///
/// ```compile_fail
/// let id = iris_core::TenantId::from_row("someone-else".to_owned());
/// let scope = iris_core::store::TenantScope(id);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantScope(TenantId);

impl TenantScope {
    pub(crate) fn new(id: TenantId) -> Self {
        Self(id)
    }

    /// The tenant's id, for the store's `tenant_id = …` conditions.
    pub fn tenant_id(&self) -> &str {
        self.0.as_str()
    }

    pub(crate) fn id(&self) -> &TenantId {
        &self.0
    }
}

/// A tenant as stored.
#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: TenantId,
    pub name: String,
    pub created: String,
    pub disabled_at: Option<String>,
    /// Days the tenant's provisioning events are kept.
    pub log_retention_days: u32,
}

/// Days a new tenant's provisioning events are kept.
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 30;

/// A bearer token as stored: never the secret, only its SHA-256 (hex).
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub tenant_id: TenantId,
    pub label: Option<String>,
    pub secret_hash: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked_at: Option<String>,
    /// When the token stops working (stored format); `None` for a token that never expires.
    pub expires_at: Option<String>,
    /// For an OAuth access token: the client that obtained it (`None` for a tenant token).
    pub oauth_client_id: Option<String>,
}

/// Tenants and tokens: what operators manage and every request authenticates against.
#[async_trait]
pub trait TenantStore: Send + Sync {
    async fn insert_tenant(&self, tenant: &TenantRow) -> Result<(), StoreError>;
    async fn tenants(&self) -> Result<Vec<TenantRow>, StoreError>;
    async fn tenant_by_name(&self, name: &str) -> Result<Option<TenantRow>, StoreError>;
    async fn set_tenant_disabled(
        &self,
        tenant: &TenantId,
        disabled_at: Option<&str>,
    ) -> Result<(), StoreError>;
    async fn set_log_retention(&self, tenant: &TenantId, days: u32) -> Result<(), StoreError>;

    /// Deletes a tenant with everything it owns (tokens, users, groups, memberships, records).
    async fn delete_tenant(&self, tenant: &TenantId) -> Result<(), StoreError>;

    async fn insert_token(&self, token: &TokenRow) -> Result<(), StoreError>;
    /// The tenant's own tokens (never the OAuth access tokens issued to its clients).
    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRow>, StoreError>;
    /// Marks a token revoked; `false` if no live token has that id.
    async fn revoke_token(&self, token_id: &str, at: &str) -> Result<bool, StoreError>;
    /// The token and its tenant, for authenticating a request. Read from the database on every
    /// call, so a revocation made by any process takes effect at once.
    async fn token_with_tenant(
        &self,
        token_id: &str,
    ) -> Result<Option<(TokenRow, TenantRow)>, StoreError>;
    async fn touch_token(&self, token_id: &str, at: &str) -> Result<(), StoreError>;
    /// For each tenant with live tokens (not OAuth access tokens) expiring in `(after, until]`: its name and how many.
    async fn tokens_expiring(
        &self,
        after: &str,
        until: &str,
    ) -> Result<Vec<(String, u64)>, StoreError>;
}
