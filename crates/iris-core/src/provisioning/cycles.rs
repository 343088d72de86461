//! Entra's provisioning cycles, recognised from the requests of a tenant: the Test Connection
//! probe (a filter on a random GUID, nothing else), the initial cycle (every user in scope is
//! looked up), incremental cycles (about every 40 minutes, only what changed), and on-demand
//! provisioning (one object, off the schedule). A cycle is a burst of requests; it ends when the
//! tenant has been quiet for [`CycleSettings::idle_gap`].
//!
//! The classification is a heuristic, since nothing on the wire names a cycle:
//! - **test-connection**: at most [`PROBE_REQUESTS`] requests, every one a probe (an `eq` filter
//!   on a GUID that matched nothing);
//! - **initial**: the tenant's first cycle that is not a probe, or a cycle that looks up at least
//!   90 % of the users the tenant had when it began (Entra re-reads everything after a restart);
//! - **on-demand**: at most [`ON_DEMAND_REQUESTS`] requests that did not start with a probe
//!   (Entra begins every scheduled cycle with one);
//! - **incremental**: everything else.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A cycle of at most this many requests, all of them probes, is a Test Connection.
pub const PROBE_REQUESTS: u64 = 4;
/// A cycle of at most this many requests that did not begin with a probe is on-demand.
pub const ON_DEMAND_REQUESTS: u64 = 10;
/// The failure rate (failed requests of the last cycle) at and above which a tenant is failing:
/// below the 40 % at which Entra quarantines a job, so the operator hears first.
pub const FAILING_RATE: f64 = 0.2;

/// How cycles are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleSettings {
    /// Quiet time that ends a cycle.
    pub idle_gap: Duration,
    /// The identity provider's schedule (Entra: about 40 minutes); a tenant is silent after two.
    pub interval: Duration,
}

impl Default for CycleSettings {
    fn default() -> Self {
        Self {
            idle_gap: Duration::from_secs(5 * 60),
            interval: Duration::from_secs(40 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CycleKind {
    TestConnection,
    Initial,
    Incremental,
    OnDemand,
}

impl CycleKind {
    pub const ALL: [Self; 4] = [
        Self::TestConnection,
        Self::Initial,
        Self::Incremental,
        Self::OnDemand,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TestConnection => "test-connection",
            Self::Initial => "initial",
            Self::Incremental => "incremental",
            Self::OnDemand => "on-demand",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// What a request was, for the cycle's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A lookup on a random GUID that matched nothing: how Entra tests a connection.
    Probe,
    Query,
    Write,
    /// A request refused before its tenant was known (a bad or missing token).
    Unauthorized,
}

/// The counts of one cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleCounts {
    pub requests: u64,
    pub probes: u64,
    pub queries: u64,
    pub failures: u64,
    pub unauthorized: u64,
    pub creates: u64,
    pub updates: u64,
    pub disables: u64,
    pub enables: u64,
    pub deletes: u64,
}

impl CycleCounts {
    /// Failed requests ÷ requests (0 for none).
    pub fn failure_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }
}

/// One provisioning cycle as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cycle {
    pub id: String,
    pub kind: CycleKind,
    pub started: String,
    pub ended: String,
    #[serde(flatten)]
    pub counts: CycleCounts,
    /// Whether the first request was a probe.
    pub opened_with_probe: bool,
    /// The tenant's users when the cycle began.
    pub users_at_start: u64,
}

/// What a cycle is, from its counts and whether an earlier non-probe cycle exists.
pub fn classify(cycle: &Cycle, earlier_non_probe: bool) -> CycleKind {
    let c = &cycle.counts;
    let changes = c.creates + c.updates + c.disables + c.enables + c.deletes;
    if c.requests <= PROBE_REQUESTS && c.probes == c.requests && changes == 0 {
        return CycleKind::TestConnection;
    }
    let rescan = c.queries >= 20 && c.queries as f64 >= 0.9 * cycle.users_at_start as f64;
    if !earlier_non_probe || (cycle.users_at_start > 0 && rescan) {
        return CycleKind::Initial;
    }
    if c.requests <= ON_DEMAND_REQUESTS && !cycle.opened_with_probe {
        return CycleKind::OnDemand;
    }
    CycleKind::Incremental
}

/// How a tenant's provisioning is going, at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    Healthy,
    /// The last cycle had failures: some objects are not provisioned.
    Degraded,
    /// The last cycle failed at [`FAILING_RATE`] or more, or only with refused credentials:
    /// Entra is on its way to quarantining the job.
    Failing,
    /// No request for more than two intervals (or none ever).
    Silent,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Failing => "failing",
            Self::Silent => "silent",
        }
    }
}

/// The verdict for a tenant whose newest cycle (probes included) is `last`, and whose newest
/// cycle that provisioned anything is `last_real`, at `now`; with the reason, for a person.
pub fn health(
    last: Option<&Cycle>,
    last_real: Option<&Cycle>,
    now: OffsetDateTime,
    settings: &CycleSettings,
) -> (Health, String) {
    let Some(last) = last else {
        return (Health::Silent, "no request yet".to_owned());
    };
    let quiet = OffsetDateTime::parse(&last.ended, &Rfc3339)
        .map(|ended| now - ended)
        .unwrap_or(time::Duration::ZERO);
    let limit = time::Duration::try_from(settings.interval * 2).unwrap_or(time::Duration::MAX);
    if quiet > limit {
        return (
            Health::Silent,
            format!(
                "no request for {} (more than twice the {}-minute interval)",
                human(quiet),
                settings.interval.as_secs() / 60
            ),
        );
    }
    let judged = last_real.unwrap_or(last);
    let c = &judged.counts;
    if c.unauthorized > 0 && c.requests == 0 {
        return (
            Health::Failing,
            format!(
                "{} requests refused for their token: Entra quarantines a job whose credentials fail",
                c.unauthorized
            ),
        );
    }
    let rate = c.failure_rate();
    if rate >= FAILING_RATE {
        return (
            Health::Failing,
            format!(
                "{:.0} % of the last cycle's requests failed ({} of {}); Entra quarantines above 40 %",
                rate * 100.0,
                c.failures,
                c.requests
            ),
        );
    }
    if c.failures > 0 || c.unauthorized > 0 {
        return (
            Health::Degraded,
            format!(
                "{} of the last cycle's {} requests failed{}",
                c.failures,
                c.requests,
                if c.unauthorized > 0 {
                    format!(", {} refused for their token", c.unauthorized)
                } else {
                    String::new()
                }
            ),
        );
    }
    (Health::Healthy, "the last cycle had no failures".to_owned())
}

/// `3 h 12 min`, `5 min`, `40 s`.
pub fn human(d: time::Duration) -> String {
    let secs = d.whole_seconds().max(0);
    match secs {
        s if s >= 3600 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(counts: CycleCounts, opened_with_probe: bool, users_at_start: u64) -> Cycle {
        Cycle {
            id: "c".into(),
            kind: CycleKind::Incremental,
            started: "2026-12-01T00:00:00Z".into(),
            ended: "2026-12-01T00:01:00Z".into(),
            counts,
            opened_with_probe,
            users_at_start,
        }
    }

    #[test]
    fn cycles_are_told_apart_by_their_requests() {
        let probe = CycleCounts {
            requests: 2,
            probes: 2,
            ..Default::default()
        };
        assert_eq!(
            classify(&cycle(probe, true, 0), false),
            CycleKind::TestConnection
        );
        let first = CycleCounts {
            requests: 300,
            probes: 1,
            queries: 100,
            creates: 100,
            ..Default::default()
        };
        assert_eq!(classify(&cycle(first, true, 0), false), CycleKind::Initial);
        let small = CycleCounts {
            requests: 3,
            probes: 1,
            queries: 1,
            updates: 1,
            ..Default::default()
        };
        assert_eq!(
            classify(&cycle(small, true, 100), true),
            CycleKind::Incremental
        );
        assert_eq!(
            classify(&cycle(small, false, 100), true),
            CycleKind::OnDemand
        );
        let rescan = CycleCounts {
            requests: 200,
            probes: 1,
            queries: 95,
            ..Default::default()
        };
        assert_eq!(
            classify(&cycle(rescan, true, 100), true),
            CycleKind::Initial
        );
    }

    #[test]
    fn health_warns_before_quarantine_and_notices_silence() {
        let settings = CycleSettings::default();
        let now = OffsetDateTime::parse("2026-12-01T00:10:00Z", &Rfc3339).unwrap();
        let ok = cycle(
            CycleCounts {
                requests: 100,
                ..Default::default()
            },
            true,
            0,
        );
        assert_eq!(
            health(Some(&ok), Some(&ok), now, &settings).0,
            Health::Healthy
        );
        let some = cycle(
            CycleCounts {
                requests: 100,
                failures: 3,
                ..Default::default()
            },
            true,
            0,
        );
        assert_eq!(
            health(Some(&some), Some(&some), now, &settings).0,
            Health::Degraded
        );
        let many = cycle(
            CycleCounts {
                requests: 100,
                failures: 25,
                ..Default::default()
            },
            true,
            0,
        );
        let (verdict, why) = health(Some(&many), Some(&many), now, &settings);
        assert_eq!(verdict, Health::Failing);
        assert!(why.contains("25 %"), "{why}");
        let tokens = cycle(
            CycleCounts {
                unauthorized: 7,
                ..Default::default()
            },
            false,
            0,
        );
        assert_eq!(
            health(Some(&tokens), Some(&tokens), now, &settings).0,
            Health::Failing
        );
        let later = now + time::Duration::minutes(81);
        assert_eq!(
            health(Some(&ok), Some(&ok), later, &settings).0,
            Health::Silent
        );
        assert_eq!(health(None, None, now, &settings).0, Health::Silent);
    }
}

/// Whether a list request was a probe: one `eq` comparison on a GUID (Entra's Test Connection
/// asks for a random one, on whatever the matching attribute is) that matched nothing.
pub fn is_probe(filter: Option<&str>, total: u64) -> bool {
    use iris_scim::filter::{CompValue, CompareOp, Filter, FilterLimits, parse_filter};
    if total != 0 {
        return false;
    }
    let Some(Ok(Filter::Compare(_, CompareOp::Eq, CompValue::Str(value)))) =
        filter.map(|f| parse_filter(f, &FilterLimits::default()))
    else {
        return false;
    };
    uuid::Uuid::try_parse(value.trim()).is_ok()
}

#[cfg(test)]
mod probe_tests {
    use super::is_probe;

    #[test]
    fn a_probe_is_a_guid_lookup_that_finds_nothing() {
        let guid = r#"userName eq "cf4d78e8-cc4f-4d5d-b8b9-183561c0104a""#;
        assert!(is_probe(Some(guid), 0));
        assert!(is_probe(
            Some(r#"displayName eq "87c2b0a5-3f1e-4f7e-9d0b-1b2c3d4e5f60""#),
            0
        ));
        assert!(!is_probe(Some(guid), 1), "it found someone");
        assert!(!is_probe(Some(r#"userName eq "ann@example.com""#), 0));
        assert!(!is_probe(None, 0));
        assert!(!is_probe(Some("garbage ("), 0));
    }
}
