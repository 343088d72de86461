//! `OperatorAuth`: the operator token an admin request carries. A tenant token never passes (it
//! does not parse as an operator token), and an operator token never passes `TenantAuth`.

use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use iris_core::Operator;
use iris_core::tenants::AuthFailure;

use super::error::AdminError;
use crate::AppState;

/// The operator an admin request authenticated as.
pub struct OperatorAuth(pub Operator);

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match state
            .operators
            .authenticate(crate::extract::bearer(parts))
            .await
        {
            Ok(operator) => {
                note_use(state, &operator.token_id);
                Ok(Self(operator))
            }
            Err(Ok(AuthFailure::Missing)) => Err(AdminError::unauthorized(
                "authentication required: send 'Authorization: Bearer <operator token>' (from `iris admin token issue`)",
            )),
            Err(Ok(
                AuthFailure::Invalid | AuthFailure::Expired(_) | AuthFailure::AccessTokenExpired(_),
            )) => Err(AdminError::unauthorized(
                "the bearer token is not a valid operator token",
            )),
            Err(Err(store)) => Err(store.into()),
        }
    }
}

/// Records the token's use at most once a minute per token and process, off the request path
/// (the same throttle as tenant tokens, in the same map under a key of its own).
fn note_use(state: &AppState, token_id: &str) {
    let key = format!("operator:{token_id}");
    let now = Instant::now();
    let due = match state.token_touches.lock() {
        Ok(mut seen) => {
            let due = seen
                .get(&key)
                .is_none_or(|t| now.duration_since(*t) >= crate::TOKEN_TOUCH_INTERVAL);
            if due {
                seen.insert(key, now);
            }
            due
        }
        Err(_) => false,
    };
    if due {
        let operators = state.operators.clone();
        let token_id = token_id.to_owned();
        tokio::spawn(async move {
            if let Err(e) = operators.touch(&token_id).await {
                tracing::debug!(error = %e, "could not record operator token use");
            }
        });
    }
}
