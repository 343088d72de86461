//! The global in-flight limit (issue 13): when `max_in_flight_requests` requests are being served,
//! the next one is answered `503` with `Retry-After: 1` at once, without queueing: a saturated
//! process that queued would answer every request late (past Entra's 60 s, which then retries),
//! where shedding answers the excess quickly and serves the rest at normal speed. The health
//! probes are never shed: an orchestrator must see a busy process as alive and ready.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use iris_scim::ScimError;
use tokio::sync::Semaphore;

use crate::AppState;
use crate::error::ApiError;

/// What a shed client is told to wait.
const RETRY_AFTER_SECONDS: u64 = 1;

/// The requests being served, up to the limit; `None` when there is no limit.
#[derive(Clone)]
pub(crate) struct InFlight(Option<Arc<Semaphore>>);

impl InFlight {
    /// A limit of `max` requests at once; 0 turns it off.
    pub(crate) fn new(max: usize) -> Self {
        Self((max > 0).then(|| Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS)))))
    }
}

fn is_health_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

pub(crate) async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(slots) = &state.in_flight.0 else {
        return next.run(request).await;
    };
    if is_health_probe(request.uri().path()) {
        return next.run(request).await;
    }
    // The permit is held until the response head is ready.
    match slots.clone().try_acquire_owned() {
        Ok(permit) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        Err(_) => {
            metrics::counter!(crate::metrics::SHED).increment(1);
            // Not a warning per request: a saturated process would log itself slower still.
            tracing::debug!(
                max_in_flight = state.config.max_in_flight_requests,
                "request shed: the in-flight limit is reached"
            );
            shed(state.config.max_in_flight_requests)
        }
    }
}

fn shed(max: usize) -> Response {
    let mut response = ApiError(ScimError::new(
        503,
        None,
        format!(
            "Iris is serving its maximum of {max} requests at once; retry in \
             {RETRY_AFTER_SECONDS} s"
        ),
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}
