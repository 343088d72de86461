//! List queries (RFC 7644 §3.4.2): filter, sort and the two ways to page — by index
//! (`startIndex`/`count`) and by cursor (RFC 9865 `cursor`/`count`, answered with `nextCursor` and
//! `previousCursor`).
//!
//! Cursors are keyset positions, not server state: a cursor names the sort key of the row a page
//! ended (or began) at, so it never expires, costs nothing to keep, and stays exact while other
//! writes insert or delete rows around it. It is opaque to clients (base64url of a small JSON
//! document) and carries a fingerprint of the query it belongs to, so a cursor used with another
//! filter or sort order is refused instead of silently answering a different question.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use iris_scim::filter::{self, FilterLimits, Resolved, ResolvedAttr};
use iris_scim::schema::ResourceType;
use iris_scim::{ScimError, ScimResult, ScimType};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::CoreResult;
use crate::store::{ListPage, ListQuery, PageStart, SortKey, SortOrder, TenantScope};

/// Paging limits advertised in ServiceProviderConfig.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub default_count: u64,
    pub max_count: u64,
}

impl Default for PageLimits {
    fn default() -> Self {
        Self {
            default_count: 100,
            max_count: 1000,
        }
    }
}

/// The list parameters of RFC 7644 §3.4.2 and RFC 9865 as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    /// RFC 9865: present (even empty, for the first page) asks for cursor paging.
    pub cursor: Option<String>,
}

/// A list result with the paging figures to echo.
#[derive(Debug, Clone)]
pub struct ListResult {
    pub page: ListPage,
    /// Index paging: the `startIndex` to echo.
    pub start_index: u64,
    /// Cursor paging: the cursors of the neighbouring pages.
    pub cursors: Option<PageCursors>,
}

/// RFC 9865 `nextCursor` and `previousCursor`; each is absent when there is no such page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageCursors {
    pub next: Option<String>,
    pub previous: Option<String>,
}

/// How the requested page is found.
#[derive(Debug, Clone)]
enum Paging {
    Index(u64),
    /// `backward` pages end just before `key`; forward pages start just after it (or at the
    /// beginning without one).
    Cursor {
        key: Option<SortKey>,
        backward: bool,
        fingerprint: String,
    },
}

/// A list request checked against a resource type: what the store's list query needs.
pub(crate) struct PreparedList {
    filter: Option<Resolved>,
    sort_by: Option<ResolvedAttr>,
    sort_order: SortOrder,
    paging: Paging,
    count: u64,
}

impl PreparedList {
    /// Parses and resolves the list parameters for resources of type `rt`.
    pub(crate) fn new(
        tenant: &TenantScope,
        rt: &'static ResourceType,
        params: &ListParams,
        filter_limits: &FilterLimits,
        page_limits: PageLimits,
    ) -> CoreResult<Self> {
        let filter = match params.filter.as_deref().map(str::trim) {
            Some(f) if !f.is_empty() => {
                let parsed = filter::parse_filter(f, filter_limits).map_err(ScimError::from)?;
                Some(filter::resolve(&parsed, rt)?)
            }
            _ => None,
        };
        let sort_by = match params.sort_by.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Some(resolve_sort_attribute(rt, s)?),
            _ => None,
        };
        let sort_order = match params
            .sort_order
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("ascending") => SortOrder::Ascending,
            Some("descending") => SortOrder::Descending,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be 'ascending' or 'descending', not '{other}'"
                ))
                .into());
            }
        };
        let (paging, count) = match &params.cursor {
            None => {
                // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1; a negative count as 0.
                let start_index = params.start_index.map_or(1, |s| s.max(1)) as u64;
                let count = params
                    .count
                    .map_or(page_limits.default_count, |c| c.max(0) as u64)
                    .min(page_limits.max_count);
                (Paging::Index(start_index), count)
            }
            Some(cursor) => {
                if params.start_index.is_some() {
                    return Err(ScimError::invalid_value(
                        "startIndex and cursor cannot be combined: page by index or by cursor",
                    )
                    .into());
                }
                let count = cursor_count(params.count, page_limits)?;
                let fingerprint = fingerprint(tenant, rt, params, sort_by.as_ref(), sort_order);
                let (key, backward) = decode_cursor(cursor, &fingerprint)?;
                let paging = Paging::Cursor {
                    key,
                    backward,
                    fingerprint,
                };
                (paging, count)
            }
        };
        Ok(Self {
            filter,
            sort_by,
            sort_order,
            paging,
            count,
        })
    }

    pub(crate) fn query(&self) -> ListQuery<'_> {
        let start = match &self.paging {
            Paging::Index(start_index) => PageStart::Index(*start_index),
            Paging::Cursor {
                key: Some(key),
                backward: true,
                ..
            } => PageStart::Before(key),
            Paging::Cursor { key, .. } => PageStart::After(key.as_ref()),
        };
        ListQuery {
            filter: self.filter.as_ref(),
            start,
            count: self.count,
            sort_by: self.sort_by.as_ref(),
            sort_order: self.sort_order,
        }
    }

    /// The result of this request from the store's page: the echoed start index, or the
    /// cursors of the neighbouring pages.
    pub(crate) fn finish(self, page: ListPage) -> ListResult {
        let (start_index, cursors) = match &self.paging {
            Paging::Index(start_index) => (*start_index, None),
            Paging::Cursor {
                key,
                backward,
                fingerprint,
            } => (
                1,
                Some(neighbours(&page, key.is_some(), *backward, fingerprint)),
            ),
        };
        ListResult {
            page,
            start_index,
            cursors,
        }
    }
}

/// The cursors around a keyset page: forwards from its last row, backwards from its first.
fn neighbours(page: &ListPage, had_key: bool, backward: bool, fingerprint: &str) -> PageCursors {
    let Some((first, last)) = &page.edges else {
        return PageCursors::default();
    };
    // Going forwards, a page that started after a key has rows before it; going backwards, the
    // key the page ended before is itself a later row.
    let (has_next, has_previous) = if backward {
        (true, page.more)
    } else {
        (page.more, had_key)
    };
    PageCursors {
        next: has_next.then(|| encode_cursor(last, false, fingerprint)),
        previous: has_previous.then(|| encode_cursor(first, true, fingerprint)),
    }
}

/// RFC 9865 `count`: 1 to maxPageSize; the default page size when absent.
pub fn cursor_count(count: Option<i64>, limits: PageLimits) -> ScimResult<u64> {
    match count {
        None => Ok(limits.default_count),
        Some(c) if c >= 1 && c as u64 <= limits.max_count => Ok(c as u64),
        Some(c) => Err(ScimError::new(
            400,
            Some(ScimType::InvalidCount),
            format!(
                "count {c} is outside 1..={} for cursor paging",
                limits.max_count
            ),
        )),
    }
}

/// The wire form of a cursor before base64url.
#[derive(Serialize, Deserialize)]
struct CursorToken {
    /// Format version.
    v: u8,
    /// `true` for a `previousCursor`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    b: bool,
    /// Fingerprint of the query.
    q: String,
    k: SortKey,
}

const CURSOR_VERSION: u8 = 1;

fn encode_cursor(key: &SortKey, backward: bool, fingerprint: &str) -> String {
    let token = CursorToken {
        v: CURSOR_VERSION,
        b: backward,
        q: fingerprint.to_owned(),
        k: key.clone(),
    };
    // Serialising plain strings and JSON values cannot fail.
    let json = serde_json::to_vec(&token).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// RFC 9865 `invalidCursor`: a cursor Iris did not issue for this query.
pub fn invalid_cursor() -> ScimError {
    ScimError::new(
        400,
        Some(ScimType::InvalidCursor),
        "the cursor is not one Iris issued for this query: send an empty cursor for the first \
         page, then the nextCursor or previousCursor of the last response",
    )
}

/// The key and direction of a cursor; the first page for an empty one.
fn decode_cursor(cursor: &str, fingerprint: &str) -> ScimResult<(Option<SortKey>, bool)> {
    let cursor = cursor.trim();
    if cursor.is_empty() {
        return Ok((None, false));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| invalid_cursor())?;
    let token: CursorToken = serde_json::from_slice(&bytes).map_err(|_| invalid_cursor())?;
    if token.v != CURSOR_VERSION || token.q != fingerprint {
        return Err(invalid_cursor());
    }
    Ok((Some(token.k), token.b))
}

/// What a cursor's query must match: tenant, resource type, filter, sort attribute and order. The
/// page size may change between pages (RFC 9865 lets clients vary `count`). The tenant is part of
/// it so that one tenant's cursor is `invalidCursor` for every other tenant, rather than a
/// position in their list.
fn fingerprint(
    tenant: &TenantScope,
    rt: &ResourceType,
    params: &ListParams,
    sort_by: Option<&ResolvedAttr>,
    sort_order: SortOrder,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tenant.tenant_id().as_bytes());
    hasher.update([0]);
    hasher.update(rt.name.as_bytes());
    hasher.update([0]);
    hasher.update(
        params
            .filter
            .as_deref()
            .unwrap_or_default()
            .trim()
            .as_bytes(),
    );
    hasher.update([0]);
    if let Some(attr) = sort_by {
        hasher.update(attr.schema.id.as_bytes());
        hasher.update(attr.attr.name.as_bytes());
        hasher.update(attr.sub.map_or("", |s| s.name).as_bytes());
    }
    hasher.update([0, u8::from(sort_order == SortOrder::Descending)]);
    let digest = hasher.finalize();
    URL_SAFE_NO_PAD.encode(&digest[..12])
}

fn resolve_sort_attribute(rt: &'static ResourceType, raw: &str) -> ScimResult<ResolvedAttr> {
    let limits = FilterLimits::default();
    let path =
        filter::parse_path(raw, &limits).map_err(|e| ScimError::invalid_value(e.to_string()))?;
    if path.filter.is_some() {
        return Err(ScimError::invalid_value("sortBy cannot contain a filter"));
    }
    // Resolving `attr pr` checks and canonicalises the name exactly as filters do.
    match filter::resolve(&filter::Filter::Present(path.attr), rt) {
        Ok(Resolved::Present(attr)) => Ok(attr),
        Ok(_) => Err(ScimError::invalid_value(format!("cannot sort by '{raw}'"))),
        Err(e) => Err(ScimError::invalid_value(e.detail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iris_scim::schema::{group_type, user_type};
    use serde_json::json;

    fn params(filter: &str, cursor: &str) -> ListParams {
        ListParams {
            filter: Some(filter.to_owned()),
            cursor: Some(cursor.to_owned()),
            ..ListParams::default()
        }
    }

    fn prepare(rt: &'static ResourceType, p: &ListParams) -> CoreResult<PreparedList> {
        PreparedList::new(
            &tenant(),
            rt,
            p,
            &FilterLimits::default(),
            PageLimits::default(),
        )
    }

    fn tenant() -> TenantScope {
        TenantScope::new(crate::store::TenantId::from_row("t1".to_owned()))
    }

    #[test]
    fn a_cursor_round_trips_only_with_the_query_it_was_issued_for() {
        let p = params("userName sw \"a\"", "");
        let fp = fingerprint(&tenant(), user_type(), &p, None, SortOrder::Ascending);
        let key = SortKey {
            value: Some(json!("ann")),
            id: "0192".to_owned(),
        };
        let cursor = encode_cursor(&key, true, &fp);
        assert!(
            cursor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "RFC 9865 cursors use unreserved characters only: {cursor}"
        );
        assert_eq!(decode_cursor(&cursor, &fp).unwrap(), (Some(key), true));

        let other = params("userName sw \"b\"", &cursor);
        match prepare(user_type(), &other) {
            Err(crate::CoreError::Scim(e)) => {
                assert_eq!(e.scim_type, Some(ScimType::InvalidCursor));
            }
            other => panic!("expected invalidCursor, got {:?}", other.err()),
        }
        // The same filter on another resource type is another query.
        let on_groups = params("userName sw \"a\"", &cursor);
        assert!(prepare(group_type(), &on_groups).is_err());
    }

    #[test]
    fn garbage_cursors_and_counts_are_precise_errors() {
        for bad in ["%%%", "bm90IGpzb24", "e30"] {
            let e = decode_cursor(bad, "x").unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidCursor), "{bad}");
        }
        let limits = PageLimits::default();
        for bad in [0, -1, 1001] {
            let e = cursor_count(Some(bad), limits).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidCount), "{bad}");
        }
        assert_eq!(cursor_count(None, limits).unwrap(), 100);
        assert_eq!(cursor_count(Some(1000), limits).unwrap(), 1000);
    }

    #[test]
    fn start_index_and_cursor_cannot_be_combined() {
        let mut p = params("userName pr", "");
        p.start_index = Some(1);
        assert!(prepare(user_type(), &p).is_err());
    }
}
