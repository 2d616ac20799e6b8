//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format (which
//! Prometheus scrapes natively).
//!
//! An operator running PeerDrop for more than a household needs to see load and abuse without
//! reading logs: how many peers and connections a node holds, how many nearby groups, how much
//! signaling and fallback-relay traffic it carries, which errors it answers, how often limits
//! strike and how many TURN credentials it mints. Counters are bumped where the event happens;
//! gauges that mirror state (peers, connections, groups) are read from that state at scrape
//! time, so they can never drift from it.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use peerdrop_proto::signal::{DeviceKind, ErrorCode};

/// The `Content-Type` of a scrape answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A label set with one label.
type One = [(&'static str, &'static str); 1];

/// Every metric of one server, registered under the `peerdrop_` prefix.
pub struct Metrics {
    registry: Registry,
    peers: Family<One, Gauge>,
    connections: Family<One, Gauge>,
    nearby_groups: Gauge,
    signals: Family<One, Counter>,
    relay_bytes: Counter,
    relay_frames: Counter,
    errors: Family<One, Counter>,
    strikes: Family<One, Counter>,
    closed_for_strikes: Counter,
    turn_issued: Counter,
    turn_refused: Counter,
    refused_origins: Counter,
}

/// What the gauges mirror, read from the server's state when scraped.
#[derive(Debug, Default, Clone, Copy)]
pub struct Snapshot {
    /// Registered peers by device kind: desktop, phone, cli.
    pub peers_by_kind: [i64; 3],
    /// Open WebSocket connections (a peer or not yet).
    pub websockets: i64,
    /// TCP connections still in their HTTP handshake.
    pub handshakes: i64,
    /// Nearby groups with at least one member.
    pub nearby_groups: i64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric; `build_info` carries this binary's version and protocol version.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("peerdrop");
        let peers = Family::<One, Gauge>::default();
        registry.register(
            "peers",
            "Peers registered on this node, by device kind",
            peers.clone(),
        );
        let connections = Family::<One, Gauge>::default();
        registry.register(
            "connections",
            "Connections on this node: websocket (upgraded) or handshake (HTTP head not yet read)",
            connections.clone(),
        );
        let nearby_groups = Gauge::default();
        registry.register(
            "nearby_groups",
            "Nearby groups with at least one member on this node",
            nearby_groups.clone(),
        );
        let signals = Family::<One, Counter>::default();
        registry.register(
            "signals_relayed",
            "Signal messages (offer, answer, candidate, ...) delivered to their addressee",
            signals.clone(),
        );
        let relay_bytes = Counter::default();
        registry.register(
            "relay_fallback_bytes",
            "Bytes of encrypted fallback relay frames forwarded",
            relay_bytes.clone(),
        );
        let relay_frames = Counter::default();
        registry.register(
            "relay_fallback_frames",
            "Encrypted fallback relay frames forwarded",
            relay_frames.clone(),
        );
        let errors = Family::<One, Counter>::default();
        registry.register(
            "errors",
            "Error frames sent to clients, by error code",
            errors.clone(),
        );
        let strikes = Family::<One, Counter>::default();
        registry.register(
            "strikes",
            "Refused messages counted against a connection (rate limits and abuse), by error code",
            strikes.clone(),
        );
        let closed_for_strikes = Counter::default();
        registry.register(
            "closed_for_strikes",
            "Connections closed for too many refused messages",
            closed_for_strikes.clone(),
        );
        let turn_issued = Counter::default();
        registry.register(
            "turn_credentials_issued",
            "TURN REST credentials minted",
            turn_issued.clone(),
        );
        let turn_refused = Counter::default();
        registry.register(
            "turn_credentials_refused",
            "Welcomes without TURN because the address's credential budget was spent",
            turn_refused.clone(),
        );
        let refused_origins = Counter::default();
        registry.register(
            "refused_origins",
            "WebSocket upgrades refused for the page origin",
            refused_origins.clone(),
        );
        let build = Family::<[(&'static str, &'static str); 2], Gauge>::default();
        build
            .get_or_create(&[
                ("version", env!("CARGO_PKG_VERSION")),
                ("protocol", protocol_version()),
            ])
            .set(1);
        registry.register(
            "build_info",
            "This node's build: crate version and signaling protocol version",
            build,
        );
        // Every known series exists from the start at 0, so a scrape (and a rate() over it)
        // sees the first event as a change instead of a new series.
        for kind in SIGNAL_KINDS {
            drop(signals.get_or_create(&[("kind", kind)]));
        }
        for code in ERROR_CODES {
            drop(errors.get_or_create(&[("code", error_code_label(code))]));
            drop(strikes.get_or_create(&[("code", error_code_label(code))]));
        }
        Self {
            registry,
            peers,
            connections,
            nearby_groups,
            signals,
            relay_bytes,
            relay_frames,
            errors,
            strikes,
            closed_for_strikes,
            turn_issued,
            turn_refused,
            refused_origins,
        }
    }

    /// The scrape answer: the gauges set from `state`, then every metric encoded.
    pub fn render(&self, state: Snapshot) -> String {
        for (kind, count) in ["desktop", "phone", "cli"].iter().zip(state.peers_by_kind) {
            self.peers.get_or_create(&[("kind", kind)]).set(count);
        }
        self.connections
            .get_or_create(&[("kind", "websocket")])
            .set(state.websockets);
        self.connections
            .get_or_create(&[("kind", "handshake")])
            .set(state.handshakes);
        self.nearby_groups.set(state.nearby_groups);
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    /// One signal (`offer`, `answer`, ...) was delivered.
    pub fn signal_relayed(&self, kind: &'static str) {
        self.signals.get_or_create(&[("kind", kind)]).inc();
    }

    /// One fallback relay frame of `bytes` bytes was forwarded.
    pub fn relay_forwarded(&self, bytes: usize) {
        self.relay_frames.inc();
        self.relay_bytes.inc_by(bytes as u64);
    }

    /// An error frame with `code` was sent.
    pub fn error_sent(&self, code: ErrorCode) {
        self.errors
            .get_or_create(&[("code", error_code_label(code))])
            .inc();
    }

    /// A refused message counted a strike with `code`.
    pub fn strike(&self, code: ErrorCode) {
        self.strikes
            .get_or_create(&[("code", error_code_label(code))])
            .inc();
    }

    /// A connection was closed for too many strikes.
    pub fn closed_for_strikes(&self) {
        self.closed_for_strikes.inc();
    }

    /// TURN credentials were minted (`true`) or refused for the address budget (`false`).
    pub fn turn_credentials(&self, issued: bool) {
        if issued {
            self.turn_issued.inc();
        } else {
            self.turn_refused.inc();
        }
    }

    /// A WebSocket upgrade was refused for its origin.
    pub fn origin_refused(&self) {
        self.refused_origins.inc();
    }
}

/// The `kind` labels of `signals_relayed` (the signaling messages peers exchange).
pub const SIGNAL_KINDS: [&str; 5] = ["offer", "stripe_offer", "answer", "candidate", "bye"];

/// Every error code, for the `errors` and `strikes` series.
const ERROR_CODES: [ErrorCode; 10] = [
    ErrorCode::BadMessage,
    ErrorCode::TooLarge,
    ErrorCode::RateLimited,
    ErrorCode::TooManyConnections,
    ErrorCode::HelloRequired,
    ErrorCode::VersionMismatch,
    ErrorCode::UnknownCode,
    ErrorCode::UnknownPeer,
    ErrorCode::IdleTimeout,
    ErrorCode::Unavailable,
];

/// The index of `kind` in [`Snapshot::peers_by_kind`].
pub fn kind_index(kind: DeviceKind) -> usize {
    match kind {
        DeviceKind::Desktop => 0,
        DeviceKind::Phone => 1,
        DeviceKind::Cli => 2,
    }
}

/// The wire name of `code` (`rate_limited`, ...), as a label value.
pub fn error_code_label(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadMessage => "bad_message",
        ErrorCode::TooLarge => "too_large",
        ErrorCode::RateLimited => "rate_limited",
        ErrorCode::TooManyConnections => "too_many_connections",
        ErrorCode::HelloRequired => "hello_required",
        ErrorCode::VersionMismatch => "version_mismatch",
        ErrorCode::UnknownCode => "unknown_code",
        ErrorCode::UnknownPeer => "unknown_peer",
        ErrorCode::IdleTimeout => "idle_timeout",
        ErrorCode::Unavailable => "unavailable",
    }
}

fn protocol_version() -> &'static str {
    // PROTOCOL_VERSION is a small integer; formatted once per process for a `'static` label.
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| peerdrop_proto::PROTOCOL_VERSION.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_match_the_wire_names() {
        for code in ERROR_CODES {
            let wire = serde_json::to_string(&code).unwrap();
            assert_eq!(wire.trim_matches('"'), error_code_label(code));
        }
    }
}
