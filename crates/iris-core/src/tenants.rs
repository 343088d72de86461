//! Tenants and their tokens: what the admin CLI manages and what every SCIM request authenticates
//! against. The CLI and the HTTP API both go through [`TenantService`].

use std::sync::Arc;

use iris_scim::ScimError;

use crate::clock;
use crate::error::{CoreError, CoreResult, StoreError};
use crate::store::{DEFAULT_LOG_RETENTION_DAYS, Store, TenantId, TenantRow, TenantScope, TokenRow};
use crate::tokens::{self, IssuedToken, TokenId};

/// A tenant name as it appears in the Tenant URL: 1–63 of `a-z 0-9 -`, not starting or ending
/// with `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = !raw.is_empty()
            && raw.len() <= 63
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "invalid tenant name '{raw}': use 1-63 lowercase letters, digits and '-', not starting or ending with '-'"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An existing tenant. Holding one is what allows touching its resources.
#[derive(Debug, Clone)]
pub struct Tenant {
    scope: TenantScope,
    name: String,
    created: String,
    disabled_at: Option<String>,
    log_retention_days: u32,
}

impl Tenant {
    pub(crate) fn from_row(row: TenantRow) -> Self {
        Self {
            scope: TenantScope::new(row.id),
            name: row.name,
            created: row.created,
            disabled_at: row.disabled_at,
            log_retention_days: row.log_retention_days,
        }
    }

    pub fn id(&self) -> &TenantId {
        self.scope.id()
    }

    /// The key to this tenant's resources and records.
    pub fn scope(&self) -> &TenantScope {
        &self.scope
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn created(&self) -> &str {
        &self.created
    }

    pub fn disabled_at(&self) -> Option<&str> {
        self.disabled_at.as_deref()
    }

    /// Days its provisioning events are kept.
    pub fn log_retention_days(&self) -> u32 {
        self.log_retention_days
    }
}

/// A token's public facts, for listing.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: String,
    pub label: Option<String>,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked_at: Option<String>,
    pub expires_at: Option<String>,
}

impl TokenInfo {
    /// Live: neither revoked nor expired at `now` (stored format).
    pub fn is_live(&self, now: &str) -> bool {
        self.revoked_at.is_none() && self.expires_at.as_deref().is_none_or(|at| at > now)
    }
}

/// The longest lifetime a token can be issued with (ten years).
pub const MAX_TOKEN_LIFETIME: time::Duration = time::Duration::days(3650);

/// How long before its expiry a live token is warned about (`iris tenant status`, metrics).
pub const TOKEN_EXPIRY_WARNING: time::Duration = time::Duration::days(14);

/// Why a request was not authenticated. Deliberately not detailed towards the client, except
/// that a token whose secret is right but whose lifetime is over says so (and when): the
/// operator then knows to rotate it rather than hunt for a typo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Invalid,
    /// The token was valid until this instant (stored format).
    Expired(String),
    /// The OAuth access token was valid until this instant: the client should obtain a new one.
    AccessTokenExpired(String),
}

/// Who a request authenticated as.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub tenant: Tenant,
    pub token_id: String,
    /// For an OAuth access token, the client that obtained it.
    pub oauth_client_id: Option<String>,
}

impl Authenticated {
    /// What the per-token rate limit is keyed by: the client for OAuth access tokens (a client
    /// that obtains a new token every hour, or every second, keeps one budget), else the token.
    pub fn rate_key(&self) -> &str {
        self.oauth_client_id.as_deref().unwrap_or(&self.token_id)
    }
}

#[derive(Clone)]
pub struct TenantService {
    store: Arc<dyn Store>,
}

impl TenantService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Creates a tenant and its first token.
    pub async fn create(&self, name: &TenantName) -> CoreResult<(Tenant, IssuedToken)> {
        let row = TenantRow {
            id: TenantId::generate(),
            name: name.as_str().to_owned(),
            created: clock::now(),
            disabled_at: None,
            log_retention_days: DEFAULT_LOG_RETENTION_DAYS,
        };
        self.store.insert_tenant(&row).await.map_err(|e| match e {
            StoreError::Conflict => CoreError::Scim(ScimError::uniqueness(format!(
                "tenant '{}' already exists",
                name.as_str()
            ))),
            other => other.into(),
        })?;
        let tenant = Tenant::from_row(row);
        let token = self.issue_token(&tenant, Some("initial"), None).await?;
        Ok((tenant, token))
    }

    pub async fn list(&self) -> CoreResult<Vec<Tenant>> {
        Ok(self
            .store
            .tenants()
            .await?
            .into_iter()
            .map(Tenant::from_row)
            .collect())
    }

    pub async fn find(&self, name: &str) -> CoreResult<Tenant> {
        self.store
            .tenant_by_name(name)
            .await?
            .map(Tenant::from_row)
            .ok_or_else(|| ScimError::not_found(format!("no tenant named '{name}'")).into())
    }

    /// Disables (or re-enables) a tenant: all its tokens stop working at once.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> CoreResult<Tenant> {
        let tenant = self.find(name).await?;
        let at = disabled.then(clock::now);
        self.store
            .set_tenant_disabled(tenant.id(), at.as_deref())
            .await?;
        self.find(name).await
    }

    /// Sets how many days the tenant's provisioning events are kept (1 to 3,650).
    pub async fn set_log_retention(&self, name: &str, days: u32) -> CoreResult<Tenant> {
        if !(1..=3650).contains(&days) {
            return Err(ScimError::invalid_value(format!(
                "retention must be 1 to 3650 days, not {days}"
            ))
            .into());
        }
        let tenant = self.find(name).await?;
        self.store.set_log_retention(tenant.id(), days).await?;
        self.find(name).await
    }

    /// Issues a token for `tenant`; with `lifetime` it is refused from that long after now on.
    pub async fn issue_token(
        &self,
        tenant: &Tenant,
        label: Option<&str>,
        lifetime: Option<time::Duration>,
    ) -> CoreResult<IssuedToken> {
        let expires_at = match lifetime {
            None => None,
            Some(d) if d.is_positive() && d <= MAX_TOKEN_LIFETIME => {
                Some(clock::format(time::OffsetDateTime::now_utc() + d))
            }
            Some(d) => {
                return Err(ScimError::invalid_value(format!(
                    "a token's lifetime must be more than 0 and at most 3650 days, not {d}"
                ))
                .into());
            }
        };
        let mut issued = tokens::generate();
        issued.expires_at.clone_from(&expires_at);
        let row = TokenRow {
            id: issued.id.as_str().to_owned(),
            tenant_id: tenant.id().clone(),
            label: label.map(str::to_owned),
            secret_hash: issued.secret_hash.clone(),
            created: clock::now(),
            last_used: None,
            revoked_at: None,
            expires_at,
            oauth_client_id: None,
        };
        self.store.insert_token(&row).await?;
        Ok(issued)
    }

    pub async fn tokens(&self, tenant: &Tenant) -> CoreResult<Vec<TokenInfo>> {
        let rows = self.store.tokens(tenant.id()).await?;
        Ok(rows
            .into_iter()
            .map(|r| TokenInfo {
                id: r.id,
                label: r.label,
                created: r.created,
                last_used: r.last_used,
                revoked_at: r.revoked_at,
                expires_at: r.expires_at,
            })
            .collect())
    }

    /// The tenant's live tokens that expire within `window` from now, soonest first: what
    /// `iris tenant status` warns about.
    pub async fn expiring_tokens(
        &self,
        tenant: &Tenant,
        window: time::Duration,
    ) -> CoreResult<Vec<TokenInfo>> {
        let now = clock::now();
        let horizon = clock::format(time::OffsetDateTime::now_utc() + window);
        let mut expiring: Vec<TokenInfo> = self
            .tokens(tenant)
            .await?
            .into_iter()
            .filter(|t| {
                t.is_live(&now) && t.expires_at.as_deref().is_some_and(|at| *at <= *horizon)
            })
            .collect();
        expiring.sort_by(|a, b| a.expires_at.cmp(&b.expires_at));
        Ok(expiring)
    }

    /// Per tenant, how many live tokens expire within [`TOKEN_EXPIRY_WARNING`] from now.
    pub async fn expiring_token_counts(&self) -> CoreResult<Vec<(String, u64)>> {
        let now = time::OffsetDateTime::now_utc();
        let counts = self
            .store
            .tokens_expiring(
                &clock::format(now),
                &clock::format(now + TOKEN_EXPIRY_WARNING),
            )
            .await?;
        Ok(counts)
    }

    /// Revokes a token by id; it is refused by every process from the next request on.
    pub async fn revoke_token(&self, token_id: &str) -> CoreResult<()> {
        let revoked = match TokenId::parse(token_id) {
            Some(id) => self.store.revoke_token(id.as_str(), &clock::now()).await?,
            None => false,
        };
        if revoked {
            Ok(())
        } else {
            Err(ScimError::not_found(format!("no live token with id '{token_id}'")).into())
        }
    }

    /// Revokes a token of `tenant` by id: a live token of another tenant is not found here, so an
    /// operator working on one tenant cannot revoke another's by mistake.
    pub async fn revoke_tenant_token(&self, tenant: &Tenant, token_id: &str) -> CoreResult<()> {
        let owned = self
            .store
            .tokens(tenant.id())
            .await?
            .iter()
            .any(|t| t.id == token_id && t.revoked_at.is_none());
        if !owned {
            return Err(ScimError::not_found(format!(
                "tenant '{}' has no live token with id '{token_id}'",
                tenant.name()
            ))
            .into());
        }
        self.revoke_token(token_id).await
    }

    /// Authenticates a bearer token for the tenant named in the URL. The token must exist, be
    /// unrevoked and unexpired, belong to that tenant, and the tenant must be enabled. Returns the
    /// tenant, the token's id and, for an OAuth access token, its client.
    pub async fn authenticate(
        &self,
        tenant_name: &str,
        bearer: Option<&str>,
    ) -> Result<Authenticated, Result<AuthFailure, StoreError>> {
        let Some(bearer) = bearer else {
            return Err(Ok(AuthFailure::Missing));
        };
        let Some((id, secret)) = tokens::split(bearer) else {
            return Err(Ok(AuthFailure::Invalid));
        };
        let Some((token, tenant)) = self
            .store
            .token_with_tenant(id.as_str())
            .await
            .map_err(Err)?
        else {
            return Err(Ok(AuthFailure::Invalid));
        };
        // Check the secret first and always, so timing does not reveal which condition failed.
        let secret_ok = tokens::secret_matches(secret, &token.secret_hash);
        let usable = secret_ok
            && token.revoked_at.is_none()
            && tenant.disabled_at.is_none()
            && tenant.name == tenant_name;
        if !usable {
            return Err(Ok(AuthFailure::Invalid));
        }
        // Only a token that would otherwise be accepted learns that it expired. The clock is read
        // only for tokens that can expire, keeping the common path free of it.
        if let Some(at) = token.expires_at
            && at <= clock::now()
        {
            return Err(Ok(if token.oauth_client_id.is_some() {
                AuthFailure::AccessTokenExpired(at)
            } else {
                AuthFailure::Expired(at)
            }));
        }
        Ok(Authenticated {
            tenant: Tenant::from_row(tenant),
            token_id: token.id,
            oauth_client_id: token.oauth_client_id,
        })
    }

    /// Records that a token was used (best effort; callers throttle).
    pub async fn touch_token(&self, token_id: &str) -> CoreResult<()> {
        self.store.touch_token(token_id, &clock::now()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_url_safe_slugs() {
        for ok in ["acme", "a", "acme-corp-2", &"a".repeat(63)] {
            assert!(TenantName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-acme",
            "acme-",
            "Acme",
            "ac me",
            "acme/x",
            "ä",
            &"a".repeat(64),
        ] {
            assert!(TenantName::parse(bad).is_err(), "{bad}");
        }
    }
}
