//! Whole HTTP requests against Iris's router, in process: the `http_request` target and the
//! stable replay test (`crates/iris/tests/api/fuzz_corpus.rs`, which includes this file) share
//! it. One temporary SQLite store with two tenants, a user and a group serves every input.
//!
//! An input is a request written as on the wire, so corpus files can be read and written by hand:
//!
//! ```text
//! PATCH /scim/v2/acme/Users/$USER?attributes=userName
//! Authorization: Bearer $TOKEN
//! Content-Type: application/scim+json
//!
//! {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[…]}
//! ```
//!
//! `$TOKEN` and `$OTHER_TOKEN` become the bearer tokens of tenants `acme` and `globex`, `$USER`
//! and `$GROUP` the ids of acme's user and group, `$CLIENT` and `$SECRET` acme's OAuth client
//! credentials, anywhere in the input. A request line or header the HTTP parser would refuse is
//! not a request the router can see and is skipped.
//!
//! What must hold for every request: an answer within the time limit (no hang), no panic, no
//! `5xx` other than `503` (the documented refusals: deadline, busy or unreachable database,
//! saturation), and every error answered with a JSON body (SCIM, admin or RFC 6749 errors).

use std::convert::Infallible;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, Uri};
use axum::response::Response;
use tower::ServiceExt;
use tower::util::BoxCloneService;

/// How long one request may take before the target reports a hang (the router's own deadline is
/// shorter, so a hang means the deadline failed).
const HANG_LIMIT: Duration = Duration::from_secs(15);

/// The router's request deadline in the fixture.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

struct Fixture {
    runtime: tokio::runtime::Runtime,
    service: Mutex<BoxCloneService<Request, Response, Infallible>>,
    substitutions: Vec<(&'static str, String)>,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn build() -> Fixture {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
    let (service, substitutions) = runtime.block_on(async {
        let store = iris_store::connect(&url, &iris_store::PoolConfig::default())
            .await
            .expect("open the store");
        let tenants = iris_core::TenantService::new(store.clone());
        let acme = iris_core::TenantName::parse("acme").expect("name");
        let (tenant, token) = tenants.create(&acme).await.expect("tenant");
        let globex = iris_core::TenantName::parse("globex").expect("name");
        let (_, other) = tenants.create(&globex).await.expect("tenant");
        let oauth = iris_core::OAuthService::new(store.clone());
        let client = oauth.create_client(&tenant, Some("fuzz")).await.expect("client");
        let resources = iris_core::ResourceService::new(
            store.clone(),
            iris_scim::filter::FilterLimits::default(),
            iris_core::listing::PageLimits::default(),
        );
        let config = iris_http::HttpConfig {
            public_url: "http://iris.test".to_owned(),
            public_url_configured: true,
            max_body_bytes: 256 * 1024,
            cycles: iris_core::provisioning::CycleSettings {
                idle_gap: Duration::from_secs(300),
                interval: Duration::from_secs(2400),
            },
            metrics_tenant_label_cap: 10,
            admin_api: true,
            console_path: Some("/console".to_owned()),
            request_timeout: REQUEST_TIMEOUT,
            rate_limit_tenant: iris_http::RateLimit::OFF,
            rate_limit_token: iris_http::RateLimit::OFF,
            max_in_flight_requests: 0,
            oauth_token_lifetime: time::Duration::minutes(60),
            oauth_token_rate_limit: iris_http::RateLimit::OFF,
        };
        let state = iris_http::AppState::new(store, resources, config);
        let service = BoxCloneService::new(iris_http::app(state));
        let user = send(
            service.clone(),
            post(
                "/scim/v2/acme/Users",
                &token.token,
                r#"{"userName":"fuzz@example.com","emails":[{"value":"fuzz@example.com","type":"work","primary":true}]}"#,
            ),
        )
        .await;
        let group = send(
            service.clone(),
            post(
                "/scim/v2/acme/Groups",
                &token.token,
                &format!(
                    r#"{{"displayName":"Fuzzers","members":[{{"value":"{}"}}]}}"#,
                    id_of(&user)
                ),
            ),
        )
        .await;
        let substitutions = vec![
            // Longest names first, so `$OTHER_TOKEN` is not read as `$OTHER` + `_TOKEN`.
            ("$OTHER_TOKEN", other.token),
            ("$TOKEN", token.token),
            ("$USER", id_of(&user)),
            ("$GROUP", id_of(&group)),
            ("$CLIENT", client.client_id),
            ("$SECRET", client.secret),
        ];
        (service, substitutions)
    });
    Fixture {
        runtime,
        service: Mutex::new(service),
        substitutions,
        _dir: dir,
    }
}

fn post(path: &str, token: &str, body: &str) -> Request {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/scim+json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

async fn send(service: BoxCloneService<Request, Response, Infallible>, req: Request) -> Vec<u8> {
    let response = match service.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec()
}

fn id_of(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    v["id"].as_str().expect("an id").to_owned()
}

/// The request an input describes, or `None` if no HTTP parser would let it through.
fn parse(data: &[u8], substitutions: &[(&str, String)]) -> Option<Request> {
    let mut text = String::from_utf8_lossy(data).into_owned();
    for (name, value) in substitutions {
        if text.contains(name) {
            text = text.replace(name, value);
        }
    }
    let (head, body) = match text.split_once("\n\n") {
        Some((h, b)) => (h.to_owned(), b.to_owned()),
        None => (text.clone(), String::new()),
    };
    let mut lines = head.lines();
    let (method, target) = lines.next()?.trim_end_matches('\r').split_once(' ')?;
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let uri: Uri = target.trim().parse().ok()?;
    uri.path_and_query()?;
    let mut builder = Request::builder().method(method).uri(uri);
    for line in lines {
        let Some((name, value)) = line.trim_end_matches('\r').split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) else {
            continue;
        };
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body)).ok()
}

/// Sends the request `data` describes and checks the answer; panics on a violation.
pub fn check_http_request(data: &[u8]) {
    let fixture = fixture();
    let Some(req) = parse(data, &fixture.substitutions) else {
        return;
    };
    let what = format!("{} {}", req.method(), req.uri());
    let is_head = req.method() == Method::HEAD;
    let service = fixture
        .service
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let answered = fixture.runtime.block_on(async {
        tokio::time::timeout(HANG_LIMIT, async {
            let response = match service.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let (parts, body) = response.into_parts();
            let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await;
            (parts, body)
        })
        .await
    });
    let Ok((parts, body)) = answered else {
        panic!("{what}: no answer within {HANG_LIMIT:?}");
    };
    let body = body.unwrap_or_else(|e| panic!("{what}: the body could not be read: {e}"));
    let status = parts.status.as_u16();
    assert!(
        status < 500 || status == 503,
        "{what}: answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    if status >= 400 && !is_head {
        assert!(
            serde_json::from_slice::<serde_json::Value>(&body).is_ok(),
            "{what}: error {status} without a JSON body: {:?}",
            String::from_utf8_lossy(&body)
        );
    }
}
