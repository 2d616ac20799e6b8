//! Client side of the signaling protocol: one WebSocket to `peerdrop-signal`.
//!
//! [`SignalClient::connect`] registers this device (hello → welcome) and spawns one task that
//! owns the socket. That task routes what the server says:
//! - `nearby` lists into a [`watch`] channel front ends can observe live, and `paired` lists
//!   (devices this one pinned, found by pairing tag wherever they are, see
//!   [`SignalClient::watch_paired`]) into another;
//! - `signal` messages to the [`SessionLink`] of their session, or, for a new `offer`, into
//!   the queue that [`SignalClient::next_offer`] drains;
//! - `peer_gone` and server errors to every open session, so a transfer notices at once when
//!   the other side vanished.

use futures_util::{SinkExt, StreamExt};
use peerdrop_proto::signal::{
    ClientMsg, DeviceKind, ErrorCode, IceServer, PeerId, PeerInfo, ServerMsg, SessionId, SignalData,
};
use peerdrop_proto::PROTOCOL_VERSION;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::error::TlsError;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::{debug, warn};

use crate::identity::pairing::{paired_as_pinned, PairingWatch};
use crate::tls::{CertificateProblem, ClientTls};

mod route;
mod socket;

use route::register_session;
use socket::{connect_failure, run_connection};

/// How often an idle connection pings the server so its idle timeout never fires.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(25);

/// How long to wait for the server to answer `hello` or `resolve`.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why talking to the signaling server failed.
#[derive(Debug, Error)]
pub enum SignalError {
    /// The server could not be reached or the WebSocket handshake failed.
    #[error("signaling server {url} is unreachable: {reason}")]
    Unreachable {
        /// Server URL.
        url: String,
        /// Underlying reason.
        reason: String,
    },
    /// A `wss://` server's certificate was refused. Never retried over `ws://` or against
    /// another server: someone may be impersonating this one.
    #[error("{}", .problem.describe(.url))]
    UntrustedCertificate {
        /// Server URL.
        url: String,
        /// What is wrong with the certificate.
        problem: CertificateProblem,
    },
    /// The TLS handshake with a `wss://` server failed for a reason other than its certificate
    /// (no common protocol version, an alert, not TLS at all).
    #[error("TLS with the signaling server {url} failed: {reason}")]
    Tls {
        /// Server URL.
        url: String,
        /// What rustls said.
        reason: String,
    },
    /// The server answered something we did not expect.
    #[error("signaling server misbehaved: {0}")]
    Protocol(String),
    /// The server refused a request.
    #[error("{message}")]
    Refused {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Server's explanation.
        message: String,
    },
    /// The connection to the server is closed.
    #[error("lost the connection to the signaling server")]
    Disconnected,
    /// The server did not answer in time.
    #[error("signaling server did not answer in time")]
    Timeout,
}

/// A signal for one session, as routed by the client task.
#[derive(Clone, Debug)]
pub enum SessionSignal {
    /// The peer relayed something for this session.
    Signal {
        /// Who sent it (as the server knows them).
        from: PeerInfo,
        /// What they sent.
        data: SignalData,
    },
    /// A peer disconnected from the server (check whether it is ours).
    PeerGone(PeerId),
    /// The server refused something we sent (e.g. the addressee is gone).
    ServerError {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Server's explanation.
        message: String,
    },
    /// Our own connection to the server is gone.
    Disconnected,
    /// The peer offers an extra peer connection for this session's transfer (a stripe, see
    /// [`SignalData::StripeOffer`]), already registered under its own session id.
    Stripe(PendingStripe),
    /// An encrypted fallback relay frame for this session that arrived before a relay route
    /// was opened (the first handshake message; see [`crate::fallback`]).
    Relay {
        /// Who sent it.
        from: PeerId,
        /// Base64 of the frame.
        data: String,
    },
}

/// Most offers waiting for the front end to take them ([`SignalClient::next_offer`]); more are
/// answered with `bye` at once. A person answers one prompt at a time, and every waiting offer
/// holds its SDP and a session: unbounded, one nearby peer could grow this queue by tens of MB
/// a second.
pub const MAX_PENDING_OFFERS: usize = 16;

/// A new offer from a sender, not yet answered.
#[derive(Debug)]
pub struct IncomingOffer {
    /// The sender.
    pub from: PeerInfo,
    /// Session id chosen by the sender.
    pub session: SessionId,
    /// The offer SDP.
    pub sdp: String,
    /// Signals that arrive for this session after the offer (trickled candidates).
    pub link: SessionLink,
}

/// A stripe offer on its way to the session it joins. [`SessionSignal`] is `Clone` (some
/// signals go to every session), an offer with its link is not: whoever handles the signal
/// takes it out once.
#[derive(Clone, Debug)]
pub struct PendingStripe(Arc<Mutex<Option<IncomingOffer>>>);

impl PendingStripe {
    /// The offer, the first time this is called.
    pub fn take(&self) -> Option<IncomingOffer> {
        self.0.lock().ok().and_then(|mut o| o.take())
    }
}

type SessionMap = Arc<Mutex<HashMap<SessionId, mpsc::UnboundedSender<SessionSignal>>>>;
type RelayMap = Arc<Mutex<HashMap<SessionId, (PeerId, mpsc::Sender<String>)>>>;

/// Relay frames buffered per session before its fallback carrier reads them. Peers keep far
/// fewer in flight (their flow-control window); a peer overrunning it loses frames, which
/// breaks its own encrypted stream, never our memory.
pub const RELAY_ROUTE_QUEUE: usize = 256;

type ClaimMap = Arc<Mutex<HashMap<PeerId, mpsc::UnboundedSender<IncomingOffer>>>>;

type QueuedMap = Arc<Mutex<HashMap<PeerId, mpsc::UnboundedSender<u32>>>>;

/// The places in line a receiver reported for our offers to one peer
/// ([`SignalData::Queued`]), while this watch lives.
#[derive(Debug)]
pub struct QueuedWatch {
    peer: PeerId,
    positions: mpsc::UnboundedReceiver<u32>,
    map: QueuedMap,
}

impl QueuedWatch {
    /// The next place in line the receiver reported (`None` when nobody reports any more).
    pub async fn next(&mut self) -> Option<u32> {
        self.positions.recv().await
    }
}

impl Drop for QueuedWatch {
    fn drop(&mut self) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&self.peer);
        }
    }
}

/// New offers from one peer, diverted from [`SignalClient::next_offer`] while a transfer with
/// that peer runs: a sender that lost its connection offers a new one to resume, and that
/// offer belongs to the running transfer, not to whoever waits for the next sender.
#[derive(Debug)]
pub struct OfferClaim {
    peer: PeerId,
    offers: mpsc::UnboundedReceiver<IncomingOffer>,
    claims: ClaimMap,
}

impl OfferClaim {
    /// The next offer from the claimed peer (`None` once the server connection is gone).
    pub async fn next(&mut self) -> Option<IncomingOffer> {
        self.offers.recv().await
    }
}

impl Drop for OfferClaim {
    fn drop(&mut self) {
        if let Ok(mut map) = self.claims.lock() {
            map.remove(&self.peer);
        }
    }
}

/// One session's view of the signaling connection: send to the peer, receive what it relays.
#[derive(Debug)]
pub struct SessionLink {
    session: SessionId,
    outbox: mpsc::UnboundedSender<ClientMsg>,
    inbox: mpsc::UnboundedReceiver<SessionSignal>,
    /// Signals read while the session waited (a queued offer's candidates), handed out
    /// again before the inbox.
    unread: std::collections::VecDeque<SessionSignal>,
    sessions: SessionMap,
}

impl SessionLink {
    /// The session id.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// Relays `data` to peer `to` through the server.
    pub fn send(&self, to: PeerId, data: SignalData) -> Result<(), SignalError> {
        self.outbox
            .send(ClientMsg::Signal { to, data })
            .map_err(|_| SignalError::Disconnected)
    }

    /// A guard that tells `to` this session is abandoned (`bye` with `reason`) when it is
    /// dropped before [`ByeOnDrop::disarm`]: an offerer whose wait is cancelled leaves a busy
    /// receiver's waiting line at once instead of being answered in vain.
    pub fn bye_on_drop(&self, to: PeerId, reason: &'static str) -> ByeOnDrop {
        ByeOnDrop {
            armed: true,
            to,
            session: self.session,
            reason,
            outbox: self.outbox.clone(),
        }
    }

    /// A handle that sends fallback relay frames of this session to `to`.
    pub fn relay_sender(&self, to: PeerId) -> RelaySender {
        RelaySender {
            to,
            session: self.session,
            outbox: self.outbox.clone(),
        }
    }

    /// Next signal for this session; [`SessionSignal::Disconnected`] once the server is gone.
    pub async fn recv(&mut self) -> SessionSignal {
        if let Some(signal) = self.unread.pop_front() {
            return signal;
        }
        self.inbox
            .recv()
            .await
            .unwrap_or(SessionSignal::Disconnected)
    }

    /// The signals that arrived and were not read yet, without waiting; they stay for
    /// [`SessionLink::recv`] unless the caller drops them. Used while an offer waits in line:
    /// its trickled candidates are kept for the answer, a `bye` or `peer_gone` ends the wait.
    pub fn peek_new(&mut self) -> Vec<SessionSignal> {
        let mut new = Vec::new();
        loop {
            match self.inbox.try_recv() {
                Ok(signal) => new.push(signal),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    new.push(SessionSignal::Disconnected);
                    break;
                }
            }
        }
        self.unread.extend(new.iter().cloned());
        new
    }
}

/// Sends `bye` for one session when dropped armed ([`SessionLink::bye_on_drop`]).
#[derive(Debug)]
pub struct ByeOnDrop {
    armed: bool,
    to: PeerId,
    session: SessionId,
    reason: &'static str,
    outbox: mpsc::UnboundedSender<ClientMsg>,
}

impl ByeOnDrop {
    /// Nothing is sent on drop.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ByeOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.outbox.send(ClientMsg::Signal {
                to: self.to,
                data: SignalData::Bye {
                    session: self.session,
                    reason: self.reason.into(),
                },
            });
        }
    }
}

/// Sends encrypted fallback relay frames of one session to one peer.
#[derive(Clone, Debug)]
pub struct RelaySender {
    to: PeerId,
    session: SessionId,
    outbox: mpsc::UnboundedSender<ClientMsg>,
}

impl RelaySender {
    /// Queues one frame (base64 text) for the server.
    pub fn send(&self, data: String) -> Result<(), SignalError> {
        self.outbox
            .send(ClientMsg::Relay {
                to: self.to,
                session: self.session,
                data,
            })
            .map_err(|_| SignalError::Disconnected)
    }
}

/// Receives the fallback relay frames of one session from one peer; unregisters on drop.
#[derive(Debug)]
pub struct RelayRoute {
    session: SessionId,
    frames: mpsc::Receiver<String>,
    routes: RelayMap,
}

impl RelayRoute {
    /// The next frame (base64 text); `None` once the signaling connection is gone.
    pub async fn recv(&mut self) -> Option<String> {
        self.frames.recv().await
    }

    /// Whether no frame is waiting right now.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

impl Drop for RelayRoute {
    fn drop(&mut self) {
        if let Ok(mut map) = self.routes.lock() {
            map.remove(&self.session);
        }
    }
}

impl Drop for SessionLink {
    fn drop(&mut self) {
        if let Ok(mut map) = self.sessions.lock() {
            map.remove(&self.session);
        }
    }
}

struct Shared {
    sessions: SessionMap,
    relays: RelayMap,
    claims: ClaimMap,
    offers_tx: mpsc::Sender<IncomingOffer>,
    /// Cancelled when the connection task ends, so waiting for offers ends too (the sender
    /// above lives as long as the client and never closes the queue by itself).
    closed: tokio_util::sync::CancellationToken,
    nearby_tx: watch::Sender<Vec<PeerInfo>>,
    paired_tx: watch::Sender<Vec<PeerInfo>>,
    /// The pins this device watches for, by fingerprint: a `paired` entry is kept only when
    /// it claims one of them, and is listed under the name that pin was made as.
    pairing: Mutex<HashMap<String, String>>,
    resolve_reply: Mutex<Option<oneshot::Sender<Result<PeerInfo, SignalError>>>>,
    outbox: mpsc::UnboundedSender<ClientMsg>,
    /// Who wants to hear that a receiver put our offer in its waiting line
    /// ([`SignalClient::watch_queued`]).
    queued: QueuedMap,
}

/// How this device presents itself in `hello`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presentation {
    /// Device name others see.
    pub name: String,
    /// Device kind others see.
    pub kind: DeviceKind,
    /// This device's certificate fingerprint, claimed so that a device seen both on the LAN
    /// and through a server is listed once (others verify it when they connect).
    pub fingerprint: String,
}

/// A registered presence on the signaling server.
pub struct SignalClient {
    id: PeerId,
    code: String,
    name: String,
    ice_servers: Vec<IceServer>,
    shared: Arc<Shared>,
    offers: tokio::sync::Mutex<mpsc::Receiver<IncomingOffer>>,
    nearby: watch::Receiver<Vec<PeerInfo>>,
    paired: watch::Receiver<Vec<PeerInfo>>,
    resolve_lock: tokio::sync::Mutex<()>,
    task: tokio::task::JoinHandle<()>,
}

impl SignalClient {
    /// Connects to `url` (`ws://host:port/ws`, or `wss://…` checked against the authorities
    /// `tls` trusts) and registers as `me`.
    pub async fn connect(
        url: &str,
        me: &Presentation,
        tls: &ClientTls,
    ) -> Result<Self, SignalError> {
        let (name, kind) = (me.name.as_str(), me.kind);
        let unreachable = |reason: String| SignalError::Unreachable {
            url: url.to_string(),
            reason,
        };
        let connector = tokio_tungstenite::Connector::Rustls(tls.config());
        let attempt =
            tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector));
        let (mut ws, _) = tokio::time::timeout(REPLY_TIMEOUT, attempt)
            .await
            .map_err(|_| unreachable("timed out".into()))?
            .map_err(|e| connect_failure(url, e, tls))?;
        let hello = ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            name: name.to_string(),
            kind,
            fingerprint: Some(me.fingerprint.clone()),
            max_packet: Some(crate::rtc::MAX_PACKET_RECEIVED),
        };
        ws.send(Message::text(hello.to_json()))
            .await
            .map_err(|e| unreachable(e.to_string()))?;

        let welcome = tokio::time::timeout(REPLY_TIMEOUT, async {
            while let Some(frame) = ws.next().await {
                let frame = frame.map_err(|e| unreachable(e.to_string()))?;
                if let Message::Text(text) = frame {
                    return ServerMsg::from_json(&text)
                        .map_err(|e| SignalError::Protocol(e.to_string()));
                }
            }
            Err(SignalError::Disconnected)
        })
        .await
        .map_err(|_| SignalError::Timeout)??;
        let (id, code, ice_servers) = match welcome {
            ServerMsg::Welcome {
                id,
                code,
                ice_servers,
                ..
            } => (id, code, ice_servers),
            ServerMsg::Error { code, message } => {
                return Err(SignalError::Refused { code, message })
            }
            other => {
                return Err(SignalError::Protocol(format!(
                    "expected welcome, got {other:?}"
                )))
            }
        };

        let (outbox, outbox_rx) = mpsc::unbounded_channel();
        let (offers_tx, offers_rx) = mpsc::channel(MAX_PENDING_OFFERS);
        let (nearby_tx, nearby_rx) = watch::channel(Vec::new());
        let (paired_tx, paired_rx) = watch::channel(Vec::new());
        let shared = Arc::new(Shared {
            sessions: Arc::default(),
            relays: Arc::default(),
            claims: Arc::default(),
            offers_tx,
            closed: tokio_util::sync::CancellationToken::new(),
            nearby_tx,
            paired_tx,
            pairing: Mutex::new(HashMap::new()),
            resolve_reply: Mutex::new(None),
            outbox,
            queued: Arc::default(),
        });
        let task = tokio::spawn(run_connection(ws, outbox_rx, shared.clone()));
        Ok(Self {
            id,
            code,
            name: name.to_string(),
            ice_servers,
            shared,
            offers: tokio::sync::Mutex::new(offers_rx),
            nearby: nearby_rx,
            paired: paired_rx,
            resolve_lock: tokio::sync::Mutex::new(()),
            task,
        })
    }

    /// This device's id.
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// This device's short code (`XXXX-XX`).
    pub fn code(&self) -> &str {
        &self.code
    }

    /// This device's name as sent in `hello`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// ICE servers the server handed out (TURN credentials are short-lived).
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.ice_servers
    }

    /// Live list of nearby devices.
    pub fn nearby(&self) -> watch::Receiver<Vec<PeerInfo>> {
        self.nearby.clone()
    }

    /// Live list of paired devices: peers the server found holding a pairing tag this device
    /// watches ([`SignalClient::watch_paired`]), on any network, whose claimed fingerprint is
    /// the pinned one that tag was made from, each under the name it was pinned as (so one
    /// that cannot prove that fingerprint is a changed identity, not a new device). Empty
    /// until something is watched.
    pub fn paired(&self) -> watch::Receiver<Vec<PeerInfo>> {
        self.paired.clone()
    }

    /// Asks the server to find the pinned devices of `watches` (from
    /// [`crate::identity::Trust::pairing_watches`]) wherever they connect from, replacing
    /// what was watched before; the answer arrives in [`SignalClient::paired`]. Only for a
    /// server: a LAN device's endpoint is never told the tags. Nothing is sent for nothing to
    /// watch on a fresh connection.
    pub fn watch_paired(&self, watches: Vec<PairingWatch>) -> Result<(), SignalError> {
        let tags = {
            let mut pairing = self.shared.pairing.lock().expect("pairing lock");
            if watches.is_empty() && pairing.is_empty() {
                return Ok(());
            }
            let mut tags = Vec::with_capacity(watches.len());
            pairing.clear();
            for watch in watches {
                tags.push(watch.tag);
                pairing.insert(watch.fingerprint, watch.pinned_as);
            }
            tags
        };
        self.shared
            .outbox
            .send(ClientMsg::Watch { tags })
            .map_err(|_| SignalError::Disconnected)
    }

    /// Looks up who holds `code`.
    pub async fn resolve(&self, code: &str) -> Result<PeerInfo, SignalError> {
        let _one_at_a_time = self.resolve_lock.lock().await;
        let (tx, rx) = oneshot::channel();
        *self.shared.resolve_reply.lock().expect("resolve slot lock") = Some(tx);
        self.shared
            .outbox
            .send(ClientMsg::Resolve {
                code: code.to_string(),
            })
            .map_err(|_| SignalError::Disconnected)?;
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(SignalError::Disconnected),
            Err(_) => Err(SignalError::Timeout),
        }
    }

    /// Opens a new outgoing session, so that answers and candidates for it reach the caller.
    pub fn open_session(&self, session: SessionId) -> SessionLink {
        register_session(&self.shared, session)
    }

    /// Reports to the returned watch, until it is dropped, each place in line `peer` says our
    /// offer has ([`SignalClient::report_queued`]), so a front end can show the wait.
    pub fn watch_queued(&self, peer: PeerId) -> QueuedWatch {
        let (tx, positions) = mpsc::unbounded_channel();
        self.shared
            .queued
            .lock()
            .expect("queued map lock")
            .insert(peer, tx);
        QueuedWatch {
            peer,
            positions,
            map: self.shared.queued.clone(),
        }
    }

    /// Called by the offerer when `peer` queued our offer at `position`.
    pub fn report_queued(&self, peer: PeerId, position: u32) {
        if let Some(tx) = self
            .shared
            .queued
            .lock()
            .ok()
            .and_then(|m| m.get(&peer).cloned())
        {
            let _ = tx.send(position);
        }
    }

    /// Diverts new offers from `peer` to the returned claim until it is dropped.
    pub fn claim_offers_from(&self, peer: PeerId) -> OfferClaim {
        let (tx, offers) = mpsc::unbounded_channel();
        self.shared
            .claims
            .lock()
            .expect("claim map lock")
            .insert(peer, tx);
        OfferClaim {
            peer,
            offers,
            claims: self.shared.claims.clone(),
        }
    }

    /// Routes the fallback relay frames of `session` sent by `from` to the returned receiver
    /// (bounded; see [`RELAY_ROUTE_QUEUE`]) instead of the session's signal queue.
    pub fn relay_route(&self, session: SessionId, from: PeerId) -> RelayRoute {
        let (tx, frames) = mpsc::channel(RELAY_ROUTE_QUEUE);
        self.shared
            .relays
            .lock()
            .expect("relay map lock")
            .insert(session, (from, tx));
        RelayRoute {
            session,
            frames,
            routes: self.shared.relays.clone(),
        }
    }

    /// Waits for the next offer from a sender; `None` once the server connection is gone.
    /// Offers that arrived before the connection ended are still handed out first.
    pub async fn next_offer(&self) -> Option<IncomingOffer> {
        let mut offers = self.offers.lock().await;
        tokio::select! {
            biased;
            offer = offers.recv() => offer,
            _ = self.shared.closed.cancelled() => offers.try_recv().ok(),
        }
    }

    /// Whether the connection to the server has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.is_cancelled()
    }
}

impl Drop for SignalClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}
