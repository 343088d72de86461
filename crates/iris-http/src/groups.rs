//! `/Groups`: thin handlers over `GroupService`.
//!
//! A group's `members` are read from the membership table only when the response includes them
//! (not with `excludedAttributes=members`, nor with an `attributes` list that leaves them out),
//! and then streamed: the body is written a page of members at a time ([`MEMBER_PAGE`] rows per
//! query), so memory stays bounded whatever the group's size. PATCH answers 204 unless the request
//! asks for attributes, so a membership change never serialises a member list nobody asked for.

use std::collections::VecDeque;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use iris_core::groups::MEMBER_PAGE;
use iris_core::store::{Member, ResourceRecord};
use iris_core::users::ListParams;
use iris_core::{GroupService, Tenant};
use iris_scim::projection::Projection;
use iris_scim::resource::{self, Meta};
use iris_scim::schema::{self, ResourceType};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{ApiResult, patch_keeping_refusals};
use crate::extract::{
    EntityTag, Preconditions, QueryParams, RawBody, ResourceId, ScimBody, TenantAuth,
};
use crate::response::{SCIM_JSON, no_content, with_etag, with_location};
use crate::users::{list_head, list_params, search_request};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/Groups", get(list).post(create))
        .route("/Groups/.search", post(search))
        .route(
            "/Groups/{id}",
            get(fetch).put(replace).patch(patch).delete(remove),
        )
}

fn group_type() -> &'static ResourceType {
    schema::group_type()
}

fn projection(params: &QueryParams) -> Projection {
    Projection::parse(
        group_type(),
        params.get("attributes"),
        params.get("excludedAttributes"),
    )
}

fn etag(record: &ResourceRecord) -> String {
    format!("W/\"{}\"", record.version)
}

/// A piece of a response body: bytes known up front, or the members of a group, read page by
/// page while the body is sent.
enum Segment {
    Bytes(Vec<u8>),
    Members(String),
}

/// A response body made of groups: what it is made of, and what reading members needs.
pub(crate) struct GroupBody {
    segments: Vec<Segment>,
    groups: GroupService,
    tenant: Tenant,
    tenant_url: String,
    projection: Projection,
}

/// Renders one group into `out`: as a whole value when its members are not wanted, else as the
/// bytes around a members segment.
fn render_into(
    out: &mut Vec<Segment>,
    tenant_url: &str,
    record: &ResourceRecord,
    projection: &Projection,
) {
    let meta = Meta {
        created: record.created.clone(),
        last_modified: record.last_modified.clone(),
        version: record.version,
        location: format!("{tenant_url}/Groups/{}", record.id),
    };
    let full = resource::render(group_type(), &record.id, &record.doc, Map::new(), &meta);
    let projected = projection.apply(group_type(), full);
    if projection.excludes("members") {
        push_bytes(out, serde_json::to_vec(&projected).unwrap_or_default());
        return;
    }
    // `members` goes where a full render puts it: after the document, before `meta`.
    let Value::Object(mut fields) = projected else {
        return;
    };
    let meta = fields.shift_remove("meta");
    let mut head = serde_json::to_vec(&Value::Object(fields)).unwrap_or_default();
    head.pop(); // the closing brace
    if head.len() > 1 {
        head.push(b',');
    }
    head.extend_from_slice(br#""members":["#);
    push_bytes(out, head);
    out.push(Segment::Members(record.id.clone()));
    let mut tail = b"]".to_vec();
    if let Some(meta) = meta {
        tail.extend_from_slice(br#","meta":"#);
        tail.extend(serde_json::to_vec(&meta).unwrap_or_default());
    }
    tail.push(b'}');
    push_bytes(out, tail);
}

fn push_bytes(out: &mut Vec<Segment>, bytes: Vec<u8>) {
    match out.last_mut() {
        Some(Segment::Bytes(prev)) => prev.extend(bytes),
        _ => out.push(Segment::Bytes(bytes)),
    }
}

/// Which sub-attributes of each member the response carries. A projection treats every member
/// alike, so it is worked out once, on a sample member, instead of on every page.
#[derive(Debug, Clone, Copy)]
struct MemberFields {
    value: bool,
    reference: bool,
    kind: bool,
}

impl MemberFields {
    fn of(projection: &Projection) -> Self {
        let sample = json!({"members": [{"value": "v", "$ref": "r", "type": "t"}]});
        let projected = projection.apply(group_type(), sample);
        let kept = |key: &str| projected["members"][0].get(key).is_some();
        Self {
            value: kept("value"),
            reference: kept("$ref"),
            kind: kept("type"),
        }
    }

    /// Appends one member as JSON: `{"value", "$ref", "type"}`, as projected.
    fn write(self, out: &mut Vec<u8>, tenant_url: &str, m: &Member) {
        let mut fields: Vec<(&str, String)> = Vec::with_capacity(3);
        if self.value {
            fields.push(("value", m.id.clone()));
        }
        if self.reference {
            fields.push((
                "$ref",
                format!("{tenant_url}/{}/{}", m.member_type.endpoint(), m.id),
            ));
        }
        if self.kind {
            fields.push(("type", m.member_type.as_str().to_owned()));
        }
        out.push(b'{');
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend(serde_json::to_vec(key).unwrap_or_default());
            out.push(b':');
            out.extend(serde_json::to_vec(value).unwrap_or_default());
        }
        out.push(b'}');
    }
}

/// Where a members segment is: which group, after which member, and whether one was written.
struct Cursor {
    group_id: String,
    after: Option<String>,
    wrote_any: bool,
}

impl GroupBody {
    pub(crate) fn into_response(self, status: StatusCode, etag: Option<String>) -> Response {
        let mut response = if self.segments.iter().all(|s| matches!(s, Segment::Bytes(_))) {
            let bytes: Vec<u8> = self
                .segments
                .into_iter()
                .flat_map(|s| match s {
                    Segment::Bytes(b) => b,
                    Segment::Members(_) => Vec::new(),
                })
                .collect();
            let mut r = Response::new(Body::from(bytes));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
            r
        } else {
            let mut r = Response::new(Body::from_stream(self.stream()));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
            r
        };
        *response.status_mut() = status;
        match etag {
            Some(tag) => with_etag(response, &tag),
            None => response,
        }
    }

    /// The body as a stream of chunks: fixed bytes as they are, members a page per chunk.
    fn stream(self) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
        let state = (
            VecDeque::from(self.segments),
            None::<Cursor>,
            self.groups,
            self.tenant,
            self.tenant_url,
            MemberFields::of(&self.projection),
        );
        futures::stream::unfold(state, |mut state| async move {
            let (segments, cursor, groups, tenant, tenant_url, fields) = &mut state;
            loop {
                if let Some(c) = cursor.as_mut() {
                    let page = groups
                        .members_page(tenant, &c.group_id, c.after.as_deref(), MEMBER_PAGE)
                        .await;
                    let page = match page {
                        Ok(page) => page,
                        Err(e) => {
                            tracing::error!(error = %e, group = %c.group_id, "reading members failed mid-response");
                            segments.clear();
                            *cursor = None;
                            return Some((Err(std::io::Error::other("member read failed")), state));
                        }
                    };
                    let last_page = page.len() < MEMBER_PAGE as usize;
                    c.after = page.last().map(|m| m.id.clone());
                    let mut chunk = Vec::with_capacity(page.len() * 160);
                    for member in &page {
                        if c.wrote_any {
                            chunk.push(b',');
                        }
                        c.wrote_any = true;
                        fields.write(&mut chunk, tenant_url, member);
                    }
                    if last_page || c.after.is_none() {
                        *cursor = None;
                    }
                    if !chunk.is_empty() {
                        return Some((Ok(Bytes::from(chunk)), state));
                    }
                    continue;
                }
                match segments.pop_front()? {
                    Segment::Bytes(b) => return Some((Ok(Bytes::from(b)), state)),
                    Segment::Members(group_id) => {
                        *cursor = Some(Cursor {
                            group_id,
                            after: None,
                            wrote_any: false,
                        });
                    }
                }
            }
        })
    }
}

/// The response for one group, its members streamed if the projection wants them.
fn group_response(
    state: &AppState,
    tenant: &Tenant,
    status: StatusCode,
    record: &ResourceRecord,
    projection: Projection,
) -> Response {
    GroupBody::single(state, tenant, record, projection).into_response(status, Some(etag(record)))
}

async fn create(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    params: QueryParams,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let record = state.groups.create(&tenant, &body).await?;
    let location = format!("{}/Groups/{}", state.tenant_url(tenant.name()), record.id);
    let response = group_response(
        &state,
        &tenant,
        StatusCode::CREATED,
        &record,
        projection(&params),
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
    let record = state.groups.get(&tenant, &id).await?;
    if pre
        .if_none_match
        .is_some_and(|tag| tag.matches(record.version))
    {
        let mut response = no_content();
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(with_etag(response, &etag(&record)));
    }
    Ok(group_response(
        &state,
        &tenant,
        StatusCode::OK,
        &record,
        projection(&params),
    ))
}

async fn list(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    params: QueryParams,
) -> ApiResult<Response> {
    let list_params = list_params(&params)?;
    list_response(&state, &tenant, &list_params, projection(&params)).await
}

/// POST `/Groups/.search` (RFC 7644 §3.4.3).
async fn search(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ScimBody(body): ScimBody,
) -> ApiResult<Response> {
    let (list_params, projection) = search_request(&body, group_type())?;
    list_response(&state, &tenant, &list_params, projection).await
}

async fn list_response(
    state: &AppState,
    tenant: &Tenant,
    params: &ListParams,
    projection: Projection,
) -> ApiResult<Response> {
    let result = state.groups.list(tenant, params).await?;
    let head = list_head(&result, result.page.records.len());
    Ok(GroupBody::list(
        state,
        tenant,
        head,
        Vec::new(),
        &result.page.records,
        projection,
    )
    .into_response(StatusCode::OK, None))
}

impl GroupBody {
    /// One group, its members streamed if the projection wants them.
    fn single(
        state: &AppState,
        tenant: &Tenant,
        record: &ResourceRecord,
        projection: Projection,
    ) -> Self {
        let tenant_url = state.tenant_url(tenant.name());
        let mut segments = Vec::new();
        render_into(&mut segments, &tenant_url, record, &projection);
        Self {
            segments,
            groups: state.groups.clone(),
            tenant: tenant.clone(),
            tenant_url,
            projection,
        }
    }

    /// A ListResponse: `head` holds every field but `Resources`, which are `first` (resources
    /// already rendered, such as the users of a root search) followed by `groups`.
    pub(crate) fn list(
        state: &AppState,
        tenant: &Tenant,
        head: Value,
        first: Vec<Value>,
        groups: &[ResourceRecord],
        projection: Projection,
    ) -> Self {
        let tenant_url = state.tenant_url(tenant.name());
        let mut segments = Vec::new();
        let mut opening = serde_json::to_vec(&head).unwrap_or_default();
        opening.pop(); // the closing brace
        opening.extend_from_slice(br#","Resources":["#);
        push_bytes(&mut segments, opening);
        let mut count = 0;
        for resource in first {
            if count > 0 {
                push_bytes(&mut segments, b",".to_vec());
            }
            push_bytes(
                &mut segments,
                serde_json::to_vec(&resource).unwrap_or_default(),
            );
            count += 1;
        }
        for record in groups {
            if count > 0 {
                push_bytes(&mut segments, b",".to_vec());
            }
            render_into(&mut segments, &tenant_url, record, &projection);
            count += 1;
        }
        push_bytes(&mut segments, b"]}".to_vec());
        Self {
            segments,
            groups: state.groups.clone(),
            tenant: tenant.clone(),
            tenant_url,
            projection,
        }
    }
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
    let record = state.groups.replace(&tenant, &id, &body, expected).await?;
    Ok(group_response(
        &state,
        &tenant,
        StatusCode::OK,
        &record,
        projection(&params),
    ))
}

/// PATCH answers 204 No Content, as Entra prefers for groups (entra-compat §4), unless the
/// request names `attributes` or `excludedAttributes`: then 200 with the projected group.
async fn patch(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ResourceId(id): ResourceId,
    params: QueryParams,
    pre: Preconditions,
    RawBody(raw): RawBody,
) -> ApiResult<Response> {
    let expected = EntityTag::expected_version(pre.if_match);
    let record = patch_keeping_refusals(&state, &tenant, "Group", &id, &raw, async |body| {
        state.groups.patch(&tenant, &id, body, expected).await
    })
    .await?;
    let wants_body =
        params.get("attributes").is_some() || params.get("excludedAttributes").is_some();
    if !wants_body {
        return Ok(with_etag(no_content(), &etag(&record)));
    }
    Ok(group_response(
        &state,
        &tenant,
        StatusCode::OK,
        &record,
        projection(&params),
    ))
}

async fn remove(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    ResourceId(id): ResourceId,
    pre: Preconditions,
) -> ApiResult<Response> {
    state
        .groups
        .delete(&tenant, &id, EntityTag::expected_version(pre.if_match))
        .await?;
    Ok(no_content())
}
