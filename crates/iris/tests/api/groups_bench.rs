//! A measurement, not a timed test (ignored by default): what a membership PATCH and a members-free
//! GET cost on a group of 100,000 members compared with a group of 10 (issue 6, lessons.md item 6).
//!
//! ```text
//! cargo test --release -p iris --test api -- --ignored --nocapture large_group
//! ```
//!
//! Users are inserted through the store in batches; the big group's members are added through the
//! store too (the import path, 5,000 per transaction). Each timed PATCH adds 1,000 members that are
//! removed again (untimed) afterwards, so both groups keep their size across rounds.
//!
//! The test PostgreSQL runs with autovacuum off, so statistics are refreshed here by hand while
//! the tables grow, as autovacuum's ANALYZE would in production. Without it the plans PostgreSQL
//! caches for its foreign-key checks, made while the tables were empty, stop using the primary
//! key and every insert scans the tenant.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::harness::{Backend, TestApp};

const BIG: usize = 100_000;
const SMALL: usize = 10;
const ADD: usize = 1_000;
const ROUNDS: usize = 7;
const GETS: usize = 200;

fn user_batch(from: usize, to: usize) -> Vec<Value> {
    (from..to)
        .map(|i| {
            json!({"userName": format!("bench{i}@example.com"), "active": true,
                   "emails": [{"type": "work", "value": format!("bench{i}@example.com"), "primary": true}]})
        })
        .collect()
}

fn members(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|u| json!({"value": u})).collect())
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn timed_patch(app: &TestApp, group: &str, body: &Value) -> Duration {
    let start = Instant::now();
    app.patch(&format!("/Groups/{group}"), body)
        .await
        .expect(StatusCode::NO_CONTENT);
    start.elapsed()
}

async fn timed_get(app: &TestApp, group: &str) -> Duration {
    let start = Instant::now();
    let reply = app
        .get(&format!("/Groups/{group}?excludedAttributes=members"))
        .await
        .expect(StatusCode::OK);
    let elapsed = start.elapsed();
    assert!(reply.body.get("members").is_none());
    elapsed
}

/// `ANALYZE` on PostgreSQL (what autovacuum would do); nothing on SQLite.
async fn analyze(app: &TestApp) {
    if app.backend != Backend::Postgres {
        return;
    }
    let mut conn = sqlx::postgres::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::raw_sql("ANALYZE").execute(&mut conn).await.unwrap();
    conn.close().await.ok();
}

async fn measure(app: TestApp) -> TestApp {
    let setup = Instant::now();
    let pool = SMALL + BIG + ADD * ROUNDS;
    let mut ids = Vec::with_capacity(pool);
    for (n, from) in (0..pool).step_by(1000).enumerate() {
        let batch = user_batch(from, (from + 1000).min(pool));
        ids.extend(app.admin.import_users(&batch).await);
        if n.is_power_of_two() {
            analyze(&app).await;
        }
    }
    let (small_members, rest) = ids.split_at(SMALL);
    let (big_members, extra) = rest.split_at(BIG);
    let small = app.create_group(&json!({"displayName": "small"})).await;
    let big = app.create_group(&json!({"displayName": "big"})).await;
    app.patch(
        &format!("/Groups/{small}"),
        &json!({"Operations": [{"op": "add", "path": "members", "value": members(small_members)}]}),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    for (n, chunk) in big_members.chunks(5000).enumerate() {
        if n.is_power_of_two() {
            analyze(&app).await;
        }
        app.admin.import_members(&big, chunk).await;
    }
    analyze(&app).await;
    let setup = setup.elapsed();

    // Warm both paths once.
    timed_get(&app, &small).await;
    timed_get(&app, &big).await;

    let mut patch_small = Vec::new();
    let mut patch_big = Vec::new();
    for round in 0..ROUNDS {
        let adding = &extra[round * ADD..(round + 1) * ADD];
        let add =
            json!({"Operations": [{"op": "Add", "path": "members", "value": members(adding)}]});
        let remove =
            json!({"Operations": [{"op": "Remove", "path": "members", "value": members(adding)}]});
        // Alternate which group goes first, so neither always meets a warmer cache.
        let order: [(&str, bool); 2] = if round % 2 == 0 {
            [(&big, true), (&small, false)]
        } else {
            [(&small, false), (&big, true)]
        };
        for (group, is_big) in order {
            let took = timed_patch(&app, group, &add).await;
            if is_big {
                patch_big.push(took);
            } else {
                patch_small.push(took);
            }
            app.patch(&format!("/Groups/{group}"), &remove)
                .await
                .expect(StatusCode::NO_CONTENT);
        }
    }
    let mut get_small = Vec::new();
    let mut get_big = Vec::new();
    for _ in 0..GETS {
        get_big.push(timed_get(&app, &big).await);
        get_small.push(timed_get(&app, &small).await);
    }
    // For scale: a full read of the big group's members, streamed 1,000 rows per query.
    let start = Instant::now();
    let full = app
        .get(&format!("/Groups/{big}"))
        .await
        .expect(StatusCode::OK);
    let full_read = start.elapsed();
    assert_eq!(full.body["members"].as_array().unwrap().len(), BIG);

    let backend = app.backend.name();
    let (pb, ps) = (median(patch_big), median(patch_small));
    let (gb, gs) = (median(get_big), median(get_small));
    println!(
        "[{backend}] setup {:.1}s ({pool} users, {BIG}-member group)",
        setup.as_secs_f64()
    );
    println!(
        "[{backend}] PATCH add {ADD} members: {BIG}-member group {:.2} ms, {SMALL}-member group {:.2} ms (median of {ROUNDS}), ratio {:.2}",
        ms(pb),
        ms(ps),
        pb.as_secs_f64() / ps.as_secs_f64()
    );
    println!(
        "[{backend}] GET excludedAttributes=members: {BIG}-member group {:.3} ms, {SMALL}-member group {:.3} ms (median of {GETS}), ratio {:.2}",
        ms(gb),
        ms(gs),
        gb.as_secs_f64() / gs.as_secs_f64()
    );
    println!(
        "[{backend}] GET with all {BIG} members (streamed, {} bytes): {:.0} ms",
        full.text.len(),
        ms(full_read)
    );
    app
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement; run with --release --ignored --nocapture"]
    async fn large_group_membership_costs() {
        crate::harness::run(crate::harness::Backend::Sqlite, super::measure).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement; run with --release --ignored --nocapture"]
    async fn large_group_membership_costs() {
        crate::harness::run(crate::harness::Backend::Postgres, super::measure).await;
    }
}
