//! The async drivers that run the pure machines of [`crate::machine`] over real sockets,
//! data channels and disks, and the [`Node`] facade front ends use.
//!
//! - [`connection`]: WebRTC setup over a signaling session (offerer/answerer) and upkeep.
//! - [`channels`]: one pump per data channel, bounded queues for backpressure.
//! - [`send`]: streams files (reader thread → frames → data channel) for a [`crate::machine::sender::SenderMachine`].
//! - [`receive`]: writes frames through a disk worker thread for a [`crate::machine::receiver::ReceiverMachine`].
//! - [`progress`]: speed and ETA.
//! - [`transport`]: the [`transport::MessageOut`] seam between drivers and carriers.

pub mod channels;
pub mod connection;
pub mod in_flight;
pub mod negotiate;
pub mod nudge;
pub mod path;
pub mod progress;
pub mod receive;
pub mod send;
pub mod store_window;
pub mod stripes;
pub mod transport;

use peerdrop_proto::code::normalize_code;
use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::signal::{DeviceKind, PeerId, PeerInfo};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;
pub use tokio_util::sync::CancellationToken;

use crate::error::CoreError;
use crate::identity::{Identity, Trust};
use crate::rtc::RtcSettings;
use crate::signaling::SignalClient;
use crate::store::SendPlan;
use crate::tls::ClientTls;
pub use receive::{AutoAccept, Decider, Incoming};

/// Where engine events go: the CLI prints them, the app forwards them to the UI.
pub type EventSink = Arc<dyn Fn(TransferEvent) + Send + Sync>;

/// How a node joins the network.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Signaling server, `ws://host:port/ws` or `wss://host/ws`.
    pub server_url: String,
    /// The certificate authorities a `wss://` server is checked against (read once by the
    /// front end: [`ClientTls::system`]).
    pub tls: ClientTls,
    /// Device name others see.
    pub name: String,
    /// Device kind others see.
    pub kind: DeviceKind,
    /// WebRTC tunables. `rtc.identity` is this device's persistent certificate; when it is
    /// `None`, [`Node::connect`] loads (or creates) the one in [`crate::identity::default_home`].
    pub rtc: RtcSettings,
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

/// One device on the network: a signaling registration plus the ability to send and receive.
pub struct Node {
    client: Arc<SignalClient>,
    rtc: RtcSettings,
    trust: Arc<Trust>,
}

impl Node {
    /// Loads this device's identity (and pinned devices), then registers with the signaling
    /// server.
    pub async fn connect(config: NodeConfig) -> Result<Node, CoreError> {
        let mut rtc = config.rtc;
        let identity = match rtc.identity.clone() {
            Some(identity) => identity,
            None => tokio::task::spawn_blocking(Identity::load_default)
                .await
                .map_err(|e| CoreError::Connect(format!("loading the device identity: {e}")))??,
        };
        let trust = Arc::new(Trust::load(identity.clone())?);
        rtc.identity = Some(identity);
        let client =
            SignalClient::connect(&config.server_url, &config.name, config.kind, &config.tls)
                .await?;
        Ok(Node {
            client: Arc::new(client),
            rtc,
            trust,
        })
    }

    /// This device's certificate fingerprint (what others pin).
    pub fn fingerprint(&self) -> &str {
        self.trust.identity().fingerprint()
    }

    /// This device's short code.
    pub fn code(&self) -> &str {
        self.client.code()
    }

    /// This device's id.
    pub fn id(&self) -> PeerId {
        self.client.id()
    }

    /// This device's name.
    pub fn name(&self) -> &str {
        self.client.name()
    }

    /// Live list of nearby devices.
    pub fn nearby(&self) -> watch::Receiver<Vec<PeerInfo>> {
        self.client.nearby()
    }

    /// Finds the device holding `code` (as typed: any case, with or without the dash).
    pub async fn resolve(&self, code: &str) -> Result<PeerInfo, CoreError> {
        let normalized =
            normalize_code(code).ok_or_else(|| CoreError::BadCode(code.to_string()))?;
        match self.client.resolve(&normalized).await {
            Ok(peer) => Ok(peer),
            Err(crate::signaling::SignalError::Refused {
                code: peerdrop_proto::signal::ErrorCode::UnknownCode,
                ..
            }) => Err(CoreError::PeerUnavailable(format!(
                "no device is online with code {normalized}"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits for the next sender that wants to connect.
    pub async fn next_incoming(&self) -> Result<Incoming, CoreError> {
        let offer = self
            .client
            .next_offer()
            .await
            .ok_or(crate::signaling::SignalError::Disconnected)?;
        Ok(Incoming::new(
            offer,
            self.client.clone(),
            self.rtc.clone(),
            self.trust.clone(),
        ))
    }

    /// Sends `plan` to `to`, reporting on `events`, until done, declined, failed or cancelled.
    pub async fn send(
        &self,
        to: &PeerInfo,
        plan: SendPlan,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Result<TransferReport, CoreError> {
        send::send(
            &self.client,
            &self.rtc,
            &self.trust,
            to,
            plan,
            events,
            cancel,
        )
        .await
    }
}
