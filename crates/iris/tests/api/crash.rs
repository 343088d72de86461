//! Nothing acknowledged is lost: `iris serve` is killed with SIGKILL in the middle of a burst of
//! concurrent creates and PATCHes, started again on the same database, and every write it had
//! answered with a 2xx is there: no write is acknowledged before it commits, on either engine
//! (SQLite's writes go through the group commit). A killed process keeps what the kernel holds;
//! power loss, which the WAL flush is for, cannot be staged here (see `wal_sync.rs`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, TestDatabase};
use crate::operator::{Operator, str_field};

const WRITERS: usize = 12;

/// Every acknowledged create: the user's id and the title of its last acknowledged PATCH.
type Acknowledged = Arc<Mutex<Vec<(String, Option<String>)>>>;

async fn acknowledged_writes_survive_a_kill(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let op = Operator::new(database);
    // Admin commands work on an existing database; `iris migrate` creates one.
    op.run(&["migrate"]).await.ok();
    let created = op
        .run(&["tenant", "create", "crash", "--json"])
        .await
        .ok()
        .json();
    let tenant_url = str_field(&created, "tenant_url").to_owned();
    let token = str_field(&created, "token").to_owned();
    let mut server = op.serve(dir.path(), &["--no-bootstrap"]).await;

    let acknowledged: Acknowledged = Arc::default();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (tenant_url, token, acknowledged) =
            (tenant_url.clone(), token.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for n in 0.. {
                let body = json!({"userName": format!("w{w}-{n}@example.com"),
                                  "emails": [{"type": "work", "value": format!("w{w}-{n}@work.example")}]});
                let Ok(reply) = http
                    .post(format!("{tenant_url}/Users"))
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(body.to_string())
                    .send()
                    .await
                else {
                    return;
                };
                if reply.status() != StatusCode::CREATED {
                    return;
                }
                let Ok(user) = reply.json::<Value>().await else {
                    return;
                };
                let id = user["id"].as_str().unwrap().to_owned();
                let slot = {
                    let mut acked = acknowledged.lock().unwrap();
                    acked.push((id.clone(), None));
                    acked.len() - 1
                };
                let title = format!("t{n}");
                let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                   "Operations": [{"op": "Replace", "path": "title", "value": title}]});
                let Ok(reply) = http
                    .patch(format!("{tenant_url}/Users/{id}"))
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(patch.to_string())
                    .send()
                    .await
                else {
                    return;
                };
                if reply.status() == StatusCode::OK {
                    acknowledged.lock().unwrap()[slot].1 = Some(title);
                }
            }
        }));
    }
    // Let the writers run, then kill the server without warning while requests are in flight.
    for _ in 0..200 {
        if acknowledged.lock().unwrap().len() >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!(
        "{} creates acknowledged before the kill",
        acknowledged.len()
    );
    assert!(
        acknowledged.len() >= 20,
        "too few writes before the kill: {}",
        acknowledged.len()
    );

    let server = op.serve(dir.path(), &["--no-bootstrap"]).await;
    let http = reqwest::Client::new();
    for (id, title) in &acknowledged {
        let reply = http
            .get(format!("{tenant_url}/Users/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            reply.status(),
            StatusCode::OK,
            "acknowledged user {id} was lost"
        );
        let user: Value = reply.json().await.unwrap();
        if let Some(title) = title {
            assert_eq!(
                user["title"],
                title.as_str(),
                "acknowledged PATCH of {id} was lost"
            );
        }
        // The side rows came back with the user: the work e-mail still finds it.
        let value = user["emails"][0]["value"].as_str().unwrap();
        let found: Value = http
            .get(format!("{tenant_url}/Users"))
            .query(&[(
                "filter",
                format!("emails[type eq \"work\"].value eq \"{value}\""),
            )])
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found["totalResults"], 1, "{value}");
    }
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_writes_survive_a_kill() {
    let db = TestDatabase::create(Backend::Sqlite).await.unwrap();
    acknowledged_writes_survive_a_kill(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_writes_survive_a_kill() {
    let Some(db) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let outcome = tokio::spawn({
        let url = db.url.clone();
        async move { acknowledged_writes_survive_a_kill(&url).await }
    })
    .await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
