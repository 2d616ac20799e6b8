//! The HTTP side of the single port: read the request head, decide where it goes.
//!
//! `GET /health` gets a small JSON answer, `/ws` is handed to tungstenite for the WebSocket
//! upgrade (replaying the bytes already read through [`Prefixed`]), anything else gets 404.
//! Only the request line, the query string (a device endpoint's `owner=` token) and a few
//! headers are looked at; tungstenite does the full validation of the upgrade.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Largest request head accepted (request line + headers).
pub(crate) const MAX_HEAD_BYTES: usize = 8 * 1024;

/// The parts of a request head the server cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead {
    /// `GET`, `POST`, ...
    pub(crate) method: String,
    /// Path without the query string.
    pub(crate) path: String,
    /// The query string without its `?` (and without any `#fragment`), as sent; empty if none.
    /// Routing ignores it; `/ws` reads the device endpoint's owner token from it.
    pub(crate) query: String,
    /// Headers in order, names lower-cased.
    pub(crate) headers: Vec<(String, String)>,
}

impl RequestHead {
    /// Values of every header called `name` (lower-case), in order.
    pub(crate) fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of the first query parameter called `name`, as sent (not percent-decoded:
    /// the only parameter read, the owner token, is made of characters that need no escaping).
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// Whether the client asks for a WebSocket upgrade.
    fn wants_websocket(&self) -> bool {
        self.header_values("upgrade")
            .iter()
            .any(|v| v.trim().eq_ignore_ascii_case("websocket"))
    }
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `GET /health`.
    Health,
    /// `GET /metrics` (Prometheus).
    Metrics,
    /// `GET /ws` with `Upgrade: websocket`.
    WebSocket,
    /// `/ws` without an upgrade request.
    UpgradeRequired,
    /// `/health` or `/ws` with another method.
    MethodNotAllowed,
    /// Any other path.
    NotFound,
}

/// Routes a parsed request head.
pub(crate) fn route(head: &RequestHead) -> Route {
    match head.path.as_str() {
        "/health" if head.method == "GET" || head.method == "HEAD" => Route::Health,
        "/metrics" if head.method == "GET" || head.method == "HEAD" => Route::Metrics,
        "/ws" if head.method == "GET" && head.wants_websocket() => Route::WebSocket,
        "/ws" if head.method == "GET" => Route::UpgradeRequired,
        "/health" | "/metrics" | "/ws" => Route::MethodNotAllowed,
        _ => Route::NotFound,
    }
}

/// Reads until the end of the request head. Returns every byte read (the head and anything
/// the client already sent after it), and the parsed head.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> io::Result<(Vec<u8>, RequestHead)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before request head",
            ));
        }
        let search_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&buf[search_from..]).map(|i| i + search_from) {
            let head = parse_head(&buf[..end]).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "malformed request head")
            })?;
            return Ok((buf, head));
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
    }
}

/// Offset just past the blank line ending the head, if present.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parses `METHOD SP target SP HTTP/x.y CRLF (name: value CRLF)* CRLF`.
pub(crate) fn parse_head(bytes: &[u8]) -> Option<RequestHead> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || method.is_empty() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let target = target.split('#').next().unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Some(RequestHead {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
    })
}

/// Writes a complete `Connection: close` response and shuts the write side down.
pub(crate) async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: &str,
    content_type: &str,
    body: &str,
    include_body: bool,
) -> io::Result<()> {
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if include_body {
        response.push_str(body);
    }
    stream.write_all(response.as_bytes()).await?;
    stream.flush().await?;
    stream.shutdown().await
}

/// A stream that first yields bytes already read from `inner`, then reads `inner` itself.
/// Lets tungstenite parse a request head we had to read to route it.
#[derive(Debug)]
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// Replays `prefix` before reading from `inner`.
    pub(crate) fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self {
            prefix,
            pos: 0,
            inner,
        }
    }

    /// The underlying stream (any unread prefix is discarded).
    pub(crate) fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.prefix.len() {
            let n = (this.prefix.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.prefix[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> RequestHead {
        parse_head(raw.as_bytes()).expect("parses")
    }

    #[test]
    fn routes_by_path_method_and_upgrade() {
        let ws =
            "GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n";
        assert_eq!(route(&head(ws)), Route::WebSocket);
        assert_eq!(
            route(&head("GET /ws HTTP/1.1\r\nHost: a\r\n\r\n")),
            Route::UpgradeRequired
        );
        assert_eq!(route(&head("GET /health HTTP/1.1\r\n\r\n")), Route::Health);
        assert_eq!(
            route(&head("POST /health HTTP/1.1\r\n\r\n")),
            Route::MethodNotAllowed
        );
        assert_eq!(route(&head("GET / HTTP/1.1\r\n\r\n")), Route::NotFound);
        assert_eq!(route(&head("GET /wsx HTTP/1.0\r\n\r\n")), Route::NotFound);
    }

    #[test]
    fn keeps_the_query_apart_from_the_path() {
        let h = head("GET /ws?owner=abc123&x=1 HTTP/1.1\r\n\r\n");
        assert_eq!(
            (h.path.as_str(), h.query.as_str()),
            ("/ws", "owner=abc123&x=1")
        );
        assert_eq!(h.query_param("owner"), Some("abc123"));
        assert_eq!(h.query_param("x"), Some("1"));
        assert_eq!(h.query_param("own"), None);
        let h = head("GET /ws?x=1&owner=a&owner=b#frag HTTP/1.1\r\n\r\n");
        assert_eq!(h.query_param("owner"), Some("a"), "the first one counts");
        let h = head("GET /ws#owner=a HTTP/1.1\r\n\r\n");
        assert_eq!((h.path.as_str(), h.query_param("owner")), ("/ws", None));
        let h = head("GET /ws?owner HTTP/1.1\r\n\r\n");
        assert_eq!(h.query_param("owner"), None);
    }

    #[test]
    fn parses_headers_case_insensitively() {
        let h = head(
            "GET /ws HTTP/1.1\r\nX-Forwarded-For: 198.18.0.1\r\nx-forwarded-for: 10.0.0.1\r\n\r\n",
        );
        assert_eq!(
            h.header_values("x-forwarded-for"),
            vec!["198.18.0.1", "10.0.0.1"]
        );
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_head(b"\x16\x03\x01 tls hello\r\n\r\n"), None);
        assert_eq!(parse_head(b"GET /ws\r\n\r\n"), None);
        assert_eq!(
            parse_head(b"GET /ws HTTP/1.1\r\nno colon here\r\n\r\n"),
            None
        );
    }

    #[tokio::test]
    async fn reads_head_and_keeps_following_bytes() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            for part in ["GET /health HT", "TP/1.1\r\nHost: x\r", "\n\r\nextra"] {
                client.write_all(part.as_bytes()).await.unwrap();
            }
            client
        });
        let (bytes, h) = read_head(&mut server).await.unwrap();
        assert_eq!(h.path, "/health");
        let _client = writer.await.unwrap();
        let mut replay = Prefixed::new(bytes, server);
        let mut first = vec![0u8; 11];
        replay.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"GET /health");
    }

    #[tokio::test]
    async fn oversized_head_is_refused() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        tokio::spawn(async move {
            let _ = client.write_all(b"GET / HTTP/1.1\r\n").await;
            let junk = format!("X-Junk: {}\r\n", "a".repeat(100));
            for _ in 0..200 {
                if client.write_all(junk.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let err = read_head(&mut server).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
