//! entra-compat §3.5.3, what a user PATCH answers, and §3.6: disable, re-enable, delete.

use reqwest::StatusCode;
use serde_json::json;

use super::{assert_patch_changes, create_and_read, patch_and_read, patch_group_204, stored_group};
use crate::harness::{SCIM_JSON, TestApp, entra_user, id_set, patch_body, rich_user};

/// entra-compat §3.5.3: a user PATCH answers 200 with the full updated user (SCIM JSON), equal to
/// what a later GET returns, with a new version.
async fn user_patch_answers_200_with_the_full_stored_user(app: TestApp) -> TestApp {
    let (id, _) = create_and_read(&app, &entra_user()).await;
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
    let ops = json!([
        {"op":"Replace","path":"phoneNumbers[type eq \"fax\"].value","value":"+1 555 0199"},
        {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:CustomAttribute","value":"x"},
        {"op":"Replace","path":"active","value":"False"}
    ]);
    let changes = json!({
        "active": false,
        "phoneNumbers": [
            {"value": "+1 555 0100", "type": "work"},
            {"type": "fax", "value": "+1 555 0199"}
        ]
    });
    assert_patch_changes(&app, &rich_user("fax@example.com"), ops, changes).await;
    app
}

/// entra-compat §3.6: a disabled user stays visible to GET by id and to filters.
async fn disabled_user_stays_visible_to_get_and_filters(app: TestApp) -> TestApp {
    let ops = json!([{"op":"Replace","path":"active","value":"False"}]);
    let changes = json!({"active": false});
    let id = assert_patch_changes(&app, &entra_user(), ops, changes).await;
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
    let (id, before) = create_and_read(&app, &entra_user()).await;
    let g = app.create_group(&json!({"displayName": "Staff"})).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value":[{"value": id}]}]),
    )
    .await;
    patch_and_read(
        &app,
        &id,
        json!([{"op":"Replace","path":"active","value":"False"}]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, id_set(&[&id]));
    let after = patch_and_read(
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
    assert_eq!(stored_group(&app, &g).await.1, id_set(&[&id]));
    app
}

/// entra-compat §3.6: hard delete is 204 with no body; afterwards GET, PATCH and a second
/// DELETE are 404 and filters no longer find the user.
async fn hard_delete_is_204_and_then_the_user_is_gone(app: TestApp) -> TestApp {
    let (id, _) = create_and_read(&app, &entra_user()).await;
    app.delete_and_expect_gone(&format!("/Users/{id}")).await;
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

crate::on_both_backends!(
    user_patch_answers_200_with_the_full_stored_user,
    patch_on_an_unknown_id_is_404,
    a_disable_with_a_fax_number_and_a_custom_attribute_is_applied,
    disabled_user_stays_visible_to_get_and_filters,
    re_enable_after_disable_keeps_memberships,
    hard_delete_is_204_and_then_the_user_is_gone,
);
