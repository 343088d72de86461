//! The admin API: JSON over HTTP under `/admin/v1`, for operators and their tooling. Every
//! endpoint but the OpenAPI document needs an operator token (`iris admin token issue`); a
//! tenant's token is refused. Handlers are thin: they call the same services as the CLI
//! (`TenantService`, `ProvisioningLog`, `ResourceService`).
//!
//! The OpenAPI document is generated from the handlers (utoipa) and served, without a token, at
//! `/admin/v1/openapi.json`, so tooling can discover the API; it describes the API, not any
//! tenant's data. `docs/admin-api.openapi.json` is a committed copy (a test keeps it current).

mod auth;
mod directory;
mod error;
mod log;
mod summary;
mod tenants;
mod tokens;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{any, get};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::OperatorAuth;
pub use error::{AdminError, AdminResult, ErrorBody};

use crate::AppState;

/// Where the admin API lives.
pub const PREFIX: &str = "/admin/v1";

const JSON: &str = "application/json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Iris admin API",
        description = "Operate Iris: tenants and their tokens, the tenants' users and groups, the provisioning log and cycles, and a metrics summary. Every endpoint except this document needs an operator token (`iris admin token issue`) as `Authorization: Bearer irisop_…`; a tenant's SCIM token is refused. Errors are `{\"error\": {\"code\", \"message\", \"request_id\"}}`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&OperatorToken),
    security(("operator_token" = [])),
    tags(
        (name = "tenants", description = "Tenants: list, create, disable, enable, status"),
        (name = "tokens", description = "A tenant's SCIM bearer tokens: issue (the secret is shown once), list, revoke"),
        (name = "directory", description = "A tenant's users and groups, read-only, with the SCIM filter and cursor paging"),
        (name = "log", description = "A tenant's provisioning log and cycles, paged by cursor"),
        (name = "metrics", description = "Request counts and failure rates at a glance"),
    )
)]
struct AdminDoc;

/// The `operator_token` bearer scheme every operation requires.
struct OperatorToken;

impl Modify for OperatorToken {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An operator token from `iris admin token issue` (irisop_<id>_<secret>)",
                    ))
                    .build(),
            ),
        );
    }
}

fn api() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(tenants::list, tenants::create))
        .routes(routes!(tenants::fetch))
        .routes(routes!(tenants::disable))
        .routes(routes!(tenants::enable))
        .routes(routes!(tenants::status))
        .routes(routes!(tokens::list, tokens::issue))
        .routes(routes!(tokens::revoke))
        .routes(routes!(directory::list_users))
        .routes(routes!(directory::get_user))
        .routes(routes!(directory::list_groups))
        .routes(routes!(directory::get_group))
        .routes(routes!(log::events))
        .routes(routes!(log::cycles))
        .routes(routes!(summary::summary));
    OpenApiRouter::with_openapi(AdminDoc::openapi()).nest(PREFIX, v1)
}

/// The admin API's OpenAPI document, as served.
pub fn openapi() -> OpenApiDocument {
    api().into_openapi()
}

/// The admin routes, to merge into the main router. Unknown paths and methods under the prefix
/// get admin JSON errors, not SCIM ones.
pub fn routes() -> Router<AppState> {
    let (router, document) = api().split_for_parts();
    let served = document.to_pretty_json().unwrap_or_default();
    router
        .route(
            &format!("{PREFIX}/openapi.json"),
            get(move || {
                let served = served.clone();
                async move { raw_json(StatusCode::OK, served.into_bytes()) }
            }),
        )
        .route(PREFIX, any(no_such_endpoint))
        .route(&format!("{PREFIX}/{{*rest}}"), any(no_such_endpoint))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn no_such_endpoint() -> AdminError {
    AdminError::not_found("no such admin endpoint: see /admin/v1/openapi.json")
}

async fn method_not_allowed() -> AdminError {
    AdminError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
}

fn raw_json(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    raw_json(status, serde_json::to_vec(body).unwrap_or_default())
}

/// A 200 with a JSON body.
pub(crate) fn ok(body: &impl Serialize) -> Response {
    json_response(StatusCode::OK, body)
}

/// Path parameters; a path that does not decode names nothing (404 with an admin error body).
pub struct AdminPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for AdminPath<T> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|_| AdminError::not_found("nothing at this path"))
    }
}

/// Query parameters; malformed ones are a 400 with an admin error body.
pub struct AdminQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AdminQuery<T> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
            .map(Self)
            .map_err(|e| AdminError::bad_request("invalid_query", format!("query parameters: {e}")))
    }
}

/// A JSON request body (an empty body reads as `{}`), up to the configured size.
pub struct AdminJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for AdminJson<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| {
                AdminError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("the request body exceeds {limit} bytes"),
                )
            })?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text)
            .map(Self)
            .map_err(|e| AdminError::bad_request("invalid_body", format!("the request body: {e}")))
    }
}
