//! How stored resources become response bodies, for every kind alike: `schemas`, `id`, the
//! document, the attributes derived from memberships, `meta` with its location and version, all
//! through the requested projection.
//!
//! A user's `groups` are read for a whole page in one query (or come with the page from the
//! store). A group's `members` are read only when the projection keeps them, and then streamed:
//! the body is written a page of members at a time ([`MEMBER_PAGE`] rows per query), so memory
//! stays bounded whatever the group's size.

use std::collections::{HashMap, VecDeque};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use iris_core::resources::MEMBER_PAGE;
use iris_core::store::{DirectGroup, Member, ResourceRecord};
use iris_core::{ResourceKind, ResourceService, Tenant};
use iris_scim::projection::Projection;
use iris_scim::resource::{self, Meta};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::response::{SCIM_JSON, with_etag};

/// Derived from the membership table, never stored in a document: a user's direct groups.
const GROUPS: &str = "groups";
/// Derived from the membership table and streamed: a group's members.
const MEMBERS: &str = "members";

fn derives(kind: ResourceKind, attribute: &str) -> bool {
    kind.resource_type().schema.attribute(attribute).is_some()
}

/// The weak ETag of a record's version (RFC 7644 §3.14).
pub(crate) fn etag(record: &ResourceRecord) -> String {
    format!("W/\"{}\"", record.version)
}

/// A piece of a response body: bytes known up front, or the members of a group, read page by
/// page while the body is sent.
enum Segment {
    Bytes(Vec<u8>),
    Members {
        group_id: String,
        fields: MemberFields,
    },
}

/// A response body of resources, built up front except for group members.
pub(crate) struct ResourceBody {
    segments: Vec<Segment>,
    resources: ResourceService,
    tenant: Tenant,
    tenant_url: String,
    /// Resources written so far into an open list.
    listed: usize,
}

impl ResourceBody {
    pub(crate) fn new(state: &AppState, tenant: &Tenant) -> Self {
        Self {
            segments: Vec::new(),
            resources: state.resources.clone(),
            tenant: tenant.clone(),
            tenant_url: state.tenant_url(tenant.name()),
            listed: 0,
        }
    }

    /// One resource as the whole body. `memberships` as for [`ResourceBody::list_page`].
    pub(crate) async fn single(
        state: &AppState,
        tenant: &Tenant,
        kind: ResourceKind,
        record: &ResourceRecord,
        memberships: Option<Vec<DirectGroup>>,
        projection: &Projection,
    ) -> ApiResult<Self> {
        let mut body = Self::new(state, tenant);
        let groups = body
            .direct_groups(kind, std::slice::from_ref(record), memberships, projection)
            .await?;
        body.render(kind, record, &groups, projection);
        Ok(body)
    }

    /// Opens a ListResponse: `head` holds every field but `Resources`.
    pub(crate) fn open_list(&mut self, head: &Value) {
        self.open_list_as(head, "Resources");
    }

    /// Opens a list of resources under `key` of the object `head` (which must not be empty).
    pub(crate) fn open_list_as(&mut self, head: &Value, key: &str) {
        let mut opening = serde_json::to_vec(head).unwrap_or_default();
        opening.pop(); // the closing brace
        opening.push(b',');
        opening.extend(serde_json::to_vec(key).unwrap_or_default());
        opening.extend_from_slice(b":[");
        self.push_bytes(opening);
    }

    /// Appends a page of resources of one kind to the open list. `memberships` are the users'
    /// direct groups when the store already read them with the page.
    pub(crate) async fn list_page(
        &mut self,
        kind: ResourceKind,
        records: &[ResourceRecord],
        memberships: Option<Vec<DirectGroup>>,
        projection: &Projection,
    ) -> ApiResult<()> {
        let groups = self
            .direct_groups(kind, records, memberships, projection)
            .await?;
        // A page of users with hundreds of values each is tens of milliseconds of rendering.
        let weight = records
            .iter()
            .map(|r| 1 + iris_core::offload::weight_of_fields(&r.doc))
            .sum();
        iris_core::offload::run(weight, || {
            for record in records {
                if self.listed > 0 {
                    self.push_bytes(b",".to_vec());
                }
                self.render(kind, record, &groups, projection);
                self.listed += 1;
            }
        });
        Ok(())
    }

    pub(crate) fn close_list(&mut self) {
        self.push_bytes(b"]}".to_vec());
    }

    /// The direct groups of each record, by member id, when the kind derives `groups` and the
    /// projection keeps them: one query for the page unless the store already read them.
    async fn direct_groups(
        &self,
        kind: ResourceKind,
        records: &[ResourceRecord],
        known: Option<Vec<DirectGroup>>,
        projection: &Projection,
    ) -> ApiResult<HashMap<String, Vec<DirectGroup>>> {
        if records.is_empty() || !derives(kind, GROUPS) || projection.excludes(GROUPS) {
            return Ok(HashMap::new());
        }
        let all = match known {
            Some(all) => all,
            None => {
                let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
                self.resources.direct_groups(&self.tenant, &ids).await?
            }
        };
        let mut by_member: HashMap<String, Vec<DirectGroup>> = HashMap::new();
        for g in all {
            by_member.entry(g.member_id.clone()).or_default().push(g);
        }
        Ok(by_member)
    }

    /// Renders one resource: as a whole value, or, for a group whose members are wanted, as the
    /// bytes around a members segment.
    fn render(
        &mut self,
        kind: ResourceKind,
        record: &ResourceRecord,
        groups: &HashMap<String, Vec<DirectGroup>>,
        projection: &Projection,
    ) {
        let rt = kind.resource_type();
        let meta = Meta {
            created: record.created.clone(),
            last_modified: record.last_modified.clone(),
            version: record.version,
            location: format!("{}/{}/{}", self.tenant_url, kind.endpoint(), record.id),
        };
        let mut extra = Map::new();
        if let Some(mine) = groups.get(&record.id) {
            let refs = mine
                .iter()
                .map(|g| {
                    json!({
                        "value": g.group_id,
                        "$ref": format!("{}/{}/{}", self.tenant_url, ResourceKind::Group.endpoint(), g.group_id),
                        "display": g.display_name,
                        "type": "direct",
                    })
                })
                .collect();
            extra.insert(GROUPS.into(), Value::Array(refs));
        }
        let full = resource::render(rt, &record.id, &record.doc, extra, &meta);
        let projected = projection.apply(rt, full);
        if !derives(kind, MEMBERS) || projection.excludes(MEMBERS) {
            self.push_bytes(serde_json::to_vec(&projected).unwrap_or_default());
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
        self.push_bytes(head);
        self.segments.push(Segment::Members {
            group_id: record.id.clone(),
            fields: MemberFields::of(kind, projection),
        });
        let mut tail = b"]".to_vec();
        if let Some(meta) = meta {
            tail.extend_from_slice(br#","meta":"#);
            tail.extend(serde_json::to_vec(&meta).unwrap_or_default());
        }
        tail.push(b'}');
        self.push_bytes(tail);
    }

    fn push_bytes(&mut self, bytes: Vec<u8>) {
        match self.segments.last_mut() {
            Some(Segment::Bytes(prev)) => prev.extend(bytes),
            _ => self.segments.push(Segment::Bytes(bytes)),
        }
    }

    pub(crate) fn into_response(self, status: StatusCode, etag: Option<String>) -> Response {
        let streamed = self
            .segments
            .iter()
            .any(|s| matches!(s, Segment::Members { .. }));
        let mut response = if streamed {
            Response::new(Body::from_stream(self.stream()))
        } else {
            // Adjacent bytes are merged as they are pushed: without members there is one segment.
            let mut bytes = Vec::new();
            for segment in self.segments {
                if let Segment::Bytes(b) = segment {
                    if bytes.is_empty() {
                        bytes = b;
                    } else {
                        bytes.extend_from_slice(&b);
                    }
                }
            }
            Response::new(Body::from(bytes))
        };
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
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
            None::<MemberCursor>,
            self.resources,
            self.tenant,
            self.tenant_url,
        );
        futures::stream::unfold(state, |mut state| async move {
            let (segments, cursor, resources, tenant, tenant_url) = &mut state;
            loop {
                if let Some(c) = cursor.as_mut() {
                    let page = resources
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
                        c.fields.write(&mut chunk, tenant_url, member);
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
                    Segment::Members { group_id, fields } => {
                        *cursor = Some(MemberCursor {
                            group_id,
                            fields,
                            after: None,
                            wrote_any: false,
                        });
                    }
                }
            }
        })
    }
}

/// Where a members segment is: which group, after which member, and whether one was written.
struct MemberCursor {
    group_id: String,
    fields: MemberFields,
    after: Option<String>,
    wrote_any: bool,
}

/// Which sub-attributes of each member the response carries. A projection treats every member
/// alike, so it is worked out once, on a sample member, instead of on every page.
#[derive(Debug, Clone, Copy)]
struct MemberFields {
    value: bool,
    reference: bool,
    display: bool,
    kind: bool,
}

impl MemberFields {
    fn of(kind: ResourceKind, projection: &Projection) -> Self {
        let sample = json!({"members": [{"value": "v", "$ref": "r", "display": "d", "type": "t"}]});
        let projected = projection.apply(kind.resource_type(), sample);
        let kept = |key: &str| projected[MEMBERS][0].get(key).is_some();
        Self {
            value: kept("value"),
            reference: kept("$ref"),
            display: kept("display"),
            kind: kept("type"),
        }
    }

    /// Appends one member as JSON: `{"value", "$ref", "display", "type"}`, as projected.
    fn write(self, out: &mut Vec<u8>, tenant_url: &str, m: &Member) {
        let mut fields: Vec<(&str, String)> = Vec::with_capacity(4);
        if self.value {
            fields.push(("value", m.id.clone()));
        }
        if self.reference {
            fields.push((
                "$ref",
                format!("{tenant_url}/{}/{}", m.kind.endpoint(), m.id),
            ));
        }
        if let (true, Some(display)) = (self.display, &m.display) {
            fields.push(("display", display.clone()));
        }
        if self.kind {
            fields.push(("type", m.kind.name().to_owned()));
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
