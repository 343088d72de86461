//! The test harness: a real `iris` server on a free port over a fresh database (a temporary SQLite
//! file, or a PostgreSQL database created for the test and dropped after it), an HTTP client that
//! reads whole replies, and the fixtures the tests share.
//!
//! - `database`: fresh databases on either engine.
//! - `app`: the server under test and the requests sent to it.
//! - `reply`: a response read whole, and the status and SCIM error assertions.
//! - `resources`: users and groups over HTTP (create, read back, PATCH, memberships).
//! - `fixtures`: the SCIM URNs and the bodies Entra and the validators send.
//! - `admin`: the only calls into iris-core (tenants, tokens, bulk imports, store reads).
//!
//! A test is an `async fn(TestApp) -> TestApp` declared once and run on both engines by
//! [`on_both_backends!`]; tests that drive `iris` processes take a database URL instead and run
//! through [`on_both_databases!`] or [`run_on_database`].

mod admin;
mod app;
mod database;
mod fixtures;
mod reply;
mod resources;

use std::future::Future;

pub use app::{TestApp, test_config};
pub use database::{Backend, TestDatabase};
pub use fixtures::{
    ENTERPRISE, ERROR, GROUP, LIST_RESPONSE, PATCH_OP, SCIM_JSON, SEARCH_REQUEST, USER,
    discovery_paths, entra_group, entra_user, full_user, patch_body, rich_user, validator_user,
};
pub use reply::Reply;
pub use resources::{client_part, id_set, without_meta};

/// Runs `test` against a fresh server on `backend`, cleaning up even when the test fails.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: Future<Output = TestApp> + Send + 'static,
{
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let app = TestApp::spawn(backend, &db).await;
    let outcome = tokio::spawn(test(app)).await;
    match outcome {
        Ok(app) => app.stop().await,
        Err(e) => {
            db.drop_database().await;
            std::panic::resume_unwind(e.into_panic());
        }
    }
    db.drop_database().await;
}

/// [`run`] on a server whose settings `configure` adjusts first.
pub async fn run_with<F, Fut>(backend: Backend, configure: fn(&mut iris::config::Config), test: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: Future<Output = TestApp> + Send + 'static,
{
    run_with_client(backend, configure, reqwest::Client::new(), test).await;
}

/// [`run_with`], talking to the server through `http` (see [`TestApp::spawn_with_client`]).
pub async fn run_with_client<F, Fut>(
    backend: Backend,
    configure: impl FnOnce(&mut iris::config::Config),
    http: reqwest::Client,
    test: F,
) where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: Future<Output = TestApp> + Send + 'static,
{
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let app = TestApp::spawn_with_client(backend, &db, configure, http).await;
    let outcome = tokio::spawn(test(app)).await;
    match outcome {
        Ok(app) => app.stop().await,
        Err(e) => {
            db.drop_database().await;
            std::panic::resume_unwind(e.into_panic());
        }
    }
    db.drop_database().await;
}

/// Runs `scenario` with the URL of a fresh database on `backend` (for tests that start `iris`
/// processes themselves), dropping the database even when the scenario fails.
pub async fn run_on_database<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let outcome = tokio::spawn(scenario(db.url.clone())).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Declares each test once and runs it on both backends: `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run($crate::harness::Backend::Sqlite, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run($crate::harness::Backend::Postgres, super::$name).await;
                }
            )*
        }
    };
}

/// Like [`on_both_backends!`] for tests of a server configured by `configure` (a
/// `fn(&mut Config)` beside the tests): `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends_with {
    ($configure:ident => $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run_with($crate::harness::Backend::Sqlite, super::$configure, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run_with($crate::harness::Backend::Postgres, super::$configure, super::$name).await;
                }
            )*
        }
    };
}

/// Like [`on_both_backends!`] for scenarios that take a fresh database's URL: `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run_on_database($crate::harness::Backend::Sqlite, super::$name)
                        .await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run_on_database($crate::harness::Backend::Postgres, super::$name)
                        .await;
                }
            )*
        }
    };
}
