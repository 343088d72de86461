//! Groups and their memberships in an export and an import (`iris export` / `iris import`).

use serde_json::json;

use crate::harness::{TestApp, TestDatabase};

async fn groups_and_memberships_survive_export_and_import(app: TestApp) -> TestApp {
    let users = app.create_users("x", 3).await;
    let parent = app
        .create_group(&json!({"displayName": "Parent", "externalId": "p-1",
                              "members": [{"value": users[0]}, {"value": users[1]}]}))
        .await;
    let child = app.create_group_named("Child").await;
    app.add_members(&parent, &[&child]).await;
    app.add_members(&child, &[&users[2]]).await;

    let export = app.admin.export().await;
    assert_eq!(export.groups(), 2);
    // Lines survive JSON, as the file carries them.
    let export = export.through_json();

    let Some(db) = TestDatabase::create(app.backend).await else {
        return app;
    };
    let target = app.admin.stored_in(&db.url).await;
    assert_eq!(target.import(export).await, (3, 2, 4));
    let source = app.admin.stored();
    let source_groups = source.groups().await;
    let target_groups = target.groups().await;
    assert_eq!(target_groups.len(), 2);
    for (a, b) in source_groups.iter().zip(&target_groups) {
        // Record and members alike.
        assert_eq!(a, b);
    }
    let of_users = target.direct_groups(&users).await;
    assert_eq!(of_users.len(), 3);
    assert_eq!(source.direct_groups(&users).await, of_users);
    // Indexed lookups work on the imported rows.
    assert_eq!(
        target.direct_groups(std::slice::from_ref(&child)).await[0].group_id,
        parent
    );
    drop(target);
    db.drop_database().await;
    app
}

crate::on_both_backends!(groups_and_memberships_survive_export_and_import);
