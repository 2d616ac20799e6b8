//! Building a WebRTC peer connection with PeerDrop's settings, and surfacing its callbacks
//! as a stream of [`RtcEvent`]s the engine can `select!` on.

pub mod held_bytes;
mod sockets;

use peerdrop_proto::signal::{IceServer, DEFAULT_MAX_PACKET};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::peer_connection::configuration::setting_engine::SctpMaxMessageSize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use webrtc::data_channel::DataChannel;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceGatheringState, RTCIceServer, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, SettingEngineBuilder,
};

use crate::vars::{parsed, Vars};

/// Tunables for a peer connection. The defaults are what the benchmarks found fastest.
#[derive(Clone, Debug)]
pub struct RtcSettings {
    /// Local UDP addresses to bind. `0.0.0.0:0` means every non-loopback interface; tests and
    /// single-machine setups use `127.0.0.1:0` (`PEERDROP_BIND`, [`RtcSettings::from_vars`]).
    pub udp_bind: Vec<String>,
    /// SCTP receive window (bytes the peer may send before this side reads them). 4 MiB: twice
    /// the send buffer, so it never limits a sender; larger windows only let a receiver whose
    /// disk lags hold more (16 MiB put a 1 GiB receive at 80 MiB peak RSS, 4 MiB at 56 MiB).
    pub sctp_receive_buffer: u32,
    /// Per-channel send buffer; `send` blocks above it, which is the sender's backpressure.
    /// It also bounds the bytes in flight: `rtc-sctp` does not pace, so whatever is buffered
    /// may leave in one burst, and a burst larger than the receiver's UDP socket buffer is
    /// dropped by its kernel (then retransmitted, with the congestion window halved). 2 MiB
    /// measured fastest on loopback (docs/BENCHMARKS.md) and keeps the sender's memory low.
    pub send_buffer_limit: usize,
    /// Whether the sender caps the bytes in flight at the path's bandwidth-delay product
    /// ([`crate::engine::in_flight`]); `PEERDROP_IN_FLIGHT_CAP=0` turns it off (benchmarks).
    pub cap_in_flight: bool,
    /// This device's persistent DTLS certificate ([`crate::identity`]); `None` lets the
    /// WebRTC stack generate a throw-away one per connection (no pinning possible).
    pub identity: Option<crate::identity::Identity>,
    /// SCTP packet size budget (`PEERDROP_SCTP_MTU`); `None` chooses per connection from the
    /// path and what the peer says it takes ([`sctp_mtu_for`]): the crate's conservative
    /// default (1191 bytes, safe for TURN over IPv6) unless both allow more.
    pub sctp_mtu: Option<u32>,
    /// Largest message this peer accepts, advertised as the SDP `max-message-size`: a sender
    /// sizes its data frames to what both peers advertise
    /// ([`peerdrop_proto::transfer::data_payload_budget`]). `PEERDROP_MAX_MESSAGE` lowers it
    /// (tests play an older peer with it).
    pub max_message_bytes: u32,
    /// Data channels the sender opens on the main connection and deals frames over.
    pub data_channels: usize,
    /// Peer connections a direct transfer runs on, the main one included: each further one
    /// is a "stripe" ([`crate::engine::stripes`]) with its own SCTP association, because one
    /// association is bound by its driver's per-packet latency, not by CPU or path.
    pub stripes: usize,
    /// Size of the dedicated reactor thread pool for connection drivers (0 = share tokio's).
    pub reactor_pool: usize,
    /// When the Noise relay through the signaling server replaces a WebRTC connection that
    /// does not come up.
    pub fallback: crate::fallback::FallbackPolicy,
    /// Kernel UDP socket buffer (`SO_RCVBUF`/`SO_SNDBUF`) requested for every socket of a
    /// peer connection, bytes; 0 keeps the system default. See [`sockets`] for why.
    pub udp_socket_buffer: usize,
}

/// Requested UDP socket buffer: 8 MiB (Linux grants up to `net.core.rmem_max`, often 4 MiB
/// or 208 KiB; macOS and Windows grant it as asked).
const DEFAULT_UDP_SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// Peer connections per direct transfer (see [`RtcSettings::stripes`]). One: on the 2-core
/// machines measured here a transfer is CPU-bound (sender and receiver share the cores), and a
/// second association gained nothing (docs/BENCHMARKS.md); `PEERDROP_STRIPES` turns them on
/// where each peer has cores to spare.
pub const DEFAULT_STRIPES: usize = 1;

/// How often ICE connectivity checks are sent while connecting.
const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(25);

impl Default for RtcSettings {
    /// The settings the benchmarks found fastest, with no knob applied.
    fn default() -> Self {
        Self {
            udp_bind: vec!["0.0.0.0:0".to_string()],
            sctp_receive_buffer: 4 * 1024 * 1024,
            send_buffer_limit: 2 * 1024 * 1024,
            cap_in_flight: true,
            sctp_mtu: None,
            max_message_bytes: peerdrop_proto::transfer::MAX_DATA_FRAME_BYTES as u32,
            data_channels: 1,
            stripes: DEFAULT_STRIPES,
            reactor_pool: 0,
            udp_socket_buffer: DEFAULT_UDP_SOCKET_BUFFER,
            fallback: crate::fallback::FallbackPolicy::default(),
            identity: None,
        }
    }
}

impl RtcSettings {
    /// The defaults with the `PEERDROP_*` tuning knobs of `vars` applied (benchmarks and tests
    /// compare settings with them; the front ends pass the process environment, read once):
    /// `PEERDROP_BIND` (comma-separated), `PEERDROP_SCTP_RECV_BUF`, `PEERDROP_SEND_BUF`,
    /// `PEERDROP_IN_FLIGHT_CAP=0`, `PEERDROP_SCTP_MTU`, `PEERDROP_MAX_MESSAGE`,
    /// `PEERDROP_DATA_CHANNELS`, `PEERDROP_STRIPES`, `PEERDROP_REACTORS`, `PEERDROP_UDP_BUF`,
    /// and the fallback's ([`crate::fallback::FallbackPolicy::from_vars`]).
    pub fn from_vars(vars: Vars<'_>) -> Self {
        let defaults = Self::default();
        let udp_bind = match vars("PEERDROP_BIND") {
            Some(list) if !list.trim().is_empty() => {
                list.split(',').map(|s| s.trim().to_string()).collect()
            }
            _ => defaults.udp_bind.clone(),
        };
        Self {
            udp_bind,
            sctp_receive_buffer: parsed(vars, "PEERDROP_SCTP_RECV_BUF")
                .unwrap_or(defaults.sctp_receive_buffer),
            send_buffer_limit: parsed(vars, "PEERDROP_SEND_BUF")
                .unwrap_or(defaults.send_buffer_limit),
            cap_in_flight: parsed::<u8>(vars, "PEERDROP_IN_FLIGHT_CAP").is_none_or(|v| v != 0),
            sctp_mtu: parsed(vars, "PEERDROP_SCTP_MTU"),
            max_message_bytes: parsed(vars, "PEERDROP_MAX_MESSAGE")
                .unwrap_or(defaults.max_message_bytes),
            data_channels: parsed(vars, "PEERDROP_DATA_CHANNELS").unwrap_or(defaults.data_channels),
            stripes: parsed(vars, "PEERDROP_STRIPES").unwrap_or(defaults.stripes),
            reactor_pool: parsed(vars, "PEERDROP_REACTORS").unwrap_or(defaults.reactor_pool),
            udp_socket_buffer: parsed(vars, "PEERDROP_UDP_BUF")
                .unwrap_or(defaults.udp_socket_buffer),
            fallback: crate::fallback::FallbackPolicy::from_vars(vars),
            identity: None,
        }
    }
}

/// How ICE treats mDNS (`.local`) candidates on this host right now.
///
/// The WebRTC stack joins the multicast group 224.0.0.251 for every connection and aborts the
/// whole connection when it cannot (ENODEV on a LAN with no default route or multicast route:
/// a direct cable, an offline hotspot). A connection must never depend on multicast: when the
/// same socket cannot be opened here, mDNS is turned off for this connection and ICE goes on
/// with host and server-reflexive candidates. The probe is the stack's own socket builder, so
/// it fails exactly when the stack would.
fn ice_multicast_dns_mode() -> MulticastDnsMode {
    match rtc::mdns::MulticastSocket::new().into_std() {
        Ok(_probe) => MulticastDnsMode::QueryOnly,
        Err(e) => {
            tracing::info!("mDNS candidates off for this connection (multicast unavailable: {e})");
            MulticastDnsMode::Disabled
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
    /// The peer made this side hold more than [`held_bytes::HeldBytesBound`] allows; the
    /// connection is being closed. The string is the reason to show.
    PeerOverran(String),
}

impl std::fmt::Debug for RtcEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RtcEvent::LocalCandidate(c) => write!(f, "LocalCandidate({})", c.candidate),
            RtcEvent::GatheringComplete => write!(f, "GatheringComplete"),
            RtcEvent::State(s) => write!(f, "State({s})"),
            RtcEvent::DataChannel(_) => write!(f, "DataChannel"),
            RtcEvent::PeerOverran(why) => write!(f, "PeerOverran({why})"),
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

/// SCTP packet budget on a path that never leaves this machine. Loopback carries 64 KiB
/// datagrams (macOS: 9216 bytes by default), and every packet costs a DTLS record, an
/// AES-GCM pass, a CRC32c and a trip through `webrtc`'s driver whatever its size, so fewer,
/// larger packets move more bytes per CPU second (1 GiB on loopback: 1400 → 16,000 bytes took
/// ≈ 4.6 s → ≈ 3.0 s; docs/BENCHMARKS.md). 16,000 keeps a packet inside one DTLS record
/// (2^14 bytes of plaintext at most); [`sockets`] makes sure the receive buffers hold one.
#[cfg(not(target_os = "macos"))]
pub const LOOPBACK_SCTP_MTU: u32 = 16_000;

/// SCTP packet budget on a path that never leaves this machine, on macOS: its loopback
/// refuses UDP datagrams above `net.inet.udp.maxdgram` (9216 bytes by default), so the
/// packet plus its 37-byte DTLS record stays below that.
#[cfg(target_os = "macos")]
pub const LOOPBACK_SCTP_MTU: u32 = 9_000;

/// The largest SCTP packet this device receives, which it says in its signaling `hello`
/// ([`peerdrop_proto::signal::ClientMsg::Hello`]'s `max_packet`) so that a peer on this
/// machine may send it [`LOOPBACK_SCTP_MTU`]-byte packets: every socket of a PeerDrop
/// connection holds a whole [`sockets::MAX_DATAGRAM`] per receive, and the packet fits one
/// DTLS record.
pub const MAX_PACKET_RECEIVED: u32 = LOOPBACK_SCTP_MTU;

/// Whether every socket binds a loopback address, so every candidate (and therefore the
/// selected pair) is on this machine.
pub(crate) fn loopback_only(udp_bind: &[String]) -> bool {
    !udp_bind.is_empty()
        && udp_bind.iter().all(|a| {
            a.parse::<std::net::SocketAddr>()
                .is_ok_and(|addr| addr.ip().is_loopback())
        })
}

/// The SCTP packet budget for a connection to a peer that says it receives packets of up to
/// `peer_max_packet` bytes (`None`: it said nothing). An explicit `sctp_mtu` wins. Otherwise
/// the crate's 1191 bytes ([`DEFAULT_MAX_PACKET`]), which fit every path including 1280-MTU
/// tunnels (WireGuard, Tailscale, TURN over IPv6): a larger packet on such a path is dropped
/// every time it is retransmitted and the transfer stalls, and "nothing lost" outranks speed.
///
/// Larger packets need two things at once. The *path* must carry them: every socket binds
/// loopback and there is no TURN server to bounce through, so the bytes cannot leave the
/// machine. And the *peer* must take them: loopback carries 64 KiB datagrams, but the WebRTC
/// stack at the other end reads into buffers of its own size (aiortc takes 1500 bytes of
/// DTLS plaintext per datagram, libwebrtc 2048), and a packet it cannot take is lost on every
/// retransmission. So the budget is then [`LOOPBACK_SCTP_MTU`] capped at what the peer said
/// it takes, and the default when it said nothing (older peers, other implementations).
///
/// Why the peer says it in its signaling `hello` (passed on by the server in its
/// [`PeerInfo`](peerdrop_proto::signal::PeerInfo)) and not in the SDP: `webrtc` fixes the
/// SCTP packet size when the peer connection is built, and the offerer (the sender, which
/// sends nearly every byte) builds its connection to write the offer, before any answer
/// exists. The `hello` is the one thing the offerer knows of its peer beforehand (from
/// `nearby` or `resolved`); the answerer reads the same claim of the offerer from the
/// `signal` that carries the offer, so both directions follow one rule. The claim is
/// unverified, like the fingerprint beside it: a server that lies can only make a
/// connection fail, which it can anyway. Claims below the default do not lower it.
fn sctp_mtu_for(
    settings: &RtcSettings,
    ice_servers: &[IceServer],
    peer_max_packet: Option<u32>,
) -> Option<u32> {
    if settings.sctp_mtu.is_some() {
        return settings.sctp_mtu;
    }
    let turn = ice_servers
        .iter()
        .flat_map(|s| &s.urls)
        .any(|u| u.starts_with("turn"));
    let peer_takes = peer_max_packet.filter(|&max| max > DEFAULT_MAX_PACKET)?;
    (loopback_only(&settings.udp_bind) && !turn).then_some(LOOPBACK_SCTP_MTU.min(peer_takes))
}

/// Builds a peer connection to a peer that receives SCTP packets of up to
/// `peer_max_packet` bytes (its [`PeerInfo::max_packet`](peerdrop_proto::signal::PeerInfo),
/// see [`sctp_mtu_for`]), and the stream of its events.
pub async fn build_peer_connection(
    ice_servers: &[IceServer],
    settings: &RtcSettings,
    peer_max_packet: Option<u32>,
) -> Result<(Arc<dyn PeerConnection>, mpsc::UnboundedReceiver<RtcEvent>), webrtc::error::Error> {
    let (events, rx) = mpsc::unbounded_channel();
    let mut setting_engine = SettingEngineBuilder::new()
        .with_sctp_max_receive_buffer_size(settings.sctp_receive_buffer)
        .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(settings.max_message_bytes))
        .with_include_loopback_candidate(settings.udp_bind.iter().any(|a| a.starts_with("127.")))
        .with_multicast_dns_mode(ice_multicast_dns_mode())
        // Pace connectivity checks at 25 ms instead of 200 ms and accept a working direct pair
        // at once: this is most of the difference between a ~700 ms and a ~100 ms connect.
        .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), None)
        .with_host_acceptance_min_wait(Some(Duration::ZERO))
        .with_prflx_acceptance_min_wait(Some(Duration::ZERO));
    let sctp_mtu = sctp_mtu_for(settings, ice_servers, peer_max_packet);
    tracing::debug!(
        sctp_mtu = sctp_mtu.unwrap_or(DEFAULT_MAX_PACKET),
        peer_max_packet,
        "SCTP packet budget"
    );
    if let Some(mtu) = sctp_mtu {
        setting_engine = setting_engine.with_sctp_mtu(mtu);
    }
    let setting_engine = setting_engine.build();
    let mut config =
        RTCConfigurationBuilder::new().with_ice_servers(to_rtc_ice_servers(ice_servers));
    if let Some(identity) = &settings.identity {
        config = config.with_certificates(vec![identity.certificate().clone()]);
    }
    let config = config.build();
    let mut builder = PeerConnectionBuilder::new();
    if let Some(runtime) = sockets::BufferedUdpRuntime::new(settings.udp_socket_buffer) {
        builder = builder.with_runtime(Arc::new(runtime));
    }
    let pc = builder
        .with_configuration(config)
        .with_setting_engine(setting_engine)
        .with_handler(Arc::new(Forwarder {
            events: events.clone(),
        }))
        .with_udp_addrs(settings.udp_bind.clone())
        .with_data_channel_send_buffer_limit(settings.send_buffer_limit)
        .with_dedicated_reactor_pool_size(settings.reactor_pool)
        .build()
        .await?;
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);
    held_bytes::watch(&pc, events, settings.sctp_receive_buffer);
    Ok((pc, rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(bind: &[&str], mtu: Option<u32>) -> RtcSettings {
        RtcSettings {
            udp_bind: bind.iter().map(|s| s.to_string()).collect(),
            sctp_mtu: mtu,
            ..RtcSettings::default()
        }
    }

    fn server(url: &str) -> IceServer {
        IceServer {
            urls: vec![url.into()],
            username: None,
            credential: None,
        }
    }

    #[test]
    fn knobs_apply_over_the_defaults_and_nothing_else_is_read() {
        let plain = RtcSettings::from_vars(&crate::vars::none);
        assert_eq!(plain.udp_bind, vec!["0.0.0.0:0".to_string()]);
        assert!(plain.cap_in_flight);
        assert_eq!(plain.stripes, DEFAULT_STRIPES);
        let tuned = RtcSettings::from_vars(&crate::vars::from_pairs(&[
            ("PEERDROP_BIND", "127.0.0.1:0, 127.0.0.2:0"),
            ("PEERDROP_IN_FLIGHT_CAP", "0"),
            ("PEERDROP_MAX_MESSAGE", "65536"),
            ("PEERDROP_STRIPES", "two"),
            ("PEERDROP_FALLBACK", "off"),
        ]));
        assert_eq!(tuned.udp_bind, vec!["127.0.0.1:0", "127.0.0.2:0"]);
        assert!(!tuned.cap_in_flight);
        assert_eq!(tuned.max_message_bytes, 65536);
        assert_eq!(tuned.stripes, DEFAULT_STRIPES, "unparsable: the default");
        assert!(!tuned.fallback.enabled);
    }

    #[test]
    fn larger_sctp_packets_only_where_bytes_cannot_leave_the_machine() {
        let peerdrop = Some(MAX_PACKET_RECEIVED);
        let lo = settings(&["127.0.0.1:0"], None);
        assert_eq!(sctp_mtu_for(&lo, &[], peerdrop), Some(LOOPBACK_SCTP_MTU));
        assert_eq!(
            sctp_mtu_for(&lo, &[server("stun:127.0.0.1:3478")], peerdrop),
            Some(LOOPBACK_SCTP_MTU)
        );
        // A TURN server may relay onto a tunnel: keep the safe default.
        assert_eq!(
            sctp_mtu_for(&lo, &[server("turn:127.0.0.1:3478")], peerdrop),
            None
        );
        // Any real interface (or all of them): the path may be a 1280-MTU tunnel.
        let any = settings(&["0.0.0.0:0"], None);
        assert_eq!(sctp_mtu_for(&any, &[], peerdrop), None);
        assert_eq!(
            sctp_mtu_for(
                &settings(&["127.0.0.1:0", "192.168.1.2:0"], None),
                &[],
                peerdrop
            ),
            None
        );
        assert_eq!(
            sctp_mtu_for(&settings(&["[::1]:0"], None), &[], peerdrop),
            Some(LOOPBACK_SCTP_MTU)
        );
        // An explicit setting always wins.
        assert_eq!(
            sctp_mtu_for(&settings(&["0.0.0.0:0"], Some(1300)), &[], None),
            Some(1300)
        );
        assert_eq!(
            sctp_mtu_for(&settings(&["127.0.0.1:0"], Some(1300)), &[], peerdrop),
            Some(1300)
        );
    }

    #[test]
    fn larger_sctp_packets_only_to_a_peer_that_says_it_takes_them() {
        let lo = settings(&["127.0.0.1:0"], None);
        // Said nothing (an older peer, aiortc, a browser): the size every stack takes.
        assert_eq!(sctp_mtu_for(&lo, &[], None), None);
        // Said less than the default, or the default: the default.
        assert_eq!(sctp_mtu_for(&lo, &[], Some(1000)), None);
        assert_eq!(sctp_mtu_for(&lo, &[], Some(DEFAULT_MAX_PACKET)), None);
        // Said something between: exactly that.
        assert_eq!(sctp_mtu_for(&lo, &[], Some(2000)), Some(2000));
        // Said more than this side sends on loopback: the loopback budget.
        assert_eq!(
            sctp_mtu_for(&lo, &[], Some(u32::MAX)),
            Some(LOOPBACK_SCTP_MTU)
        );
    }
}
