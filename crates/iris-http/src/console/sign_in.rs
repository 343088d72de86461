//! Signing in and out. The sign-in form is protected against login CSRF by a double-submit
//! token (a cookie of its own and the same value in the form), since there is no session yet.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use iris_core::accounts::SignInRefusal;
use maud::html;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::error::ConsoleError;
use super::layout;
use super::session::{
    self, CSRF_FIELD, ConsoleForm, SESSION_COOKIE, SIGN_IN_COOKIE, clear_cookie, cookie,
    is_cross_site, over_https, set_cookie,
};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// Where to go after signing in: the page that sent the operator here, if it is one of the
/// console's own (never another site: `//evil.example` and `https://…` are refused).
fn landing(prefix: &str, next: Option<&str>) -> String {
    next.filter(|n| {
        n.starts_with(&format!("{prefix}/")) && !n.starts_with("//") && !n.contains('\\')
    })
    .filter(|n| !n.starts_with(&format!("{prefix}/sign-")))
    .map_or_else(|| format!("{prefix}/tenants"), str::to_owned)
}

fn form_page(
    status: StatusCode,
    next: Option<&str>,
    message: Option<(&str, String)>,
    secure: bool,
) -> Response {
    let prefix = layout::prefix();
    let token = uuid::Uuid::new_v4().simple().to_string();
    let body = html! {
        div.sign-in {
            h1 { "Sign in" }
            p.muted { "Operators only. Create an account with " code { "iris admin user create NAME" } "." }
            @if let Some((kind, text)) = &message {
                (layout::notice(kind, text))
            }
            form method="post" action={ (prefix) "/sign-in" } {
                input type="hidden" name=(CSRF_FIELD) value=(token);
                @if let Some(next) = next {
                    input type="hidden" name="next" value=(next);
                }
                div.field {
                    label for="name" { "Account name" }
                    input #name name="name" type="text" autocomplete="username" required autofocus
                        autocapitalize="none" spellcheck="false";
                }
                div.field {
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                }
                button.primary type="submit" { "Sign in" }
            }
        }
    };
    let mut response = (status, Html(layout::bare("Sign in", body).into_string())).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, &token, &prefix, secure),
    );
    response
}

pub async fn page(
    State(state): State<AppState>,
    Query(query): Query<SignInQuery>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
) -> Response {
    // Already signed in: straight on.
    if let Some(secret) = cookie(&headers, SESSION_COOKIE)
        && let Ok(Some(_)) = state.accounts.session(secret).await
    {
        let prefix = session::prefix(&state);
        return Redirect::to(&landing(&prefix, query.next.as_deref())).into_response();
    }
    let message = query
        .signed_out
        .is_some()
        .then(|| ("info", "You are signed out.".to_owned()));
    form_page(
        StatusCode::OK,
        query.next.as_deref(),
        message,
        over_https(&extensions),
    )
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: axum::body::Bytes,
) -> Response {
    let secure = over_https(&extensions);
    let Ok(form) = serde_urlencoded::from_bytes::<SignInForm>(&body) else {
        return ConsoleError::BadRequest("the sign-in form could not be read".into())
            .into_response();
    };
    let next = form.next.as_deref();
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    let token_ok: bool =
        !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(form.csrf.as_bytes()));
    if is_cross_site(&headers) || !token_ok {
        return form_page(
            StatusCode::FORBIDDEN,
            next,
            Some((
                "error",
                "The sign-in form was out of date or came from another site. Please try again."
                    .into(),
            )),
            secure,
        );
    }
    let client = extensions.get::<crate::serve::ClientInfo>().map(|c| c.addr);
    let throttle = &state.console.sign_in_throttle;
    if let Some(wait) = client.and_then(|addr| throttle.wait(addr)) {
        return too_many(
            next,
            format!(
                "Too many failed sign-ins from your address: try again in {} seconds.",
                wait.as_secs().max(1)
            ),
            wait.as_secs().max(1),
            secure,
        );
    }
    let outcome = match state.accounts.sign_in(&form.name, &form.password).await {
        Ok(outcome) => outcome,
        Err(e) => return ConsoleError::from(e).into_response(),
    };
    if outcome.is_err()
        && let Some(addr) = client
    {
        throttle.failed(addr);
    }
    match outcome {
        Ok(new_session) => {
            tracing::info!(account = %new_session.account, "console sign-in");
            let prefix = session::prefix(&state);
            let mut response = Redirect::to(&landing(&prefix, next)).into_response();
            let cookies = response.headers_mut();
            cookies.append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &new_session.secret, &prefix, secure),
            );
            cookies.append(
                header::SET_COOKIE,
                clear_cookie(SIGN_IN_COOKIE, &prefix, secure),
            );
            response
        }
        Err(SignInRefusal::Invalid) => form_page(
            StatusCode::UNAUTHORIZED,
            next,
            Some(("error", "Wrong account name or password.".into())),
            secure,
        ),
        Err(SignInRefusal::LockedUntil(until)) => {
            let wait = seconds_until(&until);
            too_many(
                next,
                format!(
                    "Too many failed sign-ins: this account is locked for {wait} more seconds (until {} UTC).",
                    until.get(..19).unwrap_or(&until).replace('T', " ")
                ),
                wait,
                secure,
            )
        }
    }
}

/// The sign-in page again with 429 and `Retry-After`.
fn too_many(next: Option<&str>, message: String, wait: u64, secure: bool) -> Response {
    let mut response = form_page(
        StatusCode::TOO_MANY_REQUESTS,
        next,
        Some(("error", message)),
        secure,
    );
    if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn seconds_until(stored: &str) -> u64 {
    time::OffsetDateTime::parse(stored, &time::format_description::well_known::Rfc3339).map_or(
        1,
        |until| {
            (until - time::OffsetDateTime::now_utc())
                .whole_seconds()
                .max(1)
                .unsigned_abs()
        },
    )
}

#[derive(Deserialize)]
pub struct NoFields {}

pub async fn sign_out(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    ConsoleForm { console, .. }: ConsoleForm<NoFields>,
) -> Response {
    if let Err(e) = state.accounts.sign_out(&console.session).await {
        return ConsoleError::from(e).into_response();
    }
    tracing::info!(account = %console.account(), "console sign-out");
    let mut response = Redirect::to(&console.url("/sign-in?signed_out=1")).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        clear_cookie(SESSION_COOKIE, console.prefix(), over_https(&extensions)),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::landing;

    #[test]
    fn sign_in_returns_only_to_console_pages() {
        assert_eq!(landing("/console", None), "/console/tenants");
        assert_eq!(
            landing("/console", Some("/console/tenants/acme/log?status=failure")),
            "/console/tenants/acme/log?status=failure"
        );
        for foreign in [
            "//evil.example/console/",
            "https://evil.example/",
            "/consolex/tenants",
            "/console/sign-out",
            "/scim/v2/acme/Users",
        ] {
            assert_eq!(
                landing("/console", Some(foreign)),
                "/console/tenants",
                "{foreign}"
            );
        }
    }
}
