//! How large a request head may be, and the SCIM errors for a head that is not acceptable.
//!
//! Two places refuse a head. hyper refuses what it cannot parse at all — a request target past its
//! fixed 65,534 bytes, a head past its read buffer (about 400 KiB) or with more than
//! [`MAX_HEADER_FIELDS`] fields, a malformed request line or header — before any handler runs,
//! and [`crate::wire`] gives those refusals their SCIM body. Below hyper's limits,
//! [`refuse_oversized_heads`] holds every request to Iris's own, smaller ones, so a client meets
//! one documented limit (README.md, "Limits") whichever layer notices.

use axum::extract::Request;
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use iris_scim::ScimError;

use crate::ApiError;

/// Bytes of a request target (path and query). Filters are at most 4,096 bytes before
/// percent-encoding (`FilterLimits`), which triples them at worst; long searches belong in a
/// `POST …/.search` body.
pub const MAX_REQUEST_TARGET_BYTES: usize = 32 * 1024;

/// Bytes of a request's header fields together (each counted as `name: value` and its line end).
/// Entra's heads are a few hundred bytes; a bearer token is under a hundred.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Header fields in one request: hyper's own limit (it answers 431 past it).
pub const MAX_HEADER_FIELDS: usize = 100;

/// `414 URI Too Long`.
pub fn target_too_long() -> ScimError {
    ScimError::new(
        414,
        None,
        format!(
            "the request target (path and query) is longer than the {MAX_REQUEST_TARGET_BYTES} \
             bytes Iris accepts; send a long filter in the body of a POST to .search"
        ),
    )
}

/// `431 Request Header Fields Too Large`.
pub fn headers_too_large() -> ScimError {
    ScimError::new(
        431,
        None,
        format!(
            "the request's header fields are larger than Iris accepts (at most \
             {MAX_HEADER_FIELDS} fields of {MAX_HEADER_BYTES} bytes together)"
        ),
    )
}

/// `400 Bad Request` for a head that is not HTTP/1.1.
pub fn malformed_head() -> ScimError {
    ScimError::new(
        400,
        None,
        "the request line or a header field is not valid HTTP/1.1",
    )
}

fn target_bytes(uri: &Uri) -> usize {
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    let path_and_query = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    authority + path_and_query
}

fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum()
}

/// Refuses a request whose target or header fields are past Iris's limits, before anything else
/// reads it.
pub(crate) async fn refuse_oversized_heads(request: Request, next: Next) -> Response {
    let refusal = if target_bytes(request.uri()) > MAX_REQUEST_TARGET_BYTES {
        Some(target_too_long())
    } else if header_bytes(request.headers()) > MAX_HEADER_BYTES {
        Some(headers_too_large())
    } else {
        None
    };
    match refusal {
        Some(e) => {
            tracing::info!(
                status = e.status,
                "refused a request head past Iris's limits"
            );
            ApiError(e).into_response()
        }
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_field_counts_its_name_value_and_line() {
        let mut headers = HeaderMap::new();
        headers.insert("x-a", "bc".parse().unwrap());
        assert_eq!(header_bytes(&headers), 3 + 2 + 4);
        let uri: Uri = "/scim/v2/acme/Users?count=1".parse().unwrap();
        assert_eq!(target_bytes(&uri), "/scim/v2/acme/Users?count=1".len());
    }
}
