//! `/Users`: thin handlers that extract, call one `UserService` method and render.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use std::collections::HashMap;

use iris_core::store::{DirectGroup, ResourceRecord};
use iris_core::users::{ListParams, ListResult};
use iris_scim::projection::Projection;
use iris_scim::resource::{self, Meta};
use iris_scim::schema::{self, LIST_RESPONSE, ResourceType};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiResult, patch_keeping_refusals};
use crate::extract::{
    EntityTag, Preconditions, QueryParams, RawBody, ResourceId, ScimBody, TenantAuth,
};
use crate::response::{no_content, scim_json, with_etag, with_location};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/Users", get(list).post(create))
        .route("/Users/.search", post(search))
        .route(
            "/Users/{id}",
            get(fetch).put(replace).patch(patch).delete(remove),
        )
}

fn user_type() -> &'static ResourceType {
    schema::user_type()
}

/// Renders a stored user as the client reads it, with the requested projection. `groups` are the
/// user's direct memberships (its `groups` attribute, derived from the membership table).
pub(crate) fn render(
    state: &AppState,
    tenant: &str,
    record: &ResourceRecord,
    groups: &[DirectGroup],
    projection: &Projection,
) -> Value {
    let tenant_url = state.tenant_url(tenant);
    let meta = Meta {
        created: record.created.clone(),
        last_modified: record.last_modified.clone(),
        version: record.version,
        location: format!("{tenant_url}/Users/{}", record.id),
    };
    let mut extra = serde_json::Map::new();
    if !groups.is_empty() {
        let refs: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({
                    "value": g.group_id,
                    "$ref": format!("{tenant_url}/Groups/{}", g.group_id),
                    "display": g.display_name,
                    "type": "direct",
                })
            })
            .collect();
        extra.insert("groups".into(), Value::Array(refs));
    }
    let full = resource::render(user_type(), &record.id, &record.doc, extra, &meta);
    projection.apply(user_type(), full)
}

/// The direct groups of each of `records`, in one query, unless the projection leaves `groups`
/// out.
pub(crate) async fn groups_of(
    state: &AppState,
    tenant: &iris_core::Tenant,
    records: &[ResourceRecord],
    projection: &Projection,
) -> ApiResult<HashMap<String, Vec<DirectGroup>>> {
    if records.is_empty() || projection.excludes("groups") {
        return Ok(HashMap::new());
    }
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    Ok(by_member(state.groups.direct_groups(tenant, &ids).await?))
}

fn by_member(groups: Vec<DirectGroup>) -> HashMap<String, Vec<DirectGroup>> {
    let mut by_user: HashMap<String, Vec<DirectGroup>> = HashMap::new();
    for g in groups {
        by_user.entry(g.member_id.clone()).or_default().push(g);
    }
    by_user
}

/// Renders a page of users with their groups (one membership query for the page).
pub(crate) async fn render_all(
    state: &AppState,
    tenant: &iris_core::Tenant,
    records: &[ResourceRecord],
    projection: &Projection,
) -> ApiResult<Vec<Value>> {
    render_with(state, tenant, records, None, projection).await
}

/// [`render_all`], with the memberships when the store already read them with the records.
pub(crate) async fn render_with(
    state: &AppState,
    tenant: &iris_core::Tenant,
    records: &[ResourceRecord],
    memberships: Option<Vec<DirectGroup>>,
    projection: &Projection,
) -> ApiResult<Vec<Value>> {
    let groups = match memberships {
        Some(known) => by_member(known),
        None => groups_of(state, tenant, records, projection).await?,
    };
    Ok(records
        .iter()
        .map(|r| {
            let mine = groups.get(&r.id).map_or(&[][..], Vec::as_slice);
            render(state, tenant.name(), r, mine, projection)
        })
        .collect())
}

fn projection(params: &QueryParams) -> Projection {
    Projection::parse(
        user_type(),
        params.get("attributes"),
        params.get("excludedAttributes"),
    )
}

async fn resource_response(
    state: &AppState,
    tenant: &iris_core::Tenant,
    status: StatusCode,
    record: &ResourceRecord,
    p: &Projection,
) -> ApiResult<Response> {
    let body = render_all(state, tenant, std::slice::from_ref(record), p)
        .await?
        .pop()
        .unwrap_or_default();
    Ok(with_etag(
        scim_json(status, &body),
        &format!("W/\"{}\"", record.version),
    ))
}

async fn create(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    params: QueryParams,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let record = state.users.create(&tenant, &body).await?;
    let location = format!("{}/Users/{}", state.tenant_url(tenant.name()), record.id);
    // A new user belongs to no group yet.
    let body = render(&state, tenant.name(), &record, &[], &projection(&params));
    let response = with_etag(
        scim_json(StatusCode::CREATED, &body),
        &format!("W/\"{}\"", record.version),
    );
    Ok(with_location(response, &location))
}

async fn fetch(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ResourceId(id): ResourceId,
    params: QueryParams,
    pre: Preconditions,
) -> ApiResult<Response> {
    let record = state.users.get(&tenant, &id).await?;
    if pre
        .if_none_match
        .is_some_and(|tag| tag.matches(record.version))
    {
        let mut response = no_content();
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(with_etag(response, &format!("W/\"{}\"", record.version)));
    }
    resource_response(
        &state,
        &tenant,
        StatusCode::OK,
        &record,
        &projection(&params),
    )
    .await
}

async fn list(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    params: QueryParams,
) -> ApiResult<Response> {
    let list_params = list_params(&params)?;
    list_response(&state, &tenant, &list_params, &projection(&params)).await
}

/// The list parameters of a GET query string.
pub(crate) fn list_params(params: &QueryParams) -> ApiResult<ListParams> {
    Ok(ListParams {
        filter: params.get("filter").map(str::to_owned),
        start_index: params.int("startIndex")?,
        count: params.int("count")?,
        sort_by: params.get("sortBy").map(str::to_owned),
        sort_order: params.get("sortOrder").map(str::to_owned),
        cursor: params.get("cursor").map(str::to_owned),
    })
}

/// The ListResponse without its resources: `startIndex` for index paging, `nextCursor` and
/// `previousCursor` (each only when that page exists) for cursor paging (RFC 9865).
pub(crate) fn list_head(result: &ListResult, items: usize) -> Value {
    let mut head = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": result.page.total,
        "itemsPerPage": items,
    });
    match &result.cursors {
        None => head["startIndex"] = json!(result.start_index),
        Some(cursors) => {
            if let Some(next) = &cursors.next {
                head["nextCursor"] = json!(next);
            }
            if let Some(previous) = &cursors.previous {
                head["previousCursor"] = json!(previous);
            }
        }
    }
    head
}

/// POST `/Users/.search` (RFC 7644 §3.4.3): the same query as GET, in a SearchRequest body.
async fn search(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let (list_params, projection) = search_request(&body, user_type())?;
    list_response(&state, &tenant, &list_params, &projection).await
}

/// The query and projection of a SearchRequest body, the projection for resources of type `rt`.
pub(crate) fn search_request(
    body: &Value,
    rt: &'static ResourceType,
) -> ApiResult<(ListParams, Projection)> {
    let (params, attributes, excluded) = search_fields(body)?;
    let projection = Projection::parse(rt, attributes.as_deref(), excluded.as_deref());
    Ok((params, projection))
}

/// The list parameters, `attributes` and `excludedAttributes` of a SearchRequest body.
pub(crate) fn search_fields(
    body: &Value,
) -> ApiResult<(ListParams, Option<String>, Option<String>)> {
    let Some(fields) = body.as_object() else {
        return Err(
            iris_scim::ScimError::invalid_syntax("a SearchRequest must be a JSON object").into(),
        );
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let text = |name: &str| -> ApiResult<Option<String>> {
        match field(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(items)) => Ok(Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            Some(_) => Err(iris_scim::ScimError::invalid_value(format!(
                "'{name}' must be a string"
            ))
            .into()),
        }
    };
    let int = |name: &str| -> ApiResult<Option<i64>> {
        match field(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .map(Some)
                .ok_or_else(|| {
                    iris_scim::ScimError::invalid_value(format!("'{name}' must be an integer"))
                        .into()
                }),
        }
    };
    let params = ListParams {
        filter: text("filter")?,
        start_index: int("startIndex")?,
        count: int("count")?,
        sort_by: text("sortBy")?,
        sort_order: text("sortOrder")?,
        cursor: text("cursor")?,
    };
    let attributes = text("attributes")?;
    let excluded = text("excludedAttributes")?;
    Ok((params, attributes, excluded))
}

async fn list_response(
    state: &AppState,
    tenant: &iris_core::Tenant,
    params: &ListParams,
    projection: &Projection,
) -> ApiResult<Response> {
    let mut result = state.users.list(tenant, params).await?;
    let memberships = result.page.memberships.take();
    let resources =
        render_with(state, tenant, &result.page.records, memberships, projection).await?;
    let mut body = list_head(&result, resources.len());
    body["Resources"] = Value::Array(resources);
    Ok(scim_json(StatusCode::OK, &body))
}

async fn replace(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ResourceId(id): ResourceId,
    params: QueryParams,
    pre: Preconditions,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let expected = EntityTag::expected_version(pre.if_match);
    let record = state.users.replace(&tenant, &id, &body, expected).await?;
    resource_response(
        &state,
        &tenant,
        StatusCode::OK,
        &record,
        &projection(&params),
    )
    .await
}

async fn patch(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ResourceId(id): ResourceId,
    params: QueryParams,
    pre: Preconditions,
    RawBody(raw): RawBody,
) -> ApiResult<Response> {
    let expected = EntityTag::expected_version(pre.if_match);
    let record = patch_keeping_refusals(&state, &tenant, "User", &id, &raw, async |body| {
        state.users.patch(&tenant, &id, body, expected).await
    })
    .await?;
    resource_response(
        &state,
        &tenant,
        StatusCode::OK,
        &record,
        &projection(&params),
    )
    .await
}

async fn remove(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ResourceId(id): ResourceId,
    pre: Preconditions,
) -> ApiResult<Response> {
    state
        .users
        .delete(&tenant, &id, EntityTag::expected_version(pre.if_match))
        .await?;
    Ok(no_content())
}
