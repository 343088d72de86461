//! Users beyond Entra's happy path: PUT, ETags and preconditions (RFC 7644 §3.5.1, §3.14), the full
//! attribute set, what Entra's POSTs look like (entra-compat §3.3), projections (§3.4.2.5, §3.9),
//! Entra's PATCH dialects (§3.5), Tenant URL quirks (§2.2) and the health probes.

mod patch_rules;
mod patch_values;
mod posts_and_projection;
mod put_and_etags;
mod routing;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestApp, full_user};

/// Creates RFC 7643's full user, reporting to a new user `boss@example.com`; returns it as the
/// POST answered.
async fn create_full_user(app: &TestApp) -> Value {
    let manager = app
        .create_user(&json!({"userName": "boss@example.com"}))
        .await;
    app.post("/Users", &full_user(&manager))
        .await
        .expect(StatusCode::CREATED)
        .body
}
