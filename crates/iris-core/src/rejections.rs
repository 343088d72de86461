//! The record of refused PATCH requests: for each, the body exactly as the client sent it (with
//! passwords redacted), the answer Iris gave, and when. An identity provider's dialect is learnt
//! from these: an operator lists them with `iris tenant rejected NAME` instead of asking the
//! customer to capture traffic. The provisioning log builds on this record.

use std::sync::Arc;

use iris_scim::ScimError;
use serde::Serialize;
use serde_json::Value;

use crate::clock;
use crate::error::CoreResult;
use crate::store::{Store, TenantId};

/// Refused requests kept per tenant; older ones are dropped as new ones arrive.
pub const KEPT_PER_TENANT: u32 = 1000;

/// Longest body kept, in bytes; the rest is cut off (and the cut is noted).
pub const MAX_RECORDED_BODY: usize = 64 * 1024;

/// Longest body written to the log with the warning about a refusal; the record keeps more.
pub const MAX_LOGGED_BODY: usize = 1024;

/// What a NUL character is recorded as. PostgreSQL's text columns cannot hold NUL, and a refused
/// request may well carry one (`PATCH /Users/a%00b`); this is how `escape_debug` writes it, as in
/// the error details that quote such input.
const NUL_RECORDED_AS: &str = "\\0";

/// One refused request as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedRequest {
    /// Time-ordered (UUIDv7).
    pub id: String,
    pub received_at: String,
    pub method: String,
    pub resource_type: String,
    pub resource_id: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    pub detail: String,
    /// The request body as received, passwords redacted, at most [`MAX_RECORDED_BODY`] bytes.
    pub body: String,
}

/// What was refused: the request line, in SCIM terms.
#[derive(Debug, Clone, Copy)]
pub struct RefusedRequest<'a> {
    pub method: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub body: &'a [u8],
}

#[derive(Clone)]
pub struct RejectionLog {
    store: Arc<dyn Store>,
}

impl RejectionLog {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Records a refused request. Recording is best effort: the client's answer does not depend
    /// on it, so a failure here is logged, never returned.
    pub async fn record(
        &self,
        tenant: &TenantId,
        tenant_name: &str,
        request: RefusedRequest<'_>,
        error: &ScimError,
    ) {
        let entry = RejectedRequest {
            id: uuid::Uuid::now_v7().to_string(),
            received_at: clock::now(),
            method: storable(request.method),
            resource_type: storable(request.resource_type),
            resource_id: storable(request.resource_id),
            status: error.status,
            scim_type: error.scim_type.map(|t| t.as_str().to_owned()),
            detail: storable(&error.detail),
            body: recorded_body(request.body),
        };
        tracing::warn!(
            tenant = tenant_name,
            method = %entry.method,
            resource = %entry.resource_type,
            id = %entry.resource_id,
            status = error.status,
            detail = %entry.detail,
            body = %truncate(entry.body.clone(), MAX_LOGGED_BODY),
            "request refused"
        );
        if let Err(e) = self
            .store
            .insert_rejected_request(tenant, &entry, KEPT_PER_TENANT)
            .await
        {
            tracing::error!(tenant = tenant_name, error = %e, "could not record a refused request");
        }
    }

    /// The most recent refused requests of a tenant, newest first.
    pub async fn recent(&self, tenant: &TenantId, limit: u32) -> CoreResult<Vec<RejectedRequest>> {
        Ok(self.store.rejected_requests(tenant, limit).await?)
    }
}

/// The body to keep: JSON with its passwords redacted (re-serialised compactly), or the raw text
/// when it is not JSON, unless that text mentions a password at all; NUL written storably.
fn recorded_body(raw: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(raw) {
        Ok(json) => redact_passwords(&json).to_string(),
        Err(_) => {
            let text = String::from_utf8_lossy(raw);
            if text.to_ascii_lowercase().contains("password") {
                "[not JSON, and it mentions a password: not kept]".to_owned()
            } else {
                text.into_owned()
            }
        }
    };
    truncate(storable(&text), MAX_RECORDED_BODY)
}

/// `text` with every NUL written as [`NUL_RECORDED_AS`], so that both databases can store it.
fn storable(text: &str) -> String {
    text.replace('\0', NUL_RECORDED_AS)
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = text.len() - cut;
    text.truncate(cut);
    text.push_str(&format!("…[{dropped} more bytes not kept]"));
    text
}

/// A copy of a request body with every password value replaced: object keys named `password`
/// (any case, also URN-qualified) and the `value` of operations whose `path` names it.
pub fn redact_passwords(value: &Value) -> Value {
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
    fn passwords_are_never_kept() {
        let body = json!({"Operations": [
            {"op": "replace", "path": "password", "value": "s3cret"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:password", "value": "s3cret"},
            {"op": "replace", "value": {"Password": "s3cret", "displayName": "Ann"}},
            {"op": "replace", "path": "displayName", "value": "kept"}
        ]});
        let text = recorded_body(body.to_string().as_bytes());
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("kept") && text.contains("Ann"), "{text}");
        let broken = recorded_body(br#"{"op": "replace", "path": "password", "value": "s3cret""#);
        assert!(!broken.contains("s3cret"), "{broken}");
        assert_eq!(recorded_body(b"{not json"), "{not json");
    }

    #[test]
    fn nul_characters_are_recorded_escaped_as_the_error_details_write_them() {
        assert_eq!(storable("a\0b\0"), "a\\0b\\0");
        assert_eq!(storable("a\0b"), "a\0b".escape_debug().to_string());
        assert_eq!(storable("plain"), "plain");
        // Raw text that is not JSON keeps what it says, NUL included, readably.
        let body = recorded_body(b"{\"op\": \"add\"\0");
        assert_eq!(body, "{\"op\": \"add\"\\0");
    }

    #[test]
    fn long_bodies_are_cut_at_a_character_boundary() {
        let text = "é".repeat(10);
        let cut = truncate(text, 5);
        assert!(cut.starts_with("éé"), "{cut}");
        assert!(cut.ends_with("…[16 more bytes not kept]"), "{cut}");
        assert_eq!(truncate("short".to_owned(), 5), "short");
    }
}
