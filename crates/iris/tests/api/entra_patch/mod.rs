//! Every PATCH example of entra-compat §3.5 (3.5.1 shapes and observed wire variants, 3.5.2,
//! 3.5.3), §3.6, the group lifecycle of §4, the SCIM Validator catalog of §7.2 and the quirks
//! Q1–Q8 and Q16 of §8, sent over HTTP. Each test reads the STORED state back with a GET and
//! compares the whole resource (less `meta`) with what the example must produce, so "nothing else
//! was touched" is checked too, and every stored resource is checked for duplicate elements,
//! string booleans and leaked dotted/URN keys.

mod groups;
mod quirks;
mod users_documented;
mod users_responses;
mod users_variants;
mod validator_groups;
mod validator_paths;
mod validator_users;

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{ENTERPRISE, SCIM_JSON, TestApp, entra_group, patch_body, without_meta};

/// Fails on what an Entra PATCH must never leave behind: duplicate elements of a multi-valued
/// attribute, two values of one `type` in emails/phoneNumbers/addresses, more than one primary,
/// `active`/`primary` stored as anything but JSON booleans, and flattened keys
/// (`"name.givenName"`, `"urn:…:employeeNumber"`) stored as attributes.
#[track_caller]
fn assert_well_formed(resource: &Value) {
    fn walk(path: &str, v: &Value, top: bool) {
        match v {
            Value::Object(fields) => {
                for (k, child) in fields {
                    let here = format!("{path}/{k}");
                    if k.eq_ignore_ascii_case("active") || k.eq_ignore_ascii_case("primary") {
                        assert!(child.is_boolean(), "{here} is not a JSON boolean: {child}");
                    }
                    if top {
                        assert!(
                            k.starts_with("urn:") || !k.contains('.'),
                            "a dotted key was stored: {here}"
                        );
                        assert!(
                            !k.starts_with("urn:") || k == ENTERPRISE,
                            "an unknown URN key was stored: {here}"
                        );
                    }
                    if let Value::Array(items) = child {
                        for (i, a) in items.iter().enumerate() {
                            for b in &items[i + 1..] {
                                assert_ne!(a, b, "{here} holds a duplicate element");
                            }
                        }
                        let primaries = items.iter().filter(|e| e["primary"] == true).count();
                        assert!(primaries <= 1, "{here} has {primaries} primaries");
                        if ["emails", "phoneNumbers", "addresses"].contains(&k.as_str()) {
                            let types: Vec<&Value> =
                                items.iter().filter_map(|e| e.get("type")).collect();
                            let unique: BTreeSet<String> =
                                types.iter().map(|t| t.to_string()).collect();
                            assert_eq!(unique.len(), types.len(), "{here}: a type twice");
                        }
                        if k == "members" {
                            let ids: BTreeSet<String> =
                                items.iter().map(|m| m["value"].to_string()).collect();
                            assert_eq!(ids.len(), items.len(), "{here}: a member twice");
                        }
                    }
                    walk(&here, child, false);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&format!("{path}[{i}]"), item, false);
                }
            }
            _ => {}
        }
    }
    walk("", resource, true);
}

/// GET of a user, checked for well-formedness, without `meta`.
async fn stored_user(app: &TestApp, id: &str) -> Value {
    let reply = app
        .get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.content_type(), SCIM_JSON);
    assert_well_formed(&reply.body);
    without_meta(&reply.body)
}

/// PATCHes a user, expects 200 with the stored resource (entra-compat §3.5.3) and returns the
/// stored resource (less `meta`) as a later GET reads it.
async fn patch_and_read(app: &TestApp, id: &str, ops: Value) -> Value {
    patch_and_read_at(app, &format!("/Users/{id}"), id, ops).await
}

/// [`patch_and_read`] through another URL of the same user (with a query flag, say).
async fn patch_and_read_at(app: &TestApp, url: &str, id: &str, ops: Value) -> Value {
    let reply = app
        .patch(url, &patch_body(ops.clone()))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.content_type(), SCIM_JSON, "{ops}");
    let got = app
        .get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body, got.body, "the PATCH answer is the stored user");
    assert_well_formed(&got.body);
    without_meta(&got.body)
}

/// Creates a user and returns its id and its stored form (less `meta`).
async fn create_and_read(app: &TestApp, body: &Value) -> (String, Value) {
    let id = app.create_user(body).await;
    let stored = stored_user(app, &id).await;
    (id, stored)
}

/// Creates `user`, PATCHes it with `ops`, and asserts that the stored user is the created one with
/// exactly `changes` at the top level (a `null` removes a key); returns the user's id.
async fn assert_patch_changes(app: &TestApp, user: &Value, ops: Value, changes: Value) -> String {
    let (id, before) = create_and_read(app, user).await;
    let after = patch_and_read(app, &id, ops.clone()).await;
    assert_eq!(after, with(&before, changes), "{ops}");
    id
}

/// PATCHes a group and expects Entra's preferred answer: 204 with no body.
async fn patch_group_204(app: &TestApp, id: &str, ops: Value) {
    let reply = app
        .patch_group(id, ops)
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty(), "{}", reply.text);
}

/// `n` new users (`{prefix}{i}@example.com`) in Entra's group (§4), added by one default-dialect
/// `Add` of a value array; returns the users and the group's id.
async fn entra_group_with_members(app: &TestApp, prefix: &str, n: usize) -> (Vec<String>, String) {
    let users = app.create_users(prefix, n).await;
    let g = app.create_group(&entra_group()).await;
    let value: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
    patch_group_204(
        app,
        &g,
        json!([{"op":"Add","path":"members","value": value}]),
    )
    .await;
    (users, g)
}

/// GET of a group, checked for well-formedness, without `meta` and `members`, plus the member ids.
async fn stored_group(app: &TestApp, id: &str) -> (Value, BTreeSet<String>) {
    let reply = app
        .get(&format!("/Groups/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_well_formed(&reply.body);
    let mut doc = without_meta(&reply.body);
    let members = doc
        .as_object_mut()
        .unwrap()
        .shift_remove("members")
        .unwrap_or_else(|| json!([]));
    let ids = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["type"], "User", "{m}");
            m["value"].as_str().unwrap().to_owned()
        })
        .collect();
    (doc, ids)
}

/// `expected` with `changes` merged over the top level (`null` removes a key).
fn with(expected: &Value, changes: Value) -> Value {
    let mut out = expected.clone();
    let map = out.as_object_mut().unwrap();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            map.shift_remove(k);
        } else {
            map.insert(k.clone(), v.clone());
        }
    }
    out
}
