//! Operators: the people (and their tooling) who run Iris. Their tokens authenticate the admin
//! API and belong to no tenant; `iris admin token …` and the API both go through
//! [`OperatorService`].

use std::sync::Arc;

use iris_scim::ScimError;

use crate::clock;
use crate::error::{CoreResult, StoreError};
use crate::store::{OperatorTokenRow, Store};
use crate::tenants::{AuthFailure, TokenInfo};
use crate::tokens::{self, IssuedToken, TokenId, TokenKind};

/// Who an admin request proved to be: the operator token it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub token_id: String,
}

#[derive(Clone)]
pub struct OperatorService {
    store: Arc<dyn Store>,
}

impl OperatorService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Issues an operator token; the returned secret is the only time it is shown.
    pub async fn issue(&self, label: Option<&str>) -> CoreResult<IssuedToken> {
        let issued = tokens::generate_kind(TokenKind::Operator);
        let row = OperatorTokenRow {
            id: issued.id.as_str().to_owned(),
            label: label.map(str::to_owned),
            secret_hash: issued.secret_hash.clone(),
            created: clock::now(),
            last_used: None,
            revoked_at: None,
        };
        self.store.insert_operator_token(&row).await?;
        Ok(issued)
    }

    /// Every operator token's public facts (never a secret or its hash).
    pub async fn list(&self) -> CoreResult<Vec<TokenInfo>> {
        let rows = self.store.operator_tokens().await?;
        Ok(rows
            .into_iter()
            .map(|r| TokenInfo {
                id: r.id,
                label: r.label,
                created: r.created,
                last_used: r.last_used,
                revoked_at: r.revoked_at,
                expires_at: None,
            })
            .collect())
    }

    /// Revokes an operator token by id; refused by every process from the next request on.
    pub async fn revoke(&self, token_id: &str) -> CoreResult<()> {
        let revoked = match TokenId::parse(token_id) {
            Some(id) => {
                self.store
                    .revoke_operator_token(id.as_str(), &clock::now())
                    .await?
            }
            None => false,
        };
        if revoked {
            Ok(())
        } else {
            Err(ScimError::not_found(format!("no live operator token with id '{token_id}'")).into())
        }
    }

    /// Authenticates an admin request's bearer token: an unrevoked operator token whose secret
    /// matches. A tenant token is not one (it does not even parse as one).
    pub async fn authenticate(
        &self,
        bearer: Option<&str>,
    ) -> Result<Operator, Result<AuthFailure, StoreError>> {
        let Some(bearer) = bearer else {
            return Err(Ok(AuthFailure::Missing));
        };
        let Some((id, secret)) = tokens::split_kind(TokenKind::Operator, bearer) else {
            return Err(Ok(AuthFailure::Invalid));
        };
        let Some(token) = self.store.operator_token(id.as_str()).await.map_err(Err)? else {
            return Err(Ok(AuthFailure::Invalid));
        };
        // Check the secret first and always, so timing does not reveal which condition failed.
        let secret_ok = tokens::secret_matches(secret, &token.secret_hash);
        if !secret_ok || token.revoked_at.is_some() {
            return Err(Ok(AuthFailure::Invalid));
        }
        Ok(Operator { token_id: token.id })
    }

    /// Records that an operator token was used (best effort; callers throttle).
    pub async fn touch(&self, token_id: &str) -> CoreResult<()> {
        self.store
            .touch_operator_token(token_id, &clock::now())
            .await?;
        Ok(())
    }
}
