//! The membership rules (lessons.md items 1 and 6): members must be users or groups of the
//! tenant, a user's `groups` attribute follows its memberships, deleting a user removes them while
//! disabling keeps them, and nested groups are members of type `Group`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{TestApp, id_set};

async fn unknown_or_other_tenant_member_ids_are_400_and_nothing_is_written(
    app: TestApp,
) -> TestApp {
    let users = app.create_users("u", 2).await;
    let g = app.create_group_named("Engineering").await;
    app.add_members(&g, &[&users[0]]).await;
    let before = app.group_version(&g).await;

    // A user of another tenant.
    let (other_url, other_token) = app.other_tenant("globex").await;
    let stranger = app
        .send_as(
            Some(&other_token),
            Method::POST,
            &format!("{other_url}/Users"),
            Some(&json!({"userName": "stranger@example.com"})),
        )
        .await;
    assert_eq!(stranger.status, StatusCode::CREATED);
    let stranger = stranger.id();
    let unknown = uuid::Uuid::now_v7().to_string();

    for bad in [&unknown, &stranger] {
        // A rename and a valid member in the same request: all or nothing.
        let reply = app
            .patch_group(
                &g,
                json!([
                    {"op": "replace", "path": "displayName", "value": "Renamed"},
                    {"op": "add", "path": "members", "value": [{"value": users[1]}, {"value": bad}]}
                ]),
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .contains(bad.as_str())
        );
        // The value-filter form too.
        app.patch_group(
            &g,
            json!([{"op": "add", "path": format!("members[value eq \"{bad}\"]")}]),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        // Even when a later operation removes it again.
        app.patch_group(
            &g,
            json!([
                {"op": "add", "path": "members", "value": [{"value": bad}]},
                {"op": "remove", "path": "members", "value": [{"value": bad}]}
            ]),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        // PUT and POST check members the same way.
        app.put(
            &format!("/Groups/{g}"),
            &json!({"displayName": "Engineering", "members": [{"value": bad}]}),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        app.post(
            "/Groups",
            &json!({"displayName": "New", "members": [{"value": users[0]}, {"value": bad}]}),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    // A wrong explicit type, and the group itself.
    app.patch_group(
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": users[1], "type": "Group"}]}]),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    app.patch_group(
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": g}]}]),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));

    let got = app
        .get(&format!("/Groups/{g}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(got.body["displayName"], "Engineering");
    assert_eq!(got.body["meta"]["version"], before.as_str());
    assert_eq!(app.members_of(&g).await, id_set(&[&users[0]]));
    let all = app.list_groups(&[("excludedAttributes", "members")]).await;
    assert_eq!(all.body["totalResults"], 1, "no group was created");
    // The other tenant sees none of it, and cannot reach this tenant's group.
    let theirs = app
        .send_as(
            Some(&other_token),
            Method::GET,
            &format!("{other_url}/Groups/{g}"),
            None,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    app
}

async fn a_users_groups_attribute_follows_its_memberships(app: TestApp) -> TestApp {
    let users = app.create_users("g", 3).await;
    let (u0, u1, u2) = (&users[0], &users[1], &users[2]);
    let a = app.create_group_named("A-Team").await;
    let b = app.create_group_named("b-team").await;
    app.add_members(&a, &[u0, u1]).await;
    app.add_members(&b, &[u0]).await;
    let user = app.get_user(u0).await;
    assert_eq!(
        user["groups"],
        json!([
            {"value": a, "$ref": format!("{}/Groups/{a}", app.tenant_url), "display": "A-Team", "type": "direct"},
            {"value": b, "$ref": format!("{}/Groups/{b}", app.tenant_url), "display": "b-team", "type": "direct"}
        ])
    );
    // `groups` is readOnly: sending it changes nothing, patching it is refused.
    app.put(
        &format!("/Users/{u2}"),
        &json!({"userName": "g2@example.com", "groups": [{"value": a}]}),
    )
    .await
    .expect(StatusCode::OK);
    assert!(!app.is_member(&a, u2).await);
    app.patch_user(
        u2,
        json!([{"op": "add", "path": "groups", "value": [{"value": a}]}]),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("mutability"));
    // A user in no group has no `groups` attribute.
    let lonely = app.get(&format!("/Users/{u2}")).await.body;
    assert!(lonely.get("groups").is_none(), "{lonely}");
    // Projection: excluded, or not asked for, means not read.
    let without = app
        .get(&format!("/Users/{u0}?excludedAttributes=groups"))
        .await
        .body;
    assert!(without.get("groups").is_none());
    let only = app
        .get(&format!("/Users/{u0}?attributes=groups.display"))
        .await
        .body;
    assert_eq!(
        only["groups"],
        json!([{"display": "A-Team"}, {"display": "b-team"}])
    );
    // In lists too (one membership query per page).
    let listed = app
        .list_users(&[("filter", "userName sw \"g\""), ("sortBy", "userName")])
        .await
        .expect(StatusCode::OK);
    let groups: Vec<usize> = listed
        .resources()
        .iter()
        .map(|u| u["groups"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(groups, [2, 1, 0]);
    // The matching query (a point lookup, memberships read by the same statement) renders them
    // exactly as a GET by id, in the same order.
    for filter in [
        format!("userName eq \"{}\"", user["userName"].as_str().unwrap()),
        format!("id eq \"{u0}\""),
    ] {
        let matched = app.filter_users(&filter).await.expect(StatusCode::OK);
        assert_eq!(matched.resources()[0]["groups"], user["groups"], "{filter}");
    }
    let matched = app
        .filter_users(&format!("id eq \"{u2}\""))
        .await
        .expect(StatusCode::OK);
    assert!(matched.resources()[0].get("groups").is_none());

    // Filters on users through memberships.
    let by_group = app
        .filter_users(&format!("groups.value eq \"{a}\""))
        .await
        .expect(StatusCode::OK);
    assert_eq!(by_group.ids(), id_set(&[u0, u1]));
    let by_display = app
        .filter_users("groups[display eq \"B-TEAM\" and type eq \"direct\"]")
        .await
        .expect(StatusCode::OK);
    assert_eq!(by_display.ids(), id_set(&[u0]));
    let in_none = app
        .filter_users("not (groups pr)")
        .await
        .expect(StatusCode::OK);
    assert_eq!(in_none.ids(), id_set(&[u2]));

    // Leaving a group, renaming one and deleting one show at once.
    app.patch_group(
        &a,
        json!([{"op": "remove", "path": format!("members[value eq \"{u0}\"]")}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.patch_group(
        &b,
        json!([{"op": "replace", "path": "displayName", "value": "Bravo"}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let user = app.get(&format!("/Users/{u0}")).await.body;
    assert_eq!(user["groups"][0]["value"], b.as_str());
    assert_eq!(user["groups"][0]["display"], "Bravo");
    assert_eq!(user["groups"].as_array().unwrap().len(), 1);
    app.delete(&format!("/Groups/{b}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    let user = app.get(&format!("/Users/{u0}")).await.body;
    assert!(user.get("groups").is_none(), "{user}");
    app
}

async fn deleting_a_user_removes_its_memberships_and_disabling_keeps_them(app: TestApp) -> TestApp {
    let users = app.create_users("d", 3).await;
    let (u0, u1, u2) = (&users[0], &users[1], &users[2]);
    let g = app.create_group_named("Staff").await;
    let h = app.create_group_named("Contractors").await;
    for group in [&g, &h] {
        app.add_members(group, &[u0, u1, u2]).await;
    }
    // Entra disables with a string boolean; memberships stay (Entra re-enables without
    // restoring them).
    app.patch_user(
        u0,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await
    .expect(StatusCode::OK);
    assert!(app.is_member(&g, u0).await);
    assert_eq!(app.members_of(&g).await, id_set(&[u0, u1, u2]));
    let disabled = app.get(&format!("/Users/{u0}")).await.body;
    assert_eq!(disabled["active"], false);
    assert_eq!(disabled["groups"].as_array().unwrap().len(), 2);

    // Deleting a user removes it from every group.
    app.delete(&format!("/Users/{u1}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(app.members_of(&g).await, id_set(&[u0, u2]));
    assert_eq!(app.members_of(&h).await, id_set(&[u0, u2]));
    assert!(!app.is_member(&g, u1).await);
    let by_member = app
        .list_groups(&[
            ("excludedAttributes", "members"),
            ("filter", &format!("members eq \"{u1}\"")),
        ])
        .await;
    assert_eq!(by_member.body["totalResults"], 0);
    // Its id can no longer be added.
    app.patch_group(
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": u1}]}]),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    app
}

async fn nested_groups_are_members_of_type_group(app: TestApp) -> TestApp {
    let users = app.create_users("n", 1).await;
    let parent = app.create_group_named("Parent").await;
    let child = app.create_group_named("Child").await;
    // A nested group arrives as a member whose value is the group's id (no type given).
    app.patch_group(&parent,
        json!([{"op": "Add", "path": "members", "value": [{"value": child, "$ref": null}, {"value": users[0]}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let got = app
        .get(&format!("/Groups/{parent}"))
        .await
        .expect(StatusCode::OK)
        .body;
    let mut members = got["members"].as_array().unwrap().clone();
    members.sort_by_key(|m| m["type"].as_str().unwrap().to_owned());
    assert_eq!(
        members,
        vec![
            json!({"value": child, "$ref": format!("{}/Groups/{child}", app.tenant_url), "display": "Child", "type": "Group"}),
            json!({"value": users[0], "$ref": format!("{}/Users/{}", app.tenant_url, users[0]), "type": "User"}),
        ]
    );
    let nested = app
        .list_groups(&[
            ("excludedAttributes", "members"),
            ("filter", "members.type eq \"group\""),
        ])
        .await;
    assert_eq!(nested.ids(), id_set(&[&parent]));
    // Deleting the child removes it from its parent; the parent keeps its other members.
    app.delete(&format!("/Groups/{child}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(app.members_of(&parent).await, id_set(&[&users[0]]));
    app
}

crate::on_both_backends!(
    unknown_or_other_tenant_member_ids_are_400_and_nothing_is_written,
    a_users_groups_attribute_follows_its_memberships,
    deleting_a_user_removes_its_memberships_and_disabling_keeps_them,
    nested_groups_are_members_of_type_group,
);
