//! The admin API's errors: `{"error": {"code", "message", "request_id"}}` with the right status.
//! The admin API is not SCIM, but the domain speaks in SCIM errors; their `scimType` becomes the
//! code (`invalidFilter` → `invalid_filter`), else the status does.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iris_core::{CoreError, StoreError};
use iris_scim::ScimError;
use serde::Serialize;
use utoipa::ToSchema;

use super::json_response;

/// A failed admin request.
#[derive(Debug)]
pub struct AdminError {
    status: StatusCode,
    code: String,
    message: String,
}

pub type AdminResult<T> = Result<T, AdminError>;

/// The body of every admin API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code: `unauthorized`, `not_found`, `invalid_filter`,
    /// `invalid_cursor`, `invalid_value`, `uniqueness`, `internal`, …
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// The request's id (its `X-Request-Id`), to find it in the server's log.
    pub request_id: Option<String>,
}

impl AdminError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// `invalidFilter` → `invalid_filter`.
fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn code_of_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        412 => "precondition_failed",
        413 => "payload_too_large",
        503 => "unavailable",
        _ => "internal",
    }
}

impl From<ScimError> for AdminError {
    fn from(e: ScimError) -> Self {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = e.scim_type.map_or_else(
            || code_of_status(status).to_owned(),
            |t| snake_case(t.as_str()),
        );
        Self {
            status,
            code,
            message: e.detail,
        }
    }
}

impl From<CoreError> for AdminError {
    fn from(e: CoreError) -> Self {
        match &e {
            CoreError::Store(StoreError::Database(cause)) => {
                tracing::error!(error = %cause, "store failure");
            }
            CoreError::Store(StoreError::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "the database is unavailable");
            }
            _ => {}
        }
        e.to_scim().into()
    }
}

impl From<crate::ApiError> for AdminError {
    fn from(e: crate::ApiError) -> Self {
        e.0.into()
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        CoreError::from(e).into()
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                request_id: crate::observe::current_request_id(),
            },
        };
        let mut response = json_response(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"iris-admin\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_types_become_snake_case_codes() {
        let e = AdminError::from(ScimError::invalid_filter("bad"));
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_filter")
        );
        let e = AdminError::from(ScimError::not_found("gone"));
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::NOT_FOUND, "not_found")
        );
        let e = AdminError::from(CoreError::Store(StoreError::Database("x".into())));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.code, "internal");
        assert!(!e.message.contains('x'), "no internal detail leaks");
    }
}
