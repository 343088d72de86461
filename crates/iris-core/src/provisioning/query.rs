//! Which events to read: the filters of `iris log`, the admin API and the console.

use time::OffsetDateTime;

use super::events::Operation;

/// Which answers to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// 2xx and 3xx.
    Success,
    /// 4xx and 5xx.
    Failure,
    /// Exactly this status.
    Code(u16),
}

impl StatusFilter {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "success" | "ok" => Some(Self::Success),
            "failure" | "failed" | "error" => Some(Self::Failure),
            code => code
                .parse()
                .ok()
                .filter(|c| (100..600).contains(c))
                .map(Self::Code),
        }
    }

    /// The inclusive range of statuses kept.
    pub fn range(self) -> (u16, u16) {
        match self {
            Self::Success => (100, 399),
            Self::Failure => (400, 599),
            Self::Code(c) => (c, c),
        }
    }
}

/// A page of the provisioning log of one tenant.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events strictly after this id (a cursor, or a time bound from [`id_bound`]).
    pub after_id: Option<String>,
    /// Only events strictly before this id.
    pub before_id: Option<String>,
    /// The history of one resource: its id, or its `userName`/`displayName` (any case) as the
    /// events recorded it.
    pub resource: Option<String>,
    /// Only these operations (all when empty).
    pub operations: Vec<Operation>,
    pub status: Option<StatusFilter>,
    pub newest_first: bool,
    pub limit: u32,
}

/// The smallest event id of time `at` and later: event ids are UUIDv7, whose text begins with
/// the millisecond timestamp in hex, so time bounds are id bounds and need no index of their own.
pub fn id_bound(at: OffsetDateTime) -> String {
    let millis = (at.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
    format!(
        "{:08x}-{:04x}-0000-0000-000000000000",
        (millis >> 16) & 0xffff_ffff,
        millis & 0xffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_order_like_the_ids_of_their_time() {
        let now = OffsetDateTime::now_utc();
        let id = uuid::Uuid::now_v7().to_string();
        let earlier = id_bound(now - time::Duration::seconds(1));
        let later = id_bound(now + time::Duration::seconds(1));
        assert!(earlier < id && id < later, "{earlier} < {id} < {later}");
    }

    #[test]
    fn statuses_parse_by_class_or_code() {
        assert_eq!(StatusFilter::parse("failure"), Some(StatusFilter::Failure));
        assert_eq!(StatusFilter::parse("409"), Some(StatusFilter::Code(409)));
        assert_eq!(StatusFilter::parse("9000"), None);
        assert_eq!(StatusFilter::Success.range(), (100, 399));
    }
}
