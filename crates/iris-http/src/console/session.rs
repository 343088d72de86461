//! The console's session: a random secret in an `HttpOnly`, `SameSite=Strict` cookie (`Secure`
//! when the client reached Iris over HTTPS, directly or through a trusted proxy), looked up by its
//! hash in the database on every request. [`Console`] is the extractor every page but sign-in
//! takes; [`ConsoleForm`] also checks the CSRF token every state-changing form carries.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use iris_core::accounts::Session;
use serde::de::DeserializeOwned;

use super::error::ConsoleError;
use crate::AppState;
use crate::serve::ClientInfo;

/// The session cookie.
pub const SESSION_COOKIE: &str = "iris_console_session";
/// The sign-in form's own CSRF cookie (double submit): there is no session yet to bind it to.
pub const SIGN_IN_COOKIE: &str = "iris_console_sign_in";
/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// The largest form the console accepts.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// A signed-in operator's request: their session and where the console is mounted.
pub struct Console {
    pub session: Session,
    prefix: Arc<str>,
}

impl Console {
    /// `path` under the console's mount point.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn csrf(&self) -> &str {
        self.session.csrf_token()
    }

    pub fn account(&self) -> &str {
        &self.session.account
    }
}

/// The console's mount point.
pub fn prefix(state: &AppState) -> Arc<str> {
    Arc::from(
        state
            .config
            .console_path
            .as_deref()
            .unwrap_or(super::DEFAULT_PATH),
    )
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether the client reached Iris over HTTPS (Iris's TLS, or a trusted proxy's word).
pub fn over_https(parts_extensions: &axum::http::Extensions) -> bool {
    parts_extensions
        .get::<ClientInfo>()
        .is_some_and(|client| client.https)
}

/// A `Set-Cookie` value scoped to the console.
pub fn set_cookie(name: &str, value: &str, prefix: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path={prefix}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A `Set-Cookie` value that deletes cookie `name`.
pub fn clear_cookie(name: &str, prefix: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{name}=; Path={prefix}; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// What a request without a live session gets: a page load goes to the sign-in page (and comes
/// back afterwards); anything else (a form, the live stream) is refused with 401.
pub struct SignInRequired {
    sign_in: String,
    is_page_load: bool,
}

impl IntoResponse for SignInRequired {
    fn into_response(self) -> Response {
        if self.is_page_load {
            Redirect::to(&self.sign_in).into_response()
        } else {
            ConsoleError::SignInRequired(self.sign_in).into_response()
        }
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let prefix = prefix(state);
        let session = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(secret) => state
                .accounts
                .session(secret)
                .await
                .map_err(|e| ConsoleError::from(e).into_response())?,
            None => None,
        };
        match session {
            Some(session) => Ok(Self { session, prefix }),
            None => {
                let is_page_load = parts.method == Method::GET
                    && !parts
                        .headers
                        .get(header::ACCEPT)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|accept| accept.contains("text/event-stream"));
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|pq| pq.as_str().to_owned())
                    .unwrap_or_default();
                let sign_in = format!(
                    "{prefix}/sign-in?next={}",
                    percent_encoding::utf8_percent_encode(
                        &next,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                );
                Err(SignInRequired {
                    sign_in,
                    is_page_load,
                }
                .into_response())
            }
        }
    }
}

/// A state-changing form: a live session, a request from the console's own pages (a browser's
/// `Sec-Fetch-Site` is not `cross-site`), and the session's CSRF token in the form. Anything
/// else is refused with 403 before the handler runs.
pub struct ConsoleForm<T> {
    pub console: Console,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for ConsoleForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let console = Console::from_request_parts(&mut parts, state).await?;
        if is_cross_site(&parts.headers) {
            return Err(
                ConsoleError::Forbidden("this form was sent from another site".into())
                    .into_response(),
            );
        }
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                ConsoleError::BadRequest("the form is too large".into()).into_response()
            })?;
        let csrf = form_field(&bytes, CSRF_FIELD);
        if !csrf.is_some_and(|token| console.session.csrf_matches(&token)) {
            return Err(ConsoleError::Forbidden(
                "the form's security token is missing or out of date: reload the page and try again"
                    .into(),
            )
            .into_response());
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            ConsoleError::BadRequest(format!("the form could not be read: {e}")).into_response()
        })?;
        Ok(Self { console, form })
    }
}

/// Whether a browser says the request comes from another site. Browsers without the header
/// (old ones, and non-browser clients) are left to the CSRF token and `SameSite=Strict`.
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site.eq_ignore_ascii_case("cross-site"))
}

/// One field of a URL-encoded form.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; iris_console_session=xyz"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn session_cookies_are_http_only_strict_and_secure_over_https() {
        let plain = set_cookie(SESSION_COOKIE, "s", "/console", false);
        assert_eq!(
            plain.to_str().unwrap(),
            "iris_console_session=s; Path=/console; HttpOnly; SameSite=Strict"
        );
        let secure = set_cookie(SESSION_COOKIE, "s", "/console", true);
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn form_fields_are_decoded() {
        assert_eq!(
            form_field(b"a=1&csrf=x%2By&b=", CSRF_FIELD).as_deref(),
            Some("x+y")
        );
        assert_eq!(form_field(b"a=1", CSRF_FIELD), None);
    }
}
