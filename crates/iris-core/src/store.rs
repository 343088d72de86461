//! The storage seam. Both backends (SQLite, PostgreSQL) implement [`Store`]; everything above it is
//! backend-agnostic. Every resource operation takes the [`TenantId`] of an authenticated tenant, so
//! no query can be written without naming the tenant it is confined to.

use async_trait::async_trait;
use iris_scim::ScimError;
use iris_scim::filter::Resolved;
use iris_scim::patch::MemberRef;
use iris_scim::resource::Document;
use serde_json::Value;

use crate::error::StoreError;

/// The database identity of a tenant. Only the tenant service (from an authenticated token or an
/// admin command) and store rows produce one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    pub(crate) fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }

    /// Rebuilds an id read from the database. Stores call this; nothing else should.
    pub fn from_row(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant as stored.
#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: TenantId,
    pub name: String,
    pub created: String,
    pub disabled_at: Option<String>,
}

/// A bearer token as stored: never the secret, only its SHA-256 (hex).
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub tenant_id: TenantId,
    pub label: Option<String>,
    pub secret_hash: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked_at: Option<String>,
}

/// A stored resource: its document plus the metadata Iris maintains.
#[derive(Debug, Clone)]
pub struct ResourceRecord {
    pub id: String,
    pub doc: Document,
    pub created: String,
    pub last_modified: String,
    pub version: i64,
}

/// One element of a multi-valued attribute that filters match on (`emails`, `phoneNumbers`, …),
/// kept in a side table so that `emails[type eq "work"].value eq "x"` is an indexed lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiValue {
    pub attribute: &'static str,
    pub type_lower: Option<String>,
    pub primary: bool,
    pub value_lower: String,
}

/// The columns derived from a user document for constraints and indexed queries. Computed in Rust
/// so both databases compare the same (Unicode-lowercased) bytes.
#[derive(Debug, Clone)]
pub struct UserShadow {
    pub user_name_lower: String,
    pub external_id: Option<String>,
    pub display_name_lower: Option<String>,
    pub active: Option<bool>,
    pub values: Vec<MultiValue>,
    /// The document with every case-insensitive string lowercased: what filters on attributes
    /// without a dedicated column are evaluated against.
    pub search_doc: Value,
}

/// Everything a backend needs to write one user.
#[derive(Debug, Clone)]
pub struct UserWrite {
    pub id: String,
    pub doc: Document,
    pub shadow: UserShadow,
    pub now: String,
    /// Whether the side-table rows (`shadow.values`) differ from the stored ones; an update that
    /// leaves e-mails and phone numbers alone skips rewriting them.
    pub rewrite_values: bool,
}

/// The change a [`Store::modify_user`] caller makes to the current record.
pub type Mutation<'a> =
    &'a (dyn Fn(&ResourceRecord) -> Result<Option<UserWrite>, ScimError> + Send + Sync);

/// The outcome of [`Store::modify_user`].
#[derive(Debug)]
pub enum Modified {
    Updated(ResourceRecord),
    Unchanged(ResourceRecord),
    Rejected(ScimError),
}

/// The columns derived from a group document, computed in Rust like [`UserShadow`].
#[derive(Debug, Clone)]
pub struct GroupShadow {
    /// `displayName` as sent, for a user's `groups[].display`.
    pub display_name: String,
    /// `displayName` lowercased: what uniqueness and filters compare.
    pub display_name_lower: String,
    pub external_id: Option<String>,
    /// The document with case-insensitive strings lowercased (see [`UserShadow::search_doc`]).
    pub search_doc: Value,
}

/// Everything a backend needs to write one group's document. Members are never part of it.
#[derive(Debug, Clone)]
pub struct GroupWrite {
    pub id: String,
    pub doc: Document,
    pub shadow: GroupShadow,
    pub now: String,
}

/// A resource exported from another database: its write plus the metadata it keeps.
#[derive(Debug, Clone)]
pub struct Imported<W> {
    pub write: W,
    pub created: String,
    pub version: i64,
}

/// What kind of resource a member is. Derived by the store from the table that holds the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberType {
    User,
    Group,
}

impl MemberType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }

    /// The SCIM endpoint of this kind of resource, for `$ref`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::User => "Users",
            Self::Group => "Groups",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        if raw.eq_ignore_ascii_case("User") {
            Some(Self::User)
        } else if raw.eq_ignore_ascii_case("Group") {
            Some(Self::Group)
        } else {
            None
        }
    }
}

/// One membership row as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub member_type: MemberType,
}

/// One direct membership of a resource, for a user's `groups` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectGroup {
    pub member_id: String,
    pub group_id: String,
    pub display_name: String,
}

/// The net effect of a request on a group's membership, applied by the store in this order:
/// `clear`, then `remove`, then `add`. Every id in `check` must name a user or group of the
/// tenant (and match its `type` when one was given), or nothing is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipChange {
    /// Remove every member first.
    pub clear: bool,
    /// Member ids to remove (absent ones are ignored).
    pub remove: Vec<String>,
    /// Members to add (present ones are left as they are).
    pub add: Vec<MemberRef>,
    /// Every member the request named for adding, including any a later operation removed
    /// again: naming an unknown id is an error even when it nets out.
    pub check: Vec<MemberRef>,
}

impl MembershipChange {
    pub fn is_empty(&self) -> bool {
        !self.clear && self.remove.is_empty() && self.add.is_empty() && self.check.is_empty()
    }
}

/// What [`Store::modify_group`]'s caller changes: the document (when it changed) and the
/// membership.
#[derive(Debug, Clone)]
pub struct GroupChange {
    pub write: Option<GroupWrite>,
    pub members: MembershipChange,
    /// The modification time to record if anything changes.
    pub now: String,
}

/// The change a [`Store::modify_group`] caller makes to the current record.
pub type GroupMutation<'a> =
    &'a (dyn Fn(&ResourceRecord) -> Result<Option<GroupChange>, ScimError> + Send + Sync);

/// The outcome of a write that the store may refuse for a client reason it can only find out
/// inside the transaction (a member id that names nothing).
#[derive(Debug)]
pub enum Inserted {
    Created(ResourceRecord),
    Rejected(ScimError),
}

/// Sort keys the list query supports.
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
    pub filter: Option<&'a Resolved>,
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

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and readiness output.
    fn backend_name(&self) -> &'static str;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Records a refused request and keeps only the newest `keep` of the tenant.
    async fn insert_rejected_request(
        &self,
        tenant: &TenantId,
        request: &crate::rejections::RejectedRequest,
        keep: u32,
    ) -> Result<(), StoreError>;

    /// The newest `limit` refused requests of a tenant, newest first.
    async fn rejected_requests(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<crate::rejections::RejectedRequest>, StoreError>;

    /// Brings the query planner's statistics up to date after a bulk load: without them a
    /// PostgreSQL planner may scan where an index lookup belongs.
    async fn refresh_statistics(&self) -> Result<(), StoreError>;

    async fn insert_tenant(&self, tenant: &TenantRow) -> Result<(), StoreError>;
    async fn tenants(&self) -> Result<Vec<TenantRow>, StoreError>;
    async fn tenant_by_name(&self, name: &str) -> Result<Option<TenantRow>, StoreError>;
    async fn set_tenant_disabled(
        &self,
        tenant: &TenantId,
        disabled_at: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Deletes a tenant with everything it owns (tokens, users, groups, memberships).
    async fn delete_tenant(&self, tenant: &TenantId) -> Result<(), StoreError>;

    async fn insert_token(&self, token: &TokenRow) -> Result<(), StoreError>;
    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRow>, StoreError>;
    /// Marks a token revoked; `false` if no live token has that id.
    async fn revoke_token(&self, token_id: &str, at: &str) -> Result<bool, StoreError>;
    /// The token and its tenant, for authenticating a request. Read from the database on every
    /// call, so a revocation made by any process takes effect at once.
    async fn token_with_tenant(
        &self,
        token_id: &str,
    ) -> Result<Option<(TokenRow, TenantRow)>, StoreError>;
    async fn touch_token(&self, token_id: &str, at: &str) -> Result<(), StoreError>;

    /// Inserts a user; `Conflict` if its userName is taken in the tenant.
    async fn insert_user(
        &self,
        tenant: &TenantId,
        user: &UserWrite,
    ) -> Result<ResourceRecord, StoreError>;
    /// Inserts a user exported from another database, keeping its id, creation time and version
    /// (`user.now` is its last modification).
    async fn import_user(
        &self,
        tenant: &TenantId,
        user: &UserWrite,
        created: &str,
        version: i64,
    ) -> Result<ResourceRecord, StoreError>;
    async fn user(&self, tenant: &TenantId, id: &str)
    -> Result<Option<ResourceRecord>, StoreError>;
    /// Read-modify-write of one user under the row's write lock: `mutate` sees the current record
    /// and returns the new state (`Ok(None)`: nothing to change), or a client error that aborts
    /// the write. Concurrent modifications of the same user, from any process, are serialised,
    /// so none is lost. `NotFound` if the user does not exist, `Conflict` on a userName clash.
    async fn modify_user(
        &self,
        tenant: &TenantId,
        id: &str,
        mutate: Mutation<'_>,
    ) -> Result<Modified, StoreError>;
    /// Deletes a user with its side rows and its memberships, in one transaction; `NotFound` if
    /// absent, `VersionMismatch` if `expected_version` is given and stale.
    async fn delete_user(
        &self,
        tenant: &TenantId,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError>;
    async fn list_users(
        &self,
        tenant: &TenantId,
        query: &ListQuery<'_>,
    ) -> Result<ListPage, StoreError>;

    /// Inserts several exported users in one transaction, keeping their ids, creation times and
    /// versions. `Conflict` if a userName is taken.
    async fn import_users(
        &self,
        tenant: &TenantId,
        users: &[Imported<UserWrite>],
    ) -> Result<(), StoreError>;

    /// Inserts a group and its initial members in one transaction. `Conflict` if its displayName
    /// is taken; `Rejected` if a member names no user or group of the tenant (nothing written).
    async fn insert_group(
        &self,
        tenant: &TenantId,
        group: &GroupWrite,
        members: &[MemberRef],
    ) -> Result<Inserted, StoreError>;
    /// Inserts an exported group (without members; see [`Store::import_members`]).
    async fn import_group(
        &self,
        tenant: &TenantId,
        group: &Imported<GroupWrite>,
    ) -> Result<ResourceRecord, StoreError>;
    /// Adds members to a group without changing its version or modification time (imports).
    /// `Some(error)` if a member names no user or group of the tenant (nothing written).
    async fn import_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        members: &[MemberRef],
    ) -> Result<Option<ScimError>, StoreError>;
    async fn group(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ResourceRecord>, StoreError>;
    /// Read-modify-write of one group under the row's write lock, like [`Store::modify_user`]:
    /// the document and the membership change commit together or not at all. The version moves
    /// only if the document or the membership actually changed (adding a present member or
    /// removing an absent one changes nothing). The work done grows with the number of members
    /// named, not with the size of the group (except `clear`).
    async fn modify_group(
        &self,
        tenant: &TenantId,
        id: &str,
        mutate: GroupMutation<'_>,
    ) -> Result<Modified, StoreError>;
    /// Deletes a group, its membership rows, and its memberships in other groups.
    async fn delete_group(
        &self,
        tenant: &TenantId,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError>;
    async fn list_groups(
        &self,
        tenant: &TenantId,
        query: &ListQuery<'_>,
    ) -> Result<ListPage, StoreError>;
    /// Up to `limit` members of a group with ids greater than `after`, in id order: a full read
    /// pages through the membership with bounded memory.
    async fn group_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Member>, StoreError>;
    /// The direct memberships of the given members (users or groups), ordered by member, then
    /// group display name.
    async fn direct_groups(
        &self,
        tenant: &TenantId,
        member_ids: &[String],
    ) -> Result<Vec<DirectGroup>, StoreError>;
}
