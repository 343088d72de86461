//! `/admin/v1/tenants/{tenant}/tokens`: a tenant's SCIM bearer tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use iris_core::IssuedToken;
use iris_core::tenants::TokenInfo;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AdminResult, ErrorBody};
use super::{AdminJson, AdminPath, OperatorAuth, json_response, ok};
use crate::AppState;
use crate::response::no_content;

/// A token's public facts: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub token_id: String,
    pub label: Option<String>,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked_at: Option<String>,
    /// When the token stops working; null for a token that never expires.
    pub expires_at: Option<String>,
}

impl TokenOut {
    pub fn of(t: &TokenInfo) -> Self {
        Self {
            token_id: t.id.clone(),
            label: t.label.clone(),
            created: t.created.clone(),
            last_used: t.last_used.clone(),
            revoked_at: t.revoked_at.clone(),
            expires_at: t.expires_at.clone(),
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueToken {
    /// A note to recognise the token by.
    #[serde(default)]
    pub label: Option<String>,
    /// Days until the token stops working (1 to 3650); omitted, it never expires.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A new token. `token` is the Secret Token to paste into the identity provider; it is shown in
/// this response only (Iris keeps its SHA-256).
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedTokenOut {
    pub token_id: String,
    pub token: String,
    pub label: Option<String>,
    /// When the token stops working; null for a token that never expires.
    pub expires_at: Option<String>,
}

impl IssuedTokenOut {
    pub fn of(t: &IssuedToken, label: Option<&str>) -> Self {
        Self {
            token_id: t.id.as_str().to_owned(),
            token: t.token.clone(),
            label: label.map(str::to_owned),
            expires_at: t.expires_at.clone(),
        }
    }
}

#[utoipa::path(
    get, path = "/tenants/{tenant}/tokens", tag = "tokens",
    summary = "List a tenant's tokens (never their secrets)",
    params(("tenant" = String, Path, description = "Tenant name")),
    responses(
        (status = 200, body = Vec<TokenOut>),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath(name): AdminPath<String>,
) -> AdminResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let all = state.tenants.tokens(&tenant).await?;
    let out: Vec<TokenOut> = all.iter().map(TokenOut::of).collect();
    Ok(ok(&out))
}

#[utoipa::path(
    post, path = "/tenants/{tenant}/tokens", tag = "tokens",
    summary = "Issue a token for the tenant (for rotation); the secret is shown once",
    params(("tenant" = String, Path, description = "Tenant name")),
    request_body(content = IssueToken, description = "Optional; an empty body issues a token without a label"),
    responses(
        (status = 201, description = "Issued; the secret is in this response only", body = IssuedTokenOut),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn issue(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath(name): AdminPath<String>,
    AdminJson(body): AdminJson<IssueToken>,
) -> AdminResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let label = body.label.as_deref();
    let lifetime = body
        .expires_in_days
        .map(|days| time::Duration::days(i64::from(days)));
    let token = state.tenants.issue_token(&tenant, label, lifetime).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &IssuedTokenOut::of(&token, label),
    ))
}

#[utoipa::path(
    delete, path = "/tenants/{tenant}/tokens/{token_id}", tag = "tokens",
    summary = "Revoke one of the tenant's tokens: refused from the next request on, by every process",
    params(
        ("tenant" = String, Path, description = "Tenant name"),
        ("token_id" = String, Path, description = "The token's id (16 hex digits)"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant, or no live token of it with that id", body = ErrorBody),
    )
)]
pub async fn revoke(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath((name, token_id)): AdminPath<(String, String)>,
) -> AdminResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    state
        .tenants
        .revoke_tenant_token(&tenant, &token_id)
        .await?;
    Ok(no_content())
}
