//! Moving a tenant between databases with `iris export` / `iris import`: from SQLite to PostgreSQL
//! (or SQLite again where PostgreSQL is absent), keeping ids, timestamps, versions and tokens, so
//! the Secret Token pasted into Entra keeps working.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, TestDatabase};
use crate::operator::{Operator, str_field};

async fn request(
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Seeds a tenant on `source` over HTTP and returns (tenant URL path suffix, token, users as read).
async fn seed(source: &Operator) -> (String, Vec<Value>) {
    let created = source.create_tenant("acme").await;
    let token = str_field(&created, "token").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let server = source.serve(dir.path(), &["--no-bootstrap"]).await;
    let users_url = format!("{}/scim/v2/acme/Users", server.url);
    let mut ids = Vec::new();
    for (i, name) in ["Ann@Example.com", "bob@example.com", "Émile@example.com"]
        .iter()
        .enumerate()
    {
        let body = json!({
            "userName": name,
            "externalId": format!("ext-{i}"),
            "active": i != 1,
            "emails": [{"type": "work", "value": format!("Mail{i}@Example.com"), "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
        });
        let (status, user) =
            request(reqwest::Method::POST, users_url.clone(), &token, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    let patch = json!({"Operations": [{"op": "Replace", "path": "displayName", "value": "Ann"}]});
    let (status, _) = request(
        reqwest::Method::PATCH,
        format!("{users_url}/{}", ids[0]),
        &token,
        Some(patch),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut users = Vec::new();
    for id in &ids {
        let (status, user) = request(
            reqwest::Method::GET,
            format!("{users_url}/{id}"),
            &token,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        users.push(user);
    }
    (token, users)
}

/// Everything but `meta.location`, whose host differs between the two servers.
fn portable(user: &Value) -> Value {
    let mut u = user.clone();
    u["meta"].as_object_mut().unwrap().shift_remove("location");
    u
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_moves_from_sqlite_to_postgres_with_its_ids_versions_and_token() {
    let source_db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let target_backend = if TestDatabase::postgres_available().await {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let Some(target_db) = TestDatabase::create(target_backend).await else {
        return;
    };
    let source = Operator::new(&source_db.url);
    // Admin commands work on an existing database; `iris migrate` creates one.
    source.run(&["migrate"]).await.ok();
    let (token, users) = seed(&source).await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme.jsonl");
    let file = file.to_str().unwrap();
    let exported = source.run(&["export", "acme", "-o", file]).await.ok();
    assert!(exported.stderr.contains("3 users"), "{}", exported.stderr);
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        !text.contains(crate::operator::secret_of(&token)),
        "the export holds no token secret"
    );

    let target = Operator::new(&target_db.url);
    // Admin commands work on an existing database; `iris migrate` creates one.
    target.run(&["migrate"]).await.ok();
    let imported = target.run(&["import", file]).await.ok();
    assert!(
        imported.stdout.contains("1 tokens and 3 users"),
        "{}",
        imported.stdout
    );
    let again = target.run(&["import", file]).await;
    assert!(!again.status.success());
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    let server = target.serve(dir.path(), &["--no-bootstrap"]).await;
    let users_url = format!("{}/scim/v2/acme/Users", server.url);
    for user in &users {
        let id = user["id"].as_str().unwrap();
        let (status, moved) = request(
            reqwest::Method::GET,
            format!("{users_url}/{id}"),
            &token,
            None,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "the same token works after the move: {moved}"
        );
        assert_eq!(portable(&moved), portable(user));
    }
    // Shadow columns and side rows were rebuilt: indexed filters find the moved users.
    let q = serde_urlencoded::to_string([("filter", "emails[type eq \"work\"].value eq \"mail2@example.com\" and userName eq \"émile@EXAMPLE.com\"")]).unwrap();
    let (_, found) = request(
        reqwest::Method::GET,
        format!("{users_url}?{q}"),
        &token,
        None,
    )
    .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    // And uniqueness still holds.
    let (status, _) = request(
        reqwest::Method::POST,
        users_url,
        &token,
        Some(json!({"userName": "ANN@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    drop(server);
    target_db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_import_leaves_nothing_behind() {
    let source_db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let target_db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let source = Operator::new(&source_db.url);
    // Admin commands work on an existing database; `iris migrate` creates one.
    source.run(&["migrate"]).await.ok();
    seed(&source).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme.jsonl");
    let file = file.to_str().unwrap();
    source.run(&["export", "acme", "-o", file]).await.ok();
    // Two users with the same userName: the import must fail on the second.
    let mut lines: Vec<String> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut dup: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    dup["id"] = json!("00000000-0000-0000-0000-000000000001");
    lines.push(dup.to_string());
    std::fs::write(file, lines.join("\n")).unwrap();

    let target = Operator::new(&target_db.url);
    // Admin commands work on an existing database; `iris migrate` creates one.
    target.run(&["migrate"]).await.ok();
    let failed = target.run(&["import", file]).await;
    assert!(!failed.status.success());
    assert!(failed.stderr.contains("clashes"), "{}", failed.stderr);
    let tenants = target.run(&["tenant", "list", "--json"]).await.ok().json();
    assert_eq!(tenants, json!([]), "the partial tenant was removed");
}
