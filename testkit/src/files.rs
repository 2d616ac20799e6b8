//! Test payloads: deterministic, so a failure replays, and incompressible enough that no
//! layer can shortcut them.

use std::path::Path;

/// `len` pseudo-random bytes (xorshift64, seeded): the same seed gives the same bytes.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(len);
    data
}

/// Writes [`random_bytes`] to `path`, creating its folder. Panics on failure (a test that
/// cannot write its own payload cannot go on).
pub fn random_file(path: &Path, len: usize, seed: u64) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
    }
    std::fs::write(path, random_bytes(len, seed))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// BLAKE3 (lowercase hex) of the file at `path`, or of nothing when it cannot be read.
pub fn blake3_file(path: &Path) -> String {
    let data = std::fs::read(path).unwrap_or_default();
    blake3::hash(&data).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_others() {
        assert_eq!(random_bytes(1000, 7), random_bytes(1000, 7));
        assert_ne!(random_bytes(1000, 7), random_bytes(1000, 8));
        assert_eq!(random_bytes(13, 1).len(), 13);
        assert!(random_bytes(0, 1).is_empty());
    }
}
