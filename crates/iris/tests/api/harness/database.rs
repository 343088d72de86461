//! Fresh databases: a temporary SQLite file, or a PostgreSQL database created for one test and
//! dropped after it.

use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The engine's name as `/readyz` reports it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The PostgreSQL server the suite uses: IRIS_TEST_POSTGRES_URL, default the local one.
pub fn postgres_admin_url() -> String {
    std::env::var("IRIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Where to reach a database named `db` on the test PostgreSQL server.
pub fn postgres_url_for(db: &str) -> String {
    let admin = postgres_admin_url();
    let (base, query) = admin
        .split_once('?')
        .map_or((admin.as_str(), None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDatabase {
    pub url: String,
    backend: Backend,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// A fresh database, or `None` (with a visible message) when PostgreSQL is not reachable and
    /// IRIS_REQUIRE_POSTGRES is not set.
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("iris.db").display());
                Some(Self {
                    url,
                    backend,
                    name: String::new(),
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
                        eprintln!("SKIPPED (PostgreSQL suite): no PostgreSQL at {admin}: {e}");
                        return None;
                    }
                };
                let name = format!("iris_test_{}", uuid::Uuid::new_v4().simple());
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                Some(Self {
                    url: postgres_url_for(&name),
                    backend,
                    name,
                    _dir: None,
                })
            }
        }
    }

    /// Whether the test PostgreSQL server answers.
    pub async fn postgres_available() -> bool {
        match sqlx::postgres::PgConnection::connect(&postgres_admin_url()).await {
            Ok(conn) => {
                conn.close().await.ok();
                true
            }
            Err(_) => false,
        }
    }

    pub async fn drop_database(&self) {
        if self.backend != Backend::Postgres {
            return;
        }
        if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&postgres_admin_url()).await {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
            conn.close().await.ok();
        }
    }
}
