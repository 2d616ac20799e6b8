//! The canonical text form of certificate fingerprints, which the verification phrase
//! ([`crate::sas`]) hashes.

/// Canonical form of a SHA-256 fingerprint: 32 bytes as lowercase hex joined with `:`.
/// `None` for anything else (wrong length, not hex).
pub fn normalize_fingerprint(value: &str) -> Option<String> {
    let parts: Vec<&str> = value.trim().split(':').collect();
    if parts.len() != 32
        || !parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return None;
    }
    Some(parts.join(":").to_ascii_lowercase())
}
