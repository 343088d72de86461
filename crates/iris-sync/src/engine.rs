//! Sync cycles, as Entra's provisioning service runs them.
//!
//! A cycle probes the target (a random-GUID `userName` query, as Entra does at the start of every
//! cycle), reads the source twice (groups first, to know memberships; then users, streamed),
//! compares every in-scope object with what the job last wrote (a content hash and the mapped
//! values kept in the state, never a re-read of the target), and sends only the differences:
//! creates (after a matching query), PATCHes with the changed attributes, `active=false` when a
//! user leaves scope or is soft-deleted, DELETE when it is gone from the source, then groups and
//! membership deltas. Requests run concurrently; results are written to the state in batched
//! transactions, each object only after the target acknowledged it, so a cycle killed half-way
//! is resumed by the next one: objects created but not yet recorded are found by the matching
//! query instead of being created twice.
//!
//! Failing objects are escrowed and retried every cycle; the job is quarantined when the
//! credentials are refused, the target cannot be reached, or more than the policy's share of a
//! cycle's requests fail, and the cycle stops sending.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use iris_scim::provisioning_log::{Action, ModifiedProperty, Record, Status};
use serde::Serialize;
use serde_json::Value as Json;
use time::OffsetDateTime;
use tokio::task::JoinSet;

use crate::expr::Value;
use crate::job::{CompiledJob, JobDefinition, MatchMode};
use crate::mapping::{self, Change, Dialect, Mapped, ObjectMapping};
use crate::source::{self, ObjectKind, SourceObject};
use crate::state::{ObjectState, StateError, StateStore, Write};
use crate::target::{Outcome, Reply, Target};

const WRITE_BATCH: usize = 500;
const MEMBER_BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("job definition: {0}")]
    Definition(String),
    #[error("source: {0}")]
    Source(#[from] source::SourceError),
    #[error("target: {0}")]
    Target(String),
}

/// Feedback for long cycles (the CLI draws a progress bar).
pub trait Progress: Send + Sync {
    fn phase(&self, name: &str, total: u64);
    fn advance(&self, n: u64);
    fn finish(&self);
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Compare and report, send nothing, write nothing.
    pub dry_run: bool,
}

/// Why a job is quarantined (Entra's reason names).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Quarantine {
    pub reason: String,
    pub detail: String,
}

/// What would change, for `--dry-run`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlannedChange {
    pub action: String,
    pub kind: String,
    pub source_id: String,
    pub identity: String,
    pub changes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub disabled: u64,
    pub enabled: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub out_of_scope: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CycleReport {
    pub job: String,
    pub cycle_id: String,
    /// `initial` or `incremental`.
    pub kind: String,
    pub dry_run: bool,
    pub started: String,
    pub duration_ms: u64,
    pub users: Counts,
    pub groups: Counts,
    pub membership_adds: u64,
    pub membership_removes: u64,
    pub requests: u64,
    pub failed_requests: u64,
    pub source_errors: Vec<String>,
    pub quarantine: Option<Quarantine>,
    pub watermark: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<PlannedChange>,
}

/// Entra's error codes for an HTTP answer.
pub fn error_code(status: u16) -> &'static str {
    match status {
        400 => "SystemForCrossDomainIdentityManagementBadRequest",
        401 | 403 => "SystemForCrossDomainIdentityManagementCredentialValidationUnavailable",
        404 => "SystemForCrossDomainIdentityManagementServiceIncompatible",
        409 => "SystemForCrossDomainIdentityManagementServiceIncompatibleFiltering",
        429 => "SystemForCrossDomainIdentityManagementThrottled",
        500..=599 => "SystemForCrossDomainIdentityManagementServiceUnavailable",
        _ => "SystemForCrossDomainIdentityManagementUnexpectedResponse",
    }
}

pub const UNREACHABLE: &str = "SystemForCrossDomainIdentityManagementServiceUnreachable";

/// Everything the concurrent operations share.
struct Ctx {
    job: String,
    cycle_id: String,
    target: Target,
    dialect: Dialect,
    match_mode: MatchMode,
    source_system: String,
    target_system: String,
    requests: AtomicU64,
    failed_requests: AtomicU64,
    credentials_refused: AtomicBool,
    unreachable: AtomicBool,
}

impl Ctx {
    /// Counts a request's outcome for the quarantine rules.
    fn count(&self, outcome: &Outcome) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(r) if r.is_success() || r.status == 404 => {}
            Ok(r) => {
                self.failed_requests.fetch_add(1, Ordering::Relaxed);
                if r.status == 401 || r.status == 403 {
                    self.credentials_refused.store(true, Ordering::Relaxed);
                }
            }
            Err(_) => {
                self.failed_requests.fetch_add(1, Ordering::Relaxed);
                self.unreachable.store(true, Ordering::Relaxed);
            }
        }
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Json>,
    ) -> Outcome {
        let outcome = self.target.send(method, path, query, body).await;
        self.count(&outcome);
        outcome
    }
}

/// One thing to do to one object.
enum Work {
    Create {
        kind: ObjectKind,
        object: SourceObject,
        mapped: Mapped,
        mapping: Arc<ObjectMapping>,
    },
    Update {
        kind: ObjectKind,
        object: SourceObject,
        old: ObjectState,
        new_state: ObjectState,
        changes: Vec<Change>,
        action: Action,
    },
    Delete {
        kind: ObjectKind,
        source_id: String,
        old: ObjectState,
    },
    Members {
        source_id: String,
        identity: String,
        state: ObjectState,
        old_members: Vec<String>,
        add: Vec<String>,
        remove: Vec<String>,
    },
}

/// What an operation did.
struct Done {
    kind: ObjectKind,
    source_id: String,
    action: Action,
    /// `Some(state)`: record it; `None` with success: forget the object.
    state: Option<ObjectState>,
    failure: Option<(String, String)>,
    record: Record,
    membership: (u64, u64),
}

fn identity_of(kind: ObjectKind, mapped: &Mapped) -> String {
    let key = match kind {
        ObjectKind::User => "userName",
        ObjectKind::Group => "displayName",
    };
    mapped
        .get(key)
        .and_then(Value::as_text)
        .unwrap_or_default()
        .to_owned()
}

fn modified_properties(changes: &[Change]) -> Vec<ModifiedProperty> {
    changes
        .iter()
        .map(|c| {
            ModifiedProperty::new(
                c.path.text(),
                c.old.as_ref().map(ToString::to_string),
                c.new.as_ref().map(ToString::to_string),
            )
        })
        .collect()
}

fn all_as_changes(mapped: &Mapped, mapping: &ObjectMapping) -> Vec<Change> {
    mapping
        .attributes
        .iter()
        .filter_map(|a| {
            let v = mapped.get(&a.target.text())?;
            Some(Change {
                path: a.target.clone(),
                old: None,
                new: Some(v.clone()),
            })
        })
        .collect()
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        action: Action,
        kind: ObjectKind,
        source: (&str, &str),
        target: (&str, &str),
        reply: Option<&Outcome>,
        failure: Option<&(String, String)>,
        changes: Vec<ModifiedProperty>,
        duration: Duration,
    ) -> Record {
        let request_id = match reply {
            Some(Ok(r)) => r.request_id.clone(),
            Some(Err(e)) => e.request_id.clone(),
            None => String::new(),
        };
        let (status, code, description) = match failure {
            Some((code, detail)) => (Status::Failure, code.clone(), detail.clone()),
            None => (Status::Success, String::new(), String::new()),
        };
        Record {
            date: OffsetDateTime::now_utc(),
            id: uuid::Uuid::new_v4().to_string(),
            request_id,
            job_id: self.job.clone(),
            cycle_id: self.cycle_id.clone(),
            change_id: uuid::Uuid::new_v4().to_string(),
            action,
            source_system: self.source_system.clone(),
            target_system: format!("{} ({})", self.target_system, kind.endpoint()),
            source_identity: source.0.to_owned(),
            source_identity_id: source.1.to_owned(),
            target_identity: target.0.to_owned(),
            target_identity_id: target.1.to_owned(),
            status,
            error_code: code,
            error_description: description,
            duration_ms: duration.as_millis() as u64,
            modified_properties: changes,
        }
    }
}

/// A failure description in Entra's provisioning-log style.
fn failure_of(outcome: &Outcome, what: &str) -> (String, String) {
    match outcome {
        Ok(r) => (
            error_code(r.status.as_u16()).to_owned(),
            format!(
                "{what}: StatusCode: {} after {} attempt(s). Web Response: {}",
                r.status,
                r.attempts,
                r.detail()
            ),
        ),
        Err(e) => (UNREACHABLE.to_owned(), format!("{what}: {e}")),
    }
}

fn target_id(reply: &Reply) -> Option<String> {
    reply.body.as_ref()?.get("id")?.as_str().map(str::to_owned)
}

/// Looks the object up by each matching attribute in precedence order (Entra: one after
/// another, never combined). `Ok(None)`: no match.
async fn find_match(
    ctx: &Ctx,
    kind: ObjectKind,
    mapping: &ObjectMapping,
    mapped: &Mapped,
) -> Result<Option<Json>, Outcome> {
    for (path, value) in mapping.matching_values(mapped) {
        let filter = mapping::equality_filter(path, value);
        let mut query = vec![("filter", filter.as_str())];
        if kind == ObjectKind::Group {
            query.insert(0, ("excludedAttributes", "members"));
        }
        let outcome = ctx
            .request(reqwest::Method::GET, kind.endpoint(), &query, None)
            .await;
        match &outcome {
            Ok(r) if r.is_success() => {
                let first = r
                    .body
                    .as_ref()
                    .and_then(|b| b.get("Resources"))
                    .and_then(Json::as_array)
                    .and_then(|a| a.first())
                    .cloned();
                if first.is_some() {
                    return Ok(first);
                }
            }
            _ => return Err(outcome),
        }
    }
    Ok(None)
}

async fn execute(ctx: Arc<Ctx>, work: Work) -> Done {
    let started = Instant::now();
    match work {
        Work::Create {
            kind,
            object,
            mapped,
            mapping,
        } => {
            let identity = identity_of(kind, &mapped);
            let source = (object.display_name(), object.id.clone());
            let src = (source.0.as_str(), source.1.as_str());
            let state_for = |target_id: String, mapped: Mapped| ObjectState {
                target_id,
                source_hash: object.content_hash(),
                modified: object.modified.clone(),
                mapped,
                members: vec![],
                active: true,
            };
            let fail = |outcome: &Outcome, what: &str, action: Action| {
                let failure = failure_of(outcome, what);
                let record = ctx.record(
                    action,
                    kind,
                    src,
                    (&identity, ""),
                    Some(outcome),
                    Some(&failure),
                    modified_properties(&all_as_changes(&mapped, &mapping)),
                    started.elapsed(),
                );
                Done {
                    kind,
                    source_id: object.id.clone(),
                    action,
                    state: None,
                    failure: Some(failure),
                    record,
                    membership: (0, 0),
                }
            };
            let mut existing = None;
            if ctx.match_mode == MatchMode::Query {
                match find_match(&ctx, kind, &mapping, &mapped).await {
                    Ok(found) => existing = found,
                    Err(outcome) => return fail(&outcome, "matching query", Action::Create),
                }
            }
            if existing.is_none() {
                let body = mapping.resource(&mapped);
                let outcome = ctx
                    .request(reqwest::Method::POST, kind.endpoint(), &[], Some(&body))
                    .await;
                match &outcome {
                    Ok(r) if r.is_success() => {
                        let Some(id) = target_id(r) else {
                            return fail(&outcome, "create answered without an id", Action::Create);
                        };
                        let record = ctx.record(
                            Action::Create,
                            kind,
                            src,
                            (&identity, &id),
                            Some(&outcome),
                            None,
                            modified_properties(&all_as_changes(&mapped, &mapping)),
                            started.elapsed(),
                        );
                        return Done {
                            kind,
                            source_id: object.id.clone(),
                            action: Action::Create,
                            state: Some(state_for(id, mapped.clone())),
                            failure: None,
                            record,
                            membership: (0, 0),
                        };
                    }
                    Ok(r) if r.status == 409 && ctx.match_mode == MatchMode::CreateFirst => {
                        match find_match(&ctx, kind, &mapping, &mapped).await {
                            Ok(Some(found)) => existing = Some(found),
                            Ok(None) => return fail(&outcome, "create", Action::Create),
                            Err(o) => return fail(&o, "matching query after 409", Action::Create),
                        }
                    }
                    _ => return fail(&outcome, "create", Action::Create),
                }
            }
            // Matched: adopt the target's object and update what differs.
            let Some(found) = existing else {
                return fail(
                    &Err(crate::target::TransportError {
                        detail: "no object".into(),
                        request_id: String::new(),
                        attempts: 0,
                    }),
                    "create",
                    Action::Create,
                );
            };
            let Some(id) = found.get("id").and_then(Json::as_str).map(str::to_owned) else {
                return fail(
                    &Ok(Reply {
                        status: reqwest::StatusCode::OK,
                        body: Some(found.clone()),
                        content_type: String::new(),
                        request_id: String::new(),
                        attempts: 1,
                        duration: started.elapsed(),
                    }),
                    "matching query returned a resource without an id",
                    Action::Update,
                );
            };
            let current = mapping.read_back(&found);
            let changes = mapping.changes(&current, &mapped);
            let mut outcome = None;
            if !changes.is_empty() {
                let body = mapping::patch_body(&changes, ctx.dialect);
                let o = ctx
                    .request(
                        reqwest::Method::PATCH,
                        &format!("{}/{id}", kind.endpoint()),
                        &[],
                        Some(&body),
                    )
                    .await;
                if !o.as_ref().is_ok_and(Reply::is_success) {
                    return fail(&o, "update of the matched object", Action::Update);
                }
                outcome = Some(o);
            }
            let record = ctx.record(
                Action::Update,
                kind,
                src,
                (&identity, &id),
                outcome.as_ref(),
                None,
                modified_properties(&changes),
                started.elapsed(),
            );
            Done {
                kind,
                source_id: object.id.clone(),
                action: Action::Update,
                state: Some(state_for(id, mapped.clone())),
                failure: None,
                record,
                membership: (0, 0),
            }
        }
        Work::Update {
            kind,
            object,
            old,
            new_state,
            changes,
            action,
        } => {
            let identity = identity_of(kind, &new_state.mapped);
            let body = mapping::patch_body(&changes, ctx.dialect);
            let outcome = ctx
                .request(
                    reqwest::Method::PATCH,
                    &format!("{}/{}", kind.endpoint(), old.target_id),
                    &[],
                    Some(&body),
                )
                .await;
            let (state, failure) = match &outcome {
                Ok(r) if r.is_success() => (Some(new_state.clone()), None),
                // Gone from the target: forget it, so the next cycle creates it again.
                Ok(r) if r.status == 404 => (None, Some(failure_of(&outcome, "update"))),
                _ => (Some(old.clone()), Some(failure_of(&outcome, "update"))),
            };
            let record = ctx.record(
                action,
                kind,
                (&object.display_name(), &object.id),
                (&identity, &old.target_id),
                Some(&outcome),
                failure.as_ref(),
                modified_properties(&changes),
                started.elapsed(),
            );
            Done {
                kind,
                source_id: object.id.clone(),
                action,
                state,
                failure,
                record,
                membership: (0, 0),
            }
        }
        Work::Delete {
            kind,
            source_id,
            old,
        } => {
            let identity = identity_of(kind, &old.mapped);
            let outcome = ctx
                .request(
                    reqwest::Method::DELETE,
                    &format!("{}/{}", kind.endpoint(), old.target_id),
                    &[],
                    None,
                )
                .await;
            let failure = match &outcome {
                // 404: already gone, which is what was wanted.
                Ok(r) if r.is_success() || r.status == 404 => None,
                _ => Some(failure_of(&outcome, "delete")),
            };
            let record = ctx.record(
                Action::Delete,
                kind,
                (&identity, &source_id),
                (&identity, &old.target_id),
                Some(&outcome),
                failure.as_ref(),
                vec![],
                started.elapsed(),
            );
            Done {
                kind,
                source_id,
                action: Action::Delete,
                state: if failure.is_some() { Some(old) } else { None },
                failure,
                record,
                membership: (0, 0),
            }
        }
        Work::Members {
            source_id,
            identity,
            mut state,
            old_members,
            add,
            remove,
        } => {
            let mut last = None;
            let mut failure = None;
            let (mut added, mut removed) = (0usize, 0usize);
            let add_chunks: Vec<&[String]> = add.chunks(MEMBER_BATCH).collect();
            let remove_chunks: Vec<&[String]> = remove.chunks(MEMBER_BATCH).collect();
            let batches = add_chunks
                .iter()
                .map(|c| (true, *c))
                .chain(remove_chunks.iter().map(|c| (false, *c)));
            for (adding, chunk) in batches {
                let body = if adding {
                    mapping::member_patches(chunk, &[], ctx.dialect, MEMBER_BATCH)
                } else {
                    mapping::member_patches(&[], chunk, ctx.dialect, MEMBER_BATCH)
                };
                let Some(body) = body.first() else { continue };
                let outcome = ctx
                    .request(
                        reqwest::Method::PATCH,
                        &format!("/Groups/{}", state.target_id),
                        &[],
                        Some(body),
                    )
                    .await;
                let ok = outcome.as_ref().is_ok_and(Reply::is_success);
                if !ok {
                    failure = Some(failure_of(&outcome, "membership update"));
                    last = Some(outcome);
                    break;
                }
                if adding {
                    added += chunk.len();
                } else {
                    removed += chunk.len();
                }
                last = Some(outcome);
            }
            if failure.is_some() {
                // Record what the target now holds, and make the next cycle look again.
                let gone: HashSet<&String> = remove[..removed].iter().collect();
                let mut members: Vec<String> = old_members
                    .iter()
                    .filter(|m| !gone.contains(m))
                    .chain(add[..added].iter())
                    .cloned()
                    .collect();
                members.sort();
                members.dedup();
                state.members = members;
                state.source_hash.clear();
            }
            let changes: Vec<ModifiedProperty> = add
                .iter()
                .map(|id| ModifiedProperty::new("members", None, Some(id.clone())))
                .chain(
                    remove
                        .iter()
                        .map(|id| ModifiedProperty::new("members", Some(id.clone()), None)),
                )
                .collect();
            let record = ctx.record(
                Action::Update,
                ObjectKind::Group,
                (&identity, &source_id),
                (&identity, &state.target_id),
                last.as_ref(),
                failure.as_ref(),
                changes,
                started.elapsed(),
            );
            Done {
                kind: ObjectKind::Group,
                source_id,
                action: Action::Update,
                state: Some(state),
                failure,
                record,
                membership: (add.len() as u64, remove.len() as u64),
            }
        }
    }
}

/// Whether the source says the account is soft-deleted or disabled.
fn soft_deleted_in_source(object: &SourceObject) -> bool {
    let is = |k: &str, v: &str| {
        object
            .attributes
            .get(k)
            .and_then(Value::as_text)
            .is_some_and(|s| s.eq_ignore_ascii_case(v))
    };
    is("accountenabled", "false") || is("issoftdeleted", "true")
}

/// The attributes a mapping sees: the source's plus Entra's computed `IsSoftDeleted`.
fn mapping_input(object: &SourceObject, soft_deleted: bool) -> BTreeMap<String, Value> {
    let mut attrs = object.attributes.clone();
    attrs.insert("issoftdeleted".into(), Value::bool(soft_deleted));
    attrs.insert("objectid".into(), Value::Str(object.id.clone()));
    attrs
}

fn later(a: Option<String>, b: &Option<String>) -> Option<String> {
    let parse =
        |s: &str| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok();
    match (a, b) {
        (None, b) => b.clone(),
        (a, None) => a,
        (Some(a), Some(b)) => {
            if parse(b) > parse(&a) {
                Some(b.clone())
            } else {
                Some(a)
            }
        }
    }
}

/// Runs operations with bounded concurrency and records their results in batches.
struct Runner<'a> {
    ctx: Arc<Ctx>,
    store: &'a StateStore,
    dry_run: bool,
    tasks: JoinSet<Done>,
    pending: Vec<Write>,
    max_in_flight: usize,
    escrowed: HashSet<(ObjectKind, String)>,
    stop: Option<Quarantine>,
    policy: crate::job::QuarantinePolicy,
    report: CycleReport,
    progress: Option<Arc<dyn Progress>>,
    /// Target ids learnt this cycle (source id → target id), and removed ones.
    targets: HashMap<(ObjectKind, String), Option<String>>,
}

impl Runner<'_> {
    fn counts(&mut self, kind: ObjectKind) -> &mut Counts {
        match kind {
            ObjectKind::User => &mut self.report.users,
            ObjectKind::Group => &mut self.report.groups,
        }
    }

    async fn submit(&mut self, work: Work) -> Result<(), EngineError> {
        if self.stop.is_some() {
            return Ok(());
        }
        while self.tasks.len() >= self.max_in_flight {
            self.collect_one().await?;
        }
        let ctx = self.ctx.clone();
        self.tasks.spawn(execute(ctx, work));
        Ok(())
    }

    async fn collect_one(&mut self) -> Result<(), EngineError> {
        let Some(joined) = self.tasks.join_next().await else {
            return Ok(());
        };
        let done = joined.map_err(|e| EngineError::Target(format!("operation panicked: {e}")))?;
        self.record(done).await
    }

    async fn drain(&mut self) -> Result<(), EngineError> {
        while !self.tasks.is_empty() {
            self.collect_one().await?;
        }
        self.flush().await
    }

    async fn record(&mut self, done: Done) -> Result<(), EngineError> {
        let key = (done.kind, done.source_id.clone());
        if let Some(p) = &self.progress {
            p.advance(1);
        }
        self.report.membership_adds += done.membership.0;
        self.report.membership_removes += done.membership.1;
        match &done.failure {
            Some((code, detail)) => {
                self.counts(done.kind).failed += 1;
                self.pending.push(Write::Escrow {
                    kind: done.kind,
                    source_id: done.source_id.clone(),
                    error_code: code.clone(),
                    error: detail.clone(),
                });
            }
            None if done.membership != (0, 0) => {
                if self.escrowed.remove(&key) {
                    self.pending.push(Write::ClearEscrow {
                        kind: done.kind,
                        source_id: done.source_id.clone(),
                    });
                }
            }
            None => {
                let action = done.action;
                let c = self.counts(done.kind);
                match action {
                    Action::Create => c.created += 1,
                    Action::Disable => c.disabled += 1,
                    Action::Enable => c.enabled += 1,
                    Action::Delete => c.deleted += 1,
                    Action::Update | Action::Other => c.updated += 1,
                }
                if self.escrowed.remove(&key) {
                    self.pending.push(Write::ClearEscrow {
                        kind: done.kind,
                        source_id: done.source_id.clone(),
                    });
                }
            }
        }
        match done.state {
            Some(state) => {
                self.targets.insert(key, Some(state.target_id.clone()));
                self.pending.push(Write::Object {
                    kind: done.kind,
                    source_id: done.source_id.clone(),
                    state,
                });
            }
            None if done.failure.is_none() || done.action != Action::Create => {
                self.targets.insert(key, None);
                self.pending.push(Write::Forget {
                    kind: done.kind,
                    source_id: done.source_id.clone(),
                });
            }
            None => {}
        }
        self.pending.push(Write::Log(Box::new(done.record)));
        self.check_quarantine();
        if self.pending.len() >= WRITE_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    fn check_quarantine(&mut self) {
        if self.stop.is_some() {
            return;
        }
        let requests = self.ctx.requests.load(Ordering::Relaxed);
        let failed = self.ctx.failed_requests.load(Ordering::Relaxed);
        if self.ctx.credentials_refused.load(Ordering::Relaxed) {
            self.stop = Some(Quarantine {
                reason: "EncounteredQuarantineException".into(),
                detail: "the target refused the credentials (401/403)".into(),
            });
        } else if requests >= self.policy.min_events
            && failed as f64 > self.policy.threshold * requests as f64
        {
            let reason = if self.ctx.unreachable.load(Ordering::Relaxed) && failed == requests {
                "EncounteredQuarantineException"
            } else {
                "EncounteredEscrowProportionThreshold"
            };
            self.stop = Some(Quarantine {
                reason: reason.into(),
                detail: format!(
                    "{failed} of {requests} requests failed (more than {:.0} %)",
                    self.policy.threshold * 100.0
                ),
            });
        }
    }

    async fn flush(&mut self) -> Result<(), EngineError> {
        if self.dry_run || self.pending.is_empty() {
            self.pending.clear();
            return Ok(());
        }
        let writes = std::mem::take(&mut self.pending);
        self.store
            .apply(&self.ctx.job, &self.ctx.cycle_id, &writes)
            .await?;
        Ok(())
    }

    fn plan(
        &mut self,
        action: Action,
        kind: ObjectKind,
        id: &str,
        identity: &str,
        changes: &[Change],
    ) {
        self.report.planned.push(PlannedChange {
            action: action.as_str().to_owned(),
            kind: kind.as_str().to_owned(),
            source_id: id.to_owned(),
            identity: identity.to_owned(),
            changes: modified_properties(changes)
                .iter()
                .map(|p| {
                    iris_scim::provisioning_log::render_modified_properties(std::slice::from_ref(p))
                })
                .collect(),
        });
        let c = self.counts(kind);
        match action {
            Action::Create => c.created += 1,
            Action::Disable => c.disabled += 1,
            Action::Enable => c.enabled += 1,
            Action::Delete => c.deleted += 1,
            Action::Update | Action::Other => c.updated += 1,
        }
    }
}

/// Creates a job after checking its definition compiles.
pub async fn create_job(
    store: &StateStore,
    name: &str,
    definition: &JobDefinition,
) -> Result<(), EngineError> {
    definition.compile().map_err(EngineError::Definition)?;
    let text =
        serde_json::to_string(definition).map_err(|e| EngineError::Definition(e.to_string()))?;
    store.create_job(name, &text).await?;
    Ok(())
}

pub async fn load_job(store: &StateStore, name: &str) -> Result<CompiledJob, EngineError> {
    let row = store.job(name).await?;
    let definition: JobDefinition = serde_json::from_str(&row.definition)
        .map_err(|e| EngineError::Definition(format!("stored definition: {e}")))?;
    definition.compile().map_err(EngineError::Definition)
}

/// Runs one cycle of job `name`.
pub async fn run_cycle(
    store: &StateStore,
    name: &str,
    options: &RunOptions,
    progress: Option<Arc<dyn Progress>>,
) -> Result<CycleReport, EngineError> {
    let started_at = Instant::now();
    let row = store.job(name).await?;
    let job = load_job(store, name).await?;
    let def = &job.definition;
    let cycle_id = uuid::Uuid::new_v4().to_string();
    let source = source::open(def.source.format, &def.source.path, &def.source.options);
    let target = Target::new(
        &def.target.url,
        &def.target.token,
        def.target.limits.clone(),
    )
    .map_err(EngineError::Target)?;
    // Users: only the summaries (a large directory's mapped values are read per changed user).
    let user_state = store.object_index(name, ObjectKind::User).await?;
    let group_state = store.objects(name, ObjectKind::Group).await?;
    let kind = if row.last_finished.is_none() && user_state.is_empty() && group_state.is_empty() {
        "initial"
    } else {
        "incremental"
    };
    let ctx = Arc::new(Ctx {
        job: name.to_owned(),
        cycle_id: cycle_id.clone(),
        target_system: format!("SCIM {}", target.base()),
        target,
        dialect: job.dialect,
        match_mode: def.match_mode,
        source_system: source.describe(),
        requests: AtomicU64::new(0),
        failed_requests: AtomicU64::new(0),
        credentials_refused: AtomicBool::new(false),
        unreachable: AtomicBool::new(false),
    });
    let escrowed: HashSet<(ObjectKind, String)> = store
        .escrows(name)
        .await?
        .into_iter()
        .map(|e| (e.kind, e.source_id))
        .collect();
    let mut runner = Runner {
        ctx: ctx.clone(),
        store,
        dry_run: options.dry_run,
        tasks: JoinSet::new(),
        pending: Vec::new(),
        max_in_flight: def.target.limits.concurrency.max(1) * 2,
        escrowed: escrowed.clone(),
        stop: None,
        policy: def.quarantine.clone(),
        progress: progress.clone(),
        targets: HashMap::new(),
        report: CycleReport {
            job: name.to_owned(),
            cycle_id: cycle_id.clone(),
            kind: kind.to_owned(),
            dry_run: options.dry_run,
            started: crate::state::now(),
            duration_ms: 0,
            users: Counts::default(),
            groups: Counts::default(),
            membership_adds: 0,
            membership_removes: 0,
            requests: 0,
            failed_requests: 0,
            source_errors: vec![],
            quarantine: None,
            watermark: None,
            planned: vec![],
        },
    };
    if !options.dry_run {
        store.start_cycle(name, &cycle_id, kind).await?;
        // Entra's first request of every cycle: a user that cannot exist.
        let probe = format!("userName eq \"{}\"", uuid::Uuid::new_v4());
        let outcome = ctx
            .request(
                reqwest::Method::GET,
                "/Users",
                &[("filter", probe.as_str())],
                None,
            )
            .await;
        match &outcome {
            Ok(r) if r.status == 401 || r.status == 403 => {
                runner.stop = Some(Quarantine {
                    reason: "EncounteredQuarantineException".into(),
                    detail: format!("the target refused the credentials ({})", r.status),
                });
            }
            Ok(r) if r.status.is_server_error() => {
                runner.stop = Some(Quarantine {
                    reason: "EncounteredQuarantineException".into(),
                    detail: format!(
                        "the target answers {} to the start-of-cycle query, after {} attempts",
                        r.status, r.attempts
                    ),
                });
            }
            Err(e) => {
                runner.stop = Some(Quarantine {
                    reason: "EncounteredQuarantineException".into(),
                    detail: format!("cannot reach the target: {e}"),
                });
            }
            _ => {}
        }
    }

    // Pass 1: groups, and who is a member of which.
    let mut groups: Vec<SourceObject> = Vec::new();
    let mut user_total = 0u64;
    let mut watermark = row.watermark.clone();
    let mut in_source: HashSet<(ObjectKind, String)> = HashSet::new();
    for item in source.objects()? {
        match item {
            Ok(o) => {
                in_source.insert((o.kind, o.id.clone()));
                if o.kind == ObjectKind::Group {
                    groups.push(o);
                } else {
                    user_total += 1;
                }
            }
            Err(e) => runner.report.source_errors.push(e.to_string()),
        }
    }
    let mut memberships: HashMap<&str, Vec<String>> = HashMap::new();
    for g in &groups {
        for m in &g.members {
            memberships
                .entry(m.as_str())
                .or_default()
                .push(g.id.clone());
        }
    }
    let memberships: HashMap<String, Vec<String>> = memberships
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let source_ok = runner.report.source_errors.is_empty();

    // Pass 2: users.
    if let Some(p) = &progress {
        p.phase("users", user_total);
    }
    let user_mapping = Arc::new(job.mapping.users.clone());
    let mut user_state = user_state;
    let no_groups: Vec<String> = Vec::new();
    for item in source.objects()? {
        if runner.stop.is_some() {
            break;
        }
        let Ok(object) = item else { continue };
        if object.kind != ObjectKind::User {
            continue;
        }
        watermark = later(watermark, &object.modified);
        let member_of = memberships.get(&object.id).unwrap_or(&no_groups);
        let in_scope = job.scope.user_in_scope(&object, member_of.iter());
        let soft_deleted = !in_scope || soft_deleted_in_source(&object);
        let escrow_key = (ObjectKind::User, object.id.clone());
        match user_state.remove(&object.id) {
            None => {
                if soft_deleted {
                    // Entra provisions only users that are in scope and enabled.
                    runner.report.users.out_of_scope += 1;
                    if let Some(p) = &progress {
                        p.advance(1);
                    }
                    continue;
                }
                let mapped = user_mapping.evaluate(&mapping_input(&object, false));
                if options.dry_run {
                    let identity = identity_of(ObjectKind::User, &mapped);
                    let changes = all_as_changes(&mapped, &user_mapping);
                    runner.plan(
                        Action::Create,
                        ObjectKind::User,
                        &object.id,
                        &identity,
                        &changes,
                    );
                    continue;
                }
                runner
                    .submit(Work::Create {
                        kind: ObjectKind::User,
                        object,
                        mapped,
                        mapping: user_mapping.clone(),
                    })
                    .await?;
            }
            Some(summary) => {
                let active = !soft_deleted;
                let escrowed = escrowed.contains(&escrow_key);
                let same_modified =
                    object.modified.is_some() && object.modified == summary.modified;
                if !escrowed && summary.active == active && same_modified {
                    runner.report.users.unchanged += 1;
                    if let Some(p) = &progress {
                        p.advance(1);
                    }
                    continue;
                }
                let hash = object.content_hash();
                if !escrowed && summary.active == active && hash == summary.source_hash {
                    runner.report.users.unchanged += 1;
                    if let Some(p) = &progress {
                        p.advance(1);
                    }
                    continue;
                }
                let Some(old) = store.object(name, ObjectKind::User, &object.id).await? else {
                    continue;
                };
                if !old.active && !active {
                    // Disabled and still out of scope: Entra no longer manages it.
                    runner.report.users.out_of_scope += 1;
                    if !options.dry_run {
                        runner.pending.push(Write::Object {
                            kind: ObjectKind::User,
                            source_id: object.id.clone(),
                            state: ObjectState {
                                source_hash: hash,
                                modified: object.modified.clone(),
                                ..old
                            },
                        });
                    }
                    continue;
                }
                let mut new_mapped = user_mapping.evaluate(&mapping_input(&object, soft_deleted));
                let action = match (old.active, active) {
                    (true, false) => {
                        // A disable sends `active` only; the rest waits for a re-enable.
                        let mut kept = old.mapped.clone();
                        if let Some(a) = new_mapped.get("active") {
                            kept.insert("active".into(), a.clone());
                        }
                        new_mapped = kept;
                        Action::Disable
                    }
                    (false, true) => Action::Enable,
                    _ => Action::Update,
                };
                let changes = user_mapping.changes(&old.mapped, &new_mapped);
                let new_state = ObjectState {
                    target_id: old.target_id.clone(),
                    source_hash: hash,
                    modified: object.modified.clone(),
                    mapped: new_mapped,
                    members: vec![],
                    active,
                };
                if changes.is_empty() {
                    runner.report.users.unchanged += 1;
                    if !options.dry_run {
                        runner.pending.push(Write::Object {
                            kind: ObjectKind::User,
                            source_id: object.id.clone(),
                            state: new_state,
                        });
                    }
                    continue;
                }
                if options.dry_run {
                    let identity = identity_of(ObjectKind::User, &new_state.mapped);
                    runner.plan(action, ObjectKind::User, &object.id, &identity, &changes);
                    continue;
                }
                runner
                    .submit(Work::Update {
                        kind: ObjectKind::User,
                        object,
                        old,
                        new_state,
                        changes,
                        action,
                    })
                    .await?;
            }
        }
    }
    // Users gone from the source are hard-deleted (unless the source could not be read whole).
    let mut deleted_targets: HashSet<String> = HashSet::new();
    if source_ok && runner.stop.is_none() {
        let mut gone: Vec<String> = user_state.into_keys().collect();
        gone.sort();
        for source_id in gone {
            let Some(old) = store.object(name, ObjectKind::User, &source_id).await? else {
                continue;
            };
            deleted_targets.insert(old.target_id.clone());
            if options.dry_run {
                let identity = identity_of(ObjectKind::User, &old.mapped);
                runner.plan(Action::Delete, ObjectKind::User, &source_id, &identity, &[]);
                continue;
            }
            runner
                .submit(Work::Delete {
                    kind: ObjectKind::User,
                    source_id,
                    old,
                })
                .await?;
        }
    }
    runner.drain().await?;

    // Groups: create, update, delete; then memberships.
    if def.groups && runner.stop.is_none() {
        run_groups(
            &mut runner,
            &job,
            groups,
            group_state,
            store,
            name,
            &deleted_targets,
            options,
            source_ok,
        )
        .await?;
    }
    runner.drain().await?;
    if let Some(p) = &progress {
        p.finish();
    }

    runner.check_quarantine();
    // Escrows of objects that left the source have nothing left to retry.
    if source_ok && runner.stop.is_none() && !options.dry_run {
        let stale: Vec<(ObjectKind, String)> = runner
            .escrowed
            .iter()
            .filter(|k| !in_source.contains(*k))
            .cloned()
            .collect();
        for (kind, source_id) in stale {
            runner.pending.push(Write::ClearEscrow { kind, source_id });
        }
        runner.flush().await?;
    }
    runner.report.requests = ctx.requests.load(Ordering::Relaxed);
    runner.report.failed_requests = ctx.failed_requests.load(Ordering::Relaxed);
    runner.report.quarantine = runner.stop.clone();
    runner.report.duration_ms = started_at.elapsed().as_millis() as u64;
    // The watermark advances only when the whole cycle ran.
    let complete = runner.stop.is_none() && source_ok;
    runner.report.watermark = if complete { watermark } else { row.watermark };
    if !options.dry_run {
        let summary = serde_json::to_string(&runner.report).unwrap_or_default();
        let quarantine = runner
            .stop
            .as_ref()
            .map(|q| (q.reason.as_str(), q.detail.as_str()));
        store
            .finish_cycle(
                name,
                &summary,
                runner.report.watermark.as_deref().filter(|_| complete),
                quarantine,
            )
            .await?;
    }
    Ok(runner.report)
}

#[allow(clippy::too_many_arguments)]
async fn run_groups(
    runner: &mut Runner<'_>,
    job: &CompiledJob,
    groups: Vec<SourceObject>,
    mut group_state: HashMap<String, ObjectState>,
    store: &StateStore,
    name: &str,
    deleted_targets: &HashSet<String>,
    options: &RunOptions,
    source_ok: bool,
) -> Result<(), EngineError> {
    let mapping = Arc::new(job.mapping.groups.clone());
    if let Some(p) = &runner.progress {
        p.phase("groups", groups.len() as u64);
    }
    let mut in_scope_groups = Vec::new();
    for group in &groups {
        if runner.stop.is_some() {
            break;
        }
        if !job.scope.group_in_scope(group) {
            continue;
        }
        in_scope_groups.push(group.id.clone());
        let mapped = mapping.evaluate(&mapping_input(group, false));
        match group_state.get(&group.id) {
            None => {
                if options.dry_run {
                    let identity = identity_of(ObjectKind::Group, &mapped);
                    let changes = all_as_changes(&mapped, &mapping);
                    runner.plan(
                        Action::Create,
                        ObjectKind::Group,
                        &group.id,
                        &identity,
                        &changes,
                    );
                    continue;
                }
                runner
                    .submit(Work::Create {
                        kind: ObjectKind::Group,
                        object: group.clone(),
                        mapped,
                        mapping: mapping.clone(),
                    })
                    .await?;
            }
            Some(old) => {
                let changes = mapping.changes(&old.mapped, &mapped);
                if changes.is_empty() {
                    continue;
                }
                let new_state = ObjectState {
                    mapped: mapped.clone(),
                    ..old.clone()
                };
                if options.dry_run {
                    let identity = identity_of(ObjectKind::Group, &mapped);
                    runner.plan(
                        Action::Update,
                        ObjectKind::Group,
                        &group.id,
                        &identity,
                        &changes,
                    );
                    continue;
                }
                runner
                    .submit(Work::Update {
                        kind: ObjectKind::Group,
                        object: group.clone(),
                        old: old.clone(),
                        new_state,
                        changes,
                        action: Action::Update,
                    })
                    .await?;
            }
        }
    }
    // Groups gone from the source or from scope are deleted.
    if source_ok && runner.stop.is_none() {
        let keep: HashSet<&String> = in_scope_groups.iter().collect();
        let mut gone: Vec<(String, ObjectState)> = group_state
            .iter()
            .filter(|(id, _)| !keep.contains(id))
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect();
        gone.sort_by(|a, b| a.0.cmp(&b.0));
        for (source_id, old) in gone {
            group_state.remove(&source_id);
            if options.dry_run {
                let identity = identity_of(ObjectKind::Group, &old.mapped);
                runner.plan(
                    Action::Delete,
                    ObjectKind::Group,
                    &source_id,
                    &identity,
                    &[],
                );
                continue;
            }
            runner
                .submit(Work::Delete {
                    kind: ObjectKind::Group,
                    source_id,
                    old,
                })
                .await?;
        }
    }
    runner.drain().await?;
    if runner.stop.is_some() {
        return Ok(());
    }

    // Memberships: the target ids of members as the state now knows them.
    let user_targets: HashMap<String, String> = store
        .object_index(name, ObjectKind::User)
        .await?
        .into_iter()
        .map(|(k, v)| (k, v.target_id))
        .collect();
    let group_now = if options.dry_run {
        group_state.clone()
    } else {
        store.objects(name, ObjectKind::Group).await?
    };
    let group_targets: HashMap<&String, &String> =
        group_now.iter().map(|(k, v)| (k, &v.target_id)).collect();
    for group in &groups {
        if !in_scope_groups.contains(&group.id) {
            continue;
        }
        let Some(state) = group_now.get(&group.id) else {
            continue;
        };
        let mut desired: Vec<String> = group
            .members
            .iter()
            .filter_map(|m| {
                user_targets
                    .get(m)
                    .or_else(|| group_targets.get(m).copied())
                    .cloned()
            })
            .collect();
        desired.sort();
        desired.dedup();
        let current: HashSet<&String> = state.members.iter().collect();
        let wanted: HashSet<&String> = desired.iter().collect();
        let add: Vec<String> = desired
            .iter()
            .filter(|id| !current.contains(id))
            .cloned()
            .collect();
        let remove: Vec<String> = state
            .members
            .iter()
            .filter(|id| !wanted.contains(id) && !deleted_targets.contains(*id))
            .cloned()
            .collect();
        let hash = group.content_hash();
        let identity = identity_of(ObjectKind::Group, &state.mapped);
        if add.is_empty() && remove.is_empty() {
            if (state.source_hash != hash || state.members != desired) && !options.dry_run {
                runner.pending.push(Write::Object {
                    kind: ObjectKind::Group,
                    source_id: group.id.clone(),
                    state: ObjectState {
                        source_hash: hash,
                        modified: group.modified.clone(),
                        members: desired,
                        ..state.clone()
                    },
                });
            }
            continue;
        }
        if options.dry_run {
            runner.report.planned.push(PlannedChange {
                action: "Update".into(),
                kind: "group".into(),
                source_id: group.id.clone(),
                identity,
                changes: add
                    .iter()
                    .map(|a| format!("members: null -> {a:?}"))
                    .chain(remove.iter().map(|r| format!("members: {r:?} -> null")))
                    .collect(),
            });
            runner.report.membership_adds += add.len() as u64;
            runner.report.membership_removes += remove.len() as u64;
            continue;
        }
        runner
            .submit(Work::Members {
                source_id: group.id.clone(),
                identity,
                state: ObjectState {
                    source_hash: hash,
                    modified: group.modified.clone(),
                    members: desired,
                    ..state.clone()
                },
                old_members: state.members.clone(),
                add,
                remove,
            })
            .await?;
    }
    Ok(())
}
