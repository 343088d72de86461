//! POST `/.search` at the tenant root (RFC 7644 §3.4.3): one query over every resource type.
//!
//! The filter is resolved against each type on its own; a type whose schema lacks an attribute
//! the filter names contributes no resources (a filter that fits no type is the client's error).
//! Results list the matching resources of each type in turn (users, then groups), each type in
//! the order `sortBy` asks for; `startIndex` and `count` page through that concatenation, and so
//! do RFC 9865 cursors: a root cursor names the type it is in and that type's own cursor. Root
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
use iris_core::listing::{ListParams, ListResult, cursor_count, invalid_cursor};
use iris_core::{CoreError, ResourceKind, Tenant};
use iris_scim::schema::LIST_RESPONSE;
use iris_scim::{ScimError, ScimType};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ScimBody, TenantAuth};
use crate::listing::SearchRequest;
use crate::render::ResourceBody;

pub fn routes() -> Router<AppState> {
    Router::new().route("/.search", post(root_search))
}

async fn root_search(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let request = SearchRequest::parse(&body)?;
    let parts = if request.params.cursor.is_some() {
        cursor_search(&state, &tenant, &request.params).await?
    } else {
        index_search(&state, &tenant, &request.params).await?
    };
    let mut body = ResourceBody::new(&state, &tenant);
    body.open_list(&parts.head);
    for (kind, mut result) in parts.pages {
        let memberships = result.page.memberships.take();
        body.list_page(
            kind,
            &result.page.records,
            memberships,
            &request.projection(kind),
        )
        .await?;
    }
    body.close_list();
    Ok(body.into_response(StatusCode::OK, None))
}

/// What a root search found: the ListResponse head and each type's page, in order.
struct RootPage {
    head: serde_json::Value,
    pages: Vec<(ResourceKind, ListResult)>,
}

/// The filter errors of the types that could not take the filter: if every type refused it,
/// the first refusal is the client's answer.
#[derive(Default)]
struct Refusals(Vec<ScimError>);

impl Refusals {
    /// `Ok(None)` for a type that cannot take the filter (its refusal kept).
    fn part(&mut self, result: CoreResult<ListResult>) -> CoreResult<Option<ListResult>> {
        match result {
            Ok(r) => Ok(Some(r)),
            Err(CoreError::Scim(e)) if e.scim_type == Some(ScimType::InvalidFilter) => {
                self.0.push(e);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn check(mut self) -> ApiResult<()> {
        if self.0.len() == ResourceKind::ALL.len() {
            return Err(self.0.swap_remove(0).into());
        }
        Ok(())
    }
}

/// A root search paged by index: each type's page continues where the previous type's results
/// end.
async fn index_search(
    state: &AppState,
    tenant: &Tenant,
    params: &ListParams,
) -> ApiResult<RootPage> {
    let limits = state.resources.page_limits();
    let start = params.start_index.map_or(1, |s| s.max(1)) as u64;
    let count = params
        .count
        .map_or(limits.default_count, |c| c.max(0) as u64)
        .min(limits.max_count);
    let mut skip = start - 1;
    let mut room = count;
    let mut total = 0;
    let mut refusals = Refusals::default();
    let mut pages = Vec::new();
    for kind in ResourceKind::ALL {
        let own = ListParams {
            start_index: Some(skip as i64 + 1),
            count: Some(room as i64),
            ..params.clone()
        };
        let Some(result) = refusals.part(state.resources.list(tenant, kind, &own).await)? else {
            continue;
        };
        total += result.page.total;
        skip = skip.saturating_sub(result.page.total);
        room = room.saturating_sub(result.page.records.len() as u64);
        pages.push((kind, result));
    }
    refusals.check()?;
    let items: usize = pages.iter().map(|(_, r)| r.page.records.len()).sum();
    let head = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": items,
    });
    Ok(RootPage { head, pages })
}

/// Where a root cursor points: into one type's results, at that type's own cursor.
#[derive(Serialize, Deserialize)]
struct RootCursor {
    /// The type: `u` or `g`.
    t: char,
    c: String,
}

/// The letter a root cursor names a type by.
fn letter(kind: ResourceKind) -> char {
    match kind {
        ResourceKind::User => 'u',
        ResourceKind::Group => 'g',
    }
}

impl RootCursor {
    fn at(kind: ResourceKind, cursor: String) -> Self {
        Self {
            t: letter(kind),
            c: cursor,
        }
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// The type and its cursor; an empty root cursor starts at the first type.
    fn decode(raw: &str) -> Result<(usize, String), ScimError> {
        if raw.trim().is_empty() {
            return Ok((0, String::new()));
        }
        let cursor = URL_SAFE_NO_PAD
            .decode(raw.trim().as_bytes())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Self>(&bytes).ok())
            .ok_or_else(invalid_cursor)?;
        let position = ResourceKind::ALL
            .iter()
            .position(|k| letter(*k) == cursor.t)
            .ok_or_else(invalid_cursor)?;
        Ok((position, cursor.c))
    }
}

/// A root search paged by cursor: the types in order, each asked on every page (for a page, or
/// at least for its total).
async fn cursor_search(
    state: &AppState,
    tenant: &Tenant,
    params: &ListParams,
) -> ApiResult<RootPage> {
    let count = cursor_count(params.count, state.resources.page_limits())?;
    let (at, cursor) = RootCursor::decode(params.cursor.as_deref().unwrap_or_default())?;
    let paging = |cursor: &str, count: u64| ListParams {
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
    let mut refusals = Refusals::default();
    let mut room = count;
    let mut next: Option<RootCursor> = None;
    let mut total = 0;
    let mut pages = Vec::new();
    for (position, kind) in ResourceKind::ALL.into_iter().enumerate() {
        // The type the cursor is in pages from it; a later one pages from its start once the
        // earlier ones are exhausted and the page has room.
        let pages_here = position == at || (position > at && next.is_none() && room > 0);
        if !pages_here {
            let result = state.resources.list(tenant, kind, &total_only).await;
            let type_total = refusals.part(result)?.map_or(0, |r| r.page.total);
            total += type_total;
            if position > at && next.is_none() && type_total > 0 {
                // This page ended exactly with the previous type's last resource.
                next = Some(RootCursor::at(kind, String::new()));
            }
            continue;
        }
        let start = if position == at { cursor.as_str() } else { "" };
        let result = state
            .resources
            .list(tenant, kind, &paging(start, room.max(1)))
            .await;
        let Some(result) = refusals.part(result)? else {
            continue;
        };
        total += result.page.total;
        room = room.saturating_sub(result.page.records.len() as u64);
        next = result
            .cursors
            .as_ref()
            .and_then(|c| c.next.clone())
            .map(|c| RootCursor::at(kind, c));
        pages.push((kind, result));
    }
    refusals.check()?;
    let items: usize = pages.iter().map(|(_, r)| r.page.records.len()).sum();
    let mut head = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": items,
    });
    if let Some(next) = next {
        head["nextCursor"] = json!(next.encode());
    }
    Ok(RootPage { head, pages })
}
