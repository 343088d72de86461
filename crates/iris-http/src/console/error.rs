//! The console's errors, answered as HTML pages with the right status. Internal failures are
//! logged with their cause and shown generically, with the request id to find them in the log.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use iris_core::{CoreError, StoreError};
use maud::html;

use super::layout;

#[derive(Debug)]
pub enum ConsoleError {
    /// No live session (for a request that is not a page load): where to sign in.
    SignInRequired(String),
    /// A state-changing request without the session's CSRF token, or from another site.
    Forbidden(String),
    BadRequest(String),
    NotFound(String),
    /// A client mistake the domain reported (its status and message).
    Refused(StatusCode, String),
    Internal,
}

pub type ConsoleResult<T> = Result<T, ConsoleError>;

impl ConsoleError {
    fn status(&self) -> StatusCode {
        match self {
            Self::SignInRequired(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Refused(status, _) => *status,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<CoreError> for ConsoleError {
    fn from(e: CoreError) -> Self {
        if let CoreError::Store(cause) = &e
            && !matches!(cause, StoreError::Conflict | StoreError::NotFound)
        {
            tracing::error!(error = %cause, "console: store failure");
        }
        let scim = e.to_scim();
        let status = StatusCode::from_u16(scim.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match status {
            StatusCode::NOT_FOUND => Self::NotFound(scim.detail),
            s if s.is_server_error() => Self::Internal,
            s => Self::Refused(s, scim.detail),
        }
    }
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        CoreError::from(e).into()
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (title, message) = match &self {
            Self::SignInRequired(_) => (
                "Sign in required",
                "Your session has ended or you are not signed in.".to_owned(),
            ),
            Self::Forbidden(m) => ("Refused", m.clone()),
            Self::BadRequest(m) | Self::Refused(_, m) => ("Cannot do that", m.clone()),
            Self::NotFound(m) => ("Not found", m.clone()),
            Self::Internal => (
                "Something went wrong",
                "Iris could not complete this request; the server's log has the cause.".to_owned(),
            ),
        };
        let request_id = crate::observe::current_request_id();
        let body = html! {
            h1 { (title) }
            p role="alert" { (message) }
            @if let Self::SignInRequired(sign_in) = &self {
                p { a href=(sign_in) { "Sign in" } }
            }
            @if let Some(id) = &request_id {
                p.muted { "Request id: " code { (id) } }
            }
        };
        (status, Html(layout::bare(title, body).into_string())).into_response()
    }
}

/// Unknown paths under the console (only for a signed-in operator: without a session nothing
/// but the sign-in page answers).
pub async fn not_found_page(_: super::session::Console) -> ConsoleError {
    ConsoleError::NotFound("There is no console page at this address.".into())
}
