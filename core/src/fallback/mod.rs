//! The encrypted fallback relay: the transfer protocol over the signaling WebSocket, for
//! networks where no UDP path exists (not even to TURN; `webrtc` 0.21 cannot use TURN over
//! TCP/TLS).
//!
//! ## When
//! The sender (always the offerer) starts it when ICE fails, when no channel opened within
//! [`FallbackPolicy::after`] (default 10 s), or at once when told by configuration
//! (`PEERDROP_FALLBACK=force`). The receiver joins when the first handshake frame arrives for
//! the session it is answering; while waiting it treats an ICE failure as "maybe the sender
//! falls back" rather than as an error. `PEERDROP_FALLBACK=off` disables it on either side.
//!
//! ## Wire
//! Every frame is one `relay` message through the server (`ClientMsg::Relay` /
//! `ServerMsg::Relay`): base64 of `kind (1 byte) || body`:
//! - `0x01` handshake message 1 (initiator → responder), `0x02` handshake message 2;
//! - `0x03` a Noise transport message whose plaintext is one of
//!   - `0x10 flags bytes…` a fragment of a control message (text), `0x11 flags bytes…` of a
//!     data frame (binary); `flags` bit 0 marks the last fragment. Messages are cut into
//!     fragments of at most [`FRAGMENT_BYTES`] so a relay frame stays under the server's 64 KiB
//!     frame limit after base64;
//!   - `0x20 u64` credit: total bytes of messages the receiver has consumed so far;
//!   - `0x30 reason` close.
//!
//! ## Crypto
//! Noise `NN_25519_ChaChaPoly_BLAKE2s` (via `snow`): fresh X25519 ephemeral keys on both sides,
//! ChaCha20-Poly1305 for every transport message, with a prologue binding the handshake to this
//! session (`"peerdrop/fallback/1"`, session id, offerer id, answerer id). A frame that is
//! altered, replayed, reordered or dropped fails authentication and ends the transfer. The
//! server sees only ciphertext.
//!
//! ## Authentication
//! NN alone does not authenticate the peer: a malicious *server* could run one handshake with
//! each side and re-encrypt in between. The two legs of such an attack have different
//! handshake hashes, and that hash ([`binding_of`]) is hashed into the same four-word
//! verification phrase both screens show (`identity::sas::bound_transfer_phrase`, after the
//! usual commit/reveal of nonces over this carrier): with someone in the middle the two
//! phrases differ, exactly as on a WebRTC connection. No DTLS proves the certificates here, so
//! each side's first transport message proves its own: its certificate and a signature with
//! its key over the handshake hash (`0x40`, [`crate::identity::proof`]). A relay transfer
//! therefore pins and recognises devices like a direct one; only a peer without a persistent
//! identity (empty proof) stays *claimed*. Relay parts are staged apart from DTLS transfers
//! and do not resume across a reconnection (docs/network.md, docs/security.md). The short
//! [`check_code`] in the log is the same hash in a form people can read aloud.
//!
//! ## Flow control and memory
//! The receiver grants a window of [`WINDOW_BYTES`]; the sender never has more than that in
//! flight. Credits go back as messages are handed to the transfer driver (whose queues are
//! bounded), so a slow disk stops the sender. The server paces every connection's relay
//! bytes and never needs to buffer more than one window per direction.

mod carrier;

pub use carrier::{Carrier, FallbackOut};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use peerdrop_proto::signal::{PeerId, SessionId};
use std::time::Duration;

use crate::error::CoreError;
use crate::identity::proof::{self, Role};
use crate::identity::Identity;
use crate::signaling::{RelayRoute, RelaySender};

/// The Noise protocol used.
pub const NOISE_PARAMS: &str = "Noise_NN_25519_ChaChaPoly_BLAKE2s";

/// Largest plaintext carried by one relay frame.
pub const FRAGMENT_BYTES: usize = 32 * 1024;

/// Bytes of messages a sender may have in flight before the receiver's credit.
pub const WINDOW_BYTES: u64 = 2 * 1024 * 1024;

/// How long the handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) const KIND_HANDSHAKE_1: u8 = 0x01;
pub(crate) const KIND_HANDSHAKE_2: u8 = 0x02;
pub(crate) const KIND_TRANSPORT: u8 = 0x03;

/// When the fallback is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FallbackPolicy {
    /// Whether the fallback may be used at all.
    pub enabled: bool,
    /// How long the sender waits for a WebRTC connection before falling back (0 = at once).
    pub after: Duration,
}

impl Default for FallbackPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            after: Duration::from_secs(10),
        }
    }
}

impl FallbackPolicy {
    /// From configuration variables (the front end passes the environment, read once):
    /// `PEERDROP_FALLBACK=off|auto|force` (default `auto`) and `PEERDROP_FALLBACK_AFTER_MS`
    /// (auto mode's patience).
    pub fn from_vars(vars: crate::vars::Vars<'_>) -> Self {
        let mut policy = Self::default();
        match vars("PEERDROP_FALLBACK").as_deref() {
            Some("off") => policy.enabled = false,
            Some("force") => policy.after = Duration::ZERO,
            _ => {}
        }
        if let Some(ms) = crate::vars::parsed::<u64>(vars, "PEERDROP_FALLBACK_AFTER_MS") {
            policy.after = Duration::from_millis(ms);
        }
        policy
    }
}

/// The handshake prologue: both sides must compute the same bytes or the handshake fails.
fn prologue(session: SessionId, offerer: PeerId, answerer: PeerId) -> Vec<u8> {
    let mut p = b"peerdrop/fallback/1".to_vec();
    p.extend_from_slice(session.as_bytes());
    p.extend_from_slice(offerer.as_bytes());
    p.extend_from_slice(answerer.as_bytes());
    p
}

/// A short code derived from the Noise handshake hash. Both sides compute the same code only
/// if they completed the handshake with each other (no one in the middle).
pub fn check_code(handshake_hash: &[u8]) -> String {
    let digest = blake3::hash(handshake_hash);
    let alphabet = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let code: String = digest.as_bytes()[..8]
        .iter()
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect();
    format!("{}-{}", &code[..4], &code[4..])
}

/// What the verification phrase binds on the relay: the whole handshake hash (32 bytes, hex).
/// Not the 8-character [`check_code`]: a man in the middle choosing its own ephemeral keys
/// could grind two handshakes to a 40-bit collision, never to a 256-bit one.
pub fn binding_of(handshake_hash: &[u8]) -> String {
    handshake_hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Tells the user (stderr/log) that the relay is in use and which check code both sides show.
fn announce(handshake_hash: &[u8]) {
    let code = check_code(handshake_hash);
    tracing::warn!(
        "no UDP path: using the end-to-end encrypted relay over the signaling server; \
         both devices must show the same check code {code} (it is also bound into the \
         verification phrase)"
    );
}

fn noise_err(e: snow::Error) -> CoreError {
    CoreError::Connect(format!("fallback relay: {e}"))
}

fn encode(kind: u8, body: &[u8]) -> String {
    let mut frame = Vec::with_capacity(body.len() + 1);
    frame.push(kind);
    frame.extend_from_slice(body);
    BASE64.encode(frame)
}

pub(crate) fn decode(text: &str) -> Option<(u8, Vec<u8>)> {
    let mut bytes = BASE64.decode(text).ok()?;
    if bytes.is_empty() {
        return None;
    }
    let kind = bytes.remove(0);
    Some((kind, bytes))
}

/// Sender side: runs the handshake as initiator over `route`/`out` and returns the carrier.
/// `route` must have been opened before this is called (so the answer cannot be missed).
pub async fn initiate(
    session: SessionId,
    me: PeerId,
    peer: PeerId,
    mut route: RelayRoute,
    out: RelaySender,
    identity: Option<&Identity>,
) -> Result<Carrier, CoreError> {
    let mut hs = snow::Builder::new(NOISE_PARAMS.parse().expect("valid noise params"))
        .prologue(&prologue(session, me, peer))
        .build_initiator()
        .map_err(noise_err)?;
    let mut buf = vec![0u8; 1024];
    let n = hs.write_message(&[], &mut buf).map_err(noise_err)?;
    out.send(encode(KIND_HANDSHAKE_1, &buf[..n]))?;
    let reply = next_frame(
        &mut route,
        KIND_HANDSHAKE_2,
        "the peer did not answer the fallback relay handshake",
    )
    .await?;
    let n = hs.read_message(&reply, &mut buf).map_err(noise_err)?;
    // The responder's payload (encrypted, bound to the handshake): its certificate fingerprint.
    let peer_fp = std::str::from_utf8(&buf[..n])
        .ok()
        .filter(|fp| !fp.is_empty())
        .map(str::to_string);
    let hash = hs.get_handshake_hash().to_vec();
    let mut transport = hs.into_transport_mode().map_err(noise_err)?;
    announce(&hash);
    let proved = exchange_proofs(
        &mut transport,
        &mut route,
        &out,
        identity,
        Role::Initiator,
        &hash,
    )
    .await?;
    let is_proved = proved.is_some();
    Ok(Carrier::start(
        transport,
        route,
        out,
        &hash,
        proved.or(peer_fp),
        is_proved,
    ))
}

/// Receiver side: answers handshake message `first` (the base64 frame that arrived on the
/// session) and returns the carrier. `my_fingerprint` (from this side's SDP) travels
/// encrypted in the answer, because the sender may have fallen back before reading our SDP.
#[allow(clippy::too_many_arguments)]
pub async fn respond(
    session: SessionId,
    me: PeerId,
    peer: PeerId,
    first: &str,
    my_fingerprint: Option<&str>,
    mut route: RelayRoute,
    out: RelaySender,
    identity: Option<&Identity>,
) -> Result<Carrier, CoreError> {
    let Some((KIND_HANDSHAKE_1, body)) = decode(first) else {
        return Err(CoreError::Connect(
            "fallback relay: malformed handshake".into(),
        ));
    };
    let mut hs = snow::Builder::new(NOISE_PARAMS.parse().expect("valid noise params"))
        .prologue(&prologue(session, peer, me))
        .build_responder()
        .map_err(noise_err)?;
    let mut buf = vec![0u8; 1024];
    hs.read_message(&body, &mut buf).map_err(noise_err)?;
    let payload = my_fingerprint.unwrap_or_default().as_bytes();
    let n = hs.write_message(payload, &mut buf).map_err(noise_err)?;
    out.send(encode(KIND_HANDSHAKE_2, &buf[..n]))?;
    let hash = hs.get_handshake_hash().to_vec();
    let mut transport = hs.into_transport_mode().map_err(noise_err)?;
    announce(&hash);
    let proved = exchange_proofs(
        &mut transport,
        &mut route,
        &out,
        identity,
        Role::Responder,
        &hash,
    )
    .await?;
    let is_proved = proved.is_some();
    Ok(Carrier::start(
        transport, route, out, &hash, proved, is_proved,
    ))
}

/// The next relay frame of `kind` on `route` within [`HANDSHAKE_TIMEOUT`] (others are
/// skipped); `silent` is the error when none comes.
async fn next_frame(route: &mut RelayRoute, kind: u8, silent: &str) -> Result<Vec<u8>, CoreError> {
    let wait = async {
        loop {
            match route.recv().await {
                Some(text) => match decode(&text) {
                    Some((k, body)) if k == kind => return Ok(body),
                    _ => tracing::debug!("ignoring an unexpected relay frame during the handshake"),
                },
                None => return Err(CoreError::Connect("signaling connection lost".into())),
            }
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, wait)
        .await
        .map_err(|_| CoreError::Connect(silent.into()))?
}

/// Plaintext type of the one identity-proof message each side sends first.
const MSG_PROOF: u8 = 0x40;

/// Sends this side's identity proof ([`crate::identity::proof`]) and reads the peer's, the
/// first transport message in each direction. Returns the fingerprint the peer proved, or
/// `None` if it had no persistent identity to prove (then it is only claimed, as before).
/// A proof that does not verify ends the connection: nobody honest sends one.
async fn exchange_proofs(
    transport: &mut snow::TransportState,
    route: &mut RelayRoute,
    out: &RelaySender,
    identity: Option<&Identity>,
    mine: Role,
    hash: &[u8],
) -> Result<Option<String>, CoreError> {
    let mut plain = vec![MSG_PROOF];
    if let Some(identity) = identity {
        plain.extend(
            proof::prove(identity, mine, hash).map_err(|e| CoreError::Connect(e.to_string()))?,
        );
    }
    let mut cipher = vec![0u8; plain.len() + 64];
    let n = transport
        .write_message(&plain, &mut cipher)
        .map_err(noise_err)?;
    out.send(encode(KIND_TRANSPORT, &cipher[..n]))?;
    let theirs = match mine {
        Role::Initiator => Role::Responder,
        Role::Responder => Role::Initiator,
    };
    let body = next_frame(
        route,
        KIND_TRANSPORT,
        "the peer sent no identity proof on the fallback relay",
    )
    .await?;
    let mut plain = vec![0u8; body.len()];
    let n = transport
        .read_message(&body, &mut plain)
        .map_err(noise_err)?;
    match plain[..n].split_first() {
        Some((&MSG_PROOF, [])) => Ok(None),
        Some((&MSG_PROOF, proof)) => proof::verify(proof, theirs, hash)
            .map(Some)
            .map_err(|e| CoreError::Connect(format!("fallback relay: {e}"))),
        _ => Err(CoreError::Connect(
            "fallback relay: expected the peer's identity proof".into(),
        )),
    }
}

/// The SHA-256 certificate fingerprint announced in an SDP (`a=fingerprint:sha-256 AB:..`),
/// lowercase, as the identity code writes fingerprints.
pub fn sdp_fingerprint(sdp: &str) -> Option<String> {
    sdp.lines().find_map(|line| {
        let value = line.trim().strip_prefix("a=fingerprint:")?;
        let (algo, fp) = value.split_once(' ')?;
        algo.eq_ignore_ascii_case("sha-256")
            .then(|| fp.trim().to_ascii_lowercase())
    })
}

/// Whether a frame that arrived on a session's signal queue opens a fallback handshake.
pub fn is_handshake_start(text: &str) -> bool {
    matches!(decode(text), Some((KIND_HANDSHAKE_1, _)))
}

#[cfg(test)]
mod tests;
