//! The stylesheet and the script, embedded in the binary. The stylesheet is served without a
//! session (the sign-in page needs it; it holds nothing but styles); the script only with one.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::session::Console;

const STYLESHEET: &str = include_str!("assets/console.css");
const SCRIPT: &str = include_str!("assets/console.js");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Embedded assets change only with the binary; an hour of caching is safe, and the
    // security-headers layer leaves an explicit Cache-Control alone.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    response
}

pub async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

pub async fn script(_: Console) -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}
