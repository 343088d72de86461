//! The server under test, started in-process on a free port, and the requests sent to it.

use iris::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

use super::admin::Admin;
use super::database::{Backend, TestDatabase};
use super::fixtures::SCIM_JSON;
use super::reply::Reply;

/// The tenant every test server starts with.
const TENANT: &str = "acme";

/// A running server with one tenant and its token.
pub struct TestApp {
    pub backend: Backend,
    pub base_url: String,
    pub tenant_url: String,
    pub tenant_name: String,
    pub token: String,
    pub token_id: String,
    /// What the test does behind the HTTP API.
    pub admin: Admin,
    pub http: reqwest::Client,
    pub database_url: String,
    /// `http://…/metrics` on the server's metrics listener (every test server has one).
    pub metrics_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// What a SIGHUP sends `iris serve`: read the TLS certificate files again.
    reload: tokio::sync::mpsc::Sender<iris::server::CertificateReload>,
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
        // Tests send requests as fast as they can; the tests of the limits set their own
        // (rate_limits.rs).
        rate_limit_tenant_per_second: 0,
        ..Config::default()
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend, database: &TestDatabase) -> Self {
        Self::spawn_with(backend, database, |_| {}).await
    }

    /// A server whose settings `configure` adjusts first.
    pub async fn spawn_with(
        backend: Backend,
        database: &TestDatabase,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        Self::spawn_with_client(backend, database, configure, reqwest::Client::new()).await
    }

    /// [`TestApp::spawn_with`], talking to the server through `http` (one that trusts the test's
    /// certificate authority, for a server on HTTPS).
    pub async fn spawn_with_client(
        backend: Backend,
        database: &TestDatabase,
        configure: impl FnOnce(&mut Config),
        http: reqwest::Client,
    ) -> Self {
        let mut config = test_config(&database.url);
        configure(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let scheme = if config.tls_enabled() {
            "https"
        } else {
            "http"
        };
        let base_url = format!("{scheme}://{}", listener.local_addr().expect("addr"));
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind metrics");
        let metrics_url = format!("http://{}/metrics", metrics.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let (reload, reloads) = tokio::sync::mpsc::channel(1);
        let server_config = config.clone();
        let server = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            iris::server::serve_with_reloads(
                &server_config,
                listener,
                Some(metrics),
                shutdown,
                reloads,
            )
            .await
        });
        let (admin, credentials) = Admin::open(&config, TENANT).await;
        let app = Self {
            backend,
            tenant_url: format!("{base_url}/scim/v2/{TENANT}"),
            base_url,
            tenant_name: TENANT.into(),
            token: credentials.token,
            token_id: credentials.token_id,
            admin,
            http,
            database_url: database.url.clone(),
            metrics_url,
            shutdown: Some(tx),
            server: Some(server),
            reload,
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

    /// Starts the server's shutdown (what SIGTERM does) and hands back the server's task.
    pub fn begin_shutdown(&mut self) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.take().expect("the server is running")
    }

    /// Reloads the server's TLS certificate from its files, as SIGHUP does; the outcome.
    pub async fn reload_certificate(&self) -> Result<(), String> {
        let (done, outcome) = oneshot::channel();
        self.reload
            .send(done)
            .await
            .expect("the server takes reloads");
        outcome.await.expect("the server answers a reload")
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Creates another tenant with its own token; returns its Tenant URL and token.
    pub async fn other_tenant(&self, name: &str) -> (String, String) {
        let token = self.admin.create_tenant(name).await;
        (format!("{}/scim/v2/{name}", self.base_url), token)
    }

    /// `path` under the tenant URL, or `path` itself when it is an absolute URL.
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.tenant_url)
        }
    }

    /// A request to `path` under the tenant URL (or an absolute URL), with the tenant's token.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        send_json(self.request(method, path), body).await
    }

    /// [`TestApp::send`] with one more header (`If-Match`, `If-None-Match`, …).
    pub async fn send_with_header(
        &self,
        method: Method,
        path: &str,
        (name, value): (&str, &str),
        body: Option<&Value>,
    ) -> Reply {
        send_json(self.request(method, path).header(name, value), body).await
    }

    /// A request with another bearer token than the tenant's, or with none.
    pub async fn send_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        send_json(req, body).await
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

    /// A request to `/admin/v1{path}` with `token` (an operator's, or any other), or none.
    pub async fn admin_send(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}/admin/v1{path}", self.base_url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        Reply::from(req.send().await.expect("request")).await
    }

    /// The metrics page, as scraped from the metrics listener.
    pub async fn scrape(&self) -> String {
        let reply = self
            .http
            .get(&self.metrics_url)
            .send()
            .await
            .expect("scrape");
        assert_eq!(reply.status(), StatusCode::OK);
        reply.text().await.expect("metrics text")
    }
}

/// Sends `req`, with `body` as SCIM JSON if there is one, and reads the reply whole.
async fn send_json(mut req: reqwest::RequestBuilder, body: Option<&Value>) -> Reply {
    if let Some(b) = body {
        req = req.header("content-type", SCIM_JSON).body(b.to_string());
    }
    Reply::from(req.send().await.expect("request")).await
}
