//! `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes` (RFC 7644 §4), generated from the same
//! schema registry that validates requests, so they always describe what the server does.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use iris_scim::ScimError;
use iris_scim::schema::{self, LIST_RESPONSE, SERVICE_PROVIDER_CONFIG};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ResourceId, TenantAuth};
use crate::response::scim_json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema_by_id))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type_by_id))
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

async fn service_provider_config(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
) -> Response {
    let base = state.tenant_url(tenant.name());
    let body = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "documentationUri": "https://github.com/iris-scim/iris#readme",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": state.config.max_body_bytes},
        "filter": {"supported": true, "maxResults": state.users.page_limits().max_count},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        // RFC 9865 §4. Cursors are keyset positions and never expire, so no cursorTimeout.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": state.users.page_limits().default_count,
            "maxPageSize": state.users.page_limits().max_count,
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a per-tenant bearer token issued by `iris token issue`.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    });
    scim_json(StatusCode::OK, &body)
}

async fn schemas(State(state): State<AppState>, TenantAuth(tenant): TenantAuth) -> Response {
    let base = state.tenant_url(tenant.name());
    let all = schema::served_schemas()
        .iter()
        .map(|s| s.to_json(&base))
        .collect();
    scim_json(StatusCode::OK, &list(all))
}

async fn schema_by_id(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ResourceId(id): ResourceId,
) -> ApiResult<Response> {
    let found = schema::schema_by_id(&id)
        .ok_or_else(|| ScimError::not_found(format!("no schema '{id}'")))?;
    Ok(scim_json(
        StatusCode::OK,
        &found.to_json(&state.tenant_url(tenant.name())),
    ))
}

async fn resource_types(State(state): State<AppState>, TenantAuth(tenant): TenantAuth) -> Response {
    let base = state.tenant_url(tenant.name());
    let all = schema::served_resource_types()
        .iter()
        .map(|rt| rt.to_json(&base))
        .collect();
    scim_json(StatusCode::OK, &list(all))
}

async fn resource_type_by_id(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ResourceId(id): ResourceId,
) -> ApiResult<Response> {
    let found = schema::served_resource_types()
        .into_iter()
        .find(|rt| rt.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimError::not_found(format!("no resource type '{id}'")))?;
    Ok(scim_json(
        StatusCode::OK,
        &found.to_json(&state.tenant_url(tenant.name())),
    ))
}
