//! Liveness and readiness probes; no token needed.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use crate::AppState;
use crate::response::scim_json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Response {
    scim_json(StatusCode::OK, &json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => scim_json(
            StatusCode::OK,
            &json!({"status": "ready", "database": state.store.backend_name()}),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            scim_json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"status": "unavailable", "database": state.store.backend_name()}),
            )
        }
    }
}
