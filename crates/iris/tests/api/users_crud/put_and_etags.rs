//! The whole user: the full attribute set round-trips, PUT replaces (RFC 7644 §3.5.1), and ETags
//! with `If-None-Match` / `If-Match` preconditions follow every write (§3.14).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::create_full_user;
use crate::harness::{
    ENTERPRISE, Reply, SCIM_JSON, TestApp, USER, client_part, full_user, patch_body,
};

#[track_caller]
fn assert_etag_matches_version(reply: &Reply) {
    let etag = reply
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag header: {}", reply.text));
    assert_eq!(
        etag,
        reply.body["meta"]["version"].as_str().unwrap(),
        "ETag vs meta.version"
    );
}

async fn the_full_attribute_set_round_trips_exactly(app: TestApp) -> TestApp {
    let manager = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    let sent = full_user(&manager);
    let created = app.post("/Users", &sent).await.expect(StatusCode::CREATED);
    let id = created.id();
    let mut expected = sent.clone();
    expected.as_object_mut().unwrap().remove("schemas");
    assert_eq!(client_part(&created.body), expected);
    assert_eq!(created.body["schemas"], json!([USER, ENTERPRISE]));
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert_eq!(created.body["meta"]["version"], "W/\"1\"");
    assert_eq!(
        created.body["meta"]["created"],
        created.body["meta"]["lastModified"]
    );
    assert_etag_matches_version(&created);
    // The stored user, read back and listed, is the same resource.
    let got = app
        .get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(got.body, created.body);
    assert_etag_matches_version(&got);
    let listed = app
        .filter_users("userName eq \"barbara.jensen@example.com\"")
        .await;
    assert_eq!(listed.resources(), &vec![created.body.clone()]);
    // And PUT of the same body changes nothing but the version.
    let put = app
        .put(&format!("/Users/{id}"), &sent)
        .await
        .expect(StatusCode::OK);
    assert_eq!(client_part(&put.body), expected);
    app
}

async fn put_replaces_everything_but_id_and_created(app: TestApp) -> TestApp {
    let created = create_full_user(&app).await;
    let id = created["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let replacement = json!({
        "schemas": [USER],
        "id": "an-id-the-client-made-up",
        "userName": "barbara.jensen@example.com",
        "displayName": "Barbara",
        "emails": [{"value": "new@example.com", "type": "home"}],
        "meta": {"created": "2001-01-01T00:00:00Z", "version": "W/\"99\""}
    });
    let put = app
        .put(&format!("/Users/{id}"), &replacement)
        .await
        .expect(StatusCode::OK);
    assert_eq!(put.content_type(), SCIM_JSON);
    assert_eq!(put.body["id"], id);
    assert_eq!(
        client_part(&put.body),
        json!({"userName": "barbara.jensen@example.com", "displayName": "Barbara",
               "emails": [{"value": "new@example.com", "type": "home"}]}),
        "attributes left out of a PUT are cleared"
    );
    assert_eq!(
        put.body["schemas"],
        json!([USER]),
        "no enterprise data left"
    );
    assert_eq!(put.body["meta"]["created"], created["meta"]["created"]);
    assert!(
        put.body["meta"]["lastModified"].as_str().unwrap()
            > created["meta"]["lastModified"].as_str().unwrap()
    );
    assert_eq!(put.body["meta"]["version"], "W/\"2\"");
    assert_eq!(put.body["meta"]["location"], created["meta"]["location"]);
    assert_etag_matches_version(&put);
    assert_eq!(app.get_user(id).await, put.body);
    // The cleared values no longer match filters; the new ones do.
    assert_eq!(
        app.filter_users("emails.value eq \"bjensen@example.com\"")
            .await
            .body["totalResults"],
        0
    );
    assert_eq!(
        app.filter_users("externalId eq \"bjensen-0001\"")
            .await
            .body["totalResults"],
        0
    );
    assert_eq!(
        app.filter_users("emails.value eq \"new@example.com\"")
            .await
            .id_list(),
        vec![id.to_owned()]
    );
    app
}

async fn etags_follow_every_write_and_if_none_match_gives_304(app: TestApp) -> TestApp {
    let created = app
        .post("/Users", &json!({"userName": "etag@example.com"}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    let id = created.id();
    let path = format!("/Users/{id}");

    let not_modified = app
        .send_with_header(Method::GET, &path, ("if-none-match", "W/\"1\""), None)
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.text.is_empty());
    assert_eq!(not_modified.header("etag"), Some("W/\"1\""));
    let star = app
        .send_with_header(Method::GET, &path, ("if-none-match", "*"), None)
        .await;
    assert_eq!(star.status, StatusCode::NOT_MODIFIED);

    let patched = app
        .patch_user(
            &id,
            json!([{"op": "add", "path": "nickName", "value": "E"}]),
        )
        .await;
    let patched = patched.expect(StatusCode::OK);
    assert_eq!(patched.header("etag"), Some("W/\"2\""));
    assert_etag_matches_version(&patched);
    // The old tag no longer matches: the full resource comes back.
    let stale = app
        .send_with_header(Method::GET, &path, ("if-none-match", "W/\"1\""), None)
        .await;
    let stale = stale.expect(StatusCode::OK);
    assert_eq!(stale.body["nickName"], "E");
    assert_etag_matches_version(&stale);
    let put = app
        .put(&path, &json!({"userName": "etag@example.com"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(put.header("etag"), Some("W/\"3\""));
    assert_etag_matches_version(&put);
    app
}

async fn a_stale_if_match_is_412_and_changes_nothing(app: TestApp) -> TestApp {
    let id = app
        .create_user(&json!({"userName": "guarded@example.com", "displayName": "One"}))
        .await;
    let path = format!("/Users/{id}");
    let before = app
        .patch_user_and_get(
            &id,
            json!([{"op": "replace", "path": "displayName", "value": "Two"}]),
        )
        .await;
    assert_eq!(before["meta"]["version"], "W/\"2\"");

    let rename =
        |name: &str| patch_body(json!([{"op": "replace", "path": "displayName", "value": name}]));
    let put = |name: &str| json!({"userName": "guarded@example.com", "displayName": name});
    for stale in ["W/\"1\"", "\"1\"", "W/\"3\"", "W/\"abc\""] {
        let if_match = ("if-match", stale);
        app.send_with_header(Method::PUT, &path, if_match, Some(&put("Put")))
            .await
            .expect_error(StatusCode::PRECONDITION_FAILED, None);
        app.send_with_header(Method::PATCH, &path, if_match, Some(&rename("Patched")))
            .await
            .expect_error(StatusCode::PRECONDITION_FAILED, None);
        app.send_with_header(Method::DELETE, &path, if_match, None)
            .await
            .expect_error(StatusCode::PRECONDITION_FAILED, None);
        assert_eq!(
            app.get_user(&id).await,
            before,
            "If-Match {stale} changed the user"
        );
    }
    // The current tag (or `*`) lets the write through.
    let patched = app
        .send_with_header(
            Method::PATCH,
            &path,
            ("if-match", "W/\"2\""),
            Some(&rename("Three")),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(patched.body["displayName"], "Three");
    app.send_with_header(Method::PUT, &path, ("if-match", "*"), Some(&put("Four")))
        .await
        .expect(StatusCode::OK);
    app.send_with_header(Method::DELETE, &path, ("if-match", "W/\"4\""), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.get(&path)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

crate::on_both_backends!(
    the_full_attribute_set_round_trips_exactly,
    put_replaces_everything_but_id_and_created,
    etags_follow_every_write_and_if_none_match_gives_304,
    a_stale_if_match_is_412_and_changes_nothing,
);
