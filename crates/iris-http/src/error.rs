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

/// Keeps a record of a PATCH that was refused: the raw body is what an operator needs to see to
/// understand an identity provider's dialect. Passwords in it are redacted, so the log never
/// holds a secret.
pub(crate) fn record_rejected_patch(
    tenant: &str,
    resource: &str,
    id: &str,
    err: &ApiError,
    body: &serde_json::Value,
) {
    if err.0.status >= 500 {
        return;
    }
    let body = redact_passwords(body);
    tracing::warn!(tenant, resource, id, status = err.0.status, detail = %err.0.detail, %body, "PATCH rejected");
}

/// A copy of a request body with every password value replaced: object keys named `password`
/// (any case, also URN-qualified) and the `value` of operations whose `path` names it.
pub(crate) fn redact_passwords(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    const REDACTED: &str = "[redacted]";
    let names_password = |key: &str| {
        key.rsplit([':', '.'])
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("password"))
    };
    match value {
        Value::Object(map) => {
            let path_is_password = map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("path"))
                .and_then(|(_, v)| v.as_str())
                .is_some_and(|p| names_password(p.split('[').next().unwrap_or(p)));
            Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let secret = names_password(k)
                            || (path_is_password && k.eq_ignore_ascii_case("value"));
                        let v = if secret {
                            Value::from(REDACTED)
                        } else {
                            redact_passwords(v)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(redact_passwords).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_never_reach_the_log() {
        let body = json!({"Operations": [
            {"op": "replace", "path": "password", "value": "s3cret"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:password", "value": "s3cret"},
            {"op": "replace", "value": {"Password": "s3cret", "displayName": "Ann"}},
            {"op": "replace", "path": "displayName", "value": "kept"}
        ]});
        let text = redact_passwords(&body).to_string();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("kept") && text.contains("Ann"), "{text}");
    }
}
