//! A refused write changes nothing: not the resource, not another user, not the indexes.

use reqwest::StatusCode;
use serde_json::json;

use super::seeded_user;
use crate::harness::TestApp;

async fn failed_writes_change_nothing(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let other = app
        .create_user(&json!({"userName": "other@example.com"}))
        .await;
    let other_before = app.get(&format!("/Users/{other}")).await.body;
    let path = format!("/Users/{id}");
    // POST: a duplicate (409), and a valid-looking body with one bad attribute (400).
    app.post(
        "/Users",
        &json!({"userName": "KEPT@example.com", "displayName": "Dup"}),
    )
    .await
    .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    app.post(
        "/Users",
        &json!({"userName": "new@example.com", "displayName": "New", "active": "maybe"}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    // PUT: renaming onto another user's userName, and a bad attribute after good ones.
    app.put(
        &path,
        &json!({"userName": "OTHER@example.com", "displayName": "Renamed"}),
    )
    .await
    .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    app.put(
        &path,
        &json!({"userName": "kept@example.com", "displayName": "Changed", "name": "x"}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    // PATCH: the first operations are valid, a later one is not.
    let bad_later = [
        (
            json!({"op": "replace", "path": "nope", "value": "x"}),
            "invalidPath",
        ),
        (
            json!({"op": "replace", "path": "active", "value": "maybe"}),
            "invalidValue",
        ),
        (json!({"op": "remove"}), "noTarget"),
        (
            json!({"op": "replace", "path": "id", "value": "x"}),
            "mutability",
        ),
    ];
    for (bad, scim_type) in bad_later {
        let body = json!({"Operations": [
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "add", "path": "emails[type eq \"home\"].value", "value": "home@example.com"},
            bad
        ]});
        app.patch(&path, &body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some(scim_type));
    }
    let body = json!({"Operations": [{"op": "replace", "path": "userName", "value": "Other@Example.com"}]});
    app.patch(&path, &body)
        .await
        .expect_error(StatusCode::CONFLICT, Some("uniqueness"));

    let now = app.get(&path).await.expect(StatusCode::OK).body;
    assert_eq!(now, before, "a refused write changed the user");
    assert_eq!(app.get(&format!("/Users/{other}")).await.body, other_before);
    assert_eq!(
        app.all_user_ids().await,
        [id.clone(), other.clone()].into_iter().collect()
    );
    // And the indexes were not touched either: the old values still match, the refused ones do not.
    assert_eq!(
        app.filter_users("emails.value eq \"home@example.com\"")
            .await
            .body["totalResults"],
        0
    );
    assert_eq!(
        app.filter_users("displayName eq \"Changed\"").await.body["totalResults"],
        0
    );
    assert_eq!(
        app.filter_users("userName eq \"kept@example.com\"")
            .await
            .id_list(),
        vec![id.clone()]
    );
    app
}

crate::on_both_backends!(failed_writes_change_nothing,);
