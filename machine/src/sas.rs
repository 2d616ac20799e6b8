//! The short authentication string (SAS): four words both people compare.
//!
//! Input: both DTLS certificate fingerprints (sorted, so both sides hash the same bytes) and,
//! for transfers, two nonces exchanged by commit–reveal over the encrypted control channel:
//!
//! 1. sender → receiver: `commit = H(nonce_s)`;
//! 2. receiver → sender: `nonce_r` (chosen after seeing only the commitment);
//! 3. sender → receiver: `nonce_s` (checked against the commitment).
//!
//! Why the nonces: with fingerprints alone, a man in the middle that relays the SDP knows
//! both honest fingerprints before it must show its own, so it could generate certificates
//! until the two phrases collide (32 bits is a few CPU-hours). With the commit–reveal, each
//! leg's phrase depends on a nonce the attacker cannot know or change at the moment it has to
//! commit, so its chance of matching phrases is 2^-32 per attempt, which a person notices
//! long before it succeeds.

//! Pure (no I/O, no randomness): fresh nonces come from the driver (`peerdrop-core`'s
//! `identity::nonce`), which hands them to the machines.

use super::words::WORDS;

/// Bytes of randomness in each nonce.
pub const NONCE_BYTES: usize = 32;

/// Words in a phrase.
pub const PHRASE_WORDS: usize = 4;

const PHRASE_CONTEXT: &str = "peerdrop 2025-06 verification phrase v1";
const COMMIT_CONTEXT: &str = "peerdrop 2025-06 verification commitment v1";

/// Commitment to `nonce` (lowercase hex).
pub fn commitment(nonce: &str) -> String {
    let mut hasher = blake3::Hasher::new_derive_key(COMMIT_CONTEXT);
    hasher.update(nonce.as_bytes());
    hasher.finalize().to_hex().to_string()
}

/// Whether `value` is a well-formed nonce (64 lowercase or uppercase hex digits).
pub fn is_valid_nonce(value: &str) -> bool {
    value.len() == NONCE_BYTES * 2 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The phrase for two fingerprints alone (same on both sides: order does not matter). For
/// carriers that bind their own fresh randomness into the fingerprints (e.g. ephemeral keys
/// of the fallback relay); transfers over WebRTC use [`transfer_phrase`].
pub fn phrase(local_fp: &str, remote_fp: &str) -> String {
    phrase_with_context(local_fp, remote_fp, &[])
}

/// The phrase of one transfer: both fingerprints plus the sender's and the receiver's nonce.
pub fn transfer_phrase(
    local_fp: &str,
    remote_fp: &str,
    sender_nonce: &str,
    receiver_nonce: &str,
) -> String {
    let mut context = Vec::with_capacity(sender_nonce.len() + receiver_nonce.len() + 2);
    context.extend_from_slice(sender_nonce.to_ascii_lowercase().as_bytes());
    context.push(b'\n');
    context.extend_from_slice(receiver_nonce.to_ascii_lowercase().as_bytes());
    phrase_with_context(local_fp, remote_fp, &context)
}

/// [`transfer_phrase`] over a channel whose fingerprints are only *claimed* (the encrypted
/// relay, where no DTLS proves them): `binding` (that channel's handshake hash, equal at
/// both ends of one handshake) is hashed in too, so a man in the middle who forwards the real
/// fingerprints but runs two handshakes still produces two different phrases.
pub fn bound_transfer_phrase(
    local_fp: &str,
    remote_fp: &str,
    sender_nonce: &str,
    receiver_nonce: &str,
    binding: Option<&str>,
) -> String {
    match binding {
        None => transfer_phrase(local_fp, remote_fp, sender_nonce, receiver_nonce),
        Some(binding) => {
            let mut context = Vec::new();
            context.extend_from_slice(sender_nonce.to_ascii_lowercase().as_bytes());
            context.push(b'\n');
            context.extend_from_slice(receiver_nonce.to_ascii_lowercase().as_bytes());
            context.extend_from_slice(b"\nbinding:");
            context.extend_from_slice(binding.as_bytes());
            phrase_with_context(local_fp, remote_fp, &context)
        }
    }
}

fn phrase_with_context(local_fp: &str, remote_fp: &str, context: &[u8]) -> String {
    let a = canonical(local_fp);
    let b = canonical(remote_fp);
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    let mut hasher = blake3::Hasher::new_derive_key(PHRASE_CONTEXT);
    for part in [first.as_bytes(), second.as_bytes(), context] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    digest.as_bytes()[..PHRASE_WORDS]
        .iter()
        .map(|b| WORDS[*b as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

fn canonical(fp: &str) -> String {
    crate::fingerprint::normalize_fingerprint(fp).unwrap_or_else(|| fp.trim().to_ascii_lowercase())
}

/// Lowercase hex of `bytes` (how nonces travel).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinct well-formed nonces; the tests need different values, not secret ones.
    fn new_nonce() -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        blake3::hash(&n.to_le_bytes()).to_hex().to_string()
    }
    use std::collections::HashSet;

    fn fp(seed: u8) -> String {
        (0..32u8)
            .map(|i| format!("{:02x}", i.wrapping_mul(seed).wrapping_add(seed)))
            .collect::<Vec<_>>()
            .join(":")
    }

    #[test]
    fn the_word_list_has_256_distinct_words() {
        let set: HashSet<_> = WORDS.iter().collect();
        assert_eq!(set.len(), 256);
        assert!(WORDS
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())));
    }

    #[test]
    fn both_sides_get_the_same_phrase() {
        let (a, b) = (fp(3), fp(5));
        let p = phrase(&a, &b);
        assert_eq!(p, phrase(&b, &a));
        assert_eq!(p.split(' ').count(), PHRASE_WORDS);
        assert_eq!(
            p,
            phrase(&a.to_ascii_uppercase(), &b),
            "case does not matter"
        );
        let (n1, n2) = (new_nonce(), new_nonce());
        assert_eq!(
            transfer_phrase(&a, &b, &n1, &n2),
            transfer_phrase(&b, &a, &n1, &n2)
        );
    }

    #[test]
    fn a_different_certificate_or_nonce_changes_the_phrase() {
        let (a, b, m) = (fp(3), fp(5), fp(7));
        // A man in the middle: each honest side sees the attacker's certificate.
        assert_ne!(phrase(&a, &m), phrase(&m, &b));
        let (n1, n2) = (new_nonce(), new_nonce());
        assert_ne!(
            transfer_phrase(&a, &b, &n1, &n2),
            transfer_phrase(&a, &b, &n2, &n1)
        );
        // Over many random certificates the phrases spread out (no constant output).
        let phrases: HashSet<String> = (1..=200u8).map(|s| phrase(&a, &fp(s))).collect();
        assert!(phrases.len() > 190, "{}", phrases.len());
    }

    #[test]
    fn a_relay_binding_separates_the_two_legs_of_a_man_in_the_middle() {
        let (a, b) = (fp(3), fp(5));
        let (n1, n2) = (new_nonce(), new_nonce());
        // The attacker forwards the real fingerprints and nonces; only the handshakes differ.
        let leg_a = bound_transfer_phrase(&a, &b, &n1, &n2, Some("AAAA-AAAA"));
        let leg_b = bound_transfer_phrase(&b, &a, &n1, &n2, Some("BBBB-BBBB"));
        assert_ne!(leg_a, leg_b);
        assert_eq!(
            leg_a,
            bound_transfer_phrase(&b, &a, &n1, &n2, Some("AAAA-AAAA")),
            "both ends of one handshake agree"
        );
        assert_eq!(
            bound_transfer_phrase(&a, &b, &n1, &n2, None),
            transfer_phrase(&a, &b, &n1, &n2)
        );
    }

    #[test]
    fn commitments_bind_the_nonce() {
        let n = new_nonce();
        assert!(is_valid_nonce(&n));
        assert_eq!(commitment(&n), commitment(&n));
        assert_ne!(commitment(&n), commitment(&new_nonce()));
        assert!(!is_valid_nonce("abc"));
        assert!(!is_valid_nonce(&"g".repeat(64)));
    }
}
