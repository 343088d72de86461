//! The load generator's HTTP client: hyper 1, HTTP/1.1, one keep-alive connection per worker.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One request as Entra would send it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    /// Path and query.
    pub uri: String,
    pub auth: HeaderValue,
    pub body: Option<Bytes>,
    /// The status that counts as success.
    pub expect: StatusCode,
    /// Another status that counts as answered rather than as an error (a flood's `429`).
    pub tolerated: Option<StatusCode>,
}

impl Req {
    pub fn get(uri: String, auth: &HeaderValue) -> Self {
        Self {
            method: Method::GET,
            uri,
            auth: auth.clone(),
            body: None,
            expect: StatusCode::OK,
            tolerated: None,
        }
    }

    /// This request, with `status` counted as answered too.
    pub fn tolerating(mut self, status: StatusCode) -> Self {
        self.tolerated = Some(status);
        self
    }

    pub fn with_body(
        method: Method,
        uri: String,
        auth: &HeaderValue,
        body: Bytes,
        expect: StatusCode,
    ) -> Self {
        Self {
            method,
            uri,
            auth: auth.clone(),
            body: Some(body),
            expect,
            tolerated: None,
        }
    }

    pub fn delete(uri: String, auth: &HeaderValue) -> Self {
        Self {
            method: Method::DELETE,
            uri,
            auth: auth.clone(),
            body: None,
            expect: StatusCode::NO_CONTENT,
            tolerated: None,
        }
    }
}

/// What the generator keeps of a response.
pub struct Resp {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: Bytes,
}

const SCIM_JSON: HeaderValue = HeaderValue::from_static("application/scim+json");

pub struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            // Ends when the connection closes; errors surface on the next send.
            let _ = connection.await;
        });
        let host = HeaderValue::from_str(&addr.to_string())?;
        Ok(Self { addr, host, sender })
    }

    /// Replaces a broken connection.
    pub async fn reconnect(&mut self) -> Result<()> {
        *self = Self::connect(self.addr).await?;
        Ok(())
    }

    pub async fn send(&mut self, req: &Req) -> Result<Resp> {
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(req.uri.as_str())
            .header(header::HOST, self.host.clone())
            .header(header::AUTHORIZATION, req.auth.clone())
            .header(header::ACCEPT, SCIM_JSON);
        let body = match &req.body {
            Some(b) => {
                builder = builder.header(header::CONTENT_TYPE, SCIM_JSON);
                Full::new(b.clone())
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder.body(body).context("building a request")?;
        self.sender.ready().await.context("connection not ready")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .context("sending a request")?;
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading a response body")?
            .to_bytes();
        Ok(Resp {
            status,
            location,
            body,
        })
    }
}

/// One request outside any measurement (setup, probes); fails on an unexpected status.
pub async fn once(addr: SocketAddr, req: &Req) -> Result<Resp> {
    let mut conn = Conn::connect(addr).await?;
    let resp = conn.send(req).await?;
    if resp.status != req.expect {
        anyhow::bail!(
            "{} {} answered {} (expected {}): {}",
            req.method,
            req.uri,
            resp.status,
            req.expect,
            String::from_utf8_lossy(&resp.body)
                .chars()
                .take(300)
                .collect::<String>()
        );
    }
    Ok(resp)
}
