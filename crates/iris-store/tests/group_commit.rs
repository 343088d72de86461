//! SQLite group commit: concurrent writes share WAL flushes, every acknowledged write is in the
//! database when it is opened again, and the writer relies on the flush (synchronous=NORMAL)
//! only because a flush follows every commit.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use iris_core::listing::PageLimits;
use iris_core::{RequestContext, ResourceKind, ResourceService, TenantName, TenantService};
use iris_scim::filter::FilterLimits;
use iris_store::{PoolConfig, SqlStore};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_flushes_and_all_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("iris.db").display());
    let store = SqlStore::connect(&url, &PoolConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let store = Arc::new(store);
    let before = store
        .group_commit_flushes()
        .expect("group commit is on for a file");

    let tenants = TenantService::new(store.clone());
    let (tenant, _) = tenants
        .create(&TenantName::parse("durable").unwrap())
        .await
        .unwrap();
    let users = ResourceService::new(
        store.clone(),
        FilterLimits::default(),
        PageLimits::default(),
    );
    const WRITES: usize = 48;
    let mut tasks = Vec::new();
    for n in 0..WRITES {
        let users = users.clone();
        let tenant = tenant.clone();
        tasks.push(tokio::spawn(async move {
            users
                .create(&tenant, &RequestContext::command("test"), ResourceKind::User, &json!({"userName": format!("u{n}@example.com"),
                                          "emails": [{"type": "work", "value": format!("u{n}@work.example")}]}))
                .await
                .unwrap()
                .id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let flushes = store.group_commit_flushes().unwrap() - before;
    // At least one flush per burst of writes, never more than one per write (tenant and token
    // creation are writes too).
    assert!(
        (1..=WRITES as u64 + 2).contains(&flushes),
        "{flushes} flushes for {WRITES} writes"
    );
    eprintln!("{WRITES} concurrent creates took {flushes} WAL flushes");
    store.close().await;
    drop(users);
    drop(tenants);

    let reopened = SqlStore::connect(&url, &PoolConfig::default())
        .await
        .unwrap();
    let reopened = Arc::new(reopened);
    let users = ResourceService::new(
        reopened.clone(),
        FilterLimits::default(),
        PageLimits::default(),
    );
    for id in &ids {
        users.get(&tenant, ResourceKind::User, id).await.unwrap();
    }
    reopened.close().await;
}
