//! hyper's own refusals, in SCIM. A request head that hyper cannot parse — a request target past
//! 65,534 bytes, a head past its read buffer or with too many fields, a malformed request line or
//! header — never reaches a handler: hyper writes a bare `400`, `414` or `431` head itself
//! (`content-length: 0`, no body) and closes the connection, so no middleware can give it a body.
//!
//! The server (`crate::serve`) hands hyper every accepted connection, over TLS or not, as a
//! [`ScimStream`] around its plaintext side, which recognises
//! that head when hyper writes it and sends in its place the same status line with a SCIM error
//! body and `connection: close`. Every response Iris itself sends has a `content-type`, so none
//! is taken for one of hyper's. After a refusal the connection lingers briefly, reading what the
//! client still sends: closing a socket with unread data resets it, and a client may then lose
//! the answer before reading it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use iris_scim::ScimError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::head_limits::{headers_too_large, malformed_head, target_too_long};
use crate::response::SCIM_JSON;

/// The longest head hyper writes for a refusal (status line, `content-length` and `date`): any
/// longer write is not one, and is passed on without a look.
const MAX_REFUSAL_HEAD: usize = 256;

/// How long, and how much, a refused connection reads before it closes.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

/// One accepted connection; see the module documentation.
#[derive(Debug)]
pub struct ScimStream<S: Connection> {
    /// Always there until the stream is dropped, which hands it to [`linger`].
    stream: Option<S>,
    /// The SCIM reply that replaced hyper's refusal, and how much of it is sent.
    refusal: Option<(Vec<u8>, usize)>,
}

/// What a [`ScimStream`] can wrap: a TCP stream, or the plaintext side of a TLS one.
pub trait Connection: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Connection for S {}

impl<S: Connection> ScimStream<S> {
    pub(crate) fn new(stream: S) -> Self {
        Self {
            stream: Some(stream),
            refusal: None,
        }
    }

    fn tcp(&mut self) -> io::Result<Pin<&mut S>> {
        self.stream
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::ErrorKind::NotConnected.into())
    }

    /// Sends what is left of the SCIM reply, if hyper refused the request.
    fn poll_send_refusal(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Self { stream, refusal } = self;
        let (Some((reply, sent)), Some(stream)) = (refusal.as_mut(), stream.as_mut()) else {
            return Poll::Ready(Ok(()));
        };
        while *sent < reply.len() {
            let n = ready!(Pin::new(&mut *stream).poll_write(cx, &reply[*sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *sent += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `written` bytes from hyper after a refusal: the reply goes out in their place, and
    /// nothing hyper might write after it follows it.
    fn absorb(&mut self, cx: &mut Context<'_>, written: usize) -> Poll<io::Result<usize>> {
        match self.poll_send_refusal(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // The rest goes out on the flush that follows.
            _ => Poll::Ready(Ok(written)),
        }
    }
}

impl<S: Connection> AsyncRead for ScimStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.tcp()?.poll_read(cx, buf)
    }
}

impl<S: Connection> AsyncWrite for ScimStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.refusal.is_none() {
            match scim_reply_for(buf) {
                None => return self.tcp()?.poll_write(cx, buf),
                Some(reply) => self.refusal = Some((reply, 0)),
            }
        }
        self.absorb(cx, buf.len())
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.refusal.is_none() {
            let head = bufs.iter().find(|b| !b.is_empty());
            match head.and_then(|b| scim_reply_for(b)) {
                None => return self.tcp()?.poll_write_vectored(cx, bufs),
                Some(reply) => self.refusal = Some((reply, 0)),
            }
        }
        self.absorb(cx, bufs.iter().map(|b| b.len()).sum())
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.is_write_vectored())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_send_refusal(cx))?;
        self.tcp()?.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_send_refusal(cx))?;
        self.tcp()?.poll_shutdown(cx)
    }
}

impl<S: Connection> Drop for ScimStream<S> {
    fn drop(&mut self) {
        if self.refusal.is_none() {
            return;
        }
        if let (Some(stream), Ok(runtime)) =
            (self.stream.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(linger(stream));
        }
    }
}

/// Ends a refused connection: no more writes, then what the client still sends is read and
/// dropped (up to [`LINGER_BYTES`] for up to [`LINGER`]) so the close does not reset the
/// connection under the reply.
async fn linger<S: Connection>(mut stream: S) {
    let drain = async {
        let _ = stream.shutdown().await;
        let mut buf = vec![0_u8; 16 * 1024];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// The SCIM reply that replaces `head` if `head` is a refusal hyper wrote itself: a complete
/// `400`, `414` or `431` head with `content-length: 0` and no `content-type`.
fn scim_reply_for(head: &[u8]) -> Option<Vec<u8>> {
    if head.len() > MAX_REFUSAL_HEAD || !head.starts_with(b"HTTP/1.") {
        return None;
    }
    let head = std::str::from_utf8(head).ok()?.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let error = match status_line.get("HTTP/1.1 ".len()..)?.get(..3)? {
        "400" => malformed_head(),
        "414" => target_too_long(),
        "431" => headers_too_large(),
        _ => return None,
    };
    let mut bodiless = false;
    let mut date = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            bodiless = value == "0";
        } else if name.eq_ignore_ascii_case("date") {
            date = Some(value);
        } else if name.eq_ignore_ascii_case("content-type")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return None;
        }
    }
    bodiless.then(|| reply(status_line, date, &error))
}

fn reply(status_line: &str, date: Option<&str>, error: &ScimError) -> Vec<u8> {
    let body = error.to_json().to_string();
    let mut out = format!(
        "{status_line}\r\ncontent-type: {SCIM_JSON}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(date) = date {
        out.push_str("date: ");
        out.push_str(date);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "date: Tue, 01 Dec 2026 10:00:00 GMT";

    #[test]
    fn hypers_bodiless_refusals_get_a_scim_body() {
        for (status_line, status) in [
            ("HTTP/1.1 414 URI Too Long", "414"),
            ("HTTP/1.1 431 Request Header Fields Too Large", "431"),
            ("HTTP/1.1 400 Bad Request", "400"),
        ] {
            let head = format!("{status_line}\r\ncontent-length: 0\r\n{DATE}\r\n\r\n");
            let reply = String::from_utf8(scim_reply_for(head.as_bytes()).unwrap()).unwrap();
            let (reply_head, body) = reply.split_once("\r\n\r\n").unwrap();
            assert!(reply_head.starts_with(status_line), "{reply}");
            assert!(reply_head.contains("\r\ncontent-type: application/scim+json\r\n"));
            assert!(reply_head.contains("\r\nconnection: close\r\n"));
            assert!(reply_head.contains(&format!("\r\n{DATE}")));
            assert!(reply_head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
            let body: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(body["status"], status);
            assert_eq!(
                body["schemas"][0],
                "urn:ietf:params:scim:api:messages:2.0:Error"
            );
        }
    }

    #[test]
    fn responses_iris_sends_itself_pass_unchanged() {
        for head in [
            // A SCIM error of Iris's own: it has a content type (and a body).
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/scim+json\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 414 URI Too Long\r\ncontent-type: application/scim+json\r\ncontent-length: 90\r\n\r\n",
            // Other statuses, incomplete heads, bodies.
            "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            "HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n",
            "{\"schemas\":[]}",
            "",
        ] {
            assert!(scim_reply_for(head.as_bytes()).is_none(), "{head:?}");
        }
        let long = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx: {}\r\n\r\n",
            "a".repeat(MAX_REFUSAL_HEAD)
        );
        assert!(scim_reply_for(long.as_bytes()).is_none());
    }
}
