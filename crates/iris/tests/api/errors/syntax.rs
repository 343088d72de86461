//! Bodies that are not a JSON object, or too large: 400 `invalidSyntax` or 413 on every endpoint
//! that reads a body, and nothing is written.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{assert_nothing_written, assert_scim_client_error, seeded_user};
use crate::harness::TestApp;

/// The four endpoints that read a JSON body.
fn body_endpoints(id: &str) -> Vec<(Method, String)> {
    vec![
        (Method::POST, "/Users".to_owned()),
        (Method::PUT, format!("/Users/{id}")),
        (Method::PATCH, format!("/Users/{id}")),
        (Method::POST, "/Users/.search".to_owned()),
    ]
}

async fn malformed_json_is_400_invalid_syntax(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let bodies = [
        r#"{"userName": "a@example.com","#,
        r#"{"userName": 'a@example.com'}"#,
        r#"{userName: "a@example.com"}"#,
        r#"{"userName": "a@example.com",}"#,
        r#"{"userName": "a@example.com"}}"#,
        r#"{"userName": "a@example.com"} {"userName": "b@example.com"}"#,
        r#"{"Operations": [{"op": "add", "path": "nickName", "value": "x"]}"#,
    ];
    for (method, path) in body_endpoints(&id) {
        for body in bodies {
            let reply = app.send_raw(method.clone(), &path, body).await;
            let label = format!("{method} {path} with {body}");
            assert_scim_client_error(&reply, &label);
            reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
        }
    }
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn json_that_is_not_an_object_is_400_invalid_syntax(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let bodies = [
        "[]",
        r#"[{"userName": "a@example.com"}]"#,
        r#""a@example.com""#,
        "42",
        "true",
        "null",
    ];
    for (method, path) in body_endpoints(&id) {
        for body in bodies {
            let reply = app.send_raw(method.clone(), &path, body).await;
            assert_scim_client_error(&reply, &format!("{method} {path} with {body}"));
            reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
        }
    }
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn an_empty_body_is_400_invalid_syntax(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    for (method, path) in body_endpoints(&id) {
        for body in ["", " ", "\r\n\t "] {
            let reply = app.send_raw(method.clone(), &path, body).await;
            assert_scim_client_error(&reply, &format!("{method} {path} with {body:?}"));
            reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
        }
    }
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn a_body_over_the_limit_is_413_and_one_under_it_is_accepted(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    // The harness configures max_body_bytes = 256 KiB.
    let huge = json!({"userName": "big@example.com", "displayName": "x".repeat(300 * 1024)});
    let patch = json!({"Operations": [{"op": "replace", "path": "displayName", "value": "x".repeat(300 * 1024)}]});
    for (method, path, body) in [
        (Method::POST, "/Users".to_owned(), &huge),
        (Method::PUT, format!("/Users/{id}"), &huge),
        (Method::PATCH, format!("/Users/{id}"), &patch),
        (
            Method::POST,
            "/Users/.search".to_owned(),
            &json!({"filter": "x".repeat(300 * 1024)}),
        ),
    ] {
        let reply = app.send(method.clone(), &path, Some(body)).await;
        assert_scim_client_error(&reply, &format!("{method} {path}"));
        reply.expect_error(StatusCode::PAYLOAD_TOO_LARGE, None);
    }
    assert_nothing_written(&app, &id, &before).await;
    // Just under the limit is fine.
    let big = "y".repeat(250 * 1024);
    let created = app
        .post(
            "/Users",
            &json!({"userName": "big@example.com", "nickName": big}),
        )
        .await;
    let created = created.expect(StatusCode::CREATED);
    let got = app
        .get(&format!("/Users/{}", created.body["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.body["nickName"].as_str().unwrap(), big);
    app
}

crate::on_both_backends!(
    malformed_json_is_400_invalid_syntax,
    json_that_is_not_an_object_is_400_invalid_syntax,
    an_empty_body_is_400_invalid_syntax,
    a_body_over_the_limit_is_413_and_one_under_it_is_accepted,
);
