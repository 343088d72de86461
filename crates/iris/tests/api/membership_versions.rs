//! What a membership change does to the resources on both sides of it: the version (`ETag`,
//! `meta.version`, `meta.lastModified`) of every user whose `groups` it changes moves with the
//! group's, in the same transaction; members carry their `display`; and concurrent changes that
//! lock each other's rows (two groups made members of each other at once) are retried, never a
//! 500.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestApp;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn create_group(app: &TestApp, name: &str) -> String {
    let reply = app
        .post("/Groups", &json!({"displayName": name}))
        .await
        .expect(StatusCode::CREATED);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn add_members(app: &TestApp, group: &str, ids: &[&str]) -> StatusCode {
    let value: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": value}]});
    app.patch(&format!("/Groups/{group}"), &body).await.status
}

async fn remove_member(app: &TestApp, group: &str, id: &str) {
    let body = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Remove", "path": "members", "value": [{"value": id}]}]});
    app.patch(&format!("/Groups/{group}"), &body)
        .await
        .expect(StatusCode::NO_CONTENT);
}

/// `meta.version`, the `ETag` header (which must agree) and `meta.lastModified` of a resource.
async fn version_of(app: &TestApp, path: &str) -> (String, String) {
    let reply = app.get(path).await.expect(StatusCode::OK);
    let version = reply.body["meta"]["version"].as_str().unwrap().to_owned();
    let etag = reply.headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(version, etag, "meta.version and ETag differ for {path}");
    let modified = reply.body["meta"]["lastModified"]
        .as_str()
        .unwrap()
        .to_owned();
    (version, modified)
}

async fn a_membership_change_moves_the_version_of_the_users_it_changes(app: TestApp) -> TestApp {
    let ann = app
        .create_user(&json!({"userName": "ann@example.com"}))
        .await;
    let bob = app
        .create_user(&json!({"userName": "bob@example.com"}))
        .await;
    let group = create_group(&app, "Readers").await;
    let ann_path = format!("/Users/{ann}");
    let bob_path = format!("/Users/{bob}");
    let group_path = format!("/Groups/{group}");
    let ann_before = version_of(&app, &ann_path).await;
    let bob_before = version_of(&app, &bob_path).await;
    let group_before = version_of(&app, &group_path).await;

    assert_eq!(
        add_members(&app, &group, &[&ann]).await,
        StatusCode::NO_CONTENT
    );
    let ann_added = version_of(&app, &ann_path).await;
    assert_ne!(ann_added.0, ann_before.0, "ann's groups changed");
    assert!(ann_added.1 > ann_before.1, "lastModified moves too");
    assert_eq!(
        version_of(&app, &bob_path).await,
        bob_before,
        "bob is untouched"
    );
    let group_added = version_of(&app, &group_path).await;
    assert_ne!(group_added.0, group_before.0);

    // Adding a member that is already there changes nothing, on either side.
    assert_eq!(
        add_members(&app, &group, &[&ann]).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(version_of(&app, &ann_path).await, ann_added);
    assert_eq!(version_of(&app, &group_path).await, group_added);

    // A conditional GET with the old ETag sees the change.
    let stale = app
        .request(reqwest::Method::GET, &ann_path)
        .header("If-None-Match", ann_before.0.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::OK);

    remove_member(&app, &group, &ann).await;
    let ann_removed = version_of(&app, &ann_path).await;
    assert_ne!(ann_removed.0, ann_added.0);

    // A PUT that restates the membership it has leaves the members' versions alone.
    assert_eq!(
        add_members(&app, &group, &[&ann, &bob]).await,
        StatusCode::NO_CONTENT
    );
    let ann_in = version_of(&app, &ann_path).await;
    let bob_in = version_of(&app, &bob_path).await;
    app.put(
        &group_path,
        &json!({"displayName": "Readers", "members": [{"value": ann}, {"value": bob}]}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(version_of(&app, &ann_path).await, ann_in);
    assert_eq!(version_of(&app, &bob_path).await, bob_in);
    // …and one that drops bob moves only bob's.
    app.put(
        &group_path,
        &json!({"displayName": "Readers", "members": [{"value": ann}]}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(version_of(&app, &ann_path).await, ann_in);
    assert_ne!(version_of(&app, &bob_path).await, bob_in);
    app
}

async fn deletes_move_the_versions_of_the_other_side(app: TestApp) -> TestApp {
    let ann = app
        .create_user(&json!({"userName": "ann@example.com"}))
        .await;
    let bob = app
        .create_user(&json!({"userName": "bob@example.com"}))
        .await;
    let readers = create_group(&app, "Readers").await;
    let writers = create_group(&app, "Writers").await;
    assert_eq!(
        add_members(&app, &readers, &[&ann, &bob]).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        add_members(&app, &writers, &[&bob, &readers]).await,
        StatusCode::NO_CONTENT
    );

    // Deleting a user changes the members of the groups it was in.
    let readers_before = version_of(&app, &format!("/Groups/{readers}")).await;
    let writers_before = version_of(&app, &format!("/Groups/{writers}")).await;
    app.delete(&format!("/Users/{bob}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_ne!(
        version_of(&app, &format!("/Groups/{readers}")).await.0,
        readers_before.0
    );
    assert_ne!(
        version_of(&app, &format!("/Groups/{writers}")).await.0,
        writers_before.0
    );

    // Deleting a group changes the groups of its users and the members of its parents.
    let ann_before = version_of(&app, &format!("/Users/{ann}")).await;
    let writers_before = version_of(&app, &format!("/Groups/{writers}")).await;
    app.delete(&format!("/Groups/{readers}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    let ann_after = app
        .get(&format!("/Users/{ann}"))
        .await
        .expect(StatusCode::OK);
    assert_ne!(
        ann_after.body["meta"]["version"].as_str().unwrap(),
        ann_before.0
    );
    assert!(ann_after.body.get("groups").is_none(), "{}", ann_after.body);
    assert_ne!(
        version_of(&app, &format!("/Groups/{writers}")).await.0,
        writers_before.0
    );
    let writers_now = app
        .get(&format!("/Groups/{writers}"))
        .await
        .expect(StatusCode::OK);
    assert!(
        writers_now.body.get("members").is_none()
            || writers_now.body["members"].as_array().unwrap().is_empty(),
        "{}",
        writers_now.body
    );
    app
}

async fn members_carry_the_display_name_of_what_they_name(app: TestApp) -> TestApp {
    let ann = app
        .create_user(&json!({"userName": "ann@example.com", "displayName": "Ann Example"}))
        .await;
    let plain = app
        .create_user(&json!({"userName": "plain@example.com"}))
        .await;
    let team = create_group(&app, "Team").await;
    let all = create_group(&app, "All").await;
    assert_eq!(
        add_members(&app, &all, &[&ann, &plain, &team]).await,
        StatusCode::NO_CONTENT
    );
    let group = app
        .get(&format!("/Groups/{all}"))
        .await
        .expect(StatusCode::OK)
        .body;
    let display = |id: &str| {
        group["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["value"] == id)
            .unwrap_or_else(|| panic!("{id} not a member of {group}"))
            .get("display")
            .cloned()
    };
    assert_eq!(display(&ann), Some(json!("Ann Example")));
    assert_eq!(display(&team), Some(json!("Team")));
    assert_eq!(display(&plain), None, "no displayName, no display");
    // A rename shows in the members' display from then on.
    app.patch(
        &format!("/Users/{ann}"),
        &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Ann E."}]}),
    )
    .await
    .expect(StatusCode::OK);
    let members = app
        .get(&format!("/Groups/{all}?attributes=members.display"))
        .await
        .expect(StatusCode::OK)
        .body;
    let displays: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["display"].as_str())
        .collect();
    assert!(displays.contains(&"Ann E."), "{members}");
    assert!(
        members["members"][0].get("value").is_none(),
        "projected away: {members}"
    );
    app
}

async fn two_groups_made_members_of_each_other_at_once_both_land(app: TestApp) -> TestApp {
    for round in 0..8 {
        let a = create_group(&app, &format!("A{round}")).await;
        let b = create_group(&app, &format!("B{round}")).await;
        let (only_b, only_a) = ([b.as_str()], [a.as_str()]);
        let (ab, ba) = tokio::join!(
            add_members(&app, &a, &only_b),
            add_members(&app, &b, &only_a)
        );
        assert_eq!(
            (ab, ba),
            (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT),
            "round {round}"
        );
        for (group, member) in [(&a, &b), (&b, &a)] {
            let body = app
                .get(&format!("/Groups/{group}"))
                .await
                .expect(StatusCode::OK)
                .body;
            assert_eq!(body["members"][0]["value"], json!(member), "{body}");
        }
    }
    app
}

crate::on_both_backends!(
    a_membership_change_moves_the_version_of_the_users_it_changes,
    deletes_move_the_versions_of_the_other_side,
    members_carry_the_display_name_of_what_they_name,
    two_groups_made_members_of_each_other_at_once_both_land,
);
