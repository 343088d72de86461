//! `iris simulate entra` against a real Iris (it must pass, on both engines and in both PATCH
//! dialects) and against a deliberately naive SCIM server (it must say what Entra would do).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::operator::{Operator, Output};

async fn simulate(url: &str, token: &str, extra: &[&str]) -> (Output, Value) {
    let op = Operator::new("sqlite://unused.db");
    let mut args = vec![
        "simulate", "entra", "--url", url, "--token", token, "--json",
    ];
    args.extend_from_slice(extra);
    let out = op.run(&args).await;
    let report = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("no report ({e}): {}{}", out.stdout, out.stderr));
    (out, report)
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name:?} in {report}"))
}

fn assert_all_pass(out: &Output, report: &Value) {
    let not_passed: Vec<&Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["verdict"] != "PASS")
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
    assert_eq!(report["quarantine"]["would_quarantine"], false, "{report}");
    assert_eq!(report["quarantine"]["failed_requests"], 0, "{report}");
    assert!(out.status.success(), "{}", out.stderr);
}

async fn the_entra_simulation_passes_against_iris_in_the_default_dialect(app: TestApp) -> TestApp {
    let (out, report) = simulate(&app.tenant_url, &app.token, &["--users", "6"]).await;
    assert_eq!(report["dialect"], "aad");
    assert_all_pass(&out, &report);
    assert_eq!(step(&report, "create user (Entra's POST body)")["times"], 6);
    // The simulation cleans up after itself.
    assert!(app.all_user_ids().await.is_empty());
    app
}

async fn the_entra_simulation_passes_against_iris_with_aad_opt_scim062020(app: TestApp) -> TestApp {
    let url = format!("{}?aadOptscim062020", app.tenant_url);
    let (out, report) = simulate(&url, &app.token, &[]).await;
    assert_eq!(report["dialect"], "rfc");
    assert_all_pass(&out, &report);
    let folded = step(&report, "update several attributes")["request"]
        .as_str()
        .unwrap();
    assert!(
        folded.contains(r#"{"op":"replace","value":{"displayName""#),
        "{folded}"
    );
    app
}

async fn a_wrong_token_is_reported_as_a_quarantine_for_credentials(app: TestApp) -> TestApp {
    let (out, report) = simulate(&app.tenant_url, "iris_0000000000000000_nope", &[]).await;
    assert!(!out.status.success());
    let probe = step(
        &report,
        "random userName query (also sent at the start of every cycle)",
    );
    assert_eq!(probe["verdict"], "FAIL");
    assert!(
        probe["detail"]
            .as_str()
            .unwrap()
            .contains("invalid credentials"),
        "{probe}"
    );
    assert_eq!(report["quarantine"]["would_quarantine"], true);
    assert_eq!(
        report["quarantine"]["reason"],
        "EncounteredQuarantineException"
    );
    assert_eq!(
        report["steps"].as_array().unwrap().len(),
        1,
        "nothing after a refused Test Connection"
    );
    app
}

crate::on_both_backends!(
    the_entra_simulation_passes_against_iris_in_the_default_dialect,
    the_entra_simulation_passes_against_iris_with_aad_opt_scim062020,
    a_wrong_token_is_reported_as_a_quarantine_for_credentials,
);

/// A SCIM server with the classic mistakes: 404 for a filter that matches nothing, no groups at
/// all, `active` echoed as a string, and 400 for Entra's string booleans in PATCH.
#[derive(Default)]
struct Naive {
    users: Mutex<HashMap<String, Value>>,
}

fn scim(status: StatusCode, body: Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert("content-type", "application/scim+json".parse().unwrap());
    r
}

async fn list(State(s): State<Arc<Naive>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let filter = q.get("filter").cloned().unwrap_or_default();
    let wanted = filter.split('"').nth(1).unwrap_or_default().to_owned();
    let found: Vec<Value> = s
        .users
        .lock()
        .unwrap()
        .values()
        .filter(|u| u["userName"] == wanted.as_str())
        .cloned()
        .collect();
    if found.is_empty() {
        return scim(StatusCode::NOT_FOUND, json!({"detail": "no such user"}));
    }
    scim(
        StatusCode::OK,
        json!({"totalResults": found.len(), "Resources": found}),
    )
}

async fn create(State(s): State<Arc<Naive>>, body: Bytes) -> Response {
    let mut user: Value = serde_json::from_slice(&body).unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    user["id"] = json!(id);
    user["active"] = json!(if user["active"] == true {
        "True"
    } else {
        "False"
    });
    s.users.lock().unwrap().insert(id, user.clone());
    scim(StatusCode::CREATED, user)
}

async fn one(State(s): State<Arc<Naive>>, Path(id): Path<String>) -> Response {
    match s.users.lock().unwrap().get(&id) {
        Some(u) => scim(StatusCode::OK, u.clone()),
        None => scim(StatusCode::NOT_FOUND, json!({})),
    }
}

async fn patch(State(s): State<Arc<Naive>>, Path(id): Path<String>, body: Bytes) -> Response {
    let patch: Value = serde_json::from_slice(&body).unwrap();
    let mut users = s.users.lock().unwrap();
    let Some(user) = users.get_mut(&id) else {
        return scim(StatusCode::NOT_FOUND, json!({}));
    };
    for op in patch["Operations"].as_array().unwrap() {
        if op["value"] == "True" || op["value"] == "False" {
            return scim(
                StatusCode::BAD_REQUEST,
                json!({"detail": "active must be a boolean"}),
            );
        }
        if let Some(path) = op["path"].as_str().filter(|p| !p.contains(['.', '[', ':'])) {
            user[path] = op["value"].clone();
        }
    }
    scim(StatusCode::OK, user.clone())
}

async fn remove(State(s): State<Arc<Naive>>, Path(id): Path<String>) -> StatusCode {
    match s.users.lock().unwrap().remove(&id) {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

async fn naive_server() -> String {
    let app = Router::new()
        .route("/scim/Users", get(list).post(create))
        .route("/scim/Users/{id}", get(one).patch(patch).delete(remove))
        .with_state(Arc::new(Naive::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/scim", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_naive_scim_server_gets_the_verdicts_entra_would_give_it() {
    let url = naive_server().await;
    let (out, report) = simulate(&url, "any", &[]).await;
    assert!(!out.status.success(), "a failing server makes a failed run");
    let probe = step(
        &report,
        "random userName query (also sent at the start of every cycle)",
    );
    assert_eq!(probe["verdict"], "FAIL");
    assert!(
        probe["detail"]
            .as_str()
            .unwrap()
            .contains("404 where Entra requires 200"),
        "{probe}"
    );
    let groups = step(&report, "random group displayName query");
    assert_eq!(groups["verdict"], "FAIL");
    assert!(
        groups["detail"]
            .as_str()
            .unwrap()
            .contains("ServiceIncompatible"),
        "{groups}"
    );
    let create = step(&report, "create user (Entra's POST body)");
    assert_eq!(create["verdict"], "FAIL");
    assert!(
        create["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be parsed as the type 'Boolean'"),
        "{create}"
    );
    let disable = step(&report, "disable (active false)");
    assert_eq!(disable["verdict"], "FAIL");
    let detail = disable["detail"].as_str().unwrap();
    assert!(detail.contains("400"), "{detail}");
    assert!(detail.contains("accept string booleans"), "{detail}");
    assert_eq!(report["quarantine"]["would_quarantine"], true);
    assert_eq!(
        report["quarantine"]["reason"],
        "EncounteredQuarantineException"
    );
    assert!(
        report["quarantine"]["detail"]
            .as_str()
            .unwrap()
            .contains("SCIM compliance"),
        "{report}"
    );
    // The text form says the same to a person.
    let op = Operator::new("sqlite://unused.db");
    let text = op
        .run(&[
            "simulate",
            "entra",
            "--url",
            &url,
            "--token",
            "any",
            "--no-groups",
        ])
        .await;
    assert!(
        text.stdout.contains("FAIL  random userName query"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("Would this job quarantine? YES: EncounteredQuarantineException"),
        "{}",
        text.stdout
    );
}
