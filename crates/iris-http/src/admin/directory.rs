//! `/admin/v1/tenants/{tenant}/users` and `/groups`: a tenant's directory, read-only, as its SCIM
//! API shows it (the same service, the same renderer, the same filter language), paged by
//! RFC 9865 cursors.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use iris_core::ResourceKind;
use iris_core::listing::ListParams;
use iris_scim::projection::Projection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use super::error::{AdminResult, ErrorBody};
use super::{AdminPath, AdminQuery, JSON, OperatorAuth};
use crate::AppState;
use crate::render::{ResourceBody, etag};

/// Which resources, and which page of them.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DirectoryParams {
    /// A SCIM filter (RFC 7644 §3.4.2.2), e.g. `userName sw "a"`.
    pub filter: Option<String>,
    /// The attribute to sort by (default: by id).
    pub sort_by: Option<String>,
    /// `ascending` (default) or `descending`.
    pub sort_order: Option<String>,
    /// Resources per page, 1 to 1,000 (default 100).
    pub count: Option<i64>,
    /// The `next_cursor` or `previous_cursor` of the previous page; absent for the first.
    pub cursor: Option<String>,
    /// Only these attributes (comma-separated), as SCIM's `attributes`.
    pub attributes: Option<String>,
    /// All but these attributes (comma-separated), as SCIM's `excludedAttributes`.
    pub excluded_attributes: Option<String>,
}

/// Which attributes of one resource.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ResourceParams {
    /// Only these attributes (comma-separated).
    pub attributes: Option<String>,
    /// All but these attributes (comma-separated), e.g. `members` for a large group.
    pub excluded_attributes: Option<String>,
}

/// A page of users or groups. `resources` are SCIM resources exactly as the tenant's SCIM API
/// returns them.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryPage {
    /// Resources matching the filter, over all pages.
    pub total_results: u64,
    pub items_per_page: u64,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
    /// Absent on the first page.
    pub previous_cursor: Option<String>,
    pub resources: Vec<Map<String, Value>>,
}

fn projection(kind: ResourceKind, attributes: Option<&str>, excluded: Option<&str>) -> Projection {
    Projection::parse(kind.resource_type(), attributes, excluded)
}

/// The SCIM renderer's body, as the admin API's JSON.
fn as_json(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

async fn list(
    state: &AppState,
    name: &str,
    kind: ResourceKind,
    params: DirectoryParams,
) -> AdminResult<Response> {
    let tenant = state.tenants.find(name).await?;
    let list = ListParams {
        filter: params.filter,
        start_index: None,
        count: params.count,
        sort_by: params.sort_by,
        sort_order: params.sort_order,
        // Always cursor paging: an absent cursor is the first page.
        cursor: Some(params.cursor.unwrap_or_default()),
    };
    let projection = projection(
        kind,
        params.attributes.as_deref(),
        params.excluded_attributes.as_deref(),
    );
    let mut result = state.resources.list(&tenant, kind, &list).await?;
    let memberships = result.page.memberships.take();
    let cursors = result.cursors.clone().unwrap_or_default();
    let head = json!({
        "total_results": result.page.total,
        "items_per_page": result.page.records.len(),
        "next_cursor": cursors.next,
        "previous_cursor": cursors.previous,
    });
    let mut body = ResourceBody::new(state, &tenant);
    body.open_list_as(&head, "resources");
    body.list_page(kind, &result.page.records, memberships, &projection)
        .await?;
    body.close_list();
    Ok(as_json(body.into_response(StatusCode::OK, None)))
}

async fn get(
    state: &AppState,
    name: &str,
    id: &str,
    kind: ResourceKind,
    params: ResourceParams,
) -> AdminResult<Response> {
    let tenant = state.tenants.find(name).await?;
    let record = state.resources.get(&tenant, kind, id).await?;
    let projection = projection(
        kind,
        params.attributes.as_deref(),
        params.excluded_attributes.as_deref(),
    );
    let body = ResourceBody::single(state, &tenant, kind, &record, None, &projection).await?;
    Ok(as_json(
        body.into_response(StatusCode::OK, Some(etag(&record))),
    ))
}

#[utoipa::path(
    get, path = "/tenants/{tenant}/users", tag = "directory",
    summary = "A page of the tenant's users",
    params(("tenant" = String, Path, description = "Tenant name"), DirectoryParams),
    responses(
        (status = 200, body = DirectoryPage),
        (status = 400, description = "A bad filter (code `invalid_filter`), cursor (`invalid_cursor`) or count (`invalid_count`)", body = ErrorBody),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_users(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath(name): AdminPath<String>,
    AdminQuery(params): AdminQuery<DirectoryParams>,
) -> AdminResult<Response> {
    list(&state, &name, ResourceKind::User, params).await
}

#[utoipa::path(
    get, path = "/tenants/{tenant}/users/{id}", tag = "directory",
    summary = "One of the tenant's users, as its SCIM API returns it",
    params(
        ("tenant" = String, Path, description = "Tenant name"),
        ("id" = String, Path, description = "The user's id"),
        ResourceParams,
    ),
    responses(
        (status = 200, description = "The SCIM User", body = Object),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant or user", body = ErrorBody),
    )
)]
pub async fn get_user(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath((name, id)): AdminPath<(String, String)>,
    AdminQuery(params): AdminQuery<ResourceParams>,
) -> AdminResult<Response> {
    get(&state, &name, &id, ResourceKind::User, params).await
}

#[utoipa::path(
    get, path = "/tenants/{tenant}/groups", tag = "directory",
    summary = "A page of the tenant's groups",
    params(("tenant" = String, Path, description = "Tenant name"), DirectoryParams),
    responses(
        (status = 200, body = DirectoryPage),
        (status = 400, description = "A bad filter (code `invalid_filter`), cursor (`invalid_cursor`) or count (`invalid_count`)", body = ErrorBody),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_groups(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath(name): AdminPath<String>,
    AdminQuery(params): AdminQuery<DirectoryParams>,
) -> AdminResult<Response> {
    list(&state, &name, ResourceKind::Group, params).await
}

#[utoipa::path(
    get, path = "/tenants/{tenant}/groups/{id}", tag = "directory",
    summary = "One of the tenant's groups, as its SCIM API returns it (members streamed)",
    params(
        ("tenant" = String, Path, description = "Tenant name"),
        ("id" = String, Path, description = "The group's id"),
        ResourceParams,
    ),
    responses(
        (status = 200, description = "The SCIM Group", body = Object),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant or group", body = ErrorBody),
    )
)]
pub async fn get_group(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath((name, id)): AdminPath<(String, String)>,
    AdminQuery(params): AdminQuery<ResourceParams>,
) -> AdminResult<Response> {
    get(&state, &name, &id, ResourceKind::Group, params).await
}
