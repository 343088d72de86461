//! The property: on random datasets, SQL and the in-memory evaluator select the same users for
//! every random filter.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::database::{Backend, assert_agreement, on_database};
use crate::filters::{Pool, filter_strategy};
use crate::fixture::Fixture;
use crate::users::{bodies, user_body};

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64).to_le_bytes());
    }
    bytes
}

fn runner(seed: u64, cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 20_000,
        // Shrinking queries the database each step; a bounded search keeps a failing run short.
        max_shrink_time: 30_000,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed)),
    )
}

/// Dataset seeds: IRIS_AGREEMENT_SEED alone if set, else three fixed ones and a fresh one.
fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("IRIS_AGREEMENT_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return vec![seed];
    }
    let fresh = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(4, |d| d.as_nanos() as u64);
    vec![1, 2, 3, fresh]
}

const USERS_PER_TENANT: usize = 40;

fn random_agreement(backend: Backend) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let failures = on_database(backend, "filter agreement", async move |store, backend| {
        let mut failures = Vec::new();
        for (n, seed) in seeds().into_iter().enumerate() {
            eprintln!(
                "{backend:?}: dataset seed {seed} ({USERS_PER_TENANT} users, {cases} filters); reproduce with IRIS_AGREEMENT_SEED={seed}"
            );
            let mut data_runner = runner(seed, 1);
            let generated = prop::collection::vec(user_body(), USERS_PER_TENANT)
                .new_tree(&mut data_runner)
                .expect("dataset")
                .current();
            let fixture =
                Fixture::seed(&store, backend, &format!("agree-{n}"), &bodies(generated)).await;
            let pool = Arc::new(Pool::from(&fixture.rendered));
            let strategy = filter_strategy(&pool);
            let mut filter_runner = runner(seed ^ 0xF11_7E55, cases);
            // The runner calls a synchronous closure; each case blocks on the store query.
            let handle = tokio::runtime::Handle::current();
            let outcome = tokio::task::block_in_place(|| {
                filter_runner.run(&strategy, |raw| {
                    handle
                        .block_on(fixture.check(&raw))
                        .map_err(TestCaseError::fail)
                })
            });
            match outcome {
                Ok(()) => {}
                Err(TestError::Fail(reason, minimal)) => failures.push(format!(
                    "dataset seed {seed}; minimal filter {minimal}\n{reason}"
                )),
                Err(e) => failures.push(format!("dataset seed {seed}: {e}")),
            }
        }
        failures
    });
    assert_agreement(&failures);
}

#[test]
fn sqlite_sql_and_memory_agree_on_random_filters() {
    random_agreement(Backend::Sqlite);
}

#[test]
fn postgres_sql_and_memory_agree_on_random_filters() {
    random_agreement(Backend::Postgres);
}
