//! Connections under their timeouts (issue 13), spoken to over raw TCP: a client that trickles its
//! request head is cut off after the header-read timeout while other clients are served; an idle
//! keep-alive connection is closed after the idle timeout; at shutdown a request in flight
//! finishes within the grace period, and one that would outlast it is cut. Requests are held in
//! flight the honest way, on a database lock of the test's own, on both engines.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::deadlines::{Blocker, user_and_group, waiting_on_locks};
use crate::harness::{Backend, TestApp};

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);
const IDLE_TIMEOUT: Duration = Duration::from_secs(3);

fn short_connection_timeouts(config: &mut iris::config::Config) {
    config.header_read_timeout_seconds = HEADER_READ_TIMEOUT.as_secs();
    config.idle_timeout_seconds = IDLE_TIMEOUT.as_secs();
    config.shutdown_grace_seconds = 10;
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base_url.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads until the server closes the connection (end of stream or reset); what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one response with a `content-length` body off `stream`; its status.
async fn read_response(stream: &mut TcpStream) -> u16 {
    let mut received = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a content-length");
            if received.len() >= end + 4 + length {
                return head[9..12].parse().expect("a status");
            }
        }
        let n = stream.read(&mut buf).await.expect("read a response");
        assert!(n > 0, "closed before a whole response");
        received.extend_from_slice(&buf[..n]);
    }
}

async fn a_head_sent_a_byte_at_a_time_is_cut_off_while_others_are_served(app: TestApp) -> TestApp {
    let mut slow = connect(&app).await;
    let started = Instant::now();
    let head = b"GET /scim/v2/acme/Users HTTP/1.1\r\nHost: iris\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let (mut reader, mut writer) = slow.split();
    let trickle = async {
        for byte in head {
            if writer.write_all(&[*byte]).await.is_err() {
                // Cut off: what the other branch is waiting to see.
                return std::future::pending().await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let watch = async {
        let mut buf = [0_u8; 1024];
        // Meanwhile another client, on its own connection, is served as usual.
        let served = app.get("/Users").await;
        assert_eq!(served.status, StatusCode::OK, "{}", served.text);
        let read = reader.read(&mut buf).await;
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "the slow client got an answer: {read:?}"
        );
        started.elapsed()
    };
    let cut_after = tokio::select! {
        () = trickle => panic!("the whole head went through ({} bytes at 5 a second)", head.len()),
        cut_after = watch => cut_after,
    };
    assert!(
        cut_after >= HEADER_READ_TIMEOUT - Duration::from_millis(300),
        "cut after {cut_after:?}"
    );
    assert!(
        cut_after < HEADER_READ_TIMEOUT + Duration::from_secs(3),
        "cut after {cut_after:?}"
    );
    // The server goes on serving.
    app.get("/Users").await.expect(StatusCode::OK);
    app
}

async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(app: TestApp) -> TestApp {
    let mut conn = connect(&app).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: iris\r\n\r\n";
    conn.write_all(request).await.unwrap();
    assert_eq!(read_response(&mut conn).await, 200);
    // Kept alive: a second request on the same connection, well within the idle timeout.
    tokio::time::sleep(Duration::from_secs(1)).await;
    conn.write_all(request).await.unwrap();
    assert_eq!(read_response(&mut conn).await, 200);
    let idle_from = Instant::now();
    let rest = read_until_closed(&mut conn).await;
    let closed_after = idle_from.elapsed();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(
        closed_after >= IDLE_TIMEOUT - Duration::from_millis(300),
        "closed after {closed_after:?}"
    );
    assert!(
        closed_after < IDLE_TIMEOUT + Duration::from_secs(3),
        "closed after {closed_after:?}"
    );
    app
}

crate::on_both_backends_with!(short_connection_timeouts =>
    a_head_sent_a_byte_at_a_time_is_cut_off_while_others_are_served,
    an_idle_keep_alive_connection_is_closed_after_the_idle_timeout,
);

/// Holds a PATCH on a lock of the test's own until the server waits on it, and returns the
/// PATCH's task (its status, or `None` if the connection was cut) with the lock.
async fn request_held_on_a_lock(
    app: &TestApp,
) -> (tokio::task::JoinHandle<Option<StatusCode>>, Blocker) {
    let (user, group, add) = user_and_group(app).await;
    let blocker = Blocker::lock_user(app, &user).await;
    let patch = app
        .request(reqwest::Method::PATCH, &format!("/Groups/{group}"))
        .header("content-type", "application/scim+json")
        .body(add.to_string());
    let held = tokio::spawn(async move { patch.send().await.ok().map(|r| r.status()) });
    match app.backend {
        Backend::Postgres => {
            for _ in 0..100 {
                if waiting_on_locks(app).await > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(waiting_on_locks(app).await > 0, "the PATCH never waited");
        }
        // SQLite has no view of its waiters; the write is waiting for the lock by then.
        Backend::Sqlite => tokio::time::sleep(Duration::from_millis(500)).await,
    }
    (held, blocker)
}

mod shutdown {
    use super::*;

    fn grace_of_five_seconds(config: &mut iris::config::Config) {
        config.shutdown_grace_seconds = 5;
    }

    fn grace_of_one_second(config: &mut iris::config::Config) {
        config.shutdown_grace_seconds = 1;
    }

    async fn a_request_in_flight_at_shutdown_completes_within_the_grace_period(
        mut app: TestApp,
    ) -> TestApp {
        let (held, blocker) = request_held_on_a_lock(&app).await;
        let server = app.begin_shutdown();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!held.is_finished(), "the request ended at the shutdown");
        // No new connections while draining.
        let refused = TcpStream::connect(app.base_url.trim_start_matches("http://")).await;
        assert!(refused.is_err(), "a connection was accepted while draining");
        blocker.release().await;
        let status = held.await.unwrap();
        assert!(
            status.is_some_and(|s| s.is_success()),
            "the drained request answered {status:?}"
        );
        server.await.unwrap().expect("the server stops cleanly");
        app
    }

    async fn a_request_past_the_grace_period_is_cut(mut app: TestApp) -> TestApp {
        let (held, blocker) = request_held_on_a_lock(&app).await;
        let stopping = Instant::now();
        let server = app.begin_shutdown();
        let status = tokio::time::timeout(Duration::from_secs(10), held)
            .await
            .expect("the request was cut")
            .unwrap();
        assert_eq!(status, None, "the cut request got an answer");
        let stopped = tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("the server stopped while the lock is still held");
        stopped.unwrap().expect("the server stops cleanly");
        let took = stopping.elapsed();
        assert!(
            took >= Duration::from_millis(900),
            "stopped after {took:?}, before the grace period was over"
        );
        blocker.release().await;
        app
    }

    crate::on_both_backends_with!(grace_of_five_seconds =>
        a_request_in_flight_at_shutdown_completes_within_the_grace_period,
    );

    mod cut {
        use super::*;

        crate::on_both_backends_with!(grace_of_one_second =>
            a_request_past_the_grace_period_is_cut,
        );
    }
}
