//! The live tail: a server-sent event stream of a tenant's traffic. Two sources feed it: the
//! requests this process serves for the tenant (published by the request observer only while
//! someone watches, so each is flagged as a Test Connection probe, a query, a write or a refusal),
//! and the changes every process records in the provisioning log (polled from the database, so a
//! tail on one `iris serve` sees the changes made through all of them). The page needs
//! JavaScript; the log works without it.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use iris_core::Tenant;
use iris_core::accounts::Session;
use iris_core::provisioning::{EventQuery, ProvisioningEvent, RequestKind, id_bound};
use maud::html;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};

use super::error::ConsoleResult;
use super::layout::{self, Tab};
use super::session::Console;
use crate::AppState;

/// Requests buffered for slow watchers before they skip ahead.
const FEED_CAPACITY: usize = 1024;
/// How often the log is polled for changes.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// How far back each poll looks again: an event's id is taken when its request begins, but the
/// event becomes visible only when its transaction commits, possibly after a later one's.
const COMMIT_LAG: time::Duration = time::Duration::seconds(10);
/// How often the stream checks that its session is still live (signed out, expired).
const SESSION_CHECK_EVERY: u32 = 15;

/// One request a process served, as the live tail shows it.
#[derive(Debug, Clone)]
pub struct LiveRequest {
    pub tenant: String,
    pub at: String,
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    pub status: u16,
    pub kind: RequestKind,
}

/// Where the request observer publishes served requests, while anyone watches.
#[derive(Clone)]
pub struct LiveFeed(broadcast::Sender<Arc<LiveRequest>>);

impl Default for LiveFeed {
    fn default() -> Self {
        Self(broadcast::channel(FEED_CAPACITY).0)
    }
}

impl LiveFeed {
    /// Whether a live tail is open (so the request path pays nothing otherwise).
    pub fn is_watched(&self) -> bool {
        self.0.receiver_count() > 0
    }

    pub fn publish(&self, request: LiveRequest) {
        let _ = self.0.send(Arc::new(request));
    }
}

/// One row of the live tail, as the page's script reads it.
#[derive(Debug, Serialize)]
struct Row {
    at: String,
    source: String,
    what: String,
    kind: &'static str,
    status: u16,
    probe: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
}

fn kind_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Probe => "Test Connection probe",
        RequestKind::Query => "query",
        RequestKind::Write => "write",
        RequestKind::Unauthorized => "refused token",
    }
}

fn request_row(request: &LiveRequest) -> Row {
    let decoded = percent_encoding::percent_decode_str(&request.target).decode_utf8_lossy();
    let local = decoded
        .strip_prefix(&format!("{}/{}", crate::SCIM_PREFIX, request.tenant))
        .unwrap_or(&decoded)
        .to_owned();
    Row {
        at: request.at.clone(),
        source: "request (this server)".into(),
        what: format!("{} {local}", request.method),
        kind: kind_name(request.kind),
        status: request.status,
        probe: request.kind == RequestKind::Probe,
        link: None,
    }
}

fn change_row(prefix: &str, tenant: &str, e: &ProvisioningEvent) -> Row {
    let identity = if e.identity.is_empty() {
        &e.resource_id
    } else {
        &e.identity
    };
    Row {
        at: e.at.clone(),
        source: format!("change ({})", e.client.display()),
        what: format!(
            "{} {} {identity}",
            e.operation.entra_action().as_str(),
            e.resource_type.name()
        ),
        kind: e.operation.as_str(),
        status: e.status,
        probe: false,
        link: Some(format!("{prefix}/tenants/{tenant}/log/{}", e.id)),
    }
}

pub async fn page(
    State(state): State<AppState>,
    console: Console,
    Path(name): Path<String>,
) -> ConsoleResult<Response> {
    let tenant = state.tenants.find(&name).await?;
    let body = html! {
        h1 { "Live tail" }
        p.muted { "Requests this server answers for the tenant, and the changes every Iris process records, as they happen. Newest on top; the last 500 are kept." }
        noscript {
            (layout::notice("info", "The live tail needs JavaScript. The provisioning log shows the same changes without it."))
        }
        div #live data-stream=(console.url(&format!("/tenants/{name}/live/stream"))) {
            div.live-controls {
                label for="hide-probes" {
                    input #hide-probes type="checkbox" checked;
                    "Hide Test Connection probes"
                }
                button #live-pause type="button" aria-pressed="false" { "Pause" }
                span aria-live="polite" { "State: " span #live-state { "Connecting…" } }
            }
            div #live-table .table-wrap {
                table {
                    caption.visually-hidden { "Live requests and changes" }
                    thead { tr { th scope="col" { "Date (UTC)" } th scope="col" { "Source" } th scope="col" { "What" } th scope="col" { "Kind" } th scope="col" { "Status" } } }
                    tbody #live-rows {}
                }
            }
        }
        p { a href=(console.url(&format!("/tenants/{name}/log"))) { "Provisioning log" } }
    };
    Ok(layout::page(
        &console,
        &format!("Live tail of {name}"),
        Some((tenant.name(), Tab::Live)),
        body,
    ))
}

fn sse(name: &'static str, row: &Row) -> Option<Event> {
    // JSON has no raw newlines, so it is one `data:` line.
    serde_json::to_string(row)
        .ok()
        .map(|data| Event::default().event(name).data(data))
}

/// Feeds one watcher until it goes away or its session ends.
async fn feed(
    state: AppState,
    tenant: Tenant,
    session: Session,
    prefix: String,
    mut requests: broadcast::Receiver<Arc<LiveRequest>>,
    out: mpsc::Sender<Event>,
) {
    let opened = time::OffsetDateTime::now_utc();
    let mut seen = BTreeSet::new();
    let mut ticks = tokio::time::interval(POLL_EVERY);
    let mut polls = 0u32;
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                Ok(request) if request.tenant == tenant.name() => {
                    if let Some(event) = sse("request", &request_row(&request))
                        && out.send(event).await.is_err()
                    {
                        return;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = ticks.tick() => {
                polls += 1;
                let check_session = polls.is_multiple_of(SESSION_CHECK_EVERY);
                if check_session && !state.accounts.still_live(&session).await.unwrap_or(false) {
                    let _ = out.send(Event::default().event("ended").data("signed out")).await;
                    return;
                }
                if out.is_closed() {
                    return;
                }
                let since = (time::OffsetDateTime::now_utc() - COMMIT_LAG).max(opened);
                let bound = id_bound(since);
                let query = EventQuery {
                    after_id: Some(bound.clone()),
                    newest_first: false,
                    limit: 200,
                    ..EventQuery::default()
                };
                let Ok(events) = state.log.events(&tenant, &query).await else {
                    continue;
                };
                seen = seen.split_off(&bound);
                for e in events {
                    if !seen.insert(e.id.clone()) {
                        continue;
                    }
                    if let Some(event) = sse("change", &change_row(&prefix, tenant.name(), &e))
                        && out.send(event).await.is_err()
                    {
                        return;
                    }
                }
            }
        }
    }
}

pub async fn stream(
    State(state): State<AppState>,
    console: Console,
    Path(name): Path<String>,
) -> ConsoleResult<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>> {
    let tenant = state.tenants.find(&name).await?;
    let (tx, rx) = mpsc::channel(256);
    let requests = state.console.live.0.subscribe();
    let prefix = console.prefix().to_owned();
    tokio::spawn(feed(state, tenant, console.session, prefix, requests, tx));
    let events = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
