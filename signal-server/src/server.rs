//! Binding the port, accepting connections, routing them, shutting down gracefully.
//!
//! One TCP port serves both plain HTTP (`GET /health`) and the WebSocket (`/ws`). Each
//! accepted TCP connection gets its own task: read the request head (bounded in size and
//! time), route it, and for `/ws` check the page origin ([`crate::origin`]), complete the
//! upgrade, take a connection slot and hand over to the connection handler.
//!
//! **Draining** (SIGTERM, e.g. a rolling restart behind a load balancer): the listener closes
//! at once (new connections go to other nodes), every connection is told `unavailable` and
//! closed with 1012 "service restart" (clients reconnect), stragglers are dropped after
//! [`crate::ServerConfig::shutdown_grace`], and a cluster node then writes to Redis that its
//! peers left, so they vanish from the other nodes at once instead of after their TTL.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, OptionFuture};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::Instrument;

use peerdrop_proto::signal::ErrorCode;
use peerdrop_proto::PROTOCOL_VERSION;

use crate::addr::{client_ip, GroupKey};
use crate::cluster::redis_link::RedisLink;
use crate::cluster::Bus;
use crate::config::ServerConfig;
use crate::connection::{self, Shared};
use crate::device::{self, Role};
use crate::error::ServerError;
use crate::http::{self, Prefixed, Route};
use crate::origin::Origin;
use crate::rate::KeyedBuckets;
use crate::registry::Registry;
use crate::relay::AddressBudgets;
use crate::slots::{Slot, SlotError, Slots};

/// Read buffer per WebSocket: small, because most connections are idle and a server holds
/// thousands of them (16 KiB made 10,000 peers cost ~390 MiB; larger frames still work, they
/// are just read in more steps).
const WS_READ_BUFFER: usize = 4 * 1024;

/// Longest wait on shutdown for the cluster link to write that this node's peers left.
const CLUSTER_FLUSH: Duration = Duration::from_secs(1);

/// A bound signaling server, ready to [`run`](SignalServer::run).
///
/// Binding and running are separate so the caller learns the real port (when binding port 0)
/// before any client connects — tests and the desktop app rely on that.
pub struct SignalServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl SignalServer {
    /// Validates `config` and binds its listening address.
    pub async fn bind(config: ServerConfig) -> Result<Self, ServerError> {
        config.validate()?;
        if config.turn_secret.is_some() && config.turn_urls.is_empty() {
            tracing::warn!("a TURN secret is set but no TURN URL; clients get no TURN server");
        }
        if config.turn_secret.is_none() && !config.turn_urls.is_empty() {
            tracing::warn!(
                "TURN URLs are set but no TURN secret; clients get only STUN derived from them"
            );
        }
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr()?;
        let limits = &config.limits;
        let allowed_origins = config
            .allowed_origins
            .iter()
            .filter_map(|o| Origin::parse(o))
            .collect();
        let bus = match &config.cluster {
            Some(cluster) => Bus::Redis(
                RedisLink::new(cluster)
                    .map_err(|err| ServerError::InvalidConfig(format!("--redis: {err}")))?,
            ),
            None => Bus::Local,
        };
        let shared = Arc::new(Shared {
            registry: Arc::new(Registry::with_bus(
                limits,
                config.is_device_endpoint(),
                bus.clone(),
            )),
            bus,
            slots: Arc::new(Slots::new(
                limits.max_connections_per_ip,
                limits.max_connections,
            )),
            handshakes: Arc::new(Slots::new(
                limits.max_handshakes_per_ip,
                limits.max_handshakes,
            )),
            relay_budgets: AddressBudgets::new(limits),
            turn_budgets: KeyedBuckets::per_window(limits.turn_credentials_per_ip, config.turn_ttl),
            allowed_origins,
            refused_origins: AtomicU64::new(0),
            metrics: crate::metrics::Metrics::new(),
            config,
        });
        Ok(Self {
            listener,
            local_addr,
            shared,
        })
    }

    /// The address actually bound (with the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The WebSocket URL clients should use, e.g. `ws://127.0.0.1:8787/ws`.
    pub fn ws_url(&self) -> String {
        ws_url(self.local_addr)
    }

    /// In device endpoint mode, the URL the device's own client connects with to be the owner
    /// (see [`RunningServer::owner_url`]); `None` on an ordinary server.
    pub fn owner_url(&self) -> Option<String> {
        let token = self.shared.config.owner_token.as_deref()?;
        Some(device::owner_url(self.local_addr, token))
    }

    /// Serves until `shutdown` completes, then closes every connection gracefully.
    ///
    /// Returns once all connection tasks have finished (or were dropped after the grace
    /// period), so a caller awaiting it knows the port is free again.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let SignalServer {
            listener,
            local_addr,
            shared,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        // The cluster link's tasks live as long as this loop (dropping the set aborts them).
        let cluster_tasks = shared
            .bus
            .link()
            .map(|link| link.spawn(Arc::clone(&shared.registry)));
        match shared.bus.node() {
            Some(node) => {
                tracing::info!(%local_addr, %node, "signal server listening (cluster node)")
            }
            None => tracing::info!(%local_addr, "signal server listening"),
        }
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        // Counted from the first byte: a connection that never finishes its
                        // handshake holds a handshake slot, and too many are closed at once.
                        let Some(handshake) = handshake_slot(&shared, peer.ip()) else {
                            drop(tcp);
                            continue;
                        };
                        let span = tracing::info_span!("conn", client = %peer.ip(), peer = tracing::field::Empty);
                        tasks.spawn(handle_tcp(tcp, peer, handshake, Arc::clone(&shared), stop_rx.clone()).instrument(span));
                    }
                    Err(err) => {
                        // Typically out of file descriptors: back off instead of spinning.
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(err) = joined {
                        if err.is_panic() {
                            tracing::error!(%err, "connection task panicked");
                        }
                    }
                }
            }
        }
        drop(listener);
        tracing::info!(connections = tasks.len(), "shutting down");
        let _ = stop_tx.send(true);
        let drain = async { while tasks.join_next().await.is_some() {} };
        if timeout(shared.config.shutdown_grace, drain).await.is_err() {
            tracing::warn!(
                remaining = tasks.len(),
                "grace period over, dropping connections"
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        // The peers that just left vanish from the other nodes now, not when their TTL ends.
        if let Some(link) = shared.bus.link() {
            link.flush(CLUSTER_FLUSH).await;
        }
        drop(cluster_tasks);
        tracing::info!("signal server stopped");
        Ok(())
    }

    /// Runs the server on a tokio task; the returned handle stops it (explicitly with
    /// [`RunningServer::shutdown`], or implicitly when dropped).
    pub fn spawn(self) -> RunningServer {
        let local_addr = self.local_addr;
        let owner_url = self.owner_url();
        let (trigger, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(self.run(async move {
            let _ = stopped.await;
        }));
        RunningServer {
            local_addr,
            owner_url,
            trigger: Some(trigger),
            task: Some(task),
        }
    }
}

/// A server running on a background task (see [`SignalServer::spawn`]).
///
/// Dropping it also shuts the server down, so a test cannot leak a server.
pub struct RunningServer {
    local_addr: SocketAddr,
    owner_url: Option<String>,
    trigger: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl RunningServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The WebSocket URL clients should use, e.g. `ws://127.0.0.1:8787/ws`.
    pub fn ws_url(&self) -> String {
        ws_url(self.local_addr)
    }

    /// In device endpoint mode ([`ServerConfig::owner_token`]), the URL the device's own
    /// client connects with to be the owner: `ws://127.0.0.1:PORT/ws?owner=TOKEN` for a server
    /// bound to `0.0.0.0` or `127.0.0.1` (`[::1]` for `[::]`; a server bound to one other
    /// address is reached there). `None` on an ordinary server. The URL carries the secret:
    /// hand it only to this device's own client, never advertise it.
    pub fn owner_url(&self) -> Option<String> {
        self.owner_url.clone()
    }

    /// Stops accepting, closes every connection gracefully and waits until that is done.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(trigger) = self.trigger.take() {
            let _ = trigger.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(trigger) = self.trigger.take() {
            let _ = trigger.send(());
        }
    }
}

fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws")
}

/// One TCP connection: route the HTTP request, then serve `/health` or the WebSocket.
///
/// Its future is what every connection task holds for the life of the connection, so it is
/// kept small: an `async` block (an `async fn` would store its arguments twice), and the
/// routing and upgrade in their own boxed future, whose state (request head, handshake) is
/// freed once the WebSocket is up.
#[allow(clippy::manual_async_fn)] // deliberate: see above, measured in docs/BENCHMARKS.md
fn handle_tcp(
    tcp: TcpStream,
    peer: SocketAddr,
    handshake: Slot,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send {
    async move {
        // Boxed: the upgrade's state is larger than the serving state and only needed for a
        // moment, so it should not set the size of the task.
        let upgraded = Box::pin(upgrade(tcp, peer, &shared, &mut shutdown)).await;
        // Handshake over (upgraded or not): the connection now counts as a WebSocket, if at all.
        drop(handshake);
        OptionFuture::from(
            upgraded.map(|(ws, client, role)| admit(ws, client, role, shared, shutdown)),
        )
        .await;
    }
}

/// A handshake slot for a new TCP connection from `ip`, or `None` when its caps are full. A
/// trusted proxy carries many clients, so only the total cap applies to it.
fn handshake_slot(shared: &Arc<Shared>, ip: IpAddr) -> Option<Slot> {
    let proxies = &shared.config.trusted_proxies;
    let from_proxy = proxies
        .iter()
        .any(|p| p.to_canonical() == ip.to_canonical());
    let taken = if from_proxy {
        shared.handshakes.try_acquire_total_only()
    } else {
        shared.handshakes.try_acquire(GroupKey::of(ip))
    };
    match taken {
        Ok(slot) => Some(slot),
        Err(why) => {
            tracing::info!(client = %ip, ?why, "refused: too many connections still in their handshake");
            None
        }
    }
}

/// Takes a connection slot for an upgraded WebSocket and serves it, or refuses it when a cap
/// is reached. Builds the future without an `async` block, so the WebSocket is stored once.
fn admit(
    ws: connection::Ws,
    client: IpAddr,
    role: Role,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send {
    let limits = &shared.config.limits;
    let write_timeout = limits.write_timeout;
    match shared.slots.try_acquire(GroupKey::of(client)) {
        Ok(slot) => Either::Left(connection::serve(
            ws,
            Arc::clone(&shared),
            client,
            role,
            slot,
            shutdown,
        )),
        Err(SlotError::PerAddress) => {
            tracing::info!("refused: too many connections from this address");
            shared.metrics.error_sent(ErrorCode::TooManyConnections);
            let message = format!(
                "too many connections from your address (max {})",
                limits.max_connections_per_ip
            );
            Either::Right(connection::refuse(
                ws,
                ErrorCode::TooManyConnections,
                message,
                write_timeout,
            ))
        }
        Err(SlotError::Total) => {
            tracing::warn!("refused: server full");
            shared.metrics.error_sent(ErrorCode::Unavailable);
            Either::Right(connection::refuse(
                ws,
                ErrorCode::Unavailable,
                "server is full; try again later".into(),
                write_timeout,
            ))
        }
    }
}

/// Reads and routes the request: answers `/health` and errors itself; for `/ws` completes the
/// upgrade and returns the WebSocket, the client address it counts as and its role (on a
/// device endpoint: owner or guest, see [`crate::device`]).
async fn upgrade(
    mut tcp: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(connection::Ws, IpAddr, Role)> {
    let _ = tcp.set_nodelay(true);
    let limits = &shared.config.limits;
    let read = tokio::select! {
        read = timeout(limits.handshake_timeout, http::read_head(&mut tcp)) => read,
        _ = connection::shutting_down(shutdown) => return None,
    };
    let (bytes, head) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(err)) => {
            tracing::debug!(%err, "bad request head");
            if err.kind() == std::io::ErrorKind::InvalidData {
                let _ = http::respond(
                    &mut tcp,
                    "400 Bad Request",
                    "text/plain",
                    "bad request\n",
                    true,
                )
                .await;
            }
            return None;
        }
        Err(_) => {
            tracing::debug!("no request head in time");
            return None;
        }
    };
    let include_body = head.method != "HEAD";
    let route = http::route(&head);
    tracing::debug!(method = %head.method, path = %head.path, ?route, "http request");
    let response = match route {
        Route::WebSocket => None,
        Route::Health => {
            let mut body = serde_json::json!({
                "status": "ok",
                "v": PROTOCOL_VERSION,
                "peers": shared.registry.len(),
                "connections": shared.slots.total(),
                "refused_origins": shared.refused_origins.load(Ordering::Relaxed),
            });
            let mut status = "200 OK";
            // A node that lost Redis refuses new peers: 503 sends load balancers elsewhere.
            if let Some(cluster) = shared.bus.link().map(|link| link.health()) {
                if !cluster.redis_up {
                    status = "503 Service Unavailable";
                    body["status"] = "degraded".into();
                }
                body["cluster"] = serde_json::json!({
                    "node": cluster.node,
                    "redis": if cluster.redis_up { "up" } else { "down" },
                    "for_secs": cluster.for_secs,
                    "error": cluster.last_error,
                });
            }
            Some((status, "application/json", format!("{body}\n")))
        }
        Route::Metrics => {
            let (peers_by_kind, nearby_groups) = shared.registry.stats();
            let body = shared.metrics.render(crate::metrics::Snapshot {
                peers_by_kind,
                websockets: shared.slots.total() as i64,
                handshakes: shared.handshakes.total() as i64,
                nearby_groups,
            });
            Some(("200 OK", crate::metrics::CONTENT_TYPE, body))
        }
        Route::NotFound => Some(("404 Not Found", "text/plain", "not found\n".to_string())),
        Route::MethodNotAllowed => Some((
            "405 Method Not Allowed",
            "text/plain",
            "method not allowed\n".to_string(),
        )),
        Route::UpgradeRequired => Some((
            "426 Upgrade Required",
            "text/plain",
            "this endpoint speaks WebSocket only\n".to_string(),
        )),
    };
    if let Some((status, content_type, body)) = response {
        let _ = http::respond(&mut tcp, status, content_type, &body, include_body).await;
        return None;
    }
    // A browser page of another origin: refused before the upgrade, so it never becomes a peer.
    let host = head.header_values("host").first().copied();
    if let Err(refusal) =
        crate::origin::check(&head.header_values("origin"), host, &shared.allowed_origins)
    {
        let refused = shared.refused_origins.fetch_add(1, Ordering::Relaxed) + 1;
        shared.metrics.origin_refused();
        tracing::info!(origin = %refusal.origin, refused, "refused: WebSocket from a web page of another origin");
        let body = refusal.body();
        let _ = http::respond(&mut tcp, "403 Forbidden", "text/plain", &body, true).await;
        return None;
    }

    let client = client_ip(
        peer.ip(),
        &head.header_values("x-forwarded-for"),
        &shared.config.trusted_proxies,
    );
    if client != peer.ip().to_canonical() {
        tracing::Span::current().record("client", tracing::field::display(client));
    }
    // The owner is judged on the TCP peer itself, never on a forwarded address.
    let local = tcp.local_addr().map(|a| a.ip()).unwrap_or(peer.ip());
    let role = Role::decide(
        shared.config.owner_token.as_deref(),
        head.query_param(device::OWNER_QUERY_PARAM),
        peer.ip(),
        local,
    );
    let hard = limits.hard_frame_bytes();
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(hard))
        .max_frame_size(Some(hard));
    let upgrade =
        tokio_tungstenite::accept_async_with_config(Prefixed::new(bytes, tcp), Some(ws_config));
    let upgraded = tokio::select! {
        upgraded = timeout(limits.handshake_timeout, upgrade) => upgraded,
        _ = connection::shutting_down(shutdown) => return None,
    };
    match upgraded {
        Ok(Ok(ws)) => Some((ws, client, role)),
        Ok(Err(err)) => {
            tracing::debug!(%err, "websocket upgrade failed");
            None
        }
        Err(_) => None,
    }
}
