//! The admin console: server-rendered HTML pages (maud) for operators, at `/console` by default.
//! It signs operators in with a name and password (`iris admin user create`), keeps sessions in
//! the database, and calls the same services as the admin API and the CLI (`TenantService`,
//! `ResourceService`, `ProvisioningLog`). Every page works without JavaScript except the live
//! tail; the one script (copy buttons, live tail) and the stylesheet are embedded in the binary.
//!
//! - `session`: the session cookie, the [`session::Console`] extractor and CSRF checks.
//! - `sign_in`: the sign-in page, sign-in and sign-out.
//! - `layout`: the page shell, navigation and shared bits of markup.
//! - `tenants`, `tokens`, `directory`, `log`, `live`: one module per area.
//! - `explain`: what a refused request means and what to change in Entra's mappings.
//! - `assets`: the stylesheet and the script.

mod assets;
mod directory;
mod error;
mod explain;
mod layout;
mod live;
mod log;
mod session;
mod sign_in;
mod tenants;
mod throttle;
mod tokens;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};

pub use live::{LiveFeed, LiveRequest};
pub use throttle::SignInThrottle;

/// What the console keeps per process: the live tail's feed and the sign-in brake.
#[derive(Clone, Default)]
pub struct ConsoleState {
    pub live: LiveFeed,
    pub sign_in_throttle: std::sync::Arc<SignInThrottle>,
}

use crate::AppState;

/// Where the console is served unless configured otherwise.
pub const DEFAULT_PATH: &str = "/console";

/// Whether `path` can be the console's mount point: `/` followed by one or more segments of
/// `a-z 0-9 - _`, not one of the paths Iris serves itself.
pub fn valid_path(path: &str) -> Result<(), String> {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or("").split('/').collect();
    let well_formed = path.starts_with('/')
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        });
    if !well_formed {
        return Err(format!(
            "the console path must look like /console (lowercase segments of a-z, 0-9, '-', '_'), not '{path}'"
        ));
    }
    let first = segments.first().copied().unwrap_or_default();
    if ["scim", "admin", "healthz", "readyz", "metrics"].contains(&first) {
        return Err(format!(
            "the console path '{path}' would hide Iris's own /{first} endpoints"
        ));
    }
    Ok(())
}

/// The console's routes, to nest under its path.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in::page).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/assets/console.css", get(assets::stylesheet))
        .route("/assets/console.js", get(assets::script))
        .route("/tenants", get(tenants::list).post(tenants::create))
        .route("/tenants/{tenant}", get(tenants::overview))
        .route("/tenants/{tenant}/disable", post(tenants::disable))
        .route("/tenants/{tenant}/enable", post(tenants::enable))
        .route(
            "/tenants/{tenant}/tokens",
            get(tokens::list).post(tokens::issue),
        )
        .route(
            "/tenants/{tenant}/tokens/{token_id}/revoke",
            get(tokens::confirm_revoke).post(tokens::revoke),
        )
        .route("/tenants/{tenant}/users", get(directory::users))
        .route("/tenants/{tenant}/users/{id}", get(directory::user))
        .route("/tenants/{tenant}/groups", get(directory::groups))
        .route("/tenants/{tenant}/groups/{id}", get(directory::group))
        .route("/tenants/{tenant}/log", get(log::events))
        .route("/tenants/{tenant}/log/{event_id}", get(log::event))
        .route("/tenants/{tenant}/cycles", get(log::cycles))
        .route("/tenants/{tenant}/live", get(live::page))
        .route("/tenants/{tenant}/live/stream", get(live::stream))
        .fallback(error::not_found_page)
        .layer(axum::middleware::from_fn_with_state(
            state,
            security_headers,
        ))
}

async fn home(console: session::Console) -> Redirect {
    Redirect::to(&console.url("/tenants"))
}

/// Headers every console response carries: no framing, no inline script or style, no caching
/// (pages show tenants' data and, once, their secrets), no MIME sniffing.
/// The console's mount point is in scope for the request, for the pages' links.
async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = layout::PREFIX
        .scope(session::prefix(&state), next.run(request))
        .await;
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 5] = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in fixed {
        if name == header::CACHE_CONTROL && headers.contains_key(&name) {
            continue;
        }
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::valid_path;

    #[test]
    fn console_paths_are_plain_and_leave_iris_endpoints_alone() {
        assert!(valid_path("/console").is_ok());
        assert!(valid_path("/ops/console-2").is_ok());
        for bad in [
            "",
            "/",
            "console",
            "/console/",
            "/Console",
            "/a//b",
            "/scim",
            "/admin/x",
        ] {
            assert!(valid_path(bad).is_err(), "{bad}");
        }
    }
}
