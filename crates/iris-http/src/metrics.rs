//! Metrics in the Prometheus text format: the process-wide recorder (installed once, shared by
//! every server of the process), what each request records, and the `/metrics` endpoint that
//! `iris serve --metrics-listen` serves on a listener of its own — never on the SCIM listener.
//!
//! Recording stays off the request's critical path: a request's series (tenant, route template,
//! method, status) are registered the first time they occur and kept, so a request costs one
//! read lock of that cache, a counter add and a histogram sample; no label is built. Tenant labels
//! are bounded: the first `cap` tenants that authenticate keep their name, every other request
//! is labelled `other`. Names in a request that failed authentication are never admitted, so a
//! client spraying made-up tenant names cannot push real tenants out.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hashbrown::{Equivalent, HashMap};
use metrics::{Counter, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;
use crate::rate_limit::{Limit, RateLimited};

pub const REQUESTS: &str = "iris_http_requests_total";
pub const REQUEST_DURATION: &str = "iris_http_request_duration_seconds";
pub const UNAUTHENTICATED: &str = "iris_unauthenticated_requests_total";
pub const POOL_CONNECTIONS: &str = "iris_db_pool_connections";
pub const POOL_MAX: &str = "iris_db_pool_max_connections";
pub const TENANT_LABELS: &str = "iris_metrics_tenant_labels";
pub const TOKENS_EXPIRING: &str = "iris_tokens_expiring_soon";
pub const RATE_LIMITED: &str = "iris_requests_rate_limited_total";
pub const SHED: &str = "iris_requests_shed_total";
pub const RATE_LIMITED_UNLOOKED: &str = "iris_requests_rate_limited_before_token_lookup_total";

/// The tenant label of requests beyond the cap.
pub const OTHER_TENANTS: &str = "other";
/// The route label of requests that matched no route.
pub const UNMATCHED: &str = "unmatched";
/// Default for `metrics_tenant_label_cap`.
pub const DEFAULT_TENANT_LABEL_CAP: usize = 100;

/// Upper bounds, in seconds, of every latency histogram: 0.5 ms to 10 s.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
/// Tenants given a [`TOKENS_EXPIRING`] series so far: one whose tokens were rotated drops to 0
/// rather than keep its last count.
static EXPIRY_REPORTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Installs the process's Prometheus recorder the first time it is called and returns its handle
/// (every later call returns the same handle: tests run many servers in one process). Every
/// histogram gets [`LATENCY_BUCKETS`] unless `buckets` names other bounds for it, so none is
/// rendered as a summary (summaries cannot be aggregated across processes). `None` if another
/// recorder was installed first; metrics then go there.
pub fn install(buckets: &[(&str, &[f64])]) -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            builder = match builder.set_buckets(&LATENCY_BUCKETS) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "invalid histogram buckets");
                    return None;
                }
            };
            for (name, bounds) in buckets {
                builder = match builder
                    .set_buckets_for_metric(Matcher::Full((*name).to_owned()), bounds)
                {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::error!(error = %e, metric = name, "invalid histogram buckets");
                        return None;
                    }
                };
            }
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a metrics recorder was already installed");
                    None
                }
            }
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "HTTP requests answered, by tenant (capped, then 'other'), route template, method and status"
    );
    metrics::describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request (up to its response head), by route template and method"
    );
    metrics::describe_counter!(
        UNAUTHENTICATED,
        "Requests refused for a missing or invalid token, by API (scim, admin) and tenant"
    );
    metrics::describe_counter!(
        RATE_LIMITED,
        "Requests refused with 429, by tenant (capped, then 'other') and the limit reached (tenant, token)"
    );
    metrics::describe_counter!(
        crate::oauth::ISSUED,
        "OAuth access tokens issued at /oauth/token"
    );
    metrics::describe_counter!(
        crate::oauth::REFUSED,
        "Token requests refused at /oauth/token, by RFC 6749 error code"
    );
    metrics::describe_counter!(
        RATE_LIMITED_UNLOOKED,
        "Of the requests refused with 429, by tenant, those answered before their token was looked up (a token refused moments ago, until its limiter admits it again)"
    );
    metrics::describe_counter!(
        SHED,
        "Requests refused with 503 because the in-flight limit was reached"
    );
    metrics::describe_gauge!(
        POOL_CONNECTIONS,
        "Database connections of each pool, by state (idle, in_use), when scraped"
    );
    metrics::describe_gauge!(POOL_MAX, "Most connections each pool may open");
    metrics::describe_gauge!(
        TOKENS_EXPIRING,
        "Live tokens of each tenant that expire within 14 days, when scraped (rotate them)"
    );
    metrics::describe_gauge!(
        TENANT_LABELS,
        "Tenants with a label of their own (the rest are counted as 'other')"
    );
}

/// Drains the recorder's histogram samples every `every`, so they do not pile up between scrapes
/// (or forever, when nothing scrapes). A task of `iris serve`.
pub async fn run_upkeep(handle: PrometheusHandle, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

/// The router of the metrics listener: `GET /metrics` and nothing else.
pub fn router(state: AppState, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .fallback(|| async { (StatusCode::NOT_FOUND, "only /metrics is served here\n") })
        .with_state((state, handle))
}

async fn scrape(State((state, handle)): State<(AppState, PrometheusHandle)>) -> Response {
    for pool in state.store.pool_stats() {
        let in_use = pool.size.saturating_sub(pool.idle);
        gauge!(POOL_CONNECTIONS, "pool" => pool.pool, "state" => "idle").set(f64::from(pool.idle));
        gauge!(POOL_CONNECTIONS, "pool" => pool.pool, "state" => "in_use").set(f64::from(in_use));
        gauge!(POOL_MAX, "pool" => pool.pool).set(f64::from(pool.max));
    }
    gauge!(TENANT_LABELS).set(state.metrics.admitted_tenants() as f64);
    report_expiring_tokens(&state).await;
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Sets [`TOKENS_EXPIRING`] for the tenants (up to the label cap) with tokens about to expire,
/// and back to 0 for those that had some at an earlier scrape.
async fn report_expiring_tokens(state: &AppState) {
    let counts = match state.tenants.expiring_token_counts().await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::warn!(error = %e, "could not count expiring tokens for the metrics");
            return;
        }
    };
    let Ok(mut reported) = EXPIRY_REPORTED.lock() else {
        return;
    };
    let reported = reported.get_or_insert_with(HashSet::new);
    let cap = state.config.metrics_tenant_label_cap;
    let current: HashSet<String> = counts.iter().take(cap).map(|(t, _)| t.clone()).collect();
    for gone in reported.difference(&current) {
        gauge!(TOKENS_EXPIRING, "tenant" => gone.clone()).set(0.0);
    }
    for (tenant, n) in counts.into_iter().take(cap) {
        gauge!(TOKENS_EXPIRING, "tenant" => tenant.clone()).set(n as f64);
        reported.insert(tenant);
    }
}

/// The method label: the standard methods by name, anything else as `other` (a client may send
/// any token as a method; labels must stay bounded).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A series' labels, as kept in the cache.
#[derive(Hash, PartialEq, Eq)]
struct SeriesKey {
    tenant: Box<str>,
    route: Box<str>,
    method: &'static str,
    status: u16,
}

/// The same labels borrowed from a request: looks a series up without allocating. Hashes like
/// [`SeriesKey`] (same fields, same order, `str` hashing alike however it is owned).
#[derive(Hash)]
struct SeriesRef<'a> {
    tenant: &'a str,
    route: &'a str,
    method: &'static str,
    status: u16,
}

impl From<&SeriesRef<'_>> for SeriesKey {
    fn from(labels: &SeriesRef<'_>) -> Self {
        Self {
            tenant: labels.tenant.into(),
            route: labels.route.into(),
            method: labels.method,
            status: labels.status,
        }
    }
}

impl Equivalent<SeriesKey> for SeriesRef<'_> {
    fn equivalent(&self, key: &SeriesKey) -> bool {
        self.status == key.status
            && self.method == key.method
            && *self.route == *key.route
            && *self.tenant == *key.tenant
    }
}

/// The handles of one series.
struct Series {
    requests: Counter,
    latency: Histogram,
    /// For 401s: the refused-credentials counter.
    unauthenticated: Option<Counter>,
    /// For 429s: the rate-limited counter of each limit, in the order of [`Limit::ALL`], and
    /// the counter of those answered before their token was looked up.
    rate_limited: Option<([Counter; 2], Counter)>,
}

impl Series {
    fn register(labels: &SeriesRef<'_>) -> Self {
        let unauthenticated = (labels.status == 401).then(|| {
            let api = if labels.route.starts_with(crate::admin::PREFIX) {
                "admin"
            } else {
                "scim"
            };
            counter!(UNAUTHENTICATED, "api" => api, "tenant" => labels.tenant.to_owned())
        });
        let rate_limited = (labels.status == 429).then(|| {
            let by_limit = Limit::ALL.map(|limit| {
                counter!(RATE_LIMITED, "tenant" => labels.tenant.to_owned(), "limit" => limit.label())
            });
            let unlooked = counter!(RATE_LIMITED_UNLOOKED, "tenant" => labels.tenant.to_owned());
            (by_limit, unlooked)
        });
        Self {
            rate_limited,
            requests: counter!(
                REQUESTS,
                "tenant" => labels.tenant.to_owned(),
                "route" => labels.route.to_owned(),
                "method" => labels.method,
                "status" => labels.status.to_string(),
            ),
            latency: histogram!(
                REQUEST_DURATION,
                "route" => labels.route.to_owned(),
                "method" => labels.method,
            ),
            unauthenticated,
        }
    }

    fn record(&self, seen: &Observation<'_>) {
        self.requests.increment(1);
        self.latency.record(seen.elapsed.as_secs_f64());
        if let Some(c) = &self.unauthenticated {
            c.increment(1);
        }
        if let (Some((by_limit, unlooked)), Some(refused)) = (&self.rate_limited, seen.rate_limited)
        {
            let at = Limit::ALL
                .iter()
                .position(|l| *l == refused.limit)
                .unwrap_or(0);
            by_limit[at].increment(1);
            if refused.before_token_lookup {
                unlooked.increment(1);
            }
        }
    }
}

#[derive(Default)]
struct Cache {
    admitted: HashSet<Box<str>>,
    series: HashMap<SeriesKey, Series>,
}

/// Counts of this process since it started, for the admin API's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub unauthenticated: u64,
}

/// What one request tells the metrics.
pub(crate) struct Observation<'a> {
    /// The `{tenant}` of a SCIM URL.
    pub tenant: Option<&'a str>,
    /// Whether the request's token proved that tenant.
    pub authenticated: bool,
    /// The route template (`MatchedPath`), `None` when no route matched.
    pub route: Option<&'a str>,
    pub method: &'a Method,
    pub status: StatusCode,
    pub elapsed: Duration,
    /// The limit that refused the request, if one did.
    pub rate_limited: Option<RateLimited>,
}

/// The request series of one server, and its totals.
pub struct RequestMetrics {
    tenant_cap: usize,
    cache: RwLock<Cache>,
    started: Instant,
    requests: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    unauthenticated: AtomicU64,
}

impl RequestMetrics {
    pub fn new(tenant_cap: usize) -> Self {
        Self {
            tenant_cap,
            cache: RwLock::default(),
            started: Instant::now(),
            requests: AtomicU64::new(0),
            client_errors: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            unauthenticated: AtomicU64::new(0),
        }
    }

    pub fn totals(&self) -> Totals {
        Totals {
            requests: self.requests.load(Ordering::Relaxed),
            client_errors: self.client_errors.load(Ordering::Relaxed),
            server_errors: self.server_errors.load(Ordering::Relaxed),
            unauthenticated: self.unauthenticated.load(Ordering::Relaxed),
        }
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn admitted_tenants(&self) -> usize {
        self.cache.read().map_or(0, |c| c.admitted.len())
    }

    pub(crate) fn record(&self, seen: &Observation<'_>) {
        self.count_totals(seen.status);
        let route = seen.route.unwrap_or(UNMATCHED);
        let method = method_label(seen.method);
        let status = seen.status.as_u16();
        let admit = {
            let Ok(cache) = self.cache.read() else { return };
            let (tenant, admit) = self.tenant_label(&cache, seen);
            if !admit {
                let key = SeriesRef {
                    tenant,
                    route,
                    method,
                    status,
                };
                if let Some(series) = cache.series.get(&key) {
                    series.record(seen);
                    return;
                }
            }
            admit
        };
        // A first: admit the tenant, register the series (a write lock, once per series).
        let Ok(mut cache) = self.cache.write() else {
            return;
        };
        let mut tenant = self.tenant_label(&cache, seen).0;
        if admit
            && let Some(name) = seen.tenant
            && cache.admitted.len() < self.tenant_cap
        {
            cache.admitted.insert(name.into());
            tenant = name;
        }
        let key = SeriesRef {
            tenant,
            route,
            method,
            status,
        };
        let series = cache
            .series
            .entry_ref(&key)
            .or_insert_with(|| Series::register(&key));
        series.record(seen);
    }

    /// The tenant label of a request, and whether its tenant should be admitted now.
    fn tenant_label<'a>(&self, cache: &Cache, seen: &Observation<'a>) -> (&'a str, bool) {
        match seen.tenant {
            None => ("", false),
            Some(name) if cache.admitted.contains(name) => (name, false),
            Some(name) if seen.authenticated && cache.admitted.len() < self.tenant_cap => {
                (name, true)
            }
            Some(_) => (OTHER_TENANTS, false),
        }
    }

    fn count_totals(&self, status: StatusCode) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if status == StatusCode::UNAUTHORIZED {
            self.unauthenticated.fetch_add(1, Ordering::Relaxed);
        }
        if status.is_client_error() {
            self.client_errors.fetch_add(1, Ordering::Relaxed);
        } else if status.is_server_error() {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen<'a>(tenant: &'a str, authenticated: bool, status: u16) -> Observation<'a> {
        Observation {
            tenant: Some(tenant),
            authenticated,
            route: Some("/scim/v2/{tenant}/Users"),
            method: &Method::GET,
            status: StatusCode::from_u16(status).unwrap(),
            elapsed: Duration::from_millis(1),
            rate_limited: None,
        }
    }

    fn labels(metrics: &RequestMetrics) -> Vec<String> {
        let cache = metrics.cache.read().unwrap();
        let mut all: Vec<String> = cache
            .series
            .keys()
            .map(|k| format!("{} {} {} {}", k.tenant, k.route, k.method, k.status))
            .collect();
        all.sort();
        all
    }

    #[test]
    fn tenants_beyond_the_cap_are_labelled_other() {
        let metrics = RequestMetrics::new(2);
        for name in ["a", "b", "c", "a"] {
            metrics.record(&seen(name, true, 200));
        }
        assert_eq!(metrics.admitted_tenants(), 2);
        assert_eq!(
            labels(&metrics),
            [
                "a /scim/v2/{tenant}/Users GET 200",
                "b /scim/v2/{tenant}/Users GET 200",
                "other /scim/v2/{tenant}/Users GET 200",
            ]
        );
        assert_eq!(metrics.totals().requests, 4);
    }

    #[test]
    fn names_that_never_authenticated_take_no_label_of_their_own() {
        let metrics = RequestMetrics::new(10);
        metrics.record(&seen("made-up", false, 401));
        metrics.record(&seen("real", true, 200));
        // Once admitted, a tenant keeps its label for its refused requests too.
        metrics.record(&seen("real", false, 401));
        assert_eq!(
            labels(&metrics),
            [
                "other /scim/v2/{tenant}/Users GET 401",
                "real /scim/v2/{tenant}/Users GET 200",
                "real /scim/v2/{tenant}/Users GET 401",
            ]
        );
        let totals = metrics.totals();
        assert_eq!(totals.unauthenticated, 2);
        assert_eq!(totals.client_errors, 2);
    }

    #[test]
    fn unmatched_routes_and_unknown_methods_have_fixed_labels() {
        let metrics = RequestMetrics::new(1);
        let odd = Method::from_bytes(b"BREW").unwrap();
        metrics.record(&Observation {
            tenant: None,
            authenticated: false,
            route: None,
            method: &odd,
            status: StatusCode::NOT_FOUND,
            elapsed: Duration::ZERO,
            rate_limited: None,
        });
        assert_eq!(labels(&metrics), [" unmatched other 404"]);
    }
}
