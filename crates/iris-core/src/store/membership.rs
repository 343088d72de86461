//! Group memberships: rows of their own, never part of a group's document, so a change costs what
//! it names and a group's size costs nothing until its members are read.

use async_trait::async_trait;
use iris_scim::ScimError;
use iris_scim::patch::MemberRef;
use iris_scim::schema::ResourceKind;

use super::TenantScope;
use crate::error::StoreError;

/// One membership row as read back: the member, its kind, and its `displayName` (what the
/// group's `members[].display` shows) when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub kind: ResourceKind,
    pub display: Option<String>,
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
    /// The membership becomes exactly `members` (PUT, and a POST's initial members).
    pub fn exactly(members: Vec<MemberRef>, clear: bool) -> Self {
        Self {
            clear,
            remove: Vec::new(),
            check: members.clone(),
            add: members,
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.clear && self.remove.is_empty() && self.add.is_empty() && self.check.is_empty()
    }
}

/// Reading memberships, and loading them in bulk.
#[async_trait]
pub trait MembershipStore: Send + Sync {
    /// Adds members to a group without changing its version or modification time (imports).
    /// `Some(error)` if a member names no user or group of the tenant (nothing written).
    async fn import_members(
        &self,
        scope: &TenantScope,
        group_id: &str,
        members: &[MemberRef],
    ) -> Result<Option<ScimError>, StoreError>;

    /// Up to `limit` members of a group with ids greater than `after`, in id order: a full read
    /// pages through the membership with bounded memory.
    async fn members_page(
        &self,
        scope: &TenantScope,
        group_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Member>, StoreError>;

    /// The direct memberships of the given members (users or groups), ordered by member, then
    /// group display name.
    async fn direct_groups(
        &self,
        scope: &TenantScope,
        member_ids: &[String],
    ) -> Result<Vec<DirectGroup>, StoreError>;
}
