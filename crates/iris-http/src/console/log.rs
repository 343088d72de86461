//! The provisioning log in the columns of Entra's (time, identity, action, status, source) with
//! its filters, one event in detail (old → new; for a failure, what it means and what to change
//! in Entra), and the cycles as a timeline. All read through `ProvisioningLog`, as the admin API
//! and `iris log` do.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use iris_core::ResourceKind;
use iris_core::provisioning::{
    Cycle, CycleKind, EventQuery, Operation, ProvisioningEvent, StatusFilter, id_bound,
};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ConsoleResult;
use super::explain;
use super::layout::{self, Tab, percent, status_badge};
use super::session::Console;
use crate::AppState;

/// Events per page.
const PAGE_SIZE: u32 = 50;
/// Cycles per page.
const CYCLES_PER_PAGE: u32 = 30;

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct LogQuery {
    #[serde(default, skip_serializing_if = "is_blank")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    action: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    since: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    until: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    cursor: Option<String>,
}

#[allow(clippy::ref_option)] // serde's skip_serializing_if passes a reference to the field
fn is_blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

fn blank_to_none(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A time from the form: RFC 3339, or what a `datetime-local` field sends (taken as UTC).
fn parse_time(raw: &str) -> Option<OffsetDateTime> {
    let raw = raw.trim();
    if let Ok(at) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Some(at);
    }
    let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(raw, &minutes)
        .or_else(|_| time::PrimitiveDateTime::parse(raw, &seconds))
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

impl LogQuery {
    /// The query, or what is wrong with the filters (for the operator, beside the form).
    fn event_query(&self) -> Result<EventQuery, String> {
        let status = blank_to_none(self.status.as_ref())
            .map(|raw| {
                StatusFilter::parse(raw).ok_or_else(|| {
                    format!("'{raw}' is not a status: use success, failure or a code such as 409")
                })
            })
            .transpose()?;
        let operations = blank_to_none(self.action.as_ref())
            .map(|raw| {
                Operation::parse(raw)
                    .map(|op| vec![op])
                    .ok_or_else(|| format!("'{raw}' is not an action"))
            })
            .transpose()?
            .unwrap_or_default();
        let bound = |name: &str, raw: Option<&String>| {
            blank_to_none(raw)
                .map(|raw| {
                    parse_time(raw).map(id_bound).ok_or_else(|| {
                        format!("'{raw}' is not a time for '{name}' (e.g. 2026-12-04T10:00)")
                    })
                })
                .transpose()
        };
        Ok(EventQuery {
            after_id: bound("from", self.since.as_ref())?,
            before_id: bound("to", self.until.as_ref())?,
            resource: blank_to_none(self.user.as_ref()).map(str::to_owned),
            operations,
            status,
            newest_first: true,
            limit: PAGE_SIZE,
        })
    }

    fn with_cursor(&self, cursor: &str) -> String {
        let mut next = self.clone();
        next.cursor = Some(cursor.to_owned());
        serde_urlencoded::to_string(&next).unwrap_or_default()
    }
}

fn identity_markup(console: &Console, tenant: &str, e: &ProvisioningEvent) -> Markup {
    let label = if e.identity.is_empty() {
        if e.resource_id.is_empty() {
            "(unknown)".to_owned()
        } else {
            e.resource_id.clone()
        }
    } else {
        e.identity.clone()
    };
    let path = match e.resource_type {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    };
    html! {
        @if e.resource_id.is_empty() || e.operation == Operation::Delete {
            (label)
        } @else {
            a href=(console.url(&format!("/tenants/{tenant}/{path}/{}", e.resource_id))) { (label) }
        }
        " " span.muted { (e.resource_type.name()) }
    }
}

fn action_markup(e: &ProvisioningEvent) -> Markup {
    let action = e.operation.entra_action().as_str();
    html! {
        (action)
        @if !action.eq_ignore_ascii_case(e.operation.as_str()) {
            " " span.muted { "(" (e.operation.as_str()) ")" }
        }
    }
}

/// Events as rows of the log's columns, each linking to its detail.
pub fn history_table(console: &Console, tenant: &str, events: &[ProvisioningEvent]) -> Markup {
    html! {
        @if events.is_empty() {
            p { "No events." }
        } @else {
            div.table-wrap {
                table {
                    caption.visually-hidden { "Provisioning events" }
                    thead { tr {
                        th scope="col" { "Date (UTC)" }
                        th scope="col" { "Identity" }
                        th scope="col" { "Action" }
                        th scope="col" { "Status" }
                        th scope="col" { "Source" }
                        th scope="col" { span.visually-hidden { "Details" } }
                    } }
                    tbody {
                        @for e in events {
                            tr {
                                td { (layout::time(&e.at)) }
                                td.wrap { (identity_markup(console, tenant, e)) }
                                td { (action_markup(e)) }
                                td { (status_badge(e.status)) }
                                td { (e.client.display()) }
                                td { a href=(console.url(&format!("/tenants/{tenant}/log/{}", e.id))) aria-label={ "Details of the " (e.operation.as_str()) " of " (e.identity) " at " (e.at) } { "Details" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn filters(console: &Console, tenant: &str, query: &LogQuery) -> Markup {
    let status = blank_to_none(query.status.as_ref()).unwrap_or("");
    let action = blank_to_none(query.action.as_ref()).unwrap_or("");
    html! {
        form.panel.filters method="get" action=(console.url(&format!("/tenants/{tenant}/log"))) aria-label="Filter the log" {
            div.field {
                label for="status" { "Status" }
                select #status name="status" {
                    option value="" selected[status.is_empty()] { "All" }
                    option value="success" selected[status == "success"] { "Success" }
                    option value="failure" selected[status == "failure"] { "Failure" }
                }
            }
            div.field {
                label for="action" { "Action" }
                select #action name="action" {
                    option value="" selected[action.is_empty()] { "All" }
                    @for op in Operation::ALL {
                        option value=(op.as_str()) selected[action == op.as_str()] { (op.as_str()) }
                    }
                }
            }
            div.field {
                label for="user" { "User or group" }
                input #user name="user" type="text" value=(query.user.as_deref().unwrap_or("")) placeholder="userName, displayName or id" spellcheck="false" autocapitalize="none";
            }
            div.field {
                label for="since" { "From (UTC)" }
                input #since name="since" type="datetime-local" value=(query.since.as_deref().unwrap_or(""));
            }
            div.field {
                label for="until" { "To (UTC)" }
                input #until name="until" type="datetime-local" value=(query.until.as_deref().unwrap_or(""));
            }
            div.actions {
                button.primary type="submit" { "Apply filters" }
                a href=(console.url(&format!("/tenants/{tenant}/log"))) { "Clear" }
            }
        }
    }
}

pub async fn events(
    State(state): State<AppState>,
    console: Console,
    Path(name): Path<String>,
    Query(query): Query<LogQuery>,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let (page, problem) = match query.event_query() {
        Ok(event_query) => {
            let cursor = blank_to_none(query.cursor.as_ref());
            match state.log.event_page(&tenant, event_query, cursor).await {
                Ok(page) => (Some(page), None),
                Err(iris_core::CoreError::Scim(e)) if e.status == 400 => (None, Some(e.detail)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(problem) => (None, Some(problem)),
    };
    let base = console.url(&format!("/tenants/{name}/log"));
    let body = html! {
        h1 { "Provisioning log" }
        p.muted { "Every change Iris made for this tenant's identity provider, and every request it refused, newest first." }
        (filters(&console, &name, &query))
        @if let Some(problem) = &problem {
            (layout::notice("error", problem))
        }
        @if let Some(page) = &page {
            (history_table(&console, &name, &page.items))
            @if let Some(next) = &page.next_cursor {
                nav.pager aria-label="Pages" {
                    a href={ (base) "?" (query.with_cursor(next)) } rel="next" { "Older events →" }
                }
            }
        }
    };
    let mut response = layout::page(
        &console,
        &format!("Provisioning log of {name}"),
        Some((tenant.name(), Tab::Log)),
        body,
    );
    if problem.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

fn json_value(value: Option<&Value>) -> Markup {
    match value {
        None => html! { span.muted { "(absent)" } },
        Some(Value::String(s)) => html! { (s) },
        Some(other) => html! { code { (other.to_string()) } },
    }
}

pub async fn event(
    State(state): State<AppState>,
    console: Console,
    Path((name, event_id)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let e = state.log.event(&tenant, &event_id).await?;
    let explanation = e.is_failure().then(|| explain::failure(&e));
    let body = html! {
        p { a href=(console.url(&format!("/tenants/{name}/log"))) { "← Provisioning log" } }
        h1 { (e.operation.entra_action().as_str()) " " (e.resource_type.name()) " " (if e.identity.is_empty() { e.resource_id.as_str() } else { e.identity.as_str() }) }
        @if let Some(x) = &explanation {
            section.panel.explain aria-labelledby="what-it-means" {
                h2 #what-it-means { "What it means" }
                p { (x.meaning) }
                h2 { "What to change in Entra" }
                p { (x.fix) }
                @if let Some(detail) = &e.detail {
                    p { "Iris answered: " q { (detail) } }
                }
            }
        }
        section.panel aria-labelledby="event-facts" {
            h2 #event-facts { "Event" }
            dl.facts {
                dt { "Date (UTC)" } dd { (layout::time(&e.at)) }
                dt { "Identity" } dd { (identity_markup(&console, &name, &e)) }
                dt { "Action" } dd { (action_markup(&e)) }
                dt { "Status" } dd { (status_badge(e.status)) }
                @if let Some(t) = &e.scim_type { dt { "SCIM error type" } dd { code { (t) } } }
                dt { "Source" } dd { (e.client.display()) }
                dt { "Request" } dd { code { (e.method) } }
                dt { "Request id" } dd { code { (e.request_id) } }
                @if !e.resource_id.is_empty() { dt { "Resource id" } dd { code { (e.resource_id) } } }
                dt { "Event id" } dd { code { (e.id) } }
            }
        }
        @if !e.changes.is_empty() {
            section aria-labelledby="changes" {
                h2 #changes { "Modified properties" }
                div.table-wrap {
                    table {
                        thead { tr { th scope="col" { "Attribute" } th scope="col" { "Old value" } th scope="col" { span.visually-hidden { "becomes" } } th scope="col" { "New value" } } }
                        tbody {
                            @for c in &e.changes {
                                tr {
                                    th scope="row" { (c.attribute) }
                                    td.wrap.change-old { (json_value(c.old.as_ref())) }
                                    td.arrow aria-hidden="true" { "→" }
                                    td.wrap.change-new { (json_value(c.new.as_ref())) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(members) = &e.members {
            section aria-labelledby="members" {
                h2 #members { "Members" }
                @if !members.added.is_empty() {
                    h3 { "Added" }
                    ul { @for id in &members.added { li { a href=(console.url(&format!("/tenants/{name}/users/{id}"))) { code { (id) } } } } }
                }
                @if !members.removed.is_empty() {
                    h3 { "Removed" }
                    ul { @for id in &members.removed { li { code { (id) } } } }
                }
            }
        }
        @if !e.quirks.is_empty() {
            section aria-labelledby="quirks" {
                h2 #quirks { "Identity-provider quirks Iris understood" }
                ul { @for q in &e.quirks { li { code { (q) } } } }
            }
        }
        @if let Some(body) = &e.body {
            section aria-labelledby="body" {
                h2 #body { "Request body as sent (passwords redacted)" }
                pre { (pretty(body)) }
            }
        }
    };
    Ok(layout::page(
        &console,
        "Provisioning event",
        Some((tenant.name(), Tab::Log)),
        body,
    ))
}

/// JSON indented for reading; anything else as it came.
fn pretty(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_owned())
}

#[derive(Debug, Default, Deserialize)]
pub struct CycleQuery {
    cursor: Option<String>,
}

fn duration(cycle: &Cycle) -> String {
    let parse = |t: &str| OffsetDateTime::parse(t, &Rfc3339).ok();
    match (parse(&cycle.started), parse(&cycle.ended)) {
        (Some(start), Some(end)) => iris_core::provisioning::human(end - start),
        _ => String::new(),
    }
}

fn cycle_item(cycle: &Cycle) -> Markup {
    let n = &cycle.counts;
    let rate = n.failure_rate();
    let class = if cycle.kind == CycleKind::TestConnection {
        "probe"
    } else if rate >= iris_core::provisioning::FAILING_RATE {
        "failing"
    } else {
        ""
    };
    html! {
        li class=(class) {
            div.when {
                (layout::time(&cycle.started)) " "
                span.badge.kind { (cycle.kind.as_str()) }
            }
            div { "Lasted " (duration(cycle)) "; " (n.requests) " requests, " (n.failures) " failed" }
            div {
                label.visually-hidden for={ "rate-" (cycle.id) } { "Failure rate" }
                meter id={ "rate-" (cycle.id) } min="0" max="1" low="0.01" high=(iris_core::provisioning::FAILING_RATE) optimum="0" value=(rate) { (percent(rate)) }
                " " (percent(rate)) " failed"
            }
            ul.counts {
                li { (n.creates) " created" }
                li { (n.updates) " updated" }
                li { (n.disables) " disabled" }
                li { (n.enables) " enabled" }
                li { (n.deletes) " deleted" }
                li { (n.queries) " queries" }
                li { (n.probes) " probes" }
                @if n.unauthorized > 0 { li { (n.unauthorized) " refused for their token" } }
            }
        }
    }
}

pub async fn cycles(
    State(state): State<AppState>,
    console: Console,
    Path(name): Path<String>,
    Query(query): Query<CycleQuery>,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let cursor = query.cursor.as_deref().filter(|c| !c.is_empty());
    let page = state
        .log
        .cycle_page(&tenant, cursor, CYCLES_PER_PAGE)
        .await?;
    let body = html! {
        h1 { "Provisioning cycles" }
        p.muted { "Bursts of requests from the identity provider, newest first: a Test Connection, the initial cycle, then incremental ones (Entra: about every 40 minutes)." }
        @if page.items.is_empty() {
            p { "No cycles recorded yet." }
        } @else {
            ol.timeline { @for c in &page.items { (cycle_item(c)) } }
        }
        @if let Some(next) = &page.next_cursor {
            nav.pager aria-label="Pages" {
                a href=(console.url(&format!("/tenants/{name}/cycles?cursor={next}"))) rel="next" { "Older cycles →" }
            }
        }
    };
    Ok(layout::page(
        &console,
        &format!("Cycles of {name}"),
        Some((tenant.name(), Tab::Cycles)),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_are_taken_as_utc() {
        let at = parse_time("2026-12-04T10:30").unwrap();
        assert_eq!(
            at.unix_timestamp(),
            parse_time("2026-12-04T10:30:00Z").unwrap().unix_timestamp()
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn bad_filters_are_explained() {
        let query = LogQuery {
            status: Some("maybe".into()),
            ..LogQuery::default()
        };
        assert!(query.event_query().unwrap_err().contains("maybe"));
        let query = LogQuery {
            action: Some("create".into()),
            status: Some("failure".into()),
            ..LogQuery::default()
        };
        let q = query.event_query().unwrap();
        assert_eq!(q.operations, vec![Operation::Create]);
        assert_eq!(q.status, Some(StatusFilter::Failure));
    }
}
