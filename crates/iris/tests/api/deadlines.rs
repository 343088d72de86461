//! A request that outlives its deadline (issues 13 and 18): it is answered `503` with a SCIM error
//! and `Retry-After`, what it started is rolled back, and the locks it held are released, so the
//! next request on the same resources goes through. The slow request is made slow the only honest
//! way, by a lock the test holds in the database itself, on both engines.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::harness::{Backend, TestApp, patch_body};

fn one_second_deadline(config: &mut iris::config::Config) {
    config.request_timeout_seconds = 1;
}

/// A connection of the test's own that holds a lock the server's write needs: the user's row on
/// PostgreSQL, the write lock on SQLite (which has no row locks).
pub(crate) enum Blocker {
    Postgres(sqlx::postgres::PgConnection),
    Sqlite(sqlx::sqlite::SqliteConnection),
}

impl Blocker {
    pub(crate) async fn lock_user(app: &TestApp, user_id: &str) -> Self {
        match app.backend {
            Backend::Postgres => {
                let mut conn = sqlx::postgres::PgConnection::connect(&app.database_url)
                    .await
                    .unwrap();
                sqlx::raw_sql("BEGIN").execute(&mut conn).await.unwrap();
                sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
                    .bind(user_id)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Self::Postgres(conn)
            }
            Backend::Sqlite => {
                let mut conn = sqlx::sqlite::SqliteConnection::connect(&app.database_url)
                    .await
                    .unwrap();
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Self::Sqlite(conn)
            }
        }
    }

    pub(crate) async fn release(self) {
        match self {
            Self::Postgres(mut conn) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();
            }
            Self::Sqlite(mut conn) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();
            }
        }
    }
}

/// Server backends of this database that wait for a lock (PostgreSQL).
pub(crate) async fn waiting_on_locks(app: &TestApp) -> i64 {
    let mut conn = sqlx::postgres::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

/// Waits (up to 2 s) until no backend of this database waits for a lock; returns how many still do.
async fn settled_lock_waits(app: &TestApp) -> i64 {
    let mut waiting = waiting_on_locks(app).await;
    for _ in 0..40 {
        if waiting == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        waiting = waiting_on_locks(app).await;
    }
    waiting
}

/// A user and an empty group, and a PATCH adding the user to the group: it locks the group's row,
/// then needs the user's (the user's `groups` changes).
pub(crate) async fn user_and_group(app: &TestApp) -> (String, String, serde_json::Value) {
    let user = app
        .create_user(&json!({"userName": "held@example.com"}))
        .await;
    let group = app
        .post("/Groups", &json!({"displayName": "Held"}))
        .await
        .expect(StatusCode::CREATED)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let add = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": user}]}]));
    (user, group, add)
}

/// After the blocker is gone: nothing of the abandoned PATCH landed, and the group takes it again.
async fn the_abandoned_add_did_not_land_and_can_be_retried(
    app: &TestApp,
    user: &str,
    group: &str,
    add: &serde_json::Value,
) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored = app
        .get(&format!("/Groups/{group}"))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(
        stored["members"].as_array().map_or(0, Vec::len),
        0,
        "{stored}"
    );
    let again = app.patch(&format!("/Groups/{group}"), add).await;
    assert!(again.status.is_success(), "{}", again.text);
    let stored = app
        .get(&format!("/Groups/{group}"))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(stored["members"][0]["value"], user);
}

async fn a_request_past_its_deadline_is_503_rolled_back_and_releases_its_locks(
    app: TestApp,
) -> TestApp {
    let (user, group, add) = user_and_group(&app).await;
    let blocker = Blocker::lock_user(&app, &user).await;
    let started = Instant::now();
    let reply = app
        .patch(&format!("/Groups/{group}"), &add)
        .await
        .expect_error(StatusCode::SERVICE_UNAVAILABLE, None);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "answered after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("within 1 s")
    );

    if app.backend == Backend::Postgres {
        // The abandoned statement was cancelled: nothing of this database waits for a lock, and
        // the group's row is free while the test still holds the user's.
        assert_eq!(
            settled_lock_waits(&app).await,
            0,
            "the abandoned request still waits"
        );
        let rename =
            patch_body(json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]));
        let renamed = app.patch(&format!("/Groups/{group}"), &rename).await;
        assert!(renamed.status.is_success(), "{}", renamed.text);
    }
    blocker.release().await;
    the_abandoned_add_did_not_land_and_can_be_retried(&app, &user, &group, &add).await;
    app
}

crate::on_both_backends_with!(one_second_deadline =>
    a_request_past_its_deadline_is_503_rolled_back_and_releases_its_locks,
);

/// With the default deadline (30 s), so only the client's hang-up can end the request.
mod hang_up {
    use super::*;

    async fn a_request_whose_client_hangs_up_stops_and_releases_its_locks(app: TestApp) -> TestApp {
        let (user, group, add) = user_and_group(&app).await;
        let blocker = Blocker::lock_user(&app, &user).await;
        let impatient = app
            .request(reqwest::Method::PATCH, &format!("/Groups/{group}"))
            .header("content-type", "application/scim+json")
            .body(add.to_string())
            .timeout(Duration::from_millis(500))
            .send()
            .await;
        assert!(
            impatient.is_err_and(|e| e.is_timeout()),
            "the client gave up"
        );
        if app.backend == Backend::Postgres {
            assert_eq!(
                settled_lock_waits(&app).await,
                0,
                "the abandoned request still waits"
            );
        }
        blocker.release().await;
        the_abandoned_add_did_not_land_and_can_be_retried(&app, &user, &group, &add).await;
        app
    }

    crate::on_both_backends!(a_request_whose_client_hangs_up_stops_and_releases_its_locks);
}
