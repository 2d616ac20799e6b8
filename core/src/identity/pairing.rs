//! Pairing tags: how two devices that pinned each other find each other again through any
//! server they both use, wherever they connect from, without a code.
//!
//! For each pinned device a node watches one tag derived from *both* certificate
//! fingerprints (BLAKE3 derive-key over the two, sorted, each length-prefixed). Both devices
//! compute the same tag, and the server groups peers that watch the same one
//! ([`peerdrop_proto::signal::ClientMsg::Watch`]). The tag is not a secret the server holds
//! or hands out: anyone who knows both fingerprints can compute it (docs/security.md,
//! *Paired devices*, says what that reveals), and it proves nothing — the connection's DTLS
//! handshake (or the relay's identity proof) does, and the pins decide trust as always.

use peerdrop_machine::fingerprint::normalize_fingerprint;
use peerdrop_proto::signal::MAX_PAIRING_TAGS;

/// The BLAKE3 derive-key context of pairing tags; a new scheme gets a new context.
pub const PAIRING_TAG_CONTEXT: &str = "peerdrop pairing tag v1";

/// The tag two devices with fingerprints `a` and `b` share (the same either way round), as
/// 64 lowercase hex digits; `None` when either is not a SHA-256 fingerprint or both are one.
pub fn pairing_tag(a: &str, b: &str) -> Option<String> {
    let (a, b) = (normalize_fingerprint(a)?, normalize_fingerprint(b)?);
    if a == b {
        return None;
    }
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    let mut hasher = blake3::Hasher::new_derive_key(PAIRING_TAG_CONTEXT);
    for part in [low, high] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    Some(hasher.finalize().to_hex().to_string())
}

/// The tags device `own` watches for its pins `pinned` (oldest first, as pinned): one per
/// pinned fingerprint, for the [`MAX_PAIRING_TAGS`] most recent, without repeats.
pub fn pairing_tags<'a>(
    own: &str,
    pinned: impl DoubleEndedIterator<Item = &'a str>,
) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for fingerprint in pinned.rev() {
        if tags.len() == MAX_PAIRING_TAGS {
            break;
        }
        if let Some(tag) = pairing_tag(own, fingerprint) {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(byte: u8) -> String {
        vec![format!("{byte:02x}"); 32].join(":")
    }

    #[test]
    fn both_devices_compute_the_same_tag_and_others_another() {
        let (a, b, c) = (fp(0xaa), fp(0xbb), fp(0xcc));
        let ab = pairing_tag(&a, &b).unwrap();
        assert_eq!(ab.len(), 64);
        assert!(ab.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(pairing_tag(&b, &a).as_ref(), Some(&ab));
        // Spelling does not matter (upper case is the SDP's), the pair does.
        assert_eq!(pairing_tag(&a.to_uppercase(), &b).as_ref(), Some(&ab));
        assert_ne!(pairing_tag(&a, &c).unwrap(), ab);
        assert_ne!(pairing_tag(&b, &c).unwrap(), ab);
        assert_eq!(pairing_tag(&a, &a), None);
        assert_eq!(pairing_tag(&a, "not a fingerprint"), None);
    }

    #[test]
    fn the_tag_is_what_docs_protocol_md_says() {
        // docs/protocol.md, "Paired devices": the test vector there.
        let (a, b) = (fp(0x01), fp(0x02));
        let mut input = Vec::new();
        for part in [&a, &b] {
            input.extend_from_slice(&(part.len() as u64).to_le_bytes());
            input.extend_from_slice(part.as_bytes());
        }
        let expected = blake3::derive_key(PAIRING_TAG_CONTEXT, &input);
        assert_eq!(
            pairing_tag(&b, &a).unwrap(),
            blake3::Hash::from(expected).to_hex().to_string()
        );
        assert_eq!(
            pairing_tag(&a, &b).unwrap(),
            "718540574d1ddbd1d005439c59937523570a8d41cb64a621ca394e30b6988620"
        );
    }

    #[test]
    fn the_newest_pins_are_watched_at_most_256() {
        let own = fp(0);
        let pins: Vec<String> = (0..300u32)
            .map(|i| {
                let b = i.to_be_bytes();
                let mut bytes = [0x11u8; 32];
                bytes[..4].copy_from_slice(&b);
                bytes
                    .iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            })
            .collect();
        let mut with_repeats: Vec<&str> = pins.iter().map(String::as_str).collect();
        with_repeats.push(&pins[299]);
        with_repeats.push(&own);
        let tags = pairing_tags(&own, with_repeats.into_iter());
        assert_eq!(tags.len(), MAX_PAIRING_TAGS);
        assert_eq!(tags[0], pairing_tag(&own, &pins[299]).unwrap());
        assert!(!tags.contains(&pairing_tag(&own, &pins[0]).unwrap()));
        assert!(tags.contains(&pairing_tag(&own, &pins[44]).unwrap()));
    }
}
