//! Short human codes (`K7QM-2X`) that let a sender reach a receiver on another network.
//!
//! The alphabet leaves out characters people confuse when reading a code aloud or off a
//! screen (0/O, 1/I/L, U/V). Six symbols from 29 give ~595 million codes; the server
//! rate-limits look-ups so guessing one is impractical.

/// Symbols a code is made of.
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTWXYZ";

/// Number of symbols in a code (the dash is presentation only).
pub const CODE_LEN: usize = 6;

/// Formats six symbols as `XXXX-XX`, the form shown to users.
pub fn format_code(symbols: &str) -> String {
    if symbols.len() == CODE_LEN {
        format!("{}-{}", &symbols[..4], &symbols[4..])
    } else {
        symbols.to_string()
    }
}

/// Normalises what a user typed (any case, dashes, spaces) to the canonical six symbols.
///
/// Returns `None` when the input cannot be a code, so a typo fails fast and locally
/// instead of costing a rate-limited server look-up.
pub fn normalize_code(input: &str) -> Option<String> {
    let cleaned: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid = cleaned.len() == CODE_LEN && cleaned.bytes().all(|b| CODE_ALPHABET.contains(&b));
    valid.then(|| format_code(&cleaned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_user_input() {
        assert_eq!(normalize_code("k7qm-2x").as_deref(), Some("K7QM-2X"));
        assert_eq!(normalize_code(" K7QM 2X ").as_deref(), Some("K7QM-2X"));
        assert_eq!(normalize_code("K7QM2X").as_deref(), Some("K7QM-2X"));
    }

    #[test]
    fn rejects_non_codes() {
        assert_eq!(normalize_code(""), None);
        assert_eq!(normalize_code("K7QM-2"), None);
        assert_eq!(normalize_code("K7QM-2XX"), None);
        assert_eq!(
            normalize_code("O0IL-11"),
            None,
            "confusable symbols are not in the alphabet"
        );
    }
}
