//! Fresh databases for one test: a temporary SQLite file, or a PostgreSQL database created and
//! dropped by the test (skipped, visibly, when PostgreSQL is unreachable and IRIS_REQUIRE_POSTGRES
//! is not set).

use std::io::Write;
use std::sync::Arc;

use iris_core::Store;
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

fn postgres_admin_url() -> String {
    std::env::var("IRIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The admin URL with its database replaced by `db`.
fn postgres_url_for(db: &str) -> String {
    let admin = postgres_admin_url();
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_owned(), Some(q.to_owned())),
        None => (admin.clone(), None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => base[..scheme_end + slash].to_owned(),
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

/// A database that lives for one test.
struct TestDb {
    url: String,
    backend: Backend,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// `None` (after a visible SKIPPED line) when PostgreSQL is unreachable and
    /// IRIS_REQUIRE_POSTGRES is not set.
    async fn create(backend: Backend, label: &str) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("iris.db").display());
                Some(Self {
                    url,
                    backend,
                    pg_name: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = match sqlx::postgres::PgConnection::connect(&admin).await {
                    Ok(c) => c,
                    Err(e) => {
                        if std::env::var_os("IRIS_REQUIRE_POSTGRES").is_some() {
                            panic!(
                                "IRIS_REQUIRE_POSTGRES is set but PostgreSQL at {admin} is unreachable: {e}"
                            );
                        }
                        // Written to the stream itself, not through `eprintln!`, so that the
                        // test harness does not capture it and the skip stays visible.
                        let _ = writeln!(
                            std::io::stderr(),
                            "SKIPPED (PostgreSQL {label}): no PostgreSQL at {admin}: {e}"
                        );
                        return None;
                    }
                };
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let name = format!("iris_agree_{}_{nanos}", std::process::id());
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                Some(Self {
                    url: postgres_url_for(&name),
                    backend,
                    pg_name: Some(name),
                    _dir: None,
                })
            }
        }
    }

    async fn drop_database(self) {
        let Some(name) = self.pg_name else { return };
        if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&postgres_admin_url()).await {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
            conn.close().await.ok();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `body` against a fresh database of `backend` and returns the disagreements it reports
/// (returned rather than panicked, so that the database is dropped first). Empty when PostgreSQL
/// is skipped.
pub(crate) fn on_database<F>(backend: Backend, label: &str, body: F) -> Vec<String>
where
    F: AsyncFnOnce(Arc<dyn Store>, Backend) -> Vec<String>,
{
    runtime().block_on(async {
        let Some(db) = TestDb::create(backend, label).await else {
            return Vec::new();
        };
        let store = iris_store::connect(&db.url, &iris_store::PoolConfig::default())
            .await
            .expect("connect");
        let failures = body(store, db.backend).await;
        db.drop_database().await;
        failures
    })
}

pub(crate) fn assert_agreement(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} disagreement(s) between SQL and the in-memory evaluator:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
