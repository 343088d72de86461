//! Every PATCH example of entra-compat §3.5 (3.5.1 shapes and observed wire variants, 3.5.2,
//! 3.5.3), §3.6, the group lifecycle of §4, the SCIM Validator catalog of §7.2 and the quirks
//! Q1–Q8 and Q16 of §8, sent over HTTP. Each test reads the STORED state back with a GET and
//! compares the whole resource (less `meta`) with what the example must produce, so "nothing else
//! was touched" is checked too, and every stored resource is checked for duplicate elements,
//! string booleans and leaked dotted/URN keys.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Reply, SCIM_JSON, TestApp};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn patch_body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// The user Entra creates in entra-compat §3.3, verbatim.
fn entra_user() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": true,
        "emails": [{"primary": true, "type": "work",
                    "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    })
}

/// A user with a bit of everything, so "nothing else was touched" means something.
fn rich_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "externalId": "ext-rich",
        "displayName": "Rich User",
        "title": "Engineer",
        "active": true,
        "name": {"givenName": "Rich", "familyName": "User", "formatted": "Rich User"},
        "emails": [
            {"value": "rich@work.example", "type": "work", "primary": true},
            {"value": "rich@home.example", "type": "home"}
        ],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}],
        ENTERPRISE: {"department": "R&D", "employeeNumber": "42"}
    })
}

/// The resource without `meta` (which the server assigns and moves on every write).
fn without_meta(resource: &Value) -> Value {
    let mut out = resource.clone();
    out.as_object_mut()
        .unwrap_or_else(|| panic!("not an object: {resource}"))
        .shift_remove("meta");
    out
}

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
async fn patch_user(app: &TestApp, id: &str, ops: Value) -> Value {
    patch_user_at(app, &format!("/Users/{id}"), id, ops).await
}

async fn patch_user_at(app: &TestApp, url: &str, id: &str, ops: Value) -> Value {
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
async fn create(app: &TestApp, body: &Value) -> (String, Value) {
    let id = app.create_user(body).await;
    let stored = stored_user(app, &id).await;
    (id, stored)
}

async fn create_group(app: &TestApp, body: &Value) -> String {
    let reply = app.post("/Groups", body).await.expect(StatusCode::CREATED);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn patch_group(app: &TestApp, id: &str, ops: Value) -> Reply {
    app.patch(&format!("/Groups/{id}"), &patch_body(ops)).await
}

/// PATCHes a group and expects Entra's preferred answer: 204 with no body.
async fn patch_group_204(app: &TestApp, id: &str, ops: Value) {
    let reply = patch_group(app, id, ops)
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty(), "{}", reply.text);
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

fn ids(list: &[&String]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).clone()).collect()
}

async fn list_groups(app: &TestApp, params: &[(&str, &str)]) -> Reply {
    let q = serde_urlencoded::to_string(params).unwrap();
    app.get(&format!("/Groups?{q}")).await
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

// ---------------------------------------------------------------------------------------------
// §3.5.1 Default (non-flag) job: the documented shapes.
// ---------------------------------------------------------------------------------------------

/// entra-compat §3.5.1: multiple attributes, each with its own capitalised op and path.
async fn default_mode_replaces_several_attributes_each_with_its_own_op(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    let ops = json!([
        {"op":"Replace","path":"displayName","value":"Pvlo"},
        {"op":"Replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},
        {"op":"Replace","path":"name.givenName","value":"Gtfd"},
        {"op":"Replace","path":"name.familyName","value":"Pkqf"},
        {"op":"Replace","path":"externalId","value":"Eqpj"},
        {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Eqpj"}
    ]);
    let after = patch_user(&app, &id, ops.clone()).await;
    let expected = with(
        &before,
        json!({
            "schemas": [USER, ENTERPRISE],
            "displayName": "Pvlo",
            "externalId": "Eqpj",
            "emails": [{"primary": true, "type": "work", "value": "TestBcwqnm@test.microsoft.com"}],
            "name": {"formatted": "givenName familyName", "familyName": "Pkqf", "givenName": "Gtfd"},
            ENTERPRISE: {"employeeNumber": "Eqpj"}
        }),
    );
    assert_eq!(after, expected);
    // Entra resends the same update on its next cycle: nothing is duplicated.
    assert_eq!(patch_user(&app, &id, ops).await, expected);
    app
}

/// entra-compat §3.5.1: a single-valued attribute set for the first time with `Add`.
async fn default_mode_add_sets_nick_name_for_the_first_time(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    assert!(before.get("nickName").is_none());
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"Add","path":"nickName","value":"Babs"}]),
    )
    .await;
    assert_eq!(after, with(&before, json!({"nickName": "Babs"})));
    app
}

/// entra-compat §3.5.1: Disable with the string boolean `"False"`, stored as JSON `false`.
async fn default_mode_disable_with_string_false(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"Replace","path":"active","value":"False"}]),
    )
    .await;
    assert_eq!(after["active"], json!(false));
    assert_eq!(after, with(&before, json!({"active": false})));
    app
}

/// entra-compat §3.5.1: D1's own Disable example, `"op":"Replace"` with a JSON `false`.
async fn default_mode_disable_with_json_false(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"Replace","path":"active","value":false}]),
    )
    .await;
    assert_eq!(after, with(&before, json!({"active": false})));
    app
}

/// entra-compat §3.5.1: Rename (`Replace userName`); the old name no longer matches, the new one
/// does.
async fn default_mode_rename_user_name(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    let new_name = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com";
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"Replace","path":"userName","value":new_name}]),
    )
    .await;
    assert_eq!(after, with(&before, json!({"userName": new_name})));
    let found = app
        .filter_users(&format!("userName eq \"{new_name}\""))
        .await
        .expect(StatusCode::OK);
    assert_eq!(found.id_list(), vec![id.clone()]);
    let old = app
        .filter_users("userName eq \"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee\"")
        .await
        .expect(StatusCode::OK);
    assert_eq!(old.body["totalResults"], 0);
    app
}

/// entra-compat §3.5.1: Manager "Example 5", the legacy bare path `manager` with an array value
/// carrying a `$ref`; it lands in the enterprise extension.
async fn default_mode_legacy_manager_add_with_ref_array(app: TestApp) -> TestApp {
    let boss = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let (id, before) = create(&app, &entra_user()).await;
    let reference = format!("{}/Users/{boss}", app.tenant_url);
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"Add","path":"manager","value":[{"$ref": reference, "value": boss}]}]),
    )
    .await;
    // Stored exactly as sent, `$ref` included, under the enterprise extension.
    assert_eq!(
        after,
        with(
            &before,
            json!({"schemas": [USER, ENTERPRISE],
                   ENTERPRISE: {"manager": {"$ref": reference, "value": boss}}})
        )
    );
    assert!(
        after.get("manager").is_none(),
        "not stored at the top level"
    );
    app
}

// ---------------------------------------------------------------------------------------------
// §3.5.1 Observed wire variants in default mode.
// ---------------------------------------------------------------------------------------------

/// entra-compat §3.5.1, observed variant: mixed `Replace` and `Add` in one request (work email,
/// work address formatted, enterprise department).
async fn observed_mixed_replace_and_add_in_one_request(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    let after = patch_user(
        &app,
        &id,
        json!([
            {"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@example.com"},
            {"op":"Replace","path":"addresses[type eq \"work\"].formatted","value":"1 Main St\nSpringfield"},
            {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}
        ]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &before,
            json!({
                "schemas": [USER, ENTERPRISE],
                "emails": [{"primary": true, "type": "work", "value": "new@example.com"}],
                "addresses": [{"type": "work", "formatted": "1 Main St\nSpringfield"}],
                ENTERPRISE: {"department": "Sales"}
            })
        )
    );
    app
}

/// entra-compat §3.5.1, observed variant: `Add` on `emails[type eq "work"].value` when the user
/// has no work email creates it.
async fn observed_add_on_a_missing_work_email_creates_it(app: TestApp) -> TestApp {
    let (id, before) = create(
        &app,
        &json!({"userName": "nowork@example.com",
                "emails": [{"type": "home", "value": "home@example.com"}]}),
    )
    .await;
    let ops =
        json!([{"op":"Add","path":"emails[type eq \"work\"].value","value":"work@example.com"}]);
    let expected = with(
        &before,
        json!({"emails": [
            {"type": "home", "value": "home@example.com"},
            {"type": "work", "value": "work@example.com"}
        ]}),
    );
    assert_eq!(patch_user(&app, &id, ops.clone()).await, expected);
    assert_eq!(
        patch_user(&app, &id, ops).await,
        expected,
        "a second Add finds the element it created"
    );
    app
}

/// entra-compat §3.5.1, observed variant: `Replace` on a missing work email upserts (never 400
/// `noTarget`).
async fn observed_replace_on_a_missing_work_email_upserts(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &json!({"userName": "noemail@example.com"})).await;
    let ops =
        json!([{"op":"Replace","path":"emails[type eq \"work\"].value","value":"w@example.com"}]);
    let expected = with(
        &before,
        json!({"emails": [{"type": "work", "value": "w@example.com"}]}),
    );
    assert_eq!(patch_user(&app, &id, ops.clone()).await, expected);
    assert_eq!(patch_user(&app, &id, ops).await, expected);
    app
}

/// entra-compat §3.5.1, observed variant: `Remove` with a value on a value path removes the
/// element and does not set the value.
async fn observed_remove_with_a_value_on_a_value_path(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &rich_user("rmv@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"Remove","path":"emails[type eq \"work\"].value","value":"updated@example.org"}]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &before,
            json!({"emails": [{"value": "rich@home.example", "type": "home"}]})
        )
    );
    for email in ["updated@example.org", "rich@work.example"] {
        let found = app
            .filter_users(&format!("emails.value eq \"{email}\""))
            .await
            .expect(StatusCode::OK);
        assert_eq!(found.body["totalResults"], 0, "{email}");
    }
    app
}

/// entra-compat §3.5.1, observed variant: several ops on one filtered element
/// (`addresses[type eq "work"].formatted`, `.locality`, `.region`) build ONE address.
async fn observed_several_ops_on_one_filter_build_one_address(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    let ops = json!([
        {"op":"Add","path":"addresses[type eq \"work\"].formatted","value":"1 Main St, Springfield"},
        {"op":"Add","path":"addresses[type eq \"work\"].locality","value":"Springfield"},
        {"op":"Replace","path":"addresses[type eq \"work\"].region","value":"IL"}
    ]);
    let expected = with(
        &before,
        json!({"addresses": [{"type": "work", "formatted": "1 Main St, Springfield",
                              "locality": "Springfield", "region": "IL"}]}),
    );
    assert_eq!(patch_user(&app, &id, ops.clone()).await, expected);
    assert_eq!(patch_user(&app, &id, ops).await, expected, "still one");
    // And onto an address that already exists, with other types around.
    let (id, before) = create(&app, &rich_user("addr@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([
            {"op":"Replace","path":"addresses[type eq \"work\"].locality","value":"Shelbyville"},
            {"op":"Replace","path":"addresses[type eq \"work\"].region","value":"IL"},
            {"op":"Replace","path":"addresses[type eq \"other\"].formatted","value":"Building 7"}
        ]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &before,
            json!({"addresses": [
                {"type": "work", "streetAddress": "1 Main St", "locality": "Shelbyville", "region": "IL"},
                {"type": "other", "formatted": "Building 7"}
            ]})
        )
    );
    app
}

/// entra-compat §3.5.1, observed variant: `value` as a bare string with a leading space, stored
/// exactly as sent.
async fn observed_bare_string_value_is_stored_as_sent(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"Replace","path":"displayName","value":" User X"}]),
    )
    .await;
    assert_eq!(after, with(&before, json!({"displayName": " User X"})));
    app
}

/// entra-compat §3.5.1, observed variant: booleans as `"False"`/`"True"` and lowercase
/// `"false"`/`"true"`, each stored as a JSON boolean.
async fn observed_string_booleans_in_any_case_are_stored_as_booleans(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    for (sent, stored) in [
        (json!("False"), false),
        (json!("True"), true),
        (json!("false"), false),
        (json!("true"), true),
        (json!("FALSE"), false),
        (json!(true), true),
    ] {
        let after = patch_user(
            &app,
            &id,
            json!([{"op":"Replace","path":"active","value":sent}]),
        )
        .await;
        assert_eq!(after, with(&before, json!({"active": stored})), "{sent}");
    }
    let inactive = app
        .filter_users("active eq false")
        .await
        .expect(StatusCode::OK);
    assert_eq!(inactive.body["totalResults"], 0);
    app
}

/// entra-compat §3.5.1, observed variant: a multi-valued attribute gets `Add` with a value array
/// (instead of `Replace`): the values are appended, never duplicated.
async fn observed_add_with_a_value_array_appends_without_duplicates(app: TestApp) -> TestApp {
    let (id, before) = create(
        &app,
        &json!({"userName": "roles@example.com", "roles": [{"value": "reader"}]}),
    )
    .await;
    let ops = json!([{"op":"Add","path":"roles","value":[{"value":"writer"},{"value":"reader"}]}]);
    let expected = with(
        &before,
        json!({"roles": [{"value": "reader"}, {"value": "writer"}]}),
    );
    assert_eq!(patch_user(&app, &id, ops.clone()).await, expected);
    assert_eq!(patch_user(&app, &id, ops).await, expected);
    app
}

// ---------------------------------------------------------------------------------------------
// §3.5.2 With aadOptscim062020.
// ---------------------------------------------------------------------------------------------

/// entra-compat §3.5.2: disable with a lowercase op and a JSON boolean, flag in the URL.
async fn compliant_mode_disable_with_boolean_false(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    let after = patch_user_at(
        &app,
        &format!("/Users/{id}?aadOptscim062020"),
        &id,
        json!([{"op":"replace","path":"active","value":false}]),
    )
    .await;
    assert_eq!(after, with(&before, json!({"active": false})));
    app
}

/// entra-compat §3.5.2: add of a single-valued string, lowercase op.
async fn compliant_mode_add_nick_name(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    let after = patch_user_at(
        &app,
        &format!("/Users/{id}?aadOptscim062020"),
        &id,
        json!([{"op":"add","path":"nickName","value":"Babs"}]),
    )
    .await;
    assert_eq!(after, with(&before, json!({"nickName": "Babs"})));
    app
}

/// entra-compat §3.5.2: multi-attribute replace, a value path plus ONE path-less op whose keys are
/// dotted (`name.givenName`) and URN-qualified; no flattened key is stored.
async fn compliant_mode_value_path_plus_pathless_dotted_and_urn_keys(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &rich_user("flag@example.com")).await;
    let ops = json!([
        {"op":"replace","path":"emails[type eq \"work\"].value","value":"TestMhvaes@test.microsoft.com"},
        {"op":"replace","value":{
            "displayName":"Bjfe",
            "name.givenName":"Kkom",
            "name.familyName":"Unua",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}
    ]);
    let expected = with(
        &before,
        json!({
            "displayName": "Bjfe",
            "name": {"givenName": "Kkom", "familyName": "Unua", "formatted": "Rich User"},
            "emails": [
                {"value": "TestMhvaes@test.microsoft.com", "type": "work", "primary": true},
                {"value": "rich@home.example", "type": "home"}
            ],
            ENTERPRISE: {"department": "R&D", "employeeNumber": "Aklq"}
        }),
    );
    let after = patch_user_at(
        &app,
        &format!("/Users/{id}?aadOptscim062020"),
        &id,
        ops.clone(),
    )
    .await;
    assert_eq!(after, expected);
    assert_eq!(patch_user(&app, &id, ops).await, expected);
    app
}

// ---------------------------------------------------------------------------------------------
// §3.5.3 Responses.
// ---------------------------------------------------------------------------------------------

/// entra-compat §3.5.3: a user PATCH answers 200 with the full updated user (SCIM JSON), equal to
/// what a later GET returns, with a new version.
async fn user_patch_answers_200_with_the_full_stored_user(app: TestApp) -> TestApp {
    let (id, _) = create(&app, &entra_user()).await;
    let v1 = app.get(&format!("/Users/{id}")).await.body["meta"]["version"].clone();
    let reply = app
        .patch(
            &format!("/Users/{id}"),
            &patch_body(json!([{"op":"Replace","path":"title","value":"Boss"}])),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.content_type(), SCIM_JSON);
    assert_eq!(reply.body["id"], id.as_str());
    assert_eq!(reply.body["userName"], entra_user()["userName"]);
    assert_eq!(reply.body["title"], "Boss");
    assert_eq!(reply.body["meta"]["resourceType"], "User");
    assert_ne!(reply.body["meta"]["version"], v1);
    let got = app
        .get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body, got.body);
    app
}

/// entra-compat §3.5.3: PATCH on an unknown id is 404 with a SCIM error body, users and groups.
async fn patch_on_an_unknown_id_is_404(app: TestApp) -> TestApp {
    let unknown = uuid::Uuid::now_v7();
    let body = patch_body(json!([{"op":"Replace","path":"active","value":"False"}]));
    app.patch(&format!("/Users/{unknown}"), &body)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    let rename = patch_body(json!([{"op":"Replace","path":"displayName","value":"x"}]));
    app.patch(&format!("/Groups/{unknown}"), &rename)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    assert!(app.all_user_ids().await.is_empty(), "nothing was created");
    app
}

/// entra-compat §3.5.3: a disable sent together with a still-mapped `phoneNumbers[type eq "fax"]`
/// and a custom-extension attribute Iris does not define is applied, not failed as a whole.
async fn a_disable_with_a_fax_number_and_a_custom_attribute_is_applied(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &rich_user("fax@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([
            {"op":"Replace","path":"phoneNumbers[type eq \"fax\"].value","value":"+1 555 0199"},
            {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:CustomAttribute","value":"x"},
            {"op":"Replace","path":"active","value":"False"}
        ]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &before,
            json!({
                "active": false,
                "phoneNumbers": [
                    {"value": "+1 555 0100", "type": "work"},
                    {"type": "fax", "value": "+1 555 0199"}
                ]
            })
        )
    );
    app
}

// ---------------------------------------------------------------------------------------------
// §3.6 Disable, re-enable, delete.
// ---------------------------------------------------------------------------------------------

/// entra-compat §3.6: a disabled user stays visible to GET by id and to filters.
async fn disabled_user_stays_visible_to_get_and_filters(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"Replace","path":"active","value":"False"}]),
    )
    .await;
    assert_eq!(after, with(&before, json!({"active": false})));
    for filter in [
        "userName eq \"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee\"",
        "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"",
        "active eq false",
    ] {
        let found = app.filter_users(filter).await.expect(StatusCode::OK);
        assert_eq!(found.id_list(), vec![id.clone()], "{filter}");
        assert_eq!(found.resources()[0]["active"], false);
    }
    app
}

/// entra-compat §3.6: re-enable (`active` → true) after a disable; group memberships of the
/// inactive user were kept throughout.
async fn re_enable_after_disable_keeps_memberships(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    let g = create_group(&app, &json!({"displayName": "Staff"})).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value":[{"value": id}]}]),
    )
    .await;
    patch_user(
        &app,
        &id,
        json!([{"op":"Replace","path":"active","value":"False"}]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, ids(&[&id]));
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"Replace","path":"active","value":"True"}]),
    )
    .await;
    let groups = after.get("groups").cloned();
    let mut after = after;
    after.as_object_mut().unwrap().shift_remove("groups");
    assert_eq!(after, before);
    assert_eq!(
        groups.unwrap_or_else(|| json!([]))[0]["value"],
        g.as_str(),
        "still a member"
    );
    assert_eq!(stored_group(&app, &g).await.1, ids(&[&id]));
    app
}

/// entra-compat §3.6: hard delete is 204 with no body; afterwards GET, PATCH and a second
/// DELETE are 404 and filters no longer find the user.
async fn hard_delete_is_204_and_then_the_user_is_gone(app: TestApp) -> TestApp {
    let (id, _) = create(&app, &entra_user()).await;
    let reply = app
        .delete(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty());
    app.get(&format!("/Users/{id}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app.patch(
        &format!("/Users/{id}"),
        &patch_body(json!([{"op":"Replace","path":"active","value":"True"}])),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, None);
    let found = app
        .filter_users("userName eq \"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee\"")
        .await
        .expect(StatusCode::OK);
    assert_eq!(found.body["totalResults"], 0);
    app
}

// ---------------------------------------------------------------------------------------------
// §4 Group lifecycle.
// ---------------------------------------------------------------------------------------------

fn entra_group() -> Value {
    json!({"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
           "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
           "displayName": "displayName",
           "meta": {"resourceType": "Group"}})
}

/// entra-compat §4: create without members → 201 with `id`, `externalId`, `displayName`, `meta`
/// and `"members": []`; the stored group is exactly that.
async fn group_create_without_members(app: TestApp) -> TestApp {
    let reply = app
        .post("/Groups", &entra_group())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(reply.content_type(), SCIM_JSON);
    let g = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.body["members"], json!([]));
    assert_eq!(reply.body["meta"]["resourceType"], "Group");
    assert!(reply.body["meta"]["created"].is_string());
    let (doc, members) = stored_group(&app, &g).await;
    assert_eq!(
        doc,
        json!({"schemas": [GROUP], "id": g, "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
               "displayName": "displayName"})
    );
    assert!(members.is_empty());
    app
}

/// entra-compat §4: GET by id and filter by displayName with `excludedAttributes=members` leave
/// the `members` key out entirely, even when the group has members.
async fn group_get_and_filter_with_excluded_members(app: TestApp) -> TestApp {
    let g = create_group(&app, &entra_group()).await;
    let u = app.create_user(&json!({"userName": "m@example.com"})).await;
    for with_members in [false, true] {
        if with_members {
            patch_group_204(
                &app,
                &g,
                json!([{"op":"Add","path":"members","value":[{"value": u}]}]),
            )
            .await;
        }
        let got = app
            .get(&format!("/Groups/{g}?excludedAttributes=members"))
            .await
            .expect(StatusCode::OK);
        assert!(got.body.get("members").is_none(), "{}", got.text);
        assert_eq!(got.body["displayName"], "displayName");
        let found = list_groups(
            &app,
            &[
                ("excludedAttributes", "members"),
                ("filter", "displayName eq \"displayName\""),
            ],
        )
        .await
        .expect(StatusCode::OK);
        assert_eq!(found.body["schemas"], json!([LIST]));
        assert_eq!(found.id_list(), vec![g.clone()]);
        assert!(found.resources()[0].get("members").is_none());
    }
    app
}

/// entra-compat §4: Rename (`Replace displayName`) → 204, stored; nothing else changes.
async fn group_rename_is_204_and_stored(app: TestApp) -> TestApp {
    let g = create_group(&app, &entra_group()).await;
    let (before, _) = stored_group(&app, &g).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Replace","path":"displayName","value":"1879db59-updatedDisplayName"}]),
    )
    .await;
    let (after, members) = stored_group(&app, &g).await;
    assert_eq!(
        after,
        with(
            &before,
            json!({"displayName": "1879db59-updatedDisplayName"})
        )
    );
    assert!(members.is_empty());
    app
}

/// entra-compat §4: Add members with a value array whose `$ref` is null → 204, each added once.
async fn group_add_members_with_null_ref(app: TestApp) -> TestApp {
    let users = app.create_users("add", 3).await;
    let g = create_group(&app, &entra_group()).await;
    let (before, _) = stored_group(&app, &g).await;
    let value: Vec<Value> = users
        .iter()
        .map(|u| json!({"$ref": null, "value": u}))
        .collect();
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value": value}]),
    )
    .await;
    let (after, members) = stored_group(&app, &g).await;
    assert_eq!(after, before);
    assert_eq!(members, users.iter().cloned().collect());
    app
}

/// entra-compat §4 and Q7: Remove members, default job (value array) — exactly the listed member
/// goes, never all of them.
async fn group_remove_member_default_form_value_array(app: TestApp) -> TestApp {
    let users = app.create_users("rm", 3).await;
    let g = create_group(&app, &entra_group()).await;
    let value: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value": value}]),
    )
    .await;
    let (before, _) = stored_group(&app, &g).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Remove","path":"members","value":[{"value": users[1]}]}]),
    )
    .await;
    let (after, members) = stored_group(&app, &g).await;
    assert_eq!(after, before);
    assert_eq!(members, ids(&[&users[0], &users[2]]));
    app
}

/// entra-compat §4 and Q7: Remove members with `aadOptscim062020` (`members[value eq "…"]`, no
/// value) — exactly that member goes.
async fn group_remove_member_compliant_form_value_filter(app: TestApp) -> TestApp {
    let users = app.create_users("rmf", 3).await;
    let g = create_group(&app, &entra_group()).await;
    let value: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value": value}]),
    )
    .await;
    let (before, _) = stored_group(&app, &g).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"remove","path": format!("members[value eq \"{}\"]", users[0])}]),
    )
    .await;
    let (after, members) = stored_group(&app, &g).await;
    assert_eq!(after, before);
    assert_eq!(members, ids(&[&users[1], &users[2]]));
    app
}

/// entra-compat §4 and §7.2 (preview "Patch Group multiple ops on the same attribute"): `add`
/// then `remove` of the same member in one PATCH nets to "not a member"; other members stay.
async fn group_add_and_remove_of_the_same_member_in_one_patch(app: TestApp) -> TestApp {
    let users = app.create_users("net", 2).await;
    let g = create_group(&app, &entra_group()).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"add","path":"members","value":[{"value": users[0]}]}]),
    )
    .await;
    patch_group_204(
        &app,
        &g,
        json!([
            {"op":"add","path":"members","value":[{"value": users[1]}]},
            {"op":"remove","path": format!("members[value eq \"{}\"]", users[1])}
        ]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, ids(&[&users[0]]));
    // The default-dialect pair nets the same way.
    patch_group_204(
        &app,
        &g,
        json!([
            {"op":"Add","path":"members","value":[{"value": users[1]}]},
            {"op":"Remove","path":"members","value":[{"value": users[1]}]}
        ]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, ids(&[&users[0]]));
    app
}

/// entra-compat §4: Add is idempotent — re-adding a present member (also twice in one value
/// array) stores it once and does not move the version.
async fn group_add_is_idempotent(app: TestApp) -> TestApp {
    let users = app.create_users("idem", 2).await;
    let g = create_group(&app, &entra_group()).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value":[{"value": users[0]}, {"value": users[0]}]}]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, ids(&[&users[0]]));
    let version = app.get(&format!("/Groups/{g}")).await.body["meta"]["version"].clone();
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value":[{"$ref": null, "value": users[0]}]}]),
    )
    .await;
    let got = app
        .get(&format!("/Groups/{g}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        got.body["meta"]["version"], version,
        "an idempotent add changes nothing"
    );
    assert_eq!(stored_group(&app, &g).await.1, ids(&[&users[0]]));
    // Mixed with a new member: the new one is added, the present one not duplicated.
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value":[{"value": users[0]}, {"value": users[1]}]}]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, ids(&[&users[0], &users[1]]));
    app
}

/// entra-compat §4: the membership check `id eq "g" and members eq "u"` answers 200 with one
/// result for a member and an empty list otherwise.
async fn group_membership_filter_id_and_members_eq(app: TestApp) -> TestApp {
    let users = app.create_users("mf", 2).await;
    let g = create_group(&app, &entra_group()).await;
    let h = create_group(&app, &json!({"displayName": "Other"})).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value":[{"value": users[0]}]}]),
    )
    .await;
    patch_group_204(
        &app,
        &h,
        json!([{"op":"Add","path":"members","value":[{"value": users[1]}]}]),
    )
    .await;
    let check = |group: String, user: String| {
        let app = &app;
        async move {
            let filter = format!("id eq \"{group}\" and members eq \"{user}\"");
            let reply = list_groups(
                app,
                &[("excludedAttributes", "members"), ("filter", &filter)],
            )
            .await
            .expect(StatusCode::OK);
            assert_eq!(reply.body["schemas"], json!([LIST]));
            reply.id_list()
        }
    };
    assert_eq!(check(g.clone(), users[0].clone()).await, vec![g.clone()]);
    assert!(check(g.clone(), users[1].clone()).await.is_empty());
    assert!(check(h.clone(), users[0].clone()).await.is_empty());
    // After the removal the check turns empty.
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Remove","path":"members","value":[{"value": users[0]}]}]),
    )
    .await;
    assert!(check(g.clone(), users[0].clone()).await.is_empty());
    app
}

/// entra-compat §4: Delete → 204; afterwards GET, PATCH and DELETE are 404, the members' users
/// remain.
async fn group_delete_is_204_and_then_the_group_is_gone(app: TestApp) -> TestApp {
    let users = app.create_users("del", 2).await;
    let g = create_group(&app, &entra_group()).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value":[{"value": users[0]}, {"value": users[1]}]}]),
    )
    .await;
    let reply = app
        .delete(&format!("/Groups/{g}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty());
    app.get(&format!("/Groups/{g}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    patch_group(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value":[{"value": users[0]}]}]),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, None);
    app.delete(&format!("/Groups/{g}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    assert_eq!(app.all_user_ids().await, users.iter().cloned().collect());
    for u in &users {
        let user = stored_user(&app, u).await;
        assert!(user.get("groups").is_none_or(|g| g == &json!([])), "{user}");
    }
    app
}

// ---------------------------------------------------------------------------------------------
// §7.2 SCIM Validator: users.
// ---------------------------------------------------------------------------------------------

/// A user the validator might generate: many optional attributes, string booleans included.
fn validator_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "active": true,
        "displayName": "Ford Purdy",
        "title": "Analyst",
        "nickName": "Fordy",
        "locale": "en-US",
        "timezone": "Europe/Paris",
        "profileUrl": "https://example.com/ford",
        "userType": "Employee",
        "preferredLanguage": "en",
        "externalId": "ext-ford",
        "name": {"givenName": "Ford", "familyName": "Purdy", "formatted": "Ford Purdy"},
        "emails": [{"type": "work", "value": "ford@work.example", "primary": true}],
        "phoneNumbers": [{"type": "work", "value": "+1 555 0101", "primary": true}],
        "addresses": [{"type": "work", "streetAddress": "2 Elm St", "locality": "Town",
                       "region": "CA", "postalCode": "90001", "country": "US", "primary": true}],
        "roles": [{"primary": "True", "display": "Admin", "value": "admin", "type": "WindowsAzureActiveDirectoryRole"}],
        ENTERPRISE: {"employeeNumber": "77", "department": "Finance", "costCenter": "CC1",
                     "organization": "Org", "division": "Div"}
    })
}

/// entra-compat §7.2: "Create a new User" — POST, then GET and a userName filter find it as sent,
/// with the string `"True"` of `roles[].primary` stored as a boolean.
async fn validator_create_a_new_user(app: TestApp) -> TestApp {
    let body = validator_user("ford_purdy@example.com");
    let created = app.post("/Users", &body).await.expect(StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let stored = stored_user(&app, &id).await;
    assert_eq!(without_meta(&created.body), stored);
    let mut expected = body.clone();
    expected["id"] = json!(id);
    expected["roles"][0]["primary"] = json!(true);
    assert_eq!(stored, expected);
    let found = app
        .filter_users("userName eq \"ford_purdy@example.com\"")
        .await
        .expect(StatusCode::OK);
    assert_eq!(found.id_list(), vec![id]);
    app
}

/// entra-compat §7.2: "Create a duplicate User" → 409 `uniqueness`, the first user untouched.
async fn validator_create_a_duplicate_user_is_409(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &validator_user("dup@example.com")).await;
    app.post("/Users", &validator_user("dup@example.com"))
        .await
        .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(stored_user(&app, &id).await, before);
    assert_eq!(app.all_user_ids().await.len(), 1);
    app
}

/// entra-compat §7.2: "Filter for an existing user", "… a non-existing user" (200, 0 results) and
/// "… an existing user with a different case".
async fn validator_filter_for_existing_missing_and_different_case_users(app: TestApp) -> TestApp {
    let (id, _) = create(&app, &validator_user("ford_purdy@example.com")).await;
    for (filter, expected) in [
        ("userName eq \"ford_purdy@example.com\"", vec![id.clone()]),
        ("userName eq \"FORD_PURDY@EXAMPLE.COM\"", vec![id.clone()]),
        ("externalId eq \"ext-ford\"", vec![id.clone()]),
        ("userName eq \"nobody@example.com\"", vec![]),
    ] {
        let reply = app.filter_users(filter).await.expect(StatusCode::OK);
        assert_eq!(reply.body["schemas"], json!([LIST]), "{filter}");
        assert_eq!(reply.id_list(), expected, "{filter}");
        assert_eq!(reply.body["totalResults"], expected.len(), "{filter}");
    }
    app
}

/// entra-compat §7.2: "Patch User – Replace Attributes (Verbose)": one lowercase `replace` per
/// attribute, value paths included.
async fn validator_patch_user_replace_attributes_verbose(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &validator_user("verbose@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([
            {"op":"replace","path":"displayName","value":"New Name"},
            {"op":"replace","path":"title","value":"Lead"},
            {"op":"replace","path":"nickName","value":"Newbie"},
            {"op":"replace","path":"preferredLanguage","value":"fr"},
            {"op":"replace","path":"name.givenName","value":"Nova"},
            {"op":"replace","path":"name.familyName","value":"Quinn"},
            {"op":"replace","path":"name.formatted","value":"Nova Quinn"},
            {"op":"replace","path":"emails[type eq \"work\"].value","value":"nova@work.example"},
            {"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":"+1 555 0202"},
            {"op":"replace","path":"addresses[type eq \"work\"].locality","value":"City"},
            {"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Legal"},
            {"op":"replace","path":"active","value":"False"}
        ]),
    )
    .await;
    let mut expected = before.clone();
    expected["displayName"] = json!("New Name");
    expected["title"] = json!("Lead");
    expected["nickName"] = json!("Newbie");
    expected["preferredLanguage"] = json!("fr");
    expected["name"] =
        json!({"givenName": "Nova", "familyName": "Quinn", "formatted": "Nova Quinn"});
    expected["emails"][0]["value"] = json!("nova@work.example");
    expected["phoneNumbers"][0]["value"] = json!("+1 555 0202");
    expected["addresses"][0]["locality"] = json!("City");
    expected[ENTERPRISE]["department"] = json!("Legal");
    expected["active"] = json!(false);
    assert_eq!(after, expected);
    app
}

/// entra-compat §7.2: "Patch User – Add Attributes": lowercase `add` of attributes the user does
/// not have yet, value paths creating their elements.
async fn validator_patch_user_add_attributes(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &json!({"userName": "adds@example.com"})).await;
    let after = patch_user(
        &app,
        &id,
        json!([
            {"op":"add","path":"displayName","value":"Ada"},
            {"op":"add","path":"title","value":"Engineer"},
            {"op":"add","path":"name.givenName","value":"Ada"},
            {"op":"add","path":"emails[type eq \"work\"].value","value":"ada@work.example"},
            {"op":"add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0303"},
            {"op":"add","path":"addresses[type eq \"work\"].country","value":"US"},
            {"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"9"}
        ]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &before,
            json!({
                "schemas": [USER, ENTERPRISE],
                "displayName": "Ada",
                "title": "Engineer",
                "name": {"givenName": "Ada"},
                "emails": [{"type": "work", "value": "ada@work.example"}],
                "phoneNumbers": [{"type": "mobile", "value": "+1 555 0303"}],
                "addresses": [{"type": "work", "country": "US"}],
                ENTERPRISE: {"employeeNumber": "9"}
            })
        )
    );
    app
}

/// entra-compat §7.2: "Update User userName" with a path-less `{"op":"replace","value":{"userName":…}}`.
async fn validator_update_user_name_with_a_pathless_replace(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &validator_user("old.name@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"replace","value":{"userName":"new.name@example.com"}}]),
    )
    .await;
    assert_eq!(
        after,
        with(&before, json!({"userName": "new.name@example.com"}))
    );
    let found = app
        .filter_users("userName eq \"new.name@example.com\"")
        .await
        .expect(StatusCode::OK);
    assert_eq!(found.id_list(), vec![id]);
    app
}

/// entra-compat §7.2: "Patch User – Disable User", verified by a later GET.
async fn validator_disable_user_verified_by_a_later_get(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &validator_user("disable@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"replace","path":"active","value":false}]),
    )
    .await;
    assert_eq!(after, with(&before, json!({"active": false})));
    app
}

/// entra-compat §7.2: "Patch User – Add Manager" (`{"value": "<id>"}` on the enterprise path).
async fn validator_add_manager(app: TestApp) -> TestApp {
    let boss = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let (id, before) = create(&app, &validator_user("report@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"add","path": format!("{ENTERPRISE}:manager"),"value":{"value": boss}}]),
    )
    .await;
    let mut expected = before.clone();
    expected[ENTERPRISE]["manager"] = json!({"value": boss});
    assert_eq!(after, expected);
    app
}

/// entra-compat §7.2: "Patch User – Replace Manager".
async fn validator_replace_manager(app: TestApp) -> TestApp {
    let first = app
        .create_user(&json!({"userName": "first@example.com"}))
        .await;
    let second = app
        .create_user(&json!({"userName": "second@example.com"}))
        .await;
    let mut body = validator_user("report@example.com");
    body[ENTERPRISE]["manager"] = json!({"value": first});
    let (id, before) = create(&app, &body).await;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"replace","path": format!("{ENTERPRISE}:manager"),"value":{"value": second}}]),
    )
    .await;
    let mut expected = before.clone();
    expected[ENTERPRISE]["manager"] = json!({"value": second});
    assert_eq!(after, expected);
    app
}

/// entra-compat §7.2: "Patch User – Remove Manager" = `replace` with `{"value": ""}`; the other
/// enterprise attributes stay.
async fn validator_remove_manager_by_an_empty_value(app: TestApp) -> TestApp {
    let boss = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let mut body = validator_user("report@example.com");
    body[ENTERPRISE]["manager"] = json!({"value": boss});
    let (id, before) = create(&app, &body).await;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"replace","path": format!("{ENTERPRISE}:manager"),"value":{"value": ""}}]),
    )
    .await;
    let mut expected = before.clone();
    expected[ENTERPRISE]
        .as_object_mut()
        .unwrap()
        .shift_remove("manager");
    assert_eq!(after, expected);
    let found = app
        .filter_users(&format!("{ENTERPRISE}:manager eq \"{boss}\""))
        .await
        .expect(StatusCode::OK);
    assert_eq!(found.body["totalResults"], 0);
    app
}

/// entra-compat §7.2: "Delete a User" → 204, then GET → 404.
async fn validator_delete_a_user(app: TestApp) -> TestApp {
    let (id, _) = create(&app, &validator_user("gone@example.com")).await;
    app.delete(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    app.get(&format!("/Users/{id}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

// ---------------------------------------------------------------------------------------------
// §7.2 SCIM Validator: groups.
// ---------------------------------------------------------------------------------------------

/// entra-compat §7.2: "Create a new Group" and "Create a duplicate Group" (→ 409 `uniqueness`).
async fn validator_create_a_new_group_and_a_duplicate(app: TestApp) -> TestApp {
    let created = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP], "displayName": "Validators", "externalId": "v-1"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let g = created.body["id"].as_str().unwrap().to_owned();
    let (doc, members) = stored_group(&app, &g).await;
    assert_eq!(
        doc,
        json!({"schemas": [GROUP], "id": g, "displayName": "Validators", "externalId": "v-1"})
    );
    assert!(members.is_empty());
    app.post(
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "Validators"}),
    )
    .await
    .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(stored_group(&app, &g).await.0, doc);
    app
}

/// entra-compat §7.2: "Filter for an existing group", "… non-existing group", "… different case",
/// and "Filter for existing group excluding members".
async fn validator_filter_groups(app: TestApp) -> TestApp {
    let g = create_group(&app, &json!({"displayName": "Validators"})).await;
    for (name, expected) in [
        ("Validators", vec![g.clone()]),
        ("VALIDATORS", vec![g.clone()]),
        ("validators", vec![g.clone()]),
        ("No Such Group", vec![]),
    ] {
        for excluded in [false, true] {
            let filter = format!("displayName eq \"{name}\"");
            let mut params = vec![("filter", filter.as_str())];
            if excluded {
                params.push(("excludedAttributes", "members"));
            }
            let reply = list_groups(&app, &params).await.expect(StatusCode::OK);
            assert_eq!(reply.id_list(), expected, "{name}");
            assert_eq!(reply.body["totalResults"], expected.len());
            if excluded {
                assert!(reply.resources().iter().all(|r| r.get("members").is_none()));
            }
        }
    }
    app
}

/// entra-compat §7.2: "Get group by id excluding members".
async fn validator_get_group_by_id_excluding_members(app: TestApp) -> TestApp {
    let u = app.create_user(&json!({"userName": "m@example.com"})).await;
    let g = create_group(
        &app,
        &json!({"displayName": "Validators", "members": [{"value": u}]}),
    )
    .await;
    let got = app
        .get(&format!("/Groups/{g}?excludedAttributes=members"))
        .await
        .expect(StatusCode::OK);
    assert!(got.body.get("members").is_none(), "{}", got.text);
    let (full, members) = stored_group(&app, &g).await;
    assert_eq!(without_meta(&got.body), full);
    assert_eq!(members, ids(&[&u]));
    app
}

/// entra-compat §7.2: "Patch Group – Replace Attributes" (`{"op":"replace","value":{"externalId":…}}`).
async fn validator_patch_group_replace_attributes(app: TestApp) -> TestApp {
    let u = app.create_user(&json!({"userName": "m@example.com"})).await;
    let g = create_group(
        &app,
        &json!({"displayName": "Validators", "externalId": "old", "members": [{"value": u}]}),
    )
    .await;
    let (before, _) = stored_group(&app, &g).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"replace","value":{"externalId":"new-ext"}}]),
    )
    .await;
    let (after, members) = stored_group(&app, &g).await;
    assert_eq!(after, with(&before, json!({"externalId": "new-ext"})));
    assert_eq!(members, ids(&[&u]), "members untouched");
    app
}

/// entra-compat §7.2: "Update Group displayName" (`{"op":"replace","value":{"displayName":…}}`).
async fn validator_update_group_display_name(app: TestApp) -> TestApp {
    let g = create_group(
        &app,
        &json!({"displayName": "Validators", "externalId": "e"}),
    )
    .await;
    let (before, _) = stored_group(&app, &g).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"replace","value":{"displayName":"Renamed"}}]),
    )
    .await;
    assert_eq!(
        stored_group(&app, &g).await.0,
        with(&before, json!({"displayName": "Renamed"}))
    );
    app
}

/// entra-compat §7.2: "Patch Group – Add Member", both as the validator sends it: `replace` of
/// `members` with a value array in one run, `add` in others.
async fn validator_patch_group_add_member_by_replace_and_by_add(app: TestApp) -> TestApp {
    let users = app.create_users("vm", 2).await;
    let g = create_group(&app, &json!({"displayName": "Validators"})).await;
    let (before, _) = stored_group(&app, &g).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"replace","path":"members","value":[{"value": users[0]}]}]),
    )
    .await;
    let (after, members) = stored_group(&app, &g).await;
    assert_eq!(after, before);
    assert_eq!(members, ids(&[&users[0]]));
    patch_group_204(
        &app,
        &g,
        json!([{"op":"add","path":"members","value":[{"value": users[1]}]}]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, ids(&[&users[0], &users[1]]));
    app
}

/// entra-compat §7.2: "Patch Group – Remove Member" (`remove` with `members[value eq "<id>"]`).
async fn validator_patch_group_remove_member(app: TestApp) -> TestApp {
    let users = app.create_users("vr", 2).await;
    let g = create_group(
        &app,
        &json!({"displayName": "Validators",
                "members": [{"value": users[0]}, {"value": users[1]}]}),
    )
    .await;
    let (before, _) = stored_group(&app, &g).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"remove","path": format!("members[value eq \"{}\"]", users[1])}]),
    )
    .await;
    let (after, members) = stored_group(&app, &g).await;
    assert_eq!(after, before);
    assert_eq!(members, ids(&[&users[0]]));
    app
}

/// entra-compat §7.2: "Delete a Group" (204, then GET → 404).
async fn validator_delete_a_group(app: TestApp) -> TestApp {
    let g = create_group(&app, &json!({"displayName": "Validators"})).await;
    app.delete(&format!("/Groups/{g}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    app.get(&format!("/Groups/{g}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

// ---------------------------------------------------------------------------------------------
// §7.2 SCIM Validator: preview tests.
// ---------------------------------------------------------------------------------------------

/// entra-compat §7.2 preview: "Patch User multiple ops on different attributes".
async fn validator_preview_patch_user_multiple_ops_on_different_attributes(
    app: TestApp,
) -> TestApp {
    let (id, before) = create(&app, &validator_user("multi@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([
            {"op":"replace","path":"displayName","value":"Multi"},
            {"op":"add","path":"emails[type eq \"home\"].value","value":"multi@home.example"},
            {"op":"remove","path":"title"},
            {"op":"replace","path":"active","value":"False"}
        ]),
    )
    .await;
    let mut expected = with(
        &before,
        json!({"displayName": "Multi", "title": null, "active": false}),
    );
    expected["emails"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "home", "value": "multi@home.example"}));
    assert_eq!(after, expected);
    app
}

/// entra-compat §7.2 preview: "Patch User multiple ops on the same attribute": they apply in
/// order to one value, the last one wins, and a filtered element is never duplicated.
async fn validator_preview_patch_user_multiple_ops_on_the_same_attribute(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &validator_user("same@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([
            {"op":"replace","path":"displayName","value":"First"},
            {"op":"replace","path":"displayName","value":"Second"},
            {"op":"add","path":"emails[type eq \"home\"].value","value":"a@home.example"},
            {"op":"replace","path":"emails[type eq \"home\"].value","value":"b@home.example"},
            {"op":"add","path":"nickName","value":"A"},
            {"op":"remove","path":"nickName"}
        ]),
    )
    .await;
    let mut expected = with(&before, json!({"displayName": "Second", "nickName": null}));
    expected["emails"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "home", "value": "b@home.example"}));
    assert_eq!(after, expected);
    app
}

/// entra-compat §7.2 preview: "Delete a non-existent User" and "Delete the same User twice"
/// (204, then 404 with a SCIM error body).
async fn validator_preview_delete_a_missing_user_and_the_same_user_twice(app: TestApp) -> TestApp {
    app.delete(&format!("/Users/{}", uuid::Uuid::now_v7()))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    let (id, _) = create(&app, &validator_user("twice@example.com")).await;
    app.delete(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    app.delete(&format!("/Users/{id}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

/// entra-compat §7.2 preview: "Delete non-existent Group" and "Delete same Group twice".
async fn validator_preview_delete_a_missing_group_and_the_same_group_twice(
    app: TestApp,
) -> TestApp {
    app.delete(&format!("/Groups/{}", uuid::Uuid::now_v7()))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    let g = create_group(&app, &json!({"displayName": "Twice"})).await;
    app.delete(&format!("/Groups/{g}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    app.delete(&format!("/Groups/{g}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

// ---------------------------------------------------------------------------------------------
// §7.2 SCIM Validator: generated PATCH paths.
// ---------------------------------------------------------------------------------------------

/// entra-compat §7.2 generation: `emails[primary eq true].value` updates the primary email, and
/// `attr[primary eq true].sub` replace, as the validator generates it: on a user with a primary
/// element it updates that one; on a user with none it creates exactly one primary element, and a
/// replay changes nothing.
async fn primary_value_path_upserts(
    app: &TestApp,
    user: &Value,
    bare_user_name: &str,
    attr: &str,
    sub: &str,
    value: &str,
) {
    let (id, before) = create(app, user).await;
    let path = format!("{attr}[primary eq true].{sub}");
    let ops = json!([{"op": "replace", "path": path, "value": value}]);
    let mut expected = before.clone();
    expected[attr][0][sub] = json!(value);
    assert_eq!(patch_user(app, &id, ops.clone()).await, expected, "{path}");
    let (bare, before) = create(app, &json!({"userName": bare_user_name})).await;
    let mut element = serde_json::Map::new();
    element.insert("primary".into(), json!(true));
    element.insert(sub.into(), json!(value));
    let mut changes = serde_json::Map::new();
    changes.insert(attr.into(), json!([element]));
    let expected = with(&before, Value::Object(changes));
    assert_eq!(
        patch_user(app, &bare, ops.clone()).await,
        expected,
        "{path}"
    );
    assert_eq!(
        patch_user(app, &bare, ops).await,
        expected,
        "{path}: not twice"
    );
}

/// on a user without emails creates one primary email.
async fn validator_path_emails_primary_eq_true_value(app: TestApp) -> TestApp {
    primary_value_path_upserts(
        &app,
        &rich_user("pe@example.com"),
        "pe2@example.com",
        "emails",
        "value",
        "p@example.com",
    )
    .await;
    app
}

/// entra-compat §7.2 generation: `phoneNumbers[primary eq true].value`.
async fn validator_path_phone_numbers_primary_eq_true_value(app: TestApp) -> TestApp {
    primary_value_path_upserts(
        &app,
        &validator_user("pp@example.com"),
        "pp2@example.com",
        "phoneNumbers",
        "value",
        "+1 555 0909",
    )
    .await;
    app
}

/// entra-compat §7.2 generation: `addresses[primary eq true].streetAddress`.
async fn validator_path_addresses_primary_eq_true_street_address(app: TestApp) -> TestApp {
    primary_value_path_upserts(
        &app,
        &validator_user("pa@example.com"),
        "pa2@example.com",
        "addresses",
        "streetAddress",
        "9 Oak Ave",
    )
    .await;
    app
}

/// entra-compat §7.2 generation: `emails[type eq "home"].value`, on an existing home email and as
/// an upsert.
async fn validator_path_emails_type_eq_home_value(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &rich_user("home@example.com")).await;
    let ops = json!([{"op":"replace","path":"emails[type eq \"home\"].value","value":"new@home.example"}]);
    let mut expected = before.clone();
    expected["emails"][1]["value"] = json!("new@home.example");
    assert_eq!(patch_user(&app, &id, ops.clone()).await, expected);
    let (other, before) = create(&app, &validator_user("home2@example.com")).await;
    let mut expected = before.clone();
    expected["emails"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "home", "value": "new@home.example"}));
    assert_eq!(patch_user(&app, &other, ops.clone()).await, expected);
    assert_eq!(patch_user(&app, &other, ops).await, expected);
    app
}

/// entra-compat §7.2 generation: `emails[type eq "work"].display`.
async fn validator_path_emails_type_eq_work_display(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &rich_user("display@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"replace","path":"emails[type eq \"work\"].display","value":"Work Mail"}]),
    )
    .await;
    let mut expected = before.clone();
    expected["emails"][0]["display"] = json!("Work Mail");
    assert_eq!(after, expected);
    app
}

/// entra-compat §7.2 generation: `emails[type eq "work"].primary` with boolean values (and Entra's
/// string forms): one primary at most, stored as JSON booleans.
async fn validator_path_emails_type_eq_work_primary_with_booleans(app: TestApp) -> TestApp {
    let (id, before) = create(
        &app,
        &json!({"userName": "prim@example.com", "emails": [
            {"value": "w@example.com", "type": "work"},
            {"value": "h@example.com", "type": "home", "primary": true}]}),
    )
    .await;
    let path = "emails[type eq \"work\"].primary";
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"replace","path":path,"value":true}]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &before,
            json!({"emails": [
                {"value": "w@example.com", "type": "work", "primary": true},
                {"value": "h@example.com", "type": "home", "primary": false}
            ]})
        )
    );
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"replace","path":path,"value":false}]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &before,
            json!({"emails": [
                {"value": "w@example.com", "type": "work", "primary": false},
                {"value": "h@example.com", "type": "home", "primary": false}
            ]})
        )
    );
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"Replace","path":path,"value":"True"}]),
    )
    .await;
    assert_eq!(after["emails"][0]["primary"], json!(true));
    assert_eq!(after["emails"][1]["primary"], json!(false));
    assert_eq!(
        app.filter_users("emails[primary eq true].value eq \"w@example.com\"")
            .await
            .id_list(),
        vec![id]
    );
    app
}

/// entra-compat §7.2: the validator once sent an empty `Operations` array — a no-op (200 for a
/// user, 204 for a group), nothing stored changes, not even the version.
async fn validator_empty_operations_is_a_no_op(app: TestApp) -> TestApp {
    let (id, _) = create(&app, &validator_user("empty@example.com")).await;
    let before = app.get(&format!("/Users/{id}")).await.body;
    let reply = app
        .patch(&format!("/Users/{id}"), &patch_body(json!([])))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body, before);
    assert_eq!(app.get(&format!("/Users/{id}")).await.body, before);
    let g = create_group(&app, &json!({"displayName": "Empty"})).await;
    let before = app.get(&format!("/Groups/{g}")).await.body;
    patch_group_204(&app, &g, json!([])).await;
    assert_eq!(app.get(&format!("/Groups/{g}")).await.body, before);
    app
}

// ---------------------------------------------------------------------------------------------
// §8 Protocol quirks.
// ---------------------------------------------------------------------------------------------

/// entra-compat §8 Q1: `op` in any case (`Replace`, `replace`, `REPLACE`, `rEpLaCe`, `Add`, `ADD`,
/// `Remove`, `REMOVE`), users and groups.
async fn q1_op_names_in_any_case(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &entra_user()).await;
    for (i, op) in [
        "Replace", "replace", "REPLACE", "rEpLaCe", "Add", "add", "ADD",
    ]
    .into_iter()
    .enumerate()
    {
        let after = patch_user(
            &app,
            &id,
            json!([{"op": op, "path": "title", "value": format!("T{i}")}]),
        )
        .await;
        assert_eq!(
            after,
            with(&before, json!({"title": format!("T{i}")})),
            "{op}"
        );
    }
    for op in ["Remove", "REMOVE", "remove"] {
        patch_user(&app, &id, json!([{"op":"add","path":"title","value":"x"}])).await;
        let after = patch_user(&app, &id, json!([{"op": op, "path": "title"}])).await;
        assert_eq!(after, before, "{op}");
    }
    let users = app.create_users("q1", 1).await;
    let g = create_group(&app, &json!({"displayName": "Q1"})).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"ADD","path":"members","value":[{"value": users[0]}]}]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, ids(&[&users[0]]));
    patch_group_204(
        &app,
        &g,
        json!([{"op":"REMOVE","path":"members","value":[{"value": users[0]}]}]),
    )
    .await;
    assert!(stored_group(&app, &g).await.1.is_empty());
    app
}

/// entra-compat §8 Q2: booleans as strings in PATCH `active` and `primary`, and in POST `active`
/// and `roles[].primary`, are always stored and returned as JSON booleans.
async fn q2_string_booleans_are_stored_as_booleans(app: TestApp) -> TestApp {
    let created = app
        .post(
            "/Users",
            &json!({"userName": "q2@example.com", "active": "True",
                    "roles": [{"value": "Admin", "type": "WindowsAzureActiveDirectoryRole", "primary": "True"}],
                    "emails": [{"value": "a@example.com", "type": "work", "primary": "False"},
                               {"value": "b@example.com", "type": "home"}]}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let before = stored_user(&app, &id).await;
    assert_eq!(before["active"], json!(true));
    assert_eq!(before["roles"][0]["primary"], json!(true));
    assert_eq!(before["emails"][0]["primary"], json!(false));
    let after = patch_user(
        &app,
        &id,
        json!([
            {"op":"Replace","path":"active","value":"False"},
            {"op":"Replace","path":"emails[type eq \"home\"].primary","value":"True"},
            {"op":"Replace","path":"roles[primary eq \"True\"].display","value":"Administrator"}
        ]),
    )
    .await;
    let mut expected = with(&before, json!({"active": false}));
    expected["emails"][1]["primary"] = json!(true);
    expected["roles"][0]["display"] = json!("Administrator");
    assert_eq!(after, expected);
    app
}

/// entra-compat §8 Q3: `add` on a single-valued attribute that already has a value replaces it
/// (core, complex sub-attribute and extension attributes).
async fn q3_add_on_an_existing_single_value_replaces_it(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &rich_user("q3@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([
            {"op":"Add","path":"title","value":"Manager"},
            {"op":"Add","path":"displayName","value":"Richer"},
            {"op":"Add","path":"externalId","value":"ext-2"},
            {"op":"Add","path":"name.givenName","value":"Richard"},
            {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Ops"}
        ]),
    )
    .await;
    let mut expected = with(
        &before,
        json!({"title": "Manager", "displayName": "Richer", "externalId": "ext-2"}),
    );
    expected["name"]["givenName"] = json!("Richard");
    expected[ENTERPRISE]["department"] = json!("Ops");
    assert_eq!(after, expected);
    app
}

/// entra-compat §8 Q4: value paths on emails, phoneNumbers, addresses and
/// `roles[primary eq "True"]`; `add`/`replace` upsert; several ops on one filter merge into one
/// element; `remove` may carry a value.
async fn q4_value_paths_upsert_merge_and_remove_with_a_value(app: TestApp) -> TestApp {
    let (id, before) = create(
        &app,
        &json!({"userName": "q4@example.com",
                "roles": [{"value": "Reader", "primary": true, "type": "WindowsAzureActiveDirectoryRole"}]}),
    )
    .await;
    let ops = json!([
        {"op":"Add","path":"emails[type eq \"work\"].value","value":"q4@work.example"},
        {"op":"Replace","path":"emails[type eq \"work\"].primary","value":"True"},
        {"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0404"},
        {"op":"Replace","path":"phoneNumbers[type eq \"work\"].value","value":"+1 555 0405"},
        {"op":"Add","path":"addresses[type eq \"work\"].streetAddress","value":"4 Q St"},
        {"op":"Add","path":"addresses[type eq \"work\"].postalCode","value":"40404"},
        {"op":"Replace","path":"roles[primary eq \"True\"].value","value":"Writer"}
    ]);
    let expected = with(
        &before,
        json!({
            "emails": [{"type": "work", "value": "q4@work.example", "primary": true}],
            "phoneNumbers": [{"type": "mobile", "value": "+1 555 0404"},
                             {"type": "work", "value": "+1 555 0405"}],
            "addresses": [{"type": "work", "streetAddress": "4 Q St", "postalCode": "40404"}],
            "roles": [{"value": "Writer", "primary": true, "type": "WindowsAzureActiveDirectoryRole"}]
        }),
    );
    assert_eq!(patch_user(&app, &id, ops.clone()).await, expected);
    assert_eq!(
        patch_user(&app, &id, ops).await,
        expected,
        "a replay changes nothing"
    );
    let after = patch_user(
        &app,
        &id,
        json!([
            {"op":"Remove","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0404"},
            {"op":"Remove","path":"addresses[type eq \"work\"].postalCode","value":"40404"}
        ]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &expected,
            json!({
                "phoneNumbers": [{"type": "work", "value": "+1 555 0405"}],
                "addresses": [{"type": "work", "streetAddress": "4 Q St"}]
            })
        )
    );
    app
}

/// entra-compat §8 Q5: path-less ops whose value object has dotted (`name.givenName`,
/// `name.formatted`) and URN-qualified keys, with `add` as well as `replace`; sibling
/// sub-attributes are kept.
async fn q5_pathless_ops_with_dotted_and_urn_keys(app: TestApp) -> TestApp {
    let (id, before) = create(&app, &rich_user("q5@example.com")).await;
    let after = patch_user(
        &app,
        &id,
        json!([
            {"op":"Replace","value":{
                "name.givenName":"Quinn",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Sales"}},
            {"op":"Add","value":{
                "name.formatted":"Quinn User",
                "title":"Rep",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter":"C9"}}
        ]),
    )
    .await;
    let mut expected = with(&before, json!({"title": "Rep"}));
    expected["name"] =
        json!({"givenName": "Quinn", "familyName": "User", "formatted": "Quinn User"});
    expected[ENTERPRISE] =
        json!({"department": "Sales", "employeeNumber": "42", "costCenter": "C9"});
    assert_eq!(after, expected);
    app
}

/// entra-compat §8 Q6: `value` as a scalar, an object `{"value": …}` and an array
/// `[{"value": …, "$ref": null}]`; the manager as an array, an object and a bare id.
async fn q6_value_shapes_and_manager_shapes(app: TestApp) -> TestApp {
    let boss1 = app
        .create_user(&json!({"userName": "b1@example.com"}))
        .await;
    let boss2 = app
        .create_user(&json!({"userName": "b2@example.com"}))
        .await;
    let (id, before) = create(&app, &rich_user("q6@example.com")).await;
    for (value, title) in [
        (json!("Scalar"), "Scalar"),
        (json!({"value": "Object"}), "Object"),
        (json!([{"value": "Array", "$ref": null}]), "Array"),
    ] {
        let after = patch_user(
            &app,
            &id,
            json!([{"op":"Replace","path":"title","value": value}]),
        )
        .await;
        assert_eq!(after, with(&before, json!({"title": title})), "{value}");
    }
    let path = format!("{ENTERPRISE}:manager");
    let mut expected = with(&before, json!({"title": "Array"}));
    for (value, boss) in [
        (json!([{"$ref": null, "value": boss1}]), &boss1),
        (json!({"value": boss2}), &boss2),
        (json!(boss1), &boss1),
    ] {
        let after = patch_user(&app, &id, json!([{"op":"Add","path": path,"value": value}])).await;
        expected[ENTERPRISE]["manager"] = json!({"value": boss});
        assert_eq!(after, expected, "{value}");
    }
    app
}

/// entra-compat §8 Q7: the value-array removal form is never "remove all": removing two of four
/// members (with `$ref`s) leaves two; removing an absent member by either form changes nothing.
async fn q7_member_removal_by_value_array_never_removes_all(app: TestApp) -> TestApp {
    let users = app.create_users("q7", 4).await;
    let g = create_group(&app, &entra_group()).await;
    let value: Vec<Value> = users
        .iter()
        .map(|u| json!({"value": u, "$ref": format!("{}/Users/{u}", app.tenant_url)}))
        .collect();
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value": value}]),
    )
    .await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Remove","path":"members","value":[{"value": users[0]}, {"value": users[2]}]}]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, ids(&[&users[1], &users[3]]));
    let version = app.get(&format!("/Groups/{g}")).await.body["meta"]["version"].clone();
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Remove","path":"members","value":[{"value": users[0]}]}]),
    )
    .await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"remove","path": format!("members[value eq \"{}\"]", users[2])}]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, ids(&[&users[1], &users[3]]));
    assert_eq!(
        app.get(&format!("/Groups/{g}")).await.body["meta"]["version"],
        version
    );
    app
}

/// entra-compat §8 Q8: attribute names and schema URNs match case-insensitively and are stored
/// canonically: `emails[type eq "work"].Value`, `addresses[type eq "other"].Formatted`,
/// `"Primary"`, `"Department"`, `"Manager": {"Value": …}`, an upper-case URN, `"Operations"` and
/// `"Op"`/`"Path"`/`"Value"` keys in other cases.
async fn q8_attribute_names_and_urns_are_case_insensitive(app: TestApp) -> TestApp {
    let boss = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let (id, before) = create(&app, &rich_user("q8@example.com")).await;
    let body = json!({"schemas": [PATCH_OP], "operations": [
        {"Op":"Replace","Path":"emails[type eq \"work\"].Value","Value":"q8@work.example"},
        {"op":"Replace","path":"addresses[type eq \"other\"].Formatted","value":"Building 8"},
        {"op":"Replace","path":"EMAILS[TYPE eq \"home\"].Primary","value":"True"},
        {"op":"Replace","path":"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department","value":"Legal"},
        {"op":"Add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
            {"Manager": {"Value": boss}}}},
        {"op":"Replace","path":"Name.GivenName","value":"Q"},
        {"op":"Replace","value":{"DisplayName":"Q Eight"}}
    ]});
    let reply = app
        .patch(&format!("/Users/{id}"), &body)
        .await
        .expect(StatusCode::OK);
    let after = stored_user(&app, &id).await;
    assert_eq!(without_meta(&reply.body), after);
    let mut expected = with(&before, json!({"displayName": "Q Eight"}));
    expected["name"]["givenName"] = json!("Q");
    expected["emails"] = json!([
        {"value": "q8@work.example", "type": "work", "primary": false},
        {"value": "rich@home.example", "type": "home", "primary": true}
    ]);
    expected["addresses"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "other", "formatted": "Building 8"}));
    expected[ENTERPRISE] =
        json!({"department": "Legal", "employeeNumber": "42", "manager": {"value": boss}});
    assert_eq!(after, expected);
    app
}

/// entra-compat §8 Q16: roles via app-role expressions — `Add roles` with the role serialised as a
/// JSON string is stored verbatim; the assertive variant `replace`s the whole roles array.
async fn q16_roles_as_json_strings_add_and_assertive_replace(app: TestApp) -> TestApp {
    let (id, before) = create(
        &app,
        &json!({"userName": "q16@example.com",
                "roles": [{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]}),
    )
    .await;
    let role =
        r#"{"id":"5f1a0000-0000-0000-0000-000000000001","value":"25","displayName":"Role1234"}"#;
    let ops = json!([{"op":"Add","path":"roles","value":[{"value": role}]}]);
    let expected = with(
        &before,
        json!({"roles": [
            {"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"},
            {"value": role}
        ]}),
    );
    assert_eq!(patch_user(&app, &id, ops.clone()).await, expected);
    assert_eq!(patch_user(&app, &id, ops).await, expected, "no duplicate");
    let other =
        r#"{"id":"5f1a0000-0000-0000-0000-000000000002","value":"26","displayName":"Role5678"}"#;
    let after = patch_user(
        &app,
        &id,
        json!([{"op":"replace","path":"roles","value":[{"value": other}, {"value": role}]}]),
    )
    .await;
    assert_eq!(
        after,
        with(
            &before,
            json!({"roles": [{"value": other}, {"value": role}]})
        )
    );
    app
}

/// entra-compat §8 Q8 (with Q4): a value-path filter matches a stored `type` written in another
/// case (`"Work"`), so Entra's `emails[type eq "work"].value` updates that element instead of
/// upserting a second work email.
async fn q8_a_value_path_filter_matches_a_stored_type_in_another_case(app: TestApp) -> TestApp {
    let (id, before) = create(
        &app,
        &json!({"userName": "case@example.com", "emails": [
            {"value": "w@example.com", "type": "Work"},
            {"value": "h@example.com", "type": "home", "primary": true}]}),
    )
    .await;
    let ops =
        json!([{"op":"Replace","path":"emails[type eq \"work\"].value","value":"w2@example.com"}]);
    let mut expected = before.clone();
    expected["emails"][0]["value"] = json!("w2@example.com");
    assert_eq!(patch_user(&app, &id, ops.clone()).await, expected);
    assert_eq!(patch_user(&app, &id, ops).await, expected);
    app
}

/// entra-compat §8 Q8 (with Q2): an `add` to `emails` whose keys (`"Value"`, `"Type"`,
/// `"Primary"`) and value differ only in case from a stored email merges into it: stored once,
/// with canonical keys and a boolean `primary`.
async fn q8_an_added_email_in_another_case_merges_into_the_stored_one(app: TestApp) -> TestApp {
    let (id, before) = create(
        &app,
        &json!({"userName": "merge@example.com", "emails": [
            {"value": "w@example.com", "type": "work"},
            {"value": "h@example.com", "type": "home", "primary": true}]}),
    )
    .await;
    let ops = json!([{"op":"Add","path":"emails","value":[
        {"Value":"W@example.com","Type":"work","Primary":"True"}]}]);
    let after = patch_user(&app, &id, ops.clone()).await;
    assert_eq!(
        after,
        with(
            &before,
            json!({"emails": [
                {"value": "W@example.com", "type": "work", "primary": true},
                {"value": "h@example.com", "type": "home", "primary": false}
            ]})
        )
    );
    assert_eq!(patch_user(&app, &id, ops).await, after);
    app
}

crate::on_both_backends!(
    default_mode_replaces_several_attributes_each_with_its_own_op,
    default_mode_add_sets_nick_name_for_the_first_time,
    default_mode_disable_with_string_false,
    default_mode_disable_with_json_false,
    default_mode_rename_user_name,
    default_mode_legacy_manager_add_with_ref_array,
    observed_mixed_replace_and_add_in_one_request,
    observed_add_on_a_missing_work_email_creates_it,
    observed_replace_on_a_missing_work_email_upserts,
    observed_remove_with_a_value_on_a_value_path,
    observed_several_ops_on_one_filter_build_one_address,
    observed_bare_string_value_is_stored_as_sent,
    observed_string_booleans_in_any_case_are_stored_as_booleans,
    observed_add_with_a_value_array_appends_without_duplicates,
    compliant_mode_disable_with_boolean_false,
    compliant_mode_add_nick_name,
    compliant_mode_value_path_plus_pathless_dotted_and_urn_keys,
    user_patch_answers_200_with_the_full_stored_user,
    patch_on_an_unknown_id_is_404,
    a_disable_with_a_fax_number_and_a_custom_attribute_is_applied,
    disabled_user_stays_visible_to_get_and_filters,
    re_enable_after_disable_keeps_memberships,
    hard_delete_is_204_and_then_the_user_is_gone,
    group_create_without_members,
    group_get_and_filter_with_excluded_members,
    group_rename_is_204_and_stored,
    group_add_members_with_null_ref,
    group_remove_member_default_form_value_array,
    group_remove_member_compliant_form_value_filter,
    group_add_and_remove_of_the_same_member_in_one_patch,
    group_add_is_idempotent,
    group_membership_filter_id_and_members_eq,
    group_delete_is_204_and_then_the_group_is_gone,
    validator_create_a_new_user,
    validator_create_a_duplicate_user_is_409,
    validator_filter_for_existing_missing_and_different_case_users,
    validator_patch_user_replace_attributes_verbose,
    validator_patch_user_add_attributes,
    validator_update_user_name_with_a_pathless_replace,
    validator_disable_user_verified_by_a_later_get,
    validator_add_manager,
    validator_replace_manager,
    validator_remove_manager_by_an_empty_value,
    validator_delete_a_user,
    validator_create_a_new_group_and_a_duplicate,
    validator_filter_groups,
    validator_get_group_by_id_excluding_members,
    validator_patch_group_replace_attributes,
    validator_update_group_display_name,
    validator_patch_group_add_member_by_replace_and_by_add,
    validator_patch_group_remove_member,
    validator_delete_a_group,
    validator_preview_patch_user_multiple_ops_on_different_attributes,
    validator_preview_patch_user_multiple_ops_on_the_same_attribute,
    validator_preview_delete_a_missing_user_and_the_same_user_twice,
    validator_preview_delete_a_missing_group_and_the_same_group_twice,
    validator_path_emails_primary_eq_true_value,
    validator_path_phone_numbers_primary_eq_true_value,
    validator_path_addresses_primary_eq_true_street_address,
    validator_path_emails_type_eq_home_value,
    validator_path_emails_type_eq_work_display,
    validator_path_emails_type_eq_work_primary_with_booleans,
    validator_empty_operations_is_a_no_op,
    q1_op_names_in_any_case,
    q2_string_booleans_are_stored_as_booleans,
    q3_add_on_an_existing_single_value_replaces_it,
    q4_value_paths_upsert_merge_and_remove_with_a_value,
    q5_pathless_ops_with_dotted_and_urn_keys,
    q6_value_shapes_and_manager_shapes,
    q7_member_removal_by_value_array_never_removes_all,
    q8_attribute_names_and_urns_are_case_insensitive,
    q8_a_value_path_filter_matches_a_stored_type_in_another_case,
    q8_an_added_email_in_another_case_merges_into_the_stored_one,
    q16_roles_as_json_strings_add_and_assertive_replace,
);
