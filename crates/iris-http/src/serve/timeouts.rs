//! The connection timeouts: a client gets `header_read` to send a whole request head once it has
//! sent its first byte (so one that trickles a head a byte a second is dropped; the TLS handshake
//! counts as part of the first head), and a connection with no request in flight is closed
//! `idle` after it opened or its last request ended, unless a new head has begun by then. On
//! HTTP/2 the head clock runs only up to the first request: after that, bytes between requests
//! are as likely flow-control frames or pings, and a stream that trickles its headers is held to
//! the idle timeout instead. A request in flight is bounded by the request deadline, not here.
//!
//! [`Activity`] is what a connection's watchdog reads: [`Watched`] notes bytes arriving under the
//! TLS and HTTP layers, and each request holds a [`RequestInFlight`] until its response body is
//! done or dropped.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a connection may take over a request head, and stay idle between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

/// Why a connection was closed by its watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// A request head (or the TLS handshake) did not arrive whole in time.
    HeadTooSlow,
    /// No request for the idle timeout.
    Idle,
}

#[derive(Debug)]
struct State {
    /// Whether bytes arriving with no request in flight start a request head: on HTTP/1.1 they
    /// do; on HTTP/2, once its first request came, they are as likely a `WINDOW_UPDATE` or a
    /// `PING` (its clients send those between requests), so only the idle timeout applies.
    bytes_start_heads: bool,
    in_flight: usize,
    /// When the first byte of a request head arrived, while no request was in flight.
    head_started: Option<Instant>,
    /// When the connection last had no request in flight.
    idle_since: Instant,
}

/// What one connection is doing, as far as its timeouts care.
#[derive(Debug)]
pub(crate) struct Activity {
    state: Mutex<State>,
    became_idle: Notify,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                bytes_start_heads: true,
                in_flight: 0,
                head_started: None,
                idle_since: Instant::now(),
            }),
            became_idle: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is a few plain fields, consistent after any panic.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bytes_arrived(&self) {
        let mut state = self.state();
        if state.bytes_start_heads && state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
        }
    }

    /// A request reached the service (over HTTP/2 or not); the returned guard ends it when
    /// dropped.
    pub(crate) fn request_started(self: &Arc<Self>, http2: bool) -> RequestInFlight {
        let mut state = self.state();
        state.bytes_start_heads &= !http2;
        state.in_flight += 1;
        state.head_started = None;
        RequestInFlight(self.clone())
    }

    /// Resolves when the connection has run out of time under `timeouts`, and says why.
    pub(crate) async fn expiry(&self, timeouts: ConnectionTimeouts) -> Expired {
        loop {
            let deadline = {
                let state = self.state();
                if state.in_flight > 0 {
                    None
                } else if let Some(started) = state.head_started {
                    Some((started + timeouts.header_read, Expired::HeadTooSlow))
                } else {
                    Some((state.idle_since + timeouts.idle, Expired::Idle))
                }
            };
            match deadline {
                Some((at, why)) if at <= Instant::now() => return why,
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => self.became_idle.notified().await,
            }
        }
    }
}

/// One request between the service call and the end (or drop) of its response body.
#[derive(Debug)]
pub(crate) struct RequestInFlight(Arc<Activity>);

impl Drop for RequestInFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
            drop(state);
            self.0.became_idle.notify_one();
        }
    }
}

/// A connection's transport, noting for its [`Activity`] when bytes arrive.
#[derive(Debug)]
pub(crate) struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: ConnectionTimeouts = ConnectionTimeouts {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_expires_after_the_idle_timeout() {
        let activity = Activity::new();
        let started = Instant::now();
        assert_eq!(activity.expiry(TIMEOUTS).await, Expired::Idle);
        assert_eq!(started.elapsed(), TIMEOUTS.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_started_head_expires_after_the_header_timeout() {
        let activity = Activity::new();
        tokio::time::advance(Duration::from_secs(55)).await;
        activity.bytes_arrived();
        let started = Instant::now();
        assert_eq!(activity.expiry(TIMEOUTS).await, Expired::HeadTooSlow);
        assert_eq!(started.elapsed(), TIMEOUTS.header_read);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_holds_off_both_and_its_end_restarts_the_idle_clock() {
        let activity = Activity::new();
        activity.bytes_arrived();
        let request = activity.request_started(false);
        // Bytes of the request's body do not start a head.
        activity.bytes_arrived();
        let expiry = activity.expiry(TIMEOUTS);
        tokio::pin!(expiry);
        let waited = tokio::time::timeout(Duration::from_secs(600), &mut expiry).await;
        assert!(waited.is_err(), "expired with a request in flight");
        let ended = Instant::now();
        drop(request);
        assert_eq!(expiry.await, Expired::Idle);
        assert_eq!(ended.elapsed(), TIMEOUTS.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn after_an_http2_request_arriving_frames_do_not_start_a_head() {
        let activity = Activity::new();
        drop(activity.request_started(true));
        let ended = Instant::now();
        // A WINDOW_UPDATE after the response, say.
        activity.bytes_arrived();
        assert_eq!(activity.expiry(TIMEOUTS).await, Expired::Idle);
        assert_eq!(ended.elapsed(), TIMEOUTS.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn after_an_http1_request_the_next_heads_bytes_start_its_clock() {
        let activity = Activity::new();
        drop(activity.request_started(false));
        activity.bytes_arrived();
        let started = Instant::now();
        assert_eq!(activity.expiry(TIMEOUTS).await, Expired::HeadTooSlow);
        assert_eq!(started.elapsed(), TIMEOUTS.header_read);
    }
}
