//! What every request carries through Iris: its request id (a well-formed `X-Request-Id` from
//! the client, a new one otherwise), named by every log line of the request, by every SCIM error's
//! `detail` and by the response's own `X-Request-Id`; the client it came from (its address, as
//! [`crate::serve::forwarded`] trusts it, in every log line); and, for the resource endpoints,
//! the record of a refusal in the provisioning log with the body as sent.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use iris_core::provisioning::{
    Client, RefusedRequest, RequestContext, RequestKind, is_well_formed_request_id,
};
use iris_core::{ResourceKind, Tenant};
use iris_scim::ScimError;
use tracing::Instrument;

use crate::AppState;
use crate::error::ApiError;
use crate::metrics::Observation;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being handled, where a task serves one.
pub(crate) fn current_request_id() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Gives the request its id and context, serves it inside a span that names the id, sends the
/// id back, and counts the request into the metrics (by its route template: this middleware runs
/// after routing, where axum's `MatchedPath` is known).
pub(crate) async fn observe(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let authenticated = AuthenticatedTenant::default();
    req.extensions_mut().insert(authenticated.clone());
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| is_well_formed_request_id(id))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let user_agent = req
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let entra_flag = req
        .uri()
        .query()
        .is_some_and(|q| q.to_ascii_lowercase().contains("aadoptscim062020"));
    let context = RequestContext::new(
        request_id.clone(),
        Client::detect(user_agent, entra_flag),
        req.method().as_str(),
    );
    // The client as a trusted proxy names it, or the peer.
    let client = req
        .extensions()
        .get::<crate::serve::ClientInfo>()
        .map(|c| tracing::field::display(c.addr));
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        client,
        method = %req.method(),
        path = %req.uri().path(),
    );
    req.extensions_mut().insert(context);
    let mut response = CURRENT
        .scope(request_id.clone(), next.run(req))
        .instrument(span)
        .await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    state.metrics.record(&Observation {
        tenant: crate::extract::tenant_segment(uri.path()),
        authenticated: authenticated.0.get().is_some(),
        route: route.as_ref().map(MatchedPath::as_str),
        method: &method,
        status: response.status(),
        elapsed: started.elapsed(),
        rate_limited: response
            .extensions()
            .get::<crate::rate_limit::RateLimited>()
            .copied(),
    });
    response
}

/// The request's context, as [`observe`] made it (a fresh one where it did not run).
pub struct Context(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Context {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let context = parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .unwrap_or_else(|| {
                RequestContext::new(
                    uuid::Uuid::now_v7().to_string(),
                    Client::Other,
                    parts.method.as_str(),
                )
            });
        Ok(Self(context))
    }
}

/// Who is asking: the tenant the request's token proved, and the request's context. What every
/// write needs.
pub struct Caller {
    pub tenant: Tenant,
    pub context: RequestContext,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let crate::extract::TenantAuth(tenant) =
            crate::extract::TenantAuth::from_request_parts(parts, state).await?;
        let Ok(Context(context)) = Context::from_request_parts(parts, state).await;
        Ok(Self { tenant, context })
    }
}

/// Where `TenantAuth` leaves the tenant a request proved, for [`keep_refusals`].
#[derive(Clone, Default)]
pub(crate) struct AuthenticatedTenant(Arc<OnceLock<Tenant>>);

impl AuthenticatedTenant {
    pub(crate) fn set(&self, tenant: &Tenant) {
        let _ = self.0.set(tenant.clone());
    }
}

/// For a resource endpoint of `kind`: counts the request into its tenant's provisioning cycle,
/// keeps the body as sent, and when the request is refused (4xx) after its tenant was
/// authenticated, records the refusal in the provisioning log (a rate-limited one at most once a
/// second per tenant). A request refused before that (a bad token) is only counted: nothing of
/// it is stored.
pub(crate) async fn record_request(
    State((state, kind)): State<(AppState, ResourceKind)>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let limit = state.config.max_body_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return ApiError(ScimError::new(
            413,
            None,
            format!("the request body exceeds {limit} bytes"),
        ))
        .into_response();
    };
    // The slot `observe` made, so the metrics learn of the authentication too.
    let tenant = parts
        .extensions
        .get::<AuthenticatedTenant>()
        .cloned()
        .unwrap_or_default();
    parts.extensions.insert(tenant.clone());
    let context = parts.extensions.get::<RequestContext>().cloned();
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| parts.uri.path().to_owned(), |u| u.path().to_owned());
    let resource_id = resource_id_of(&path, kind);
    let is_read = parts.method == axum::http::Method::GET;
    // Only while a live tail is open: otherwise the request path pays nothing for it.
    let live = state.console.live.is_watched().then(|| {
        let target = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .and_then(|u| u.path_and_query())
            .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
        (parts.method.to_string(), target)
    });
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    let status = response.status();
    let request_kind = if status == axum::http::StatusCode::UNAUTHORIZED {
        RequestKind::Unauthorized
    } else if let Some(kind) = response.extensions().get::<RequestKind>() {
        *kind
    } else if is_read {
        RequestKind::Query
    } else {
        RequestKind::Write
    };
    if let Some(name) = crate::extract::tenant_segment(&path) {
        let failed = status.is_client_error() || status.is_server_error();
        state
            .activity
            .note(name, tenant.0.get(), request_kind, failed);
        if let Some((method, target)) = live {
            state.console.live.publish(crate::console::LiveRequest {
                tenant: name.to_owned(),
                at: iris_core::clock::now(),
                method,
                target,
                status: status.as_u16(),
                kind: request_kind,
            });
        }
    }
    // A flood of rate-limited requests is recorded once a second per tenant; the metrics
    // count them all.
    let rate_limited = response
        .extensions()
        .get::<crate::rate_limit::RateLimited>()
        .is_some();
    if response.status().is_client_error()
        && let (Some(tenant), Some(context), Some(error)) = (
            tenant.0.get(),
            context,
            response.extensions().get::<ScimError>(),
        )
        && (!rate_limited || state.rate_limits.may_log(tenant))
    {
        let request = RefusedRequest {
            kind,
            resource_id: &resource_id,
            body: &bytes,
        };
        state
            .log
            .record_refused(tenant, &context, request, error)
            .await;
    }
    response
}

/// The `{id}` of `…/{Endpoint}/{id}` (empty for the collection and `.search`).
fn resource_id_of(path: &str, kind: ResourceKind) -> String {
    let endpoint = format!("/{}/", kind.endpoint());
    path.rfind(&endpoint)
        .map(|at| &path[at + endpoint.len()..])
        .filter(|id| !id.is_empty() && *id != ".search" && !id.contains('/'))
        .map(|id| {
            percent_encoding::percent_decode_str(id)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_come_from_the_path_decoded() {
        let user = ResourceKind::User;
        assert_eq!(resource_id_of("/scim/v2/acme/Users/abc", user), "abc");
        assert_eq!(resource_id_of("/scim/v2/acme/Users/a%20b", user), "a b");
        assert_eq!(resource_id_of("/scim/v2/acme/Users/.search", user), "");
        assert_eq!(resource_id_of("/scim/v2/acme/Users", user), "");
        assert_eq!(
            resource_id_of("/scim/v2/acme/Groups/g1", ResourceKind::Group),
            "g1"
        );
    }
}
