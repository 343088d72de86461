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
        if let CoreError::Store(StoreError::Database(cause)) = &e {
            tracing::error!(error = %cause, "store failure");
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
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = scim_json(status, &self.0.to_json());
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"iris\""),
            );
        }
        response
    }
}

/// Applies a PATCH to the parsed `raw` body; when it is refused (the body does not parse, or
/// `apply` fails), first keeps a record of the request as it was sent.
pub(crate) async fn patch_keeping_refusals<T>(
    state: &crate::AppState,
    tenant: &iris_core::Tenant,
    kind: iris_core::ResourceKind,
    id: &str,
    raw: &axum::body::Bytes,
    apply: impl AsyncFnOnce(&serde_json::Value) -> iris_core::error::CoreResult<T>,
) -> ApiResult<T> {
    let outcome = match crate::extract::parse_json(raw) {
        Ok(body) => apply(&body).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    if let Err(e) = &outcome {
        let request = iris_core::rejections::RefusedRequest {
            method: "PATCH",
            resource_type: kind.name(),
            resource_id: id,
            body: raw,
        };
        state.rejections.record(tenant, request, &e.0).await;
    }
    outcome
}
