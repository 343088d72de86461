//! OAuth 2.0 client credentials (RFC 6749 §4.4): a tenant's clients, their secrets, and the
//! short-lived access tokens they obtain. The CLI manages clients; `POST /oauth/token` calls
//! [`OAuthService::grant`].
//!
//! An access token is an ordinary tenant token (`iris_<id>_<secret>`) with an expiry and a link
//! to the client and secret that obtained it, so the SCIM endpoints accept it exactly as they
//! accept a tenant's Secret Token: same lookup, same tenant scoping, same expiry check.
//!
//! Revocation is immediate and reaches the access tokens: revoking a client revokes its secrets
//! and every access token it obtained; revoking a secret revokes the access tokens obtained with
//! it. A leaked secret is then dead with everything it bought, rather than for up to an hour.

use std::sync::Arc;

use iris_scim::ScimError;

use crate::clock;
use crate::error::{CoreError, CoreResult, StoreError};
use crate::store::{OAuthClientRow, OAuthSecretRow, Store, TokenRow};
use crate::tenants::Tenant;
use crate::tokens::{self, TokenId, TokenKind};

/// The prefix of a client id: `irisoc_` and 16 hex characters.
const CLIENT_PREFIX: &str = "irisoc_";

/// The default lifetime of an access token.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: time::Duration = time::Duration::minutes(60);

/// Expired access tokens are kept this long before they are purged, so a client that presents
/// one soon after its expiry is told it expired rather than that it is unknown.
pub const EXPIRED_ACCESS_TOKEN_GRACE: time::Duration = time::Duration::days(1);

/// A client id as presented: `irisoc_` and 16 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Option<Self> {
        let id = raw.strip_prefix(CLIENT_PREFIX)?;
        TokenId::parse(id).map(|_| Self(raw.to_owned()))
    }

    fn generate() -> Self {
        Self(format!("{CLIENT_PREFIX}{}", tokens::random_id().as_str()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client's public facts, for listing.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub id: String,
    pub label: Option<String>,
    pub created: String,
    pub revoked_at: Option<String>,
    pub secrets: Vec<SecretInfo>,
}

/// A secret's public facts: never the secret.
#[derive(Debug, Clone)]
pub struct SecretInfo {
    pub id: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked_at: Option<String>,
}

/// A client secret, shown once.
pub struct IssuedSecret {
    pub client_id: String,
    pub secret_id: String,
    pub secret: String,
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret, even in debug output.
        f.debug_struct("IssuedSecret")
            .field("client_id", &self.client_id)
            .field("secret_id", &self.secret_id)
            .finish_non_exhaustive()
    }
}

/// An access token granted at `/oauth/token`.
pub struct AccessToken {
    pub token: String,
    pub expires_in: u64,
    /// The tenant it works for (for metrics and logs).
    pub tenant: Tenant,
}

/// Why no access token was granted: always `invalid_client` towards the client, whatever the
/// cause (unknown client, wrong secret, revoked, tenant disabled), so a guesser learns nothing.
#[derive(Debug)]
pub enum GrantFailure {
    InvalidClient,
    Store(StoreError),
}

impl From<StoreError> for GrantFailure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// A SHA-256 that no secret hashes to, compared against when there is no stored secret, so a
/// miss costs the same time as a wrong secret.
const NO_SECRET_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Clone)]
pub struct OAuthService {
    store: Arc<dyn Store>,
}

impl OAuthService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Creates a client of `tenant` with its first secret.
    pub async fn create_client(
        &self,
        tenant: &Tenant,
        label: Option<&str>,
    ) -> CoreResult<IssuedSecret> {
        let client = OAuthClientRow {
            id: ClientId::generate().0,
            tenant_id: tenant.id().clone(),
            label: label.map(str::to_owned),
            created: clock::now(),
            revoked_at: None,
        };
        let (row, issued) = new_secret(&client.id);
        self.store.insert_oauth_client(&client, &row).await?;
        Ok(issued)
    }

    /// The tenant's clients with their secrets, oldest first.
    pub async fn clients(&self, tenant: &Tenant) -> CoreResult<Vec<ClientInfo>> {
        let mut out = Vec::new();
        for client in self.store.oauth_clients(tenant.id()).await? {
            let secrets = self
                .store
                .oauth_secrets(&client.id)
                .await?
                .into_iter()
                .map(|s| SecretInfo {
                    id: s.id,
                    created: s.created,
                    last_used: s.last_used,
                    revoked_at: s.revoked_at,
                })
                .collect();
            out.push(ClientInfo {
                id: client.id,
                label: client.label,
                created: client.created,
                revoked_at: client.revoked_at,
                secrets,
            });
        }
        Ok(out)
    }

    /// The live client with this id, or a not-found error naming it.
    async fn live_client(&self, client_id: &str) -> CoreResult<OAuthClientRow> {
        let found = match ClientId::parse(client_id) {
            Some(id) => self.store.oauth_client_with_tenant(id.as_str()).await?,
            None => None,
        };
        match found {
            Some((client, _)) if client.revoked_at.is_none() => Ok(client),
            _ => Err(
                ScimError::not_found(format!("no live OAuth client with id '{client_id}'")).into(),
            ),
        }
    }

    /// Adds a secret to a live client (rotation: add, update the identity provider, revoke the
    /// old one).
    pub async fn add_secret(&self, client_id: &str) -> CoreResult<IssuedSecret> {
        let client = self.live_client(client_id).await?;
        let (row, issued) = new_secret(&client.id);
        self.store.insert_oauth_secret(&row).await?;
        Ok(issued)
    }

    /// Revokes one secret of a client and the access tokens obtained with it.
    pub async fn revoke_secret(&self, client_id: &str, secret_id: &str) -> CoreResult<()> {
        let client = self.live_client(client_id).await?;
        let revoked = match TokenId::parse(secret_id) {
            Some(id) => {
                self.store
                    .revoke_oauth_secret(&client.id, id.as_str(), &clock::now())
                    .await?
            }
            None => false,
        };
        if revoked {
            Ok(())
        } else {
            Err(ScimError::not_found(format!(
                "OAuth client '{client_id}' has no live secret with id '{secret_id}'"
            ))
            .into())
        }
    }

    /// Revokes a client, its secrets and every access token it obtained.
    pub async fn revoke_client(&self, client_id: &str) -> CoreResult<()> {
        let revoked = match ClientId::parse(client_id) {
            Some(id) => {
                self.store
                    .revoke_oauth_client(id.as_str(), &clock::now())
                    .await?
            }
            None => false,
        };
        if revoked {
            Ok(())
        } else {
            Err(CoreError::Scim(ScimError::not_found(format!(
                "no live OAuth client with id '{client_id}'"
            ))))
        }
    }

    /// The client credentials grant: checks the client and secret and issues an access token
    /// living `lifetime`. The secret is checked first and always, so timing does not reveal
    /// which condition failed.
    pub async fn grant(
        &self,
        client_id: &str,
        client_secret: &str,
        lifetime: time::Duration,
    ) -> Result<AccessToken, GrantFailure> {
        let Some(client_id) = ClientId::parse(client_id) else {
            return Err(GrantFailure::InvalidClient);
        };
        let Some((secret_id, secret)) = tokens::split_kind(TokenKind::ClientSecret, client_secret)
        else {
            return Err(GrantFailure::InvalidClient);
        };
        let found = self
            .store
            .oauth_client_with_tenant(client_id.as_str())
            .await?;
        let stored = self.store.oauth_secret(secret_id.as_str()).await?;
        let hash = stored.as_ref().map_or(NO_SECRET_HASH, |s| &s.secret_hash);
        let secret_ok = tokens::secret_matches(secret, hash);
        let (Some((client, tenant)), Some(stored)) = (found, stored) else {
            return Err(GrantFailure::InvalidClient);
        };
        let usable = secret_ok
            && stored.client_id == client.id
            && stored.revoked_at.is_none()
            && client.revoked_at.is_none()
            && tenant.disabled_at.is_none();
        if !usable {
            return Err(GrantFailure::InvalidClient);
        }
        let now = time::OffsetDateTime::now_utc();
        let issued = tokens::generate();
        let row = TokenRow {
            id: issued.id.as_str().to_owned(),
            tenant_id: tenant.id.clone(),
            label: Some(format!("oauth {}", client.id)),
            secret_hash: issued.secret_hash.clone(),
            created: clock::format(now),
            last_used: None,
            revoked_at: None,
            expires_at: Some(clock::format(now + lifetime)),
            oauth_client_id: Some(client.id.clone()),
        };
        self.store
            .insert_access_token(&row, &client.id, &stored.id)
            .await?;
        Ok(AccessToken {
            token: issued.token,
            expires_in: u64::try_from(lifetime.whole_seconds()).unwrap_or(0),
            tenant: Tenant::from_row(tenant),
        })
    }

    /// Deletes access tokens expired for longer than [`EXPIRED_ACCESS_TOKEN_GRACE`]; how many.
    pub async fn purge_expired(&self) -> CoreResult<u64> {
        let before = clock::format(time::OffsetDateTime::now_utc() - EXPIRED_ACCESS_TOKEN_GRACE);
        Ok(self.store.purge_access_tokens(&before).await?)
    }

    /// Purges expired access tokens every `every`, forever: a task of `iris serve`.
    pub async fn run_purge(self, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "purged expired OAuth access tokens"),
                Err(e) => tracing::error!(error = %e, "purging expired OAuth access tokens failed"),
            }
        }
    }
}

fn new_secret(client_id: &str) -> (OAuthSecretRow, IssuedSecret) {
    let issued = tokens::generate_kind(TokenKind::ClientSecret);
    let row = OAuthSecretRow {
        id: issued.id.as_str().to_owned(),
        client_id: client_id.to_owned(),
        secret_hash: issued.secret_hash.clone(),
        created: clock::now(),
        last_used: None,
        revoked_at: None,
    };
    let secret = IssuedSecret {
        client_id: client_id.to_owned(),
        secret_id: row.id.clone(),
        secret: issued.token,
    };
    (row, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_parse_only_in_their_own_shape() {
        let id = ClientId::generate();
        assert!(ClientId::parse(id.as_str()).is_some());
        for bad in [
            "",
            "irisoc_",
            "irisoc_XYZ",
            "iris_0123456789abcdef",
            "irisoc_0123456789ABCDEF",
        ] {
            assert!(ClientId::parse(bad).is_none(), "{bad}");
        }
    }
}
