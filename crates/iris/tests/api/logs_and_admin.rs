//! What issue 18's probe found around the PATCH itself: `iris migrate` says what it applied, admin
//! commands never create a database at a mistyped SQLite path, logs carry no colour codes when
//! they are not read on a terminal and no statement (or body) whole, and a refused request whose
//! id holds a NUL is recorded on PostgreSQL too.

use std::process::Stdio;

use iris_core::provisioning::MAX_LOGGED_BODY;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, TestApp, TestDatabase};
use crate::operator::{Operator, Server, command, str_field};

/// No line of a log is longer than this: a statement or a body is never logged whole.
const LONGEST_LOG_LINE: usize = 4 * 1024;

// The warning about a refused request shows the start of its body, well within one line.
const _: () = assert!(MAX_LOGGED_BODY < LONGEST_LOG_LINE);

#[track_caller]
fn assert_plain_and_short(log: &str, what: &str) {
    assert!(
        !log.contains('\u{1b}'),
        "{what}: colour codes in a log that is not a terminal:\n{log}"
    );
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(
        longest <= LONGEST_LOG_LINE,
        "{what}: a log line of {longest} bytes: {}…",
        log.lines()
            .find(|l| l.len() == longest)
            .map(|l| &l[..300.min(l.len())])
            .unwrap_or_default()
    );
}

async fn migrate_says_which_migrations_it_applied(database: &str) {
    let op = Operator::new(database);
    let first = op.run(&["migrate"]).await.ok();
    let applied: Vec<&str> = first
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("applied migration "))
        .collect();
    let migrations = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../iris-store/migrations/sqlite"
    ))
    .unwrap()
    .count();
    assert_eq!(applied.len(), migrations, "{}", first.stdout);
    assert!(
        applied[0].starts_with("20261126000001 foundation"),
        "{applied:?}"
    );
    assert!(
        first.stdout.trim_end().ends_with("is up to date"),
        "{}",
        first.stdout
    );
    assert_plain_and_short(&first.stderr, "iris migrate");

    let again = op.run(&["migrate"]).await.ok();
    assert!(
        !again.stdout.contains("applied migration"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("was already up to date"),
        "{}",
        again.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_lists_what_it_applied_then_says_the_database_was_up_to_date() {
    let db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    migrate_says_which_migrations_it_applied(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_lists_what_it_applied_on_postgres_too() {
    let Some(db) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let outcome = tokio::spawn({
        let url = db.url.clone();
        async move { migrate_says_which_migrations_it_applied(&url).await }
    })
    .await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_refuse_a_sqlite_path_that_does_not_exist_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo.db");
    let op = Operator::new(&format!("sqlite://{}", missing.display()));
    let export = dir.path().join("acme.jsonl");
    std::fs::write(&export, "").unwrap();
    let export = export.to_str().unwrap();
    for args in [
        vec!["tenant", "create", "acme"],
        vec!["tenant", "list"],
        vec!["tenant", "disable", "acme"],
        vec!["tenant", "rejected", "acme"],
        vec!["token", "issue", "acme"],
        vec!["token", "list", "acme"],
        vec!["token", "revoke", "0123456789abcdef"],
        vec!["export", "acme"],
        vec!["import", export],
    ] {
        let out = op.run(&args).await;
        assert!(!out.status.success(), "{args:?} succeeded: {}", out.stdout);
        assert!(
            out.stderr.contains(&missing.display().to_string())
                && out.stderr.contains("does not exist"),
            "{args:?} names the missing file: {}",
            out.stderr
        );
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
        assert_plain_and_short(&out.stderr, &format!("{args:?}"));
    }
    // `iris migrate` is how a database is created ahead of `serve`; then the commands work.
    op.run(&["migrate"]).await.ok();
    assert!(missing.exists());
    let created = op
        .run(&["tenant", "create", "acme", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(created["tenant"], "acme");
}

/// `iris serve` with `IRIS_LOG` set, logging into `dir`.
async fn serve_with_log_level(op: &Operator, dir: &std::path::Path, level: &str) -> Server {
    let stdout = dir.join("serve.stdout");
    let stderr = dir.join("serve.stderr");
    let child = command(&op.database, &op.public_url)
        .env("IRIS_LOG", level)
        .args(["serve", "--listen", &format!("127.0.0.1:{}", op.port)])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("spawn iris serve");
    let mut server = Server {
        child,
        url: op.public_url.clone(),
        stdout,
        stderr,
    };
    server.wait_ready().await;
    server
}

async fn big_statements_and_bodies_never_land_whole_in_the_log(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let op = Operator::new(database);
    op.run(&["migrate"]).await.ok();
    let acme = op
        .run(&["tenant", "create", "acme", "--json"])
        .await
        .ok()
        .json();
    let (tenant_url, token) = (str_field(&acme, "tenant_url"), str_field(&acme, "token"));
    // Every statement sqlx could log would be logged at this level.
    let server = serve_with_log_level(&op, dir.path(), "info,sqlx=trace").await;
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method, url: String, body: Value| {
        http.request(method, url)
            .bearer_auth(token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
    };
    // A thousand e-mail addresses: one INSERT of 6,000 bind parameters, tens of kilobytes of SQL.
    let emails: Vec<Value> = (0..1000)
        .map(|i| json!({"value": format!("address{i}@logs.example")}))
        .collect();
    let created = send(
        reqwest::Method::POST,
        format!("{tenant_url}/Users"),
        json!({"userName": "logs@example.com", "emails": emails}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A refused PATCH of 100 KB is recorded with its body, and logged with the start of it.
    let noise = "n".repeat(100 * 1024);
    let refused = send(
        reqwest::Method::PATCH,
        format!("{tenant_url}/Users/{id}"),
        json!({"Operations": [{"op": "replace", "path": "nosuch", "value": noise}]}),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let log = std::fs::read_to_string(&server.stderr).unwrap();
    let status = server.terminate().await;
    assert!(status.success());
    assert!(
        log.contains("request refused"),
        "the refusal is logged:\n{log}"
    );
    assert!(!log.contains("INSERT INTO"), "a statement was logged");
    assert_plain_and_short(&log, "iris serve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_statements_and_bodies_never_land_whole_in_the_sqlite_servers_log() {
    let db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    big_statements_and_bodies_never_land_whole_in_the_log(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_statements_and_bodies_never_land_whole_in_the_postgres_servers_log() {
    let Some(db) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let outcome = tokio::spawn({
        let url = db.url.clone();
        async move { big_statements_and_bodies_never_land_whole_in_the_log(&url).await }
    })
    .await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn a_refused_request_whose_id_holds_a_nul_is_recorded(app: TestApp) -> TestApp {
    app.patch(
        "/Users/before%00after",
        &json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, None);
    // Raw text with a NUL in it, for a path that does not parse either.
    app.send_raw(
        reqwest::Method::PATCH,
        "/Users/nul%00id",
        "{\"Operations\": \0",
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let recorded: Vec<Value> = Operator::new(&app.database_url)
        .run(&["tenant", "rejected", &app.tenant_name, "--json"])
        .await
        .ok()
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = recorded
        .iter()
        .map(|r| r["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["nul\\0id", "before\\0after"],
        "newest first, NUL escaped"
    );
    assert_eq!(recorded[0]["body"], "{\"Operations\": \\0");
    assert_eq!(recorded[1]["status"], 404);
    let detail = recorded[1]["detail"].as_str().unwrap();
    assert!(detail.contains("before\\0after"), "{detail}");
    app
}

crate::on_both_backends!(a_refused_request_whose_id_holds_a_nul_is_recorded);
