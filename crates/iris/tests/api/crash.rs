//! Nothing acknowledged is lost: `iris serve` is killed with SIGKILL in the middle of a burst of
//! concurrent creates and PATCHes, started again on the same database, and every write it had
//! answered with a 2xx is there: no write is acknowledged before it commits, on either engine
//! (SQLite's writes go through the group commit). A killed process keeps what the kernel holds;
//! power loss, which the WAL flush is for, cannot be staged here (see `wal_sync.rs`).
//!
//! The provisioning log agrees with what landed: every acknowledged change has its event, and
//! every event names a change that landed (an unacknowledged write that did not land left none),
//! since each event is written in its change's transaction.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, patch_body, run_on_database};
use crate::operator::{Operator, str_field};

const WRITERS: usize = 12;

/// Every acknowledged create: the user's id and the title of its last acknowledged PATCH.
type Acknowledged = Arc<Mutex<Vec<(String, Option<String>)>>>;

async fn acknowledged_writes_survive_a_kill(database: String) {
    let dir = tempfile::tempdir().unwrap();
    let op = Operator::new(&database);
    let created = op.create_tenant("crash").await;
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
                let patch =
                    patch_body(json!([{"op": "Replace", "path": "title", "value": title}]));
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

    // Reading every acknowledged write back is hundreds of requests a second: not the rate
    // limit's business here.
    let server = op
        .serve(
            dir.path(),
            &["--no-bootstrap", "--rate-limit-tenant-per-second", "0"],
        )
        .await;
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

    // The log: one create event per user that exists, one update event per title it carries.
    let events: Vec<Value> = op
        .run(&["log", "crash", "--json", "--limit", "100000"])
        .await
        .ok()
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Refused requests are events too (a create refused with 429 by the rate limit, say): only
    // the creates that were applied count.
    let created: std::collections::BTreeSet<&str> = events
        .iter()
        .filter(|e| e["operation"] == "create" && e["status"].as_u64().is_some_and(|s| s < 300))
        .map(|e| e["resource_id"].as_str().unwrap())
        .collect();
    let stored = op.run(&["export", "crash"]).await.ok().stdout;
    let mut users = std::collections::BTreeMap::new();
    for line in stored.lines() {
        let line: Value = serde_json::from_str(line).unwrap();
        if line["kind"] == "user" {
            users.insert(
                line["id"].as_str().unwrap().to_owned(),
                line["doc"]["title"].as_str().map(str::to_owned),
            );
        }
    }
    let existing: std::collections::BTreeSet<&str> = users.keys().map(String::as_str).collect();
    assert_eq!(
        created, existing,
        "a create event for each user that landed, and only those"
    );
    for (id, title) in &acknowledged {
        assert!(
            created.contains(id.as_str()),
            "no create event for acknowledged {id}"
        );
        if let Some(title) = title {
            assert!(
                events.iter().any(|e| e["operation"] == "update"
                    && e["resource_id"] == id.as_str()
                    && e["changes"][0]["new"] == title.as_str()),
                "no update event for the acknowledged PATCH of {id}"
            );
        }
    }
    for e in events.iter().filter(|e| e["operation"] == "update") {
        let id = e["resource_id"].as_str().unwrap();
        let title = e["changes"][0]["new"].as_str();
        assert_eq!(
            users.get(id).cloned().flatten().as_deref(),
            title,
            "an update event of {id} for a PATCH that did not land"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_writes_survive_a_kill() {
    run_on_database(Backend::Sqlite, acknowledged_writes_survive_a_kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_writes_survive_a_kill() {
    run_on_database(Backend::Postgres, acknowledged_writes_survive_a_kill).await;
}
