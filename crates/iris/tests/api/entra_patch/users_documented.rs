//! entra-compat §3.5.1, the documented shapes of the default (non-flag) job, and §3.5.2, the same
//! requests with `aadOptscim062020`.

use reqwest::StatusCode;
use serde_json::json;

use super::{assert_patch_changes, create_and_read, patch_and_read, patch_and_read_at, with};
use crate::harness::{ENTERPRISE, TestApp, USER, entra_user, rich_user};

/// entra-compat §3.5.1: multiple attributes, each with its own capitalised op and path.
async fn default_mode_replaces_several_attributes_each_with_its_own_op(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &entra_user()).await;
    let ops = json!([
        {"op":"Replace","path":"displayName","value":"Pvlo"},
        {"op":"Replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},
        {"op":"Replace","path":"name.givenName","value":"Gtfd"},
        {"op":"Replace","path":"name.familyName","value":"Pkqf"},
        {"op":"Replace","path":"externalId","value":"Eqpj"},
        {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Eqpj"}
    ]);
    let after = patch_and_read(&app, &id, ops.clone()).await;
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
    assert_eq!(patch_and_read(&app, &id, ops).await, expected);
    app
}

/// entra-compat §3.5.1: a single-valued attribute set for the first time with `Add`.
async fn default_mode_add_sets_nick_name_for_the_first_time(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &entra_user()).await;
    assert!(before.get("nickName").is_none());
    let after = patch_and_read(
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
    let (id, before) = create_and_read(&app, &entra_user()).await;
    let after = patch_and_read(
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
    let ops = json!([{"op":"Replace","path":"active","value":false}]);
    let changes = json!({"active": false});
    assert_patch_changes(&app, &entra_user(), ops, changes).await;
    app
}

/// entra-compat §3.5.1: Rename (`Replace userName`); the old name no longer matches, the new one
/// does.
async fn default_mode_rename_user_name(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &entra_user()).await;
    let new_name = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com";
    let after = patch_and_read(
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
    let (id, before) = create_and_read(&app, &entra_user()).await;
    let reference = format!("{}/Users/{boss}", app.tenant_url);
    let after = patch_and_read(
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

/// entra-compat §3.5.2: disable with a lowercase op and a JSON boolean, flag in the URL.
async fn compliant_mode_disable_with_boolean_false(app: TestApp) -> TestApp {
    let (id, before) = create_and_read(&app, &entra_user()).await;
    let after = patch_and_read_at(
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
    let (id, before) = create_and_read(&app, &entra_user()).await;
    let after = patch_and_read_at(
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
    let (id, before) = create_and_read(&app, &rich_user("flag@example.com")).await;
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
    let after = patch_and_read_at(
        &app,
        &format!("/Users/{id}?aadOptscim062020"),
        &id,
        ops.clone(),
    )
    .await;
    assert_eq!(after, expected);
    assert_eq!(patch_and_read(&app, &id, ops).await, expected);
    app
}

crate::on_both_backends!(
    default_mode_replaces_several_attributes_each_with_its_own_op,
    default_mode_add_sets_nick_name_for_the_first_time,
    default_mode_disable_with_string_false,
    default_mode_disable_with_json_false,
    default_mode_rename_user_name,
    default_mode_legacy_manager_add_with_ref_array,
    compliant_mode_disable_with_boolean_false,
    compliant_mode_add_nick_name,
    compliant_mode_value_path_plus_pathless_dotted_and_urn_keys,
);
