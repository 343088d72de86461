//! The one place where errors become HTTP responses. Client errors carry their SCIM body; internal
//! failures are logged with their cause and answered with a generic 500.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iris_core::{CoreError, StoreError};
use iris_scim::ScimError;

use crate::response::scim_json;

#[derive(Debug)]
pub struct ApiError(pub ScimError);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        Self(e)
    }
}

impl From<CoreError> for ApiError {
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
        Self(e.to_scim())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        CoreError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    /// The SCIM error body, its `detail` naming the request id; the error itself rides along in
    /// the response's extensions for the provisioning log.
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut shown = self.0.clone();
        if let Some(id) = crate::observe::current_request_id() {
            shown.detail = format!("{} (request id {id})", shown.detail);
        }
        let mut response = scim_json(status, &shown.to_json());
        response.extensions_mut().insert(self.0);
        // A 503 is always worth retrying (a busy or unreachable database): say when.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"iris\""),
            );
        }
        response
    }
}
