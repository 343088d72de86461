//! The rules around a user PATCH: an empty or no-op PATCH changes nothing, one bad operation
//! refuses the whole request, `userName` stays unique but case-insensitively the user's own, and
//! Entra's other quirks are stored canonically.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::TestApp;

async fn empty_operations_is_200_and_changes_nothing(app: TestApp) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "noop@example.com", "displayName": "Noop"}))
        .await;
    let before = app.get_user(&id).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let reply = app.patch_user(&id, json!([])).await.expect(StatusCode::OK);
    assert_eq!(reply.body, before);
    // Nor does a PATCH that sets what is already there.
    let same = json!([{"op": "replace", "path": "displayName", "value": "Noop"}]);
    let reply = app.patch_user(&id, same).await.expect(StatusCode::OK);
    assert_eq!(reply.body, before);
    assert_eq!(
        app.get_user(&id).await,
        before,
        "version and lastModified did not move"
    );
    app
}

async fn a_patch_whose_second_op_is_invalid_changes_nothing(app: TestApp) -> TestApp {
    let id = app
        .create_user(
            &json!({"userName": "atomic@example.com", "displayName": "Before", "active": true}),
        )
        .await;
    let before = app.get_user(&id).await;
    let cases = [
        (
            json!({"op": "Replace", "path": "active", "value": "sometimes"}),
            "invalidValue",
        ),
        (
            json!({"op": "Replace", "path": "nope", "value": "x"}),
            "invalidPath",
        ),
        (
            json!({"op": "Replace", "path": "meta.version", "value": "x"}),
            "mutability",
        ),
        (
            json!({"op": "Frobnicate", "path": "displayName", "value": "x"}),
            "invalidSyntax",
        ),
    ];
    for (second, scim_type) in cases {
        let ops = json!([{"op": "Replace", "path": "displayName", "value": "After"}, second]);
        let reply = app.patch_user(&id, ops).await;
        reply.expect_error(StatusCode::BAD_REQUEST, Some(scim_type));
        assert_eq!(app.get_user(&id).await, before, "{scim_type}");
    }
    assert_eq!(
        app.filter_users("displayName eq \"After\"").await.body["totalResults"],
        0
    );
    app
}

async fn a_user_may_take_a_case_variant_of_its_own_user_name_and_a_freed_name(
    app: TestApp,
) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "casey@example.com"}))
        .await;
    let path = format!("/Users/{id}");
    // Not a conflict with itself, by PATCH or by PUT.
    let rename = json!([{"op": "Replace", "path": "userName", "value": "Casey@Example.com"}]);
    let patched = app.patch_user(&id, rename).await.expect(StatusCode::OK);
    assert_eq!(patched.body["userName"], "Casey@Example.com");
    let put = app
        .put(&path, &json!({"userName": "CASEY@EXAMPLE.COM"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(put.body["userName"], "CASEY@EXAMPLE.COM");
    assert_eq!(
        app.filter_users("userName eq \"casey@example.com\"")
            .await
            .id_list(),
        vec![id.clone()]
    );
    // A renamed user frees its old name, and a deleted user frees its name.
    app.patch_user(
        &id,
        json!([{"op": "replace", "path": "userName", "value": "kasey@example.com"}]),
    )
    .await
    .expect(StatusCode::OK);
    let second = app
        .create_user(&json!({"userName": "casey@example.com"}))
        .await;
    app.delete(&format!("/Users/{second}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    let third = app
        .create_user(&json!({"userName": "Casey@example.com"}))
        .await;
    assert_ne!(third, second);
    // But taking another user's name is still a conflict.
    let taken = json!([{"op": "replace", "path": "userName", "value": "CASEY@example.com"}]);
    app.patch_user(&id, taken)
        .await
        .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(app.get_user(&id).await["userName"], "kasey@example.com");
    app
}

async fn other_entra_patch_quirks_are_accepted_and_stored_canonically(app: TestApp) -> TestApp {
    let id = app
        .create_user(
            &json!({"userName": "quirks@example.com", "active": true, "emails": [
            {"type": "work", "value": "work@example.com"},
            {"type": "home", "value": "home@example.com", "primary": true}]}),
        )
        .await;
    let role = r#"{"id":"5f1a","value":"25","displayName":"Role1234"}"#;
    let ops = json!([
        // A role serialised into a string (entra-compat Q16) is kept verbatim.
        {"op": "Add", "path": "roles", "value": [{"value": role}]},
        // A custom extension Iris does not define is ignored rather than failing the update.
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:CustomAttribute", "value": "x"},
        // The work email becomes primary with a string boolean; the home email stops being primary.
        {"op": "Replace", "path": "emails[type eq \"work\"].primary", "value": "True"},
        // Adding an email that is already there does not duplicate it.
        {"op": "Add", "path": "emails", "value": [{"type": "work", "value": "WORK@example.com"}]},
        // Path-less, with a string boolean and a rename.
        {"op": "Replace", "value": {"active": "False", "userName": "renamed@example.com"}}
    ]);
    app.patch_user(&id, ops).await.expect(StatusCode::OK);
    let user = app.get_user(&id).await;
    assert_eq!(user["roles"], json!([{"value": role}]));
    assert_eq!(user["active"], false);
    assert_eq!(user["userName"], "renamed@example.com");
    assert_eq!(
        user["emails"].as_array().unwrap().len(),
        2,
        "{}",
        user["emails"]
    );
    assert_eq!(user["emails"][0]["type"], "work");
    assert_eq!(user["emails"][0]["primary"], true);
    assert_eq!(
        user["emails"][1],
        json!({"type": "home", "value": "home@example.com", "primary": false})
    );
    assert!(
        user.as_object()
            .unwrap()
            .keys()
            .all(|k| !k.contains("CustomExtensionName"))
    );
    let primary = app
        .filter_users("emails[primary eq true].value eq \"work@example.com\"")
        .await;
    assert_eq!(primary.id_list(), vec![id.clone()]);
    assert_eq!(
        app.filter_users("emails[primary eq true].value eq \"home@example.com\"")
            .await
            .body["totalResults"],
        0
    );
    app
}

crate::on_both_backends!(
    empty_operations_is_200_and_changes_nothing,
    a_patch_whose_second_op_is_invalid_changes_nothing,
    a_user_may_take_a_case_variant_of_its_own_user_name_and_a_freed_name,
    other_entra_patch_quirks_are_accepted_and_stored_canonically,
);
