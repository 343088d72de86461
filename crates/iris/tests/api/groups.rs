//! `/Groups` and memberships: Entra's group flow from entra-compat §4 with the request bodies Entra
//! sends, the membership rules (lessons.md items 1 and 6), the user side (`groups`, cascades),
//! filters, PATCH answers, streaming member reads, root search and export/import.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Reply, TestApp};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn patch_body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

async fn create_group(app: &TestApp, name: &str) -> String {
    let reply = app
        .post("/Groups", &json!({"schemas": [GROUP], "displayName": name}))
        .await
        .expect(StatusCode::CREATED);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn patch_group(app: &TestApp, id: &str, ops: Value) -> Reply {
    app.patch(&format!("/Groups/{id}"), &patch_body(ops)).await
}

/// `GET /Groups?…` with the given query parameters, URL-encoded here.
async fn list_groups(app: &TestApp, params: &[(&str, &str)]) -> Reply {
    let q = serde_urlencoded::to_string(params).unwrap();
    app.get(&format!("/Groups?{q}")).await
}

/// The member ids of a group, read in full.
async fn members_of(app: &TestApp, id: &str) -> BTreeSet<String> {
    let group = app
        .get(&format!("/Groups/{id}"))
        .await
        .expect(StatusCode::OK)
        .body;
    group["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members array in {group}"))
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

/// Entra's membership check: `id eq "G" and members[value eq "U"]`, without members.
async fn is_member(app: &TestApp, group: &str, member: &str) -> bool {
    let filter = format!("id eq \"{group}\" and members[value eq \"{member}\"]");
    let reply = list_groups(
        app,
        &[("excludedAttributes", "members"), ("filter", &filter)],
    )
    .await
    .expect(StatusCode::OK);
    for r in reply.resources() {
        assert!(r.get("members").is_none(), "{r}");
    }
    match reply.body["totalResults"].as_u64() {
        Some(0) => false,
        Some(1) => true,
        other => panic!("membership check returned {other:?}"),
    }
}

async fn version_of(app: &TestApp, id: &str) -> String {
    let g = app
        .get(&format!("/Groups/{id}?excludedAttributes=members"))
        .await
        .expect(StatusCode::OK);
    g.body["meta"]["version"].as_str().unwrap().to_owned()
}

async fn entra_group_flow_from_entra_compat_section_4(app: TestApp) -> TestApp {
    let users = app.create_users("member", 4).await;
    let (u0, u1, u2, u3) = (&users[0], &users[1], &users[2], &users[3]);

    // Test Connection for groups: a random name finds nothing, 200 with an empty list.
    let none = list_groups(
        &app,
        &[
            ("excludedAttributes", "members"),
            ("filter", "displayName eq \"00000000-no-such-group\""),
        ],
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(none.body["totalResults"], 0);
    assert_eq!(none.body["Resources"], json!([]));

    // Create: always without members, with Entra's extra schema URN and a meta echo.
    let created = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                    "displayName": "displayName",
                    "meta": {"resourceType": "Group"}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let g = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location").unwrap(),
        format!("{}/Groups/{g}", app.tenant_url)
    );
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert_eq!(created.body["schemas"], json!([GROUP]));
    assert_eq!(created.body["displayName"], "displayName");
    assert_eq!(
        created.body["externalId"],
        "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    );
    assert_eq!(created.body["members"], json!([]));
    assert_eq!(created.body["meta"]["resourceType"], "Group");
    assert_eq!(
        created.body["meta"]["location"],
        format!("{}/Groups/{g}", app.tenant_url)
    );

    // Get and query, always with excludedAttributes=members: no `members` key at all.
    let got = app
        .get(&format!("/Groups/{g}?excludedAttributes=members"))
        .await
        .expect(StatusCode::OK);
    assert!(got.body.get("members").is_none(), "{}", got.text);
    assert_eq!(got.body["displayName"], "displayName");
    assert_eq!(got.body["id"], g.as_str());
    for name in ["displayName", "DISPLAYNAME"] {
        let found = list_groups(
            &app,
            &[
                ("excludedAttributes", "members"),
                ("filter", &format!("displayName eq \"{name}\"")),
            ],
        )
        .await
        .expect(StatusCode::OK);
        assert_eq!(found.body["totalResults"], 1, "{name}");
        assert_eq!(found.resources()[0]["id"], g.as_str());
        assert!(found.resources()[0].get("members").is_none());
    }

    // The membership check before any member was added.
    assert!(!is_member(&app, &g, u0).await);

    // Rename: 204 No Content, empty body.
    let renamed = patch_group(
        &app,
        &g,
        json!([{"op": "Replace", "path": "displayName", "value": "1879db59-updatedDisplayName"}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert!(renamed.text.is_empty());
    assert_eq!(renamed.header("etag"), Some("W/\"2\""));
    let got = app
        .get(&format!("/Groups/{g}?excludedAttributes=members"))
        .await;
    assert_eq!(got.body["displayName"], "1879db59-updatedDisplayName");

    // Add members, Entra's way: a value array with `$ref: null`.
    let add: Vec<Value> = users
        .iter()
        .map(|u| json!({"$ref": null, "value": u}))
        .collect();
    patch_group(
        &app,
        &g,
        json!([{"op": "Add", "path": "members", "value": add}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert_eq!(members_of(&app, &g).await, set(&[u0, u1, u2, u3]));
    assert!(is_member(&app, &g, u0).await);
    assert!(is_member(&app, &g, u3).await);

    // Remove, Entra's default dialect: a value array. Exactly the listed member goes.
    patch_group(
        &app,
        &g,
        json!([{"op": "Remove", "path": "members", "value": [{"value": u1}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert_eq!(members_of(&app, &g).await, set(&[u0, u2, u3]));
    assert!(!is_member(&app, &g, u1).await);

    // Remove, the aadOptscim062020 way: a value filter in the path.
    patch_group(
        &app,
        &g,
        json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert_eq!(members_of(&app, &g).await, set(&[u0, u3]));

    // Adding a present member is a no-op: nothing changes, not even the version.
    let before = version_of(&app, &g).await;
    patch_group(
        &app,
        &g,
        json!([{"op": "Add", "path": "members", "value": [{"value": u0}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert_eq!(version_of(&app, &g).await, before);
    assert_eq!(members_of(&app, &g).await, set(&[u0, u3]));

    // The validator's preview test: add and remove of one member in one PATCH nets to "not a member".
    patch_group(
        &app,
        &g,
        json!([
            {"op": "add", "path": "members", "value": [{"value": u1}]},
            {"op": "remove", "path": format!("members[value eq \"{u1}\"]")}
        ]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert!(!is_member(&app, &g, u1).await);
    assert_eq!(members_of(&app, &g).await, set(&[u0, u3]));

    // Replace sets the membership exactly (the validator's "Add Member" in one of its runs).
    patch_group(
        &app,
        &g,
        json!([{"op": "replace", "path": "members", "value": [{"value": u1}, {"value": u2}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert_eq!(members_of(&app, &g).await, set(&[u1, u2]));

    // Remove with no value removes every member.
    patch_group(&app, &g, json!([{"op": "Remove", "path": "members"}]))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(members_of(&app, &g).await.is_empty());
    assert!(!is_member(&app, &g, u1).await);

    // The validator's path-less replace of externalId and displayName.
    patch_group(
        &app,
        &g,
        json!([{"op": "replace", "value": {"externalId": "ext-2", "displayName": "Renamed"}}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let got = app
        .get(&format!("/Groups/{g}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(got.body["externalId"], "ext-2");
    assert_eq!(got.body["displayName"], "Renamed");

    // Delete: 204, then 404 for GET and for a second DELETE.
    let deleted = app
        .delete(&format!("/Groups/{g}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(deleted.text.is_empty());
    app.get(&format!("/Groups/{g}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app.delete(&format!("/Groups/{g}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app.patch(&format!("/Groups/{g}"), &patch_body(json!([])))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    // Users are untouched by a group's deletion.
    assert_eq!(app.all_user_ids().await.len(), 4);
    app
}

async fn a_case_variant_duplicate_display_name_is_409_uniqueness(app: TestApp) -> TestApp {
    let a = create_group(&app, "Sales Team").await;
    let b = create_group(&app, "Émile's group").await;
    app.post("/Groups", &json!({"displayName": "SALES TEAM"}))
        .await
        .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    app.post("/Groups", &json!({"displayName": "ÉMILE'S GROUP"}))
        .await
        .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    patch_group(
        &app,
        &b,
        json!([{"op": "replace", "path": "displayName", "value": "sales team"}]),
    )
    .await
    .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    app.put(
        &format!("/Groups/{b}"),
        &json!({"displayName": "Sales TEAM"}),
    )
    .await
    .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    // displayName is required.
    app.post("/Groups", &json!({"externalId": "x"}))
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    patch_group(&app, &a, json!([{"op": "remove", "path": "displayName"}]))
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("mutability"));
    let all = list_groups(&app, &[("excludedAttributes", "members")])
        .await
        .expect(StatusCode::OK);
    assert_eq!(all.body["totalResults"], 2, "nothing partial was written");
    let names: BTreeSet<&str> = all
        .resources()
        .iter()
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["Sales Team", "Émile's group"]));
    // Renaming a group to a case variant of its own name is fine.
    patch_group(
        &app,
        &a,
        json!([{"op": "replace", "path": "displayName", "value": "SALES team"}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app
}

async fn unknown_or_other_tenant_member_ids_are_400_and_nothing_is_written(
    app: TestApp,
) -> TestApp {
    let users = app.create_users("u", 2).await;
    let g = create_group(&app, "Engineering").await;
    patch_group(
        &app,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": users[0]}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let before = version_of(&app, &g).await;

    // A user of another tenant.
    let (other_url, other_token) = app.other_tenant("globex").await;
    let stranger = app
        .http
        .post(format!("{other_url}/Users"))
        .bearer_auth(&other_token)
        .json(&json!({"userName": "stranger@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::CREATED);
    let stranger: Value = stranger.json().await.unwrap();
    let stranger = stranger["id"].as_str().unwrap().to_owned();
    let unknown = uuid::Uuid::now_v7().to_string();

    for bad in [&unknown, &stranger] {
        // A rename and a valid member in the same request: all or nothing.
        let reply = patch_group(
            &app,
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
        patch_group(
            &app,
            &g,
            json!([{"op": "add", "path": format!("members[value eq \"{bad}\"]")}]),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        // Even when a later operation removes it again.
        patch_group(
            &app,
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
    patch_group(
        &app,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": users[1], "type": "Group"}]}]),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    patch_group(
        &app,
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
    assert_eq!(members_of(&app, &g).await, set(&[&users[0]]));
    let all = list_groups(&app, &[("excludedAttributes", "members")]).await;
    assert_eq!(all.body["totalResults"], 1, "no group was created");
    // The other tenant sees none of it, and cannot reach this tenant's group.
    let theirs = app
        .http
        .get(format!("{other_url}/Groups/{g}"))
        .bearer_auth(&other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    app
}

async fn a_users_groups_attribute_follows_its_memberships(app: TestApp) -> TestApp {
    let users = app.create_users("g", 3).await;
    let (u0, u1, u2) = (&users[0], &users[1], &users[2]);
    let a = create_group(&app, "A-Team").await;
    let b = create_group(&app, "b-team").await;
    for (g, members) in [(&a, vec![u0, u1]), (&b, vec![u0])] {
        let value: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        patch_group(
            &app,
            g,
            json!([{"op": "add", "path": "members", "value": value}]),
        )
        .await
        .expect(StatusCode::NO_CONTENT);
    }
    let user = app
        .get(&format!("/Users/{u0}"))
        .await
        .expect(StatusCode::OK)
        .body;
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
    assert!(!is_member(&app, &a, u2).await);
    app.patch(
        &format!("/Users/{u2}"),
        &patch_body(json!([{"op": "add", "path": "groups", "value": [{"value": a}]}])),
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
    assert_eq!(by_group.ids(), set(&[u0, u1]));
    let by_display = app
        .filter_users("groups[display eq \"B-TEAM\" and type eq \"direct\"]")
        .await
        .expect(StatusCode::OK);
    assert_eq!(by_display.ids(), set(&[u0]));
    let in_none = app
        .filter_users("not (groups pr)")
        .await
        .expect(StatusCode::OK);
    assert_eq!(in_none.ids(), set(&[u2]));

    // Leaving a group, renaming one and deleting one show at once.
    patch_group(
        &app,
        &a,
        json!([{"op": "remove", "path": format!("members[value eq \"{u0}\"]")}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    patch_group(
        &app,
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
    let g = create_group(&app, "Staff").await;
    let h = create_group(&app, "Contractors").await;
    for group in [&g, &h] {
        patch_group(
            &app,
            group,
            json!([{"op": "add", "path": "members", "value": [{"value": u0}, {"value": u1}, {"value": u2}]}]),
        )
        .await
        .expect(StatusCode::NO_CONTENT);
    }
    // Entra disables with a string boolean; memberships stay (Entra re-enables without
    // restoring them).
    app.patch(
        &format!("/Users/{u0}"),
        &patch_body(json!([{"op": "Replace", "path": "active", "value": "False"}])),
    )
    .await
    .expect(StatusCode::OK);
    assert!(is_member(&app, &g, u0).await);
    assert_eq!(members_of(&app, &g).await, set(&[u0, u1, u2]));
    let disabled = app.get(&format!("/Users/{u0}")).await.body;
    assert_eq!(disabled["active"], false);
    assert_eq!(disabled["groups"].as_array().unwrap().len(), 2);

    // Deleting a user removes it from every group.
    app.delete(&format!("/Users/{u1}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(members_of(&app, &g).await, set(&[u0, u2]));
    assert_eq!(members_of(&app, &h).await, set(&[u0, u2]));
    assert!(!is_member(&app, &g, u1).await);
    let by_member = list_groups(
        &app,
        &[
            ("excludedAttributes", "members"),
            ("filter", &format!("members eq \"{u1}\"")),
        ],
    )
    .await;
    assert_eq!(by_member.body["totalResults"], 0);
    // Its id can no longer be added.
    patch_group(
        &app,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": u1}]}]),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    app
}

async fn nested_groups_are_members_of_type_group(app: TestApp) -> TestApp {
    let users = app.create_users("n", 1).await;
    let parent = create_group(&app, "Parent").await;
    let child = create_group(&app, "Child").await;
    // A nested group arrives as a member whose value is the group's id (no type given).
    patch_group(
        &app,
        &parent,
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
    let nested = list_groups(
        &app,
        &[
            ("excludedAttributes", "members"),
            ("filter", "members.type eq \"group\""),
        ],
    )
    .await;
    assert_eq!(nested.ids(), set(&[&parent]));
    // Deleting the child removes it from its parent; the parent keeps its other members.
    app.delete(&format!("/Groups/{child}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(members_of(&app, &parent).await, set(&[&users[0]]));
    app
}

async fn group_filters_sorting_and_paging_run_in_sql(app: TestApp) -> TestApp {
    let users = app.create_users("f", 2).await;
    let mut ids = Vec::new();
    for (name, ext) in [("Alpha", "e-1"), ("beta", "E-2"), ("Gamma", "e-3")] {
        let reply = app
            .post("/Groups", &json!({"displayName": name, "externalId": ext}))
            .await
            .expect(StatusCode::CREATED);
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    let (alpha, beta, gamma) = (&ids[0], &ids[1], &ids[2]);
    patch_group(
        &app,
        alpha,
        json!([{"op": "add", "path": "members", "value": [{"value": users[0]}, {"value": users[1]}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    patch_group(
        &app,
        beta,
        json!([{"op": "add", "path": "members", "value": [{"value": users[1]}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let (u0, u1) = (&users[0], &users[1]);
    let cases: Vec<(String, BTreeSet<String>)> = vec![
        ("displayName eq \"ALPHA\"".into(), set(&[alpha])),
        ("displayName sw \"g\"".into(), set(&[gamma])),
        ("externalId eq \"E-2\"".into(), set(&[beta])),
        ("externalId eq \"e-2\"".into(), BTreeSet::new()),
        (format!("id eq \"{gamma}\""), set(&[gamma])),
        (format!("members eq \"{u0}\""), set(&[alpha])),
        (format!("members.value eq \"{u1}\""), set(&[alpha, beta])),
        (format!("members[value eq \"{u1}\"]"), set(&[alpha, beta])),
        (
            format!("members[value eq \"{}\"]", u1.to_uppercase()),
            set(&[alpha, beta]),
        ),
        ("members.type eq \"User\"".into(), set(&[alpha, beta])),
        ("members pr".into(), set(&[alpha, beta])),
        ("not (members pr)".into(), set(&[gamma])),
        (
            format!("not (members[value eq \"{u0}\"])"),
            set(&[beta, gamma]),
        ),
        (
            format!("members[value eq \"{u0}\"] or displayName eq \"gamma\""),
            set(&[alpha, gamma]),
        ),
        (
            format!("id eq \"{beta}\" and members[value eq \"{u0}\"]"),
            BTreeSet::new(),
        ),
        ("meta.created pr".into(), set(&[alpha, beta, gamma])),
        ("members.display pr".into(), BTreeSet::new()),
    ];
    for (filter, expected) in &cases {
        let listed = list_groups(
            &app,
            &[
                ("filter", filter.as_str()),
                ("excludedAttributes", "members"),
            ],
        )
        .await
        .expect(StatusCode::OK);
        assert_eq!(&listed.ids(), expected, "GET filter {filter}");
        let searched = app
            .post(
                "/Groups/.search",
                &json!({"filter": filter, "excludedAttributes": ["members"]}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(&searched.ids(), expected, "POST .search filter {filter}");
        for r in searched.resources() {
            assert!(r.get("members").is_none());
        }
    }
    list_groups(&app, &[("filter", "userName eq \"x\"")])
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));

    // Sorted by displayName (case-insensitively), paged.
    let sorted = list_groups(
        &app,
        &[
            ("sortBy", "displayName"),
            ("sortOrder", "descending"),
            ("excludedAttributes", "members"),
        ],
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        sorted.id_list(),
        vec![gamma.clone(), beta.clone(), alpha.clone()]
    );
    let page = list_groups(
        &app,
        &[
            ("sortBy", "displayName"),
            ("startIndex", "2"),
            ("count", "1"),
        ],
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(page.body["totalResults"], 3);
    assert_eq!(page.body["startIndex"], 2);
    assert_eq!(page.body["itemsPerPage"], 1);
    assert_eq!(page.id_list(), vec![beta.clone()]);
    assert_eq!(page.resources()[0]["members"][0]["value"], u1.as_str());
    // A list with members streams every group's members.
    let all = list_groups(&app, &[("sortBy", "displayName")])
        .await
        .expect(StatusCode::OK);
    let counts: Vec<usize> = all
        .resources()
        .iter()
        .map(|g| g["members"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, [2, 1, 0]);
    let only_count = list_groups(&app, &[("count", "0")])
        .await
        .expect(StatusCode::OK);
    assert_eq!(only_count.body["totalResults"], 3);
    assert_eq!(only_count.body["Resources"], json!([]));
    app
}

async fn patch_answers_204_unless_attributes_are_asked_for(app: TestApp) -> TestApp {
    let users = app.create_users("p", 3).await;
    let g = create_group(&app, "Answers").await;
    let add = json!([{"op": "add", "path": "members", "value": [{"value": users[0]}]}]);
    let plain = patch_group(&app, &g, add.clone())
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(plain.header("etag"), Some("W/\"2\""));
    // An empty Operations array is a no-op (the validator sends one).
    patch_group(&app, &g, json!([]))
        .await
        .expect(StatusCode::NO_CONTENT);

    let rename = |name: &str| json!([{"op": "replace", "path": "displayName", "value": name}]);
    let url = format!("/Groups/{g}?excludedAttributes=members");
    let reply = app
        .patch(&url, &patch_body(rename("Answers 2")))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body["displayName"], "Answers 2");
    assert!(reply.body.get("members").is_none());
    assert_eq!(reply.header("etag"), Some("W/\"3\""));
    let reply = app
        .patch(
            &format!("/Groups/{g}?attributes=members"),
            &patch_body(json!([{"op": "add", "path": "members", "value": [{"value": users[1]}]}])),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body["members"].as_array().unwrap().len(), 2);
    assert!(reply.body.get("displayName").is_none());
    assert_eq!(reply.body["id"], g.as_str());
    let reply = app
        .patch(
            &format!("/Groups/{g}?attributes=displayName"),
            &patch_body(rename("Answers 3")),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body["displayName"], "Answers 3");
    assert!(reply.body.get("members").is_none());

    // PUT replaces the membership exactly when `members` is sent, keeps it when it is not.
    let put = app
        .put(
            &format!("/Groups/{g}"),
            &json!({"displayName": "Put", "members": [{"value": users[2]}]}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(put.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(put.body["members"][0]["value"], users[2].as_str());
    app.put(
        &format!("/Groups/{g}"),
        &json!({"displayName": "Put again", "externalId": "x"}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(members_of(&app, &g).await, set(&[&users[2]]));
    app.put(
        &format!("/Groups/{g}"),
        &json!({"displayName": "Put again", "members": []}),
    )
    .await
    .expect(StatusCode::OK);
    assert!(members_of(&app, &g).await.is_empty());

    // ETags and preconditions, as for users.
    let current = version_of(&app, &g).await;
    let stale = app
        .request(reqwest::Method::PATCH, &format!("/Groups/{g}"))
        .header("if-match", "W/\"1\"")
        .header("content-type", "application/scim+json")
        .body(patch_body(add.clone()).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let fresh = app
        .request(reqwest::Method::PATCH, &format!("/Groups/{g}"))
        .header("if-match", &current)
        .header("content-type", "application/scim+json")
        .body(patch_body(add).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::NO_CONTENT);
    let etag = fresh.headers()["etag"].to_str().unwrap().to_owned();
    let not_modified = app
        .request(reqwest::Method::GET, &format!("/Groups/{g}"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let gone = app
        .request(reqwest::Method::DELETE, &format!("/Groups/{g}"))
        .header("if-match", "W/\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::PRECONDITION_FAILED);
    app
}

async fn a_large_groups_members_stream_in_pages(app: TestApp) -> TestApp {
    // More members than two pages of the membership table (1,000 rows per query).
    const N: usize = 2345;
    let mut users = Vec::with_capacity(N);
    for chunk in 0..N.div_ceil(500) {
        let batch: Vec<_> = (chunk * 500..((chunk + 1) * 500).min(N))
            .map(|i| {
                let doc = iris_scim::resource::document_from_request(
                    iris_scim::schema::user_type(),
                    &json!({"userName": format!("bulk{i}@example.com")}),
                )
                .unwrap();
                let write = iris_core::resources::resource_write(
                    iris_core::ResourceKind::User,
                    uuid::Uuid::now_v7().to_string(),
                    doc,
                    "2026-01-01T00:00:00Z".into(),
                )
                .unwrap();
                iris_core::store::Imported {
                    write,
                    created: "2026-01-01T00:00:00Z".into(),
                    version: 1,
                }
            })
            .collect();
        users.extend(batch.iter().map(|u| u.write.id.clone()));
        app.store
            .import(app.tenant.scope(), iris_core::ResourceKind::User, &batch)
            .await
            .unwrap();
    }
    let g = create_group(&app, "Everyone").await;
    for chunk in users.chunks(1000) {
        let value: Vec<Value> = chunk.iter().map(|u| json!({"value": u})).collect();
        patch_group(
            &app,
            &g,
            json!([{"op": "Add", "path": "members", "value": value}]),
        )
        .await
        .expect(StatusCode::NO_CONTENT);
    }
    let expected: BTreeSet<String> = users.iter().cloned().collect();
    let got = app
        .get(&format!("/Groups/{g}"))
        .await
        .expect(StatusCode::OK);
    let members = got.body["members"].as_array().unwrap();
    assert_eq!(members.len(), N, "every member, once");
    let ids: BTreeSet<String> = members
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected);
    assert!(members.iter().all(|m| m["type"] == "User"));
    assert_eq!(got.body["meta"]["version"], "W/\"4\"");
    assert!(got.text.ends_with('}'));
    // Projected sub-attributes apply to every page.
    let values = app
        .get(&format!("/Groups/{g}?attributes=members.value"))
        .await
        .expect(StatusCode::OK);
    let members = values.body["members"].as_array().unwrap();
    assert_eq!(members.len(), N);
    assert!(members.iter().all(|m| m.as_object().unwrap().len() == 1));
    // Removing a batch by value array removes exactly those.
    let gone: Vec<Value> = users[..1200].iter().map(|u| json!({"value": u})).collect();
    patch_group(
        &app,
        &g,
        json!([{"op": "Remove", "path": "members", "value": gone}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let left = members_of(&app, &g).await;
    assert_eq!(left, users[1200..].iter().cloned().collect::<BTreeSet<_>>());
    // The membership check stays a lookup either way.
    assert!(is_member(&app, &g, &users[N - 1]).await);
    assert!(!is_member(&app, &g, &users[0]).await);
    app
}

async fn discovery_lists_the_group_resource_type_and_schema(app: TestApp) -> TestApp {
    let types = app.get("/ResourceTypes").await.expect(StatusCode::OK).body;
    let group = types["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "Group")
        .expect("a Group resource type")
        .clone();
    assert_eq!(group["endpoint"], "/Groups");
    assert_eq!(group["schema"], GROUP);
    assert_eq!(group["schemaExtensions"], json!([]));
    let one = app
        .get("/ResourceTypes/Group")
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(one, group);
    let schemas = app.get("/Schemas").await.expect(StatusCode::OK).body;
    assert!(
        schemas["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == GROUP)
    );
    let schema = app
        .get(&format!("/Schemas/{GROUP}"))
        .await
        .expect(StatusCode::OK)
        .body;
    let attrs = schema["attributes"].as_array().unwrap();
    let names: Vec<&str> = attrs.iter().map(|a| a["name"].as_str().unwrap()).collect();
    for name in ["id", "externalId", "meta", "displayName", "members"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let display_name = attrs.iter().find(|a| a["name"] == "displayName").unwrap();
    assert_eq!(display_name["uniqueness"], "server");
    assert_eq!(display_name["required"], true);
    app
}

async fn the_root_search_spans_users_and_groups(app: TestApp) -> TestApp {
    let u = app
        .create_user(&json!({"userName": "root@example.com", "displayName": "Shared"}))
        .await;
    let v = app
        .create_user(&json!({"userName": "other@example.com"}))
        .await;
    let g = app
        .post(
            "/Groups",
            &json!({"displayName": "Shared", "members": [{"value": u}]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let h = create_group(&app, "Lonely").await;

    let all = app
        .post("/.search", &json!({}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(all.body["totalResults"], 4);
    let types: Vec<&str> = all
        .resources()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["User", "User", "Group", "Group"]);
    // A filter both types understand.
    let shared = app
        .post(
            "/.search",
            &json!({"filter": "displayName eq \"shared\"", "excludedAttributes": ["members", "groups"]}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(shared.ids(), set(&[&u, &g]));
    for r in shared.resources() {
        assert!(r.get("members").is_none() && r.get("groups").is_none());
    }
    // Attributes of one type only select that type.
    let users_only = app
        .post(
            "/.search",
            &json!({"filter": "userName ew \"@example.com\""}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(users_only.ids(), set(&[&u, &v]));
    let groups_only = app
        .post("/.search", &json!({"filter": "members pr"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(groups_only.ids(), set(&[&g]));
    assert_eq!(
        groups_only.resources()[0]["members"][0]["value"],
        u.as_str()
    );
    // Paging runs across the types.
    let page = app
        .post(
            "/.search",
            &json!({"startIndex": 2, "count": 2, "sortBy": "displayName"}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(page.body["totalResults"], 4);
    assert_eq!(page.body["itemsPerPage"], 2);
    let kinds: Vec<&str> = page
        .resources()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["User", "Group"]);
    let tail = app
        .post("/.search", &json!({"startIndex": 4, "count": 10}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(tail.resources().len(), 1);
    assert_eq!(tail.resources()[0]["meta"]["resourceType"], "Group");
    let _ = h;
    app.post("/.search", &json!({"filter": "nothing eq 1"}))
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
    app.post("/.search", &json!({"filter": "(("}))
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
    app
}

async fn groups_and_memberships_survive_export_and_import(app: TestApp) -> TestApp {
    use iris_core::store::ListQuery;
    use iris_core::transfer::{Line, TransferService};

    let users = app.create_users("x", 3).await;
    let parent = app
        .post(
            "/Groups",
            &json!({"displayName": "Parent", "externalId": "p-1",
                    "members": [{"value": users[0]}, {"value": users[1]}]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let child = create_group(&app, "Child").await;
    patch_group(
        &app,
        &parent,
        json!([{"op": "add", "path": "members", "value": [{"value": child}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    patch_group(
        &app,
        &child,
        json!([{"op": "add", "path": "members", "value": [{"value": users[2]}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);

    let mut lines = Vec::new();
    TransferService::new(app.store.clone())
        .export(&app.tenant_name, |line| {
            lines.push(line.clone());
            Ok(())
        })
        .await
        .unwrap();
    let groups_exported = lines
        .iter()
        .filter(|l| matches!(l, Line::Group { .. }))
        .count();
    assert_eq!(groups_exported, 2);
    // Lines survive JSON, as the file carries them.
    let lines: Vec<Line> = lines
        .iter()
        .map(|l| serde_json::from_str(&serde_json::to_string(l).unwrap()).unwrap())
        .collect();

    let Some(db) = crate::harness::TestDatabase::create(app.backend).await else {
        return app;
    };
    let target = iris::server::open_store(&crate::harness::test_config(&db.url))
        .await
        .unwrap();
    let summary = TransferService::new(target.clone())
        .import(lines.into_iter().map(Ok))
        .await
        .unwrap();
    assert_eq!(
        (summary.users, summary.groups, summary.memberships),
        (3, 2, 4)
    );
    let tenant = app.tenant.scope();
    let query = ListQuery::scan(None, 100);
    let source_groups = app
        .store
        .list(tenant, iris_core::ResourceKind::Group, &query)
        .await
        .unwrap();
    let target_groups = target
        .list(tenant, iris_core::ResourceKind::Group, &query)
        .await
        .unwrap();
    assert_eq!(target_groups.total, 2);
    for (a, b) in source_groups.records.iter().zip(&target_groups.records) {
        assert_eq!(
            (&a.id, &a.doc, &a.created, &a.last_modified, a.version),
            (&b.id, &b.doc, &b.created, &b.last_modified, b.version)
        );
        let ma = app
            .store
            .members_page(tenant, &a.id, None, 100)
            .await
            .unwrap();
        let mb = target.members_page(tenant, &b.id, None, 100).await.unwrap();
        assert_eq!(ma, mb);
    }
    let of_users = target.direct_groups(tenant, &users).await.unwrap();
    assert_eq!(of_users.len(), 3);
    assert_eq!(
        app.store.direct_groups(tenant, &users).await.unwrap(),
        of_users
    );
    // Indexed lookups work on the imported rows.
    assert_eq!(
        target
            .direct_groups(tenant, std::slice::from_ref(&child))
            .await
            .unwrap()[0]
            .group_id,
        parent
    );
    drop(target);
    db.drop_database().await;
    app
}

crate::on_both_backends!(
    entra_group_flow_from_entra_compat_section_4,
    a_case_variant_duplicate_display_name_is_409_uniqueness,
    unknown_or_other_tenant_member_ids_are_400_and_nothing_is_written,
    a_users_groups_attribute_follows_its_memberships,
    deleting_a_user_removes_its_memberships_and_disabling_keeps_them,
    nested_groups_are_members_of_type_group,
    group_filters_sorting_and_paging_run_in_sql,
    patch_answers_204_unless_attributes_are_asked_for,
    a_large_groups_members_stream_in_pages,
    discovery_lists_the_group_resource_type_and_schema,
    the_root_search_spans_users_and_groups,
    groups_and_memberships_survive_export_and_import,
);
