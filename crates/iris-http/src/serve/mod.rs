//! The SCIM listener's accept loop and connections: HTTP/1.1 and HTTP/2 (over TLS when
//! configured, negotiated by ALPN), each connection under its timeouts ([`timeouts`]), hyper's own
//! refusals answered in SCIM ([`crate::wire`]), the peer and the scheme the client used given to
//! every request ([`forwarded`]), and a graceful shutdown that lets the requests in flight finish
//! within a grace period and then cuts what is left.

pub mod forwarded;
mod timeouts;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::body::HttpBody;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::body::{Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tower::ServiceExt;

pub use forwarded::{ClientInfo, TrustedProxies};
pub use timeouts::ConnectionTimeouts;
pub use tls::TlsCertificates;

use crate::wire::{Connection, ScimStream};
use timeouts::{Activity, Expired, Watched};

/// How the SCIM listener serves its connections.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub timeouts: ConnectionTimeouts,
    /// How long requests in flight at shutdown may take to finish before they are cut.
    pub shutdown_grace: Duration,
    /// Serve HTTPS with these certificates (HTTP when `None`).
    pub tls: Option<TlsCertificates>,
    /// Peers whose `X-Forwarded-*` headers count.
    pub trusted_proxies: TrustedProxies,
}

/// How long the accept loop pauses after an error that is not one connection's (out of file
/// descriptors, say), so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets the requests
/// in flight finish for up to `settings.shutdown_grace`, and cuts the connections still open.
pub async fn serve<A>(
    listener: TcpListener,
    app: A,
    settings: ServeSettings,
    shutdown: impl Future<Output = ()>,
) where
    A: tower::Service<Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    A::Future: Send,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The HTTP/2 counterpart of hyper's HTTP/1.1 refusals (crate::head_limits): at most this
    // much header data per request.
    builder
        .http2()
        .max_header_list_size(crate::MAX_HEADER_BYTES as u32 * 2);
    let connections = Connections {
        builder: Arc::new(builder),
        app,
        settings: Arc::new(settings),
    };
    let graceful = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    tasks.spawn(connections.clone().serve(tcp, peer, graceful.watcher()));
                }
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    let grace = connections.settings.shutdown_grace;
    let open = tasks.len();
    tracing::info!(
        connections = open,
        grace_seconds = grace.as_secs_f64(),
        "no longer accepting connections; finishing the requests in flight"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = tasks.len(),
            "shutdown grace period over; cutting the connections still open"
        );
        tasks.abort_all();
    }
    while tasks.join_next().await.is_some() {}
}

/// Errors of one connection only: the loop goes on at once.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What every connection task shares.
struct Connections<A> {
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: A,
    settings: Arc<ServeSettings>,
}

impl<A: Clone> Clone for Connections<A> {
    fn clone(&self) -> Self {
        Self {
            builder: self.builder.clone(),
            app: self.app.clone(),
            settings: self.settings.clone(),
        }
    }
}

impl<A> Connections<A>
where
    A: tower::Service<Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    A::Future: Send,
{
    /// One connection, from the TLS handshake (if any) to its close, under its timeouts.
    async fn serve(self, tcp: TcpStream, peer: SocketAddr, watcher: Watcher) {
        let _ = tcp.set_nodelay(true);
        let activity = Activity::new();
        let transport = Watched::new(tcp, activity.clone());
        let timeouts = self.settings.timeouts;
        let work = async {
            match &self.settings.tls {
                Some(tls) => match tls.acceptor().accept(transport).await {
                    Ok(stream) => self.http(stream, peer, true, &activity, watcher).await,
                    Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                },
                None => self.http(transport, peer, false, &activity, watcher).await,
            }
        };
        tokio::select! {
            () = work => {}
            expired = activity.expiry(timeouts) => match expired {
                Expired::HeadTooSlow => tracing::info!(
                    %peer,
                    timeout_seconds = timeouts.header_read.as_secs_f64(),
                    "closed a connection whose request head did not arrive in time"
                ),
                Expired::Idle => tracing::debug!(%peer, "closed an idle connection"),
            },
        }
    }

    async fn http<S: Connection>(
        &self,
        stream: S,
        peer: SocketAddr,
        tls: bool,
        activity: &Arc<Activity>,
        watcher: Watcher,
    ) {
        let service = ConnectionService {
            app: self.app.clone(),
            peer,
            tls,
            activity: activity.clone(),
            settings: self.settings.clone(),
        };
        let io = TokioIo::new(ScimStream::new(stream));
        let connection = self.builder.serve_connection(io, service);
        if let Err(e) = watcher.watch(connection).await {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// The app as one connection's hyper service: each request carries its peer and [`ClientInfo`],
/// and counts as in flight until its response body is done.
struct ConnectionService<A> {
    app: A,
    peer: SocketAddr,
    tls: bool,
    activity: Arc<Activity>,
    settings: Arc<ServeSettings>,
}

impl<A> hyper::service::Service<hyper::Request<Incoming>> for ConnectionService<A>
where
    A: tower::Service<Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    A::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let http2 = request.version() == hyper::Version::HTTP_2;
        let in_flight = self.activity.request_started(http2);
        let mut request = request.map(Body::new);
        let client =
            self.settings
                .trusted_proxies
                .client_info(self.peer, self.tls, request.headers());
        request.extensions_mut().insert(ConnectInfo(self.peer));
        request.extensions_mut().insert(client);
        let app = self.app.clone();
        Box::pin(async move {
            let response = app.oneshot(request).await?;
            Ok(response.map(|body| {
                Body::new(InFlightBody {
                    body,
                    _in_flight: in_flight,
                })
            }))
        })
    }
}

/// A response body that keeps its request in flight until it is sent (or dropped).
struct InFlightBody {
    body: Body,
    /// Held, not read: dropping it ends the request.
    _in_flight: timeouts::RequestInFlight,
}

impl HttpBody for InFlightBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
