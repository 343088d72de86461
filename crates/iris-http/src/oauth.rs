//! `POST /oauth/token`: the OAuth 2.0 client credentials grant (RFC 6749 §4.4) that gives an
//! identity provider a short-lived bearer token for the SCIM endpoints in exchange for a client
//! id and secret (`iris oauth client create`).
//!
//! The request is form-encoded; the client authenticates with HTTP Basic (RFC 6749 §2.3.1) or
//! with `client_id` and `client_secret` in the body, never both. `scope` may be absent, empty or
//! `scim` (what Entra sends); a token always grants the client's tenant's whole SCIM API, so any
//! other scope is refused with `invalid_scope` rather than silently granted wider than asked.
//! Errors are RFC 6749 §5.2 JSON; answers carry `Cache-Control: no-store`.
//!
//! Guessing is throttled per client address (the peer, or the client a trusted proxy names)
//! before any database work: a refused request is answered `429` with `Retry-After`. Secrets are
//! 256-bit random values, so the limit protects the database more than the secrets.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use iris_core::oauth::GrantFailure;
use serde_json::json;

use crate::AppState;
use crate::rate_limit::RateLimit;

/// The one path of the token endpoint.
pub const TOKEN_PATH: &str = "/oauth/token";

/// The largest token request body read: a client id, a secret and a few parameters.
const MAX_BODY_BYTES: usize = 8 * 1024;

/// The only scope there is.
const SCOPE: &str = "scim";

pub const ISSUED: &str = "iris_oauth_tokens_issued_total";
pub const REFUSED: &str = "iris_oauth_token_refusals_total";

pub fn routes() -> Router<AppState> {
    Router::new().route(TOKEN_PATH, post(token).fallback(wrong_method))
}

/// How often addresses back at a full burst are swept out of the limiter.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The token endpoint's limiter, keyed by client address.
pub struct TokenRateLimit {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
    started: Instant,
    /// Milliseconds after `started` of the last sweep.
    swept_at: AtomicU64,
}

impl TokenRateLimit {
    pub fn new(setting: RateLimit) -> Self {
        Self {
            limiter: setting.quota().map(RateLimiter::dashmap),
            clock: DefaultClock::default(),
            started: Instant::now(),
            swept_at: AtomicU64::new(0),
        }
    }

    /// Keeps memory bounded by the addresses seen in the last minute: the request that finds a
    /// sweep due does it, the others go on.
    fn sweep_when_due(&self, limiter: &DefaultKeyedRateLimiter<IpAddr>) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.swept_at.load(Ordering::Relaxed);
        let interval = u64::try_from(SWEEP_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        if now.saturating_sub(last) >= interval
            && self
                .swept_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Seconds to wait when `addr` is over its limit.
    fn check(&self, addr: IpAddr) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        self.sweep_when_due(limiter);
        limiter.check_key(&addr).map_err(|at| {
            let wait = at.wait_time_from(self.clock.now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
    /// Set when the client authenticated with HTTP Basic: a 401 then names the scheme.
    basic: bool,
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            basic: false,
            retry_after: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client(basic: bool) -> Self {
        // RFC 6749 §5.2: 401 with WWW-Authenticate when the client tried Basic; 400 is allowed
        // otherwise, but 401 is clearer and what clients expect.
        Self {
            basic,
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed: unknown client, wrong or revoked secret, or a disabled tenant",
            )
        }
    }

    fn unavailable(description: &str, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                description,
            )
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        metrics::counter!(REFUSED, "error" => self.code).increment(1);
        let body = json!({"error": self.code, "error_description": self.description});
        let mut response = json_response(self.status, &body);
        let headers = response.headers_mut();
        no_store(headers);
        if self.status == StatusCode::UNAUTHORIZED && self.basic {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"iris\", charset=\"UTF-8\""),
            );
        }
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        response
    }
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(axum::body::Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The client credentials a request presents, and how.
struct Credentials {
    id: String,
    secret: String,
    basic: bool,
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> Response {
    match grant(&state, &headers, req).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn grant(
    state: &AppState,
    headers: &HeaderMap,
    req: axum::extract::Request,
) -> Result<Response, OAuthError> {
    let addr = req
        .extensions()
        .get::<crate::serve::ClientInfo>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.addr);
    state.oauth_rate.check(addr).map_err(|secs| OAuthError {
        retry_after: Some(secs),
        ..OAuthError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            format!("too many token requests from this address; retry after {secs} s"),
        )
    })?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the token request must be sent as application/x-www-form-urlencoded",
        ));
    }
    let body: Bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            OAuthError::invalid_request(format!(
                "the token request body exceeds {MAX_BODY_BYTES} bytes"
            ))
        })?;
    let params = Params::parse(&body)?;
    let credentials = credentials(headers, &params)?;
    match params.get("grant_type") {
        None => return Err(OAuthError::invalid_request("'grant_type' is required")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            ));
        }
    }
    if params.get("client_assertion").is_some() || params.get("client_assertion_type").is_some() {
        return Err(OAuthError::invalid_request(
            "client assertions are not supported: authenticate with a client id and secret",
        ));
    }
    if let Some(scope) = params.get("scope")
        && !scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .all(|s| s == SCOPE)
    {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!("the only scope is '{SCOPE}' (the tenant's SCIM API)"),
        ));
    }
    let granted = state
        .oauth
        .grant(
            &credentials.id,
            &credentials.secret,
            state.config.oauth_token_lifetime,
        )
        .await;
    match granted {
        Ok(token) => {
            metrics::counter!(ISSUED).increment(1);
            tracing::info!(tenant = token.tenant.name(), client_id = %credentials.id, "issued an OAuth access token");
            let body = json!({
                "access_token": token.token,
                "token_type": "Bearer",
                "expires_in": token.expires_in,
                "scope": SCOPE,
            });
            let mut response = json_response(StatusCode::OK, &body);
            no_store(response.headers_mut());
            Ok(response)
        }
        Err(GrantFailure::InvalidClient) => Err(OAuthError::invalid_client(credentials.basic)),
        Err(GrantFailure::Store(e)) => {
            tracing::error!(error = %e, "issuing an OAuth access token failed");
            Err(OAuthError::unavailable(
                "the token could not be issued now; retry",
                1,
            ))
        }
    }
}

/// Form parameters. RFC 6749 §3.2: a parameter sent twice is an invalid request; one sent empty
/// counts as absent (§3.1).
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
            OAuthError::invalid_request("the token request body is not valid form encoding")
        })?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter '{name}' is repeated"
                )));
            }
        }
        Ok(Self(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

fn credentials(headers: &HeaderMap, params: &Params) -> Result<Credentials, OAuthError> {
    let in_body = (params.get("client_id"), params.get("client_secret"));
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(basic_credentials(value)?),
    };
    match (basic, in_body) {
        (Some(_), (_, Some(_))) => Err(OAuthError::invalid_request(
            "send the client credentials either with HTTP Basic or in the body, not both",
        )),
        (Some((id, secret)), (body_id, None)) => {
            // A body client_id is allowed beside Basic only if it names the same client.
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the HTTP Basic client",
                ));
            }
            Ok(Credentials {
                id,
                secret,
                basic: true,
            })
        }
        (None, (Some(id), Some(secret))) => Ok(Credentials {
            id: id.to_owned(),
            secret: secret.to_owned(),
            basic: false,
        }),
        (None, _) => Err(OAuthError::invalid_client(false)),
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(value: &HeaderValue) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::invalid_client(true);
    let value = value.to_str().map_err(|_| bad())?.trim();
    let (scheme, encoded) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request(
            "the token endpoint takes HTTP Basic client authentication, not another scheme",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> Result<String, OAuthError> {
        let plus_as_space = s.replace('+', " ");
        percent_encoding::percent_decode_str(&plus_as_space)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    Ok((unescape(id)?, unescape(secret)?))
}

async fn wrong_method() -> Response {
    let mut response = OAuthError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "the token endpoint only accepts POST",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(raw))).unwrap()
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let (id, secret) = basic_credentials(&basic("irisoc_1%3A2:a%2Bb+c")).unwrap();
        assert_eq!(id, "irisoc_1:2");
        assert_eq!(secret, "a+b c");
    }

    #[test]
    fn malformed_basic_is_an_invalid_client() {
        for raw in [
            "Basic",
            "Basic !!!",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            let err = basic_credentials(&HeaderValue::from_str(raw).unwrap()).unwrap_err();
            assert_eq!(err.code, "invalid_client", "{raw}");
            assert!(err.basic);
        }
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let err = Params::parse(b"grant_type=client_credentials&grant_type=x")
            .err()
            .unwrap();
        assert_eq!(err.code, "invalid_request");
        let ok = Params::parse(b"grant_type=client_credentials&scope=").unwrap();
        assert_eq!(ok.get("scope"), None);
    }
}
