//! Fresh verification nonces ([`super::sas`]), from the OS's secure randomness through the
//! WebRTC stack's crypto provider (the only randomness source core already depends on).

use super::sas::{hex, NONCE_BYTES};
use webrtc::peer_connection::crypto::default_provider;

/// A fresh random nonce, lowercase hex.
pub fn new_nonce() -> String {
    let mut bytes = [0u8; NONCE_BYTES];
    match default_provider().and_then(|p| p.random().fill(&mut bytes)) {
        Ok(()) => {}
        Err(e) => {
            // The OS RNG failing is not survivable for a security feature; uuid's v4 uses the
            // same OS source, so reaching this means no randomness at all.
            panic!("no secure randomness available: {e}");
        }
    }
    hex(&bytes)
}
