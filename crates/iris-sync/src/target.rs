//! The SCIM client the engine and the simulator drive a target with: bearer token, a request id
//! (`X-Request-Id`) generated per request, bounded concurrency, an optional rate limit, and
//! retries with exponential backoff on 429, 5xx and connection failures, honouring
//! `Retry-After` (seconds or an HTTP date).
//!
//! Plain HTTP only: Iris's workspace carries no TLS stack yet, and the target is normally a local
//! or TLS-terminating-proxy address. See docs/sync.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value as Json;
use tokio::sync::{Mutex, Semaphore};

/// How hard to push and how long to insist.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TargetLimits {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests per second at most (0: unlimited).
    pub rate_limit: f64,
    /// Retries of one request after a 429, 5xx or connection failure.
    pub max_retries: u32,
    /// The first backoff; it doubles per retry.
    pub backoff_ms: u64,
    /// The longest single wait, whatever `Retry-After` says.
    pub max_backoff_ms: u64,
    /// Per-request timeout (Entra gives up after 60 s).
    pub timeout_ms: u64,
}

impl Default for TargetLimits {
    fn default() -> Self {
        Self {
            concurrency: 16,
            rate_limit: 0.0,
            max_retries: 4,
            backoff_ms: 250,
            max_backoff_ms: 30_000,
            timeout_ms: 60_000,
        }
    }
}

/// An answer of the target.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Option<Json>,
    pub content_type: String,
    /// The id of the last attempt.
    pub request_id: String,
    pub attempts: u32,
    pub duration: Duration,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The SCIM error's `detail` (or the start of the body) for logs.
    pub fn detail(&self) -> String {
        match &self.body {
            Some(b) => b
                .get("detail")
                .and_then(Json::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| truncate(&b.to_string(), 300)),
            None => String::new(),
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_owned();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A request that got no HTTP answer at all (after its retries).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail} (request {request_id}, {attempts} attempts)")]
pub struct TransportError {
    pub detail: String,
    pub request_id: String,
    pub attempts: u32,
}

/// The result of one request.
pub type Outcome = Result<Reply, TransportError>;

struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

#[derive(Clone)]
pub struct Target {
    http: reqwest::Client,
    base: String,
    token: String,
    limits: TargetLimits,
    permits: Arc<Semaphore>,
    limiter: Option<Arc<RateLimiter>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Target").field("base", &self.base).finish()
    }
}

/// The Tenant URL without its query string (flags such as `?aadOptscim062020`) or trailing
/// slashes: Entra appends `/Users` to the path.
pub fn base_url(tenant_url: &str) -> String {
    let no_query = tenant_url.split(['?', '#']).next().unwrap_or_default();
    no_query.trim_end_matches('/').to_owned()
}

impl Target {
    pub fn new(tenant_url: &str, token: &str, limits: TargetLimits) -> Result<Self, String> {
        let base = base_url(tenant_url);
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(format!("{tenant_url}: not an http:// URL"));
        }
        if base.starts_with("https://") {
            return Err(format!(
                "{tenant_url}: https is not supported by this build (plain http only); put the \
                 target behind a local TLS-terminating proxy or use its http address"
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(limits.timeout_ms.max(1)))
            .pool_max_idle_per_host(limits.concurrency.max(1))
            .build()
            .map_err(|e| e.to_string())?;
        let limiter = (limits.rate_limit > 0.0).then(|| {
            Arc::new(RateLimiter {
                interval: Duration::from_secs_f64(1.0 / limits.rate_limit),
                next: Mutex::new(Instant::now()),
            })
        });
        Ok(Self {
            http,
            base,
            token: token.to_owned(),
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            limits,
            limiter,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn limits(&self) -> &TargetLimits {
        &self.limits
    }

    /// `GET {base}{path}` with query parameters.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Outcome {
        self.send(Method::GET, path, query, None).await
    }

    pub async fn post(&self, path: &str, body: &Json) -> Outcome {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Json) -> Outcome {
        self.send(Method::PATCH, path, &[], Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Outcome {
        self.send(Method::DELETE, path, &[], None).await
    }

    /// One request, retried on 429, 5xx and connection failures.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Json>,
    ) -> Outcome {
        let started = Instant::now();
        let url = format!("{}{path}", self.base);
        let body_text = body.map(Json::to_string);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request_id = uuid::Uuid::new_v4().to_string();
            let result = {
                let _permit = self.permits.acquire().await;
                if let Some(l) = &self.limiter {
                    l.wait().await;
                }
                let mut req = self
                    .http
                    .request(method.clone(), &url)
                    .bearer_auth(&self.token)
                    .header("x-request-id", &request_id)
                    .header("accept", "application/scim+json");
                if !query.is_empty() {
                    req = req.query(query);
                }
                if let Some(b) = &body_text {
                    req = req
                        .header("content-type", "application/scim+json")
                        .body(b.clone());
                }
                match req.send().await {
                    Ok(r) => {
                        let status = r.status();
                        let retry_after = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(parse_retry_after);
                        let content_type = r
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let bytes = r.bytes().await.unwrap_or_default();
                        let body = serde_json::from_slice(&bytes).ok();
                        Ok((status, body, content_type, retry_after))
                    }
                    Err(e) => Err(describe(&e)),
                }
            };
            let retryable_wait = match &result {
                Ok((status, _, _, retry_after))
                    if *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() =>
                {
                    Some(*retry_after)
                }
                Ok(_) => None,
                Err(_) => Some(None),
            };
            match retryable_wait {
                Some(retry_after) if attempt <= self.limits.max_retries => {
                    let backoff = self
                        .limits
                        .backoff_ms
                        .saturating_mul(1 << (attempt - 1).min(16));
                    let wait = retry_after
                        .map(|d| d.as_millis() as u64)
                        .unwrap_or(backoff)
                        .min(self.limits.max_backoff_ms);
                    tracing::debug!(%method, %url, attempt, wait_ms = wait, "retrying");
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                _ => {
                    return match result {
                        Ok((status, body, content_type, _)) => Ok(Reply {
                            status,
                            body,
                            content_type,
                            request_id,
                            attempts: attempt,
                            duration: started.elapsed(),
                        }),
                        Err(detail) => Err(TransportError {
                            detail,
                            request_id,
                            attempts: attempt,
                        }),
                    };
                }
            }
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let date = time::PrimitiveDateTime::parse(v, &format)
        .ok()?
        .assume_utc();
    let delta = date - time::OffsetDateTime::now_utc();
    Some(Duration::from_secs(delta.whole_seconds().max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_urls_lose_their_flags_and_trailing_slashes() {
        assert_eq!(
            base_url("http://h/scim/v2/acme/?aadOptscim062020"),
            "http://h/scim/v2/acme"
        );
        assert_eq!(base_url("http://h/scim//"), "http://h/scim");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[tokio::test]
    async fn the_rate_limiter_spaces_requests() {
        let limiter = RateLimiter {
            interval: Duration::from_millis(20),
            next: Mutex::new(Instant::now()),
        };
        let started = Instant::now();
        for _ in 0..11 {
            limiter.wait().await;
        }
        // Eleven slots 20 ms apart: the last one is 200 ms after the first.
        assert!(started.elapsed() >= Duration::from_millis(195));
    }

    #[test]
    fn https_is_refused_with_a_reason() {
        let err = Target::new("https://x/scim", "t", TargetLimits::default()).unwrap_err();
        assert!(err.contains("plain http only"), "{err}");
    }
}
