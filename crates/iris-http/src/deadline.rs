//! The request deadline. Entra gives a SCIM call 60 seconds and then treats it as failed (and a
//! create that timed out comes back as a duplicate), so Iris gives up first: a request that has
//! not produced its response within `request_timeout` is dropped, which rolls back its open
//! transaction and releases its locks, and is answered `503` with `Retry-After`. The same happens
//! when the client hangs up: hyper drops the request's future. A request body still arriving
//! when the deadline passes (a slow client) is cut off the same way.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use iris_scim::ScimError;

use crate::AppState;
use crate::error::ApiError;

/// What a client is told to wait before retrying a request that ran out of time.
const RETRY_AFTER_SECONDS: u64 = 5;

pub async fn deadline(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.config.request_timeout;
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, %path, timeout_ms = limit.as_millis() as u64, "request timed out; its work was abandoned");
            timed_out(limit)
        }
    }
}

fn timed_out(limit: Duration) -> Response {
    let mut response = ApiError(ScimError::new(
        503,
        None,
        format!(
            "the request did not complete within {} s and was abandoned; retry it (a change \
             that was not committed by then was rolled back)",
            limit.as_secs_f64()
        ),
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}
