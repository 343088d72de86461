//! `iris sync` end to end: a CSV directory export, the real `iris` binary running sync cycles,
//! and a real Iris as the target (on both engines, its state in the same database): scope
//! changes, attribute edits, soft and hard deletes, groups and memberships, a target that
//! throttles and fails for a while, a target that goes down, refused credentials, and a sync
//! process killed in the middle of a cycle.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::fault_proxy::FaultProxy;
use crate::harness::TestApp;
use crate::operator::{Operator, Output};

const HEADER: &str = "objectId,objectType,userPrincipalName,givenName,surname,mail,mailNickname,department,accountEnabled,displayName,members";

fn user(id: &str, upn: &str, department: &str, enabled: bool) -> String {
    let given = upn.split(['.', '@']).next().unwrap_or_default();
    format!(
        "{id},user,{upn},{given},Doe,{upn},{given},{department},{},,",
        if enabled { "True" } else { "False" }
    )
}

fn group(id: &str, name: &str, members: &[&str]) -> String {
    format!("{id},group,,,,,,,,{name},{}", members.join(";"))
}

/// A directory export and the `iris sync` commands over the test's database.
struct Sync {
    op: Operator,
    _dir: tempfile::TempDir,
    source: PathBuf,
}

impl Sync {
    fn new(app: &TestApp) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("directory.csv");
        Self {
            op: Operator::new(&app.database_url),
            _dir: dir,
            source,
        }
    }

    fn write(&self, rows: &[String]) {
        let mut text = format!("{HEADER}\n");
        for r in rows {
            text.push_str(r);
            text.push('\n');
        }
        std::fs::write(&self.source, text).unwrap();
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.source.with_file_name(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    async fn create_job(&self, name: &str, url: &str, token: &str, extra: &[&str]) {
        let source = self.source.display().to_string();
        let mut args = vec![
            "sync", "job", "create", name, "--source", &source, "--url", url, "--token", token,
        ];
        args.extend_from_slice(extra);
        self.op.run(&args).await.ok();
    }

    /// One cycle; its JSON report (also when the job ends up quarantined, a failure exit).
    async fn cycle(&self, name: &str) -> (Output, Value) {
        let out = self
            .op
            .run(&["sync", "run", name, "--once", "--json"])
            .await;
        let report = serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("no report ({e}): {}{}", out.stdout, out.stderr));
        (out, report)
    }

    async fn run_ok(&self, name: &str) -> Value {
        let (out, report) = self.cycle(name).await;
        assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
        report
    }

    async fn status(&self, name: &str) -> Value {
        self.op
            .run(&["sync", "status", name, "--json"])
            .await
            .ok()
            .json()
    }

    async fn log(&self, name: &str) -> Vec<Value> {
        let out = self
            .op
            .run(&["sync", "log", name, "--json", "--limit", "100000"])
            .await
            .ok();
        out.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

async fn find_user(app: &TestApp, user_name: &str) -> Option<Value> {
    let reply = app
        .filter_users(&format!("userName eq \"{user_name}\""))
        .await
        .expect(StatusCode::OK);
    reply.resources().first().cloned()
}

async fn find_group(app: &TestApp, name: &str) -> Option<Value> {
    let q =
        serde_urlencoded::to_string([("filter", format!("displayName eq \"{name}\""))]).unwrap();
    let reply = app
        .get(&format!("/Groups?{q}"))
        .await
        .expect(StatusCode::OK);
    reply.resources().first().cloned()
}

fn member_ids(group: &Value) -> BTreeSet<String> {
    group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|v| v["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn counts(report: &Value, kind: &str, field: &str) -> u64 {
    report[kind][field]
        .as_u64()
        .unwrap_or_else(|| panic!("{kind}.{field} in {report}"))
}

const SCOPE: &str = r#"
[[filter]]
title = "Sales"
clauses = [{ attribute = "department", operator = "EQUALS", value = "Sales" }]

[[filter]]
title = "Engineering"
clauses = [{ attribute = "department", operator = "EQUALS", value = "Engineering" }]
"#;

async fn lifecycle(app: TestApp, tenant_url: String) -> TestApp {
    let sync = Sync::new(&app);
    let scope = sync.file("scope.toml", SCOPE);
    sync.write(&[
        user("u1", "alice@contoso.com", "Sales", true),
        user("u2", "bob@contoso.com", "Sales", true),
        user("u3", "carol@contoso.com", "Engineering", true),
        user("u4", "dave@contoso.com", "Sales", false),
        user("u5", "eve@contoso.com", "Engineering", true),
        user("u6", "frank@contoso.com", "Legal", true),
        group("g1", "Sales Team", &["u1", "u2"]),
        group("g2", "Engineering", &["u3", "u5"]),
    ]);
    sync.create_job("hr", &tenant_url, &app.token, &["--scope", &scope])
        .await;

    // The initial cycle: everyone in scope and enabled, their groups and memberships.
    let first = sync.run_ok("hr").await;
    assert_eq!(first["kind"], "initial");
    assert_eq!(counts(&first, "users", "created"), 4, "{first}");
    assert_eq!(counts(&first, "users", "out_of_scope"), 2, "{first}");
    assert_eq!(counts(&first, "groups", "created"), 2, "{first}");
    assert_eq!(first["membership_adds"], 4, "{first}");
    let alice = find_user(&app, "alice@contoso.com").await.expect("alice");
    assert_eq!(alice["active"], true);
    assert_eq!(alice["name"]["givenName"], "alice");
    assert_eq!(alice["name"]["formatted"], "alice Doe");
    assert_eq!(alice["emails"][0]["value"], "alice@contoso.com");
    assert_eq!(alice["externalId"], "alice");
    assert!(
        find_user(&app, "dave@contoso.com").await.is_none(),
        "disabled users are not provisioned"
    );
    assert!(
        find_user(&app, "frank@contoso.com").await.is_none(),
        "out of scope"
    );
    let bob = find_user(&app, "bob@contoso.com").await.unwrap();
    let sales = find_group(&app, "Sales Team").await.expect("group");
    let sales = app
        .get(&format!("/Groups/{}", sales["id"].as_str().unwrap()))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(
        member_ids(&sales),
        [
            alice["id"].as_str().unwrap().to_owned(),
            bob["id"].as_str().unwrap().to_owned()
        ]
        .into()
    );
    assert_eq!(sales["externalId"], "g1");

    // Nothing changed: the cycle makes its start-of-cycle query only.
    let idle = sync.run_ok("hr").await;
    assert_eq!(idle["kind"], "incremental");
    assert_eq!(idle["requests"], 1, "{idle}");
    assert_eq!(counts(&idle, "users", "unchanged"), 4, "{idle}");

    // A rename, a user leaving scope, a soft delete, an enable, a hard delete, a user entering
    // scope; a group rename with a member change, and a group gone.
    sync.write(&[
        user("u1", "alice.smith@contoso.com", "Sales", true),
        user("u2", "bob@contoso.com", "Marketing", true),
        user("u3", "carol@contoso.com", "Engineering", false),
        user("u4", "dave@contoso.com", "Sales", true),
        user("u6", "frank@contoso.com", "Sales", true),
        group("g1", "Sales", &["u1", "u4"]),
    ]);
    let second = sync.run_ok("hr").await;
    assert_eq!(counts(&second, "users", "updated"), 1, "{second}");
    assert_eq!(counts(&second, "users", "disabled"), 2, "{second}");
    assert_eq!(counts(&second, "users", "created"), 2, "{second}");
    assert_eq!(counts(&second, "users", "deleted"), 1, "{second}");
    assert_eq!(counts(&second, "users", "failed"), 0, "{second}");
    assert_eq!(counts(&second, "groups", "updated"), 1, "{second}");
    assert_eq!(counts(&second, "groups", "deleted"), 1, "{second}");
    assert_eq!(second["membership_adds"], 1, "{second}");
    assert_eq!(second["membership_removes"], 1, "{second}");

    let renamed = find_user(&app, "alice.smith@contoso.com")
        .await
        .expect("renamed");
    assert_eq!(renamed["id"], alice["id"], "a rename keeps the object");
    assert!(find_user(&app, "alice@contoso.com").await.is_none());
    assert_eq!(
        find_user(&app, "bob@contoso.com").await.unwrap()["active"],
        false
    );
    assert_eq!(
        find_user(&app, "carol@contoso.com").await.unwrap()["active"],
        false
    );
    let dave = find_user(&app, "dave@contoso.com").await.expect("dave");
    let frank = find_user(&app, "frank@contoso.com").await.expect("frank");
    assert!(
        find_user(&app, "eve@contoso.com").await.is_none(),
        "hard-deleted"
    );
    assert!(
        find_group(&app, "Engineering").await.is_none(),
        "group deleted"
    );
    let sales_now = app
        .get(&format!("/Groups/{}", sales["id"].as_str().unwrap()))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(sales_now["displayName"], "Sales");
    assert_eq!(
        member_ids(&sales_now),
        [
            alice["id"].as_str().unwrap().to_owned(),
            dave["id"].as_str().unwrap().to_owned()
        ]
        .into()
    );
    assert!(frank["id"].is_string());

    // Back in scope: bob is re-enabled with his new department's data.
    sync.write(&[
        user("u1", "alice.smith@contoso.com", "Sales", true),
        user("u2", "bob@contoso.com", "Sales", true),
        user("u3", "carol@contoso.com", "Engineering", false),
        user("u4", "dave@contoso.com", "Sales", true),
        user("u6", "frank@contoso.com", "Sales", true),
        group("g1", "Sales", &["u1", "u4"]),
    ]);
    let third = sync.run_ok("hr").await;
    assert_eq!(counts(&third, "users", "enabled"), 1, "{third}");
    assert_eq!(
        find_user(&app, "bob@contoso.com").await.unwrap()["active"],
        true
    );

    // The provisioning log: one record per change, in the shared layout, with request ids.
    let log = sync.log("hr").await;
    let actions: BTreeSet<&str> = log.iter().map(|r| r["Action"].as_str().unwrap()).collect();
    for a in ["Create", "Update", "Disable", "Enable", "Delete"] {
        assert!(actions.contains(a), "no {a} in {actions:?}");
    }
    assert!(log.iter().all(|r| r["Status"] == "Success"), "{log:?}");
    assert!(log.iter().all(|r| r["Job Id"] == "hr"));
    let delete = log
        .iter()
        .find(|r| r["Action"] == "Delete" && r["Source Identity Id"] == "u5")
        .unwrap();
    assert_eq!(delete["Target Identity"], "eve@contoso.com");
    assert!(!delete["Request Id"].as_str().unwrap().is_empty());
    let rename = log
        .iter()
        .find(|r| r["Action"] == "Update" && r["Source Identity Id"] == "u1")
        .unwrap();
    assert_eq!(
        rename["Modified Properties"],
        r#"userName: "alice@contoso.com" -> "alice.smith@contoso.com"; emails[type eq "work"].value: "alice@contoso.com" -> "alice.smith@contoso.com""#
    );
    let csv = sync.op.run(&["sync", "log", "hr"]).await.ok().stdout;
    assert!(
        csv.starts_with("Date (UTC),Id,Request Id,Job Id,Cycle Id,Change Id,Action,"),
        "{csv}"
    );
    app
}

async fn a_csv_directory_is_provisioned_and_kept_in_sync_in_entras_default_dialect(
    app: TestApp,
) -> TestApp {
    let url = app.tenant_url.clone();
    lifecycle(app, url).await
}

async fn a_csv_directory_is_provisioned_and_kept_in_sync_in_the_rfc_dialect(
    app: TestApp,
) -> TestApp {
    let url = format!("{}?aadOptscim062020", app.tenant_url);
    lifecycle(app, url).await
}

async fn a_dry_run_reports_the_changes_and_sends_nothing(app: TestApp) -> TestApp {
    let sync = Sync::new(&app);
    sync.write(&[user("u1", "ann@contoso.com", "Sales", true)]);
    sync.create_job("hr", &app.tenant_url, &app.token, &[])
        .await;
    let out = sync
        .op
        .run(&["sync", "run", "hr", "--dry-run", "--json"])
        .await
        .ok();
    let report: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["planned"][0]["action"], "Create");
    assert_eq!(report["planned"][0]["identity"], "ann@contoso.com");
    assert!(find_user(&app, "ann@contoso.com").await.is_none());
    // And the real run afterwards still sees everything as new.
    let report = sync.run_ok("hr").await;
    assert_eq!(report["kind"], "initial");
    assert_eq!(counts(&report, "users", "created"), 1);
    app
}

async fn only_members_of_assigned_groups_are_provisioned(app: TestApp) -> TestApp {
    let sync = Sync::new(&app);
    let scope = sync.file("scope.json", r#"{"assigned_groups": ["g-app"]}"#);
    sync.write(&[
        user("u1", "in@contoso.com", "Sales", true),
        user("u2", "out@contoso.com", "Sales", true),
        group("g-app", "App users", &["u1"]),
        group("g-other", "Others", &["u2"]),
    ]);
    sync.create_job("hr", &app.tenant_url, &app.token, &["--scope", &scope])
        .await;
    let report = sync.run_ok("hr").await;
    assert_eq!(counts(&report, "users", "created"), 1, "{report}");
    assert!(find_user(&app, "in@contoso.com").await.is_some());
    assert!(find_user(&app, "out@contoso.com").await.is_none());
    assert!(find_group(&app, "App users").await.is_some());
    assert!(find_group(&app, "Others").await.is_none());
    // Unassigned: the user is disabled, not deleted.
    sync.write(&[
        user("u1", "in@contoso.com", "Sales", true),
        group("g-app", "App users", &[]),
    ]);
    let report = sync.run_ok("hr").await;
    assert_eq!(counts(&report, "users", "disabled"), 1, "{report}");
    assert_eq!(
        find_user(&app, "in@contoso.com").await.unwrap()["active"],
        false
    );
    app
}

async fn a_target_that_throttles_and_fails_for_a_while_is_retried_until_it_answers(
    app: TestApp,
) -> TestApp {
    let proxy = FaultProxy::start(&app.base_url).await;
    let sync = Sync::new(&app);
    let rows: Vec<String> = (0..30)
        .map(|i| {
            user(
                &format!("u{i}"),
                &format!("user{i}@contoso.com"),
                "Sales",
                true,
            )
        })
        .collect();
    sync.write(&rows);
    let url = format!("{}/scim/v2/acme", proxy.base_url);
    sync.create_job(
        "hr",
        &url,
        &app.token,
        &[
            "--concurrency",
            "4",
            "--max-retries",
            "6",
            "--backoff-ms",
            "50",
        ],
    )
    .await;
    // Two 429s (Retry-After: 1) then 500s and 503s, spread over the first requests.
    proxy.script(&[429, 429, 500, 503, 500, 429]);
    let started = Instant::now();
    let report = sync.run_ok("hr").await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(proxy.injected(), 6);
    assert_eq!(counts(&report, "users", "created"), 30, "{report}");
    assert_eq!(counts(&report, "users", "failed"), 0, "{report}");
    assert!(report["quarantine"].is_null());
    assert_eq!(app.all_user_ids().await.len(), 30, "no duplicate creates");
    // The log's request ids are the ones the target received.
    let forwarded: BTreeSet<String> = proxy
        .faults
        .request_ids
        .lock()
        .unwrap()
        .iter()
        .cloned()
        .collect();
    for record in sync.log("hr").await {
        let id = record["Request Id"].as_str().unwrap();
        assert!(
            forwarded.contains(id),
            "request id {id} never reached the target"
        );
    }
    app
}

async fn failing_objects_are_escrowed_and_a_target_that_is_down_quarantines_the_job(
    app: TestApp,
) -> TestApp {
    let mut proxy = FaultProxy::start(&app.base_url).await;
    let sync = Sync::new(&app);
    let mut rows: Vec<String> = (0..10)
        .map(|i| {
            user(
                &format!("u{i}"),
                &format!("user{i}@contoso.com"),
                "Sales",
                true,
            )
        })
        .collect();
    sync.write(&rows);
    let url = format!("{}/scim/v2/acme", proxy.base_url);
    sync.create_job(
        "hr",
        &url,
        &app.token,
        &[
            "--max-retries",
            "1",
            "--backoff-ms",
            "20",
            "--quarantine-min-events",
            "5",
        ],
    )
    .await;
    // One user's requests always fail: it is escrowed, the others are provisioned.
    proxy.fail_matching(Some("user3@"));
    let report = sync.run_ok("hr").await;
    assert_eq!(counts(&report, "users", "created"), 9, "{report}");
    assert_eq!(counts(&report, "users", "failed"), 1, "{report}");
    assert!(report["quarantine"].is_null(), "{report}");
    let status = sync.status("hr").await;
    assert_eq!(status["status"], "idle");
    let escrows = status["escrows"].as_array().unwrap();
    assert_eq!(escrows.len(), 1, "{status}");
    assert_eq!(escrows[0]["source_id"], "u3");
    assert_eq!(escrows[0]["attempts"], 1);
    assert_eq!(
        escrows[0]["error_code"],
        "SystemForCrossDomainIdentityManagementServiceUnavailable"
    );
    let failures = sync
        .op
        .run(&["sync", "log", "hr", "--failures", "--json"])
        .await
        .ok();
    assert_eq!(failures.stdout.lines().count(), 1, "{}", failures.stdout);

    // Still failing: a second attempt is counted.
    let report = sync.run_ok("hr").await;
    assert_eq!(counts(&report, "users", "failed"), 1, "{report}");
    assert_eq!(sync.status("hr").await["escrows"][0]["attempts"], 2);

    // Gone from the export: nothing is left to retry.
    let without: Vec<String> = rows
        .iter()
        .filter(|r| !r.starts_with("u3,"))
        .cloned()
        .collect();
    sync.write(&without);
    sync.run_ok("hr").await;
    assert_eq!(
        sync.status("hr").await["escrows"].as_array().unwrap().len(),
        0
    );
    sync.write(&rows);
    sync.run_ok("hr").await;
    assert_eq!(sync.status("hr").await["escrows"][0]["attempts"], 1);

    // Fixed: the escrowed user is created and the escrow cleared.
    proxy.fail_matching(None);
    let report = sync.run_ok("hr").await;
    assert_eq!(counts(&report, "users", "created"), 1, "{report}");
    assert!(find_user(&app, "user3@contoso.com").await.is_some());
    assert_eq!(
        sync.status("hr").await["escrows"].as_array().unwrap().len(),
        0
    );

    // The target goes away: the job is quarantined with the reason, and nothing is lost.
    proxy.stop().await;
    rows.push(user("u10", "user10@contoso.com", "Sales", true));
    sync.write(&rows);
    let (out, report) = sync.cycle("hr").await;
    assert!(!out.status.success(), "a quarantine is a failed run");
    assert_eq!(
        report["quarantine"]["reason"], "EncounteredQuarantineException",
        "{report}"
    );
    assert!(
        report["quarantine"]["detail"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{report}"
    );
    let status = sync.status("hr").await;
    assert_eq!(status["status"], "quarantined", "{status}");
    assert_eq!(
        status["quarantine"]["reason"],
        "EncounteredQuarantineException"
    );
    let text = sync.op.run(&["sync", "status", "hr"]).await.ok().stdout;
    assert!(text.contains("quarantined since"), "{text}");

    // Back up (a new proxy: the job points at the Tenant URL it was given, so re-point it).
    sync.op.run(&["sync", "job", "delete", "hr"]).await.ok();
    sync.create_job("hr", &app.tenant_url, &app.token, &[])
        .await;
    let report = sync.run_ok("hr").await;
    assert!(report["quarantine"].is_null());
    // A new job matches the users the old one created instead of creating them again; only
    // the user added while the target was down is new.
    assert_eq!(counts(&report, "users", "created"), 1, "{report}");
    assert_eq!(counts(&report, "users", "updated"), 10, "{report}");
    assert!(find_user(&app, "user10@contoso.com").await.is_some());
    assert_eq!(app.all_user_ids().await.len(), 11);
    app
}

async fn too_many_failures_quarantine_the_job_and_stop_the_cycle(app: TestApp) -> TestApp {
    let proxy = FaultProxy::start(&app.base_url).await;
    let sync = Sync::new(&app);
    let rows: Vec<String> = (0..200)
        .map(|i| {
            user(
                &format!("u{i}"),
                &format!("user{i}@contoso.com"),
                "Sales",
                true,
            )
        })
        .collect();
    sync.write(&rows);
    let url = format!("{}/scim/v2/acme", proxy.base_url);
    sync.create_job(
        "hr",
        &url,
        &app.token,
        &[
            "--max-retries",
            "0",
            "--concurrency",
            "2",
            "--quarantine-min-events",
            "10",
        ],
    )
    .await;
    // Every create fails; the matching queries succeed: half the requests fail.
    proxy.fail_matching(Some("@contoso.com\""));
    let (out, report) = sync.cycle("hr").await;
    assert!(!out.status.success());
    assert_eq!(
        report["quarantine"]["reason"], "EncounteredEscrowProportionThreshold",
        "{report}"
    );
    let requests = report["requests"].as_u64().unwrap();
    assert!(
        requests < 100,
        "the cycle went on sending after the threshold: {report}"
    );
    assert_eq!(sync.status("hr").await["status"], "quarantined");
    // Fixed: the next cycle provisions everyone and lifts the quarantine.
    proxy.fail_matching(None);
    let report = sync.run_ok("hr").await;
    assert!(report["quarantine"].is_null());
    assert_eq!(counts(&report, "users", "created"), 200, "{report}");
    assert_eq!(sync.status("hr").await["status"], "idle");
    assert!(sync.status("hr").await["quarantine"].is_null());
    app
}

async fn refused_credentials_quarantine_the_job_at_once(app: TestApp) -> TestApp {
    let sync = Sync::new(&app);
    sync.write(&[user("u1", "ann@contoso.com", "Sales", true)]);
    sync.create_job("hr", &app.tenant_url, "iris_0000000000000000_wrong", &[])
        .await;
    let (out, report) = sync.cycle("hr").await;
    assert!(!out.status.success());
    assert_eq!(
        report["quarantine"]["reason"],
        "EncounteredQuarantineException"
    );
    assert!(
        report["quarantine"]["detail"]
            .as_str()
            .unwrap()
            .contains("credentials")
    );
    assert_eq!(
        report["requests"], 1,
        "no request after the refused probe: {report}"
    );
    assert!(!out.stdout.contains("wrong"), "the token is never printed");
    let shown = sync
        .op
        .run(&["sync", "job", "show", "hr", "--json"])
        .await
        .ok()
        .stdout;
    assert!(!shown.contains("wrong"), "{shown}");
    app
}

async fn a_sync_killed_in_the_middle_of_a_cycle_neither_duplicates_nor_skips(
    app: TestApp,
) -> TestApp {
    const USERS: usize = 120;
    let proxy = FaultProxy::start(&app.base_url).await;
    let sync = Sync::new(&app);
    let rows: Vec<String> = (0..USERS)
        .map(|i| {
            user(
                &format!("u{i}"),
                &format!("user{i}@contoso.com"),
                "Sales",
                true,
            )
        })
        .collect();
    sync.write(&rows);
    let url = format!("{}/scim/v2/acme", proxy.base_url);
    sync.create_job(
        "hr",
        &url,
        &app.token,
        &["--concurrency", "4", "--no-groups"],
    )
    .await;
    proxy.set_delay(15);
    let mut child = crate::operator::command(&sync.op.database, &sync.op.public_url)
        .args(["sync", "run", "hr", "--once", "--json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = app.get("/Users?count=1").await.body["totalResults"]
            .as_u64()
            .unwrap_or(0);
        if n >= 30 {
            break;
        }
        assert!(Instant::now() < deadline, "the cycle made no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let created_before = app.all_user_ids().await.len();
    assert!(created_before < USERS, "killed too late: {created_before}");

    proxy.set_delay(0);
    let report = sync.run_ok("hr").await;
    assert_eq!(counts(&report, "users", "failed"), 0, "{report}");
    let users = app.get("/Users?count=1000").await.expect(StatusCode::OK);
    let names: Vec<String> = users
        .resources()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_owned())
        .collect();
    let distinct: BTreeSet<&String> = names.iter().collect();
    assert_eq!(names.len(), USERS, "every user exactly once");
    assert_eq!(distinct.len(), USERS);
    // The state knows every one of them: the next cycle has nothing to do.
    let idle = sync.run_ok("hr").await;
    assert_eq!(counts(&idle, "users", "unchanged"), USERS as u64, "{idle}");
    assert_eq!(idle["requests"], 1, "{idle}");
    app
}

async fn sync_start_runs_a_cycle_at_once_and_stops_on_sigterm(app: TestApp) -> TestApp {
    let sync = Sync::new(&app);
    sync.write(&[user("u1", "ann@contoso.com", "Sales", true)]);
    sync.create_job("hr", &app.tenant_url, &app.token, &[])
        .await;
    let log = sync.source.with_file_name("start.stdout");
    let mut child = crate::operator::command(&sync.op.database, &sync.op.public_url)
        .args(["sync", "start", "--json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while find_user(&app, "ann@contoso.com").await.is_none() {
        assert!(
            Instant::now() < deadline,
            "sync start did not run a first cycle"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Wait for the cycle to be recorded, then stop the long-running process.
    while sync.status("hr").await["last_cycle"]["finished"].is_null() {
        assert!(Instant::now() < deadline, "the first cycle did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("sync start ignored SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    let out = std::fs::read_to_string(&log).unwrap();
    let report: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(report["users"]["created"], 1, "{out}");
    app
}

const MAPPING: &str = r#"
[[user]]
target = "externalId"
source = "[employeeId]"
matching = 1

[[user]]
target = "userName"
source = "ToLower([userPrincipalName])"
matching = 2

[[user]]
target = "active"
source = "Not([IsSoftDeleted])"

[[user]]
target = "displayName"
source = 'Join(", ", [surname], [givenName])'

[[user]]
target = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
source = 'Switch([dept], "Other", "S", "Sales", "E", "Engineering")'

[[user]]
target = "title"
source = "[jobTitle]"
apply = "on_create"
"#;

async fn a_json_lines_export_with_a_custom_mapping_matches_by_precedence_and_respects_on_create(
    app: TestApp,
) -> TestApp {
    let sync = Sync::new(&app);
    // Someone created this user by hand; the directory knows it by its employee id.
    let existing = app
        .create_user(&serde_json::json!({"userName": "old.name@contoso.com", "externalId": "E1"}))
        .await;
    let mapping = sync.file("mapping.toml", MAPPING);
    let source = sync.source.with_file_name("directory.jsonl");
    let lines = |title: &str, dept: &str| {
        format!(
            "{}\n{}\n",
            serde_json::json!({"objectId": "1", "employeeId": "E1", "userPrincipalName": "Ann.Lee@Contoso.com",
                               "givenName": "Ann", "surname": "Lee", "dept": dept, "jobTitle": title}),
            serde_json::json!({"objectId": "2", "employeeId": "E2", "userPrincipalName": "Bo@Contoso.com",
                               "givenName": "Bo", "dept": "E", "jobTitle": title, "accountEnabled": true}),
        )
    };
    std::fs::write(&source, lines("Engineer", "S")).unwrap();
    let source_arg = source.display().to_string();
    sync.op
        .run(&[
            "sync",
            "job",
            "create",
            "hr",
            "--source",
            &source_arg,
            "--format",
            "jsonl",
            "--url",
            &app.tenant_url,
            "--token",
            &app.token,
            "--mapping",
            &mapping,
        ])
        .await
        .ok();
    let report = sync.run_ok("hr").await;
    assert_eq!(counts(&report, "users", "created"), 1, "{report}");
    assert_eq!(
        counts(&report, "users", "updated"),
        1,
        "matched by externalId: {report}"
    );
    let ann = app
        .get(&format!("/Users/{existing}"))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(
        ann["userName"], "ann.lee@contoso.com",
        "adopted and renamed, not duplicated"
    );
    assert_eq!(ann["displayName"], "Lee, Ann");
    assert_eq!(
        ann["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Sales"
    );
    assert!(
        ann.get("title").is_none(),
        "on_create mappings do not apply to a matched user"
    );
    let bo = find_user(&app, "bo@contoso.com").await.expect("created");
    assert_eq!(bo["title"], "Engineer");
    assert_eq!(bo["displayName"], "Bo");
    assert_eq!(app.all_user_ids().await.len(), 2);

    // A new title is not sent (only during creation); a new department is.
    std::fs::write(&source, lines("Manager", "E")).unwrap();
    let report = sync.run_ok("hr").await;
    assert_eq!(counts(&report, "users", "updated"), 1, "{report}");
    let bo = find_user(&app, "bo@contoso.com").await.unwrap();
    assert_eq!(bo["title"], "Engineer");
    let ann = app.get(&format!("/Users/{existing}")).await.body;
    assert_eq!(
        ann["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Engineering"
    );

    // A mapping with a broken expression is refused at job creation, with its column.
    let bad = sync.file(
        "bad.toml",
        "[[user]]\ntarget = \"userName\"\nsource = 'Join(\" \", [a] [b])'\nmatching = 1\n",
    );
    let out = sync
        .op
        .run(&[
            "sync",
            "job",
            "create",
            "bad",
            "--source",
            &source_arg,
            "--format",
            "jsonl",
            "--url",
            &app.tenant_url,
            "--token",
            &app.token,
            "--mapping",
            &bad,
        ])
        .await;
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("user[0] (target userName): source column 15: expected ',' or ')'"),
        "{}",
        out.stderr
    );
    app
}

crate::on_both_backends!(
    a_json_lines_export_with_a_custom_mapping_matches_by_precedence_and_respects_on_create,
    sync_start_runs_a_cycle_at_once_and_stops_on_sigterm,
    a_csv_directory_is_provisioned_and_kept_in_sync_in_entras_default_dialect,
    a_csv_directory_is_provisioned_and_kept_in_sync_in_the_rfc_dialect,
    a_dry_run_reports_the_changes_and_sends_nothing,
    only_members_of_assigned_groups_are_provisioned,
    a_target_that_throttles_and_fails_for_a_while_is_retried_until_it_answers,
    failing_objects_are_escrowed_and_a_target_that_is_down_quarantines_the_job,
    refused_credentials_quarantine_the_job_at_once,
    too_many_failures_quarantine_the_job_and_stop_the_cycle,
    a_sync_killed_in_the_middle_of_a_cycle_neither_duplicates_nor_skips,
);
