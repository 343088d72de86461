//! entra-compat §7.2, the SCIM Validator's user tests.

use reqwest::StatusCode;
use serde_json::json;

use super::{assert_patch_changes, create_and_read, patch_and_read, stored_user};
use crate::harness::{ENTERPRISE, LIST_RESPONSE, TestApp, USER, validator_user, without_meta};

/// entra-compat §7.2: "Create a new User" — POST, then GET and a userName filter find it as sent,
/// with the string `"True"` of `roles[].primary` stored as a boolean.
async fn validator_create_a_new_user(app: TestApp) -> TestApp {
    let body = validator_user("ford_purdy@example.com");
    let created = app.post("/Users", &body).await.expect(StatusCode::CREATED);
    let id = created.id();
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
    let (id, before) = create_and_read(&app, &validator_user("dup@example.com")).await;
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
    let (id, _) = create_and_read(&app, &validator_user("ford_purdy@example.com")).await;
    for (filter, expected) in [
        ("userName eq \"ford_purdy@example.com\"", vec![id.clone()]),
        ("userName eq \"FORD_PURDY@EXAMPLE.COM\"", vec![id.clone()]),
        ("externalId eq \"ext-ford\"", vec![id.clone()]),
        ("userName eq \"nobody@example.com\"", vec![]),
    ] {
        let reply = app.filter_users(filter).await.expect(StatusCode::OK);
        assert_eq!(reply.body["schemas"], json!([LIST_RESPONSE]), "{filter}");
        assert_eq!(reply.id_list(), expected, "{filter}");
        assert_eq!(reply.body["totalResults"], expected.len(), "{filter}");
    }
    app
}

/// entra-compat §7.2: "Patch User – Replace Attributes (Verbose)": one lowercase `replace` per
/// attribute, value paths included.
async fn validator_patch_user_replace_attributes_verbose(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &validator_user("verbose@example.com")).await;
    let after = patch_and_read(
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
    let ops = json!([
        {"op":"add","path":"displayName","value":"Ada"},
        {"op":"add","path":"title","value":"Engineer"},
        {"op":"add","path":"name.givenName","value":"Ada"},
        {"op":"add","path":"emails[type eq \"work\"].value","value":"ada@work.example"},
        {"op":"add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0303"},
        {"op":"add","path":"addresses[type eq \"work\"].country","value":"US"},
        {"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"9"}
    ]);
    let changes = json!({
        "schemas": [USER, ENTERPRISE],
        "displayName": "Ada",
        "title": "Engineer",
        "name": {"givenName": "Ada"},
        "emails": [{"type": "work", "value": "ada@work.example"}],
        "phoneNumbers": [{"type": "mobile", "value": "+1 555 0303"}],
        "addresses": [{"type": "work", "country": "US"}],
        ENTERPRISE: {"employeeNumber": "9"}
    });
    assert_patch_changes(&app, &json!({"userName": "adds@example.com"}), ops, changes).await;
    app
}

/// entra-compat §7.2: "Update User userName" with a path-less `{"op":"replace","value":{"userName":…}}`.
async fn validator_update_user_name_with_a_pathless_replace(app: TestApp) -> TestApp {
    let ops = json!([{"op":"replace","value":{"userName":"new.name@example.com"}}]);
    let changes = json!({"userName": "new.name@example.com"});
    let id =
        assert_patch_changes(&app, &validator_user("old.name@example.com"), ops, changes).await;
    let found = app
        .filter_users("userName eq \"new.name@example.com\"")
        .await
        .expect(StatusCode::OK);
    assert_eq!(found.id_list(), vec![id]);
    app
}

/// entra-compat §7.2: "Patch User – Disable User", verified by a later GET.
async fn validator_disable_user_verified_by_a_later_get(app: TestApp) -> TestApp {
    let ops = json!([{"op":"replace","path":"active","value":false}]);
    let changes = json!({"active": false});
    assert_patch_changes(&app, &validator_user("disable@example.com"), ops, changes).await;
    app
}

/// entra-compat §7.2: "Patch User – Add Manager" (`{"value": "<id>"}` on the enterprise path).
async fn validator_add_manager(app: TestApp) -> TestApp {
    let boss = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let (id, before) = create_and_read(&app, &validator_user("report@example.com")).await;
    let after = patch_and_read(
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
    let (id, before) = create_and_read(&app, &body).await;
    let after = patch_and_read(
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
    let (id, before) = create_and_read(&app, &body).await;
    let after = patch_and_read(
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
    let (id, _) = create_and_read(&app, &validator_user("gone@example.com")).await;
    app.delete(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    app.get(&format!("/Users/{id}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

crate::on_both_backends!(
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
);
