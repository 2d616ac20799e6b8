//! Everything an operator (or a test, or the desktop app) can tune, with safe defaults.
//!
//! [`ServerConfig::default`] is what `peerdrop-signal` runs with when given no flags:
//! loopback only, no ICE servers, and [`Limits::default`]. Tests shrink the limits to
//! exercise them in milliseconds instead of minutes. [`ServerConfig::device_endpoint`] is the
//! other shape: a device's own direct LAN signaling endpoint (see [`crate::device`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use peerdrop_proto::signal::MAX_SIGNAL_MESSAGE_BYTES;

use crate::cluster::ClusterConfig;
use crate::error::ServerError;

/// Default listening address: loopback, so an unconfigured server is never exposed.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

/// Default lifetime of TURN credentials handed out in `welcome`. coturn checks the expiry when
/// an allocation is made, not while it is refreshed, so a transfer that has its relay keeps it
/// past the expiry; what expires is the right to make new allocations (docs/security.md).
pub const DEFAULT_TURN_TTL: Duration = Duration::from_secs(600);

/// Default number of TURN credentials minted per client address (IPv4, IPv6 /48) per
/// `turn_ttl`; past it, `welcome` carries STUN only.
pub const DEFAULT_TURN_CREDENTIALS_PER_IP: u32 = 256;

/// Shortest [`ClusterConfig::presence_ttl`]: nodes refresh every third of it, and one Redis
/// round trip must fit comfortably.
pub const MIN_PRESENCE_TTL: Duration = Duration::from_secs(1);

/// How the server is reached and what it hands to clients.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to bind; port 0 picks a free port (see [`crate::SignalServer::local_addr`]).
    pub listen: SocketAddr,
    /// STUN URLs (`stun:host:port`) passed to clients as-is, one ICE server entry each.
    pub stun_urls: Vec<String>,
    /// TURN URLs (`turn:host:port?transport=udp`); only handed out with `turn_secret`.
    pub turn_urls: Vec<String>,
    /// Shared secret with coturn (`static-auth-secret`), used to mint REST credentials.
    pub turn_secret: Option<String>,
    /// How long minted TURN credentials stay valid; also the window of
    /// [`Limits::turn_credentials_per_ip`].
    pub turn_ttl: Duration,
    /// Web page origins (`scheme://host[:port]`) whose WebSocket upgrades are accepted besides
    /// requests without an `Origin` header (native clients) and pages served by this server
    /// itself (see [`crate::origin`]). Any other page in a browser on a device that reaches the
    /// server, a loopback one included, is refused with 403: otherwise any web site could join
    /// as a nearby device under any name.
    pub allowed_origins: Vec<String>,
    /// Abuse limits.
    pub limits: Limits,
    /// Reverse proxies whose `X-Forwarded-For` header is believed. Anyone else's is ignored,
    /// otherwise a client could claim any address and join a stranger's "nearby" group.
    pub trusted_proxies: Vec<IpAddr>,
    /// How long [`crate::SignalServer::run`] waits for connections to close on shutdown
    /// before dropping them.
    pub shutdown_grace: Duration,
    /// `Some` = **device endpoint mode**: this server is one device's direct LAN signaling
    /// endpoint, and the connection from this host presenting this token (`/ws?owner=TOKEN`,
    /// see [`crate::RunningServer::owner_url`]) is that device. Everyone else may then talk
    /// only to the owner: their nearby list is just the owner, and they can neither see nor
    /// signal each other, so an endpoint listening on `0.0.0.0` is no open relay for the LAN.
    /// `None` = an ordinary rendezvous server. Built by [`ServerConfig::device_endpoint`].
    pub owner_token: Option<String>,
    /// `Some` = one node of a cluster sharing a Redis ([`crate::cluster`]): codes unique
    /// across nodes, nearby groups spanning them, signals relayed to peers on other nodes.
    /// `None` = a server alone, everything in memory.
    pub cluster: Option<ClusterConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .expect("DEFAULT_LISTEN is a valid address"),
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_ttl: DEFAULT_TURN_TTL,
            allowed_origins: Vec::new(),
            limits: Limits::default(),
            trusted_proxies: Vec::new(),
            shutdown_grace: Duration::from_secs(3),
            owner_token: None,
            cluster: None,
        }
    }
}

impl ServerConfig {
    /// A default configuration listening on `listen`; handy for tests (`127.0.0.1:0`).
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            ..Self::default()
        }
    }

    /// A device's direct LAN signaling endpoint on `listen` (typically `0.0.0.0:PORT`,
    /// advertised by mDNS): a fresh random owner token (32 bytes from the OS-seeded CSPRNG, as
    /// hex), the small [`Limits::device_endpoint`], no STUN or TURN (peers on one LAN reach
    /// each other by host candidates) and no trusted proxies.
    pub fn device_endpoint(listen: SocketAddr) -> Self {
        Self {
            listen,
            limits: Limits::device_endpoint(),
            owner_token: Some(crate::device::fresh_owner_token()),
            ..Self::default()
        }
    }

    /// Whether this is a device endpoint (`owner_token` set).
    pub fn is_device_endpoint(&self) -> bool {
        self.owner_token.is_some()
    }

    /// Rejects values that would make the server useless or unsafe (zero limits, zero TTL),
    /// so a typo in a flag fails at start-up instead of at the first client.
    pub fn validate(&self) -> Result<(), ServerError> {
        self.limits.validate()?;
        if let Some(token) = &self.owner_token {
            if !crate::device::is_valid_owner_token(token) {
                return Err(ServerError::InvalidConfig(format!(
                    "owner_token must be at least {} characters of A-Z, a-z, 0-9, '-' and '_'",
                    crate::device::MIN_OWNER_TOKEN_BYTES
                )));
            }
            // A device endpoint hands out no ICE servers and believes no proxy: refuse a
            // configuration that expects otherwise instead of silently ignoring it.
            if !self.stun_urls.is_empty()
                || !self.turn_urls.is_empty()
                || self.turn_secret.is_some()
            {
                return Err(ServerError::InvalidConfig(
                    "a device endpoint (owner_token) hands out no STUN/TURN servers".into(),
                ));
            }
            if !self.trusted_proxies.is_empty() {
                return Err(ServerError::InvalidConfig(
                    "a device endpoint (owner_token) trusts no proxies".into(),
                ));
            }
            if self.cluster.is_some() {
                return Err(ServerError::InvalidConfig(
                    "a device endpoint (owner_token) is one device's own: it joins no cluster"
                        .into(),
                ));
            }
        }
        if let Some(cluster) = &self.cluster {
            if cluster.presence_ttl < MIN_PRESENCE_TTL {
                return Err(ServerError::InvalidConfig(format!(
                    "presence_ttl must be at least {} s",
                    MIN_PRESENCE_TTL.as_secs()
                )));
            }
        }
        if self.turn_ttl.is_zero() {
            return Err(ServerError::InvalidConfig(
                "turn_ttl must be positive".into(),
            ));
        }
        if let Some(bad) = self
            .allowed_origins
            .iter()
            .find(|o| crate::origin::Origin::parse(o).is_none())
        {
            return Err(ServerError::InvalidConfig(format!(
                "allowed origin {bad:?} is not of the form scheme://host[:port]"
            )));
        }
        if matches!(&self.turn_secret, Some(s) if s.is_empty()) {
            return Err(ServerError::InvalidConfig(
                "turn_secret must not be empty".into(),
            ));
        }
        Ok(())
    }
}

/// Hard limits that keep one client (or one address) from hurting everyone else.
///
/// Every limit is answered with an `error` frame carrying the matching
/// [`peerdrop_proto::signal::ErrorCode`]; repeated violations close the connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Largest accepted text frame in bytes; larger ones get `too_large`.
    pub max_message_bytes: usize,
    /// Sustained messages per second per connection (token bucket refill rate).
    pub messages_per_sec: u32,
    /// Messages a connection may send in one burst (token bucket size). ICE trickling sends
    /// a few dozen candidates at once, so this is well above `messages_per_sec`.
    pub message_burst: u32,
    /// Rejected messages (bad, too large, rate-limited) tolerated before the connection is
    /// closed. Each accepted message forgives one earlier strike.
    pub max_strikes: u32,
    /// Simultaneous WebSocket connections per client address (IPv6: per /64).
    pub max_connections_per_ip: usize,
    /// Simultaneous WebSocket connections in total.
    pub max_connections: usize,
    /// A connection that sends nothing (not even a ping) for this long is closed.
    pub idle_timeout: Duration,
    /// Time a new connection gets to send `hello`.
    pub hello_timeout: Duration,
    /// Time a new TCP connection gets to send its HTTP request (and finish the upgrade).
    pub handshake_timeout: Duration,
    /// TCP connections still in their HTTP handshake, per TCP peer address (a trusted proxy's
    /// are capped only by the total): a slow client must not hold sockets for free until its
    /// handshake times out (slowloris).
    pub max_handshakes_per_ip: usize,
    /// TCP connections still in their HTTP handshake, in total.
    pub max_handshakes: usize,
    /// Code look-ups per minute per connection (also the burst size).
    pub resolve_per_minute: u32,
    /// Code look-ups per minute per client address, so reconnecting does not reset the budget.
    pub resolve_per_minute_per_ip: u32,
    /// Messages queued for one peer before it is considered too slow and disconnected.
    pub outbox_capacity: usize,
    /// Longest time one write to a client may take before the client is dropped.
    pub write_timeout: Duration,
    /// Bytes per second one connection may send as encrypted fallback `relay` frames (the
    /// server pauses reading beyond it); 0 disables the relay. See [`crate::relay`].
    pub relay_bytes_per_sec: u64,
    /// Bytes per second of `relay` frames for all connections of one client address together
    /// (IPv4 address, IPv6 /48), so that more connections do not buy more bandwidth.
    pub relay_bytes_per_sec_per_ip: u64,
    /// `relay` frames per second one connection may send (paced like the bytes), so a flood of
    /// tiny frames costs as much as a stream of big ones.
    pub relay_frames_per_sec: u32,
    /// `relay` frames per second for all connections of one client address together.
    pub relay_frames_per_sec_per_ip: u32,
    /// TURN credentials minted per client address (IPv4 address, IPv6 /48) per
    /// [`ServerConfig::turn_ttl`]; beyond it a `welcome` carries STUN servers only, followed by
    /// an `unavailable` notice. Each credential can hold coturn allocations (up to its
    /// `user-quota`), so unbounded minting would let a few addresses fill coturn's
    /// `total-quota`.
    pub turn_credentials_per_ip: u32,
    /// Most peers in the one nearby group of LAN addresses ([`crate::addr::NearbyGroup::Lan`]).
    /// A public group is bounded by `max_connections_per_ip`, since it is one address; the LAN
    /// group spans many, so it gets its own bound (every join or leave sends each member the
    /// whole list). Peers beyond it are grouped by their own address, as public ones are.
    pub max_lan_group: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: MAX_SIGNAL_MESSAGE_BYTES,
            messages_per_sec: 20,
            message_burst: 100,
            max_strikes: 10,
            max_connections_per_ip: 64,
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(120),
            hello_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            max_handshakes_per_ip: 16,
            max_handshakes: 1024,
            resolve_per_minute: 10,
            resolve_per_minute_per_ip: 30,
            outbox_capacity: 256,
            write_timeout: Duration::from_secs(10),
            relay_bytes_per_sec: crate::relay::DEFAULT_RELAY_BYTES_PER_SEC,
            relay_bytes_per_sec_per_ip: crate::relay::DEFAULT_RELAY_BYTES_PER_SEC_PER_IP,
            relay_frames_per_sec: crate::relay::DEFAULT_RELAY_FRAMES_PER_SEC,
            relay_frames_per_sec_per_ip: crate::relay::DEFAULT_RELAY_FRAMES_PER_SEC_PER_IP,
            turn_credentials_per_ip: DEFAULT_TURN_CREDENTIALS_PER_IP,
            max_lan_group: 64,
        }
    }
}

impl Limits {
    /// Limits for a device's own LAN endpoint: a handful of senders at a time, not a town.
    /// Frame size, message and relay rates, strikes and timeouts are the defaults, so a
    /// message that works through a server works device to device, and abuse costs the same.
    pub fn device_endpoint() -> Self {
        Self {
            max_connections: 32,
            max_connections_per_ip: 8,
            ..Self::default()
        }
    }

    /// Frame size at which tungstenite itself gives up reading. It sits above
    /// `max_message_bytes` so a slightly oversized frame is still read whole and answered
    /// with `too_large`, while a huge one is cut off without buffering it.
    pub fn hard_frame_bytes(&self) -> usize {
        self.max_message_bytes
            .saturating_mul(2)
            .max(self.max_message_bytes + 1024)
    }

    /// Rejects zero limits, which would lock every client out (or, for timeouts, close at once).
    pub fn validate(&self) -> Result<(), ServerError> {
        let positive = [
            ("max_message_bytes", self.max_message_bytes as u64),
            ("messages_per_sec", u64::from(self.messages_per_sec)),
            ("message_burst", u64::from(self.message_burst)),
            ("max_strikes", u64::from(self.max_strikes)),
            ("max_connections_per_ip", self.max_connections_per_ip as u64),
            ("max_connections", self.max_connections as u64),
            ("resolve_per_minute", u64::from(self.resolve_per_minute)),
            (
                "resolve_per_minute_per_ip",
                u64::from(self.resolve_per_minute_per_ip),
            ),
            ("outbox_capacity", self.outbox_capacity as u64),
            ("max_handshakes_per_ip", self.max_handshakes_per_ip as u64),
            ("max_handshakes", self.max_handshakes as u64),
            ("max_lan_group", self.max_lan_group as u64),
            (
                "relay_bytes_per_sec_per_ip",
                self.relay_bytes_per_sec_per_ip,
            ),
            ("relay_frames_per_sec", u64::from(self.relay_frames_per_sec)),
            (
                "relay_frames_per_sec_per_ip",
                u64::from(self.relay_frames_per_sec_per_ip),
            ),
            (
                "turn_credentials_per_ip",
                u64::from(self.turn_credentials_per_ip),
            ),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ServerError::InvalidConfig(format!(
                "{name} must be positive"
            )));
        }
        let durations = [
            ("idle_timeout", self.idle_timeout),
            ("hello_timeout", self.hello_timeout),
            ("handshake_timeout", self.handshake_timeout),
            ("write_timeout", self.write_timeout),
        ];
        if let Some((name, _)) = durations.iter().find(|(_, d)| d.is_zero()) {
            return Err(ServerError::InvalidConfig(format!(
                "{name} must be positive"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_safe() {
        let config = ServerConfig::default();
        config.validate().unwrap();
        assert!(
            config.listen.ip().is_loopback(),
            "unconfigured server must not be exposed"
        );
        assert_eq!(config.limits.max_message_bytes, MAX_SIGNAL_MESSAGE_BYTES);
        assert!(config.limits.hard_frame_bytes() > config.limits.max_message_bytes);
        assert_eq!(
            config.turn_ttl,
            Duration::from_secs(600),
            "short-lived TURN"
        );
        assert!(config.limits.relay_bytes_per_sec_per_ip >= config.limits.relay_bytes_per_sec);
    }

    #[test]
    fn zero_limits_are_rejected_by_name() {
        let mut config = ServerConfig::default();
        config.limits.messages_per_sec = 0;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("messages_per_sec"), "{err}");

        let mut config = ServerConfig::default();
        config.limits.idle_timeout = Duration::ZERO;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("idle_timeout"), "{err}");

        let config = ServerConfig {
            turn_secret: Some(String::new()),
            ..ServerConfig::default()
        };
        assert!(config.validate().is_err());

        let mut config = ServerConfig::default();
        config.limits.relay_bytes_per_sec_per_ip = 0;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("relay_bytes_per_sec_per_ip"), "{err}");
    }

    #[test]
    fn allowed_origins_must_be_origins() {
        let mut config = ServerConfig {
            allowed_origins: vec!["https://app.example.org".into(), "http://[::1]:8080".into()],
            ..ServerConfig::default()
        };
        config.validate().unwrap();
        config.allowed_origins = vec!["https://app.example.org/path".into()];
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("app.example.org/path"), "{err}");
        config.allowed_origins = vec!["app.example.org".into()];
        assert!(config.validate().is_err());
    }

    #[test]
    fn device_endpoint_is_small_private_and_has_a_fresh_token() {
        let listen: SocketAddr = "0.0.0.0:0".parse().unwrap();
        let a = ServerConfig::device_endpoint(listen);
        let b = ServerConfig::device_endpoint(listen);
        a.validate().unwrap();
        assert!(a.is_device_endpoint());
        assert!(!ServerConfig::default().is_device_endpoint());
        let token = a.owner_token.as_deref().unwrap();
        assert_eq!(token.len(), 64, "32 bytes as hex: {token}");
        assert!(token.bytes().all(|c| c.is_ascii_hexdigit()), "{token}");
        assert_ne!(a.owner_token, b.owner_token, "fresh per endpoint");
        assert_eq!(a.listen, listen);
        assert!(a.stun_urls.is_empty() && a.turn_urls.is_empty() && a.turn_secret.is_none());
        assert_eq!(a.limits.max_connections, 32);
        assert_eq!(a.limits.max_connections_per_ip, 8);
        let defaults = Limits::default();
        assert_eq!(a.limits.max_message_bytes, defaults.max_message_bytes);
        assert_eq!(a.limits.messages_per_sec, defaults.messages_per_sec);
        assert_eq!(a.limits.max_strikes, defaults.max_strikes);
    }

    #[test]
    fn device_endpoint_refuses_what_it_would_ignore() {
        let listen: SocketAddr = "0.0.0.0:0".parse().unwrap();
        let mut with_stun = ServerConfig::device_endpoint(listen);
        with_stun.stun_urls = vec!["stun:198.18.0.1:3478".into()];
        assert!(with_stun.validate().is_err());
        let mut with_proxy = ServerConfig::device_endpoint(listen);
        with_proxy.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        assert!(with_proxy.validate().is_err());
        let mut short = ServerConfig::device_endpoint(listen);
        short.owner_token = Some("abc".into());
        let err = short.validate().unwrap_err().to_string();
        assert!(err.contains("owner_token"), "{err}");
    }
}
