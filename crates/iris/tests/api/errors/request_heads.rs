//! Request heads that are too large or not HTTP at all, sent as raw bytes over TCP (an HTTP client
//! would refuse to send most of them): each is a SCIM error with the right status, whether Iris's
//! own limits or hyper below them noticed, and the server goes on serving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use iris_http::{MAX_HEADER_BYTES, MAX_HEADER_FIELDS, MAX_REQUEST_TARGET_BYTES};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{ERROR, SCIM_JSON, TestApp};

/// A response read off a raw connection.
#[derive(Debug)]
struct RawReply {
    status: u16,
    /// Header names lowercased.
    headers: Vec<(String, String)>,
    text: String,
    body: Value,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a SCIM error with `status`, no `scimType`, and a detail that says something.
    #[track_caller]
    fn assert_scim_error(&self, status: u16, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.text);
        assert_eq!(self.header("content-type"), Some(SCIM_JSON), "{what}");
        assert_eq!(
            self.body["schemas"],
            json!([ERROR]),
            "{what}: {}",
            self.text
        );
        assert_eq!(self.body["status"], status.to_string(), "{what}");
        assert!(self.body.get("scimType").is_none(), "{what}: {}", self.text);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}: {}",
            self.text
        );
    }
}

/// One TCP connection to the server under test, spoken to in raw bytes.
struct RawConnection {
    stream: TcpStream,
    /// Read past the last response.
    pending: Vec<u8>,
}

impl RawConnection {
    fn open(app: &TestApp) -> Self {
        let addr = app.base_url.trim_start_matches("http://");
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        Self {
            stream,
            pending: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send the request");
    }

    fn fill(&mut self) -> usize {
        let mut buf = [0_u8; 16 * 1024];
        let n = self.stream.read(&mut buf).expect("read the response");
        self.pending.extend_from_slice(&buf[..n]);
        n
    }

    /// Reads one response whose body has a `content-length`.
    fn response(&mut self) -> RawReply {
        let head_end = loop {
            if let Some(at) = self.pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            assert!(
                self.fill() > 0,
                "connection closed before a response head: {:?}",
                String::from_utf8_lossy(&self.pending)
            );
        };
        let head = String::from_utf8(self.pending[..head_end].to_vec()).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {head:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("no content-length in {head:?}"));
        let body_start = head_end + 4;
        while self.pending.len() < body_start + length {
            assert!(self.fill() > 0, "connection closed inside the body");
        }
        let text: String =
            String::from_utf8_lossy(&self.pending[body_start..body_start + length]).into();
        self.pending.drain(..body_start + length);
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        RawReply {
            status,
            headers,
            text,
            body,
        }
    }

    /// Asserts the server closes the connection with nothing more to say.
    fn assert_closed(&mut self) {
        let mut rest = Vec::new();
        match self.stream.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "more after the refusal: {rest:?}"),
            // A reset after the whole reply arrived is a close too.
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }
}

/// `GET {target}` with the tenant's token and `extra` header lines.
fn get_request(app: &TestApp, target: &str, extra: &str) -> Vec<u8> {
    let host = app.base_url.trim_start_matches("http://");
    format!(
        "GET {target} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {}\r\n{extra}\r\n",
        app.token
    )
    .into_bytes()
}

fn users_path(app: &TestApp) -> String {
    format!("/scim/v2/{}/Users", app.tenant_name)
}

/// Sends `request` on a fresh connection, in a blocking thread, and reads one response.
async fn exchange(app: &TestApp, request: Vec<u8>, then_closed: bool) -> RawReply {
    let mut connection = RawConnection::open(app);
    tokio::task::spawn_blocking(move || {
        connection.send(&request);
        let reply = connection.response();
        if then_closed {
            assert_eq!(reply.header("connection"), Some("close"));
            connection.assert_closed();
        }
        reply
    })
    .await
    .expect("raw exchange")
}

/// A normal request on a fresh connection still works.
async fn assert_still_serving(app: &TestApp) {
    let reply = exchange(app, get_request(app, &users_path(app), ""), false).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["totalResults"], 0, "{}", reply.text);
    app.get("/Users").await.expect(StatusCode::OK);
}

/// A filter of `bytes` bytes in the query.
fn long_target(app: &TestApp, bytes: usize) -> String {
    let path = users_path(app);
    let filler = "a".repeat(bytes - path.len() - "?filter=".len());
    format!("{path}?filter={filler}")
}

async fn a_request_target_past_hypers_limit_is_414_with_a_scim_body(app: TestApp) -> TestApp {
    // 100 KB: past the 65,534 bytes hyper takes at all, so hyper refuses it before any handler.
    let request = get_request(&app, &long_target(&app, 100 * 1024), "");
    let reply = exchange(&app, request, true).await;
    reply.assert_scim_error(414, "a 100 KB request target");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains(&MAX_REQUEST_TARGET_BYTES.to_string()),
        "{}",
        reply.text
    );
    assert_still_serving(&app).await;
    app
}

async fn a_request_target_past_iris_limit_is_414_and_one_at_it_is_served(app: TestApp) -> TestApp {
    let over = get_request(&app, &long_target(&app, MAX_REQUEST_TARGET_BYTES + 1), "");
    exchange(&app, over, false)
        .await
        .assert_scim_error(414, "a target one byte past the limit");
    // At the limit the request reaches the handler: the filter is refused as a filter.
    let at = get_request(&app, &long_target(&app, MAX_REQUEST_TARGET_BYTES), "");
    let reply = exchange(&app, at, false).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.body["scimType"], "invalidFilter", "{}", reply.text);
    assert_still_serving(&app).await;
    app
}

async fn a_100_kb_header_is_431_with_a_scim_body(app: TestApp) -> TestApp {
    let big = format!("x-padding: {}\r\n", "b".repeat(100 * 1024));
    let reply = exchange(&app, get_request(&app, &users_path(&app), &big), false).await;
    reply.assert_scim_error(431, "a 100 KB header");
    // Just under the limit (with the request's other fields) is served.
    let fits = format!("x-padding: {}\r\n", "b".repeat(MAX_HEADER_BYTES - 1024));
    let reply = exchange(&app, get_request(&app, &users_path(&app), &fits), false).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_still_serving(&app).await;
    app
}

async fn heads_hyper_refuses_for_their_size_are_431_with_a_scim_body(app: TestApp) -> TestApp {
    // More fields than hyper parses.
    let many: String = (0..=MAX_HEADER_FIELDS)
        .map(|i| format!("x-field-{i}: {i}\r\n"))
        .collect();
    exchange(&app, get_request(&app, &users_path(&app), &many), true)
        .await
        .assert_scim_error(431, "more header fields than hyper parses");
    // A head past hyper's read buffer: it stops reading part way, and the answer must still
    // arrive whole before the connection closes.
    let huge = format!("x-padding: {}\r\n", "c".repeat(600 * 1024));
    exchange(&app, get_request(&app, &users_path(&app), &huge), true)
        .await
        .assert_scim_error(431, "a 600 KB header");
    assert_still_serving(&app).await;
    app
}

async fn a_malformed_request_head_is_400_with_a_scim_body(app: TestApp) -> TestApp {
    for (garbage, what) in [
        (&b"GARBAGE\r\n\r\n"[..], "a request line of one word"),
        (
            &b"GET /scim/v2 HTTP/9.9\r\nhost: x\r\n\r\n"[..],
            "an unknown version",
        ),
        (
            &b"G(T / HTTP/1.1\r\nhost: x\r\n\r\n"[..],
            "a method that is no token",
        ),
        (
            &b"GET / HTTP/1.1\r\nno colon here\r\n\r\n"[..],
            "a header line without a colon",
        ),
        (
            &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"[..],
            "a TLS hello",
        ),
    ] {
        exchange(&app, garbage.to_vec(), true)
            .await
            .assert_scim_error(400, what);
    }
    assert_still_serving(&app).await;
    app
}

/// A refusal on a connection that already served a request: the first response passes
/// untouched, the second is the SCIM error.
async fn a_malformed_head_after_a_served_request_on_the_same_connection_is_400(
    app: TestApp,
) -> TestApp {
    let mut connection = RawConnection::open(&app);
    let first = get_request(&app, &users_path(&app), "");
    let (served, refused) = tokio::task::spawn_blocking(move || {
        connection.send(&first);
        let served = connection.response();
        connection.send(b"NOT HTTP AT ALL\r\n\r\n");
        let refused = connection.response();
        connection.assert_closed();
        (served, refused)
    })
    .await
    .expect("raw exchange");
    assert_eq!(served.status, 200, "{}", served.text);
    assert_eq!(served.body["totalResults"], 0);
    refused.assert_scim_error(400, "garbage after a served request");
    assert_still_serving(&app).await;
    app
}

crate::on_both_backends!(
    a_request_target_past_hypers_limit_is_414_with_a_scim_body,
    a_request_target_past_iris_limit_is_414_and_one_at_it_is_served,
    a_100_kb_header_is_431_with_a_scim_body,
    heads_hyper_refuses_for_their_size_are_431_with_a_scim_body,
    a_malformed_request_head_is_400_with_a_scim_body,
    a_malformed_head_after_a_served_request_on_the_same_connection_is_400,
);
