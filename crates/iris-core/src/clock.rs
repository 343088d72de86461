//! Timestamps in the one format Iris stores and returns: RFC 3339, UTC, millisecond precision,
//! always the same width, so that comparing the strings compares the instants on both backends.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats an instant as `2026-11-26T10:15:30.123Z`.
pub fn format(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let truncated = at
        .replace_nanosecond(at.millisecond() as u32 * 1_000_000)
        .unwrap_or(at);
    let mut s = truncated.format(&Rfc3339).unwrap_or_default();
    // time's RFC 3339 output drops a zero fraction; pad to a fixed width.
    if !s.contains('.') {
        s.insert_str(s.len() - 1, ".000");
    } else if let Some(dot) = s.find('.') {
        let digits = s.len() - 1 - (dot + 1);
        for _ in digits..3 {
            s.insert(s.len() - 1, '0');
        }
    }
    s
}

/// The current instant in the stored format.
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

/// Normalises any RFC 3339 string into the stored format, for comparisons.
pub fn normalize(s: &str) -> Option<String> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(format)
}

/// An RFC 3339 literal rounded up to the stored millisecond format, and whether it was already
/// exactly a millisecond (no finer fraction).
pub fn ceil_to_millis(s: &str) -> Option<(String, bool)> {
    let at = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    let sub_ms = at.nanosecond() % 1_000_000;
    if sub_ms == 0 {
        return Some((format(at), true));
    }
    let up = at + time::Duration::nanoseconds(i64::from(1_000_000 - sub_ms));
    Some((format(up), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_a_fixed_width() {
        assert_eq!(
            normalize("2026-01-02T03:04:05Z").unwrap(),
            "2026-01-02T03:04:05.000Z"
        );
        assert_eq!(
            normalize("2026-01-02T03:04:05.5+01:00").unwrap(),
            "2026-01-02T02:04:05.500Z"
        );
        assert_eq!(
            normalize("2026-01-02T03:04:05.123456Z").unwrap(),
            "2026-01-02T03:04:05.123Z"
        );
        assert_eq!(now().len(), "2026-01-02T03:04:05.123Z".len());
    }

    #[test]
    fn finer_literals_round_up_to_the_next_millisecond() {
        assert_eq!(
            ceil_to_millis("2026-01-02T03:04:05.123Z").unwrap(),
            ("2026-01-02T03:04:05.123Z".into(), true)
        );
        assert_eq!(
            ceil_to_millis("2026-01-02T03:04:05.123001Z").unwrap(),
            ("2026-01-02T03:04:05.124Z".into(), false)
        );
        assert_eq!(
            ceil_to_millis("2026-01-02T03:04:05.999999Z").unwrap(),
            ("2026-01-02T03:04:06.000Z".into(), false)
        );
    }
}
