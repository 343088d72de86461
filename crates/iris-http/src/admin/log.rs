//! `/admin/v1/tenants/{tenant}/events` and `/cycles`: the provisioning log and the cycles, paged
//! by cursor (the id of the previous page's last item), with the filters of `EventQuery`.

use axum::extract::State;
use axum::response::Response;
use iris_core::provisioning::{
    Cycle, EventQuery, Operation, ProvisioningEvent, StatusFilter, id_bound,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use super::error::{AdminError, AdminResult, ErrorBody};
use super::{AdminPath, AdminQuery, OperatorAuth, ok};
use crate::AppState;

/// Items per page unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 100;

/// One attribute's value before and after (absent: the attribute was not there).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    pub attribute: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// The members a request added to or removed from a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembersOut {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// One line of the provisioning log: a change to one resource, or a refused request.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Time-ordered (UUIDv7): the cursor of the page it ends.
    pub id: String,
    pub at: String,
    pub request_id: String,
    /// `entra-id`, `okta`, `onelogin`, … or `other`.
    pub client: String,
    pub method: String,
    /// `create`, `update`, `disable`, `enable`, `delete`, `rename`, `members-added`,
    /// `members-removed` or `query` (a refused read).
    pub operation: String,
    /// `User` or `Group`.
    pub resource_type: String,
    pub resource_id: String,
    /// `userName` of a user, `displayName` of a group.
    pub identity: String,
    /// The HTTP status the request was answered with.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub changes: Vec<ChangeOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<MembersOut>,
    /// The identity-provider quirks Iris applied to understand the request.
    pub quirks: Vec<String>,
    /// A refused request's body as sent (passwords redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl EventOut {
    pub fn of(e: &ProvisioningEvent) -> Self {
        Self {
            id: e.id.clone(),
            at: e.at.clone(),
            request_id: e.request_id.clone(),
            client: e.client.as_str().to_owned(),
            method: e.method.clone(),
            operation: e.operation.as_str().to_owned(),
            resource_type: e.resource_type.name().to_owned(),
            resource_id: e.resource_id.clone(),
            identity: e.identity.clone(),
            status: e.status,
            scim_type: e.scim_type.clone(),
            detail: e.detail.clone(),
            changes: e
                .changes
                .iter()
                .map(|c| ChangeOut {
                    attribute: c.attribute.clone(),
                    old: c.old.clone(),
                    new: c.new.clone(),
                })
                .collect(),
            members: e.members.as_ref().map(|m| MembersOut {
                added: m.added.clone(),
                removed: m.removed.clone(),
            }),
            quirks: e.quirks.clone(),
            body: e.body.clone(),
        }
    }
}

/// One provisioning cycle: a burst of requests of the tenant's identity provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct CycleOut {
    /// Time-ordered (UUIDv7): the cursor of the page it ends.
    pub id: String,
    /// `test-connection`, `initial`, `incremental` or `on-demand`.
    pub kind: String,
    pub started: String,
    pub ended: String,
    pub requests: u64,
    pub probes: u64,
    pub queries: u64,
    pub failures: u64,
    /// Requests refused for their token (not in `requests`).
    pub unauthorized: u64,
    pub creates: u64,
    pub updates: u64,
    pub disables: u64,
    pub enables: u64,
    pub deletes: u64,
    pub failure_rate: f64,
    pub opened_with_probe: bool,
    /// The tenant's users when the cycle began.
    pub users_at_start: u64,
}

impl CycleOut {
    pub fn of(c: &Cycle) -> Self {
        let n = &c.counts;
        Self {
            id: c.id.clone(),
            kind: c.kind.as_str().to_owned(),
            started: c.started.clone(),
            ended: c.ended.clone(),
            requests: n.requests,
            probes: n.probes,
            queries: n.queries,
            failures: n.failures,
            unauthorized: n.unauthorized,
            creates: n.creates,
            updates: n.updates,
            disables: n.disables,
            enables: n.enables,
            deletes: n.deletes,
            failure_rate: n.failure_rate(),
            opened_with_probe: c.opened_with_probe,
            users_at_start: c.users_at_start,
        }
    }
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A page of cycles, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CyclePage {
    pub cycles: Vec<CycleOut>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Which events, and which page of them.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// The `next_cursor` of the previous page; absent for the first.
    pub cursor: Option<String>,
    /// Events per page, 1 to 1,000 (default 100).
    pub limit: Option<u32>,
    /// `newest` (the default) or `oldest` first.
    pub order: Option<String>,
    /// One resource's history: its id, or its `userName`/`displayName` as recorded (any case).
    pub resource: Option<String>,
    /// Only these operations, comma-separated (e.g. `create,delete`).
    pub operation: Option<String>,
    /// `success` (2xx/3xx), `failure` (4xx/5xx) or one status code.
    pub status: Option<String>,
    /// Only events at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only events before this time (RFC 3339).
    pub until: Option<String>,
}

/// Which page of cycles.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CycleParams {
    /// The `next_cursor` of the previous page; absent for the first.
    pub cursor: Option<String>,
    /// Cycles per page, 1 to 1,000 (default 100).
    pub limit: Option<u32>,
}

fn time_bound(name: &str, raw: Option<&str>) -> AdminResult<Option<String>> {
    raw.map(|raw| {
        OffsetDateTime::parse(raw.trim(), &Rfc3339)
            .map(id_bound)
            .map_err(|_| {
                AdminError::bad_request(
                    "invalid_value",
                    format!("'{name}' must be an RFC 3339 time such as 2026-12-01T00:00:00Z, not '{raw}'"),
                )
            })
    })
    .transpose()
}

impl EventParams {
    fn query(&self) -> AdminResult<EventQuery> {
        let newest_first = match self.order.as_deref().map(str::trim) {
            None | Some("newest") => true,
            Some("oldest") => false,
            Some(other) => {
                return Err(AdminError::bad_request(
                    "invalid_value",
                    format!("'order' must be 'newest' or 'oldest', not '{other}'"),
                ));
            }
        };
        let operations = self
            .operation
            .iter()
            .flat_map(|list| list.split(','))
            .filter(|op| !op.trim().is_empty())
            .map(|op| {
                Operation::parse(op).ok_or_else(|| {
                    AdminError::bad_request("invalid_value", format!("unknown operation '{op}'"))
                })
            })
            .collect::<AdminResult<Vec<_>>>()?;
        let status = self
            .status
            .as_deref()
            .map(|raw| {
                StatusFilter::parse(raw).ok_or_else(|| {
                    AdminError::bad_request(
                        "invalid_value",
                        format!("'status' must be success, failure or a status code, not '{raw}'"),
                    )
                })
            })
            .transpose()?;
        Ok(EventQuery {
            after_id: time_bound("since", self.since.as_deref())?,
            before_id: time_bound("until", self.until.as_deref())?,
            resource: self.resource.clone().filter(|r| !r.trim().is_empty()),
            operations,
            status,
            newest_first,
            limit: self.limit.unwrap_or(DEFAULT_LIMIT),
        })
    }
}

#[utoipa::path(
    get, path = "/tenants/{tenant}/events", tag = "log",
    summary = "A page of the tenant's provisioning log",
    params(("tenant" = String, Path, description = "Tenant name"), EventParams),
    responses(
        (status = 200, body = EventPage),
        (status = 400, description = "A malformed filter, limit or cursor (code `invalid_value`, `invalid_cursor`)", body = ErrorBody),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn events(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath(name): AdminPath<String>,
    AdminQuery(params): AdminQuery<EventParams>,
) -> AdminResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let query = params.query()?;
    let page = state
        .log
        .event_page(&tenant, query, params.cursor.as_deref())
        .await?;
    Ok(ok(&EventPage {
        events: page.items.iter().map(EventOut::of).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(
    get, path = "/tenants/{tenant}/cycles", tag = "log",
    summary = "A page of the tenant's provisioning cycles, newest first",
    params(("tenant" = String, Path, description = "Tenant name"), CycleParams),
    responses(
        (status = 200, body = CyclePage),
        (status = 400, description = "A malformed limit or cursor", body = ErrorBody),
        (status = 401, description = "No or no valid operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn cycles(
    _: OperatorAuth,
    State(state): State<AppState>,
    AdminPath(name): AdminPath<String>,
    AdminQuery(params): AdminQuery<CycleParams>,
) -> AdminResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let page = state
        .log
        .cycle_page(
            &tenant,
            params.cursor.as_deref(),
            params.limit.unwrap_or(DEFAULT_LIMIT),
        )
        .await?;
    Ok(ok(&CyclePage {
        cycles: page.items.iter().map(CycleOut::of).collect(),
        next_cursor: page.next_cursor,
    }))
}
