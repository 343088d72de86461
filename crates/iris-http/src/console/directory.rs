//! A tenant's directory, read-only: users and groups searched with a SCIM filter and paged by
//! cursor (the same `ResourceService::list` the SCIM API and the admin API use), and a page per
//! user or group with its attributes, memberships and change history from the log.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use iris_core::listing::ListParams;
use iris_core::provisioning::EventQuery;
use iris_core::store::ResourceRecord;
use iris_core::{CoreError, ResourceKind, Tenant};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ConsoleResult;
use super::layout::{self, Tab};
use super::log::history_table;
use super::session::Console;
use crate::AppState;

/// Resources per page unless the operator picks another size.
const PAGE_SIZE: i64 = 25;
/// Change-history entries shown on a resource's page.
const HISTORY: u32 = 50;
/// Members listed on a group's page.
const MEMBERS_SHOWN: u32 = 200;

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct DirectoryQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count: Option<i64>,
}

impl DirectoryQuery {
    fn filter(&self) -> Option<String> {
        self.filter
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
    }

    /// This query on another page.
    fn with_cursor(&self, cursor: &str) -> String {
        let mut next = self.clone();
        next.filter = self.filter();
        next.cursor = Some(cursor.to_owned());
        serde_urlencoded::to_string(&next).unwrap_or_default()
    }
}

fn string_at<'d>(doc: &'d serde_json::Map<String, Value>, path: &[&str]) -> Option<&'d str> {
    let (last, parents) = path.split_last()?;
    let mut here = doc;
    for key in parents {
        here = here.get(*key)?.as_object()?;
    }
    here.get(*last)?.as_str()
}

fn user_row(console: &Console, tenant: &str, r: &ResourceRecord) -> Markup {
    let user_name = string_at(&r.doc, &["userName"]).unwrap_or("(no userName)");
    let display =
        string_at(&r.doc, &["displayName"]).or_else(|| string_at(&r.doc, &["name", "formatted"]));
    let active = r.doc.get("active").and_then(Value::as_bool).unwrap_or(true);
    html! {
        tr {
            td.wrap { a href=(console.url(&format!("/tenants/{tenant}/users/{}", r.id))) { (user_name) } }
            td.wrap { (display.unwrap_or("—")) }
            td { (string_at(&r.doc, &["externalId"]).unwrap_or("—")) }
            td { @if active { "yes" } @else { span.badge.disabled { "inactive" } } }
            td { (layout::time(&r.last_modified)) }
        }
    }
}

fn group_row(console: &Console, tenant: &str, r: &ResourceRecord) -> Markup {
    html! {
        tr {
            td.wrap { a href=(console.url(&format!("/tenants/{tenant}/groups/{}", r.id))) { (string_at(&r.doc, &["displayName"]).unwrap_or("(no displayName)")) } }
            td { (string_at(&r.doc, &["externalId"]).unwrap_or("—")) }
            td { code { (r.id) } }
            td { (layout::time(&r.last_modified)) }
        }
    }
}

async fn list_page(
    state: &AppState,
    console: &Console,
    name: &str,
    kind: ResourceKind,
    query: DirectoryQuery,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(name).await?;
    let params = ListParams {
        filter: query.filter(),
        count: Some(query.count.unwrap_or(PAGE_SIZE).clamp(1, 200)),
        cursor: Some(query.cursor.clone().unwrap_or_default()),
        ..ListParams::default()
    };
    let (result, problem) = match state.resources.list(&tenant, kind, &params).await {
        Ok(result) => (Some(result), None),
        Err(CoreError::Scim(e)) if e.status == 400 => (None, Some(e.detail)),
        Err(e) => return Err(e.into()),
    };
    let (title, tab, example) = match kind {
        ResourceKind::User => ("Users", Tab::Users, r#"userName sw "a" and active eq true"#),
        ResourceKind::Group => ("Groups", Tab::Groups, r#"displayName co "sales""#),
    };
    let path = match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    };
    let base = console.url(&format!("/tenants/{name}/{path}"));
    let body = html! {
        h1 { (title) }
        form.panel.filters method="get" action=(base) role="search" {
            div.field.wide {
                label for="filter" { "SCIM filter" }
                input #filter name="filter" type="search" value=(query.filter().unwrap_or_default())
                    placeholder=(example) aria-describedby="filter-help" aria-invalid=[problem.as_ref().map(|_| "true")]
                    spellcheck="false" autocapitalize="none";
                p #filter-help .help { "RFC 7644 filter syntax, e.g. " code { (example) } ". Empty: everyone." }
            }
            div.field {
                label for="count" { "Per page" }
                select #count name="count" {
                    @for n in [10_i64, 25, 50, 100, 200] {
                        option value=(n) selected[params.count == Some(n)] { (n) }
                    }
                }
            }
            button.primary type="submit" { "Search" }
        }
        @if let Some(problem) = &problem {
            (layout::notice("error", &format!("The filter was refused: {problem}")))
        }
        @if let Some(result) = &result {
            p { (result.page.total) @if result.page.total == 1 { " match" } @else { " matches" } }
            @if !result.page.records.is_empty() {
                div.table-wrap {
                    table {
                        caption.visually-hidden { (title) " of " (name) }
                        @match kind {
                            ResourceKind::User => {
                                thead { tr { th scope="col" { "userName" } th scope="col" { "Display name" } th scope="col" { "externalId" } th scope="col" { "Active" } th scope="col" { "Last modified" } } }
                                tbody { @for r in &result.page.records { (user_row(console, name, r)) } }
                            }
                            ResourceKind::Group => {
                                thead { tr { th scope="col" { "displayName" } th scope="col" { "externalId" } th scope="col" { "Id" } th scope="col" { "Last modified" } } }
                                tbody { @for r in &result.page.records { (group_row(console, name, r)) } }
                            }
                        }
                    }
                }
            }
            @if let Some(cursors) = &result.cursors {
                nav.pager aria-label="Pages" {
                    @if let Some(previous) = &cursors.previous {
                        a href={ (base) "?" (query.with_cursor(previous)) } rel="prev" { "← Previous page" }
                    }
                    @if let Some(next) = &cursors.next {
                        a href={ (base) "?" (query.with_cursor(next)) } rel="next" { "Next page →" }
                    }
                }
            }
        }
    };
    let mut response = layout::page(
        console,
        &format!("{title} of {name}"),
        Some((tenant.name(), tab)),
        body,
    );
    if problem.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

pub async fn users(
    State(state): State<AppState>,
    console: Console,
    Path(name): Path<String>,
    Query(query): Query<DirectoryQuery>,
) -> ConsoleResult<Response> {
    list_page(&state, &console, &name, ResourceKind::User, query).await
}

pub async fn groups(
    State(state): State<AppState>,
    console: Console,
    Path(name): Path<String>,
    Query(query): Query<DirectoryQuery>,
) -> ConsoleResult<Response> {
    list_page(&state, &console, &name, ResourceKind::Group, query).await
}

/// A value as a person reads it: scalars as they are; a multi-valued attribute as a list of its
/// values with their type and primary flag; a complex one as its sub-attributes; anything deeper
/// as indented JSON.
fn value_markup(value: &Value) -> Markup {
    match value {
        Value::String(s) => html! { (s) },
        Value::Bool(b) => html! { (b) },
        Value::Number(n) => html! { (n.to_string()) },
        Value::Null => html! { span.muted { "null" } },
        Value::Array(items) if items.iter().all(is_flat_object) => html! {
            ul.values {
                @for item in items {
                    li { (flat_value(item)) }
                }
            }
        },
        Value::Object(map) if map.values().all(is_scalar) => html! {
            ul.values {
                @for (key, v) in map {
                    li { span.muted { (key) ": " } (scalar_text(v)) }
                }
            }
        },
        other => html! { pre { (serde_json::to_string_pretty(other).unwrap_or_default()) } },
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

fn is_flat_object(value: &Value) -> bool {
    value.as_object().is_some_and(|m| m.values().all(is_scalar))
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `alex@contoso.example (work, primary)`; an element without `value` lists its fields.
fn flat_value(item: &Value) -> Markup {
    let Some(map) = item.as_object() else {
        return html! { (scalar_text(item)) };
    };
    let main = map
        .get("value")
        .or_else(|| map.get("display"))
        .map(scalar_text);
    let notes: Vec<String> = map
        .iter()
        .filter(|(k, _)| !["value", "display"].contains(&k.as_str()))
        .filter_map(|(k, v)| match (k.as_str(), v) {
            ("primary", Value::Bool(true)) => Some("primary".to_owned()),
            ("primary", _) => None,
            ("type", v) => Some(scalar_text(v)),
            (k, v) => Some(format!("{k}: {}", scalar_text(v))),
        })
        .collect();
    html! {
        (main.unwrap_or_default())
        @if !notes.is_empty() { " " span.muted { "(" (notes.join(", ")) ")" } }
    }
}

fn attributes(record: &ResourceRecord, skip: &[&str]) -> Markup {
    html! {
        div.table-wrap {
            table.attributes {
                caption.visually-hidden { "Attributes" }
                thead { tr { th scope="col" { "Attribute" } th scope="col" { "Value" } } }
                tbody {
                    tr { th scope="row" { "id" } td { code { (record.id) } } }
                    @for (key, value) in record.doc.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
                        tr { th scope="row" { (key) } td.wrap { (value_markup(value)) } }
                    }
                    tr { th scope="row" { "meta.created" } td { (layout::time(&record.created)) } }
                    tr { th scope="row" { "meta.lastModified" } td { (layout::time(&record.last_modified)) } }
                    tr { th scope="row" { "meta.version" } td { "W/\"" (record.version) "\"" } }
                }
            }
        }
    }
}

async fn history(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
) -> ConsoleResult<Vec<iris_core::provisioning::ProvisioningEvent>> {
    let query = EventQuery {
        resource: Some(id.to_owned()),
        newest_first: true,
        limit: HISTORY,
        ..EventQuery::default()
    };
    Ok(state.log.events(tenant, &query).await?)
}

pub async fn user(
    State(state): State<AppState>,
    console: Console,
    Path((name, id)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let record = state
        .resources
        .get(&tenant, ResourceKind::User, &id)
        .await?;
    let groups = state
        .resources
        .direct_groups(&tenant, std::slice::from_ref(&record.id))
        .await?;
    let events = history(&state, &tenant, &record.id).await?;
    let user_name = string_at(&record.doc, &["userName"])
        .unwrap_or("(no userName)")
        .to_owned();
    let body = html! {
        p { a href=(console.url(&format!("/tenants/{name}/users"))) { "← Users" } }
        h1 { "User " (user_name) }
        section aria-labelledby="attributes" {
            h2 #attributes { "Attributes" }
            (attributes(&record, &[]))
        }
        section aria-labelledby="groups" {
            h2 #groups { "Groups" }
            @if groups.is_empty() {
                p { "Not a member of any group." }
            } @else {
                ul {
                    @for g in &groups {
                        li { a href=(console.url(&format!("/tenants/{name}/groups/{}", g.group_id))) { (g.display_name) } }
                    }
                }
            }
        }
        section aria-labelledby="history" {
            h2 #history { "Change history" }
            (history_table(&console, &name, &events))
            p { a href=(console.url(&format!("/tenants/{name}/log?user={}", percent_encoding::utf8_percent_encode(&record.id, percent_encoding::NON_ALPHANUMERIC)))) { "Everything about this user in the provisioning log" } }
        }
    };
    Ok(layout::page(
        &console,
        &format!("User {user_name}"),
        Some((tenant.name(), Tab::Users)),
        body,
    ))
}

pub async fn group(
    State(state): State<AppState>,
    console: Console,
    Path((name, id)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let record = state
        .resources
        .get(&tenant, ResourceKind::Group, &id)
        .await?;
    let members = state
        .resources
        .members_page(&tenant, &record.id, None, MEMBERS_SHOWN + 1)
        .await?;
    let events = history(&state, &tenant, &record.id).await?;
    let display = string_at(&record.doc, &["displayName"])
        .unwrap_or("(no displayName)")
        .to_owned();
    let body = html! {
        p { a href=(console.url(&format!("/tenants/{name}/groups"))) { "← Groups" } }
        h1 { "Group " (display) }
        section aria-labelledby="attributes" {
            h2 #attributes { "Attributes" }
            (attributes(&record, &["members"]))
        }
        section aria-labelledby="members" {
            h2 #members { "Members" }
            @if members.is_empty() {
                p { "No members." }
            } @else {
                ul {
                    @for m in members.iter().take(MEMBERS_SHOWN as usize) {
                        @let path = match m.kind { ResourceKind::User => "users", ResourceKind::Group => "groups" };
                        li { a href=(console.url(&format!("/tenants/{name}/{path}/{}", m.id))) { (m.display.as_deref().unwrap_or(&m.id)) } " " span.muted { "(" (m.kind.name()) ")" } }
                    }
                }
                @if members.len() > MEMBERS_SHOWN as usize {
                    p.muted { "The first " (MEMBERS_SHOWN) " members are shown; the admin API lists them all." }
                }
            }
        }
        section aria-labelledby="history" {
            h2 #history { "Change history" }
            (history_table(&console, &name, &events))
        }
    };
    Ok(layout::page(
        &console,
        &format!("Group {display}"),
        Some((tenant.name(), Tab::Groups)),
        body,
    ))
}
