//! Attribute values a user cannot hold: 400 `invalidValue` (or `mutability` for removing
//! `userName`); scalars sent for strings are kept as strings; long indexed values are stored or
//! refused but never a 500.

use reqwest::StatusCode;
use serde_json::json;

use super::{assert_nothing_written, seeded_user};
use crate::harness::{ENTERPRISE, PATCH_OP, TestApp, USER};

async fn values_of_the_wrong_type_are_400_invalid_value(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let bodies = [
        json!({"userName": "t@example.com", "active": "maybe"}),
        json!({"userName": "t@example.com", "active": 1}),
        json!({"userName": "t@example.com", "active": {"value": true, "extra": 1}}),
        json!({"userName": "t@example.com", "name": "x"}),
        json!({"userName": "t@example.com", "name": {"givenName": {"first": "x"}}}),
        json!({"userName": {"value": "t@example.com", "other": 1}}),
        json!({"userName": ["t@example.com"]}),
        json!({"userName": "t@example.com", "emails": [{"value": "a@example.com", "primary": "sometimes"}]}),
        json!({"userName": "t@example.com", "emails": [{"value": ["a@example.com"]}]}),
        json!({"userName": "t@example.com", "emails": [[{"value": "a@example.com"}]]}),
        json!({"userName": "t@example.com", "emails": [
            {"value": "a@example.com", "primary": true}, {"value": "b@example.com", "primary": true}]}),
        json!({"userName": "t@example.com", ENTERPRISE: "R&D"}),
        json!({"userName": "t@example.com", ENTERPRISE: [{"department": "R&D"}]}),
        json!({"userName": "t@example.com", ENTERPRISE: {"department": {"name": "R&D"}}}),
        json!({"userName": "t@example.com", ENTERPRISE: {"manager": {"value": {"id": "x"}}}}),
    ];
    for body in &bodies {
        app.post("/Users", body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        app.put(&format!("/Users/{id}"), body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    let patches = [
        json!({"op": "replace", "path": "active", "value": "maybe"}),
        json!({"op": "replace", "value": {"active": "maybe"}}),
        json!({"op": "replace", "path": "name", "value": "x"}),
        json!({"op": "add", "path": "emails", "value": [{"value": "a@example.com", "primary": "sometimes"}]}),
        json!({"op": "replace", "path": "displayName", "value": {"first": "x", "second": "y"}}),
        json!({"op": "replace", "path": "displayName", "value": ["x", "y"]}),
    ];
    for op in patches {
        let body = json!({"schemas": [PATCH_OP], "Operations": [op]});
        app.patch(&format!("/Users/{id}"), &body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    assert_nothing_written(&app, &id, &before).await;
    app
}

async fn numbers_and_booleans_sent_for_strings_are_stored_as_strings(app: TestApp) -> TestApp {
    // resource.rs `coerce_simple` tolerates JSON numbers and booleans for string attributes.
    let created = app
        .post(
            "/Users",
            &json!({
                "userName": 4242,
                "title": true,
                "emails": [{"value": 1, "type": "work"}],
                ENTERPRISE: {"employeeNumber": 12345, "costCenter": 1.5}
            }),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap();
    let user = app.get_user(id).await;
    assert_eq!(user["userName"], "4242");
    assert_eq!(user["title"], "true");
    assert_eq!(user["emails"], json!([{"value": "1", "type": "work"}]));
    assert_eq!(
        user[ENTERPRISE],
        json!({"employeeNumber": "12345", "costCenter": "1.5"})
    );
    assert_eq!(created.body, user);
    app
}

async fn a_missing_or_blank_user_name_is_400_invalid_value(app: TestApp) -> TestApp {
    let (id, before) = seeded_user(&app).await;
    let bodies = [
        json!({}),
        json!({"schemas": [USER]}),
        json!({"active": true, "displayName": "No Name"}),
        json!({"userName": ""}),
        json!({"userName": "   "}),
        json!({"userName": null}),
    ];
    for body in &bodies {
        let reply = app
            .post("/Users", body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(
            reply.body["detail"].as_str().unwrap().contains("userName"),
            "{}",
            reply.text
        );
        app.put(&format!("/Users/{id}"), body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    // Removing it by PATCH is a mutability error (RFC 7644 §3.5.2.2).
    for op in [
        json!({"op": "remove", "path": "userName"}),
        json!({"op": "replace", "path": "userName", "value": ""}),
        json!({"op": "replace", "value": {"userName": null}}),
    ] {
        app.patch(&format!("/Users/{id}"), &json!({"Operations": [op]}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, Some("mutability"));
    }
    assert_nothing_written(&app, &id, &before).await;
    app
}

/// Incompressible text of `len` characters.
fn noise(len: usize) -> String {
    let mut s = String::with_capacity(len + 32);
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

async fn long_values_of_searchable_attributes_are_stored_or_refused_but_never_a_500(
    app: TestApp,
) -> TestApp {
    // Searchable attributes are indexed; an index has size limits that must not surface as a 500.
    let long = noise(8 * 1024);
    let bodies = [
        (
            "userName",
            json!({"userName": format!("{long}@example.com")}),
        ),
        (
            "externalId",
            json!({"userName": "ext@example.com", "externalId": long.clone()}),
        ),
        (
            "displayName",
            json!({"userName": "display@example.com", "displayName": long.clone()}),
        ),
        (
            "emails",
            json!({"userName": "email@example.com", "emails": [{"type": "work", "value": format!("{long}@example.com")}]}),
        ),
        (
            "phoneNumbers",
            json!({"userName": "phone@example.com", "phoneNumbers": [{"type": "work", "value": long.clone()}]}),
        ),
    ];
    let mut failures = Vec::new();
    for (attr, body) in bodies {
        let reply = app.post("/Users", &body).await;
        match reply.status {
            StatusCode::CREATED => {
                let id = reply.body["id"].as_str().unwrap();
                let got = app.get_user(id).await;
                assert_eq!(got[attr], body[attr], "{attr} round-trips");
            }
            StatusCode::BAD_REQUEST if reply.body["scimType"] == "invalidValue" => {}
            other => failures.push(format!("{attr}: {other} {}", reply.text)),
        }
    }
    assert!(failures.is_empty(), "long values:\n{}", failures.join("\n"));
    app
}

crate::on_both_backends!(
    values_of_the_wrong_type_are_400_invalid_value,
    numbers_and_booleans_sent_for_strings_are_stored_as_strings,
    a_missing_or_blank_user_name_is_400_invalid_value,
    long_values_of_searchable_attributes_are_stored_or_refused_but_never_a_500,
);
