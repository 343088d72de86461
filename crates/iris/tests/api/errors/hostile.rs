//! Hostile input (deep nesting, huge values, bad encodings, NUL characters) is refused with a SCIM
//! 4xx error or stored exactly, never a 500, and the server stays healthy.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{assert_nothing_written, seeded_user};
use crate::harness::{ENTERPRISE, ERROR, PATCH_OP, SCIM_JSON, TestApp};

/// `(method, path, body)`: a request that must be refused with a SCIM 4xx error.
type Hostile = (Method, String, Option<Vec<u8>>);

fn get(path: String) -> Hostile {
    (Method::GET, path, None)
}

fn filter(raw: &str) -> Hostile {
    get(format!(
        "/Users?{}",
        serde_urlencoded::to_string([("filter", raw)]).unwrap()
    ))
}

fn post_users(body: impl Into<Vec<u8>>) -> Hostile {
    (Method::POST, "/Users".to_owned(), Some(body.into()))
}

fn patch(id: &str, body: Value) -> Hostile {
    (
        Method::PATCH,
        format!("/Users/{id}"),
        Some(body.to_string().into_bytes()),
    )
}

fn hostile_inputs(id: &str) -> Vec<Hostile> {
    let deep_parens = format!("{}userName eq \"a\"{}", "(".repeat(1000), ")".repeat(1000));
    let deep_not = format!("{}userName eq \"a\"{}", "not (".repeat(40), ")".repeat(40));
    let many_terms = vec!["id eq 1"; 300].join(" or ");
    let long_filter = format!("userName eq \"{}\"", "a".repeat(30_000));
    let very_long_filter = format!("userName eq \"{}\"", "a".repeat(100_000));
    let deep_array = format!(
        "{{\"userName\": \"a@example.com\", \"name\": {}{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let deep_object = format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    let ops = |op: Value| json!({"schemas": [PATCH_OP], "Operations": [op]});
    vec![
        filter(&deep_parens),
        filter(&deep_not),
        filter(&many_terms),
        filter(&long_filter),
        (
            Method::POST,
            "/Users/.search".to_owned(),
            Some(json!({"filter": very_long_filter}).to_string().into_bytes()),
        ),
        filter("emails[type eq \"work\" and emails[value eq \"x\"]]"),
        filter("userName eq 1e99999"),
        filter("userName eq \"a\" and ((((((((((((((((((((((((((((((((((("),
        get("/Users?filter=%FF%FE".to_owned()),
        get("/Users?filter=userName%20eq%20%C3%28".to_owned()),
        get("/Users/%FF%FE".to_owned()),
        get("/Users/%C0%AF".to_owned()),
        get(format!("/Users?count={}", "9".repeat(40))),
        post_users(deep_array),
        post_users(deep_object),
        post_users(r#"{"userName": "a@example.com", "active": 1e999}"#),
        post_users(r#"{"userName": "\ud800"}"#),
        post_users(b"{\"userName\": \"a\xff\xfe@example.com\"}".to_vec()),
        post_users(r#"{"userName": "a@example.com", "schemas": "x"}"#),
        post_users(r#"{"userName": "a@example.com", "schemas": [{"x": 1}]}"#),
        post_users(format!(
            r#"{{"userName": "a@example.com", "{ENTERPRISE}": "x"}}"#
        )),
        post_users(format!(
            r#"{{"userName": "a@example.com", "{ENTERPRISE}": [1, 2]}}"#
        )),
        post_users(
            r#"{"userName": "a@example.com", "name": [{"givenName": "x"}, {"givenName": "y"}]}"#,
        ),
        post_users(r#"{"userName": "a@example.com", "emails": {"value": {"nested": true}}}"#),
        post_users(r#"[{"userName": "a@example.com"}, {"userName": "b@example.com"}]"#),
        patch(
            id,
            json!({"Operations": {"op": "add", "path": "nickName", "value": "x"}}),
        ),
        patch(id, json!({"Operations": [1, 2, 3]})),
        patch(
            id,
            json!({"Operations": [{"op": "explode", "path": "nickName", "value": "x"}]}),
        ),
        patch(
            id,
            ops(json!({"op": "add", "path": "(".repeat(1000), "value": "x"})),
        ),
        patch(
            id,
            ops(json!({"op": "add", "path": "a".repeat(100_000), "value": "x"})),
        ),
        patch(
            id,
            ops(
                json!({"op": "add", "path": "emails[value co \"x\" and emails[type eq \"y\"]]", "value": "z"}),
            ),
        ),
        patch(
            id,
            ops(
                json!({"op": "add", "path": "emails[type eq \"work\"].value", "value": {"deep": {"deeper": 1}}}),
            ),
        ),
        patch(
            id,
            ops(json!({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"})),
        ),
        patch(
            id,
            ops(json!({"op": "replace", "path": "id", "value": "mine"})),
        ),
        patch(id, ops(json!({"op": "remove"}))),
        patch(id, ops(json!({"op": "replace", "value": [1, 2]}))),
        patch(id, ops(json!({"op": "add", "path": "nickName"}))),
        patch(id, ops(json!({"op": "add", "path": 42, "value": "x"}))),
    ]
}

async fn no_hostile_input_causes_a_500(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let inputs = hostile_inputs(&id);
    assert!(inputs.len() >= 30);
    let mut failures = Vec::new();
    for (method, path, body) in inputs {
        let label = format!("{method} {}", path.chars().take(100).collect::<String>());
        let sent = body
            .as_ref()
            .map(|b| String::from_utf8_lossy(&b[..b.len().min(100)]).into_owned());
        let reply = match body {
            Some(b) => app.send_raw(method, &path, b).await,
            None => app.send(method, &path, None).await,
        };
        let is_scim_4xx = reply.status.is_client_error()
            && reply.content_type() == SCIM_JSON
            && reply.body["schemas"] == json!([ERROR])
            && reply.body["status"].as_str() == Some(reply.status.as_str());
        if !is_scim_4xx {
            let text: String = reply.text.chars().take(200).collect();
            failures.push(format!(
                "{label} {sent:?} -> {} {:?} {text}",
                reply.status,
                reply.content_type()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "not a SCIM 4xx error:\n{}",
        failures.join("\n")
    );
    // The server is still healthy and nothing was written.
    app.http
        .get(format!("{}/readyz", app.base_url))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn nul_characters_are_refused_or_stored_exactly_but_never_a_500(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    // In a filter: raw (not valid in a JSON string literal) and escaped.
    for raw in [
        "userName eq \"a\u{0}b\"",
        "userName eq \"a\\u0000b\"",
        "externalId eq a\u{0}b",
    ] {
        let reply = app.filter_users(raw).await;
        if reply.status == StatusCode::OK {
            assert_eq!(reply.body["totalResults"], 0, "{raw:?}: {}", reply.text);
        } else {
            reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
        }
    }
    // In an id: no such user.
    let path = "/Users/a%00b";
    app.get(path)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app.put(path, &json!({"userName": "x@example.com"}))
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app.patch(
        path,
        &json!({"Operations": [{"op": "add", "path": "nickName", "value": "x"}]}),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, None);
    app.delete(path)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    assert_nothing_written(&app, &id, &before).await;

    // In a value: either stored exactly as sent or refused as an invalid value.
    let reply = app
        .post(
            "/Users",
            &json!({"userName": "nul\u{0}name@example.com", "displayName": "a\u{0}b"}),
        )
        .await;
    if reply.status == StatusCode::CREATED {
        let new_id = reply.body["id"].as_str().unwrap();
        let got = app.get_user(new_id).await;
        assert_eq!(got["userName"], "nul\u{0}name@example.com");
        assert_eq!(got["displayName"], "a\u{0}b");
        let found = app
            .filter_users("userName eq \"NUL\\u0000NAME@example.com\"")
            .await
            .expect(StatusCode::OK);
        assert_eq!(found.id_list(), vec![new_id.to_owned()]);
    } else {
        reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        let reply = app
            .patch(&format!("/Users/{id}"), &json!({"Operations": [{"op": "replace", "path": "displayName", "value": "a\u{0}b"}]}))
            .await;
        reply.expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert_nothing_written(&app, &id, &before).await;
    }
    app
}

crate::on_both_backends!(
    no_hostile_input_causes_a_500,
    nul_characters_are_refused_or_stored_exactly_but_never_a_500,
);
