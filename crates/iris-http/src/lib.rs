//! Iris's HTTP surface: SCIM 2.0 under `/scim/v2/{tenant}`, discovery, and health probes. Handlers
//! are thin; all rules live in `iris-core` and `iris-scim`.

pub mod admin;
mod base_url;
pub mod console;
mod deadline;
mod discovery;
mod error;
mod extract;
mod head_limits;
mod health;
mod in_flight;
mod listing;
pub mod metrics;
pub mod oauth;
mod observe;
pub mod rate_limit;
mod render;
mod resources;
mod response;
mod search;
pub mod serve;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use iris_core::provisioning::ActivityTracker;
use iris_core::{
    AccountService, OAuthService, OperatorService, ProvisioningLog, ResourceKind, ResourceService,
    Store, TenantService,
};
use iris_scim::ScimError;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use head_limits::{MAX_HEADER_BYTES, MAX_HEADER_FIELDS, MAX_REQUEST_TARGET_BYTES};
pub use rate_limit::{RateLimit, RateLimiters};

/// Where every tenant's SCIM endpoints live: `{public_url}/scim/v2/{tenant}`.
pub const SCIM_PREFIX: &str = "/scim/v2";

/// How often a token's `last_used` is written at most, per process.
const TOKEN_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The externally visible base URL, e.g. `https://iris.example.com`.
    pub public_url: String,
    /// Whether `public_url` was configured (rather than derived from the listen address): only
    /// then does it win over the host a trusted proxy forwards.
    pub public_url_configured: bool,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How requests are grouped into provisioning cycles.
    pub cycles: iris_core::provisioning::CycleSettings,
    /// Tenants with a metrics label of their own; the rest are labelled `other`.
    pub metrics_tenant_label_cap: usize,
    /// Whether `/admin/v1` is served.
    pub admin_api: bool,
    /// Where the admin console is served (e.g. `/console`); `None`: not served.
    pub console_path: Option<String>,
    /// How long a request may take before it is abandoned and answered `503`.
    pub request_timeout: std::time::Duration,
    /// The rate limit of each tenant's requests.
    pub rate_limit_tenant: RateLimit,
    /// The rate limit of each token's requests.
    pub rate_limit_token: RateLimit,
    /// Requests served at once before further ones are shed with `503`; 0: no limit.
    pub max_in_flight_requests: usize,
    /// How long an OAuth access token from `/oauth/token` lives.
    pub oauth_token_lifetime: time::Duration,
    /// The rate limit of `/oauth/token` requests per client address.
    pub oauth_token_rate_limit: RateLimit,
}

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub tenants: TenantService,
    pub resources: ResourceService,
    pub log: ProvisioningLog,
    /// Requests counted into provisioning cycles (flushed by `iris serve`).
    pub activity: ActivityTracker,
    pub operators: OperatorService,
    /// The console's operator accounts and sessions.
    pub accounts: AccountService,
    /// The console's per-process state: the live tail's feed (requests are published only while
    /// someone watches) and the brake on failed sign-ins.
    pub console: console::ConsoleState,
    pub oauth: OAuthService,
    /// The token endpoint's limit per client address.
    oauth_rate: Arc<oauth::TokenRateLimit>,
    /// This server's request series and totals.
    pub metrics: Arc<metrics::RequestMetrics>,
    pub config: Arc<HttpConfig>,
    /// The per-tenant and per-token rate limits.
    pub rate_limits: Arc<RateLimiters>,
    in_flight: in_flight::InFlight,
    token_touches: Arc<Mutex<HashMap<String, Instant>>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, resources: ResourceService, config: HttpConfig) -> Self {
        Self {
            tenants: TenantService::new(store.clone()),
            log: ProvisioningLog::new(store.clone()),
            activity: ActivityTracker::new(store.clone(), config.cycles),
            operators: OperatorService::new(store.clone()),
            accounts: AccountService::new(store.clone()),
            console: console::ConsoleState::default(),
            oauth: OAuthService::new(store.clone()),
            oauth_rate: Arc::new(oauth::TokenRateLimit::new(config.oauth_token_rate_limit)),
            metrics: Arc::new(metrics::RequestMetrics::new(
                config.metrics_tenant_label_cap,
            )),
            rate_limits: Arc::new(RateLimiters::new(
                config.rate_limit_tenant,
                config.rate_limit_token,
            )),
            in_flight: in_flight::InFlight::new(config.max_in_flight_requests),
            resources,
            store,
            config: Arc::new(config),
            token_touches: Arc::default(),
        }
    }

    /// The Tenant URL an admin pastes into the identity provider.
    /// The base URL is the configured (or derived) public URL, or the one a trusted proxy
    /// forwarded for the request being served.
    pub fn tenant_url(&self, tenant: &str) -> String {
        match base_url::forwarded() {
            Some(base) => tenant_url(&base, tenant),
            None => tenant_url(&self.config.public_url, tenant),
        }
    }

    /// Records token use at most once a minute per token, off the request path.
    fn note_token_use(&self, token_id: &str) {
        let now = Instant::now();
        let due = match self.token_touches.lock() {
            Ok(mut seen) => {
                let due = seen
                    .get(token_id)
                    .is_none_or(|t| now.duration_since(*t) >= TOKEN_TOUCH_INTERVAL);
                if due {
                    seen.insert(token_id.to_owned(), now);
                }
                due
            }
            Err(_) => false,
        };
        if due {
            let tenants = self.tenants.clone();
            let token_id = token_id.to_owned();
            tokio::spawn(async move {
                if let Err(e) = tenants.touch_token(&token_id).await {
                    tracing::debug!(error = %e, "could not record token use");
                }
            });
        }
    }
}

/// `{public_url}/scim/v2/{tenant}`.
pub fn tenant_url(public_url: &str, tenant: &str) -> String {
    format!("{}{SCIM_PREFIX}/{tenant}", public_url.trim_end_matches('/'))
}

/// The router, before path normalisation.
pub fn router(state: AppState) -> Router {
    let scim = ResourceKind::ALL
        .into_iter()
        .fold(Router::new(), |router, kind| {
            router.merge(resources::routes(kind, state.clone()))
        })
        .merge(search::routes())
        .merge(discovery::routes())
        .method_not_allowed_fallback(method_not_allowed);
    let admin = if state.config.admin_api {
        admin::routes()
    } else {
        Router::new()
    };
    let console = match &state.config.console_path {
        Some(path) => Router::new().nest(path, console::routes(state.clone())),
        None => Router::new(),
    };
    Router::new()
        .nest(&format!("{SCIM_PREFIX}/{{tenant}}"), scim)
        .merge(health::routes())
        .merge(oauth::routes())
        .merge(admin)
        .merge(console)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            deadline::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            base_url::scope,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            in_flight::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
        ]))
        .with_state(state)
}

/// The complete service: request heads past Iris's limits refused first, then path normalisation
/// in front of the router, so `…/acme/` and `…/acme//Users` route like `…/acme/Users` (identity
/// providers build URLs by concatenation). Serve it with [`serve::serve`], so the heads hyper
/// refuses itself get SCIM bodies too.
pub fn app(
    state: AppState,
) -> impl tower::Service<Request, Response = Response, Error = std::convert::Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    let routed = router(state).map_request(normalize_path);
    tower::Layer::layer(
        &axum::middleware::from_fn(head_limits::refuse_oversized_heads),
        routed,
    )
}

fn normalize_path(mut req: Request) -> Request {
    let path = req.uri().path();
    if !path.contains("//") && (path.len() <= 1 || !path.ends_with('/')) {
        return req;
    }
    let mut clean = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        clean.push('/');
        clean.push_str(segment);
    }
    if clean.is_empty() {
        clean.push('/');
    }
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{clean}?{q}"),
        None => clean,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

async fn not_found() -> Response {
    ApiError(ScimError::not_found("no such endpoint")).into_response()
}

async fn method_not_allowed() -> Response {
    ApiError(ScimError::new(
        405,
        None,
        "method not allowed on this endpoint",
    ))
    .into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let mut response = ApiError(ScimError::internal()).into_response();
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
