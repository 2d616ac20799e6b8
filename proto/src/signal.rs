//! Signaling messages: what a peer and `peerdrop-signal` say to each other over `/ws`.
//!
//! Every message is one JSON text frame with a `type` tag (`snake_case`). The server assigns
//! identities, groups peers behind the same public IP (or, for a server on a LAN, everyone on
//! the LAN) as "nearby", resolves codes and relays
//! [`SignalData`] (SDP offer/answer, ICE candidates) to exactly the addressed peer. It never
//! sees file bytes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Unguessable identity the server gives a connection (UUID v4). Knowing it is what lets a
/// peer address another, so it is only handed to nearby peers or to whoever knows the code.
pub type PeerId = Uuid;

/// Identifies one connection attempt between two peers, so late candidates or answers from
/// an abandoned attempt are never applied to a new one.
pub type SessionId = Uuid;

/// Largest text frame the server accepts; larger frames get [`ErrorCode::TooLarge`].
/// SDP with many candidates stays well under 16 KiB; 64 KiB leaves room without inviting abuse.
pub const MAX_SIGNAL_MESSAGE_BYTES: usize = 64 * 1024;

/// Longest device name kept; longer names are cut (on a character boundary) by the server.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;

/// Longest claimed certificate fingerprint the server passes on (see [`PeerInfo::fingerprint`]).
/// A SHA-512 fingerprint written as colon-separated hex pairs is 191 characters, but devices
/// claim SHA-256 ones (95 characters); 128 leaves room for other spellings without inviting
/// abuse.
pub const MAX_FINGERPRINT_CHARS: usize = 128;

/// Most pairing tags one [`ClientMsg::Watch`] may carry. A device keeps at most 1,000 pins but
/// watches for the most recent of them only: 256 tags of 64 characters are a 17 KiB message,
/// well inside [`MAX_SIGNAL_MESSAGE_BYTES`], and bound what one connection costs the server.
pub const MAX_PAIRING_TAGS: usize = 256;

/// Length of one pairing tag as sent: 32 bytes as lowercase hex.
pub const PAIRING_TAG_CHARS: usize = 64;

/// What sort of device a peer is, so a UI can show a fitting icon.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A laptop or desktop running the app.
    Desktop,
    /// A phone or tablet running the app.
    Phone,
    /// The headless `peerdrop` command.
    Cli,
}

/// A peer as other peers see it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// Server-assigned id, used as the `to` of a [`ClientMsg::Signal`].
    pub id: PeerId,
    /// Human-chosen device name, already trimmed by the server.
    pub name: String,
    /// Device kind, for the icon.
    pub kind: DeviceKind,
    /// The device's certificate fingerprint **as the device claims it** in its
    /// [`ClientMsg::Hello`]: unverified, so it is only good for de-duplicating a device seen
    /// both on the LAN and through a server, never for trust (the DTLS handshake proves the
    /// real one). The server passes on only hex digits and colons, at most
    /// [`MAX_FINGERPRINT_CHARS`]; anything else arrives as `None`. Absent from old peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The largest SCTP packet this device receives, as it claims it in its
    /// [`ClientMsg::Hello`] (see [`ClientMsg::Hello::max_packet`](ClientMsg::Hello)). Absent
    /// from old peers, old servers and other implementations, which are then sent packets of
    /// the WebRTC default size only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_packet: Option<u32>,
}

/// SCTP packet size every WebRTC stack receives, and the most a peer sends to one that does
/// not say it takes more ([`ClientMsg::Hello`]'s `max_packet`): `rtc-sctp`'s default, which
/// fits a 1280-byte path with TURN over IPv6 around it.
pub const DEFAULT_MAX_PACKET: u32 = 1191;

/// One ICE server entry, shaped like the browser's `RTCIceServer`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct IceServer {
    /// `stun:host:port` or `turn:host:port?transport=udp` URLs.
    pub urls: Vec<String>,
    /// TURN REST username (`expiry:peerid`); absent for STUN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN REST password (base64 HMAC-SHA1); absent for STUN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Messages a peer sends to the server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message on every connection: protocol version and how to present this device.
    Hello {
        /// Must equal [`crate::PROTOCOL_VERSION`].
        v: u32,
        /// Device name shown to other peers.
        name: String,
        /// Device kind shown to other peers.
        kind: DeviceKind,
        /// This device's certificate fingerprint (hex digits and colons), shown to others as
        /// [`PeerInfo::fingerprint`] so they can recognise the same device found on the LAN.
        /// Optional: old clients do not send it, and a malformed one is dropped, not refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<String>,
        /// The largest SCTP packet (the plaintext of one DTLS record, bytes) this device's
        /// WebRTC stack receives, passed on to others as [`PeerInfo::max_packet`]. A peer on a
        /// path that carries larger packets (loopback) sends packets above
        /// [`DEFAULT_MAX_PACKET`] only up to this: what a WebRTC stack takes is its own
        /// business (aiortc reads 1500 bytes per datagram, libwebrtc 2048), and a packet it
        /// cannot take is lost on every retransmission. Optional: absent means the default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_packet: Option<u32>,
    },
    /// Looks up the peer currently holding a short code (rate-limited).
    Resolve {
        /// The code as typed; the server normalises it.
        code: String,
    },
    /// Relays `data` to the peer `to` (which must be nearby or resolved by code).
    Signal {
        /// Addressee.
        to: PeerId,
        /// What to relay.
        data: SignalData,
    },
    /// Keep-alive; answered with [`ServerMsg::Pong`].
    Ping,
    /// The devices this one wants to find wherever they connect from: one **pairing tag** per
    /// pinned device, each derived from *both* certificate fingerprints (docs/protocol.md,
    /// *Paired devices*). Replaces the tags of an earlier `watch` (an empty list stops
    /// watching). The server groups peers holding the same tag and answers with
    /// [`ServerMsg::Paired`]; tags are never passed on to anyone. At most
    /// [`MAX_PAIRING_TAGS`], each [`PAIRING_TAG_CHARS`] lowercase hex digits.
    Watch {
        /// The tags, in any order; duplicates count once.
        tags: Vec<String>,
    },
    /// One frame of the encrypted fallback relay (used when no UDP path exists) for peer `to`,
    /// which must be reachable as for [`ClientMsg::Signal`]. `data` is base64 of an opaque,
    /// end-to-end encrypted Noise message; the server forwards it unread. Relay frames are
    /// limited in bytes per second (not in messages per second) and by the frame size limit.
    Relay {
        /// Addressee.
        to: PeerId,
        /// Connection attempt this frame belongs to.
        session: SessionId,
        /// Base64 (standard alphabet, padded) of the encrypted frame.
        data: String,
    },
}

/// Messages the server sends to a peer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Answer to `hello`: this connection's identity and how to reach the network.
    Welcome {
        /// Server protocol version.
        v: u32,
        /// This peer's id.
        id: PeerId,
        /// This peer's short code, formatted `XXXX-XX`.
        code: String,
        /// STUN/TURN servers to use for ICE (TURN credentials are short-lived).
        ice_servers: Vec<IceServer>,
    },
    /// The full current list of nearby peers, sent on every change: the same public address,
    /// or everyone reaching the server from a private/loopback address; on a device's own
    /// LAN endpoint, just that device.
    Nearby {
        /// Every other peer in this peer's nearby group.
        peers: Vec<PeerInfo>,
    },
    /// The peers that hold a pairing tag this peer watches ([`ClientMsg::Watch`]), wherever
    /// they connect from: sent in answer to every `watch` and again on every change. Each
    /// entry is listed once, however many tags it shares. Only the fingerprint a peer
    /// *claims* is shown; the connection proves it.
    Paired {
        /// Every other peer sharing at least one of this peer's tags.
        peers: Vec<PeerInfo>,
    },
    /// Answer to `resolve`.
    Resolved {
        /// The normalised code that was looked up.
        code: String,
        /// Who holds it.
        peer: PeerInfo,
    },
    /// Relayed from another peer.
    Signal {
        /// Sender, as the server knows it (names cannot be spoofed by the payload).
        from: PeerInfo,
        /// What the sender relayed.
        data: SignalData,
    },
    /// A peer this connection exchanged signals with has disconnected from the server.
    PeerGone {
        /// The peer that left.
        id: PeerId,
    },
    /// Something was wrong with a request; the connection stays usable unless `fatal`.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
    },
    /// Answer to `ping`.
    Pong,
    /// A fallback relay frame from another peer (see [`ClientMsg::Relay`]).
    Relay {
        /// Sender, as the server knows it.
        from: PeerId,
        /// Connection attempt this frame belongs to.
        session: SessionId,
        /// Base64 of the encrypted frame, exactly as the sender sent it.
        data: String,
    },
}

/// Payloads relayed between peers. The server only checks the envelope, never the content.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignalData {
    /// SDP offer from the sender, opening `session`.
    Offer {
        /// Connection attempt id chosen by the offerer.
        session: SessionId,
        /// SDP text.
        sdp: String,
    },
    /// SDP offer of an extra peer connection ("stripe") for the transfer that runs on
    /// session `of`: it carries only data frames, beside the main connection, so a transfer
    /// can use more than one SCTP association (one association is latency-bound well below
    /// what the path and CPUs carry). The receiver accepts it only from the same peer, on
    /// the same certificate, while `of` is open; it is answered with a plain
    /// [`SignalData::Answer`] for `session`.
    StripeOffer {
        /// Connection attempt id of the stripe, chosen by the offerer.
        session: SessionId,
        /// The main session whose transfer the stripe joins.
        of: SessionId,
        /// SDP text.
        sdp: String,
    },
    /// SDP answer from the receiver.
    Answer {
        /// Connection attempt being answered.
        session: SessionId,
        /// SDP text.
        sdp: String,
    },
    /// One trickled ICE candidate.
    Candidate {
        /// Connection attempt the candidate belongs to.
        session: SessionId,
        /// Candidate line (`candidate:...`), as in `RTCIceCandidateInit`.
        candidate: String,
        /// Media stream id the candidate is for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        /// Media line index the candidate is for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mline_index: Option<u16>,
    },
    /// The receiver is busy with another transfer and holds the offer of `session` in its
    /// waiting line: the sender keeps waiting instead of giving up at its connect deadline.
    /// Sent when the offer is queued and again every few seconds while it waits (each one
    /// re-arms the sender's deadline); the receiver answers the held offer when its turn
    /// comes, or sends `bye` when it gives up on it.
    Queued {
        /// Connection attempt being held.
        session: SessionId,
        /// Place in the line: 1 = next.
        position: u32,
    },
    /// The peer abandons `session` (declined before connecting, busy, shutting down).
    Bye {
        /// Connection attempt being abandoned.
        session: SessionId,
        /// Why, for display.
        reason: String,
    },
}

/// Why the server refused something.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON or not a known message.
    BadMessage,
    /// The frame exceeded [`MAX_SIGNAL_MESSAGE_BYTES`].
    TooLarge,
    /// Too many messages per second on this connection.
    RateLimited,
    /// Too many connections from this IP address.
    TooManyConnections,
    /// `hello` must come first (and only once).
    HelloRequired,
    /// The client speaks another protocol version.
    VersionMismatch,
    /// No peer holds that code (or the code is malformed).
    UnknownCode,
    /// The addressed peer is not connected or not reachable by this peer.
    UnknownPeer,
    /// The connection was idle too long and is being closed.
    IdleTimeout,
    /// The server is shutting down or failed internally.
    Unavailable,
}

impl ClientMsg {
    /// Parses one text frame.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Serialises to one text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ClientMsg always serialises")
    }
}

impl ServerMsg {
    /// Parses one text frame.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Serialises to one text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ServerMsg always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_has_documented_shape() {
        let msg = ClientMsg::Hello {
            v: 1,
            name: "Ana".into(),
            kind: DeviceKind::Cli,
            fingerprint: None,
            max_packet: None,
        };
        assert_eq!(
            msg.to_json(),
            r#"{"type":"hello","v":1,"name":"Ana","kind":"cli"}"#
        );
    }

    #[test]
    fn fingerprint_is_optional_both_ways() {
        // An old client's hello (no fingerprint) still parses.
        let old = ClientMsg::from_json(r#"{"type":"hello","v":1,"name":"Ana","kind":"cli"}"#);
        assert!(matches!(
            old.unwrap(),
            ClientMsg::Hello {
                fingerprint: None,
                max_packet: None,
                ..
            }
        ));
        let new = ClientMsg::Hello {
            v: 1,
            name: "Ana".into(),
            kind: DeviceKind::Phone,
            fingerprint: Some("AB:CD".into()),
            max_packet: None,
        };
        assert_eq!(
            new.to_json(),
            r#"{"type":"hello","v":1,"name":"Ana","kind":"phone","fingerprint":"AB:CD"}"#
        );
        assert_eq!(ClientMsg::from_json(&new.to_json()).unwrap(), new);

        // A peer entry from an old server parses; one with a fingerprint round-trips.
        let old: PeerInfo = serde_json::from_str(
            r#"{"id":"00000000-0000-0000-0000-000000000000","name":"B","kind":"desktop"}"#,
        )
        .unwrap();
        assert_eq!(old.fingerprint, None);
        let with = PeerInfo {
            fingerprint: Some("01:ef".into()),
            max_packet: None,
            ..old
        };
        let json = serde_json::to_string(&with).unwrap();
        assert!(json.ends_with(r#","fingerprint":"01:ef"}"#), "{json}");
        assert_eq!(serde_json::from_str::<PeerInfo>(&json).unwrap(), with);
    }

    #[test]
    fn max_packet_is_optional_both_ways() {
        // Other implementations and old peers say nothing: parsed as None.
        let hello = ClientMsg::from_json(r#"{"type":"hello","v":1,"name":"A","kind":"cli"}"#);
        assert!(matches!(
            hello.unwrap(),
            ClientMsg::Hello {
                max_packet: None,
                ..
            }
        ));
        let new = ClientMsg::Hello {
            v: 1,
            name: "A".into(),
            kind: DeviceKind::Cli,
            fingerprint: None,
            max_packet: Some(16_000),
        };
        assert_eq!(
            new.to_json(),
            r#"{"type":"hello","v":1,"name":"A","kind":"cli","max_packet":16000}"#
        );
        let info: PeerInfo = serde_json::from_str(
            r#"{"id":"00000000-0000-0000-0000-000000000000","name":"B","kind":"cli","max_packet":16000}"#,
        )
        .unwrap();
        assert_eq!(info.max_packet, Some(16_000));
        assert!(!serde_json::to_string(&PeerInfo {
            max_packet: None,
            ..info
        })
        .unwrap()
        .contains("max_packet"));
    }

    #[test]
    fn signal_round_trips() {
        let msg = ServerMsg::Signal {
            from: PeerInfo {
                id: Uuid::nil(),
                name: "B".into(),
                kind: DeviceKind::Desktop,
                fingerprint: None,
                max_packet: None,
            },
            data: SignalData::Candidate {
                session: Uuid::nil(),
                candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
            },
        };
        assert_eq!(ServerMsg::from_json(&msg.to_json()).unwrap(), msg);
    }

    #[test]
    fn relay_has_documented_shape() {
        let msg = ClientMsg::Relay {
            to: Uuid::nil(),
            session: Uuid::nil(),
            data: "AQI=".into(),
        };
        let json = msg.to_json();
        assert!(json.starts_with(r#"{"type":"relay","to":"#), "{json}");
        assert_eq!(ClientMsg::from_json(&json).unwrap(), msg);
        let back = ServerMsg::Relay {
            from: Uuid::nil(),
            session: Uuid::nil(),
            data: "AQI=".into(),
        };
        assert_eq!(ServerMsg::from_json(&back.to_json()).unwrap(), back);
    }

    #[test]
    fn watch_and_paired_have_documented_shapes() {
        let watch = ClientMsg::Watch {
            tags: vec!["ab".repeat(32)],
        };
        assert_eq!(
            watch.to_json(),
            format!(r#"{{"type":"watch","tags":["{}"]}}"#, "ab".repeat(32))
        );
        assert_eq!(ClientMsg::from_json(&watch.to_json()).unwrap(), watch);
        let paired = ServerMsg::Paired { peers: vec![] };
        assert_eq!(paired.to_json(), r#"{"type":"paired","peers":[]}"#);
        assert_eq!(ServerMsg::from_json(&paired.to_json()).unwrap(), paired);
    }

    #[test]
    fn unknown_type_is_an_error_not_a_panic() {
        assert!(ClientMsg::from_json(r#"{"type":"teleport"}"#).is_err());
        assert!(ClientMsg::from_json("not json").is_err());
    }
}
