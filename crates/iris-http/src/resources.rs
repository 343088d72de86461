//! The SCIM endpoints of a resource type (`/Users`, `/Groups`): the same thin handlers for every
//! kind, mounted once per kind. Each extracts, calls one `ResourceService` method and renders.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use iris_core::listing::ListParams;
use iris_core::provisioning::{RequestKind, is_probe};
use iris_core::{ResourceKind, Tenant};
use iris_scim::projection::Projection;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{EntityTag, Preconditions, QueryParams, ResourceId, ScimBody, TenantAuth};
use crate::listing::{SearchRequest, list_head, list_params, projection};
use crate::observe::{Caller, record_request};
use crate::render::{ResourceBody, etag};
use crate::response::{no_content, with_etag, with_location};

/// The routes of `kind`'s endpoint; handlers learn the kind from the route's extension, and
/// every refusal is kept in the provisioning log.
pub fn routes(kind: ResourceKind, state: AppState) -> Router<AppState> {
    let base = format!("/{}", kind.endpoint());
    Router::new()
        .route(&base, get(list).post(create))
        .route(&format!("{base}/.search"), post(search))
        .route(
            &format!("{base}/{{id}}"),
            get(fetch).put(replace).patch(patch).delete(remove),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            (state, kind),
            record_request,
        ))
        .layer(Extension(kind))
}

/// RFC 7644 §3.5.2 allows 204 for a PATCH. Groups answer 204, as Entra prefers (entra-compat §4),
/// so a membership change never serialises a member list nobody asked for; users answer 200 with
/// the resource. A request naming `attributes` or `excludedAttributes` always gets the body.
fn patch_returns_body(kind: ResourceKind, params: &QueryParams) -> bool {
    kind != ResourceKind::Group
        || params.get("attributes").is_some()
        || params.get("excludedAttributes").is_some()
}

async fn resource_response(
    state: &AppState,
    tenant: &Tenant,
    kind: ResourceKind,
    status: StatusCode,
    record: &iris_core::store::ResourceRecord,
    projection: &Projection,
) -> ApiResult<Response> {
    let body = ResourceBody::single(state, tenant, kind, record, None, projection).await?;
    Ok(body.into_response(status, Some(etag(record))))
}

async fn create(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    Caller { tenant, context }: Caller,
    params: QueryParams,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let record = state
        .resources
        .create(&tenant, &context, kind, &body)
        .await?;
    let location = format!(
        "{}/{}/{}",
        state.tenant_url(tenant.name()),
        kind.endpoint(),
        record.id
    );
    // A new resource is a member of no group yet: its `groups` need no query.
    let body = ResourceBody::single(
        &state,
        &tenant,
        kind,
        &record,
        Some(Vec::new()),
        &projection(kind, &params),
    )
    .await?;
    let response = body.into_response(StatusCode::CREATED, Some(etag(&record)));
    Ok(with_location(response, &location))
}

async fn fetch(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    TenantAuth(tenant): TenantAuth,
    ResourceId(id): ResourceId,
    params: QueryParams,
    pre: Preconditions,
) -> ApiResult<Response> {
    let record = state.resources.get(&tenant, kind, &id).await?;
    if pre
        .if_none_match
        .is_some_and(|tag| tag.matches(record.version))
    {
        let mut response = no_content();
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(with_etag(response, &etag(&record)));
    }
    resource_response(
        &state,
        &tenant,
        kind,
        StatusCode::OK,
        &record,
        &projection(kind, &params),
    )
    .await
}

async fn list(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    TenantAuth(tenant): TenantAuth,
    params: QueryParams,
) -> ApiResult<Response> {
    let list_params = list_params(&params)?;
    list_response(
        &state,
        &tenant,
        kind,
        &list_params,
        &projection(kind, &params),
    )
    .await
}

/// POST `/{Resources}/.search` (RFC 7644 §3.4.3): the same query as GET, in a SearchRequest body.
async fn search(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    TenantAuth(tenant): TenantAuth,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let request = SearchRequest::parse(&body)?;
    list_response(
        &state,
        &tenant,
        kind,
        &request.params,
        &request.projection(kind),
    )
    .await
}

async fn list_response(
    state: &AppState,
    tenant: &Tenant,
    kind: ResourceKind,
    params: &ListParams,
    projection: &Projection,
) -> ApiResult<Response> {
    let mut result = state.resources.list(tenant, kind, params).await?;
    let memberships = result.page.memberships.take();
    let mut body = ResourceBody::new(state, tenant);
    body.open_list(&list_head(&result, result.page.records.len()));
    body.list_page(kind, &result.page.records, memberships, projection)
        .await?;
    body.close_list();
    let mut response = body.into_response(StatusCode::OK, None);
    // For the provisioning cycles: Entra tests a connection with a lookup on a random GUID.
    let probe = is_probe(params.filter.as_deref(), result.page.total);
    response.extensions_mut().insert(if probe {
        RequestKind::Probe
    } else {
        RequestKind::Query
    });
    Ok(response)
}

async fn replace(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    Caller { tenant, context }: Caller,
    ResourceId(id): ResourceId,
    params: QueryParams,
    pre: Preconditions,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let expected = EntityTag::expected_version(pre.if_match);
    let record = state
        .resources
        .replace(&tenant, &context, kind, &id, &body, expected)
        .await?;
    resource_response(
        &state,
        &tenant,
        kind,
        StatusCode::OK,
        &record,
        &projection(kind, &params),
    )
    .await
}

async fn patch(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    Caller { tenant, context }: Caller,
    ResourceId(id): ResourceId,
    params: QueryParams,
    pre: Preconditions,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let expected = EntityTag::expected_version(pre.if_match);
    let record = state
        .resources
        .patch(&tenant, &context, kind, &id, &body, expected)
        .await?;
    if !patch_returns_body(kind, &params) {
        return Ok(with_etag(no_content(), &etag(&record)));
    }
    resource_response(
        &state,
        &tenant,
        kind,
        StatusCode::OK,
        &record,
        &projection(kind, &params),
    )
    .await
}

async fn remove(
    State(state): State<AppState>,
    Extension(kind): Extension<ResourceKind>,
    Caller { tenant, context }: Caller,
    ResourceId(id): ResourceId,
    pre: Preconditions,
) -> ApiResult<Response> {
    let expected = EntityTag::expected_version(pre.if_match);
    state
        .resources
        .delete(&tenant, &context, kind, &id, expected)
        .await?;
    Ok(no_content())
}
