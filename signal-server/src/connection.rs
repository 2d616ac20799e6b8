//! One task per WebSocket: the `hello` handshake, per-connection limits, message dispatch.
//!
//! A connection lives in two phases:
//! 1. **hello**: the first real message must be `hello` with our protocol version, within
//!    `hello_timeout`. Anything else is answered with `hello_required` and the connection is
//!    closed; a wrong version gets `version_mismatch` and is closed.
//! 2. **registered**: the peer is in the [`Registry`]; the task forwards whatever the registry
//!    queues for it (nearby lists, relayed signals, `peer_gone`) and handles its requests.
//!
//! Every received frame first passes the per-connection token bucket (relay frames: the relay
//! budgets of [`crate::relay`] instead) and the size limit.
//! Rejected frames are answered with an `error` frame and cost a "strike"; accepted ones
//! forgive one. Too many strikes, an absurdly large frame, invalid UTF-8, idling past
//! `idle_timeout`, a full outbox or server shutdown end the connection with an `error`
//! frame followed by a WebSocket close frame. A panic-free, bounded exit is the invariant:
//! every wait has a timeout, and the peer is always removed from the registry (see
//! [`Registration`]).

use std::net::IpAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::{SinkExt, StreamExt};
use peerdrop_proto::code::normalize_code;
use peerdrop_proto::signal::{ClientMsg, DeviceKind, ErrorCode, IceServer, PeerId, ServerMsg};
use peerdrop_proto::PROTOCOL_VERSION;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::addr::GroupKey;
use crate::cluster::wire::PeerRecord;
use crate::cluster::ClusterError;
use crate::config::ServerConfig;
use crate::device::Role;
use crate::http::Prefixed;
use crate::ice::{ice_servers, mints_turn, stun_servers};
use crate::names::{sanitize_fingerprint, sanitize_name};
use crate::rate::{KeyedBuckets, TokenBucket};
use crate::registry::{JoinError, Joined, Joining, Mailbox, Registry, RelayError};
use crate::relay::{AddressBudgets, RelayBudget, FRAME_OVERHEAD};
use crate::slots::{Slot, Slots};

/// The accepted WebSocket, over a TCP stream whose request head was replayed.
pub(crate) type Ws = WebSocketStream<Prefixed<TcpStream>>;

/// Longest we keep reading (and discarding) after sending a close frame, so the client
/// receives our last frames instead of a TCP reset.
const LINGER: Duration = Duration::from_secs(1);
/// Most bytes discarded while lingering.
const LINGER_BYTES: usize = 1 << 20;
/// Read size while lingering.
const LINGER_CHUNK: usize = 4096;
/// Longest error text echoed back (serde messages can quote client input).
const MAX_ERROR_TEXT: usize = 200;
/// Codes drawn before giving up when each is already held on another node (with a billion
/// codes and a few thousand peers a second try is already rare).
const CLAIM_ATTEMPTS: usize = 8;

/// Why a peer could not join.
enum Joint {
    /// The registry refused (no code, owner taken).
    Registry(JoinError),
    /// The cluster could not be asked for a unique code.
    Cluster(ClusterError),
}

/// State shared by the accept loop and every connection task.
pub(crate) struct Shared {
    /// The server configuration.
    pub(crate) config: ServerConfig,
    /// Everyone online (on this node).
    pub(crate) registry: Arc<Registry>,
    /// How other nodes of the cluster are reached ([`crate::cluster::Bus::Local`] alone).
    pub(crate) bus: crate::cluster::Bus,
    /// Connection caps.
    pub(crate) slots: Arc<Slots>,
    /// Caps on TCP connections still in their HTTP handshake (by TCP peer address).
    pub(crate) handshakes: Arc<Slots>,
    /// Relay budgets shared by all connections of one client address.
    pub(crate) relay_budgets: AddressBudgets,
    /// TURN credentials each client address may still be given (per `turn_ttl`).
    pub(crate) turn_budgets: KeyedBuckets,
    /// `config.allowed_origins`, parsed once.
    pub(crate) allowed_origins: Vec<crate::origin::Origin>,
    /// WebSocket upgrades refused for their `Origin` (shown in `/health`).
    pub(crate) refused_origins: AtomicU64,
    /// What `/metrics` reports.
    pub(crate) metrics: crate::metrics::Metrics,
}

/// How a connection ends.
#[derive(Debug)]
enum End {
    /// Say why (optionally with an `error` frame), send a close frame, linger briefly.
    Close {
        error: Option<(ErrorCode, String)>,
        code: CloseCode,
        reason: &'static str,
    },
    /// The client closed or the transport failed; nothing more to say.
    Gone,
}

impl End {
    fn with_error(
        error: ErrorCode,
        message: impl Into<String>,
        code: CloseCode,
        reason: &'static str,
    ) -> Self {
        End::Close {
            error: Some((error, message.into())),
            code,
            reason,
        }
    }

    /// The server is draining (SIGTERM, a rolling restart): close 1012 "service restart"
    /// tells clients to reconnect, through the load balancer to another node.
    fn shutdown() -> Self {
        End::with_error(
            ErrorCode::Unavailable,
            "server is restarting; reconnect",
            CloseCode::Restart,
            "service restart",
        )
    }
}

/// What one received frame amounts to after the common checks.
enum Incoming {
    /// A well-formed client message.
    Msg(ClientMsg),
    /// A ping/pong: keeps the connection alive, nothing to answer.
    KeepAlive,
    /// Refused with this error; costs a strike.
    Rejected(ErrorCode, String),
    /// The connection must end.
    End(End),
}

/// Removes the peer from the registry however the task ends (return, error or abort).
struct Registration {
    shared: Arc<Shared>,
    id: PeerId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.registry.leave(self.id);
        tracing::info!(online = self.shared.registry.len(), "peer left");
    }
}

/// Per-connection state.
struct Conn {
    ws: Ws,
    shared: Arc<Shared>,
    /// The address the client counts as: its nearby group, and (as [`GroupKey`]) its budgets.
    client: IpAddr,
    /// Ordinary peer, or a device endpoint's owner or guest.
    role: Role,
    messages: TokenBucket,
    resolves: TokenBucket,
    strikes: u32,
    last_activity: Instant,
    /// This connection's budget of fallback relay frames (its address has another, in
    /// [`Shared`]), and until when reading pauses to honour them.
    relay_budget: RelayBudget,
    relay_pause: Option<Instant>,
    /// The connection's place under the connection caps, given back when the task ends.
    _slot: Slot,
}

/// Serves one accepted WebSocket until it closes or the server shuts down.
///
/// Deliberately not an `async fn`: the connection state is built here and moved into the
/// returned future once, instead of being held twice (as arguments and as `Conn`) in every
/// connection task for its whole life.
pub(crate) fn serve(
    ws: Ws,
    shared: Arc<Shared>,
    client: IpAddr,
    role: Role,
    slot: Slot,
    shutdown: watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + Send {
    let limits = &shared.config.limits;
    let now = Instant::now();
    let mut conn = Conn {
        ws,
        client,
        role,
        messages: TokenBucket::new(
            limits.message_burst,
            f64::from(limits.messages_per_sec),
            now.into_std(),
        ),
        resolves: TokenBucket::per_minute(limits.resolve_per_minute, now.into_std()),
        strikes: 0,
        last_activity: now,
        relay_budget: RelayBudget::new(
            limits.relay_bytes_per_sec,
            limits.relay_frames_per_sec,
            now.into_std(),
        ),
        relay_pause: None,
        shared,
        _slot: slot,
    };
    let mut shutdown = shutdown;
    // An `async` block capturing by move, not an `async fn` taking `self`: an `async fn` keeps
    // a second copy of its arguments in the future.
    async move {
        let end = conn.run(&mut shutdown).await;
        match &end {
            End::Close {
                error: Some((code, message)),
                ..
            } => {
                conn.shared.metrics.error_sent(*code);
                tracing::debug!(?code, %message, "closing connection");
            }
            End::Close { reason, .. } => tracing::debug!(reason, "closing connection"),
            End::Gone => tracing::debug!("connection gone"),
        }
        let write_timeout = conn.shared.config.limits.write_timeout;
        finish(conn.ws, end, write_timeout).await;
    }
}

/// Answers a connection that may not stay (connection caps) and closes it.
pub(crate) async fn refuse(ws: Ws, error: ErrorCode, message: String, write_timeout: Duration) {
    finish(
        ws,
        End::with_error(error, message, CloseCode::Again, "refused"),
        write_timeout,
    )
    .await;
}

impl Conn {
    async fn run(&mut self, shutdown: &mut watch::Receiver<bool>) -> End {
        let (name, kind, fingerprint, max_packet) = match self.await_hello(shutdown).await {
            Ok(hello) => hello,
            Err(end) => return end,
        };
        let (tx, mut outbox) = mpsc::channel(self.shared.config.limits.outbox_capacity);
        // Queues a notice after the first `nearby` (which `join` queues).
        let notices = tx.clone();
        let kick = Arc::new(Notify::new());
        let mailbox = Mailbox {
            outbox: tx,
            kick: Arc::clone(&kick),
        };
        let joining = Joining {
            client: self.client,
            role: self.role,
            name: sanitize_name(&name),
            kind,
            fingerprint: sanitize_fingerprint(fingerprint),
            max_packet,
        };
        let joined = match self.join(joining, mailbox).await {
            Ok(joined) => joined,
            Err(Joint::Cluster(err)) => {
                tracing::info!(%err, "refused: the cluster cannot give out a unique code now");
                return End::with_error(
                    ErrorCode::Unavailable,
                    "this server cannot reach the rest of its cluster; try again",
                    CloseCode::Again,
                    "cluster unavailable",
                );
            }
            Err(Joint::Registry(err)) => match err {
                JoinError::NoCodeAvailable => {
                    return End::with_error(
                        ErrorCode::Unavailable,
                        "no free code, try again",
                        CloseCode::Again,
                        "no code",
                    );
                }
                JoinError::OwnerTaken => {
                    tracing::info!("refused: this device endpoint's owner is already connected");
                    return End::with_error(
                        ErrorCode::TooManyConnections,
                        "this device endpoint's owner is already connected",
                        CloseCode::Policy,
                        "owner already connected",
                    );
                }
            },
        };
        let id = joined.info.id;
        let _registration = Registration {
            shared: Arc::clone(&self.shared),
            id,
        };
        tracing::Span::current().record("peer", tracing::field::display(id));
        tracing::info!(online = self.shared.registry.len(), kind = ?kind, role = ?self.role, "peer joined");

        // A device endpoint hands out no ICE servers: its peers share a LAN (host candidates).
        let (ice_servers, notice) = match self.role {
            Role::Peer => self.ice_servers_for(id),
            Role::Owner | Role::Guest => (Vec::new(), None),
        };
        let welcome = ServerMsg::Welcome {
            v: PROTOCOL_VERSION,
            id,
            code: joined.code,
            ice_servers,
        };
        if let Err(end) = self.send(&welcome).await {
            return end;
        }
        if let Some(message) = notice {
            self.shared.metrics.error_sent(ErrorCode::Unavailable);
            let notice = ServerMsg::Error {
                code: ErrorCode::Unavailable,
                message,
            };
            let _ = notices.try_send(notice.into());
        }
        drop(notices);
        loop {
            let idle_deadline = self.last_activity + self.shared.config.limits.idle_timeout;
            let step = tokio::select! {
                _ = shutting_down(shutdown) => Err(End::shutdown()),
                _ = kick.notified() => Err(End::with_error(
                    ErrorCode::Unavailable,
                    "too slow to keep up with messages; reconnect",
                    CloseCode::Policy,
                    "too slow",
                )),
                queued = outbox.recv() => match queued {
                    Some(item) => self.send(&item.into_msg()).await,
                    None => Err(End::Gone),
                },
                frame = self.ws.next(), if self.relay_pause.is_none() => match self.classify(frame) {
                    Incoming::Msg(msg) => self.handle(id, msg).await,
                    Incoming::KeepAlive => Ok(()),
                    Incoming::Rejected(code, text) => self.reject(code, text).await,
                    Incoming::End(end) => Err(end),
                },
                // Over the relay byte budget: stop reading (TCP backpressure) until it refills.
                _ = sleep_until(self.relay_pause.unwrap_or(idle_deadline)), if self.relay_pause.is_some() => {
                    self.relay_pause = None;
                    self.last_activity = Instant::now();
                    Ok(())
                },
                _ = sleep_until(idle_deadline) => Err(self.idle_end()),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Registers the peer: alone, in the registry; in a cluster, under a code first claimed
    /// in Redis (a few tries, should another node's peer hold the first one drawn).
    async fn join(&self, joining: Joining, mailbox: Mailbox) -> Result<Joined, Joint> {
        let registry = &self.shared.registry;
        let Some(link) = self.shared.bus.link() else {
            return registry.join(joining, mailbox).map_err(Joint::Registry);
        };
        if !link.is_up() {
            return Err(Joint::Cluster(ClusterError::Unavailable(
                "redis is down".into(),
            )));
        }
        let id = uuid::Uuid::new_v4();
        let record = PeerRecord {
            node: link.node().to_string(),
            info: peerdrop_proto::signal::PeerInfo {
                id,
                name: joining.name.clone(),
                kind: joining.kind,
                fingerprint: joining.fingerprint.clone(),
                max_packet: joining.max_packet,
            },
        };
        for _ in 0..CLAIM_ATTEMPTS {
            let code = registry
                .candidate_code()
                .ok_or(Joint::Registry(JoinError::NoCodeAvailable))?;
            if link
                .claim_code(&code, &record)
                .await
                .map_err(Joint::Cluster)?
            {
                return registry
                    .join_claimed(joining, mailbox, id, code)
                    .map_err(Joint::Registry);
            }
        }
        Err(Joint::Registry(JoinError::NoCodeAvailable))
    }

    /// The ICE servers of peer `id`: with TURN credentials while its address has credential
    /// budget left, otherwise STUN only and the notice that says why.
    fn ice_servers_for(&self, id: PeerId) -> (Vec<IceServer>, Option<String>) {
        let config = &self.shared.config;
        if !mints_turn(config) {
            return (ice_servers(config, id, SystemTime::now()), None);
        }
        let key = GroupKey::subscriber_of(self.client);
        if self
            .shared
            .turn_budgets
            .try_take(key, std::time::Instant::now())
        {
            self.shared.metrics.turn_credentials(true);
            return (ice_servers(config, id, SystemTime::now()), None);
        }
        self.shared.metrics.turn_credentials(false);
        tracing::info!(address = %key, "TURN credential budget of this address spent: STUN only");
        let message = format!(
            "no TURN relay for this connection: your address was given {} TURN credentials in \
             the last {} s; direct connections (STUN) still work, reconnect later for TURN",
            config.limits.turn_credentials_per_ip,
            config.turn_ttl.as_secs()
        );
        (stun_servers(config), Some(message))
    }

    /// Phase 1: waits for a valid `hello`; returns the requested name, kind and fingerprint
    /// (all still to be cleaned) and the claimed largest packet (passed on as said).
    async fn await_hello(
        &mut self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(String, DeviceKind, Option<String>, Option<u32>), End> {
        let limits = &self.shared.config.limits;
        let deadline = Instant::now() + limits.hello_timeout.min(limits.idle_timeout);
        loop {
            tokio::select! {
                _ = shutting_down(shutdown) => return Err(End::shutdown()),
                _ = sleep_until(deadline) => return Err(End::with_error(
                    ErrorCode::IdleTimeout,
                    "no hello received in time",
                    CloseCode::Normal,
                    "hello timeout",
                )),
                frame = self.ws.next() => match self.classify(frame) {
                    Incoming::Msg(ClientMsg::Hello { v, name, kind, fingerprint, max_packet }) if v == PROTOCOL_VERSION => {
                        self.forgive();
                        return Ok((name, kind, fingerprint, max_packet));
                    }
                    Incoming::Msg(ClientMsg::Hello { v, .. }) => return Err(End::with_error(
                        ErrorCode::VersionMismatch,
                        format!("server speaks protocol version {PROTOCOL_VERSION}, client sent {v}"),
                        CloseCode::Policy,
                        "version mismatch",
                    )),
                    Incoming::Msg(_) => return Err(End::with_error(
                        ErrorCode::HelloRequired,
                        "the first message must be hello",
                        CloseCode::Policy,
                        "hello required",
                    )),
                    Incoming::KeepAlive => {}
                    Incoming::Rejected(code, text) => self.reject(code, text).await?,
                    Incoming::End(end) => return Err(end),
                },
            }
        }
    }

    /// Common checks on every received frame: liveness, rate, size, UTF-8, JSON shape.
    fn classify(&mut self, frame: Option<Result<Message, WsError>>) -> Incoming {
        let limits = &self.shared.config.limits;
        let message = match frame {
            None => return Incoming::End(End::Gone),
            Some(Ok(message)) => message,
            Some(Err(WsError::Capacity(_))) => {
                return Incoming::End(End::with_error(
                    ErrorCode::TooLarge,
                    format!("message exceeds {} bytes", limits.max_message_bytes),
                    CloseCode::Size,
                    "message too large",
                ));
            }
            Some(Err(WsError::Utf8(_))) => {
                return Incoming::End(End::with_error(
                    ErrorCode::BadMessage,
                    "text frame is not valid UTF-8",
                    CloseCode::Invalid,
                    "invalid utf-8",
                ));
            }
            Some(Err(err)) => {
                tracing::debug!(%err, "websocket error");
                return Incoming::End(End::Gone);
            }
        };
        if let Message::Close(_) = message {
            return Incoming::End(End::Gone);
        }
        let now = Instant::now();
        self.last_activity = now;
        // Relay frames are paced by their byte budget (see `handle`), not counted here.
        let relay = matches!(&message, Message::Text(t) if crate::relay::is_relay_frame(t));
        if !relay && !self.messages.try_take(now.into_std()) {
            return Incoming::Rejected(
                ErrorCode::RateLimited,
                format!(
                    "more than {} messages per second; slow down",
                    limits.messages_per_sec
                ),
            );
        }
        match message {
            Message::Text(text) if text.len() > limits.max_message_bytes => Incoming::Rejected(
                ErrorCode::TooLarge,
                format!(
                    "message of {} bytes exceeds {} bytes",
                    text.len(),
                    limits.max_message_bytes
                ),
            ),
            Message::Text(text) => match ClientMsg::from_json(&text) {
                Ok(msg) => Incoming::Msg(msg),
                Err(err) => Incoming::Rejected(
                    ErrorCode::BadMessage,
                    truncate(format!("not a valid message: {err}")),
                ),
            },
            Message::Binary(_) => Incoming::Rejected(
                ErrorCode::BadMessage,
                "binary frames are not accepted; send JSON text".into(),
            ),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => {
                Incoming::KeepAlive
            }
        }
    }

    /// Phase 2: one well-formed request from registered peer `me`. It forgives one earlier
    /// strike unless handling it was itself a rejection (a strike).
    async fn handle(&mut self, me: PeerId, msg: ClientMsg) -> Result<(), End> {
        let strikes = self.strikes;
        let handled = self.dispatch(me, msg).await;
        if self.strikes <= strikes {
            self.forgive();
        }
        handled
    }

    async fn dispatch(&mut self, me: PeerId, msg: ClientMsg) -> Result<(), End> {
        match msg {
            ClientMsg::Ping => {
                tracing::debug!("ping");
                self.send(&ServerMsg::Pong).await
            }
            ClientMsg::Hello { .. } => {
                self.reject(
                    ErrorCode::HelloRequired,
                    "hello was already received".into(),
                )
                .await
            }
            ClientMsg::Resolve { code } => {
                tracing::debug!("resolve");
                self.resolve(me, &code).await
            }
            ClientMsg::Relay { to, session, data } => self.relay(me, to, session, data).await,
            ClientMsg::Signal { to, data } => {
                let kind = signal_kind(&data);
                tracing::debug!(%to, kind, "signal");
                match self.shared.registry.relay(me, to, data) {
                    Ok(()) => {
                        self.shared.metrics.signal_relayed(kind);
                        Ok(())
                    }
                    // The addressee's outbox is full: the sender slows down (and a flood
                    // earns strikes), the addressee stays.
                    Err(RelayError::Busy) => {
                        let message = format!("peer {to} is not keeping up; signal dropped");
                        self.reject(ErrorCode::RateLimited, message).await
                    }
                    Err(RelayError::UnknownPeer | RelayError::Gone) => {
                        let message = format!(
                            "peer {to} is not connected or not reachable from this connection"
                        );
                        self.send_error(ErrorCode::UnknownPeer, message).await
                    }
                }
            }
        }
    }

    /// `resolve`: malformed codes fail without touching the budget; look-ups of well-formed
    /// codes are limited per connection and per address.
    async fn resolve(&mut self, me: PeerId, typed: &str) -> Result<(), End> {
        let Some(code) = normalize_code(typed) else {
            return self
                .send_error(ErrorCode::UnknownCode, "not a valid code".into())
                .await;
        };
        let now = std::time::Instant::now();
        if !self.resolves.try_take(now)
            || !self
                .shared
                .registry
                .take_resolve_budget(GroupKey::guessing_budget_of(self.client), now)
        {
            let text = "too many code look-ups; wait a minute".to_string();
            return self.reject(ErrorCode::RateLimited, text).await;
        }
        let mut found = self.shared.registry.resolve(me, &code);
        if let (None, Some(link)) = (&found, self.shared.bus.link()) {
            // Not held here: perhaps on another node. Redis down = not found.
            match link.lookup_code(&code).await {
                Ok(Some(record)) => found = self.shared.registry.resolve_remote(me, record),
                Ok(None) => {}
                Err(err) => tracing::debug!(%err, "code look-up in the cluster failed"),
            }
        }
        match found {
            Some(peer) => self.send(&ServerMsg::Resolved { code, peer }).await,
            None => {
                self.send_error(ErrorCode::UnknownCode, format!("no peer holds code {code}"))
                    .await
            }
        }
    }

    /// `relay`: forwards one encrypted fallback frame and charges it to this connection's and
    /// this address's budgets (see [`crate::relay`]). A frame for a peer this connection may
    /// not reach is a strike; one for a partner that just left is not (frames in flight).
    async fn relay(
        &mut self,
        me: PeerId,
        to: PeerId,
        session: uuid::Uuid,
        data: String,
    ) -> Result<(), End> {
        if self.shared.config.limits.relay_bytes_per_sec == 0 {
            let text = "the fallback relay is disabled on this server".to_string();
            return self.send_error(ErrorCode::Unavailable, text).await;
        }
        let now = Instant::now();
        let cost = data.len() + FRAME_OVERHEAD;
        let mine = self.relay_budget.charge(cost, now.into_std());
        let address = GroupKey::subscriber_of(self.client);
        let shared = self
            .shared
            .relay_budgets
            .charge(address, cost, now.into_std());
        let pause = mine.max(shared);
        if !pause.is_zero() {
            self.relay_pause = Some(now + pause);
        }
        let msg = ServerMsg::Relay {
            from: me,
            session,
            data,
        };
        match self.shared.registry.relay_frame(me, to, msg) {
            Ok(()) => {
                self.shared.metrics.relay_forwarded(cost - FRAME_OVERHEAD);
                Ok(())
            }
            Err(RelayError::Busy) => {
                let text = format!("peer {to} is not keeping up; relay frame dropped");
                self.send_error(ErrorCode::RateLimited, text).await
            }
            Err(RelayError::Gone) => {
                let text = format!("peer {to} has left; relay frame dropped");
                self.send_error(ErrorCode::UnknownPeer, text).await
            }
            Err(RelayError::UnknownPeer) => {
                let text =
                    format!("peer {to} is not connected or not reachable from this connection");
                self.reject(ErrorCode::UnknownPeer, text).await
            }
        }
    }

    /// Answers a refused frame and counts a strike; too many strikes end the connection.
    async fn reject(&mut self, code: ErrorCode, message: String) -> Result<(), End> {
        self.strikes += 1;
        self.shared.metrics.strike(code);
        if self.strikes >= self.shared.config.limits.max_strikes {
            self.shared.metrics.closed_for_strikes();
            tracing::info!(?code, "closing abusive connection");
            return Err(End::with_error(
                code,
                message,
                CloseCode::Policy,
                "too many rejected messages",
            ));
        }
        self.send_error(code, message).await
    }

    /// An accepted message forgives one earlier strike.
    fn forgive(&mut self) {
        self.strikes = self.strikes.saturating_sub(1);
    }

    fn idle_end(&self) -> End {
        let secs = self.shared.config.limits.idle_timeout.as_secs_f64();
        End::with_error(
            ErrorCode::IdleTimeout,
            format!("idle for {secs:.1} s"),
            CloseCode::Normal,
            "idle timeout",
        )
    }

    async fn send_error(&mut self, code: ErrorCode, message: String) -> Result<(), End> {
        self.shared.metrics.error_sent(code);
        self.send(&ServerMsg::Error { code, message }).await
    }

    /// Sends one message; a write that cannot finish in `write_timeout` drops the client.
    async fn send(&mut self, msg: &ServerMsg) -> Result<(), End> {
        let frame = Message::text(msg.to_json());
        match timeout(self.shared.config.limits.write_timeout, self.ws.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => {
                tracing::debug!(%err, "write failed");
                Err(End::Gone)
            }
            Err(_) => {
                tracing::info!("write timed out, dropping client");
                Err(End::Gone)
            }
        }
    }
}

/// Resolves once the server starts shutting down (or the server is gone).
pub(crate) async fn shutting_down(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

/// Sends the last words (error frame + close frame), then lingers: half-closes and discards
/// what the client still sends for a moment, so our frames are not lost to a TCP reset.
async fn finish(mut ws: Ws, end: End, write_timeout: Duration) {
    let End::Close {
        error,
        code,
        reason,
    } = end
    else {
        return;
    };
    let last_words = async {
        if let Some((code, message)) = error {
            ws.send(Message::text(ServerMsg::Error { code, message }.to_json()))
                .await?;
        }
        ws.close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
        .await
    };
    if !matches!(
        timeout(write_timeout.min(Duration::from_secs(2)), last_words).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let mut tcp = ws.into_inner().into_inner();
    let _ = tcp.shutdown().await;
    let drain = async {
        // On the heap, and only while lingering: a buffer inside the future would be part of
        // every connection task's allocation for its whole life (4 KiB per peer).
        let mut buf = vec![0u8; LINGER_CHUNK];
        let mut total = 0;
        while total < LINGER_BYTES {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = timeout(LINGER, drain).await;
}

fn signal_kind(data: &peerdrop_proto::signal::SignalData) -> &'static str {
    use peerdrop_proto::signal::SignalData;
    match data {
        SignalData::Offer { .. } => "offer",
        SignalData::StripeOffer { .. } => "stripe_offer",
        SignalData::Answer { .. } => "answer",
        SignalData::Candidate { .. } => "candidate",
        SignalData::Queued { .. } => "queued",
        SignalData::Bye { .. } => "bye",
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_ERROR_TEXT {
        let mut cut = MAX_ERROR_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}
