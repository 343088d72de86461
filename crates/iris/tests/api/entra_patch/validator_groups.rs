//! entra-compat §7.2, the SCIM Validator's group tests and its preview tests.

use reqwest::StatusCode;
use serde_json::json;

use super::{create_and_read, patch_and_read, patch_group_204, stored_group, with};
use crate::harness::{GROUP, TestApp, id_set, validator_user, without_meta};

/// entra-compat §7.2: "Create a new Group" and "Create a duplicate Group" (→ 409 `uniqueness`).
async fn validator_create_a_new_group_and_a_duplicate(app: TestApp) -> TestApp {
    let created = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP], "displayName": "Validators", "externalId": "v-1"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let g = created.id();
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
    let g = app
        .create_group(&json!({"displayName": "Validators"}))
        .await;
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
            let reply = app.list_groups(&params).await.expect(StatusCode::OK);
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
    let g = app
        .create_group(&json!({"displayName": "Validators", "members": [{"value": u}]}))
        .await;
    let got = app
        .get(&format!("/Groups/{g}?excludedAttributes=members"))
        .await
        .expect(StatusCode::OK);
    assert!(got.body.get("members").is_none(), "{}", got.text);
    let (full, members) = stored_group(&app, &g).await;
    assert_eq!(without_meta(&got.body), full);
    assert_eq!(members, id_set(&[&u]));
    app
}

/// entra-compat §7.2: "Patch Group – Replace Attributes" (`{"op":"replace","value":{"externalId":…}}`).
async fn validator_patch_group_replace_attributes(app: TestApp) -> TestApp {
    let u = app.create_user(&json!({"userName": "m@example.com"})).await;
    let g = app
        .create_group(
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
    assert_eq!(members, id_set(&[&u]), "members untouched");
    app
}

/// entra-compat §7.2: "Update Group displayName" (`{"op":"replace","value":{"displayName":…}}`).
async fn validator_update_group_display_name(app: TestApp) -> TestApp {
    let g = app
        .create_group(&json!({"displayName": "Validators", "externalId": "e"}))
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
    let g = app
        .create_group(&json!({"displayName": "Validators"}))
        .await;
    let (before, _) = stored_group(&app, &g).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"replace","path":"members","value":[{"value": users[0]}]}]),
    )
    .await;
    let (after, members) = stored_group(&app, &g).await;
    assert_eq!(after, before);
    assert_eq!(members, id_set(&[&users[0]]));
    patch_group_204(
        &app,
        &g,
        json!([{"op":"add","path":"members","value":[{"value": users[1]}]}]),
    )
    .await;
    assert_eq!(
        stored_group(&app, &g).await.1,
        id_set(&[&users[0], &users[1]])
    );
    app
}

/// entra-compat §7.2: "Patch Group – Remove Member" (`remove` with `members[value eq "<id>"]`).
async fn validator_patch_group_remove_member(app: TestApp) -> TestApp {
    let users = app.create_users("vr", 2).await;
    let g = app
        .create_group(&json!({"displayName": "Validators",
                "members": [{"value": users[0]}, {"value": users[1]}]}))
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
    assert_eq!(members, id_set(&[&users[0]]));
    app
}

/// entra-compat §7.2: "Delete a Group" (204, then GET → 404).
async fn validator_delete_a_group(app: TestApp) -> TestApp {
    let g = app
        .create_group(&json!({"displayName": "Validators"}))
        .await;
    app.delete(&format!("/Groups/{g}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    app.get(&format!("/Groups/{g}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

/// entra-compat §7.2 preview: "Patch User multiple ops on different attributes".
async fn validator_preview_patch_user_multiple_ops_on_different_attributes(
    app: TestApp,
) -> TestApp {
    let (id, before) = create_and_read(&app, &validator_user("multi@example.com")).await;
    let after = patch_and_read(
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
    let (id, before) = create_and_read(&app, &validator_user("same@example.com")).await;
    let after = patch_and_read(
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
    let (id, _) = create_and_read(&app, &validator_user("twice@example.com")).await;
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
    let g = app.create_group(&json!({"displayName": "Twice"})).await;
    app.delete(&format!("/Groups/{g}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    app.delete(&format!("/Groups/{g}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

crate::on_both_backends!(
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
);
