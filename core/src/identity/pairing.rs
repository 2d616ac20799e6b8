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

use std::collections::HashMap;

use peerdrop_machine::fingerprint::normalize_fingerprint;
use peerdrop_proto::signal::{PeerInfo, MAX_PAIRING_TAGS};

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

/// One pinned device a node watches for: the tag it shares with it, and the pin it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairingWatch {
    /// The tag sent in `watch`.
    pub tag: String,
    /// The pinned fingerprint (canonical form): a `paired` entry must claim exactly this one.
    pub fingerprint: String,
    /// The name the device was pinned as: a `paired` entry is listed under it, whatever it
    /// calls itself now, so a peer claiming a pinned fingerprint it cannot prove is shown as
    /// that device and then refused as a changed identity, never sent to as someone new.
    pub pinned_as: String,
}

/// What device `own` watches for its pins `pinned` (fingerprint and name, oldest first, as
/// pinned): one entry per pinned fingerprint, for the [`MAX_PAIRING_TAGS`] most recent.
pub fn pairing_watches<'a>(
    own: &str,
    pinned: impl DoubleEndedIterator<Item = (&'a str, &'a str)>,
) -> Vec<PairingWatch> {
    let mut watches: Vec<PairingWatch> = Vec::new();
    for (fingerprint, name) in pinned.rev() {
        if watches.len() == MAX_PAIRING_TAGS {
            break;
        }
        let (Some(tag), Some(fingerprint)) = (
            pairing_tag(own, fingerprint),
            normalize_fingerprint(fingerprint),
        ) else {
            continue;
        };
        if !watches.iter().any(|w| w.tag == tag) {
            watches.push(PairingWatch {
                tag,
                fingerprint,
                pinned_as: name.to_string(),
            });
        }
    }
    watches
}

/// The entries of a server's `paired` list this device shows: those claiming a fingerprint in
/// `pins` (canonical fingerprint → the name it was pinned as), each renamed to its pinned
/// name. Anyone who knows two paired devices' fingerprints can hold their tag; under another
/// fingerprint it is dropped here, and under the pinned one it is listed as that device, so a
/// connection to it proves another certificate under a pinned name: a changed identity,
/// which the sender refuses (docs/security.md, *Pinning*).
pub fn paired_as_pinned(peers: Vec<PeerInfo>, pins: &HashMap<String, String>) -> Vec<PeerInfo> {
    peers
        .into_iter()
        .filter_map(|mut peer| {
            let claimed = peer
                .fingerprint
                .as_deref()
                .and_then(normalize_fingerprint)?;
            peer.name = pins.get(&claimed)?.clone();
            Some(peer)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerdrop_proto::signal::DeviceKind;

    #[test]
    fn paired_entries_are_listed_only_for_pins_and_under_the_pinned_name() {
        let entry = |name: &str, fp: Option<String>| PeerInfo {
            id: uuid::Uuid::new_v4(),
            name: name.into(),
            kind: DeviceKind::Cli,
            fingerprint: fp,
            max_packet: None,
        };
        let pins = HashMap::from([(fp(0xbb), "Bee desk".to_string())]);
        let listed = paired_as_pinned(
            vec![
                entry("Renamed bee", Some(fp(0xbb).to_uppercase())),
                entry("Watcher", Some(fp(0xcc))),
                entry("No fingerprint", None),
                entry("Garbage", Some("zz".into())),
            ],
            &pins,
        );
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, "Bee desk");
        assert_eq!(listed[0].fingerprint, Some(fp(0xbb).to_uppercase()));
    }

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
        let mut with_repeats: Vec<(&str, &str)> =
            pins.iter().map(|p| (p.as_str(), "some name")).collect();
        with_repeats.push((&pins[299], "again"));
        with_repeats.push((&own, "myself"));
        let watches = pairing_watches(&own, with_repeats.into_iter());
        assert_eq!(watches.len(), MAX_PAIRING_TAGS);
        assert_eq!(watches[0].tag, pairing_tag(&own, &pins[299]).unwrap());
        assert_eq!(watches[0].fingerprint, pins[299]);
        assert_eq!(watches[0].pinned_as, "again");
        let tags: Vec<String> = watches.into_iter().map(|w| w.tag).collect();
        assert!(!tags.contains(&pairing_tag(&own, &pins[0]).unwrap()));
        assert!(tags.contains(&pairing_tag(&own, &pins[44]).unwrap()));
    }
}
