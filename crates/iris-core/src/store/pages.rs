//! The list query a store answers: a filter, a sort, and where the page starts.

use serde_json::Value;

use super::membership::DirectGroup;
use super::resources::ResourceRecord;

/// The direction of a sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// A row's position in a sorted result: the sort attribute's value (when a sort attribute is
/// given; JSON `null` when the row lacks it) and the id that breaks ties. Keyset pages start
/// strictly after or before one, so writes elsewhere in the result never shift them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SortKey {
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(rename = "i")]
    pub id: String,
}

/// Where a page starts.
#[derive(Debug, Clone, Copy)]
pub enum PageStart<'a> {
    /// Index paging (RFC 7644 §3.4.2.4): the 1-based index of the first result.
    Index(u64),
    /// Keyset paging forwards: the results after `key`, or from the first one.
    After(Option<&'a SortKey>),
    /// Keyset paging backwards: the `count` results just before `key`, in result order.
    Before(&'a SortKey),
}

/// A page request over a filtered, ordered result.
#[derive(Debug, Clone)]
pub struct ListQuery<'a> {
    pub filter: Option<&'a iris_scim::filter::Resolved>,
    pub start: PageStart<'a>,
    /// Maximum number of resources to return; 0 asks only for the total.
    pub count: u64,
    pub sort_by: Option<&'a iris_scim::filter::ResolvedAttr>,
    pub sort_order: SortOrder,
}

impl<'a> ListQuery<'a> {
    /// Every resource in id order, `count` at a time after `after`: how exports and other full
    /// scans walk a tenant without offsets.
    pub fn scan(after: Option<&'a SortKey>, count: u64) -> Self {
        Self {
            filter: None,
            start: PageStart::After(after),
            count,
            sort_by: None,
            sort_order: SortOrder::Ascending,
        }
    }
}

/// One page of results and the size of the whole result.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub total: u64,
    pub records: Vec<ResourceRecord>,
    /// Keyset pages: the keys of the first and last record returned.
    pub edges: Option<(SortKey, SortKey)>,
    /// Keyset pages: whether more results lie beyond this page in the direction of travel.
    pub more: bool,
    /// The direct groups of the users on the page, when the store read them with the page (it
    /// does for point lookups, saving the matching query a second round trip).
    pub memberships: Option<Vec<DirectGroup>>,
}
