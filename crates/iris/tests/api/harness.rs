//! The test harness: a real `iris` server on a free port over a fresh database (a temporary SQLite
//! file, or a PostgreSQL database created for the test and dropped after it), and an HTTP client.

use std::future::Future;
use std::sync::Arc;

use iris::config::Config;
use iris_core::{Store, Tenant, TenantName, TenantService};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::sync::oneshot;

pub const SCIM_JSON: &str = "application/scim+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
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

/// A running server with one tenant and its token.
pub struct TestApp {
    pub backend: Backend,
    pub base_url: String,
    pub tenant_url: String,
    pub tenant_name: String,
    pub token: String,
    pub token_id: String,
    pub tenant: Tenant,
    pub tenants: TenantService,
    pub store: Arc<dyn Store>,
    pub http: reqwest::Client,
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn test_config(database: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        database: database.to_owned(),
        public_url: None,
        log_format: "text".into(),
        max_body_bytes: 256 * 1024,
        db_max_connections: 4,
        no_bootstrap: true,
        // Cycles in seconds, not minutes, so a test can replay several.
        cycle_idle_seconds: 1,
        activity_flush_ms: 100,
        ..Config::default()
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend, database: &TestDatabase) -> Self {
        let config = test_config(&database.url);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let server_config = config.clone();
        let server = tokio::spawn(async move {
            iris::server::serve(&server_config, listener, async {
                let _ = rx.await;
            })
            .await
        });
        let store = iris::server::open_store(&config).await.expect("open store");
        let tenants = TenantService::new(store.clone());
        let name = TenantName::parse("acme").expect("name");
        let (tenant, token) = tenants.create(&name).await.expect("create tenant");
        let app = Self {
            backend,
            tenant_url: format!("{base_url}/scim/v2/acme"),
            base_url,
            tenant_name: "acme".into(),
            token: token.token.clone(),
            token_id: token.id.as_str().to_owned(),
            tenant,
            tenants,
            store,
            http: reqwest::Client::new(),
            database_url: database.url.clone(),
            shutdown: Some(tx),
            server: Some(server),
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            let probe = self
                .http
                .get(format!("{}/readyz", self.base_url))
                .send()
                .await;
            if probe.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("server did not become ready");
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Creates another tenant with its own token.
    pub async fn other_tenant(&self, name: &str) -> (String, String) {
        let name = TenantName::parse(name).expect("name");
        let (_, token) = self.tenants.create(&name).await.expect("create tenant");
        (
            format!("{}/scim/v2/{}", self.base_url, name.as_str()),
            token.token,
        )
    }

    /// A request to `path` under the tenant URL (or an absolute URL), with the tenant's token.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.tenant_url)
        };
        self.http.request(method, url).bearer_auth(&self.token)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.header("content-type", SCIM_JSON).body(b.to_string());
        }
        Reply::from(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// Creates `n` users named `{prefix}{i}@example.com` and returns their ids in order.
    pub async fn create_users(&self, prefix: &str, n: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            ids.push(
                self.create_user(&json!({"userName": format!("{prefix}{i}@example.com")}))
                    .await,
            );
        }
        ids
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, body: &Value) -> String {
        let reply = self.post("/Users", body).await.expect(StatusCode::CREATED);
        reply.body["id"].as_str().expect("id").to_owned()
    }

    /// `GET /Users?filter=…` (URL-encoded here) and the ListResponse.
    pub async fn filter_users(&self, filter: &str) -> Reply {
        let q = serde_urlencoded::to_string([("filter", filter)]).expect("encode");
        self.get(&format!("/Users?{q}")).await
    }

    /// A request whose body is sent exactly as given (not necessarily JSON), with the token.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let req = self
            .request(method, path)
            .header("content-type", SCIM_JSON)
            .body(body);
        Reply::from(req.send().await.expect("request")).await
    }

    /// `GET /Users?…` with the given query parameters, URL-encoded here.
    pub async fn list_users(&self, params: &[(&str, &str)]) -> Reply {
        let q = serde_urlencoded::to_string(params).expect("encode");
        self.get(&format!("/Users?{q}")).await
    }

    /// The ids of every user of the tenant.
    pub async fn all_user_ids(&self) -> std::collections::BTreeSet<String> {
        let reply = self.get("/Users?count=1000").await.expect(StatusCode::OK);
        reply.ids()
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub async fn from(r: reqwest::Response) -> Self {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a SCIM error with this status and scimType.
    #[track_caller]
    pub fn expect_error(self, status: StatusCode, scim_type: Option<&str>) -> Self {
        let reply = self.expect(status);
        assert_eq!(reply.content_type(), SCIM_JSON);
        assert_eq!(
            reply.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            reply.text
        );
        assert_eq!(
            reply.body["status"],
            status.as_u16().to_string(),
            "{}",
            reply.text
        );
        match scim_type {
            Some(t) => assert_eq!(reply.body["scimType"], t, "{}", reply.text),
            None => assert!(reply.body.get("scimType").is_none(), "{}", reply.text),
        }
        reply
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Resources` of a ListResponse.
    pub fn resources(&self) -> &Vec<Value> {
        self.body["Resources"].as_array().expect("Resources array")
    }

    /// The ids of a ListResponse's `Resources`, in order.
    pub fn id_list(&self) -> Vec<String> {
        self.resources()
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect()
    }

    /// The ids of a ListResponse's `Resources`, as a set.
    pub fn ids(&self) -> std::collections::BTreeSet<String> {
        self.id_list().into_iter().collect()
    }
}

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
