//! Rate limits per tenant and per token (issue 13), so one client that floods Iris spends its own
//! budget and nobody else's. Each is a GCRA limiter (`governor`) keyed by the tenant or token a
//! request authenticated as: a steady rate with a burst on top, checked after authentication and
//! before any database work. A refused request is answered `429` with `Retry-After` (the seconds
//! until the limiter admits the next request, rounded up) and a SCIM error naming the limit.
//!
//! Memory stays bounded: keys are only tenants and tokens that proved themselves (a made-up name
//! or token never gets a key), and keys whose state has returned to "full burst available" are
//! swept once a minute (`retain_recent`), so a tenant that stopped calling costs nothing.
//!
//! A flood must not grow the provisioning log either: [`RateLimiters::may_log`] lets at most one
//! refusal per tenant per second be recorded; the metrics count every one.
//!
//! Nor may a flood cost the database a token lookup per request. When a limit refuses a proven
//! token, the token (by the SHA-256 of the whole bearer value, never the value itself) is
//! remembered with its tenant until the moment the limiter will admit its next request; until
//! then [`RateLimiters::refusing`] answers the same `429` before authentication. Nothing is
//! admitted on that memory: past the moment, or for any other bearer value or tenant URL, the
//! request is authenticated against the database as usual, so a revoked token is refused with
//! `401` from its first request after the window (at most the limiter's own wait, 1 / rate).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, NotUntil, Quota, RateLimiter};
use iris_core::Tenant;
use iris_core::store::TenantId;
use iris_core::tokens::hash_secret;
use iris_scim::ScimError;

use crate::error::ApiError;

/// How often idle keys are swept out of the limiters.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Provisioning-log records of rate-limited requests allowed per tenant and second.
const LOGGED_PER_SECOND: NonZeroU32 = NonZeroU32::MIN;

/// A steady rate and the burst allowed on top of it. A rate of 0 turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl RateLimit {
    pub const OFF: Self = Self {
        per_second: 0,
        burst: 0,
    };

    /// The limiter's quota; `None` when the limit is off. A burst below the rate is raised to it
    /// (a second's worth of requests may always come at once).
    pub(crate) fn quota(self) -> Option<Quota> {
        let rate = NonZeroU32::new(self.per_second)?;
        let burst = NonZeroU32::new(self.burst.max(self.per_second)).unwrap_or(rate);
        Some(Quota::per_second(rate).allow_burst(burst))
    }
}

/// Which limit refused a request: the label of `iris_requests_rate_limited_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Tenant,
    Token,
}

impl Limit {
    pub const ALL: [Self; 2] = [Self::Tenant, Self::Token];

    pub fn label(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Token => "token",
        }
    }
}

/// Rides on a refused request's response, for the metrics and the provisioning log.
#[derive(Debug, Clone, Copy)]
pub struct RateLimited {
    pub limit: Limit,
    /// Refused from memory of an earlier refusal, before the token was looked up.
    pub before_token_lookup: bool,
}

/// The rate limits of one server.
pub struct RateLimiters {
    tenant: Option<(RateLimit, DefaultKeyedRateLimiter<TenantId>)>,
    token: Option<(RateLimit, DefaultKeyedRateLimiter<String>)>,
    logged: DefaultKeyedRateLimiter<TenantId>,
    /// Proven tokens that a limit refuses, by the hash of their bearer value, until the limiter
    /// admits their next request.
    refusing: RwLock<HashMap<String, Refusing>>,
    clock: DefaultClock,
    started: Instant,
    /// Milliseconds after `started` of the last sweep.
    swept_at: AtomicU64,
}

/// A refused token's tenant and limit, until the limiter admits the token's next request.
#[derive(Debug)]
struct Refusing {
    tenant: Tenant,
    limit: Limit,
    setting: RateLimit,
    until: Instant,
}

/// A refusal: the limit that was reached and when to retry.
#[derive(Debug)]
pub struct Refusal {
    limit: Limit,
    setting: RateLimit,
    retry_after: Duration,
    before_token_lookup: bool,
}

impl RateLimiters {
    pub fn new(tenant: RateLimit, token: RateLimit) -> Self {
        Self {
            tenant: tenant.quota().map(|q| (tenant, RateLimiter::dashmap(q))),
            token: token.quota().map(|q| (token, RateLimiter::dashmap(q))),
            logged: RateLimiter::dashmap(Quota::per_second(LOGGED_PER_SECOND)),
            refusing: RwLock::default(),
            clock: DefaultClock::default(),
            started: Instant::now(),
            swept_at: AtomicU64::new(0),
        }
    }

    /// Admits a request of `tenant` with the token `token_id`, presented as `bearer`, or says
    /// which limit it reached (and remembers the refusal for [`Self::refusing`]). The token's
    /// limit is asked first, so a token over its own limit does not spend its tenant's budget.
    pub fn check(&self, tenant: &Tenant, token_id: &str, bearer: &str) -> Result<(), Refusal> {
        self.sweep_when_due();
        self.admit(tenant, token_id)
            .inspect_err(|refusal| self.remember(bearer, tenant, refusal))
    }

    fn admit(&self, tenant: &Tenant, token_id: &str) -> Result<(), Refusal> {
        if let Some((setting, limiter)) = &self.token {
            // `check_key` takes the key by reference and clones it only when it is new.
            let key = token_id.to_owned();
            limiter
                .check_key(&key)
                .map_err(|at| self.refusal(Limit::Token, *setting, &at))?;
        }
        if let Some((setting, limiter)) = &self.tenant {
            limiter
                .check_key(tenant.id())
                .map_err(|at| self.refusal(Limit::Tenant, *setting, &at))?;
        }
        Ok(())
    }

    /// The refusal of a request to `tenant_name`'s URL with `bearer`, if that token was refused
    /// by a limit of that tenant and the limiter would still refuse it: the same answer the
    /// limiter would give after authentication, without the token lookup. `None` sends the
    /// request through authentication.
    pub fn refusing(&self, tenant_name: &str, bearer: &str) -> Option<(Tenant, Refusal)> {
        let refusing = self.refusing.read().unwrap_or_else(|e| e.into_inner());
        if refusing.is_empty() {
            return None;
        }
        let entry = refusing.get(&hash_secret(bearer))?;
        let retry_after = entry.until.checked_duration_since(Instant::now())?;
        if retry_after.is_zero() || entry.tenant.name() != tenant_name {
            return None;
        }
        let refusal = Refusal {
            limit: entry.limit,
            setting: entry.setting,
            retry_after,
            before_token_lookup: true,
        };
        Some((entry.tenant.clone(), refusal))
    }

    fn remember(&self, bearer: &str, tenant: &Tenant, refusal: &Refusal) {
        let entry = Refusing {
            tenant: tenant.clone(),
            limit: refusal.limit,
            setting: refusal.setting,
            until: Instant::now() + refusal.retry_after,
        };
        self.refusing
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash_secret(bearer), entry);
    }

    /// Whether a rate-limited request of `tenant` may be recorded in the provisioning log now.
    pub fn may_log(&self, tenant: &Tenant) -> bool {
        self.logged.check_key(tenant.id()).is_ok()
    }

    fn refusal(
        &self,
        limit: Limit,
        setting: RateLimit,
        at: &NotUntil<<DefaultClock as Clock>::Instant>,
    ) -> Refusal {
        Refusal {
            limit,
            setting,
            retry_after: at.wait_time_from(self.clock.now()),
            before_token_lookup: false,
        }
    }

    /// Drops the keys whose limiter is back at a full burst, once a [`SWEEP_INTERVAL`]; the
    /// request that finds a sweep due does it (the others go on).
    fn sweep_when_due(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.swept_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < SWEEP_INTERVAL.as_millis() as u64
            || self
                .swept_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Some((_, limiter)) = &self.tenant {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some((_, limiter)) = &self.token {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        self.logged.retain_recent();
        self.logged.shrink_to_fit();
        let now = Instant::now();
        let mut refusing = self.refusing.write().unwrap_or_else(|e| e.into_inner());
        refusing.retain(|_, entry| entry.until > now);
        refusing.shrink_to_fit();
    }
}

impl Refusal {
    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// Whole seconds until the next request would be admitted: rounded up, at least 1.
    pub fn retry_after_seconds(&self) -> u64 {
        let d = self.retry_after;
        let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        whole.max(1)
    }

    /// `429` with `Retry-After` and a SCIM error naming the limit.
    pub fn into_response(self, tenant: &Tenant) -> Response {
        let retry = self.retry_after_seconds();
        let RateLimit { per_second, burst } = self.setting;
        let burst = burst.max(per_second);
        let whose = match self.limit {
            Limit::Tenant => format!("tenant '{}'", tenant.name()),
            Limit::Token => "this token".to_owned(),
        };
        let detail = format!(
            "too many requests: the rate limit of {whose} ({per_second} requests per second, \
             bursts of {burst}) was reached; retry after {retry} s"
        );
        let mut response = ApiError(ScimError::new(429, None, detail)).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry));
        response.extensions_mut().insert(RateLimited {
            limit: self.limit,
            before_token_lookup: self.before_token_lookup,
        });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        let refusal = |retry_after| Refusal {
            limit: Limit::Tenant,
            setting: RateLimit {
                per_second: 1,
                burst: 1,
            },
            retry_after,
            before_token_lookup: false,
        };
        assert_eq!(refusal(Duration::ZERO).retry_after_seconds(), 1);
        assert_eq!(refusal(Duration::from_millis(10)).retry_after_seconds(), 1);
        assert_eq!(refusal(Duration::from_secs(2)).retry_after_seconds(), 2);
        assert_eq!(
            refusal(Duration::from_millis(2001)).retry_after_seconds(),
            3
        );
    }

    #[test]
    fn a_rate_of_zero_is_off_and_a_burst_is_at_least_the_rate() {
        assert!(RateLimit::OFF.quota().is_none());
        let quota = RateLimit {
            per_second: 10,
            burst: 3,
        }
        .quota()
        .map(|q| q.burst_size().get());
        assert_eq!(quota, Some(10));
    }
}
