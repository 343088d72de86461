//! A misbehaving network in front of a real `iris serve`: a loopback HTTP proxy that forwards
//! requests unchanged, except that it can answer a scripted run of errors (429 with
//! `Retry-After`, 500, 503), fail every request whose body or path contains a marker, delay
//! every request, or go away entirely (its listener closed: connection refused).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

#[derive(Default)]
pub struct Faults {
    /// The next requests get these statuses, one each, before anything is forwarded.
    pub script: Mutex<VecDeque<u16>>,
    /// Requests whose path or body contains this get a 500.
    pub fail_matching: Mutex<Option<String>>,
    pub delay_ms: AtomicU64,
    /// Every request that arrived, and how many got an injected error.
    pub seen: AtomicU64,
    pub injected: AtomicU64,
    /// The `X-Request-Id`s that were forwarded.
    pub request_ids: Mutex<Vec<String>>,
}

struct ProxyState {
    upstream: String,
    faults: Arc<Faults>,
    http: reqwest::Client,
}

pub struct FaultProxy {
    pub base_url: String,
    pub faults: Arc<Faults>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

fn scim_error(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.to_string(),
        "detail": "injected by the test's fault proxy",
    });
    let mut response = (code, body.to_string()).into_response();
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/scim+json"),
    );
    if status == 429 {
        response
            .headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
    }
    response
}

async fn forward(
    State(state): State<Arc<ProxyState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let faults = &state.faults;
    faults.seen.fetch_add(1, Ordering::SeqCst);
    let delay = faults.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let scripted = faults.script.lock().unwrap().pop_front();
    if let Some(status) = scripted {
        faults.injected.fetch_add(1, Ordering::SeqCst);
        return scim_error(status);
    }
    let marker = faults.fail_matching.lock().unwrap().clone();
    if let Some(marker) = marker {
        let text = String::from_utf8_lossy(&body);
        if uri.to_string().contains(&marker) || text.contains(&marker) {
            faults.injected.fetch_add(1, Ordering::SeqCst);
            return scim_error(500);
        }
    }
    if let Some(id) = headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        faults.request_ids.lock().unwrap().push(id.to_owned());
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = state
        .http
        .request(method, format!("{}{path}", state.upstream))
        .body(body);
    for name in ["authorization", "content-type", "x-request-id", "accept"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.as_bytes());
        }
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let content_type = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/scim+json")
                .to_owned();
            let bytes = r.bytes().await.unwrap_or_default();
            let mut response =
                (StatusCode::from_u16(status).unwrap(), bytes.to_vec()).into_response();
            response
                .headers_mut()
                .insert("content-type", content_type.parse().unwrap());
            response
        }
        Err(_) => scim_error(502),
    }
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream` (e.g. `http://127.0.0.1:PORT`).
    pub async fn start(upstream: &str) -> Self {
        let faults = Arc::new(Faults::default());
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            faults: faults.clone(),
            http: reqwest::Client::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(forward).with_state(state);
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self {
            base_url,
            faults,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub fn script(&self, statuses: &[u16]) {
        self.faults.script.lock().unwrap().extend(statuses);
    }

    pub fn fail_matching(&self, marker: Option<&str>) {
        *self.faults.fail_matching.lock().unwrap() = marker.map(str::to_owned);
    }

    pub fn set_delay(&self, ms: u64) {
        self.faults.delay_ms.store(ms, Ordering::SeqCst);
    }

    pub fn injected(&self) -> u64 {
        self.faults.injected.load(Ordering::SeqCst)
    }

    /// Closes the listener: from now on connections are refused.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
