//! Cursors for RFC 9865 cursor paging. A cursor is a keyset position — the sort key and id of the
//! row a page ended (or started) at — plus a fingerprint of the query it belongs to, so pages stay
//! stable while other writes happen (no row is skipped or repeated because rows were inserted or
//! deleted before it). Cursors are opaque to clients: base64url of a small JSON object, which uses
//! only URI-unreserved characters as RFC 9865 requires.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use iris_scim::{ScimError, ScimType};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which way a cursor pages from its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Rows after the position (the `nextCursor`).
    #[serde(rename = "n")]
    After,
    /// Rows before the position (the `previousCursor`).
    #[serde(rename = "p")]
    Before,
}

/// A position in a sorted result: the row's sort value (as text; `None` when the row has no
/// value for the sort attribute) and its id, which breaks ties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(rename = "i")]
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "d")]
    pub direction: Direction,
    #[serde(rename = "k")]
    pub key: SortKey,
    /// Fingerprint of the query (filter, sortBy, sortOrder) the cursor was issued for.
    #[serde(rename = "q")]
    pub query: String,
}

/// The fingerprint of a query's defining parameters.
pub fn query_fingerprint(filter: Option<&str>, sort_by: Option<&str>, sort_order: Option<&str>) -> String {
    let mut h = Sha256::new();
    for part in [filter, sort_by, sort_order] {
        let part = part.map(str::trim).unwrap_or_default();
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(&h.finalize()[..9])
}

fn invalid_cursor(detail: impl Into<String>) -> ScimError {
    ScimError::new(400, Some(ScimType::InvalidCursor), detail)
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a cursor and checks that it belongs to the query `fingerprint`.
    pub fn decode(raw: &str, fingerprint: &str) -> Result<Self, ScimError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(raw.trim())
            .map_err(|_| invalid_cursor("the cursor is not one Iris issued"))?;
        let cursor: Cursor = serde_json::from_slice(&bytes)
            .map_err(|_| invalid_cursor("the cursor is not one Iris issued"))?;
        if cursor.query != fingerprint {
            return Err(invalid_cursor(
                "the cursor belongs to a different query: keep filter, sortBy and sortOrder unchanged between pages",
            ));
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Cursor {
        Cursor {
            direction: Direction::After,
            key: SortKey { value: Some("émile@example.com".into()), id: "01a2".into() },
            query: query_fingerprint(Some("userName sw \"e\""), Some("userName"), None),
        }
    }

    #[test]
    fn cursors_round_trip_and_use_only_unreserved_characters() {
        let c = sample();
        let raw = c.encode();
        assert!(raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{raw}");
        assert_eq!(Cursor::decode(&raw, &c.query).unwrap(), c);
    }

    #[test]
    fn a_cursor_of_another_query_or_garbage_is_invalid_cursor() {
        let c = sample();
        let other = query_fingerprint(Some("userName sw \"f\""), Some("userName"), None);
        for (raw, fp) in [(c.encode(), other.as_str()), ("%%%".to_owned(), c.query.as_str()), ("e30".to_owned(), c.query.as_str())] {
            let err = Cursor::decode(&raw, fp).unwrap_err();
            assert_eq!(err.scim_type, Some(ScimType::InvalidCursor));
            assert_eq!(err.status, 400);
        }
    }

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_ne!(query_fingerprint(Some("ab"), Some("c"), None), query_fingerprint(Some("a"), Some("bc"), None));
        assert_eq!(query_fingerprint(Some(" a "), None, None), query_fingerprint(Some("a"), Some(""), None));
    }
}
