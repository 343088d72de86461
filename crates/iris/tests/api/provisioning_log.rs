//! The provisioning log and the cycles, as an operator reads them (`iris log`, `iris tenant
//! status`) after a replayed Entra session: Test Connection, an initial cycle, an incremental
//! cycle with a disable, a membership change and one failing PATCH. The suite's servers end a
//! cycle after one quiet second (harness `test_config`).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::operator::Operator;

const ENTRA: (&str, &str) = ("user-agent", "Azure Active Directory SCIM Client");
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Longer than the suite's idle gap: the next request opens a new cycle.
const BETWEEN_CYCLES: Duration = Duration::from_millis(1600);

async fn entra(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value, String) {
    let reply = app.send_with_header(method, path, ENTRA, body).await;
    let id = reply.header("x-request-id").unwrap_or_default().to_owned();
    (reply.status, reply.body, id)
}

async fn matching_query(app: &TestApp, attribute: &str, value: &str, resource: &str) -> u64 {
    let q =
        serde_urlencoded::to_string([("filter", format!("{attribute} eq \"{value}\""))]).unwrap();
    let extra = if resource == "Groups" {
        "excludedAttributes=members&"
    } else {
        ""
    };
    let (status, body, _) = entra(app, Method::GET, &format!("/{resource}?{extra}{q}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["totalResults"].as_u64().unwrap()
}

async fn test_connection(app: &TestApp) {
    let guid = uuid::Uuid::new_v4().to_string();
    assert_eq!(matching_query(app, "userName", &guid, "Users").await, 0);
    assert_eq!(matching_query(app, "displayName", &guid, "Groups").await, 0);
}

fn ops(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// `iris log …` as JSON Lines, oldest first.
async fn log(app: &TestApp, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["log", &app.tenant_name, "--json"];
    if !extra.contains(&"--limit") {
        args.extend(["--limit", "1000"]);
    }
    args.extend_from_slice(extra);
    Operator::new(&app.database_url)
        .run(&args)
        .await
        .ok()
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The tenant's cycles, newest first, once `settled` holds for them (the servers add what they
/// served every 100 ms, and count a burst's changes again a few seconds after it).
async fn cycles_when(app: &TestApp, settled: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let cycles: Vec<Value> = Operator::new(&app.database_url)
            .run(&["log", &app.tenant_name, "--cycles", "--json"])
            .await
            .ok()
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if settled(&cycles) || Instant::now() > deadline {
            return cycles;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn counts(cycle: &Value) -> [u64; 8] {
    [
        "requests", "probes", "queries", "failures", "creates", "updates", "disables", "deletes",
    ]
    .map(|k| cycle[k].as_u64().unwrap_or(u64::MAX))
}

async fn a_replayed_entra_session_yields_exactly_its_events_and_cycles(app: TestApp) -> TestApp {
    // Test Connection.
    test_connection(&app).await;
    tokio::time::sleep(BETWEEN_CYCLES).await;

    // The initial cycle: a probe, then each user looked up and created, a group, its members.
    test_connection(&app).await;
    let mut ids = Vec::new();
    let mut create_request_ids = Vec::new();
    for name in ["ann", "bob", "cid"] {
        let user_name = format!("{name}@contoso.com");
        assert_eq!(
            matching_query(&app, "userName", &user_name, "Users").await,
            0
        );
        let body = json!({"userName": user_name, "active": true, "displayName": name,
                          "emails": [{"type": "work", "value": user_name, "primary": true}]});
        let (status, created, request_id) = entra(&app, Method::POST, "/Users", Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED);
        ids.push(created["id"].as_str().unwrap().to_owned());
        create_request_ids.push(request_id);
    }
    assert_eq!(
        matching_query(&app, "displayName", "Staff", "Groups").await,
        0
    );
    let (status, group, _) = entra(
        &app,
        Method::POST,
        "/Groups",
        Some(&json!({"displayName": "Staff"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let group = group["id"].as_str().unwrap().to_owned();
    let add = ops(json!([{"op": "Add", "path": "members",
                          "value": [{"value": ids[0]}, {"value": ids[1]}]}]));
    let (status, _, _) = entra(&app, Method::PATCH, &format!("/Groups/{group}"), Some(&add)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    tokio::time::sleep(BETWEEN_CYCLES).await;

    // An incremental cycle: bob disabled, ann leaves the group, one PATCH Iris refuses.
    test_connection(&app).await;
    let disable = ops(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    let (status, _, _) = entra(
        &app,
        Method::PATCH,
        &format!("/Users/{}", ids[1]),
        Some(&disable),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let remove = ops(json!([{"op": "Remove", "path": "members", "value": [{"value": ids[0]}]}]));
    let (status, _, _) = entra(
        &app,
        Method::PATCH,
        &format!("/Groups/{group}"),
        Some(&remove),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let broken =
        ops(json!([{"op": "Replace", "path": "emails[type eq]", "value": "x@contoso.com"}]));
    let (status, refused, refused_request) = entra(
        &app,
        Method::PATCH,
        &format!("/Users/{}", ids[2]),
        Some(&broken),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains(&refused_request),
        "the error names its request id: {refused}"
    );

    // The events, oldest first: every change and the refusal, nothing else.
    let events = log(&app, &[]).await;
    let summary: Vec<(String, String, String, u64)> = events
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap().to_owned(),
                e["resource_type"].as_str().unwrap().to_owned(),
                e["identity"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String, u64)> = [
        ("create", "User", "ann@contoso.com", 201),
        ("create", "User", "bob@contoso.com", 201),
        ("create", "User", "cid@contoso.com", 201),
        ("create", "Group", "Staff", 201),
        ("members-added", "Group", "Staff", 200),
        ("disable", "User", "bob@contoso.com", 200),
        ("members-removed", "Group", "Staff", 200),
        ("update", "User", "cid@contoso.com", 400),
    ]
    .into_iter()
    .map(|(a, b, c, d)| (a.to_owned(), b.to_owned(), c.to_owned(), d))
    .collect();
    assert_eq!(summary, expected, "{events:#?}");
    assert!(events.iter().all(|e| e["client"] == "entra-id"));
    assert_eq!(
        events[..3]
            .iter()
            .map(|e| e["request_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        create_request_ids
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "events name the X-Request-Id their responses carried"
    );
    assert_eq!(events[4]["members"]["added"], json!([ids[0], ids[1]]));
    assert_eq!(
        events[5]["changes"],
        json!([{"attribute": "active", "old": true, "new": false}])
    );
    assert_eq!(events[6]["members"]["removed"], json!([ids[0]]));
    assert_eq!(events[7]["resource_id"], json!(ids[2]));
    assert_eq!(events[7]["scim_type"], "invalidPath");
    assert_eq!(
        serde_json::from_str::<Value>(events[7]["body"].as_str().unwrap()).unwrap(),
        broken
    );

    // The cycles, newest first.
    let cycles = cycles_when(&app, |c| {
        c.len() == 3 && c[0]["disables"] == 1 && c[1]["creates"] == 4 && c[1]["updates"] == 1
    })
    .await;
    let kinds: Vec<&str> = cycles.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["incremental", "initial", "test-connection"],
        "{cycles:#?}"
    );
    // requests, probes, queries, failures, creates, updates, disables, deletes
    assert_eq!(counts(&cycles[2]), [2, 2, 0, 0, 0, 0, 0, 0]);
    assert_eq!(counts(&cycles[1]), [11, 2, 4, 0, 4, 1, 0, 0]);
    assert_eq!(counts(&cycles[0]), [5, 2, 0, 1, 0, 1, 1, 0]);

    // The verdict: one failure in five requests is 20 %, where Entra's quarantine looms.
    let status = Operator::new(&app.database_url)
        .run(&["tenant", "status", &app.tenant_name, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(status["health"], "failing", "{status:#}");
    assert_eq!(status["last_provisioning_cycle"]["kind"], "incremental");
    assert_eq!(status["last_failure"]["scim_type"], "invalidPath");
    app
}

async fn a_resources_history_is_every_change_to_it_oldest_first(app: TestApp) -> TestApp {
    let ann = app
        .create_user(&json!({"userName": "ann@contoso.com", "title": "Engineer"}))
        .await;
    let other = app
        .create_user(&json!({"userName": "zed@contoso.com"}))
        .await;
    app.patch_user(
        &ann,
        json!([{"op": "replace", "path": "title", "value": "Lead"}]),
    )
    .await
    .expect(StatusCode::OK);
    // A rename: the history follows the resource, whatever it is called now.
    app.patch_user(
        &ann,
        json!([{"op": "replace", "path": "userName", "value": "ann.smith@contoso.com"}]),
    )
    .await
    .expect(StatusCode::OK);
    app.patch_user(
        &other,
        json!([{"op": "replace", "path": "title", "value": "x"}]),
    )
    .await
    .expect(StatusCode::OK);
    app.delete(&format!("/Users/{ann}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    for key in ["ANN@contoso.com", ann.as_str()] {
        let history = log(&app, &["--user", key]).await;
        let seen: Vec<&str> = history
            .iter()
            .map(|e| e["operation"].as_str().unwrap())
            .collect();
        assert_eq!(
            seen,
            ["create", "update", "update", "delete"],
            "history of {key}"
        );
        assert_eq!(
            history[1]["changes"],
            json!([{"attribute": "title", "old": "Engineer", "new": "Lead"}])
        );
    }
    // Filters: by operation, by status, and the newest N.
    assert_eq!(log(&app, &["--op", "delete"]).await.len(), 1);
    assert_eq!(log(&app, &["--op", "create,delete"]).await.len(), 3);
    assert!(log(&app, &["--status", "failure"]).await.is_empty());
    let newest = log(&app, &["--limit", "2"]).await;
    assert_eq!(
        newest
            .iter()
            .map(|e| e["operation"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["update", "delete"],
        "the newest two, oldest first"
    );
    assert!(
        log(&app, &["--since", "1h", "--until", "30m"])
            .await
            .is_empty()
    );
    assert_eq!(log(&app, &["--since", "1h"]).await.len(), 6);

    // The CSV an admin puts beside Entra's download.
    let csv = Operator::new(&app.database_url)
        .run(&["log", &app.tenant_name, "--csv"])
        .await
        .ok()
        .stdout;
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        iris_scim::provisioning_log::HEADER.join(",")
    );
    let records = iris_scim::provisioning_log::parse_csv(&csv).unwrap();
    assert_eq!(records.len(), 6);
    assert_eq!(records[0].action.as_str(), "Create");
    assert_eq!(records[5].action.as_str(), "Delete");
    assert_eq!(records[5].target_identity_id, ann);
    assert_eq!(records[0].target_system, "Iris");
    app
}

async fn events_past_retention_are_purged(app: TestApp) -> TestApp {
    app.create_users("kept", 3).await;
    let operator = Operator::new(&app.database_url);
    operator
        .run(&["tenant", "retention", &app.tenant_name, "7"])
        .await
        .ok();
    // Nothing is older than 7 days: the purge by retention keeps everything.
    let out = operator.run(&["log", "purge"]).await.ok().stdout;
    assert!(out.contains("purged 0 events"), "{out}");
    assert_eq!(log(&app, &[]).await.len(), 3);
    // Everything is older than 0 days.
    let out = operator
        .run(&["log", "purge", &app.tenant_name, "--older-than", "0"])
        .await
        .ok()
        .stdout;
    assert!(out.contains("purged 3 events"), "{out}");
    assert!(log(&app, &[]).await.is_empty());
    let refused = operator
        .run(&["tenant", "retention", &app.tenant_name, "0"])
        .await;
    assert!(!refused.status.success());
    app
}

async fn refusals_of_every_method_are_events_and_bad_tokens_are_not(app: TestApp) -> TestApp {
    let ann = app
        .create_user(&json!({"userName": "ann@contoso.com"}))
        .await;
    app.post("/Users", &json!({"userName": "ANN@contoso.com"}))
        .await
        .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    app.put(
        &format!("/Users/{ann}"),
        &json!({"displayName": "no userName"}),
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    app.delete("/Users/00000000-0000-0000-0000-000000000000")
        .await
        .expect(StatusCode::NOT_FOUND);
    app.get("/Groups?filter=nope%20eq%201")
        .await
        .expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
    let secret = json!({"userName": "eve@contoso.com", "password": "Sup3r-secret"});
    app.send_as(
        Some("iris_0123456789abcdef_nope"),
        Method::POST,
        "/Users",
        Some(&secret),
    )
    .await
    .expect(StatusCode::UNAUTHORIZED);
    let refused = log(&app, &["--status", "failure"]).await;
    let seen: Vec<(&str, &str, u64)> = refused
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap(),
                e["operation"].as_str().unwrap(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "create", 409),
            ("PUT", "update", 400),
            ("DELETE", "delete", 404),
            ("GET", "query", 400),
        ],
        "{refused:#?}"
    );
    // A refused create is in the history of the name it tried to take.
    assert_eq!(refused[0]["identity"], "ANN@contoso.com");
    let history = log(&app, &["--user", "ann@contoso.com"]).await;
    assert_eq!(
        history.len(),
        3,
        "create, refused duplicate, refused PUT: {history:#?}"
    );
    // The request with a bad token left nothing: no body, no event.
    let everything = serde_json::to_string(&log(&app, &[]).await).unwrap();
    assert!(!everything.contains("eve@contoso.com") && !everything.contains("Sup3r-secret"));
    app
}

/// Concurrent PATCHes of one user race for its version: every one that is acknowledged has
/// exactly one event, an attempt that lost and was tried again left none, and the side rows
/// (what `emails.value` filters on) are those of the last change, not a mix.
async fn racing_changes_leave_one_event_each_and_the_last_side_rows(app: TestApp) -> TestApp {
    let ann = app
        .create_user(&json!({"userName": "ann@contoso.com",
            "emails": [{"type": "work", "value": "ann.0@contoso.com"}]}))
        .await;
    const RACERS: usize = 12;
    let patches = (1..=RACERS).map(|i| {
        let body = ops(json!([
            {"op": "replace", "path": "title", "value": format!("T{i}")},
            {"op": "replace", "path": "emails[type eq \"work\"].value",
             "value": format!("ann.{i}@contoso.com")}
        ]));
        let path = format!("/Users/{ann}");
        let app = &app;
        async move { app.patch(&path, &body).await }
    });
    for reply in futures::future::join_all(patches).await {
        reply.expect(StatusCode::OK);
    }
    let history = log(&app, &["--user", &ann]).await;
    let updates: Vec<&Value> = history
        .iter()
        .filter(|e| e["operation"] == "update")
        .collect();
    assert_eq!(updates.len(), RACERS, "{history:#?}");
    // Each event's old value is the value another acknowledged change left: one chain from the
    // created value to the current one, with no change recorded twice or lost.
    let mut olds: Vec<String> = Vec::new();
    let mut news: Vec<String> = Vec::new();
    for e in &updates {
        let emails = e["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["attribute"] == "emails")
            .unwrap_or_else(|| panic!("no emails change: {e}"));
        olds.push(emails["old"][0]["value"].as_str().unwrap().to_owned());
        news.push(emails["new"][0]["value"].as_str().unwrap().to_owned());
    }
    let current = app.get(&format!("/Users/{ann}")).await;
    let last = current.body["emails"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let next: std::collections::HashMap<&String, &String> = olds.iter().zip(&news).collect();
    assert_eq!(
        next.len(),
        RACERS,
        "no two changes were written over the same value"
    );
    let mut at = &"ann.0@contoso.com".to_owned();
    for _ in 0..RACERS {
        at = next
            .get(at)
            .unwrap_or_else(|| panic!("no change was written over {at}: {olds:?} -> {news:?}"));
    }
    assert_eq!(at, &last, "the chain of changes ends at the current value");
    for i in 0..=RACERS {
        let value = format!("ann.{i}@contoso.com");
        let q = serde_urlencoded::to_string([("filter", format!("emails.value eq \"{value}\""))])
            .unwrap();
        let found = app.get(&format!("/Users?{q}")).await.body["totalResults"].clone();
        let expected = u64::from(value == last);
        assert_eq!(found, json!(expected), "users found by {value}");
    }
    app
}

crate::on_both_backends!(
    racing_changes_leave_one_event_each_and_the_last_side_rows,
    refusals_of_every_method_are_events_and_bad_tokens_are_not,
    a_replayed_entra_session_yields_exactly_its_events_and_cycles,
    a_resources_history_is_every_change_to_it_oldest_first,
    events_past_retention_are_purged,
);
