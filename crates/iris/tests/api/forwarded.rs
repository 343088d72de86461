//! Behind a reverse proxy (issue 13): `X-Forwarded-Proto` and `-Host` name the URL in
//! `meta.location` and `Location` only when the peer is a trusted proxy and no `public_url` is
//! configured; `X-Forwarded-For` names the client in the logs only from a trusted proxy. The test
//! client connects from 127.0.0.1, so trusting 127.0.0.1/32 makes it a proxy and trusting
//! 10.0.0.0/8 does not.

use std::process::Stdio;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::TestApp;
use crate::operator::{command, free_port};

const FORWARDED: [(&str, &str); 3] = [
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "iris.example.com"),
    ("x-forwarded-for", "203.0.113.9"),
];

/// Creates a user with the forwarded headers; its `meta.location` and `Location` header.
async fn located_through_the_proxy(app: &TestApp, user_name: &str) -> (String, String) {
    let mut request = app
        .request(Method::POST, "/Users")
        .header("content-type", "application/scim+json")
        .body(json!({"userName": user_name}).to_string());
    for (name, value) in FORWARDED {
        request = request.header(name, value);
    }
    let reply = request.send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let header = reply.headers()["location"].to_str().unwrap().to_owned();
    let body: serde_json::Value = reply.json().await.unwrap();
    (
        body["meta"]["location"].as_str().unwrap().to_owned(),
        header,
    )
}

fn trusting_the_test_client(config: &mut iris::config::Config) {
    config.trusted_proxies = vec!["127.0.0.1/32".into()];
}

fn trusting_another_network(config: &mut iris::config::Config) {
    config.trusted_proxies = vec!["10.0.0.0/8".into()];
}

fn trusting_the_test_client_with_a_public_url(config: &mut iris::config::Config) {
    trusting_the_test_client(config);
    config.public_url = Some("https://scim.example.org".into());
}

async fn a_trusted_proxys_scheme_and_host_name_the_location(app: TestApp) -> TestApp {
    let (location, header) = located_through_the_proxy(&app, "proxied@example.com").await;
    assert!(
        location.starts_with("https://iris.example.com/scim/v2/acme/Users/"),
        "{location}"
    );
    assert_eq!(header, location);
    // Without the headers, the same server locates by its own address.
    let id = app
        .create_user(&json!({"userName": "direct@example.com"}))
        .await;
    let direct = app
        .get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        direct.body["meta"]["location"],
        format!("{}/Users/{id}", app.tenant_url)
    );
    app
}

async fn an_untrusted_peers_forwarded_headers_are_ignored(app: TestApp) -> TestApp {
    let (location, header) = located_through_the_proxy(&app, "spoofed@example.com").await;
    assert!(
        location.starts_with(&format!("{}/Users/", app.tenant_url)),
        "{location}"
    );
    assert_eq!(header, location);
    app
}

async fn a_configured_public_url_wins_over_a_trusted_proxy(app: TestApp) -> TestApp {
    let (location, _) = located_through_the_proxy(&app, "public@example.com").await;
    assert!(
        location.starts_with("https://scim.example.org/scim/v2/acme/Users/"),
        "{location}"
    );
    app
}

mod trusted {
    use super::*;

    crate::on_both_backends_with!(trusting_the_test_client =>
        a_trusted_proxys_scheme_and_host_name_the_location,
    );
}

mod untrusted {
    use super::*;

    crate::on_both_backends_with!(trusting_another_network =>
        an_untrusted_peers_forwarded_headers_are_ignored,
    );
}

mod public_url {
    use super::*;

    crate::on_both_backends_with!(trusting_the_test_client_with_a_public_url =>
        a_configured_public_url_wins_over_a_trusted_proxy,
    );
}

/// The client address in `iris serve`'s JSON log lines for a request carrying
/// `X-Forwarded-For: 203.0.113.9`, with `--trusted-proxy` set to `trusted`.
async fn logged_client(trusted: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let database = format!("sqlite://{}", dir.path().join("iris.db").display());
    let log = dir.path().join("serve.log");
    let mut child = command(&database, &url)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--trusted-proxy", trusted, "--log-format", "json"])
        .env("IRIS_LOG", "info,tower_http=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut answered = false;
    for _ in 0..200 {
        let probe = http
            .get(format!("{url}/healthz"))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await;
        if probe.is_ok_and(|r| r.status() == StatusCode::OK) {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "iris serve never answered");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    let lines = std::fs::read_to_string(&log).unwrap();
    lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .flat_map(|l| l["spans"].as_array().cloned().unwrap_or_default())
        .filter_map(|span| span["client"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_logs_name_the_forwarded_client_only_from_a_trusted_proxy() {
    let trusted = logged_client("127.0.0.1").await;
    assert!(!trusted.is_empty(), "no request was logged with its client");
    assert!(trusted.iter().all(|c| c == "203.0.113.9"), "{trusted:?}");
    let untrusted = logged_client("10.0.0.0/8").await;
    assert!(
        !untrusted.is_empty(),
        "no request was logged with its client"
    );
    assert!(untrusted.iter().all(|c| c == "127.0.0.1"), "{untrusted:?}");
}
