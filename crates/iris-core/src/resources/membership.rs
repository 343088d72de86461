//! How requests change memberships. Members are never part of a group's document: a POST/PUT
//! body's `members` and every PATCH operation on `members` become one [`MembershipChange`], the
//! net effect of the request, which the store applies row by row in the same transaction as the
//! document. So a membership change costs in proportion to the members it names, not to the size
//! of the group (entra-compat §4, lessons.md item 6).

use std::collections::{HashMap, HashSet};

use iris_scim::patch::{MemberOp, MemberRef};
use iris_scim::resource::{self, Document};
use iris_scim::schema::{ResourceKind, ResourceType};
use iris_scim::{ScimError, ScimResult};
use serde_json::Value;

use crate::store::MembershipChange;

/// The attribute whose values live in the membership table.
const MEMBERS: &str = "members";

/// Whether resources of this type hold members (their `members` live in the membership table).
fn holds_members(rt: &ResourceType) -> bool {
    rt.schema.attribute(MEMBERS).is_some()
}

/// The stored document of a POST/PUT body, and its `members` when the type holds members and
/// the body has the key (`null` and `[]` both mean "none").
pub(crate) fn split_document(
    kind: ResourceKind,
    body: &Value,
) -> ScimResult<(Document, Option<Vec<MemberRef>>)> {
    let rt = kind.resource_type();
    let mut doc = resource::document_from_request(rt, body)?;
    if !holds_members(rt) {
        return Ok((doc, None));
    }
    let members = doc.shift_remove(MEMBERS);
    let has_key = body.as_object().is_some_and(|fields| {
        fields.keys().any(|k| {
            rt.split_urn(k)
                .is_some_and(|(_, name)| name.eq_ignore_ascii_case(MEMBERS))
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
                ResourceKind::from_name(t.trim())
                    .ok_or_else(|| {
                        ScimError::invalid_value(format!(
                            "member type '{t}' is not 'User' or 'Group'"
                        ))
                    })?
                    .name()
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
/// leaves it in, a `replace` or a remove-all discards what came before it. Linear in the members
/// the operations name (a PATCH may name 1,000 operations of 10,000 members each).
pub fn net_membership(ops: &[MemberOp]) -> MembershipChange {
    let mut change = MembershipChange::default();
    // Ordered sets: first mention wins the position, so writes are deterministic.
    let mut adds = OrderedSet::<MemberRef>::default();
    let mut removes = OrderedSet::<String>::default();
    let mut checked = HashSet::new();
    for op in ops {
        match op {
            MemberOp::Add(refs) => {
                for r in refs {
                    if checked.insert(r.value.as_str()) {
                        change.check.push(r.clone());
                    }
                    removes.remove(&r.value);
                    // A later add of the same member replaces its reference (its `type`).
                    adds.upsert(&r.value, r.clone());
                }
            }
            MemberOp::Remove(ids) => {
                for id in ids {
                    adds.remove(id);
                    removes.insert_new(id, id.clone());
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
                    if checked.insert(r.value.as_str()) {
                        change.check.push(r.clone());
                    }
                    adds.insert_new(&r.value, r.clone());
                }
            }
        }
    }
    change.add = adds.into_vec();
    // After a clear, removals are moot.
    change.remove = if change.clear {
        Vec::new()
    } else {
        removes.into_vec()
    };
    change
}

/// Values keyed by member id, in order of first insertion, with O(1) insert, replace and
/// remove (a removed value leaves a hole that `into_vec` skips).
struct OrderedSet<T> {
    slots: Vec<Option<T>>,
    index: HashMap<String, usize>,
}

impl<T> Default for OrderedSet<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T> OrderedSet<T> {
    /// Inserts `value` under `key` unless the key is present (then the first value stays).
    fn insert_new(&mut self, key: &str, value: T) {
        if !self.index.contains_key(key) {
            self.index.insert(key.to_owned(), self.slots.len());
            self.slots.push(Some(value));
        }
    }

    /// Inserts `value` under `key`, replacing a present value in its place.
    fn upsert(&mut self, key: &str, value: T) {
        match self.index.get(key) {
            Some(&slot) => self.slots[slot] = Some(value),
            None => self.insert_new(key, value),
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(slot) = self.index.remove(key) {
            self.slots[slot] = None;
        }
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.index.clear();
    }

    fn into_vec(self) -> Vec<T> {
        self.slots.into_iter().flatten().collect()
    }
}

/// A group cannot contain itself.
pub(crate) fn check_not_self(group_id: &str, members: &[MemberRef]) -> ScimResult<()> {
    if members.iter().any(|m| m.value == group_id) {
        return Err(ScimError::invalid_value(
            "a group cannot be a member of itself",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
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

    /// The first, quadratic fold (a linear scan per member named): the oracle the linear one
    /// must agree with, element for element and in order.
    fn scanning_fold(ops: &[MemberOp]) -> MembershipChange {
        let mut change = MembershipChange::default();
        let mut adds: Vec<MemberRef> = Vec::new();
        let mut removes: Vec<String> = Vec::new();
        let mut checked = HashSet::new();
        for op in ops {
            match op {
                MemberOp::Add(refs) => {
                    for r in refs {
                        if checked.insert(r.value.clone()) {
                            change.check.push(r.clone());
                        }
                        removes.retain(|id| id != &r.value);
                        match adds.iter_mut().find(|a| a.value == r.value) {
                            Some(existing) => *existing = r.clone(),
                            None => adds.push(r.clone()),
                        }
                    }
                }
                MemberOp::Remove(ids) => {
                    adds.retain(|a| !ids.contains(&a.value));
                    for id in ids {
                        if !removes.contains(id) {
                            removes.push(id.clone());
                        }
                    }
                }
                MemberOp::RemoveAll | MemberOp::Replace(_) => {
                    change.clear = true;
                    adds.clear();
                    removes.clear();
                    if let MemberOp::Replace(refs) = op {
                        for r in refs {
                            if checked.insert(r.value.clone()) {
                                change.check.push(r.clone());
                            }
                            if !adds.iter().any(|a| a.value == r.value) {
                                adds.push(r.clone());
                            }
                        }
                    }
                }
            }
        }
        change.add = adds;
        change.remove = if change.clear { Vec::new() } else { removes };
        change
    }

    fn member_ref() -> impl Strategy<Value = MemberRef> {
        (
            0..6u8,
            proptest::option::of(prop_oneof![Just("User"), Just("Group")]),
        )
            .prop_map(|(id, member_type)| MemberRef {
                value: format!("m{id}"),
                member_type: member_type.map(str::to_owned),
            })
    }

    fn member_op() -> impl Strategy<Value = MemberOp> {
        let refs = || proptest::collection::vec(member_ref(), 0..5);
        prop_oneof![
            4 => refs().prop_map(MemberOp::Add),
            4 => proptest::collection::vec((0..6u8).prop_map(|id| format!("m{id}")), 0..5)
                .prop_map(MemberOp::Remove),
            1 => Just(MemberOp::RemoveAll),
            1 => refs().prop_map(MemberOp::Replace),
        ]
    }

    proptest! {
        #[test]
        fn the_linear_fold_agrees_with_the_scanning_one(
            ops in proptest::collection::vec(member_op(), 0..12)
        ) {
            prop_assert_eq!(net_membership(&ops), scanning_fold(&ops));
        }
    }

    #[test]
    fn a_fold_of_many_members_nets_each_once() {
        let many = |from: usize| (from..from + 10_000).map(|i| r(&format!("u{i}"))).collect();
        let change = net_membership(&[
            MemberOp::Add(many(0)),
            MemberOp::Remove((5_000..15_000).map(|i| format!("u{i}")).collect()),
            MemberOp::Add(many(10_000)),
        ]);
        assert_eq!(change.add.len(), 5_000 + 10_000);
        assert_eq!(change.add[0].value, "u0");
        assert_eq!(change.add[5_000].value, "u10000");
        assert_eq!(change.remove.len(), 5_000);
        assert_eq!(change.check.len(), 20_000);
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
    fn group_bodies_split_into_document_and_members() {
        let group = ResourceKind::Group;
        let (doc, members) = split_document(group, &json!({
            "displayName": "Ops", "members": [{"value": "u1", "type": "user"}, {"value": "u1"}, {"value": "g1", "$ref": null}]
        }))
        .unwrap();
        assert!(!doc.contains_key("members"));
        let members = members.unwrap();
        assert_eq!(ids(&members), ["u1", "g1"]);
        assert_eq!(members[0].member_type.as_deref(), Some("User"));
        let (_, none) = split_document(group, &json!({"displayName": "Ops"})).unwrap();
        assert!(none.is_none());
        let (_, empty) =
            split_document(group, &json!({"displayName": "Ops", "members": null})).unwrap();
        assert_eq!(empty, Some(Vec::new()));
        assert!(
            split_document(
                group,
                &json!({"displayName": "Ops", "members": [{"display": "x"}]})
            )
            .is_err()
        );
        assert!(
            split_document(
                group,
                &json!({"displayName": "Ops", "members": [{"value": "u", "type": "Robot"}]})
            )
            .is_err()
        );
        assert!(
            split_document(group, &json!({"members": []})).is_err(),
            "displayName is required"
        );
    }

    #[test]
    fn users_hold_no_members() {
        let (_, members) = split_document(ResourceKind::User, &json!({"userName": "ann"})).unwrap();
        assert!(members.is_none());
    }
}
