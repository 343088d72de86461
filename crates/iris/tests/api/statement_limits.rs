//! Inputs whose size sets how many values one SQL statement binds: each is chunked within the
//! engines' limits (SQLite 32,766 variables, PostgreSQL 65,535 bind parameters) or bound up
//! front, so none of them is a 500.

use iris_core::provisioning::EventQuery;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, TestDatabase};

/// Users imported in batches (a POST each would take minutes); their ids in order.
async fn many_users(app: &TestApp, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(1000) {
        let batch: Vec<Value> = (start..(start + 1000).min(n))
            .map(|i| json!({"userName": format!("{prefix}{i}@example.com")}))
            .collect();
        ids.extend(app.admin.import_users(&batch).await);
    }
    ids
}

fn member_values(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"value": id})).collect())
}

async fn a_group_patch_adds_and_removes_ten_thousand_members_in_one_operation(
    app: TestApp,
) -> TestApp {
    // The most one operation may name (maxMembersPerPatchOperation): every statement of the
    // change — existence checks, inserts, deletes, the members' new versions — is chunked.
    const N: usize = iris_scim::limits::MAX_MEMBERS_PER_OPERATION;
    let users = many_users(&app, "member", N).await;
    let before = app.get_user(&users[N - 1]).await["meta"]["version"].clone();
    let group = app.create_group_named("Everyone").await;
    app.patch_group(
        &group,
        json!([{"op": "Add", "path": "members", "value": member_values(&users)}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert_eq!(app.members_of(&group).await.len(), N);
    let last = app.get_user(&users[N - 1]).await;
    assert_eq!(last["groups"][0]["value"], group.as_str(), "{last}");
    assert_ne!(last["meta"]["version"], before, "a member's groups changed");
    app.patch_group(
        &group,
        json!([{"op": "Remove", "path": "members", "value": member_values(&users)}]),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert!(app.members_of(&group).await.is_empty());
    assert!(app.get_user(&users[0]).await.get("groups").is_none());
    app
}

async fn a_tenant_with_a_group_of_twenty_thousand_members_exports_and_imports(
    app: TestApp,
) -> TestApp {
    const N: usize = 20_000;
    let users = many_users(&app, "big", N).await;
    let group = app.create_group_named("All staff").await;
    app.admin.import_members(&group, &users).await;
    let export = app.admin.export().await.through_json();
    let Some(db) = TestDatabase::create(app.backend).await else {
        return app;
    };
    let target = app.admin.stored_in(&db.url).await;
    assert_eq!(target.import(export).await, (N, 1, N));
    let groups = target.groups().await;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0], app.admin.stored().groups().await[0]);
    // Every member made it, the last of them too.
    let edges = target.direct_groups(&users).await;
    assert_eq!(edges.len(), N);
    assert!(edges.iter().all(|m| m.group_id == group));
    drop(target);
    db.drop_database().await;
    app
}

/// Resources recorded under one name: more than either engine could bind one by one.
const FORMER_RESOURCES: usize = 70_000;

async fn the_history_of_a_name_with_seventy_thousand_former_resources_is_served(
    app: TestApp,
) -> TestApp {
    // One user created and deleted under the name, and its creation copied for as many former
    // users of that name as would exceed both engines' bind limits if bound one by one.
    let id = app
        .create_user(&json!({"userName": "ghost@example.com"}))
        .await;
    app.delete(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    let template = app
        .admin
        .events(&EventQuery {
            resource: Some(id.clone()),
            limit: 10,
            ..EventQuery::default()
        })
        .await;
    assert_eq!(template.len(), 2, "{template:?}");
    let created = &template[0];
    for _ in 0..FORMER_RESOURCES / 10_000 {
        let copies: Vec<_> = (0..10_000)
            .map(|_| {
                let mut copy = created.clone();
                copy.id = uuid::Uuid::now_v7().to_string();
                copy.resource_id = uuid::Uuid::now_v7().to_string();
                copy
            })
            .collect();
        app.admin.record_events(&copies).await;
    }
    let operator = app.admin.issue_operator_token("tests").await.token;
    let history = app
        .admin_send(
            Some(&operator),
            Method::GET,
            "/tenants/acme/events?resource=Ghost%40example.com&order=oldest&limit=50",
            None,
        )
        .await
        .expect(StatusCode::OK);
    let events = history.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 50, "{}", history.text);
    // Oldest first: the real user's own events, then its copies'.
    assert_eq!(events[0]["resource_id"], id.as_str());
    assert_eq!(events[1]["resource_id"], id.as_str());
    assert!(events[2..].iter().all(|e| e["resource_id"] != id.as_str()));
    // The store's answer is the whole history, page by page.
    let all = app
        .admin
        .events(&EventQuery {
            resource: Some("ghost@example.com".into()),
            limit: 1_000_000,
            ..EventQuery::default()
        })
        .await;
    assert_eq!(all.len(), FORMER_RESOURCES + template.len());
    app
}

/// The server's default body limit (4 MiB): ten thousand members are about 500 KB.
fn default_body_limit(config: &mut iris::config::Config) {
    config.max_body_bytes = iris::config::Config::default().max_body_bytes;
}

crate::on_both_backends_with!(default_body_limit =>
    a_group_patch_adds_and_removes_ten_thousand_members_in_one_operation,
    a_tenant_with_a_group_of_twenty_thousand_members_exports_and_imports,
    the_history_of_a_name_with_seventy_thousand_former_resources_is_served,
);
