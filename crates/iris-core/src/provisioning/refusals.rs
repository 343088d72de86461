//! Refused requests in the provisioning log: for each, the body exactly as the client sent it
//! (with passwords redacted), the answer Iris gave, and when. An identity provider's dialect is
//! learnt from these: an operator reads them with `iris log NAME --status failure` instead of
//! asking the customer to capture traffic.

use iris_scim::ScimError;
use iris_scim::schema::ResourceKind;
use serde_json::Value;

use super::context::RequestContext;
use super::events::{Operation, ProvisioningEvent};

/// Longest body kept, in bytes; the rest is cut off (and the cut is noted).
pub const MAX_RECORDED_BODY: usize = 64 * 1024;

/// Longest body written to the log with the warning about a refusal; the event keeps more.
pub const MAX_LOGGED_BODY: usize = 1024;

/// What a NUL character is recorded as. PostgreSQL's text columns cannot hold NUL, and a refused
/// request may well carry one (`PATCH /Users/a%00b`); this is how `escape_debug` writes it, as in
/// the error details that quote such input.
const NUL_RECORDED_AS: &str = "\\0";

/// What was refused: the request line, in SCIM terms.
#[derive(Debug, Clone, Copy)]
pub struct RefusedRequest<'a> {
    pub kind: ResourceKind,
    /// The `{id}` of the path, empty for requests to the collection.
    pub resource_id: &'a str,
    pub body: &'a [u8],
}

/// The event of a refused request: what it attempted, the answer, and its body as sent.
pub fn refused_event(
    context: &RequestContext,
    request: RefusedRequest<'_>,
    error: &ScimError,
) -> ProvisioningEvent {
    let operation = Operation::attempted_by(&context.method);
    let identity = identity_in_body(request.kind, request.body);
    let mut event = ProvisioningEvent::new(
        context,
        operation,
        request.kind,
        request.resource_id,
        &identity,
    )
    .with_status(error.status);
    event.scim_type = error.scim_type.map(|t| t.as_str().to_owned());
    event.detail = Some(error.detail.clone());
    event.body = (!request.body.is_empty()).then(|| recorded_body(request.body));
    event
}

/// The `userName` or `displayName` a POST or PUT body names, so a refused create shows in that
/// resource's history.
fn identity_in_body(kind: ResourceKind, body: &[u8]) -> String {
    let attribute = crate::resources::unique_attribute(kind);
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(attribute))
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
        })
        .unwrap_or_default()
}

/// The body to keep: JSON with its passwords redacted (re-serialised compactly), or the raw text
/// when it is not JSON, unless that text mentions a password at all; NUL written storably.
pub(crate) fn recorded_body(raw: &[u8]) -> String {
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
pub fn storable(text: &str) -> String {
    text.replace('\0', NUL_RECORDED_AS)
}

pub(crate) fn truncate(mut text: String, max: usize) -> String {
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
