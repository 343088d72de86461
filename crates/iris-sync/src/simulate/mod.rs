//! The Entra simulator: rehearses what Microsoft Entra ID's provisioning service does to a SCIM
//! server — Test Connection, an initial cycle, an incremental cycle with renames, attribute
//! updates, disables, deletes, group renames and member changes — with Entra's request shapes
//! (shared/docs/entra-compat.md §2.3, §3, §4) in either PATCH dialect, and judges every answer
//! the way Entra would: PASS, WARN (Entra copes, or a validator would complain) or FAIL (the
//! object would fail to sync, or the job would be quarantined). Ends with "would this job
//! quarantine?" by Entra's rules (§6.2).
//!
//! It creates its own users and groups (names start with `iris-sim-` and a run id) and deletes
//! them at the end unless asked to keep them.

use std::fmt;

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::mapping::{Dialect, ENTERPRISE_SCHEMA, GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA};
use crate::target::{Outcome, Target, TargetLimits};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        })
    }
}

/// One step of the rehearsal (repeated steps, e.g. one per user, are counted together).
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub phase: String,
    pub name: String,
    /// The request as Entra sends it (the first one, for repeated steps).
    pub request: String,
    pub verdict: Verdict,
    pub times: u32,
    pub failures: u32,
    /// What was seen and what Entra would do with it.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuarantineVerdict {
    pub would_quarantine: bool,
    pub reason: Option<String>,
    pub detail: String,
    pub requests: u64,
    pub failed_requests: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub dialect: Dialect,
    pub users: usize,
    pub steps: Vec<Step>,
    pub quarantine: QuarantineVerdict,
}

impl Report {
    pub fn worst(&self) -> Verdict {
        self.steps
            .iter()
            .map(|s| s.verdict)
            .max()
            .unwrap_or(Verdict::Pass)
    }

    /// The report as the CLI prints it.
    pub fn text(&self) -> String {
        let mut out = format!(
            "Entra simulation against {} ({} dialect, {} users)\n",
            self.target,
            match self.dialect {
                Dialect::Aad => "Entra default",
                Dialect::Rfc => "aadOptscim062020",
            },
            self.users
        );
        let mut phase = "";
        for s in &self.steps {
            if s.phase != phase {
                phase = &s.phase;
                out.push_str(&format!("\n{phase}\n"));
            }
            let times = if s.times > 1 {
                format!(" (x{}, {} failed)", s.times, s.failures)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "  {}  {}{times}\n        {}\n        {}\n",
                s.verdict, s.name, s.request, s.detail
            ));
        }
        let q = &self.quarantine;
        out.push_str(&format!(
            "\nWould this job quarantine? {}\n  {} of {} requests failed. {}\n",
            if q.would_quarantine {
                format!("YES: {}", q.reason.as_deref().unwrap_or(""))
            } else {
                "No".to_owned()
            },
            q.failed_requests,
            q.requests,
            q.detail
        ));
        out
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub token: String,
    pub users: usize,
    pub dialect: Option<Dialect>,
    pub groups: bool,
    /// Leave the simulated users and groups in the target.
    pub keep: bool,
}

struct Sim {
    target: Target,
    dialect: Dialect,
    run: String,
    steps: Vec<Step>,
    requests: u64,
    failed: u64,
    credentials_refused: bool,
    compliance_failure: Option<String>,
    unreachable: bool,
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Ok(r) => {
            let body = r
                .body
                .as_ref()
                .map(|b| {
                    let t = b.to_string();
                    if t.len() > 200 {
                        format!(
                            "{}…",
                            &t[..t.char_indices().nth(200).map_or(t.len(), |(i, _)| i)]
                        )
                    } else {
                        t
                    }
                })
                .unwrap_or_default();
            format!("{} {body}", r.status.as_u16())
        }
        Err(e) => e.to_string(),
    }
}

fn status_of(outcome: &Outcome) -> Option<u16> {
    outcome.as_ref().ok().map(|r| r.status.as_u16())
}

fn body_of(outcome: &Outcome) -> Option<&Json> {
    outcome.as_ref().ok().and_then(|r| r.body.as_ref())
}

fn resources(outcome: &Outcome) -> Option<&Vec<Json>> {
    body_of(outcome)?.get("Resources")?.as_array()
}

fn total_results(outcome: &Outcome) -> Option<u64> {
    body_of(outcome)?.get("totalResults")?.as_u64()
}

impl Sim {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Json>,
    ) -> Outcome {
        let outcome = self.target.send(method, path, query, body).await;
        self.requests += 1;
        match &outcome {
            Ok(r) if r.is_success() => {}
            Ok(r) => {
                self.failed += 1;
                if r.status == 401 || r.status == 403 {
                    self.credentials_refused = true;
                }
            }
            Err(_) => {
                self.failed += 1;
                self.unreachable = true;
            }
        }
        outcome
    }

    /// Records a verdict; repeated steps of the same name are merged.
    fn judge(
        &mut self,
        phase: &str,
        name: &str,
        request: String,
        verdict: Verdict,
        detail: String,
    ) {
        if let Some(s) = self
            .steps
            .iter_mut()
            .find(|s| s.phase == phase && s.name == name)
        {
            s.times += 1;
            if verdict != Verdict::Pass {
                s.failures += 1;
            }
            if verdict > s.verdict {
                s.verdict = verdict;
                s.detail = detail;
            }
            return;
        }
        self.steps.push(Step {
            phase: phase.to_owned(),
            name: name.to_owned(),
            request,
            verdict,
            times: 1,
            failures: u32::from(verdict != Verdict::Pass),
            detail,
        });
    }

    /// The common judgement of an answer that must be a 2xx: what Entra does otherwise.
    fn expect_success(&self, outcome: &Outcome, what: &str) -> Result<(), (Verdict, String)> {
        match outcome {
            Ok(r) if r.is_success() => {
                if !r.content_type.starts_with("application/scim+json") && r.status != 204 {
                    return Err((
                        Verdict::Warn,
                        format!(
                            "{} with Content-Type {:?}: Entra reads it, the SCIM validator warns (expected application/scim+json)",
                            r.status.as_u16(),
                            r.content_type
                        ),
                    ));
                }
                Ok(())
            }
            Ok(r) if r.status == 401 || r.status == 403 => Err((
                Verdict::Fail,
                format!(
                    "{}: Entra treats this as invalid credentials and quarantines the job (EncounteredQuarantineException)",
                    describe(outcome)
                ),
            )),
            Ok(r) if r.status == 429 => Err((
                Verdict::Warn,
                format!(
                    "{}: Entra logs a failure for {what} and retries in a later cycle; do not rely on 429 for flow control",
                    describe(outcome)
                ),
            )),
            Ok(r) if r.status.is_server_error() => Err((
                Verdict::Fail,
                format!(
                    "{}: {what} fails; Entra escrows the object and retries it in later cycles (6 h, 12 h, 24 h…)",
                    describe(outcome)
                ),
            )),
            Ok(_) => Err((
                Verdict::Fail,
                format!(
                    "{}: {what} fails (SystemForCrossDomainIdentityManagementBadRequest in the provisioning log); the object does not sync",
                    describe(outcome)
                ),
            )),
            Err(e) => Err((
                Verdict::Fail,
                format!("{e}: Entra cannot connect; a cycle where this happens is quarantined"),
            )),
        }
    }

    fn user_body(&self, i: usize) -> Json {
        let name = self.user_name(i);
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "externalId": format!("{}-{i}", self.run),
            "userName": name,
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": name}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": format!("Given{i} Family{i}"), "familyName": format!("Family{i}"), "givenName": format!("Given{i}")},
            "roles": [],
            ENTERPRISE_SCHEMA: {"employeeNumber": format!("{i}"), "department": "Simulation"},
        })
    }

    fn user_name(&self, i: usize) -> String {
        format!("iris-sim-{}-{i}@example.com", self.run)
    }

    fn op(&self, op: &str) -> String {
        match self.dialect {
            Dialect::Aad => {
                let mut c = op.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
            Dialect::Rfc => op.to_owned(),
        }
    }

    fn patch(ops: Json) -> Json {
        json!({"schemas": [PATCH_SCHEMA], "Operations": ops})
    }

    async fn get_by_id(&mut self, endpoint: &str, id: &str, query: &[(&str, &str)]) -> Outcome {
        self.send(Method::GET, &format!("{endpoint}/{id}"), query, None)
            .await
    }
}

fn request_line(method: &str, path: &str, body: Option<&Json>) -> String {
    match body {
        Some(b) => format!("{method} {path} {b}"),
        None => format!("{method} {path}"),
    }
}

/// Runs the rehearsal. Request lines in the report show query values unencoded, as Entra's
/// documentation writes them; on the wire they are percent-encoded.
pub async fn run(options: &Options) -> Result<Report, String> {
    let dialect = options
        .dialect
        .unwrap_or_else(|| Dialect::for_url(&options.url));
    let target = Target::new(
        &options.url,
        &options.token,
        TargetLimits {
            concurrency: 4,
            max_retries: 0,
            ..TargetLimits::default()
        },
    )?;
    let mut sim = Sim {
        target,
        dialect,
        run: uuid::Uuid::new_v4().simple().to_string()[..10].to_owned(),
        steps: vec![],
        requests: 0,
        failed: 0,
        credentials_refused: false,
        compliance_failure: None,
        unreachable: false,
    };
    let users = options.users.max(4);
    test_connection(&mut sim, options.groups).await;
    let connected = !sim.credentials_refused && !sim.unreachable;
    let mut group_id = None;
    if connected {
        let created = initial_users(&mut sim, users).await;
        if options.groups {
            group_id = initial_group(&mut sim, &created).await;
        }
        incremental(&mut sim, &created, group_id.as_deref()).await;
        if !options.keep {
            cleanup(&mut sim, &created, group_id.as_deref()).await;
        }
    }
    let quarantine = quarantine_verdict(&sim);
    Ok(Report {
        target: sim.target.base().to_owned(),
        dialect,
        users,
        steps: sim.steps,
        quarantine,
    })
}

fn quarantine_verdict(sim: &Sim) -> QuarantineVerdict {
    let (would, reason, detail) = if sim.credentials_refused {
        (
            true,
            Some("EncounteredQuarantineException".to_owned()),
            "The target refused the credentials: Entra quarantines the job at once, whatever the failure count, and an admin must re-enter the Secret Token.".to_owned(),
        )
    } else if sim.unreachable {
        (
            true,
            Some("EncounteredQuarantineException".to_owned()),
            "The target could not be reached: a global failure quarantines the job; cycles then run once a day.".to_owned(),
        )
    } else if let Some(c) = &sim.compliance_failure {
        (
            true,
            Some("EncounteredQuarantineException".to_owned()),
            format!(
                "SCIM compliance problem: {c}. Entra quarantines jobs whose start-up test calls fail, regardless of counts."
            ),
        )
    } else if sim.requests > 0 && sim.failed as f64 > 0.4 * sim.requests as f64 {
        (
            true,
            Some("EncounteredEscrowProportionThreshold".to_owned()),
            "More than 40 % of the requests failed: at scale (from 5,000 escrows) Entra quarantines the job.".to_owned(),
        )
    } else {
        (
            false,
            None,
            "Under Entra's rules (credentials accepted, start-up queries answered, at most 40 % failures) the job stays healthy.".to_owned(),
        )
    };
    QuarantineVerdict {
        would_quarantine: would,
        reason,
        detail,
        requests: sim.requests,
        failed_requests: sim.failed,
    }
}

const CONNECT: &str = "Test Connection";
const INITIAL: &str = "Initial cycle";
const INCREMENTAL: &str = "Incremental cycle";
const CLEANUP: &str = "Clean-up (not an Entra step)";

/// Judges a filter query that must answer 200 with a ListResponse of `expected` results.
fn judge_query(outcome: &Outcome, expected: u64) -> (Verdict, String) {
    match status_of(outcome) {
        Some(200) => match (total_results(outcome), resources(outcome)) {
            (Some(n), _) if n == expected => (
                Verdict::Pass,
                format!("200, ListResponse with totalResults {n}"),
            ),
            (Some(n), _) => (
                Verdict::Fail,
                format!("200 but totalResults {n}, expected {expected}"),
            ),
            (None, Some(r)) if r.len() as u64 == expected => (
                Verdict::Warn,
                "200 without totalResults: a ListResponse must carry it (RFC 7644 §3.4.2)".into(),
            ),
            _ => (
                Verdict::Fail,
                format!("200 but not a ListResponse: {}", describe(outcome)),
            ),
        },
        Some(404) if expected == 0 => (
            Verdict::Fail,
            "404 where Entra requires 200 with an empty ListResponse: a documented quarantine cause (SCIM compliance issue)".into(),
        ),
        Some(400) if expected == 0 => (
            Verdict::Fail,
            "400 to a query that matches nothing: Entra requires 200 with zero results; the object cannot be matched and the job quarantines".into(),
        ),
        _ => (Verdict::Fail, describe(outcome)),
    }
}

async fn test_connection(sim: &mut Sim, groups: bool) {
    let guid = uuid::Uuid::new_v4().to_string();
    let filter = format!("userName eq \"{guid}\"");
    let outcome = sim
        .send(Method::GET, "/Users", &[("filter", &filter)], None)
        .await;
    let request = format!("GET /Users?filter={}", filter);
    let credentials_or_network = match &outcome {
        Ok(r) => r.status == 401 || r.status == 403,
        Err(_) => true,
    };
    let (verdict, detail) = match sim.expect_success(&outcome, "Test Connection") {
        Err((v, d)) if credentials_or_network => (v, d),
        _ => judge_query(&outcome, 0),
    };
    if verdict == Verdict::Fail && !sim.credentials_refused && !sim.unreachable {
        sim.compliance_failure = Some(format!(
            "the Test Connection user query answered {}",
            describe(&outcome)
        ));
    }
    let detail = if verdict == Verdict::Pass {
        format!("{detail}: Test Connection succeeds")
    } else {
        format!("{detail}. Test Connection fails")
    };
    sim.judge(
        CONNECT,
        "random userName query (also sent at the start of every cycle)",
        request,
        verdict,
        detail,
    );

    if groups && !sim.credentials_refused && !sim.unreachable {
        let filter = format!("displayName eq \"{guid}\"");
        let query = [
            ("excludedAttributes", "members"),
            ("filter", filter.as_str()),
        ];
        let outcome = sim.send(Method::GET, "/Groups", &query, None).await;
        let (verdict, detail) = judge_query(&outcome, 0);
        let detail = if status_of(&outcome) == Some(404) {
            "404 on /Groups: Entra reports SystemForCrossDomainIdentityManagementServiceIncompatible; return an empty list even without group support".to_owned()
        } else {
            detail
        };
        if verdict == Verdict::Fail {
            sim.compliance_failure.get_or_insert(format!(
                "the Test Connection group query answered {}",
                describe(&outcome)
            ));
        }
        sim.judge(
            CONNECT,
            "random group displayName query",
            format!("GET /Groups?excludedAttributes=members&filter={}", filter),
            verdict,
            detail,
        );
    }
}

async fn initial_users(sim: &mut Sim, users: usize) -> Vec<(usize, String)> {
    let mut created = Vec::new();
    for i in 0..users {
        let name = sim.user_name(i);
        let filter = format!("userName eq \"{name}\"");
        let outcome = sim
            .send(Method::GET, "/Users", &[("filter", &filter)], None)
            .await;
        let (verdict, detail) = judge_query(&outcome, 0);
        let detail = if verdict == Verdict::Pass {
            format!("{detail}: no match, Entra creates the user")
        } else {
            format!("{detail}: Entra cannot tell whether the user exists and the object fails")
        };
        sim.judge(
            INITIAL,
            "matching query by userName",
            format!("GET /Users?filter={}", filter),
            verdict,
            detail,
        );

        let body = sim.user_body(i);
        let outcome = sim.send(Method::POST, "/Users", &[], Some(&body)).await;
        let request = request_line("POST", "/Users", Some(&body));
        let id = body_of(&outcome)
            .and_then(|b| b.get("id"))
            .and_then(Json::as_str)
            .map(str::to_owned);
        let (verdict, detail) = match sim.expect_success(&outcome, "the create") {
            Err(e) => e,
            Ok(()) => {
                let b = body_of(&outcome).cloned().unwrap_or(Json::Null);
                if status_of(&outcome) != Some(201) {
                    (
                        Verdict::Warn,
                        format!(
                            "{} instead of 201 Created: Entra accepts it, the validator expects 201",
                            describe(&outcome)
                        ),
                    )
                } else if id.is_none() {
                    (
                        Verdict::Fail,
                        "201 without an id: Entra cannot manage the user afterwards".into(),
                    )
                } else if b.get("active").is_some_and(Json::is_string) {
                    (Verdict::Fail, "active came back as a string: validators fail with \"The value 'True' cannot be parsed as the type 'Boolean'\"".into())
                } else if b.get("userName").and_then(Json::as_str) != Some(name.as_str()) {
                    (
                        Verdict::Warn,
                        "the created resource does not echo the userName".into(),
                    )
                } else {
                    (
                        Verdict::Pass,
                        "201 with id: Entra caches the id for every later operation".into(),
                    )
                }
            }
        };
        sim.judge(
            INITIAL,
            "create user (Entra's POST body)",
            request,
            verdict,
            detail,
        );
        let Some(id) = id else { continue };
        created.push((i, id.clone()));

        let outcome = sim.get_by_id("/Users", &id, &[]).await;
        let (verdict, detail) = match sim.expect_success(&outcome, "the read") {
            Err(e) => e,
            Ok(())
                if body_of(&outcome)
                    .and_then(|b| b.get("userName"))
                    .and_then(Json::as_str)
                    == Some(name.as_str()) =>
            {
                (Verdict::Pass, "200 with the user".into())
            }
            Ok(()) => (
                Verdict::Fail,
                format!("200 but not the user created: {}", describe(&outcome)),
            ),
        };
        sim.judge(
            INITIAL,
            "read back by id",
            format!("GET /Users/{id}"),
            verdict,
            detail,
        );
    }
    // Entra's validator: "Filter for an existing user with a different case".
    if let Some((i, _)) = created.first() {
        let upper = sim.user_name(*i).to_uppercase();
        let filter = format!("userName eq \"{upper}\"");
        let outcome = sim
            .send(Method::GET, "/Users", &[("filter", &filter)], None)
            .await;
        let (verdict, detail) = match judge_query(&outcome, 1) {
            (Verdict::Pass, d) => (
                Verdict::Pass,
                format!("{d}: userName matches case-insensitively"),
            ),
            (_, d) => (
                Verdict::Warn,
                format!(
                    "{d}: if the directory's case differs from the target's, Entra does not find the user, tries to create it again and gets stuck on 409"
                ),
            ),
        };
        sim.judge(
            INITIAL,
            "matching query in another case",
            format!("GET /Users?filter={}", filter),
            verdict,
            detail,
        );

        // A create that collides must be refused, or Entra creates duplicates after a crash.
        let body = sim.user_body(*i);
        let outcome = sim.send(Method::POST, "/Users", &[], Some(&body)).await;
        if status_of(&outcome) == Some(409) {
            // The refusal is the right answer, not a failed request of the job.
            sim.failed -= 1;
        }
        let (verdict, detail) = match status_of(&outcome) {
            Some(409) => (Verdict::Pass, "409: a duplicate userName is refused (Entra logs SystemForCrossDomainIdentityManagementServiceIncompatibleFiltering and retries)".into()),
            Some(s) if (200..300).contains(&s) => {
                if let Some(dup) = body_of(&outcome).and_then(|b| b.get("id")).and_then(Json::as_str) {
                    let dup = dup.to_owned();
                    if created.iter().all(|(_, id)| *id != dup) {
                        created.push((usize::MAX, dup));
                    }
                }
                (Verdict::Warn, format!("{s}: a second user with the same userName was accepted; a re-POST after a timeout creates duplicates"))
            }
            _ => (Verdict::Fail, format!("{}: expected 409 uniqueness", describe(&outcome))),
        };
        sim.judge(
            INITIAL,
            "duplicate create is refused",
            "POST /Users (same userName again)".into(),
            verdict,
            detail,
        );
    }
    created
}

async fn initial_group(sim: &mut Sim, users: &[(usize, String)]) -> Option<String> {
    let name = format!("iris-sim-{}-group", sim.run);
    let filter = format!("displayName eq \"{name}\"");
    let query = [
        ("excludedAttributes", "members"),
        ("filter", filter.as_str()),
    ];
    let outcome = sim.send(Method::GET, "/Groups", &query, None).await;
    let (verdict, detail) = judge_query(&outcome, 0);
    sim.judge(
        INITIAL,
        "group matching query",
        format!("GET /Groups?excludedAttributes=members&filter={}", filter),
        verdict,
        detail,
    );

    let body = json!({
        "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": format!("{}-group", sim.run),
        "displayName": name,
        "meta": {"resourceType": "Group"},
    });
    let outcome = sim.send(Method::POST, "/Groups", &[], Some(&body)).await;
    let id = body_of(&outcome)
        .and_then(|b| b.get("id"))
        .and_then(Json::as_str)
        .map(str::to_owned);
    let (verdict, detail) = match sim.expect_success(&outcome, "the group create") {
        Err(e) => e,
        Ok(()) if id.is_some() => (
            Verdict::Pass,
            "201 with id (Entra creates groups without members, then PATCHes them in)".into(),
        ),
        Ok(()) => (Verdict::Fail, "created without an id".into()),
    };
    sim.judge(
        INITIAL,
        "create group",
        request_line("POST", "/Groups", Some(&body)),
        verdict,
        detail,
    );
    let id = id?;

    let outcome = sim.send(Method::GET, "/Groups", &query, None).await;
    let (verdict, detail) = match judge_query(&outcome, 1) {
        (Verdict::Pass, d) => {
            let has_members = resources(&outcome)
                .and_then(|r| r.first())
                .is_some_and(|g| g.get("members").is_some());
            if has_members {
                (Verdict::Fail, "the group came back with \"members\" although excludedAttributes=members: the SCIM validator fails this".into())
            } else {
                (Verdict::Pass, format!("{d}, without members"))
            }
        }
        other => other,
    };
    sim.judge(
        INITIAL,
        "group query excluding members",
        format!("GET /Groups?excludedAttributes=members&filter={}", filter),
        verdict,
        detail,
    );

    let members: Vec<Json> = users
        .iter()
        .filter(|(i, _)| *i != usize::MAX)
        .map(|(_, id)| json!({"$ref": null, "value": id}))
        .collect();
    let body = Sim::patch(json!([{"op": sim.op("add"), "path": "members", "value": members}]));
    let outcome = sim
        .send(Method::PATCH, &format!("/Groups/{id}"), &[], Some(&body))
        .await;
    let (verdict, detail) = match sim.expect_success(&outcome, "the member add") {
        Err(e) => e,
        Ok(()) => {
            check_members(
                sim,
                &id,
                users
                    .iter()
                    .filter(|(i, _)| *i != usize::MAX)
                    .map(|(_, u)| u.clone())
                    .collect(),
            )
            .await
        }
    };
    sim.judge(
        INITIAL,
        "add members (one PATCH, value array)",
        request_line("PATCH", &format!("/Groups/{id}"), Some(&body)),
        verdict,
        detail,
    );
    Some(id)
}

async fn check_members(sim: &mut Sim, group: &str, expected: Vec<String>) -> (Verdict, String) {
    let outcome = sim.get_by_id("/Groups", group, &[]).await;
    let Some(body) = body_of(&outcome).cloned() else {
        return (
            Verdict::Warn,
            format!("could not read the group back: {}", describe(&outcome)),
        );
    };
    let mut have: Vec<String> = body
        .get("members")
        .and_then(Json::as_array)
        .map(|m| {
            m.iter()
                .filter_map(|v| v.get("value").and_then(Json::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    have.sort();
    let mut want = expected;
    want.sort();
    if have == want {
        (
            Verdict::Pass,
            format!(
                "the group now has exactly the {} expected members",
                want.len()
            ),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "the group has {} members {:?}, expected {:?}",
                have.len(),
                have,
                want
            ),
        )
    }
}

async fn patch_user(sim: &mut Sim, name: &str, id: &str, ops: Json) -> Option<Json> {
    let body = Sim::patch(ops);
    let outcome = sim
        .send(Method::PATCH, &format!("/Users/{id}"), &[], Some(&body))
        .await;
    let request = request_line("PATCH", &format!("/Users/{id}"), Some(&body));
    match sim.expect_success(&outcome, "the update") {
        Err((v, d)) => {
            sim.judge(INCREMENTAL, name, request, v, d);
            None
        }
        Ok(()) => {
            let outcome = sim.get_by_id("/Users", id, &[]).await;
            match body_of(&outcome) {
                Some(b) if status_of(&outcome) == Some(200) => {
                    let b = b.clone();
                    sim.steps.push(Step {
                        phase: INCREMENTAL.into(),
                        name: name.into(),
                        request,
                        verdict: Verdict::Pass,
                        times: 1,
                        failures: 0,
                        detail: String::new(),
                    });
                    Some(b)
                }
                _ => {
                    sim.judge(
                        INCREMENTAL,
                        name,
                        request,
                        Verdict::Fail,
                        format!(
                            "the PATCH succeeded but the user cannot be read back: {}",
                            describe(&outcome)
                        ),
                    );
                    None
                }
            }
        }
    }
}

/// Sets the detail (and verdict) of the step `patch_user` just recorded as passed.
fn conclude(sim: &mut Sim, name: &str, verdict: Verdict, detail: String) {
    if let Some(s) = sim.steps.iter_mut().rev().find(|s| s.name == name) {
        s.verdict = verdict;
        s.failures = u32::from(verdict != Verdict::Pass);
        s.detail = detail;
    }
}

fn at<'a>(doc: &'a Json, path: &[&str]) -> Option<&'a Json> {
    path.iter().try_fold(doc, |d, k| d.get(k))
}

async fn incremental(sim: &mut Sim, users: &[(usize, String)], group: Option<&str>) {
    let users: Vec<(usize, String)> = users
        .iter()
        .filter(|(i, _)| *i != usize::MAX)
        .cloned()
        .collect();
    let [(_, u0), (_, u1), (_, u2), (_, u3), ..] = users.as_slice() else {
        sim.judge(
            INCREMENTAL,
            "updates",
            "-".into(),
            Verdict::Fail,
            "fewer than four users could be created; nothing to update".into(),
        );
        return;
    };
    let (u0, u1, u2, u3) = (u0.clone(), u1.clone(), u2.clone(), u3.clone());

    // Rename.
    let new_name = format!("iris-sim-{}-renamed@example.com", sim.run);
    let name = "rename (userName)";
    if let Some(doc) = patch_user(
        sim,
        name,
        &u0,
        json!([{"op": sim.op("replace"), "path": "userName", "value": new_name}]),
    )
    .await
    {
        let (v, d) = if doc.get("userName").and_then(Json::as_str) == Some(new_name.as_str()) {
            (Verdict::Pass, "the user reads back renamed".to_owned())
        } else {
            (
                Verdict::Fail,
                format!(
                    "userName is {} after the rename",
                    doc.get("userName").unwrap_or(&Json::Null)
                ),
            )
        };
        conclude(sim, name, v, d);
        let filter = format!("userName eq \"{new_name}\"");
        let outcome = sim
            .send(Method::GET, "/Users", &[("filter", &filter)], None)
            .await;
        let (v, d) = judge_query(&outcome, 1);
        sim.judge(
            INCREMENTAL,
            "matching query finds the new name",
            format!("GET /Users?filter={}", filter),
            v,
            d,
        );
    }

    // Several attributes at once: Entra's default sends one op each; the flag folds them.
    let name = "update several attributes";
    let ops = match sim.dialect {
        Dialect::Aad => json!([
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": format!("{}-Eqpj", sim.run)},
            {"op": "Replace", "path": format!("{ENTERPRISE_SCHEMA}:employeeNumber"), "value": "Eqpj"},
        ]),
        Dialect::Rfc => json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "replace", "value": {
                "displayName": "Pvlo",
                "name.givenName": "Gtfd",
                "name.familyName": "Pkqf",
                "externalId": format!("{}-Eqpj", sim.run),
                format!("{ENTERPRISE_SCHEMA}:employeeNumber"): "Eqpj"}},
        ]),
    };
    if let Some(doc) = patch_user(sim, name, &u1, ops).await {
        let email = doc
            .get("emails")
            .and_then(Json::as_array)
            .and_then(|e| {
                e.iter()
                    .find(|m| m.get("type").and_then(Json::as_str) == Some("work"))
            })
            .and_then(|m| m.get("value"))
            .and_then(Json::as_str);
        let checks = [
            (
                "displayName",
                doc.get("displayName").and_then(Json::as_str) == Some("Pvlo"),
            ),
            (
                "name.givenName",
                at(&doc, &["name", "givenName"]).and_then(Json::as_str) == Some("Gtfd"),
            ),
            (
                "name.familyName",
                at(&doc, &["name", "familyName"]).and_then(Json::as_str) == Some("Pkqf"),
            ),
            (
                "emails[type eq \"work\"].value",
                email == Some("TestBcwqnm@test.microsoft.com"),
            ),
            (
                "employeeNumber",
                at(&doc, &[ENTERPRISE_SCHEMA, "employeeNumber"]).and_then(Json::as_str)
                    == Some("Eqpj"),
            ),
        ];
        let wrong: Vec<&str> = checks
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(n, _)| *n)
            .collect();
        let email_count = doc.get("emails").and_then(Json::as_array).map_or(0, |e| {
            e.iter()
                .filter(|m| m.get("type").and_then(Json::as_str) == Some("work"))
                .count()
        });
        let (v, d) = if !wrong.is_empty() {
            (
                Verdict::Fail,
                format!("accepted, but these did not change: {}", wrong.join(", ")),
            )
        } else if email_count != 1 {
            (
                Verdict::Fail,
                format!(
                    "{email_count} work e-mails after the update: a value-path replace must update the element in place"
                ),
            )
        } else {
            (Verdict::Pass, "every attribute reads back updated".into())
        };
        conclude(sim, name, v, d);
    }

    // A single-valued attribute set for the first time: Entra uses Add.
    let name = "add a single-valued attribute";
    if let Some(doc) = patch_user(
        sim,
        name,
        &u1,
        json!([{"op": sim.op("add"), "path": "nickName", "value": "Babs"}]),
    )
    .await
    {
        let ok = doc.get("nickName").and_then(Json::as_str) == Some("Babs");
        conclude(
            sim,
            name,
            if ok { Verdict::Pass } else { Verdict::Fail },
            if ok {
                "nickName reads back".into()
            } else {
                "nickName was not set".into()
            },
        );
    }

    // Disable, with Entra's string boolean in its default dialect.
    let name = "disable (active false)";
    let value = match sim.dialect {
        Dialect::Aad => json!("False"),
        Dialect::Rfc => json!(false),
    };
    let disabled = patch_user(
        sim,
        name,
        &u2,
        json!([{"op": sim.op("replace"), "path": "active", "value": value}]),
    )
    .await;
    if let Some(doc) = disabled {
        let (v, d) = match doc.get("active") {
            Some(Json::Bool(false)) => (
                Verdict::Pass,
                "the user reads back with active false".to_owned(),
            ),
            Some(Json::String(s)) => (
                Verdict::Fail,
                format!("active reads back as the string {s:?}: store and return JSON booleans"),
            ),
            other => (
                Verdict::Fail,
                format!(
                    "active is {} after the disable: the user stays enabled in the app",
                    other.unwrap_or(&Json::Null)
                ),
            ),
        };
        conclude(sim, name, v, d);
        let disabled_name = doc
            .get("userName")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        let filter = format!("userName eq \"{disabled_name}\"");
        let outcome = sim
            .send(Method::GET, "/Users", &[("filter", &filter)], None)
            .await;
        let (v, d) = match judge_query(&outcome, 1) {
            (Verdict::Pass, d) => (Verdict::Pass, format!("{d}: disabled users stay visible")),
            (_, d) => (
                Verdict::Fail,
                format!("{d}: a disabled user must still be returned, or Entra creates it again"),
            ),
        };
        sim.judge(
            INCREMENTAL,
            "disabled user is still found",
            format!("GET /Users?filter={}", filter),
            v,
            d,
        );
    } else if sim.dialect == Dialect::Aad
        && let Some(s) = sim.steps.iter_mut().rev().find(|s| s.name == name)
    {
        s.detail.push_str(" (Entra's default dialect sends \"False\" as a string: accept string booleans, or add ?aadOptscim062020 to the Tenant URL)");
    }

    // Hard delete, and the same delete again.
    let outcome = sim
        .send(Method::DELETE, &format!("/Users/{u3}"), &[], None)
        .await;
    let (v, d) = match status_of(&outcome) {
        Some(204) => (Verdict::Pass, "204 No Content".to_owned()),
        Some(s) if (200..300).contains(&s) => (Verdict::Warn, format!("{s} instead of 204")),
        _ => sim
            .expect_success(&outcome, "the delete")
            .err()
            .unwrap_or((Verdict::Fail, describe(&outcome))),
    };
    sim.judge(
        INCREMENTAL,
        "delete (hard-deleted in the directory)",
        format!("DELETE /Users/{u3}"),
        v,
        d,
    );
    let outcome = sim.get_by_id("/Users", &u3, &[]).await;
    if status_of(&outcome) == Some(404) {
        sim.failed -= 1;
    }
    let (v, d) = match status_of(&outcome) {
        Some(404) => (Verdict::Pass, "404: gone".to_owned()),
        _ => (
            Verdict::Fail,
            format!("{}: the deleted user is still there", describe(&outcome)),
        ),
    };
    sim.judge(
        INCREMENTAL,
        "deleted user is gone",
        format!("GET /Users/{u3}"),
        v,
        d,
    );
    let outcome = sim
        .send(Method::DELETE, &format!("/Users/{u3}"), &[], None)
        .await;
    // A 404 here is the expected answer, not a failure of the job.
    if status_of(&outcome) == Some(404) {
        sim.failed -= 1;
    }
    let (v, d) = match status_of(&outcome) {
        Some(404) => (
            Verdict::Pass,
            "404, as the validator expects for a second delete".to_owned(),
        ),
        Some(s) if (200..300).contains(&s) => (
            Verdict::Warn,
            format!("{s}: the validator expects 404 for a resource already deleted"),
        ),
        _ => (Verdict::Warn, describe(&outcome)),
    };
    sim.judge(
        INCREMENTAL,
        "delete again",
        format!("DELETE /Users/{u3}"),
        v,
        d,
    );

    let Some(group) = group else { return };
    // Group rename.
    let new_group = format!("iris-sim-{}-renamed-group", sim.run);
    let body =
        Sim::patch(json!([{"op": sim.op("replace"), "path": "displayName", "value": new_group}]));
    let outcome = sim
        .send(Method::PATCH, &format!("/Groups/{group}"), &[], Some(&body))
        .await;
    let request = request_line("PATCH", &format!("/Groups/{group}"), Some(&body));
    let (v, d) = match sim.expect_success(&outcome, "the group rename") {
        Err(e) => e,
        Ok(()) => {
            let read = sim
                .get_by_id("/Groups", group, &[("excludedAttributes", "members")])
                .await;
            let name_now = body_of(&read)
                .and_then(|b| b.get("displayName"))
                .and_then(Json::as_str)
                .map(str::to_owned);
            match (status_of(&outcome), name_now) {
                (_, Some(n)) if n != new_group => (
                    Verdict::Fail,
                    format!("displayName is {n:?} after the rename"),
                ),
                (Some(204), Some(_)) => {
                    (Verdict::Pass, "204 and the group reads back renamed".into())
                }
                (Some(s), Some(_)) => (
                    Verdict::Pass,
                    format!("{s} (Entra prefers 204 for groups) and the group reads back renamed"),
                ),
                _ => (
                    Verdict::Fail,
                    format!("cannot read the group back: {}", describe(&read)),
                ),
            }
        }
    };
    sim.judge(INCREMENTAL, "rename group", request, v, d);

    // Remove one member, in the dialect's form: only that member may go.
    let ops = match sim.dialect {
        Dialect::Aad => json!([{"op": "Remove", "path": "members", "value": [{"value": u0}]}]),
        Dialect::Rfc => json!([{"op": "remove", "path": format!("members[value eq \"{u0}\"]")}]),
    };
    let body = Sim::patch(ops);
    let outcome = sim
        .send(Method::PATCH, &format!("/Groups/{group}"), &[], Some(&body))
        .await;
    let request = request_line("PATCH", &format!("/Groups/{group}"), Some(&body));
    // u3 was deleted above; a server may or may not have dropped its membership.
    let mut expected: Vec<String> = users
        .iter()
        .map(|(_, id)| id.clone())
        .filter(|id| *id != u0 && *id != u3)
        .collect();
    let (v, mut d) = match sim.expect_success(&outcome, "the member removal") {
        Err(e) => e,
        Ok(()) => {
            let (v, d) = check_members(sim, group, expected.clone()).await;
            if v == Verdict::Fail {
                expected.push(u3.clone());
                let again = check_members(sim, group, expected).await;
                if again.0 == Verdict::Pass {
                    (Verdict::Warn, "only the listed member was removed, but the deleted user is still a member: delete memberships with the user".into())
                } else {
                    (v, d)
                }
            } else {
                (v, d)
            }
        }
    };
    if v == Verdict::Fail && sim.dialect == Dialect::Aad {
        d.push_str(" — a server that reads Remove+members+value as \"remove all\" empties the group at every unassignment");
    }
    sim.judge(INCREMENTAL, "remove one member", request, v, d);

    // Add a member back.
    let body = Sim::patch(
        json!([{"op": sim.op("add"), "path": "members", "value": [{"$ref": null, "value": u0}]}]),
    );
    let outcome = sim
        .send(Method::PATCH, &format!("/Groups/{group}"), &[], Some(&body))
        .await;
    let (v, d) = match sim.expect_success(&outcome, "the member add") {
        Err(e) => e,
        Ok(()) => (
            Verdict::Pass,
            format!("{} accepted", status_of(&outcome).unwrap_or(0)),
        ),
    };
    sim.judge(
        INCREMENTAL,
        "add a member",
        request_line("PATCH", &format!("/Groups/{group}"), Some(&body)),
        v,
        d,
    );
}

async fn cleanup(sim: &mut Sim, users: &[(usize, String)], group: Option<&str>) {
    let mut left = 0;
    let (requests, failed) = (sim.requests, sim.failed);
    if let Some(g) = group {
        let o = sim
            .send(Method::DELETE, &format!("/Groups/{g}"), &[], None)
            .await;
        if !matches!(status_of(&o), Some(200..=299 | 404)) {
            left += 1;
        }
    }
    for (_, id) in users {
        let o = sim
            .send(Method::DELETE, &format!("/Users/{id}"), &[], None)
            .await;
        if !matches!(status_of(&o), Some(200..=299 | 404)) {
            left += 1;
        }
    }
    // The clean-up is not Entra's traffic: it does not count towards the quarantine verdict.
    sim.requests = requests;
    sim.failed = failed;
    let (v, d) = if left == 0 {
        (
            Verdict::Pass,
            "every simulated user and group was deleted".to_owned(),
        )
    } else {
        (
            Verdict::Warn,
            format!(
                "{left} simulated objects could not be deleted; remove iris-sim-{}-* by hand",
                sim.run
            ),
        )
    };
    sim.judge(
        CLEANUP,
        "delete what the simulation created",
        format!("DELETE /Users/…, /Groups/… (run {})", sim.run),
        v,
        d,
    );
}
