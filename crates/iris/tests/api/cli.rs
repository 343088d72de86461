//! The `iris` binary as an operator runs it: `tenant …` and `token …` against the database that a
//! separate `iris serve` process uses, with effects visible to that server at once, and a graceful
//! exit on SIGTERM. Child processes are killed by a drop guard, so a failing test leaves nothing
//! running.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Backend, TestDatabase, run_on_database};
use crate::operator::{Operator, secret_of, str_field, users_status};

async fn create_and_use_a_tenant(database: String) {
    let dir = tempfile::tempdir().unwrap();
    let op = Operator::new(&database);
    let created = op.create_tenant("acme").await;
    assert_eq!(created["tenant"], "acme");
    let tenant_url = str_field(&created, "tenant_url").to_owned();
    assert_eq!(tenant_url, format!("{}/scim/v2/acme", op.public_url));
    let token = str_field(&created, "token").to_owned();
    let token_id = str_field(&created, "token_id").to_owned();
    assert_eq!(token_id.len(), 16);
    assert!(token.starts_with(&format!("iris_{token_id}_")), "{token}");
    assert!(secret_of(&token).len() >= 40, "a 256-bit secret");

    let server = op.serve(dir.path(), &[]).await;
    let reply = reqwest::Client::new()
        .get(format!("{tenant_url}/Users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["totalResults"], 0);
    // Writes through the separate process are real, and meta.location uses the public URL.
    let created = reqwest::Client::new()
        .post(format!("{tenant_url}/Users"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(r#"{"userName": "cli@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let user: Value = created.json().await.unwrap();
    assert!(str_field(&user["meta"], "location").starts_with(&format!("{tenant_url}/Users/")));
    assert_eq!(
        users_status(&tenant_url, "iris_0123456789abcdef_nope").await,
        StatusCode::UNAUTHORIZED
    );
    // The human-readable form prints the same facts.
    let text = op.run(&["tenant", "create", "globex"]).await.ok().stdout;
    assert!(
        text.contains(&format!("{}/scim/v2/globex", op.public_url)),
        "{text}"
    );
    assert!(text.contains("iris_"), "{text}");
    let status = server.terminate().await;
    assert!(status.success(), "{status}");
}

/// An operator of a fresh SQLite database, and a directory for a server's output.
/// An operator of a new SQLite database (created by `iris migrate`: admin commands never create
/// one).
async fn sqlite_operator() -> (TestDatabase, tempfile::TempDir, Operator) {
    let db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let op = Operator::new(&db.url);
    op.run(&["migrate"]).await.ok();
    (db, tempfile::tempdir().unwrap(), op)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_create_prints_json_whose_url_and_token_work_against_serve() {
    run_on_database(Backend::Sqlite, create_and_use_a_tenant).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_create_and_serve_work_on_postgres_too() {
    run_on_database(Backend::Postgres, create_and_use_a_tenant).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_token_is_listed_without_secrets_and_revocation_takes_effect_at_once() {
    let (_db, dir, op) = sqlite_operator().await;
    let first = op.create_tenant("acme").await;
    let server = op.serve(dir.path(), &[]).await;
    let tenant_url = str_field(&first, "tenant_url").to_owned();
    let first_token = str_field(&first, "token").to_owned();
    let first_id = str_field(&first, "token_id").to_owned();

    let second = op
        .run(&["token", "issue", "acme", "--label", "rotation", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(second["tenant"], "acme");
    assert_eq!(second["tenant_url"], tenant_url.as_str());
    let second_token = str_field(&second, "token").to_owned();
    let second_id = str_field(&second, "token_id").to_owned();
    assert_ne!(second_id, first_id);
    assert_eq!(
        users_status(&tenant_url, &first_token).await,
        StatusCode::OK
    );
    assert_eq!(
        users_status(&tenant_url, &second_token).await,
        StatusCode::OK
    );

    // Listing shows both ids and labels, never a secret.
    let listed = op.run(&["token", "list", "acme"]).await.ok().stdout;
    for (id, token) in [(&first_id, &first_token), (&second_id, &second_token)] {
        assert!(listed.contains(id.as_str()), "{listed}");
        assert!(
            !listed.contains(secret_of(token)),
            "a secret was listed: {listed}"
        );
    }
    assert!(listed.contains("rotation"), "{listed}");
    let listed = op.run(&["token", "list", "acme", "--json"]).await.ok();
    assert!(
        !listed.stdout.contains(secret_of(&first_token))
            && !listed.stdout.contains(secret_of(&second_token))
    );
    let rows = listed.json();
    let ids: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| str_field(r, "token_id"))
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(
        ids.contains(&first_id.as_str()) && ids.contains(&second_id.as_str()),
        "{rows}"
    );
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("token").is_none() && r["revoked_at"].is_null())
    );

    // Revocation: refused by the running server from the next request on; the other still works.
    let revoked = op.run(&["token", "revoke", &first_id]).await.ok();
    assert!(revoked.stdout.contains(&first_id), "{}", revoked.stdout);
    assert_eq!(
        users_status(&tenant_url, &first_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        users_status(&tenant_url, &second_token).await,
        StatusCode::OK
    );
    let rows = op
        .run(&["token", "list", "acme", "--json"])
        .await
        .ok()
        .json();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["token_id"] == first_id.as_str())
        .unwrap()
        .clone();
    assert!(row["revoked_at"].is_string(), "{row}");
    // Revoking twice, or an unknown id, fails clearly.
    let again = op.run(&["token", "revoke", &first_id]).await;
    assert!(!again.status.success());
    assert!(again.stderr.contains(&first_id), "{}", again.stderr);
    assert_eq!(
        users_status(&tenant_url, &second_token).await,
        StatusCode::OK
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_list_disable_and_enable_take_effect_at_once() {
    let (_db, dir, op) = sqlite_operator().await;
    let acme = op.create_tenant("acme").await;
    let globex = op.create_tenant("globex").await;
    let server = op.serve(dir.path(), &[]).await;
    let (acme_url, acme_token) = (str_field(&acme, "tenant_url"), str_field(&acme, "token"));
    let (globex_url, globex_token) = (
        str_field(&globex, "tenant_url"),
        str_field(&globex, "token"),
    );

    let listed = op.run(&["tenant", "list"]).await.ok().stdout;
    assert!(
        listed.contains("acme") && listed.contains(acme_url),
        "{listed}"
    );
    assert!(
        listed.contains("globex") && listed.contains(globex_url),
        "{listed}"
    );
    assert!(!listed.contains(secret_of(acme_token)), "{listed}");
    let rows = op.run(&["tenant", "list", "--json"]).await.ok().json();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| str_field(r, "tenant"))
        .collect();
    assert_eq!(names, ["acme", "globex"]);
    assert!(rows[0]["disabled_at"].is_null());

    op.run(&["tenant", "disable", "acme"]).await.ok();
    assert_eq!(
        users_status(acme_url, acme_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        users_status(globex_url, globex_token).await,
        StatusCode::OK,
        "other tenants are not affected"
    );
    let rows = op.run(&["tenant", "list", "--json"]).await.ok().json();
    assert!(rows[0]["disabled_at"].is_string(), "{rows}");
    assert!(rows[1]["disabled_at"].is_null(), "{rows}");
    let listed = op.run(&["tenant", "list"]).await.ok().stdout;
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("acme") && l.contains("disabled")),
        "{listed}"
    );

    op.run(&["tenant", "enable", "acme"]).await.ok();
    assert_eq!(users_status(acme_url, acme_token).await, StatusCode::OK);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tenant_names_duplicates_and_unknown_ids_fail_with_a_clear_message() {
    let (_db, _dir, op) = sqlite_operator().await;
    for bad in [
        "Acme",
        "-acme",
        "acme-",
        "ac me",
        "acme/x",
        "ä",
        "",
        &"a".repeat(64),
    ] {
        let out = op.run(&["tenant", "create", "--", bad]).await;
        assert!(
            !out.status.success(),
            "{bad:?} was accepted: {}",
            out.stdout
        );
        assert!(
            out.stderr.contains("invalid tenant name"),
            "{bad:?}: {}",
            out.stderr
        );
        assert!(
            !out.stdout.contains("iris_"),
            "no token printed for {bad:?}"
        );
    }
    op.run(&["tenant", "create", "acme"]).await.ok();
    let dup = op.run(&["tenant", "create", "acme", "--json"]).await;
    assert!(!dup.status.success());
    assert!(dup.stderr.contains("already exists"), "{}", dup.stderr);
    assert!(dup.stdout.trim().is_empty(), "{}", dup.stdout);

    for (args, needle) in [
        (vec!["token", "issue", "nosuch"], "nosuch"),
        (vec!["token", "list", "nosuch"], "nosuch"),
        (vec!["tenant", "disable", "nosuch"], "nosuch"),
        (vec!["tenant", "enable", "nosuch"], "nosuch"),
        (
            vec!["token", "revoke", "0123456789abcdef"],
            "0123456789abcdef",
        ),
        (vec!["token", "revoke", "not-a-token-id"], "not-a-token-id"),
    ] {
        let out = op.run(&args).await;
        assert!(!out.status.success(), "{args:?} succeeded: {}", out.stdout);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
    // Only the one tenant exists.
    let rows = op.run(&["tenant", "list", "--json"]).await.ok().json();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_finishes_gracefully_on_sigterm() {
    let (_db, dir, op) = sqlite_operator().await;
    let acme = op.create_tenant("acme").await;
    let server = op.serve(dir.path(), &[]).await;
    assert_eq!(
        users_status(str_field(&acme, "tenant_url"), str_field(&acme, "token")).await,
        StatusCode::OK
    );
    let url = server.url.clone();
    let status = server.terminate().await;
    assert_eq!(status.code(), Some(0), "{status}");
    // It no longer listens.
    assert!(
        reqwest::Client::new()
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_creates_a_default_tenant_and_prints_its_credentials() {
    let (db, dir, op) = sqlite_operator().await;
    let server = op.serve(dir.path(), &[]).await;
    let printed = std::fs::read_to_string(&server.stdout).unwrap();
    let field = |label: &str| {
        printed
            .lines()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no '{label}' in {printed}"))
    };
    let tenant_url = field("Tenant URL:");
    let token = field("Secret Token:");
    assert_eq!(tenant_url, format!("{}/scim/v2/default", op.public_url));
    assert_eq!(users_status(&tenant_url, &token).await, StatusCode::OK);
    // The secret goes to the terminal, never to the log stream.
    let logs = std::fs::read_to_string(&server.stderr).unwrap();
    assert!(!logs.contains(secret_of(&token)), "the token was logged");
    let rows = op.run(&["tenant", "list", "--json"]).await.ok().json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["tenant"], "default");
    let status = server.terminate().await;
    assert!(status.success());
    // A second start with tenants present creates nothing.
    let op = Operator::new(&db.url);
    let server = op.serve(dir.path(), &[]).await;
    assert!(
        !std::fs::read_to_string(&server.stdout)
            .unwrap()
            .contains("Secret Token:")
    );
    drop(server);
    let rows = op.run(&["tenant", "list", "--json"]).await.ok().json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
}
