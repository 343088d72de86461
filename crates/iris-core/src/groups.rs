//! Group operations, shaped like [`crate::users::UserService`]: validation and PATCH happen here,
//! in memory; the store checks versions, uniqueness and member ids and writes.
//!
//! Members are never part of a group's document. A POST/PUT body's `members` and every PATCH
//! operation on `members` become one [`MembershipChange`], the net effect of the request, which
//! the store applies row by row in the same transaction as the document. So a membership change
//! costs in proportion to the members it names, not to the size of the group (entra-compat §4,
//! lessons.md item 6).

use std::collections::HashSet;
use std::sync::Arc;

use iris_scim::filter::FilterLimits;
use iris_scim::patch::{self, MemberOp, MemberRef};
use iris_scim::resource::{self, Document};
use iris_scim::schema::{self, ResourceType};
use iris_scim::{ScimError, ScimResult};
use serde_json::Value;

use crate::clock;
use crate::error::{CoreError, CoreResult, StoreError};
use crate::listing::{ListParams, ListResult, PageLimits, PreparedList};
use crate::store::{
    DirectGroup, GroupChange, GroupShadow, GroupWrite, Inserted, Member, MemberType,
    MembershipChange, Modified, ResourceRecord, Store,
};
use crate::tenants::Tenant;
use crate::users::{
    ExpectedVersion, MAX_INDEXED_VALUE_BYTES, check_precondition, search_projection,
};

/// Members read per query when a group's members are listed in full.
pub const MEMBER_PAGE: u32 = 1000;

#[derive(Clone)]
pub struct GroupService {
    store: Arc<dyn Store>,
    filter_limits: FilterLimits,
    page_limits: PageLimits,
}

fn group_type() -> &'static ResourceType {
    schema::group_type()
}

fn group_not_found(id: &str) -> CoreError {
    ScimError::not_found(format!("Group {} not found", id.escape_debug())).into()
}

/// Ids are assigned by Iris; anything that could not be one is answered without a database
/// round trip.
fn check_id(id: &str) -> CoreResult<()> {
    if crate::users::plausible_id(id) {
        Ok(())
    } else {
        Err(group_not_found(id))
    }
}

impl GroupService {
    pub fn new(
        store: Arc<dyn Store>,
        filter_limits: FilterLimits,
        page_limits: PageLimits,
    ) -> Self {
        Self {
            store,
            filter_limits,
            page_limits,
        }
    }

    /// POST: the group and its initial members (validated in the same transaction).
    pub async fn create(&self, tenant: &Tenant, body: &Value) -> CoreResult<ResourceRecord> {
        let (doc, members) = group_document(body)?;
        let members = members.unwrap_or_default();
        let write = group_write(uuid::Uuid::now_v7().to_string(), doc, clock::now())?;
        check_not_self(&write.id, &members)?;
        match self.store.insert_group(tenant.id(), &write, &members).await {
            Ok(Inserted::Created(record)) => Ok(record),
            Ok(Inserted::Rejected(e)) => Err(e.into()),
            Err(StoreError::Conflict) => Err(display_name_taken(&write.shadow.display_name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, tenant: &Tenant, id: &str) -> CoreResult<ResourceRecord> {
        check_id(id)?;
        self.store
            .group(tenant.id(), id)
            .await?
            .ok_or_else(|| group_not_found(id))
    }

    pub async fn list(&self, tenant: &Tenant, params: &ListParams) -> CoreResult<ListResult> {
        let prepared =
            PreparedList::new(group_type(), params, &self.filter_limits, self.page_limits)?;
        let page = self
            .store
            .list_groups(tenant.id(), &prepared.query())
            .await?;
        Ok(prepared.finish(page))
    }

    /// PUT: replaces every writable attribute. A `members` key replaces the membership exactly
    /// (`[]` or `null` empties it); a body without `members` leaves the membership as it is
    /// (RFC 7644 §3.5.1 lets omitted attributes be "not asserted"), so a client that read the
    /// group with `excludedAttributes=members` and puts it back does not empty it.
    pub async fn replace(
        &self,
        tenant: &Tenant,
        id: &str,
        body: &Value,
        expected: ExpectedVersion,
    ) -> CoreResult<ResourceRecord> {
        let (doc, members) = group_document(body)?;
        let now = clock::now();
        let write = group_write(id.to_owned(), doc, now.clone())?;
        let display_name = write.shadow.display_name.clone();
        let membership = match members {
            Some(refs) => {
                check_not_self(id, &refs)?;
                MembershipChange {
                    clear: true,
                    remove: Vec::new(),
                    check: refs.clone(),
                    add: refs,
                }
            }
            None => MembershipChange::default(),
        };
        let mutate = move |current: &ResourceRecord| {
            check_precondition(current, expected)?;
            Ok(Some(GroupChange {
                write: Some(write.clone()),
                members: membership.clone(),
                now: now.clone(),
            }))
        };
        self.modify(tenant, id, &mutate, &display_name).await
    }

    /// PATCH: all operations or none, under the group's write lock. Membership operations never
    /// load the member list.
    pub async fn patch(
        &self,
        tenant: &Tenant,
        id: &str,
        body: &Value,
        expected: ExpectedVersion,
    ) -> CoreResult<ResourceRecord> {
        let mutate = |current: &ResourceRecord| {
            check_precondition(current, expected)?;
            let mut doc = current.doc.clone();
            let outcome = patch::apply_patch(group_type(), &mut doc, body)?;
            let members = net_membership(&outcome.member_ops);
            check_not_self(&current.id, &members.check)?;
            let now = clock::now();
            let write = if doc == current.doc {
                None
            } else {
                Some(group_write(current.id.clone(), doc, now.clone())?)
            };
            if write.is_none() && members.is_empty() {
                return Ok(None);
            }
            Ok(Some(GroupChange {
                write,
                members,
                now,
            }))
        };
        self.modify(tenant, id, &mutate, "").await
    }

    async fn modify(
        &self,
        tenant: &Tenant,
        id: &str,
        mutate: crate::store::GroupMutation<'_>,
        display_name: &str,
    ) -> CoreResult<ResourceRecord> {
        check_id(id)?;
        match self.store.modify_group(tenant.id(), id, mutate).await {
            Ok(Modified::Updated(record) | Modified::Unchanged(record)) => Ok(record),
            Ok(Modified::Rejected(e)) => Err(e.into()),
            Err(StoreError::NotFound) => Err(group_not_found(id)),
            Err(StoreError::Conflict) => Err(display_name_taken(display_name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete(
        &self,
        tenant: &Tenant,
        id: &str,
        expected: ExpectedVersion,
    ) -> CoreResult<()> {
        check_id(id)?;
        match self.store.delete_group(tenant.id(), id, expected).await {
            Err(StoreError::NotFound) => Err(group_not_found(id)),
            other => Ok(other?),
        }
    }

    /// One page of a group's members (ids greater than `after`, in id order). Reading a group's
    /// members in full means calling this until a page comes back short.
    pub async fn members_page(
        &self,
        tenant: &Tenant,
        group_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> CoreResult<Vec<Member>> {
        Ok(self
            .store
            .group_members(tenant.id(), group_id, after, limit.clamp(1, 10_000))
            .await?)
    }

    /// The direct groups of each of `member_ids` (a page of users): one query per page.
    pub async fn direct_groups(
        &self,
        tenant: &Tenant,
        member_ids: &[String],
    ) -> CoreResult<Vec<DirectGroup>> {
        if member_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.store.direct_groups(tenant.id(), member_ids).await?)
    }
}

/// The stored document and the `members` (if the body has the key) of a POST/PUT body.
fn group_document(body: &Value) -> ScimResult<(Document, Option<Vec<MemberRef>>)> {
    let mut doc = resource::document_from_request(group_type(), body)?;
    let members = doc.shift_remove("members");
    let has_key = body.as_object().is_some_and(|fields| {
        fields.keys().any(|k| {
            group_type()
                .split_urn(k)
                .is_some_and(|(_, name)| name.eq_ignore_ascii_case("members"))
        })
    });
    let refs = match members {
        Some(value) => Some(member_refs(&value)?),
        None if has_key => Some(Vec::new()),
        None => None,
    };
    Ok((doc, refs))
}

/// Members from the canonical `members` array the resource module produced.
fn member_refs(value: &Value) -> ScimResult<Vec<MemberRef>> {
    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut seen = HashSet::new();
    let mut refs = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get("value")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ScimError::invalid_value("each member needs a non-empty 'value' (its id)")
            })?;
        let member_type = match item.get("type").and_then(Value::as_str) {
            None => None,
            Some(t) => Some(
                MemberType::parse(t.trim())
                    .ok_or_else(|| {
                        ScimError::invalid_value(format!(
                            "member type '{t}' is not 'User' or 'Group'"
                        ))
                    })?
                    .as_str()
                    .to_owned(),
            ),
        };
        if seen.insert(id.to_owned()) {
            refs.push(MemberRef {
                value: id.to_owned(),
                member_type,
            });
        }
    }
    Ok(refs)
}

/// Folds a PATCH's membership operations, in request order, into their net effect: an `add`
/// followed by a `remove` of the same member leaves it out, a `remove` followed by an `add`
/// leaves it in, a `replace` or a remove-all discards what came before it.
pub fn net_membership(ops: &[MemberOp]) -> MembershipChange {
    let mut change = MembershipChange::default();
    // Ordered sets: first mention wins the position, so writes are deterministic.
    let mut adds: Vec<MemberRef> = Vec::new();
    let mut removes: Vec<String> = Vec::new();
    let mut checked = HashSet::new();
    let mut note = |change: &mut MembershipChange, r: &MemberRef| {
        if checked.insert(r.value.clone()) {
            change.check.push(r.clone());
        }
    };
    for op in ops {
        match op {
            MemberOp::Add(refs) => {
                for r in refs {
                    note(&mut change, r);
                    removes.retain(|id| id != &r.value);
                    if let Some(existing) = adds.iter_mut().find(|a| a.value == r.value) {
                        *existing = r.clone();
                    } else {
                        adds.push(r.clone());
                    }
                }
            }
            MemberOp::Remove(ids) => {
                let gone: HashSet<&String> = ids.iter().collect();
                adds.retain(|a| !gone.contains(&a.value));
                for id in ids {
                    if !removes.contains(id) {
                        removes.push(id.clone());
                    }
                }
            }
            MemberOp::RemoveAll => {
                change.clear = true;
                adds.clear();
                removes.clear();
            }
            MemberOp::Replace(refs) => {
                change.clear = true;
                adds.clear();
                removes.clear();
                for r in refs {
                    note(&mut change, r);
                    if !adds.iter().any(|a| a.value == r.value) {
                        adds.push(r.clone());
                    }
                }
            }
        }
    }
    change.add = adds;
    // After a clear, removals are moot.
    change.remove = if change.clear { Vec::new() } else { removes };
    change
}

/// A group cannot contain itself.
fn check_not_self(group_id: &str, members: &[MemberRef]) -> ScimResult<()> {
    if members.iter().any(|m| m.value == group_id) {
        return Err(ScimError::invalid_value(
            "a group cannot be a member of itself",
        ));
    }
    Ok(())
}

fn display_name_taken(display_name: &str) -> CoreError {
    let detail = if display_name.is_empty() {
        "another group of this tenant already has that displayName".to_owned()
    } else {
        format!("a group with displayName '{display_name}' already exists")
    };
    ScimError::uniqueness(detail).into()
}

/// Derives the write (document plus shadow columns) for a group document.
pub fn group_write(id: String, doc: Document, now: String) -> ScimResult<GroupWrite> {
    let display_name = doc
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let external_id = doc
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    for (name, value) in [
        ("displayName", Some(display_name.as_str())),
        ("externalId", external_id.as_deref()),
    ] {
        if value.is_some_and(|v| v.len() > MAX_INDEXED_VALUE_BYTES) {
            return Err(ScimError::invalid_value(format!(
                "'{name}' is longer than {MAX_INDEXED_VALUE_BYTES} bytes"
            )));
        }
    }
    let shadow = GroupShadow {
        display_name_lower: display_name.to_lowercase(),
        display_name,
        external_id,
        search_doc: Value::Object(search_projection(group_type(), &doc)),
    };
    Ok(GroupWrite {
        id,
        doc,
        shadow,
        now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(id: &str) -> MemberRef {
        MemberRef {
            value: id.into(),
            member_type: None,
        }
    }

    fn ids(refs: &[MemberRef]) -> Vec<&str> {
        refs.iter().map(|r| r.value.as_str()).collect()
    }

    #[test]
    fn add_then_remove_of_one_member_nets_to_a_removal_but_is_still_checked() {
        let change = net_membership(&[
            MemberOp::Add(vec![r("a"), r("b")]),
            MemberOp::Remove(vec!["a".into()]),
        ]);
        assert!(!change.clear);
        assert_eq!(ids(&change.add), ["b"]);
        assert_eq!(change.remove, ["a"]);
        assert_eq!(ids(&change.check), ["a", "b"]);
    }

    #[test]
    fn remove_then_add_keeps_the_member() {
        let change = net_membership(&[
            MemberOp::Remove(vec!["a".into()]),
            MemberOp::Add(vec![r("a")]),
        ]);
        assert_eq!(ids(&change.add), ["a"]);
        assert!(change.remove.is_empty());
    }

    #[test]
    fn replace_and_remove_all_discard_what_came_before() {
        let change = net_membership(&[
            MemberOp::Add(vec![r("a")]),
            MemberOp::Remove(vec!["x".into()]),
            MemberOp::Replace(vec![r("b"), r("c")]),
            MemberOp::Remove(vec!["c".into()]),
        ]);
        assert!(change.clear);
        assert_eq!(ids(&change.add), ["b"]);
        assert!(change.remove.is_empty());
        let change = net_membership(&[MemberOp::Add(vec![r("a")]), MemberOp::RemoveAll]);
        assert!(change.clear && change.add.is_empty());
        assert!(net_membership(&[]).is_empty());
    }

    #[test]
    fn post_bodies_split_into_document_and_members() {
        let (doc, members) = group_document(&json!({
            "displayName": "Ops", "members": [{"value": "u1", "type": "user"}, {"value": "u1"}, {"value": "g1", "$ref": null}]
        }))
        .unwrap();
        assert!(!doc.contains_key("members"));
        let members = members.unwrap();
        assert_eq!(ids(&members), ["u1", "g1"]);
        assert_eq!(members[0].member_type.as_deref(), Some("User"));
        let (_, none) = group_document(&json!({"displayName": "Ops"})).unwrap();
        assert!(none.is_none());
        let (_, empty) = group_document(&json!({"displayName": "Ops", "members": null})).unwrap();
        assert_eq!(empty, Some(Vec::new()));
        assert!(
            group_document(&json!({"displayName": "Ops", "members": [{"display": "x"}]})).is_err()
        );
        assert!(
            group_document(
                &json!({"displayName": "Ops", "members": [{"value": "u", "type": "Robot"}]})
            )
            .is_err()
        );
        assert!(
            group_document(&json!({"members": []})).is_err(),
            "displayName is required"
        );
    }
}
