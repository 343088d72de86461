//! The base URL of Tenant URLs and `meta.location` for one request. A configured `public_url`
//! always wins; without one, a trusted proxy's `X-Forwarded-Proto` and `-Host` name the URL the
//! client used (see [`crate::serve::forwarded`]), and otherwise the URL derived from the listen
//! address stands.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;
use crate::serve::ClientInfo;

tokio::task_local! {
    static FORWARDED: String;
}

/// The forwarded base URL of the request this task serves, if a trusted proxy gave one.
pub(crate) fn forwarded() -> Option<String> {
    FORWARDED.try_with(Clone::clone).ok()
}

/// Serves the request with its forwarded base URL in scope, when it has one and counts.
pub(crate) async fn scope(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let forwarded = (!state.config.public_url_configured)
        .then(|| request.extensions().get::<ClientInfo>())
        .flatten()
        .and_then(ClientInfo::forwarded_base_url);
    match forwarded {
        Some(base) => FORWARDED.scope(base, next.run(request)).await,
        None => next.run(request).await,
    }
}
