//! The async drivers that run the pure machines of [`crate::machine`] over real sockets,
//! data channels and disks, and the [`Node`] facade front ends use.
//!
//! - [`clock`]: the runtime's clock as the machines' timestamps, and their deadlines back.
//! - [`changed`]: what a sender does when the receiver's identity changed since it was pinned.
//! - `driver`: the one loop both roles run — machine ↔ connection, timers, rejoining.
//! - [`connection`]: WebRTC setup over a signaling session (offerer/answerer) and upkeep.
//! - [`channels`]: one pump per data channel, bounded queues for backpressure.
//! - [`send`]: the sender's role in the driver: streams files (reader thread → frames → data
//!   channel) for a [`crate::machine::sender::SenderMachine`].
//! - [`receive`]: the receiver's role: a [`crate::machine::receiver::ReceiverMachine`], frames
//!   handed to `disk_worker` (the thread that owns the destination folder during a transfer).
//! - `rejoin`: taking a new connection as the same peer again (either role, on resume).
//! - [`transport`]: the [`transport::MessageOut`] seam between drivers and carriers.
//! - [`waiting`]: the receiver's waiting line for senders that arrive while it is busy.

pub mod changed;
pub mod channels;
pub mod clock;
pub mod connection;
pub mod devices;
mod disk_worker;
mod driver;
pub mod in_flight;
pub mod negotiate;
pub mod nudge;
pub mod path;
mod presence;
pub mod receive;
mod rejoin;
pub mod send;
pub mod store_window;
pub mod stripes;
pub mod transport;
pub mod waiting;

use peerdrop_proto::code::normalize_code;
use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::signal::{DeviceKind, ErrorCode, PeerId, PeerInfo};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
pub use tokio_util::sync::CancellationToken;

use crate::error::CoreError;
use crate::identity::{Identity, Trust};
use crate::lan::Multicast;
use crate::rtc::RtcSettings;
use crate::signaling::{Presentation, SignalClient, SignalError};
use crate::store::SendPlan;
use crate::tls::ClientTls;
pub use changed::{ConfirmChange, IdentityChange, OnChangedIdentity};
use devices::Pick;
pub use devices::{Device, Reach, Via};
use peerdrop_proto::send_to::SendTo;
pub use receive::{AutoAccept, Decider, Incoming};

/// Where engine events go: the CLI prints them, the app forwards them to the UI.
pub type EventSink = Arc<dyn Fn(TransferEvent) + Send + Sync>;

/// How a node joins the network.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Signaling server, `ws://host:port/ws` or `wss://host/ws`; `None` = LAN only.
    pub server_url: Option<String>,
    /// The certificate authorities a `wss://` server is checked against (read once by the
    /// front end: [`ClientTls::system`]).
    pub tls: ClientTls,
    /// Device name others see.
    pub name: String,
    /// Device kind others see.
    pub kind: DeviceKind,
    /// WebRTC tunables. `rtc.identity` is this device's persistent certificate; when it is
    /// `None`, [`Node::connect`] loads (or creates) the one in `home`.
    pub rtc: RtcSettings,
    /// Where this device's identity and pinned devices live when `rtc.identity` is `None`;
    /// the front end resolves it ([`crate::identity::home_from_vars`]).
    pub home: Option<PathBuf>,
    /// What this node does on the LAN.
    pub lan: LanRole,
}

/// What a node does on the local network (mDNS/DNS-SD and the direct LAN endpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LanRole {
    /// Nothing: no multicast, no listening port (`--no-lan`).
    Off,
    /// Looks for devices (to send to or list them) without being listed itself.
    Browse,
    /// Looks for devices and is listed: advertises itself and runs the LAN endpoint, so
    /// senders on the LAN reach it with no server.
    Discoverable,
}

/// What a finished transfer did.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferReport {
    /// Files moved and verified.
    pub files: u32,
    /// Bytes moved (including resumed bytes).
    pub bytes: u64,
    /// Seconds from accept to the last confirmation.
    pub seconds: f64,
    /// Receiver only: where each file was saved.
    pub saved: Vec<PathBuf>,
}

/// One device on the network: its identity, a registration with a server and/or a presence
/// on the LAN, and the ability to send and receive.
pub struct Node {
    server: Option<Arc<SignalClient>>,
    lan: Option<presence::LanPresence>,
    devices: watch::Receiver<Vec<Device>>,
    merge_task: tokio::task::JoinHandle<()>,
    /// Watches the pairing tag of every device pinned while running (with a server).
    pairing_task: Option<tokio::task::JoinHandle<()>>,
    /// How this device introduces itself: to the server, its own LAN endpoint and the LAN
    /// endpoints it dials.
    me: Presentation,
    rtc: RtcSettings,
    trust: Arc<Trust>,
    /// Senders held while a transfer runs ([`Node::while_busy`]).
    line: std::sync::Mutex<waiting::WaitingLine>,
}

/// What a busy receiver does with a second sender ([`Node::while_busy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenBusy {
    /// Hold it in the waiting line ([`waiting::MAX_QUEUED`], [`waiting::QUEUE_MAX_WAIT`]) and
    /// hand it out by [`Node::next_incoming`] after the running transfer: for a receiver that
    /// takes more than one transfer.
    Queue,
    /// Turn it away at once with `bye` ("busy"): for a receiver that takes only this one.
    Refuse,
}

impl Node {
    /// Loads this device's identity (and pinned devices), registers with the signaling server
    /// when there is one, and joins the LAN as `config.lan` says. With a server, a LAN that
    /// cannot be joined is logged, not fatal; with no server it is the error.
    pub async fn connect(config: NodeConfig) -> Result<Node, CoreError> {
        let mut rtc = config.rtc;
        let identity = match rtc.identity.clone() {
            Some(identity) => identity,
            None => {
                let home = config
                    .home
                    .clone()
                    .ok_or(crate::identity::IdentityError::NoHome)?;
                tokio::task::spawn_blocking(move || Identity::load_or_create(&home))
                    .await
                    .map_err(|e| {
                        CoreError::Connect(format!("loading the device identity: {e}"))
                    })??
            }
        };
        let trust = Arc::new(Trust::load(identity.clone())?);
        rtc.identity = Some(identity);
        let me = Presentation {
            name: config.name,
            kind: config.kind,
            fingerprint: trust.identity().fingerprint().to_string(),
        };
        let server = match &config.server_url {
            Some(url) => {
                let client = SignalClient::connect(url, &me, &config.tls).await?;
                // Devices pinned before are found through the server wherever they are.
                client.watch_paired(trust.pairing_watches())?;
                Some(Arc::new(client))
            }
            None => None,
        };
        let shown_code = server.as_ref().map(|s| s.code().to_string());
        let lan = match presence::LanPresence::start(config.lan, &me, shown_code).await {
            Ok(lan) => lan,
            Err(e) if server.is_some() => {
                tracing::warn!("{e}; devices on this network are reached through the server only");
                None
            }
            Err(e) => return Err(e),
        };
        if server.is_none() && lan.is_none() {
            return Err(CoreError::Connect(
                "no signaling server is configured and LAN discovery is off: nothing to connect through".into(),
            ));
        }
        let (devices, merge_task) = presence::merged_devices(server.as_deref(), lan.as_ref());
        let pairing_task = server.as_ref().map(|server| watch_new_pins(server, &trust));
        Ok(Node {
            server,
            lan,
            devices,
            merge_task,
            pairing_task,
            me,
            rtc,
            trust,
            line: Default::default(),
        })
    }

    /// This device's certificate fingerprint (what others pin).
    pub fn fingerprint(&self) -> &str {
        self.trust.identity().fingerprint()
    }

    /// This device's short code: the server's when it uses one, else its LAN endpoint's
    /// (the one its LAN record carries); empty for a node that only browses the LAN.
    pub fn code(&self) -> &str {
        match (&self.server, &self.lan) {
            (Some(server), _) => server.code(),
            (None, Some(lan)) => lan.code(),
            (None, None) => "",
        }
    }

    /// This device's id on the server (or on its own LAN endpoint when it has no server).
    pub fn id(&self) -> PeerId {
        match (&self.server, self.lan.as_ref().and_then(|l| l.own_client())) {
            (Some(server), _) => server.id(),
            (None, Some(own)) => own.id(),
            (None, None) => PeerId::nil(),
        }
    }

    /// This device's name.
    pub fn name(&self) -> &str {
        &self.me.name
    }

    /// The port of this device's LAN endpoint (what a sender types as `HOST:PORT`), when it
    /// is discoverable.
    pub fn lan_port(&self) -> Option<u16> {
        self.lan.as_ref().and_then(|l| l.port())
    }

    /// Whether multicast works here (`None` when LAN discovery is off).
    pub fn multicast(&self) -> Option<watch::Receiver<Multicast>> {
        self.lan.as_ref().map(|l| l.multicast())
    }

    /// Live list of every device in reach: LAN and server, de-duplicated by fingerprint.
    pub fn devices(&self) -> watch::Receiver<Vec<Device>> {
        self.devices.clone()
    }

    /// Finds the device holding `code` (as typed: any case, with or without the dash): on the
    /// LAN first, then through the server.
    pub async fn resolve(&self, code: &str) -> Result<Recipient, CoreError> {
        let normalized =
            normalize_code(code).ok_or_else(|| CoreError::BadCode(code.to_string()))?;
        self.find(&SendTo::Code(normalized)).await
    }

    /// Finds what a person typed after `--to`: a code, a unique device name, or `HOST:PORT`
    /// of a LAN endpoint, giving the LAN [`LAN_SEARCH_WAIT`] to answer.
    pub async fn find_typed(&self, typed: &str) -> Result<Recipient, CoreError> {
        self.find(&SendTo::parse(typed)).await
    }

    /// The recipient behind a listed device (see [`Node::devices`]).
    pub async fn recipient(&self, device: &Device) -> Result<Recipient, CoreError> {
        match &device.reach {
            Reach::Server(peer) => {
                let server = self.server.clone().ok_or_else(|| {
                    CoreError::PeerUnavailable("this device is not connected to a server".into())
                })?;
                Ok(Recipient {
                    client: server,
                    peer: peer.clone(),
                    via: device.via,
                })
            }
            Reach::Lan(endpoints) => self.dial_lan(endpoints).await,
        }
    }

    /// The recipient behind the listed device with `id` (as [`Device::peer_info`] gave it).
    pub async fn recipient_by_id(&self, id: PeerId) -> Result<Recipient, CoreError> {
        let device = self.devices.borrow().iter().find(|d| d.id == id).cloned();
        match device {
            Some(device) => self.recipient(&device).await,
            None => Err(CoreError::PeerUnavailable(
                "that device is no longer in reach".into(),
            )),
        }
    }

    async fn find(&self, wanted: &SendTo) -> Result<Recipient, CoreError> {
        if let SendTo::Address(address) = wanted {
            let endpoints = lookup(address).await?;
            return self.dial_lan(&endpoints).await;
        }
        // A code the server knows is found at once; the LAN is given its search time to answer.
        if let (SendTo::Code(code), Some(server)) = (wanted, &self.server) {
            // Only LAN devices carry codes in the list, so this is a LAN device heard already.
            let heard = devices::pick(&self.devices.borrow(), wanted);
            if let Pick::One(device) = heard {
                return self.recipient(&device).await;
            }
            match server.resolve(code).await {
                Ok(peer) => {
                    return Ok(Recipient {
                        client: server.clone(),
                        peer,
                        via: Via::Server,
                    })
                }
                Err(SignalError::Refused {
                    code: ErrorCode::UnknownCode,
                    ..
                }) if self.lan.is_none() => {
                    return Err(CoreError::PeerUnavailable(format!(
                        "no device is online with code {code}"
                    )))
                }
                Err(SignalError::Refused {
                    code: ErrorCode::UnknownCode,
                    ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut devices = self.devices.clone();
        // Without the LAN, only the server's nearby list can hold a name: it arrives with the
        // welcome, so there is nothing to wait for.
        let wait = if self.lan.is_some() {
            LAN_SEARCH_WAIT
        } else {
            SERVER_LIST_WAIT
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Picked before any await: the list's read guard must not be held across one.
            let picked = devices::pick(&devices.borrow_and_update(), wanted);
            match picked {
                Pick::One(device) => return self.recipient(&device).await,
                Pick::Ambiguous(names) => {
                    return Err(CoreError::AmbiguousName {
                        name: match wanted {
                            SendTo::Name(n) => n.clone(),
                            _ => String::new(),
                        },
                        matches: names,
                    })
                }
                Pick::None => {}
            }
            if tokio::time::timeout_at(deadline, devices.changed())
                .await
                .is_err()
            {
                break;
            }
        }
        if let (SendTo::Name(name), None) = (wanted, &self.lan) {
            return Err(CoreError::BadCode(name.clone()));
        }
        Err(CoreError::NotFound {
            wanted: wanted.clone(),
            lan: self.lan.is_some(),
            multicast_blocked: self
                .multicast()
                .is_some_and(|m| *m.borrow() == Multicast::Blocked),
            server: self.server.is_some(),
        })
    }

    /// Connects to a LAN endpoint (first address that answers) and finds its owner.
    async fn dial_lan(&self, endpoints: &[SocketAddr]) -> Result<Recipient, CoreError> {
        let mut last = None;
        for endpoint in endpoints {
            match presence::dial(*endpoint, &self.me).await {
                Ok((client, peer)) => {
                    return Ok(Recipient {
                        client: Arc::new(client),
                        peer,
                        via: Via::Lan,
                    })
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            CoreError::PeerUnavailable("the device published no address to connect to".into())
        }))
    }

    /// The next sender that wants to connect: the first one held in the waiting line
    /// ([`Node::while_busy`]), else the next to offer, through the server or the LAN.
    pub async fn next_incoming(&self) -> Result<Incoming, CoreError> {
        let held = self.line.lock().expect("waiting line lock").pop();
        let (offer, client) = match held {
            Some(held) => (held.offer, held.client),
            None => self
                .next_offer()
                .await
                .ok_or(crate::signaling::SignalError::Disconnected)?,
        };
        Ok(Incoming::new(
            offer,
            client,
            self.rtc.clone(),
            self.trust.clone(),
        ))
    }

    /// Runs `busy` (a transfer being received) and meanwhile deals with other senders as
    /// `when` says: held in the waiting line and told their place (`queued`) every
    /// [`waiting::QUEUED_REFRESH`], or turned away. The sender of the running transfer is not
    /// affected: its new offers (to resume) go to the transfer.
    pub async fn while_busy<F: std::future::Future>(&self, busy: F, when: WhenBusy) -> F::Output {
        tokio::pin!(busy);
        if when == WhenBusy::Queue {
            let line = self.line.lock().expect("waiting line lock");
            line.tell_all();
        } else {
            self.line
                .lock()
                .expect("waiting line lock")
                .clear(waiting::BUSY);
        }
        let mut check = tokio::time::interval(waiting::CHECK_EVERY);
        let mut last_told = tokio::time::Instant::now();
        let mut offers_open = true;
        loop {
            tokio::select! {
                out = &mut busy => return out,
                got = self.next_offer(), if offers_open => match got {
                    Some((offer, client)) if when == WhenBusy::Queue => {
                        self.line.lock().expect("waiting line lock").push(offer, client);
                    }
                    Some((offer, _)) => waiting::turn_away(&offer, waiting::BUSY),
                    None => offers_open = false,
                },
                _ = check.tick() => {
                    let mut line = self.line.lock().expect("waiting line lock");
                    line.prune();
                    if last_told.elapsed() >= waiting::QUEUED_REFRESH {
                        line.tell_all();
                        last_told = tokio::time::Instant::now();
                    }
                }
            }
        }
    }

    /// How many senders wait in line now.
    pub fn waiting(&self) -> usize {
        self.line.lock().expect("waiting line lock").len()
    }

    /// Turns away every sender waiting in line (the receiver stops taking transfers).
    pub fn refuse_waiting(&self, reason: &str) {
        self.line.lock().expect("waiting line lock").clear(reason);
    }

    /// The next new offer through the server or this device's LAN endpoint.
    async fn next_offer(&self) -> Option<(crate::signaling::IncomingOffer, Arc<SignalClient>)> {
        let own_lan = self.lan.as_ref().and_then(|l| l.own_client());
        let next = |client: Option<Arc<SignalClient>>| async move {
            match client {
                Some(client) => client.next_offer().await.map(|offer| (offer, client)),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            got = next(self.server.clone()) => got,
            got = next(own_lan) => got,
        }
    }

    /// Sends `plan` to `to`, reporting on `events`, until done, declined, failed or cancelled.
    /// `on_changed` decides what happens when `to` is not the device pinned under its name.
    /// While a busy receiver holds this offer in its waiting line ([`waiting`]), each of its
    /// reports is a [`TransferEvent::Queued`].
    pub async fn send(
        &self,
        to: &Recipient,
        plan: SendPlan,
        events: EventSink,
        cancel: CancellationToken,
        on_changed: &OnChangedIdentity,
    ) -> Result<TransferReport, CoreError> {
        let mut queued = to.client.watch_queued(to.peer.id);
        let send = self.send_now(to, plan, events.clone(), cancel, on_changed);
        tokio::pin!(send);
        loop {
            tokio::select! {
                out = &mut send => return out,
                Some(position) = queued.next() => events(TransferEvent::Queued { position }),
            }
        }
    }

    /// [`Node::send`] without listening for the receiver's waiting line.
    async fn send_now(
        &self,
        to: &Recipient,
        plan: SendPlan,
        events: EventSink,
        cancel: CancellationToken,
        on_changed: &OnChangedIdentity,
    ) -> Result<TransferReport, CoreError> {
        send::send(
            send::SendContext {
                client: &to.client,
                rtc: &self.rtc,
                trust: &self.trust,
                on_changed,
            },
            &to.peer,
            plan,
            events,
            cancel,
        )
        .await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.merge_task.abort();
        if let Some(task) = &self.pairing_task {
            task.abort();
        }
    }
}

/// Re-sends the server the pairing tags whenever a device is pinned, so a device verified
/// during this run is found by pairing from then on, not only after a restart. Pins made
/// within [`PIN_COALESCE`] of each other go in one `watch` (the server budgets them).
fn watch_new_pins(server: &Arc<SignalClient>, trust: &Arc<Trust>) -> tokio::task::JoinHandle<()> {
    let (server, trust) = (Arc::downgrade(server), Arc::clone(trust));
    let mut pins = trust.pins_changed();
    tokio::spawn(async move {
        while pins.changed().await.is_ok() {
            tokio::time::sleep(PIN_COALESCE).await;
            pins.borrow_and_update();
            let Some(server) = server.upgrade() else {
                return;
            };
            if server.watch_paired(trust.pairing_watches()).is_err() {
                return;
            }
        }
    })
}

/// How long a search by code or name waits for the LAN to answer. mDNS answers within
/// milliseconds on a LAN; a device that has just started may take a second to announce.
pub const LAN_SEARCH_WAIT: Duration = Duration::from_secs(5);

/// How long a node waits after a new pin before re-sending its pairing tags, so that several
/// pins in a row cost one `watch`.
const PIN_COALESCE: Duration = Duration::from_millis(250);

/// How long a search with no LAN waits for the server's nearby list.
const SERVER_LIST_WAIT: Duration = Duration::from_secs(1);

/// A device found and ready to signal: the signaling connection that reaches it and who it
/// is there.
pub struct Recipient {
    client: Arc<SignalClient>,
    peer: PeerInfo,
    via: Via,
}

impl Recipient {
    /// The device as its signaling connection knows it.
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    /// How it is reached.
    pub fn via(&self) -> Via {
        self.via
    }
}

/// Resolves `HOST:PORT` (an IP literal or a name) to socket addresses, IPv4 first.
async fn lookup(address: &str) -> Result<Vec<SocketAddr>, CoreError> {
    let unreachable =
        |reason: String| CoreError::PeerUnavailable(format!("cannot reach {address}: {reason}"));
    let mut found: Vec<SocketAddr> = tokio::net::lookup_host(address)
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .collect();
    found.sort_by_key(|a| a.is_ipv6());
    if found.is_empty() {
        return Err(unreachable("no address".into()));
    }
    Ok(found)
}
