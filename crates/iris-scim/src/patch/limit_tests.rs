//! The limits of `crate::limits` as the PATCH engine enforces them: each refusal names its limit,
//! has the status the limit calls for, and leaves the document exactly as it was; requests at the
//! limits apply.

use serde_json::{Value, json};

use super::*;
use crate::error::ScimType;
use crate::limits::{MAX_MEMBERS_PER_OPERATION, MAX_PATCH_OPERATIONS, MAX_VALUES_PER_ATTRIBUTE};
use crate::schema::{PATCH_OP, group_type, user_type};

fn doc(v: Value) -> Document {
    v.as_object().cloned().unwrap_or_default()
}

fn request(ops: Vec<Value>) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn emails(range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|i| json!({"value": format!("e{i}@example.com")}))
        .collect()
}

fn user_with_emails(n: usize) -> Document {
    doc(json!({"userName": "u", "emails": emails(0..n)}))
}

/// Applies `ops` and asserts the refusal: its status, its `scimType`, that its detail names
/// `limit`, and that the document was left alone.
fn assert_refused(
    rt: &'static ResourceType,
    before: &Document,
    ops: Vec<Value>,
    status: u16,
    scim_type: Option<ScimType>,
    limit: &str,
) -> ScimError {
    let mut d = before.clone();
    let err = apply_patch(rt, &mut d, &request(ops)).unwrap_err();
    assert_eq!(err.status, status, "{err}");
    assert_eq!(err.scim_type, scim_type, "{err}");
    assert!(err.detail.contains(limit), "{err}");
    assert_eq!(&d, before, "a refused PATCH changes nothing");
    err
}

#[test]
fn a_patch_with_more_operations_than_the_limit_is_413_naming_it() {
    let before = user_with_emails(0);
    let op = json!({"op": "replace", "path": "displayName", "value": "x"});
    let mut d = before.clone();
    apply_patch(
        user_type(),
        &mut d,
        &request(vec![op.clone(); MAX_PATCH_OPERATIONS]),
    )
    .expect("a request at the limit applies");
    assert_eq!(d["displayName"], "x");
    let err = assert_refused(
        user_type(),
        &before,
        vec![op; MAX_PATCH_OPERATIONS + 1],
        413,
        None,
        "maxPatchOperations",
    );
    assert!(
        err.detail
            .contains(&format!("has {} operations", MAX_PATCH_OPERATIONS + 1)),
        "{err}"
    );
}

#[test]
fn the_issues_thousand_appends_apply_and_the_next_one_is_refused_naming_the_value_limit() {
    // Issue 18: one `add` of a new e-mail address per operation.
    let append =
        |i: usize| json!({"op": "add", "path": "emails", "value": [{"value": format!("e{i}@x")}]});
    let mut d = user_with_emails(0);
    let outcome = apply_patch(
        user_type(),
        &mut d,
        &request((0..MAX_VALUES_PER_ATTRIBUTE).map(append).collect()),
    )
    .expect("up to the limit");
    assert!(outcome.changed);
    assert_eq!(
        d["emails"].as_array().map(Vec::len),
        Some(MAX_VALUES_PER_ATTRIBUTE)
    );
    assert_eq!(d["emails"][999], json!({"value": "e999@x"}));
    let full = d.clone();
    let err = assert_refused(
        user_type(),
        &full,
        vec![append(0), append(MAX_VALUES_PER_ATTRIBUTE)],
        400,
        Some(ScimType::InvalidValue),
        "maxValuesPerAttribute",
    );
    assert!(err.detail.starts_with("Operations[1]: 'emails'"), "{err}");
    // Adding a value already held merges into it, so a full attribute still takes it.
    apply_patch(user_type(), &mut d, &request(vec![append(7)]))
        .expect("a value already held is merged, not added");
    assert_eq!(d, full);
}

#[test]
fn every_way_of_growing_a_multi_valued_attribute_is_held_to_the_limit() {
    let full = user_with_emails(MAX_VALUES_PER_ATTRIBUTE);
    let refusals = [
        // A whole new list, too long in itself.
        json!({"op": "replace", "path": "emails", "value": emails(0..MAX_VALUES_PER_ATTRIBUTE + 1)}),
        // A path-less value, as Entra's flag mode sends it.
        json!({"op": "replace", "value": {"emails": emails(5..MAX_VALUES_PER_ATTRIBUTE + 6)}}),
        // Entra's value-path upsert creating one more element.
        json!({"op": "add", "path": "emails[type eq \"work\"].value", "value": "w@example.com"}),
        // Several new values in one add.
        json!({"op": "add", "path": "emails", "value": emails(MAX_VALUES_PER_ATTRIBUTE..MAX_VALUES_PER_ATTRIBUTE + 20)}),
    ];
    for op in refusals {
        assert_refused(
            user_type(),
            &full,
            vec![op],
            400,
            Some(ScimType::InvalidValue),
            "maxValuesPerAttribute",
        );
    }
}

#[test]
fn a_stored_attribute_over_the_limit_does_not_block_other_changes_and_can_be_shrunk() {
    // Stored before the limit existed (PostgreSQL accepted the issue's 8,000 e-mail addresses).
    let legacy = user_with_emails(3 * MAX_VALUES_PER_ATTRIBUTE);
    let mut d = legacy.clone();
    apply_patch(
        user_type(),
        &mut d,
        &request(vec![
            json!({"op": "replace", "path": "active", "value": "False"}),
        ]),
    )
    .expect("a disable never depends on the other attributes");
    assert_eq!(d["active"], false);
    assert_eq!(d["emails"], legacy["emails"]);
    assert_refused(
        user_type(),
        &legacy,
        vec![json!({"op": "add", "path": "emails", "value": [{"value": "new@x"}]})],
        400,
        Some(ScimType::InvalidValue),
        "maxValuesPerAttribute",
    );
    let mut d = legacy.clone();
    apply_patch(
        user_type(),
        &mut d,
        &request(vec![
            json!({"op": "replace", "path": "emails", "value": [{"value": "only@x"}]}),
        ]),
    )
    .expect("a replace within the limit repairs it");
    assert_eq!(d["emails"], json!([{"value": "only@x"}]));
}

#[test]
fn a_members_operation_naming_more_members_than_the_limit_is_413_and_groups_grow_past_it() {
    let group = doc(json!({"displayName": "Everyone"}));
    let members =
        |n: usize| -> Vec<Value> { (0..n).map(|i| json!({"value": format!("m-{i}")})).collect() };
    // Several operations at the limit: members are not values of the document, so a group
    // takes any number of them.
    let mut d = group.clone();
    let outcome = apply_patch(
        group_type(),
        &mut d,
        &request(vec![
            json!({"op": "add", "path": "members", "value": members(MAX_MEMBERS_PER_OPERATION)}),
            json!({"op": "add", "path": "members", "value": members(MAX_MEMBERS_PER_OPERATION)}),
        ]),
    )
    .expect("at the limit");
    assert_eq!(outcome.member_ops.len(), 2);
    assert!(
        matches!(&outcome.member_ops[0], MemberOp::Add(refs) if refs.len() == MAX_MEMBERS_PER_OPERATION)
    );
    assert_eq!(d, group, "members never enter the document");
    for op in ["add", "replace", "remove"] {
        assert_refused(
            group_type(),
            &group,
            vec![
                json!({"op": op, "path": "members", "value": members(MAX_MEMBERS_PER_OPERATION + 1)}),
            ],
            413,
            None,
            "maxMembersPerPatchOperation",
        );
    }
}
