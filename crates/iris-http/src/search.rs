//! POST `/.search` at the tenant root (RFC 7644 §3.4.3): one query over every resource type.
//!
//! The filter is resolved against each type on its own; a type whose schema lacks an attribute
//! the filter names contributes no resources (a filter that fits neither type is the client's
//! error). Results list the matching users, then the matching groups, each type in the order
//! `sortBy` asks for; `startIndex` and `count` page through that concatenation, and so do
//! RFC 9865 cursors: a root cursor names the type it is in and that type's own cursor. Root
//! cursors go forwards only (`previousCursor`, which RFC 9865 makes optional, is not given here;
//! `/Users/.search` and `/Groups/.search` give it).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use iris_core::error::CoreResult;
use iris_core::listing::{cursor_count, invalid_cursor};
use iris_core::users::{ListParams, ListResult};
use iris_core::{CoreError, Tenant};
use iris_scim::projection::Projection;
use iris_scim::schema::{self, LIST_RESPONSE};
use iris_scim::{ScimError, ScimType};
use serde::{Deserialize, Serialize};
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
    if params.cursor.is_some() {
        return cursor_search(&state, &tenant, &params, &user_projection, group_projection).await;
    }
    search(&state, &tenant, &params, &user_projection, group_projection).await
}

/// Where a root cursor points: into the users or into the groups, at that type's own cursor.
#[derive(Serialize, Deserialize)]
struct RootCursor {
    /// `u` or `g`.
    t: char,
    c: String,
}

impl RootCursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(raw: &str) -> Result<Self, ScimError> {
        if raw.trim().is_empty() {
            return Ok(Self {
                t: 'u',
                c: String::new(),
            });
        }
        URL_SAFE_NO_PAD
            .decode(raw.trim().as_bytes())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Self>(&bytes).ok())
            .filter(|c| c.t == 'u' || c.t == 'g')
            .ok_or_else(invalid_cursor)
    }
}

/// One type's part of a root search. `None` when the filter names an attribute this type lacks;
/// that error is kept in `refused`, since a filter that fits neither type is the client's error.
fn part(
    result: CoreResult<ListResult>,
    refused: &mut Vec<ScimError>,
) -> CoreResult<Option<ListResult>> {
    if let Err(CoreError::Scim(e)) = &result
        && e.scim_type == Some(ScimType::InvalidFilter)
    {
        refused.push(e.clone());
    }
    none_of_this_type(result)
}

/// A root search paged by cursor: users first, then groups.
async fn cursor_search(
    state: &AppState,
    tenant: &Tenant,
    params: &ListParams,
    user_projection: &Projection,
    group_projection: Projection,
) -> ApiResult<Response> {
    let count = cursor_count(params.count, state.users.page_limits())?;
    let at = RootCursor::decode(params.cursor.as_deref().unwrap_or_default())?;
    let with_cursor = |cursor: &str, count: u64| ListParams {
        cursor: Some(cursor.to_owned()),
        count: Some(count as i64),
        ..params.clone()
    };
    let total_only = ListParams {
        cursor: None,
        start_index: None,
        count: Some(0),
        ..params.clone()
    };
    // Both types are asked on every page (one for a page, the other at least for its total).
    let mut refused = Vec::new();

    let (users, user_total, mut next) = if at.t == 'u' {
        let page = part(
            state.users.list(tenant, &with_cursor(&at.c, count)).await,
            &mut refused,
        )?;
        match page {
            Some(r) => {
                let next = r
                    .cursors
                    .as_ref()
                    .and_then(|c| c.next.clone())
                    .map(|c| RootCursor { t: 'u', c });
                (r.page.records, r.page.total, next)
            }
            None => (Vec::new(), 0, None),
        }
    } else {
        let total = part(state.users.list(tenant, &total_only).await, &mut refused)?
            .map_or(0, |r| r.page.total);
        (Vec::new(), total, None)
    };

    // Groups: where the cursor points into them, or once the users are exhausted.
    let room = count.saturating_sub(users.len() as u64);
    let (groups, group_total) = if at.t == 'g' || (next.is_none() && room > 0) {
        let start = if at.t == 'g' { at.c.as_str() } else { "" };
        let page = part(
            state
                .groups
                .list(tenant, &with_cursor(start, room.max(1)))
                .await,
            &mut refused,
        )?;
        match page {
            Some(r) => {
                next = r
                    .cursors
                    .as_ref()
                    .and_then(|c| c.next.clone())
                    .map(|c| RootCursor { t: 'g', c });
                (r.page.records, r.page.total)
            }
            None => (Vec::new(), 0),
        }
    } else {
        let total = part(state.groups.list(tenant, &total_only).await, &mut refused)?
            .map_or(0, |r| r.page.total);
        if next.is_none() && total > 0 {
            // This page ended exactly with the last user: the groups come next.
            next = Some(RootCursor {
                t: 'g',
                c: String::new(),
            });
        }
        (Vec::new(), total)
    };
    if refused.len() == 2 {
        return Err(refused.swap_remove(0).into());
    }

    let rendered = render_all(state, tenant, &users, user_projection).await?;
    let mut head = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": user_total + group_total,
        "itemsPerPage": rendered.len() + groups.len(),
    });
    if let Some(next) = next {
        head["nextCursor"] = json!(next.encode());
    }
    Ok(
        GroupBody::list(state, tenant, head, rendered, &groups, group_projection)
            .into_response(StatusCode::OK, None),
    )
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
