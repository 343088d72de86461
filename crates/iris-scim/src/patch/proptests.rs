//! Property: whatever sequence of (Entra-shaped) operations a client sends, PATCH either fails and
//! leaves the document alone, or stores a document that a PUT of the same content would store
//! unchanged: canonical names, typed values, no blanks, at most one primary.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::apply_patch;
use crate::resource::{Document, document_from_request};
use crate::schema::{ENTERPRISE_USER, PATCH_OP, user_type};

fn base() -> Document {
    let v = json!({
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        ENTERPRISE_USER: {"department": "R&D"}
    });
    v.as_object().cloned().unwrap_or_default()
}

fn text() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("")),
        Just(Value::Null),
        "[a-z]{1,6}".prop_map(Value::from)
    ]
}

fn boolean() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!(true),
        json!(false),
        json!("True"),
        json!("False"),
        json!("true"),
    ])
}

fn set_op() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["add", "Add", "replace", "Replace"])
}

fn simple_path() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "displayName",
        "nickName",
        "title",
        "externalId",
        "name.givenName",
        "NAME.familyName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    ])
}

fn multi() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["emails", "phoneNumbers", "roles", "entitlements"])
}

fn kind() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["work", "home", "other"])
}

fn manager_value() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!("m-1"),
        json!({"value": "m-2"}),
        json!([{"value": "m-3", "$ref": null}]),
        json!({"value": ""}),
        json!(""),
    ])
}

fn operation() -> impl Strategy<Value = Value> {
    prop_oneof![
        (set_op(), simple_path(), text()).prop_map(|(op, path, v)| json!({"op": op, "path": path, "value": v})),
        simple_path().prop_map(|path| json!({"op": "Remove", "path": path})),
        (set_op(), boolean()).prop_map(|(op, v)| json!({"op": op, "path": "active", "value": v})),
        (set_op(), multi(), kind(), text()).prop_map(|(op, attr, t, v)| {
            json!({"op": op, "path": format!("{attr}[type eq \"{t}\"].value"), "value": v})
        }),
        (set_op(), multi(), kind(), boolean()).prop_map(|(op, attr, t, v)| {
            json!({"op": op, "path": format!("{attr}[type eq \"{t}\"].primary"), "value": v})
        }),
        (multi(), kind(), prop::sample::select(vec!["", ".value", ".display"])).prop_map(
            |(attr, t, sub)| json!({"op": "remove", "path": format!("{attr}[type eq \"{t}\"]{sub}"), "value": "old"})
        ),
        (set_op(), multi(), kind(), text(), boolean()).prop_map(|(op, attr, t, v, p)| {
            json!({"op": op, "path": attr, "value": [{"value": v, "type": t, "primary": p}]})
        }),
        (multi(), text()).prop_map(|(attr, v)| json!({"op": "Remove", "path": attr, "value": [{"value": v}]})),
        (set_op(), kind(), prop::sample::select(vec!["formatted", "locality", "region"]), text())
            .prop_map(|(op, t, field, v)| {
                json!({"op": op, "path": format!("addresses[type eq \"{t}\"].{field}"), "value": v})
            }),
        (set_op(), manager_value()).prop_map(|(op, v)| {
            json!({"op": op, "path": format!("{ENTERPRISE_USER}:manager"), "value": v})
        }),
        Just(json!({"op": "remove", "path": format!("{ENTERPRISE_USER}:manager")})),
        // Invalid operations, so that failing requests are exercised too.
        prop::sample::select(vec![
            json!({"op": "replace", "path": "active", "value": "maybe"}),
            json!({"op": "remove", "path": "userName"}),
            json!({"op": "add", "path": "emails", "value": [
                {"value": "a@x.org", "primary": true}, {"value": "b@x.org", "primary": true}
            ]}),
        ]),
        (set_op(), text(), text(), text()).prop_map(|(op, a, b, c)| {
            json!({"op": op, "value": {
                "displayName": a,
                "name.givenName": b,
                format!("{ENTERPRISE_USER}:costCenter"): c,
                ENTERPRISE_USER: {"division": b},
                "id": "ignored"
            }})
        }),
    ]
}

fn body(ops: Vec<Value>) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// The document survives a PUT of itself unchanged.
fn assert_canonical(doc: &Document) -> Result<(), TestCaseError> {
    let stored = document_from_request(user_type(), &Value::Object(doc.clone()))
        .map_err(|e| TestCaseError::fail(format!("{e}: {}", Value::Object(doc.clone()))))?;
    prop_assert_eq!(&stored, doc);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn patched_documents_are_canonical_and_failures_change_nothing(
        ops in prop::collection::vec(operation(), 0..10)
    ) {
        // One request with every operation: atomic.
        let mut doc = base();
        match apply_patch(user_type(), &mut doc, &body(ops.clone())) {
            Ok(outcome) => {
                assert_canonical(&doc)?;
                prop_assert_eq!(outcome.changed, doc != base());
            }
            Err(_) => prop_assert_eq!(&doc, &base()),
        }
        // The same operations one request at a time: every intermediate document is canonical.
        let mut doc = base();
        for op in ops {
            let before = doc.clone();
            match apply_patch(user_type(), &mut doc, &body(vec![op])) {
                Ok(outcome) => {
                    assert_canonical(&doc)?;
                    prop_assert_eq!(outcome.changed, doc != before);
                }
                Err(_) => prop_assert_eq!(&doc, &before),
            }
        }
    }
}
