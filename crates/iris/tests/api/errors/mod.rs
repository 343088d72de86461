//! Every error a client can cause is a SCIM error (RFC 7644 §3.12): `application/scim+json`, the
//! Error URN, `status` as a string and `scimType` where RFC 7644 defines one. Nothing a client sends
//! produces a 500, and a refused write changes nothing.

mod hostile;
mod queries;
mod refused_writes;
mod request_heads;
mod routes;
mod syntax;
mod values;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{ENTERPRISE, ERROR, Reply, SCIM_JSON, TestApp};

/// Asserts a 4xx SCIM error body, whatever the status.
#[track_caller]
pub(super) fn assert_scim_client_error(reply: &Reply, input: &str) {
    assert!(
        reply.status.is_client_error(),
        "{input}: expected a 4xx SCIM error, got {}: {}",
        reply.status,
        reply.text
    );
    assert_eq!(reply.content_type(), SCIM_JSON, "{input}: {}", reply.text);
    assert_eq!(
        reply.body["schemas"],
        json!([ERROR]),
        "{input}: {}",
        reply.text
    );
    assert_eq!(
        reply.body["status"],
        reply.status.as_u16().to_string(),
        "{input}: {}",
        reply.text
    );
    assert!(
        reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{input}: {}",
        reply.text
    );
}

/// One user the failing requests aim at, and its state before them.
pub(super) async fn seeded_user(app: &TestApp) -> (String, Value) {
    let id = app
        .create_user(&json!({
            "userName": "kept@example.com",
            "displayName": "Kept",
            "active": true,
            "name": {"givenName": "Kept", "familyName": "User"},
            "emails": [{"type": "work", "value": "kept@example.com", "primary": true}],
            ENTERPRISE: {"department": "Audit"}
        }))
        .await;
    let before = app.get_user(&id).await;
    (id, before)
}

/// The seeded user is exactly as before and is still the tenant's only user.
pub(super) async fn assert_nothing_written(app: &TestApp, id: &str, before: &Value) {
    let now = app.get_user(id).await;
    assert_eq!(&now, before, "a refused request changed the user");
    let all = app.get("/Users").await.expect(StatusCode::OK);
    assert_eq!(
        all.body["totalResults"], 1,
        "a refused request created a user: {}",
        all.text
    );
}
