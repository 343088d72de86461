//! Resources of every kind (users, groups) as one seam: the store writes a document with its
//! derived columns, checks versions and uniqueness, and applies membership changes in the same
//! transaction. Which columns a kind has is the store's business; what they hold is derived here,
//! in Rust, so both databases compare the same bytes.

use async_trait::async_trait;
use iris_scim::ScimError;
use iris_scim::patch::MemberRef;
use iris_scim::resource::Document;
use iris_scim::schema::ResourceKind;
use serde_json::Value;

use super::TenantScope;
use super::membership::MembershipChange;
use super::pages::{ListPage, ListQuery};
use crate::error::StoreError;
use crate::provisioning::ProvisioningEvent;

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

/// What is derived from a document for constraints and indexed queries, lowercased in Rust
/// (SQLite's `lower()` folds ASCII only). A kind fills what its schema has; the store keeps the
/// fields its tables have columns for.
#[derive(Debug, Clone)]
pub struct Shadow {
    /// `userName`, lowercased: unique per tenant (users).
    pub user_name_lower: Option<String>,
    /// `displayName` as sent: what references to the resource show as `display`.
    pub display_name: Option<String>,
    /// `displayName` lowercased: unique per tenant for groups, filtered on for users.
    pub display_name_lower: Option<String>,
    pub external_id: Option<String>,
    pub active: Option<bool>,
    /// Side-table rows of the indexed multi-valued attributes (a user's e-mails and phones).
    pub values: Vec<MultiValue>,
    /// The document with every case-insensitive string lowercased: what filters on attributes
    /// without a dedicated column are evaluated against.
    pub search_doc: Value,
}

/// Everything a backend needs to write one resource's document. A group's members are never
/// part of it (see [`MembershipChange`]).
#[derive(Debug, Clone)]
pub struct ResourceWrite {
    pub id: String,
    pub doc: Document,
    pub shadow: Shadow,
    pub now: String,
    /// Whether the side-table rows (`shadow.values`) differ from the stored ones; an update that
    /// leaves them alone skips rewriting them.
    pub rewrite_values: bool,
}

/// What a modification changes: the document (when it changed) and the membership, and what
/// the provisioning log records about it (in the same transaction).
#[derive(Debug, Clone)]
pub struct Change {
    pub write: Option<ResourceWrite>,
    pub members: MembershipChange,
    /// The modification time to record if anything changes.
    pub now: String,
    /// The events to record; a pending membership event is completed with the member rows that
    /// actually changed ([`crate::provisioning::settle_members`]).
    pub events: Vec<ProvisioningEvent>,
}

impl Change {
    /// Whether the store can write this without locking the row first: one conditional UPDATE of
    /// the document, no side rows, no memberships.
    pub fn is_document_only(&self) -> bool {
        self.members.is_empty() && self.write.as_ref().is_some_and(|w| !w.rewrite_values)
    }
}

/// The change a [`ResourceStore::modify`] caller makes to the current record: `Ok(None)` when
/// there is nothing to change, or a client error that aborts the write. It may be called more
/// than once (when another write got there first), always with the record it applies to.
pub type Mutation<'a> =
    &'a (dyn Fn(&ResourceRecord) -> Result<Option<Change>, ScimError> + Send + Sync);

/// The events of a deletion, from the record that was deleted.
pub type Describe<'a> = &'a (dyn Fn(&ResourceRecord) -> Vec<ProvisioningEvent> + Send + Sync);

/// The outcome of [`ResourceStore::modify`].
#[derive(Debug)]
pub enum Modified {
    Updated(ResourceRecord),
    Unchanged(ResourceRecord),
    Rejected(ScimError),
}

/// The outcome of a write that the store may refuse for a client reason it can only find out
/// inside the transaction (a member id that names nothing).
#[derive(Debug)]
pub enum Inserted {
    Created(ResourceRecord),
    Rejected(ScimError),
}

/// A resource exported from another database: its write plus the metadata it keeps.
#[derive(Debug, Clone)]
pub struct Imported {
    pub write: ResourceWrite,
    pub created: String,
    pub version: i64,
}

#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// Inserts a resource, its initial members and its events in one transaction. `Conflict` if
    /// its unique name (a user's userName, a group's displayName) is taken in the tenant;
    /// `Rejected` if a member names no user or group of the tenant (nothing written).
    async fn insert(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        write: &ResourceWrite,
        members: &[MemberRef],
        events: &[ProvisioningEvent],
    ) -> Result<Inserted, StoreError>;

    /// Inserts exported resources in one transaction, keeping their ids, creation times and
    /// versions (`write.now` is the last modification). `Conflict` if a unique name is taken.
    async fn import(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        resources: &[Imported],
    ) -> Result<(), StoreError>;

    async fn get(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<ResourceRecord>, StoreError>;

    /// Read-modify-write of one resource: `mutate` sees the current record and returns the
    /// change. The change is written over exactly the version it was computed from, so
    /// concurrent modifications from any number of processes all land, none lost. The document,
    /// its side rows and the membership change commit together or not at all; the version moves
    /// only if something actually changed (adding a present member or removing an absent one
    /// changes nothing), and so does the version of every user whose `groups` the membership
    /// change alters. The work grows with the members named, not with the size of the group
    /// (except a `clear`). `NotFound` if absent, `Conflict` on a unique-name clash.
    async fn modify(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        id: &str,
        mutate: Mutation<'_>,
    ) -> Result<Modified, StoreError>;

    /// Deletes a resource with its side rows and its memberships (both as a member and, for a
    /// group, its members), in one transaction, moving the version of every resource whose
    /// `members` or `groups` that changes, and records the events `describe` gives for the
    /// deleted record. `NotFound` if absent, `VersionMismatch` if `expected_version` is given
    /// and stale.
    async fn delete(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<i64>,
        describe: Describe<'_>,
    ) -> Result<(), StoreError>;

    /// One page of a filtered, sorted list, with the size of the whole result.
    async fn list(
        &self,
        scope: &TenantScope,
        kind: ResourceKind,
        query: &ListQuery<'_>,
    ) -> Result<ListPage, StoreError>;
}
