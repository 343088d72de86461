//! A group's life as Entra drives it (entra-compat §4, with the request bodies Entra sends),
//! the uniqueness of `displayName`, and what a group PATCH or PUT answers (204, or the projection
//! asked for; ETags and preconditions).

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{GROUP, TestApp, entra_group, id_set, patch_body};

async fn entra_group_flow_from_entra_compat_section_4(app: TestApp) -> TestApp {
    let users = app.create_users("member", 4).await;
    let (u0, u1, u2, u3) = (&users[0], &users[1], &users[2], &users[3]);

    // Test Connection for groups: a random name finds nothing, 200 with an empty list.
    let none = app
        .list_groups(&[
            ("excludedAttributes", "members"),
            ("filter", "displayName eq \"00000000-no-such-group\""),
        ])
        .await
        .expect(StatusCode::OK);
    assert_eq!(none.body["totalResults"], 0);
    assert_eq!(none.body["Resources"], json!([]));

    // Create: always without members, with Entra's extra schema URN and a meta echo.
    let created = app
        .post("/Groups", &entra_group())
        .await
        .expect(StatusCode::CREATED);
    let g = created.id();
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
        let found = app
            .list_groups(&[
                ("excludedAttributes", "members"),
                ("filter", &format!("displayName eq \"{name}\"")),
            ])
            .await
            .expect(StatusCode::OK);
        assert_eq!(found.body["totalResults"], 1, "{name}");
        assert_eq!(found.resources()[0]["id"], g.as_str());
        assert!(found.resources()[0].get("members").is_none());
    }

    // The membership check before any member was added.
    assert!(!app.is_member(&g, u0).await);

    // Rename: 204 No Content, empty body.
    let renamed = app.patch_group(&g,
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
    app.patch_group(&g, json!([{"op": "Add", "path": "members", "value": add}]))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(app.members_of(&g).await, id_set(&[u0, u1, u2, u3]));
    assert!(app.is_member(&g, u0).await);
    assert!(app.is_member(&g, u3).await);

    // Remove, Entra's default dialect: a value array. Exactly the listed member goes.
    app.patch_group(
        &g,
        json!([{"op": "Remove", "path": "members", "value": [{"value": u1}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert_eq!(app.members_of(&g).await, id_set(&[u0, u2, u3]));
    assert!(!app.is_member(&g, u1).await);

    // Remove, the aadOptscim062020 way: a value filter in the path.
    app.patch_group(
        &g,
        json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert_eq!(app.members_of(&g).await, id_set(&[u0, u3]));

    // Adding a present member is a no-op: nothing changes, not even the version.
    let before = app.group_version(&g).await;
    app.patch_group(
        &g,
        json!([{"op": "Add", "path": "members", "value": [{"value": u0}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert_eq!(app.group_version(&g).await, before);
    assert_eq!(app.members_of(&g).await, id_set(&[u0, u3]));

    // The validator's preview test: add and remove of one member in one PATCH nets to "not a member".
    app.patch_group(
        &g,
        json!([
            {"op": "add", "path": "members", "value": [{"value": u1}]},
            {"op": "remove", "path": format!("members[value eq \"{u1}\"]")}
        ]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert!(!app.is_member(&g, u1).await);
    assert_eq!(app.members_of(&g).await, id_set(&[u0, u3]));

    // Replace sets the membership exactly (the validator's "Add Member" in one of its runs).
    app.patch_group(
        &g,
        json!([{"op": "replace", "path": "members", "value": [{"value": u1}, {"value": u2}]}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert_eq!(app.members_of(&g).await, id_set(&[u1, u2]));

    // Remove with no value removes every member.
    app.patch_group(&g, json!([{"op": "Remove", "path": "members"}]))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(app.members_of(&g).await.is_empty());
    assert!(!app.is_member(&g, u1).await);

    // The validator's path-less replace of externalId and displayName.
    app.patch_group(
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
    app.delete_and_expect_gone(&format!("/Groups/{g}")).await;
    app.delete(&format!("/Groups/{g}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app.patch_group(&g, json!([]))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    // Users are untouched by a group's deletion.
    assert_eq!(app.all_user_ids().await.len(), 4);
    app
}

async fn a_case_variant_duplicate_display_name_is_409_uniqueness(app: TestApp) -> TestApp {
    let a = app.create_group_named("Sales Team").await;
    let b = app.create_group_named("Émile's group").await;
    app.post("/Groups", &json!({"displayName": "SALES TEAM"}))
        .await
        .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    app.post("/Groups", &json!({"displayName": "ÉMILE'S GROUP"}))
        .await
        .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    app.patch_group(
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
    app.patch_group(&a, json!([{"op": "remove", "path": "displayName"}]))
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("mutability"));
    let all = app
        .list_groups(&[("excludedAttributes", "members")])
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
    app.patch_group(
        &a,
        json!([{"op": "replace", "path": "displayName", "value": "SALES team"}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app
}

async fn patch_answers_204_unless_attributes_are_asked_for(app: TestApp) -> TestApp {
    let users = app.create_users("p", 3).await;
    let g = app.create_group_named("Answers").await;
    let add = json!([{"op": "add", "path": "members", "value": [{"value": users[0]}]}]);
    let plain = app
        .patch_group(&g, add.clone())
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(plain.header("etag"), Some("W/\"2\""));
    // An empty Operations array is a no-op (the validator sends one).
    app.patch_group(&g, json!([]))
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
    assert_eq!(app.members_of(&g).await, id_set(&[&users[2]]));
    app.put(
        &format!("/Groups/{g}"),
        &json!({"displayName": "Put again", "members": []}),
    )
    .await
    .expect(StatusCode::OK);
    assert!(app.members_of(&g).await.is_empty());

    // ETags and preconditions, as for users.
    let current = app.group_version(&g).await;
    let path = format!("/Groups/{g}");
    let stale = app
        .send_with_header(
            Method::PATCH,
            &path,
            ("if-match", "W/\"1\""),
            Some(&patch_body(add.clone())),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let fresh = app
        .send_with_header(
            Method::PATCH,
            &path,
            ("if-match", &current),
            Some(&patch_body(add)),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::NO_CONTENT);
    let etag = fresh.header("etag").unwrap();
    let not_modified = app
        .send_with_header(Method::GET, &path, ("if-none-match", etag), None)
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    let gone = app
        .send_with_header(Method::DELETE, &path, ("if-match", "W/\"1\""), None)
        .await;
    assert_eq!(gone.status, StatusCode::PRECONDITION_FAILED);
    app
}

crate::on_both_backends!(
    entra_group_flow_from_entra_compat_section_4,
    a_case_variant_duplicate_display_name_is_409_uniqueness,
    patch_answers_204_unless_attributes_are_asked_for,
);
