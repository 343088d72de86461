//! `/Users`: thin handlers that extract, call one `UserService` method and render.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use iris_core::store::ResourceRecord;
use iris_core::users::ListParams;
use iris_scim::projection::Projection;
use iris_scim::resource::{self, Meta};
use iris_scim::schema::{self, LIST_RESPONSE, ResourceType};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{EntityTag, Preconditions, QueryParams, ResourceId, ScimBody, TenantAuth};
use crate::response::{no_content, scim_json, with_etag, with_location};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/Users", get(list).post(create))
        .route("/Users/.search", post(search))
        // The tenant root search (RFC 7644 §3.4.3) spans every resource type; Users are the only
        // one served so far.
        .route("/.search", post(search))
        .route(
            "/Users/{id}",
            get(fetch).put(replace).patch(patch).delete(remove),
        )
}

fn user_type() -> &'static ResourceType {
    schema::user_type()
}

/// Renders a stored user as the client reads it, with the requested projection.
pub(crate) fn render(
    state: &AppState,
    tenant: &str,
    record: &ResourceRecord,
    projection: &Projection,
) -> Value {
    let meta = Meta {
        created: record.created.clone(),
        last_modified: record.last_modified.clone(),
        version: record.version,
        location: format!("{}/Users/{}", state.tenant_url(tenant), record.id),
    };
    let full = resource::render(
        user_type(),
        &record.id,
        &record.doc,
        Default::default(),
        &meta,
    );
    projection.apply(user_type(), full)
}

fn projection(params: &QueryParams) -> Projection {
    Projection::parse(
        user_type(),
        params.get("attributes"),
        params.get("excludedAttributes"),
    )
}

fn resource_response(
    state: &AppState,
    tenant: &str,
    status: StatusCode,
    record: &ResourceRecord,
    p: &Projection,
) -> Response {
    let body = render(state, tenant, record, p);
    with_etag(
        scim_json(status, &body),
        &format!("W/\"{}\"", record.version),
    )
}

async fn create(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    params: QueryParams,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let record = state.users.create(&tenant, &body).await?;
    let location = format!("{}/Users/{}", state.tenant_url(tenant.name()), record.id);
    let response = resource_response(
        &state,
        tenant.name(),
        StatusCode::CREATED,
        &record,
        &projection(&params),
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
    Ok(resource_response(
        &state,
        tenant.name(),
        StatusCode::OK,
        &record,
        &projection(&params),
    ))
}

async fn list(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    params: QueryParams,
) -> ApiResult<Response> {
    let list_params = ListParams {
        filter: params.get("filter").map(str::to_owned),
        start_index: params.int("startIndex")?,
        count: params.int("count")?,
        sort_by: params.get("sortBy").map(str::to_owned),
        sort_order: params.get("sortOrder").map(str::to_owned),
    };
    list_response(&state, &tenant, &list_params, &projection(&params)).await
}

/// POST `/Users/.search` (RFC 7644 §3.4.3): the same query as GET, in a SearchRequest body.
async fn search(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let (list_params, projection) = search_request(&body)?;
    list_response(&state, &tenant, &list_params, &projection).await
}

pub(crate) fn search_request(body: &Value) -> ApiResult<(ListParams, Projection)> {
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
    };
    let attributes = text("attributes")?;
    let excluded = text("excludedAttributes")?;
    let projection = Projection::parse(user_type(), attributes.as_deref(), excluded.as_deref());
    Ok((params, projection))
}

async fn list_response(
    state: &AppState,
    tenant: &iris_core::Tenant,
    params: &ListParams,
    projection: &Projection,
) -> ApiResult<Response> {
    let result = state.users.list(tenant, params).await?;
    let resources: Vec<Value> = result
        .page
        .records
        .iter()
        .map(|r| render(state, tenant.name(), r, projection))
        .collect();
    let body = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": result.page.total,
        "startIndex": result.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
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
    Ok(resource_response(
        &state,
        tenant.name(),
        StatusCode::OK,
        &record,
        &projection(&params),
    ))
}

async fn patch(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ResourceId(id): ResourceId,
    params: QueryParams,
    pre: Preconditions,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let expected = EntityTag::expected_version(pre.if_match);
    let record = state.users.patch(&tenant, &id, &body, expected).await.map_err(|e| {
        let err = ApiError::from(e);
        if err.0.status < 500 {
            // Keep what the client sent: the raw body of a failed PATCH is what an operator
            // needs to see to understand an IdP's dialect.
            tracing::warn!(tenant = tenant.name(), user = %id, status = err.0.status, detail = %err.0.detail, body = %body, "PATCH rejected");
        }
        err
    })?;
    Ok(resource_response(
        &state,
        tenant.name(),
        StatusCode::OK,
        &record,
        &projection(&params),
    ))
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
