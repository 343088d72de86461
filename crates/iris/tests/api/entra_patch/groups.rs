//! entra-compat §4, the group lifecycle: create without members, rename, add and remove members
//! in both dialects, the membership check, delete.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{entra_group_with_members, patch_group_204, stored_group, stored_user, with};
use crate::harness::{GROUP, LIST_RESPONSE, SCIM_JSON, TestApp, entra_group, id_set};

/// entra-compat §4: create without members → 201 with `id`, `externalId`, `displayName`, `meta`
/// and `"members": []`; the stored group is exactly that.
async fn group_create_without_members(app: TestApp) -> TestApp {
    let reply = app
        .post("/Groups", &entra_group())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(reply.content_type(), SCIM_JSON);
    let g = reply.id();
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
    let g = app.create_group(&entra_group()).await;
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
        let found = app
            .list_groups(&[
                ("excludedAttributes", "members"),
                ("filter", "displayName eq \"displayName\""),
            ])
            .await
            .expect(StatusCode::OK);
        assert_eq!(found.body["schemas"], json!([LIST_RESPONSE]));
        assert_eq!(found.id_list(), vec![g.clone()]);
        assert!(found.resources()[0].get("members").is_none());
    }
    app
}

/// entra-compat §4: Rename (`Replace displayName`) → 204, stored; nothing else changes.
async fn group_rename_is_204_and_stored(app: TestApp) -> TestApp {
    let g = app.create_group(&entra_group()).await;
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
    let g = app.create_group(&entra_group()).await;
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
    let (users, g) = entra_group_with_members(&app, "rm", 3).await;
    let (before, _) = stored_group(&app, &g).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Remove","path":"members","value":[{"value": users[1]}]}]),
    )
    .await;
    let (after, members) = stored_group(&app, &g).await;
    assert_eq!(after, before);
    assert_eq!(members, id_set(&[&users[0], &users[2]]));
    app
}

/// entra-compat §4 and Q7: Remove members with `aadOptscim062020` (`members[value eq "…"]`, no
/// value) — exactly that member goes.
async fn group_remove_member_compliant_form_value_filter(app: TestApp) -> TestApp {
    let (users, g) = entra_group_with_members(&app, "rmf", 3).await;
    let (before, _) = stored_group(&app, &g).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"remove","path": format!("members[value eq \"{}\"]", users[0])}]),
    )
    .await;
    let (after, members) = stored_group(&app, &g).await;
    assert_eq!(after, before);
    assert_eq!(members, id_set(&[&users[1], &users[2]]));
    app
}

/// entra-compat §4 and §7.2 (preview "Patch Group multiple ops on the same attribute"): `add`
/// then `remove` of the same member in one PATCH nets to "not a member"; other members stay.
async fn group_add_and_remove_of_the_same_member_in_one_patch(app: TestApp) -> TestApp {
    let users = app.create_users("net", 2).await;
    let g = app.create_group(&entra_group()).await;
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
    assert_eq!(stored_group(&app, &g).await.1, id_set(&[&users[0]]));
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
    assert_eq!(stored_group(&app, &g).await.1, id_set(&[&users[0]]));
    app
}

/// entra-compat §4: Add is idempotent — re-adding a present member (also twice in one value
/// array) stores it once and does not move the version.
async fn group_add_is_idempotent(app: TestApp) -> TestApp {
    let users = app.create_users("idem", 2).await;
    let g = app.create_group(&entra_group()).await;
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value":[{"value": users[0]}, {"value": users[0]}]}]),
    )
    .await;
    assert_eq!(stored_group(&app, &g).await.1, id_set(&[&users[0]]));
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
    assert_eq!(stored_group(&app, &g).await.1, id_set(&[&users[0]]));
    // Mixed with a new member: the new one is added, the present one not duplicated.
    patch_group_204(
        &app,
        &g,
        json!([{"op":"Add","path":"members","value":[{"value": users[0]}, {"value": users[1]}]}]),
    )
    .await;
    assert_eq!(
        stored_group(&app, &g).await.1,
        id_set(&[&users[0], &users[1]])
    );
    app
}

/// entra-compat §4: the membership check `id eq "g" and members eq "u"` answers 200 with one
/// result for a member and an empty list otherwise.
async fn group_membership_filter_id_and_members_eq(app: TestApp) -> TestApp {
    let users = app.create_users("mf", 2).await;
    let g = app.create_group(&entra_group()).await;
    let h = app.create_group(&json!({"displayName": "Other"})).await;
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
            let reply = app
                .list_groups(&[("excludedAttributes", "members"), ("filter", &filter)])
                .await
                .expect(StatusCode::OK);
            assert_eq!(reply.body["schemas"], json!([LIST_RESPONSE]));
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
    let (users, g) = entra_group_with_members(&app, "del", 2).await;
    app.delete_and_expect_gone(&format!("/Groups/{g}")).await;
    app.patch_group(
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

crate::on_both_backends!(
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
);
