//! Property: PATCH through the server equals PATCH in memory. For random user documents and random
//! Entra-shaped PATCH requests, what a GET returns after the PATCH is exactly what applying the
//! same request to the same document with `iris_scim::patch::apply_patch` gives; and a rejected
//! PATCH leaves the stored user untouched.

use iris_scim::resource::document_from_request;
use iris_scim::schema::{ENTERPRISE_USER, PATCH_OP, user_type};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::harness::TestApp;

const CASES: usize = 40;

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z]{1,8}",
        Just("Émile".to_owned()),
        Just("straße".to_owned())
    ]
}

fn user_document() -> impl Strategy<Value = Value> {
    (
        word(),
        proptest::option::of(word()),
        proptest::option::of(any::<bool>()),
        proptest::collection::vec((word(), prop::sample::select(vec!["work", "home", "other"])), 0..3),
        proptest::option::of(word()),
    )
        .prop_map(|(given, title, active, emails, department)| {
            let mut doc = Map::new();
            doc.insert("name".into(), json!({"givenName": given, "familyName": "F"}));
            if let Some(t) = title {
                doc.insert("title".into(), json!(t));
            }
            if let Some(a) = active {
                doc.insert("active".into(), json!(a));
            }
            let emails: Vec<Value> = emails
                .iter()
                .enumerate()
                .map(|(i, (local, kind))| json!({"value": format!("{local}{i}@example.com"), "type": kind}))
                .collect();
            if !emails.is_empty() {
                doc.insert("emails".into(), Value::Array(emails));
            }
            if let Some(d) = department {
                doc.insert(ENTERPRISE_USER.into(), json!({"department": d}));
            }
            Value::Object(doc)
        })
}

fn operation() -> impl Strategy<Value = Value> {
    let set = prop::sample::select(vec!["add", "Add", "replace", "Replace"]);
    let simple = prop::sample::select(vec![
        "displayName",
        "title",
        "nickName",
        "name.givenName",
        "name.formatted",
        "externalId",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    ]);
    let valued = prop::sample::select(vec![
        "emails[type eq \"work\"].value",
        "phoneNumbers[type eq \"mobile\"].value",
        "phoneNumbers[type eq \"work\"].value",
    ]);
    prop_oneof![
        (set.clone(), simple.clone(), word())
            .prop_map(|(op, path, v)| json!({"op": op, "path": path, "value": v})),
        simple.prop_map(|path| json!({"op": "Remove", "path": path})),
        (
            set.clone(),
            prop::sample::select(vec![
                json!("True"),
                json!("False"),
                json!(true),
                json!(false)
            ])
        )
            .prop_map(|(op, v)| json!({"op": op, "path": "active", "value": v})),
        (set.clone(), valued.clone(), word()).prop_map(
            |(op, path, v)| json!({"op": op, "path": path, "value": format!("{v}@x.org")})
        ),
        valued.prop_map(|path| json!({"op": "Remove", "path": path, "value": "old@x.org"})),
        (word(), word()).prop_map(|(g, d)| json!({"op": "replace", "value": {
            "name.givenName": g,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": d
        }})),
        // Sometimes invalid: the whole request must then change nothing.
        Just(json!({"op": "replace", "path": "active", "value": "maybe"})),
        Just(json!({"op": "remove", "path": "userName"})),
        Just(json!({"op": "replace", "path": "nosuch.attribute", "value": "x"})),
    ]
}

fn patch_request() -> impl Strategy<Value = Value> {
    proptest::collection::vec(operation(), 0..5)
        .prop_map(|ops| json!({"schemas": [PATCH_OP], "Operations": ops}))
}

/// What a client reads, less what the server assigns (`id`, `meta`, `schemas`).
fn payload(resource: &Value) -> Map<String, Value> {
    let mut out = resource.as_object().cloned().unwrap_or_default();
    for key in ["id", "meta", "schemas"] {
        out.shift_remove(key);
    }
    out
}

async fn patching_over_http_equals_patching_in_memory(app: TestApp) -> TestApp {
    let mut runner = TestRunner::deterministic();
    let strategy = (user_document(), patch_request());
    for case in 0..CASES {
        let (mut body, patch) = strategy.new_tree(&mut runner).unwrap().current();
        body["userName"] = json!(format!("user{case}@example.com"));
        let id = app.create_user(&body).await;
        let before = app.get_user(&id).await;

        let mut expected = document_from_request(user_type(), &body).unwrap();
        let in_memory = iris_scim::patch::apply_patch(user_type(), &mut expected, &patch);

        let reply = app.patch(&format!("/Users/{id}"), &patch).await;
        let after = app.get_user(&id).await;
        match in_memory {
            Ok(_) => {
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "case {case}: {patch} -> {}",
                    reply.text
                );
                assert_eq!(payload(&after), expected, "case {case}: {patch}");
                assert_eq!(
                    payload(&reply.body),
                    expected,
                    "case {case}: the PATCH response is the stored state"
                );
            }
            Err(e) => {
                assert_eq!(
                    reply.status.as_u16(),
                    e.status,
                    "case {case}: {patch} -> {}",
                    reply.text
                );
                assert_eq!(
                    after, before,
                    "case {case}: a rejected PATCH changed the user: {patch}"
                );
            }
        }
    }
    app
}

crate::on_both_backends!(patching_over_http_equals_patching_in_memory);
