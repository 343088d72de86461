//! Entra's PATCH dialects on users (entra-compat §3.5): path-less ops with dotted and URN keys,
//! value paths that upsert one element, removal by value, and the manager in every shape.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::create_full_user;
use crate::harness::{ENTERPRISE, TestApp, USER, client_part, patch_body};

async fn entra_pathless_patch_with_dotted_and_urn_keys_updates_only_those(app: TestApp) -> TestApp {
    let full = create_full_user(&app).await;
    let id = full["id"].as_str().unwrap();
    // entra-compat §3.5.2, verbatim.
    let body = patch_body(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
        {"op": "replace", "value": {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "name.familyName": "Unua",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}}
    ]));
    let patched = app
        .patch(&format!("/Users/{id}?aadOptscim062020"), &body)
        .await
        .expect(StatusCode::OK);
    let mut expected = full.clone();
    expected["displayName"] = json!("Bjfe");
    expected["name"]["givenName"] = json!("Kkom");
    expected["name"]["familyName"] = json!("Unua");
    expected[ENTERPRISE]["employeeNumber"] = json!("Aklq");
    expected["emails"][0]["value"] = json!("TestMhvaes@test.microsoft.com");
    let got = app.get_user(id).await;
    assert_eq!(
        client_part(&got),
        client_part(&expected),
        "only the named values change"
    );
    assert_eq!(got["meta"]["version"], "W/\"2\"");
    assert_eq!(patched.body, got);
    assert!(
        got.get("name.givenName").is_none()
            && got
                .get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
                .is_none()
    );
    app
}

async fn add_sets_single_values_and_value_paths_upsert_one_element(app: TestApp) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "upsert@example.com", "emails": [{"type": "home", "value": "home@example.com"}]}))
        .await;
    // Add of a single value, first and second time (Entra's `Add` on an existing value, Q3).
    assert_eq!(
        app.patch_user_and_get(
            &id,
            json!([{"op": "Add", "path": "nickName", "value": "Babs"}])
        )
        .await["nickName"],
        "Babs"
    );
    assert_eq!(
        app.patch_user_and_get(
            &id,
            json!([{"op": "add", "path": "nickName", "value": "Barbara"}])
        )
        .await["nickName"],
        "Barbara"
    );

    // Replace on a work email that does not exist creates exactly one; add then updates it.
    let work = "emails[type eq \"work\"].value";
    assert_eq!(
        app.patch_user_and_get(
            &id,
            json!([{"op": "Replace", "path": work, "value": "w1@example.com"}])
        )
        .await["emails"],
        json!([{"type": "home", "value": "home@example.com"}, {"type": "work", "value": "w1@example.com"}])
    );
    assert_eq!(
        app.patch_user_and_get(
            &id,
            json!([{"op": "Add", "path": work, "value": "w2@example.com"}])
        )
        .await["emails"],
        json!([{"type": "home", "value": "home@example.com"}, {"type": "work", "value": "w2@example.com"}])
    );
    assert_eq!(
        app.filter_users("emails[type eq \"work\"].value eq \"w2@example.com\"")
            .await
            .id_list(),
        vec![id.clone()]
    );
    assert_eq!(
        app.filter_users("emails.value eq \"w1@example.com\"")
            .await
            .body["totalResults"],
        0
    );
    // A PATCH that leaves the e-mails alone keeps them findable (their index rows are not
    // rewritten, and not lost either).
    app.patch_user(
        &id,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        app.filter_users("emails[type eq \"work\"].value eq \"W2@example.com\"")
            .await
            .id_list(),
        vec![id.clone()]
    );

    // On a user with no emails at all, `add` creates the one element.
    let bare = app
        .create_user(&json!({"userName": "bare@example.com"}))
        .await;
    assert_eq!(
        app.patch_user_and_get(
            &bare,
            json!([{"op": "add", "path": work, "value": "bare@work.example"}])
        )
        .await["emails"],
        json!([{"type": "work", "value": "bare@work.example"}])
    );

    // Several ops on one filtered element build one address (lessons.md item 4).
    assert_eq!(
        app.patch_user_and_get(&id, json!([
            {"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].postalCode", "value": "12345"}
        ])).await["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield", "postalCode": "12345"}])
    );
    app
}

async fn mobile_phone_numbers_are_upserted_updated_and_removed_by_value_path(
    app: TestApp,
) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "phone@example.com", "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}]}))
        .await;
    let mobile = "phoneNumbers[type eq \"mobile\"].value";
    assert_eq!(
        app.patch_user_and_get(
            &id,
            json!([{"op": "replace", "path": mobile, "value": "+1 555 0101"}])
        )
        .await["phoneNumbers"],
        json!([{"type": "work", "value": "+1 555 0100"}, {"type": "mobile", "value": "+1 555 0101"}])
    );
    assert_eq!(
        app.patch_user_and_get(
            &id,
            json!([{"op": "replace", "path": mobile, "value": "+1 555 0102"}])
        )
        .await["phoneNumbers"],
        json!([{"type": "work", "value": "+1 555 0100"}, {"type": "mobile", "value": "+1 555 0102"}])
    );
    let found = app
        .filter_users("phoneNumbers[type eq \"mobile\"].value eq \"+1 555 0102\"")
        .await;
    assert_eq!(found.id_list(), vec![id.clone()]);
    assert_eq!(
        app.patch_user_and_get(&id, json!([{"op": "remove", "path": mobile}]))
            .await["phoneNumbers"],
        json!([{"type": "work", "value": "+1 555 0100"}])
    );
    assert_eq!(
        app.filter_users("phoneNumbers.value eq \"+1 555 0102\"")
            .await
            .body["totalResults"],
        0
    );
    app
}

async fn remove_with_a_value_on_a_value_path_removes_that_element(app: TestApp) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "rm@example.com", "emails": [
            {"type": "work", "value": "old@example.com", "primary": true},
            {"type": "home", "value": "home@example.com"}]}))
        .await;
    assert_eq!(
        app.patch_user_and_get(&id, json!([{"op": "Remove", "path": "emails[type eq \"work\"].value", "value": "old@example.com"}])).await["emails"],
        json!([{"type": "home", "value": "home@example.com"}])
    );
    assert_eq!(
        app.filter_users("emails.value eq \"old@example.com\"")
            .await
            .body["totalResults"],
        0
    );
    app
}

async fn manager_is_set_in_every_entra_shape_and_removed_with_an_empty_value(
    app: TestApp,
) -> TestApp {
    let first = app
        .create_user(&json!({"userName": "first.boss@example.com"}))
        .await;
    let second = app
        .create_user(&json!({"userName": "second.boss@example.com"}))
        .await;
    let id = app
        .create_user(&json!({"userName": "report@example.com", ENTERPRISE: {"department": "Ops"}}))
        .await;
    let manager_path = format!("{ENTERPRISE}:manager");
    // The manager as stored after a PATCH with these operations.
    let manager_after = |ops: Value| {
        let (app, id) = (&app, &id);
        async move { app.patch_user_and_get(id, ops).await[ENTERPRISE]["manager"].clone() }
    };

    // As an object (the validators' shape).
    let ops = json!([{"op": "add", "path": manager_path, "value": {"value": first}}]);
    assert_eq!(manager_after(ops).await, json!({"value": first}));
    // As Entra's one-element array with a $ref.
    let reference = format!("{}/Users/{second}", app.tenant_url);
    let ops = json!([{"op": "Replace", "path": manager_path, "value": [{"$ref": reference, "value": second}]}]);
    let now = manager_after(ops).await;
    assert_eq!(now["value"], second.as_str());
    assert!(
        now.get("$ref").is_none_or(|r| r == &json!(reference)),
        "{now}"
    );
    assert!(now.get("displayName").is_none());
    // As a bare id: the previous $ref goes with the previous manager.
    let ops = json!([{"op": "Add", "path": manager_path, "value": first}]);
    assert_eq!(manager_after(ops).await, json!({"value": first}));
    // The legacy bare path `manager` (entra-compat §3.5.1 Example 5).
    let ops = json!([{"op": "Add", "path": "manager", "value": [{"value": second}]}]);
    assert_eq!(manager_after(ops).await["value"], second.as_str());
    let found = app
        .filter_users(&format!("{ENTERPRISE}:manager eq \"{second}\""))
        .await;
    assert_eq!(found.id_list(), vec![id.clone()]);
    // Removal, as the validator and the gallery test do it: replace with an empty value.
    let user = app
        .patch_user_and_get(
            &id,
            json!([{"op": "replace", "path": manager_path, "value": {"value": ""}}]),
        )
        .await;
    assert_eq!(
        user[ENTERPRISE],
        json!({"department": "Ops"}),
        "manager gone, department kept"
    );
    assert_eq!(
        app.filter_users(&format!("{ENTERPRISE}:manager pr"))
            .await
            .body["totalResults"],
        0
    );
    // And with nothing else in the extension, the extension itself goes.
    app.patch_user(
        &id,
        json!([{"op": "add", "path": manager_path, "value": first}]),
    )
    .await
    .expect(StatusCode::OK);
    app.patch_user(
        &id,
        json!([{"op": "remove", "path": format!("{ENTERPRISE}:department")}]),
    )
    .await
    .expect(StatusCode::OK);
    let user = app
        .patch_user_and_get(
            &id,
            json!([{"op": "replace", "path": manager_path, "value": {"value": ""}}]),
        )
        .await;
    assert!(user.get(ENTERPRISE).is_none(), "{user}");
    assert_eq!(user["schemas"], json!([USER]));
    app
}

crate::on_both_backends!(
    entra_pathless_patch_with_dotted_and_urn_keys_updates_only_those,
    add_sets_single_values_and_value_paths_upsert_one_element,
    mobile_phone_numbers_are_upserted_updated_and_removed_by_value_path,
    remove_with_a_value_on_a_value_path_removes_that_element,
    manager_is_set_in_every_entra_shape_and_removed_with_an_empty_value,
);
