//! Shared helpers: a real server on an ephemeral loopback port and real WebSocket clients.
//!
//! Every wait is bounded ([`STEP`]), so a broken server fails a test instead of hanging it.
#![allow(dead_code)] // each test file uses a different subset

pub mod redis;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use peerdrop_proto::signal::{
    ClientMsg, DeviceKind, ErrorCode, IceServer, PeerId, PeerInfo, ServerMsg, SignalData,
};
use peerdrop_proto::PROTOCOL_VERSION;
use peerdrop_signal::{RunningServer, ServerConfig, SignalServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use uuid::Uuid;

/// Longest wait for any single expected event.
pub const STEP: Duration = Duration::from_secs(3);
/// How long "nothing arrives" is observed.
pub const QUIET: Duration = Duration::from_millis(300);

/// A loopback config with default limits on an ephemeral port.
pub fn config() -> ServerConfig {
    ServerConfig::new("127.0.0.1:0".parse().unwrap())
}

/// [`config`] trusting 127.0.0.1 as a reverse proxy, so clients can come "from" any address
/// with [`Client::joined_via_proxy`]. Loopback clients are all on the server's LAN (one nearby
/// group); tests that need peers on *different* networks put them behind public addresses.
pub fn proxied_config() -> ServerConfig {
    let mut cfg = config();
    cfg.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    cfg
}

/// Binds and spawns a server; it stops when the handle is dropped.
pub async fn start(config: ServerConfig) -> RunningServer {
    SignalServer::bind(config)
        .await
        .expect("server binds")
        .spawn()
}

/// What a client observed next.
#[derive(Debug)]
pub enum Event {
    /// A server message.
    Msg(ServerMsg),
    /// The server closed the WebSocket (with its close frame, if any) or the TCP stream.
    Closed(Option<CloseFrame>),
}

/// The `welcome` a client received.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub id: PeerId,
    pub code: String,
    pub ice_servers: Vec<IceServer>,
    /// The first `nearby` list that followed.
    pub nearby: Vec<PeerInfo>,
}

/// A real WebSocket client.
pub struct Client {
    ws: WebSocketStream<TcpStream>,
}

impl Client {
    /// Connects to `/ws` from 127.0.0.1.
    pub async fn connect(server: &RunningServer) -> Client {
        Self::connect_from(server, "127.0.0.1", &[]).await
    }

    /// Connects from the loopback address `source` (any 127.x.y.z works on Linux), so tests
    /// can put peers behind different "public" addresses.
    pub async fn connect_from(
        server: &RunningServer,
        source: &str,
        headers: &[(&str, &str)],
    ) -> Client {
        Self::try_connect(server.local_addr(), "/ws", source, headers)
            .await
            .expect("websocket connects")
    }

    /// Connects from 127.0.0.1 with extra request headers (e.g. `X-Forwarded-For`).
    pub async fn connect_with_headers(server: &RunningServer, headers: &[(&str, &str)]) -> Client {
        Self::connect_from(server, "127.0.0.1", headers).await
    }

    /// Attempts a WebSocket handshake on `path`.
    pub async fn try_connect(
        addr: SocketAddr,
        path: &str,
        source: &str,
        headers: &[(&str, &str)],
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        Self::try_connect_url(addr, &format!("ws://{addr}{path}"), source, headers).await
    }

    /// Attempts a WebSocket handshake for `url` (whose host becomes the `Host` header, e.g. a
    /// name a DNS rebinding attack pointed at us) over a TCP connection to `addr`.
    pub async fn try_connect_url(
        addr: SocketAddr,
        url: &str,
        source: &str,
        headers: &[(&str, &str)],
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let tcp = timeout(STEP, socket.connect(addr))
            .await
            .expect("tcp connect in time")
            .expect("tcp connects");
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let (ws, _response) = timeout(STEP, tokio_tungstenite::client_async(request, tcp))
            .await
            .expect("handshake in time")?;
        Ok(Client { ws })
    }

    /// Connects and completes `hello` as a CLI peer called `name`.
    pub async fn joined(server: &RunningServer, name: &str) -> (Client, Welcome) {
        Self::joined_from(server, "127.0.0.1", name).await
    }

    /// Connects through the (trusted, see [`proxied_config`]) proxy at 127.0.0.1 as if from
    /// `address` (`X-Forwarded-For`), and completes `hello`.
    pub async fn joined_via_proxy(
        server: &RunningServer,
        address: &str,
        name: &str,
    ) -> (Client, Welcome) {
        let mut client = Self::connect_with_headers(server, &[("X-Forwarded-For", address)]).await;
        let welcome = client.hello(name).await;
        (client, welcome)
    }

    /// Connects to the server (e.g. a node process) at `addr`, trusting 127.0.0.1 as its proxy,
    /// as if from `address` (`X-Forwarded-For`), and completes `hello`.
    pub async fn joined_at(addr: SocketAddr, address: &str, name: &str) -> (Client, Welcome) {
        let mut client =
            Self::try_connect(addr, "/ws", "127.0.0.1", &[("X-Forwarded-For", address)])
                .await
                .expect("websocket connects");
        let welcome = client.hello(name).await;
        (client, welcome)
    }

    /// Connects from `source` and completes `hello`.
    pub async fn joined_from(
        server: &RunningServer,
        source: &str,
        name: &str,
    ) -> (Client, Welcome) {
        let mut client = Self::connect_from(server, source, &[]).await;
        let welcome = client.hello(name).await;
        (client, welcome)
    }

    /// Sends `hello` and expects `welcome` followed by `nearby`.
    pub async fn hello(&mut self, name: &str) -> Welcome {
        self.hello_with_fingerprint(name, None).await
    }

    /// Sends `hello` claiming `fingerprint` and expects `welcome` followed by `nearby`.
    pub async fn hello_with_fingerprint(
        &mut self,
        name: &str,
        fingerprint: Option<&str>,
    ) -> Welcome {
        self.send(&ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            name: name.into(),
            kind: DeviceKind::Cli,
            fingerprint: fingerprint.map(str::to_string),
            max_packet: None,
        })
        .await;
        let (id, code, ice_servers) = match self.recv().await {
            ServerMsg::Welcome {
                v,
                id,
                code,
                ice_servers,
            } => {
                assert_eq!(v, PROTOCOL_VERSION);
                (id, code, ice_servers)
            }
            other => panic!("expected welcome, got {other:?}"),
        };
        let nearby = self.expect_nearby().await;
        Welcome {
            id,
            code,
            ice_servers,
            nearby,
        }
    }

    /// Sends a client message.
    pub async fn send(&mut self, msg: &ClientMsg) {
        self.send_text(&msg.to_json()).await;
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: &str) {
        timeout(STEP, self.ws.send(Message::text(text)))
            .await
            .expect("send in time")
            .expect("send works");
    }

    /// Sends a raw frame of any kind; errors are returned (the server may have closed).
    pub async fn send_frame(
        &mut self,
        frame: Message,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        timeout(STEP, self.ws.send(frame))
            .await
            .expect("send in time")
    }

    /// Sends a signal.
    pub async fn signal(&mut self, to: PeerId, data: SignalData) {
        self.send(&ClientMsg::Signal { to, data }).await;
    }

    /// Next server message or close, within [`STEP`]. Ping/pong frames are skipped.
    pub async fn next_event(&mut self) -> Event {
        timeout(STEP, self.next_event_unbounded())
            .await
            .expect("server answered in time")
    }

    /// Next server message or close within `within`; `None` if nothing came.
    pub async fn next_event_within(&mut self, within: Duration) -> Option<Event> {
        timeout(within, self.next_event_unbounded()).await.ok()
    }

    async fn next_event_unbounded(&mut self) -> Event {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    return Event::Msg(
                        ServerMsg::from_json(&text).expect("server sends valid messages"),
                    );
                }
                Some(Ok(Message::Close(frame))) => return Event::Closed(frame),
                Some(Ok(Message::Binary(_))) => panic!("server never sends binary frames"),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Event::Closed(None),
            }
        }
    }

    /// Next server message; panics on close.
    pub async fn recv(&mut self) -> ServerMsg {
        match self.next_event().await {
            Event::Msg(msg) => msg,
            Event::Closed(frame) => panic!("connection closed unexpectedly: {frame:?}"),
        }
    }

    /// Next server message that is not a `nearby` update (for tests where peers on the one LAN
    /// group come and go in the background).
    pub async fn recv_skipping_nearby(&mut self) -> ServerMsg {
        loop {
            match self.recv().await {
                ServerMsg::Nearby { .. } => continue,
                other => return other,
            }
        }
    }

    /// Expects a `nearby` message and returns its peers.
    pub async fn expect_nearby(&mut self) -> Vec<PeerInfo> {
        match self.recv().await {
            ServerMsg::Nearby { peers } => peers,
            other => panic!("expected nearby, got {other:?}"),
        }
    }

    /// Expects an `error` with `code`; returns its message.
    pub async fn expect_error(&mut self, code: ErrorCode) -> String {
        match self.recv().await {
            ServerMsg::Error { code: got, message } => {
                assert_eq!(got, code, "error message: {message}");
                message
            }
            other => panic!("expected error {code:?}, got {other:?}"),
        }
    }

    /// Expects the connection to be closed next (no further messages).
    pub async fn expect_closed(&mut self) -> Option<CloseFrame> {
        match self.next_event().await {
            Event::Closed(frame) => frame,
            Event::Msg(msg) => panic!("expected close, got {msg:?}"),
        }
    }

    /// Expects `error(code)` and then the close.
    pub async fn expect_error_then_close(&mut self, code: ErrorCode) -> Option<CloseFrame> {
        self.expect_error(code).await;
        self.expect_closed().await
    }

    /// Asserts nothing arrives for [`QUIET`].
    pub async fn expect_silence(&mut self) {
        if let Ok(event) = timeout(QUIET, self.next_event_unbounded()).await {
            panic!("expected silence, got {event:?}");
        }
    }

    /// `ping` → `pong`: proves the connection still works.
    pub async fn assert_alive(&mut self) {
        self.send(&ClientMsg::Ping).await;
        assert_eq!(self.recv().await, ServerMsg::Pong);
    }

    /// Closes politely.
    pub async fn close(mut self) {
        let _ = timeout(STEP, self.ws.close(None)).await;
    }
}

/// A fresh SDP offer payload.
pub fn offer(sdp: &str) -> SignalData {
    SignalData::Offer {
        session: Uuid::new_v4(),
        sdp: sdp.into(),
    }
}

/// Plain HTTP: sends `request` verbatim, returns (status line, body).
pub async fn http(server: &RunningServer, request: &str) -> (String, String) {
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    timeout(STEP, tcp.read_to_end(&mut response))
        .await
        .expect("response in time")
        .unwrap();
    let response = String::from_utf8(response).expect("utf-8 response");
    let (head, body) = response.split_once("\r\n\r\n").expect("complete response");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}
