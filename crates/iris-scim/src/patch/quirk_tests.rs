//! Which Entra forms a PATCH reports as quirks (entra-compat §8), and that the RFC's own forms
//! report none.

use serde_json::{Value, json};

use super::apply_patch;
use crate::quirks::Quirk;
use crate::resource::{self, Document};
use crate::schema::{group_type, user_type};

fn user() -> Document {
    resource::document_from_request(
        user_type(),
        &json!({"userName": "ann@example.com", "name": {"givenName": "Ann"},
                "emails": [{"type": "work", "value": "ann@example.com"}]}),
    )
    .unwrap()
}

fn quirks_of(doc: &mut Document, ops: Value, group: bool) -> Vec<Quirk> {
    let rt = if group { group_type() } else { user_type() };
    apply_patch(rt, doc, &json!({"Operations": ops}))
        .unwrap()
        .quirks
}

#[test]
fn each_entra_form_is_named_and_rfc_forms_are_not() {
    let cases: Vec<(Value, bool, Vec<Quirk>)> = vec![
        (
            json!([{"op": "replace", "path": "title", "value": "Dr"}]),
            false,
            vec![],
        ),
        (
            json!([{"op": "Replace", "path": "title", "value": "Dr"}]),
            false,
            vec![Quirk::OpNameCase],
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "False"}]),
            false,
            vec![Quirk::StringBoolean],
        ),
        (
            json!([{"op": "replace", "path": "active", "value": false}]),
            false,
            vec![],
        ),
        (
            json!([{"op": "replace", "value": {"name.familyName": "Smith"}}]),
            false,
            vec![Quirk::PathlessDottedKey],
        ),
        (
            json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D"}}]),
            false,
            vec![Quirk::PathlessDottedKey],
        ),
        (
            json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}}}]),
            false,
            vec![],
        ),
        (
            json!([{"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"}]),
            false,
            vec![Quirk::ValuePathUpsert],
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]),
            false,
            vec![],
        ),
        (
            json!([{"op": "remove", "path": "emails[type eq \"work\"].value", "value": "ann@example.com"}]),
            false,
            vec![Quirk::IgnoredRemoveValue],
        ),
        (
            json!([{"op": "remove", "path": "emails", "value": [{"value": "ann@example.com", "type": "work"}]}]),
            false,
            vec![Quirk::RemoveByValue],
        ),
        (
            json!([{"op": "replace", "path": "displayName", "value": [{"value": "Ann E."}]}]),
            false,
            vec![Quirk::WrappedSimpleValue],
        ),
        (
            json!([{"op": "replace", "path": "urn:example:custom:2.0:User:badge", "value": "7"}]),
            false,
            vec![Quirk::IgnoredExtension],
        ),
        (
            json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}]),
            true,
            vec![Quirk::OpNameCase, Quirk::RemoveByValue],
        ),
        (
            json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
            true,
            vec![],
        ),
    ];
    for (ops, group, expected) in cases {
        let mut doc = if group {
            resource::document_from_request(group_type(), &json!({"displayName": "G"})).unwrap()
        } else {
            user()
        };
        assert_eq!(quirks_of(&mut doc, ops.clone(), group), expected, "{ops}");
    }
}

#[test]
fn a_refused_patch_reports_nothing_and_leaves_no_quirk_behind() {
    let mut doc = user();
    let refused = apply_patch(
        user_type(),
        &mut doc,
        &json!({"Operations": [{"op": "Replace", "path": "emails[type eq]", "value": "x"}]}),
    );
    assert!(refused.is_err());
    let next = quirks_of(
        &mut doc,
        json!([{"op": "replace", "path": "title", "value": "x"}]),
        false,
    );
    assert!(next.is_empty(), "{next:?}");
}
