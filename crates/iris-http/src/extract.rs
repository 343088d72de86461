//! Request extractors that answer with SCIM errors: the authenticated tenant, the JSON body, the
//! query parameters and the `If-Match` precondition.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use iris_core::Tenant;
use iris_core::tenants::AuthFailure;
use iris_scim::ScimError;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

/// The tenant whose Tenant URL was called, authenticated by its bearer token. The only way a
/// handler obtains a tenant, so every resource access is scoped to it.
pub struct TenantAuth(pub Tenant);

/// The tenant name in `/scim/v2/{tenant}/…`.
pub fn tenant_segment(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(crate::SCIM_PREFIX)?.strip_prefix('/')?;
    Some(rest.split('/').next().unwrap_or(rest))
}

pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for TenantAuth {
    /// A SCIM error: `401` for a missing, invalid or expired token, `429` (with `Retry-After`)
    /// for a tenant or token over its rate limit.
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Nested routers see a path without the `/scim/v2/{tenant}` prefix; the original URI
        // (already normalised) still has it.
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |u| u.path().to_owned());
        let tenant_name = tenant_segment(&path).unwrap_or_default();
        let bearer = bearer(parts);
        // A token that a limit refused moments ago is refused again without its lookup, so that
        // a flood costs the database nothing until the limiter would admit it.
        if let Some((tenant, refusal)) =
            bearer.and_then(|b| state.rate_limits.refusing(tenant_name, b))
        {
            mark_authenticated(parts, &tenant);
            return Err(refusal.into_response(&tenant));
        }
        match state.tenants.authenticate(tenant_name, bearer).await {
            Ok(who) => {
                // An access token lives an hour at most: its last use is not worth a write.
                if who.oauth_client_id.is_none() {
                    state.note_token_use(&who.token_id);
                }
                mark_authenticated(parts, &who.tenant);
                // Before any database work of the request itself.
                let presented = bearer.unwrap_or_default();
                match state
                    .rate_limits
                    .check(&who.tenant, who.rate_key(), presented)
                {
                    Ok(()) => Ok(Self(who.tenant)),
                    Err(refusal) => Err(refusal.into_response(&who.tenant)),
                }
            }
            Err(Ok(AuthFailure::Missing)) => Err(unauthorized(
                "authentication required: send 'Authorization: Bearer <token>'".to_owned(),
            )),
            Err(Ok(AuthFailure::Invalid)) => Err(unauthorized(
                "the bearer token is not valid for this tenant".to_owned(),
            )),
            Err(Ok(AuthFailure::Expired(at))) => Err(unauthorized(format!(
                "the bearer token expired at {at}: issue a new one (`iris token issue`) and update the identity provider"
            ))),
            Err(Ok(AuthFailure::AccessTokenExpired(at))) => Err(unauthorized(format!(
                "the OAuth access token expired at {at}: obtain a new one from /oauth/token"
            ))),
            Err(Err(store)) => Err(ApiError::from(store).into_response()),
        }
    }
}

/// Tells `observe` (metrics, provisioning log) which tenant the request proved.
fn mark_authenticated(parts: &Parts, tenant: &iris_core::Tenant) {
    if let Some(slot) = parts
        .extensions
        .get::<crate::observe::AuthenticatedTenant>()
    {
        slot.set(tenant);
    }
}

fn unauthorized(detail: String) -> Response {
    ApiError(ScimError::unauthorized(detail)).into_response()
}

/// A JSON request body, read up to the configured size. Accepted whatever the declared content
/// type (`application/scim+json`, `application/json`, or none), since clients differ.
pub struct ScimBody(pub Value);

impl FromRequest<AppState> for ScimBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse_json(&bytes).map(Self)
    }
}

/// The request body as received, read up to the configured size, for handlers that keep a copy
/// of what they refuse (parse it with [`parse_json`]).
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| {
                ApiError(ScimError::new(
                    413,
                    None,
                    format!("the request body exceeds {limit} bytes"),
                ))
            })?;
        Ok(Self(bytes))
    }
}

pub(crate) fn parse_json(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("the request body is empty").into());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")).into()
    })
}

/// Query parameters, matched case-insensitively by name; unknown ones (such as Entra's
/// `aadOptscim062020` flag) are ignored.
#[derive(Debug, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default())
            .map_err(|e| ScimError::invalid_value(format!("malformed query string: {e}")))?;
        Ok(Self(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// An integer parameter; a malformed one is a client error rather than silently ignored.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ScimError::invalid_value(format!("'{name}' must be an integer, not '{v}'")).into()
            }),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Self::parse(parts.uri.query())
    }
}

/// A parsed `If-Match` / `If-None-Match` header: the version it names. `*` matches any version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityTag {
    Any,
    Version(i64),
    /// A tag Iris never issued: it matches nothing.
    Foreign,
}

impl EntityTag {
    fn parse(raw: &str) -> Self {
        let raw = raw.trim();
        if raw == "*" {
            return Self::Any;
        }
        let unquoted = raw.strip_prefix("W/").unwrap_or(raw).trim_matches('"');
        unquoted.parse().map_or(Self::Foreign, Self::Version)
    }

    fn from_header(parts: &Parts, name: header::HeaderName) -> Option<Self> {
        let v = parts.headers.get(name)?.to_str().ok()?;
        Some(Self::parse(v))
    }

    /// The version a write must find, for the service layer.
    pub fn expected_version(tag: Option<Self>) -> Option<i64> {
        match tag {
            None | Some(Self::Any) => None,
            Some(Self::Version(v)) => Some(v),
            // A tag we never issued can never match: ask for an impossible version.
            Some(Self::Foreign) => Some(-1),
        }
    }

    pub fn matches(self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::Version(v) => v == version,
            Self::Foreign => false,
        }
    }
}

/// `If-Match` and `If-None-Match` of a request.
pub struct Preconditions {
    pub if_match: Option<EntityTag>,
    pub if_none_match: Option<EntityTag>,
}

impl<S: Send + Sync> FromRequestParts<S> for Preconditions {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            if_match: EntityTag::from_header(parts, header::IF_MATCH),
            if_none_match: EntityTag::from_header(parts, header::IF_NONE_MATCH),
        })
    }
}

/// The `{id}` of `/…/{Resource}/{id}`. A path that is not valid UTF-8 names no resource: 404
/// with a SCIM body rather than axum's plain-text rejection.
pub struct ResourceId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ResourceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<(String, String)>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path((_, id))) => Ok(Self(id)),
            Err(_) => Err(ScimError::not_found("no resource at this path").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_is_the_segment_after_the_scim_prefix() {
        assert_eq!(tenant_segment("/scim/v2/acme/Users"), Some("acme"));
        assert_eq!(tenant_segment("/scim/v2/acme"), Some("acme"));
        assert_eq!(tenant_segment("/other/acme"), None);
    }

    #[test]
    fn entity_tags_parse_weak_strong_and_star() {
        assert_eq!(EntityTag::parse("W/\"3\""), EntityTag::Version(3));
        assert_eq!(EntityTag::parse("\"3\""), EntityTag::Version(3));
        assert_eq!(EntityTag::parse("*"), EntityTag::Any);
        assert_eq!(EntityTag::parse("W/\"abc\""), EntityTag::Foreign);
    }

    #[test]
    fn entra_query_strings_decode_plus_as_space() {
        let q =
            QueryParams::parse(Some("filter=userName+eq+%22a%40b%22&aadOptscim062020")).unwrap();
        assert_eq!(q.get("FILTER"), Some("userName eq \"a@b\""));
    }
}
