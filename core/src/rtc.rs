//! Building a WebRTC peer connection with PeerDrop's settings, and surfacing its callbacks
//! as a stream of [`RtcEvent`]s the engine can `select!` on.

use peerdrop_proto::signal::IceServer;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use webrtc::data_channel::DataChannel;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceGatheringState, RTCIceServer, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, SettingEngineBuilder,
};

/// Tunables for a peer connection. The defaults are what the benchmarks found fastest.
#[derive(Clone, Debug)]
pub struct RtcSettings {
    /// Local UDP addresses to bind. `0.0.0.0:0` means every non-loopback interface; tests and
    /// single-machine setups use `127.0.0.1:0`. Overridable with `PEERDROP_BIND`.
    pub udp_bind: Vec<String>,
    /// SCTP receive window. The 1 MiB default caps a data channel at a few tens of MB/s.
    pub sctp_receive_buffer: u32,
    /// Per-channel send buffer; `send` blocks above it, which is the sender's backpressure.
    pub send_buffer_limit: usize,
    /// This device's persistent DTLS certificate ([`crate::identity`]); `None` lets the
    /// WebRTC stack generate a throw-away one per connection (no pinning possible).
    pub identity: Option<crate::identity::Identity>,
    /// SCTP packet size budget; `None` keeps the crate's conservative default (1191 bytes,
    /// safe for TURN over IPv6).
    pub sctp_mtu: Option<u32>,
    /// Data channels the sender opens and stripes frames over.
    pub data_channels: usize,
    /// Size of the dedicated reactor thread pool for connection drivers (0 = share tokio's).
    pub reactor_pool: usize,
}

/// How often ICE connectivity checks are sent while connecting.
const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(25);

/// Reads a tuning knob from the environment (benchmarks use these to compare settings).
fn env_knob<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

impl Default for RtcSettings {
    fn default() -> Self {
        let udp_bind = match std::env::var("PEERDROP_BIND") {
            Ok(list) if !list.trim().is_empty() => {
                list.split(',').map(|s| s.trim().to_string()).collect()
            }
            _ => vec!["0.0.0.0:0".to_string()],
        };
        Self {
            udp_bind,
            sctp_receive_buffer: env_knob("PEERDROP_SCTP_RECV_BUF").unwrap_or(16 * 1024 * 1024),
            send_buffer_limit: env_knob("PEERDROP_SEND_BUF").unwrap_or(4 * 1024 * 1024),
            sctp_mtu: env_knob("PEERDROP_SCTP_MTU"),
            data_channels: env_knob("PEERDROP_DATA_CHANNELS").unwrap_or(1),
            reactor_pool: env_knob("PEERDROP_REACTORS").unwrap_or(0),
            identity: None,
        }
    }
}

/// What a peer connection reports, in the order it happened.
#[derive(Clone)]
pub enum RtcEvent {
    /// A local ICE candidate to trickle to the peer.
    LocalCandidate(RTCIceCandidateInit),
    /// Candidate gathering finished.
    GatheringComplete,
    /// Overall connection state changed.
    State(RTCPeerConnectionState),
    /// The remote side opened a data channel.
    DataChannel(Arc<dyn DataChannel>),
}

impl std::fmt::Debug for RtcEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RtcEvent::LocalCandidate(c) => write!(f, "LocalCandidate({})", c.candidate),
            RtcEvent::GatheringComplete => write!(f, "GatheringComplete"),
            RtcEvent::State(s) => write!(f, "State({s})"),
            RtcEvent::DataChannel(_) => write!(f, "DataChannel"),
        }
    }
}

struct Forwarder {
    events: mpsc::UnboundedSender<RtcEvent>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Forwarder {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => {
                let _ = self.events.send(RtcEvent::LocalCandidate(init));
            }
            Err(e) => tracing::warn!("cannot serialise local candidate: {e}"),
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.events.send(RtcEvent::GatheringComplete);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!("peer connection state: {state}");
        let _ = self.events.send(RtcEvent::State(state));
    }

    async fn on_data_channel(&self, data_channel: Arc<dyn DataChannel>) {
        let _ = self.events.send(RtcEvent::DataChannel(data_channel));
    }
}

/// Converts the server's ICE server list to the `webrtc` crate's form, dropping URLs the crate
/// cannot use (TURN over TCP/TLS) so they never stall gathering.
pub fn to_rtc_ice_servers(servers: &[IceServer]) -> Vec<RTCIceServer> {
    servers
        .iter()
        .filter_map(|s| {
            let urls: Vec<String> = s
                .urls
                .iter()
                .filter(|u| !u.starts_with("turns:") && !u.contains("transport=tcp"))
                .cloned()
                .collect();
            (!urls.is_empty()).then(|| RTCIceServer {
                urls,
                username: s.username.clone().unwrap_or_default(),
                credential: s.credential.clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// Builds a peer connection and the stream of its events.
pub async fn build_peer_connection(
    ice_servers: &[IceServer],
    settings: &RtcSettings,
) -> Result<(Arc<dyn PeerConnection>, mpsc::UnboundedReceiver<RtcEvent>), webrtc::error::Error> {
    let (events, rx) = mpsc::unbounded_channel();
    let mut setting_engine = SettingEngineBuilder::new()
        .with_sctp_max_receive_buffer_size(settings.sctp_receive_buffer)
        .with_include_loopback_candidate(settings.udp_bind.iter().any(|a| a.starts_with("127.")))
        // Pace connectivity checks at 25 ms instead of 200 ms and accept a working direct pair
        // at once: this is most of the difference between a ~700 ms and a ~100 ms connect.
        .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), None)
        .with_host_acceptance_min_wait(Some(Duration::ZERO))
        .with_prflx_acceptance_min_wait(Some(Duration::ZERO));
    if let Some(mtu) = settings.sctp_mtu {
        setting_engine = setting_engine.with_sctp_mtu(mtu);
    }
    let setting_engine = setting_engine.build();
    let mut config =
        RTCConfigurationBuilder::new().with_ice_servers(to_rtc_ice_servers(ice_servers));
    if let Some(identity) = &settings.identity {
        config = config.with_certificates(vec![identity.certificate().clone()]);
    }
    let config = config.build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(config)
        .with_setting_engine(setting_engine)
        .with_handler(Arc::new(Forwarder { events }))
        .with_udp_addrs(settings.udp_bind.clone())
        .with_data_channel_send_buffer_limit(settings.send_buffer_limit)
        .with_dedicated_reactor_pool_size(settings.reactor_pool)
        .build()
        .await?;
    Ok((Arc::new(pc), rx))
}
