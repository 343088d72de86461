//! POST `/.search` at the tenant root (RFC 7644 §3.4.3): one query over every resource type.
//!
//! The filter is resolved against each type on its own; a type whose schema lacks an attribute
//! the filter names contributes no resources (a filter that fits neither type is the client's
//! error). Results list the matching users, then the matching groups, each type in the order
//! `sortBy` asks for; `startIndex` and `count` page through that concatenation.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use iris_core::error::CoreResult;
use iris_core::users::{ListParams, ListResult};
use iris_core::{CoreError, Tenant};
use iris_scim::ScimType;
use iris_scim::projection::Projection;
use iris_scim::schema::{self, LIST_RESPONSE};
use serde_json::json;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ScimBody, TenantAuth};
use crate::groups::GroupBody;
use crate::users::{render_all, search_fields};

pub fn routes() -> Router<AppState> {
    Router::new().route("/.search", post(root_search))
}

/// A filter naming an attribute this type does not have matches none of its resources.
fn none_of_this_type(result: CoreResult<ListResult>) -> CoreResult<Option<ListResult>> {
    match result {
        Ok(r) => Ok(Some(r)),
        Err(CoreError::Scim(e)) if e.scim_type == Some(ScimType::InvalidFilter) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn root_search(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let (params, attributes, excluded) = search_fields(&body)?;
    if params.cursor.is_some() {
        return Err(iris_scim::ScimError::invalid_value(
            "cursor paging is offered per resource type: POST /Users/.search or /Groups/.search",
        )
        .into());
    }
    let user_projection = Projection::parse(
        schema::user_type(),
        attributes.as_deref(),
        excluded.as_deref(),
    );
    let group_projection = Projection::parse(
        schema::group_type(),
        attributes.as_deref(),
        excluded.as_deref(),
    );
    search(&state, &tenant, &params, &user_projection, group_projection).await
}

async fn search(
    state: &AppState,
    tenant: &Tenant,
    params: &ListParams,
    user_projection: &Projection,
    group_projection: Projection,
) -> ApiResult<Response> {
    let limits = state.users.page_limits();
    let start = params.start_index.map_or(1, |s| s.max(1)) as u64;
    let count = params
        .count
        .map_or(limits.default_count, |c| c.max(0) as u64)
        .min(limits.max_count);

    let users = state.users.list(tenant, params).await;
    let filter_error = match &users {
        Err(CoreError::Scim(e)) if e.scim_type == Some(ScimType::InvalidFilter) => Some(e.clone()),
        _ => None,
    };
    let users = none_of_this_type(users)?;
    let (user_total, user_records) =
        users.map_or((0, Vec::new()), |r| (r.page.total, r.page.records));

    // Groups continue where users end.
    let skipped_groups = (start - 1).saturating_sub(user_total);
    let group_params = ListParams {
        start_index: Some(skipped_groups as i64 + 1),
        count: Some(count.saturating_sub(user_records.len() as u64) as i64),
        ..params.clone()
    };
    let groups = match (state.groups.list(tenant, &group_params).await, filter_error) {
        // The filter fits neither type: the client's error.
        (Err(CoreError::Scim(e)), Some(user_error))
            if e.scim_type == Some(ScimType::InvalidFilter) =>
        {
            return Err(user_error.into());
        }
        (result, _) => none_of_this_type(result)?,
    };
    let (group_total, group_records) =
        groups.map_or((0, Vec::new()), |r| (r.page.total, r.page.records));

    let users = render_all(state, tenant, &user_records, user_projection).await?;
    let head = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": user_total + group_total,
        "startIndex": start,
        "itemsPerPage": users.len() + group_records.len(),
    });
    Ok(
        GroupBody::list(state, tenant, head, users, &group_records, group_projection)
            .into_response(StatusCode::OK, None),
    )
}
