//! Cleaning what a peer says about itself (device name, claimed fingerprint) before other
//! peers see it.
//!
//! Names are shown in other people's UIs and terminals, so the server passes on their display
//! form ([`display_form`]: NFKC, without control characters, terminal escapes, bidi overrides
//! or other invisible characters, whitespace collapsed) and caps the length at
//! [`MAX_DEVICE_NAME_CHARS`]. A claimed certificate
//! fingerprint is passed on only if it looks like one (hex digits and colons, at most
//! [`MAX_FINGERPRINT_CHARS`]); anything else is dropped rather than refused, so a client with
//! an odd fingerprint still works, it just cannot be de-duplicated by it.

use peerdrop_proto::device_name::display_form;
use peerdrop_proto::signal::{MAX_DEVICE_NAME_CHARS, MAX_FINGERPRINT_CHARS};

/// Name given to a peer whose chosen name is empty after cleaning.
pub const UNNAMED_DEVICE: &str = "Unnamed device";

/// Returns the name other peers will see for `raw`.
pub fn sanitize_name(raw: &str) -> String {
    let cleaned = display_form(raw);
    let cut: String = cleaned.chars().take(MAX_DEVICE_NAME_CHARS).collect();
    let name = cut.trim_end();
    if name.is_empty() {
        UNNAMED_DEVICE.to_string()
    } else {
        name.to_string()
    }
}

/// Returns the fingerprint other peers will see for a claimed one: unchanged if it is 1 to
/// [`MAX_FINGERPRINT_CHARS`] characters of `[0-9A-Fa-f:]`, otherwise `None`.
pub fn sanitize_fingerprint(claimed: Option<String>) -> Option<String> {
    claimed.filter(|f| {
        !f.is_empty()
            && f.len() <= MAX_FINGERPRINT_CHARS
            && f.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_ordinary_names() {
        assert_eq!(sanitize_name("  Ana's laptop \n"), "Ana's laptop");
        assert_eq!(sanitize_name("Łukasz 📱"), "Łukasz 📱");
    }

    #[test]
    fn removes_control_and_escape_characters() {
        assert_eq!(sanitize_name("Ben\u{1b}[31m\u{7}PC\r\n"), "Ben[31mPC");
        assert_eq!(sanitize_name("evil\u{202E}txt.exe"), "eviltxt.exe");
    }

    #[test]
    fn empty_becomes_unnamed() {
        assert_eq!(sanitize_name(""), UNNAMED_DEVICE);
        assert_eq!(sanitize_name(" \t\u{0}\u{1b} "), UNNAMED_DEVICE);
    }

    #[test]
    fn fingerprints_pass_only_when_they_look_like_one() {
        let sha256 = (0..32)
            .map(|i| format!("{i:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(sha256.len(), 95);
        assert_eq!(sanitize_fingerprint(Some(sha256.clone())), Some(sha256));
        assert_eq!(
            sanitize_fingerprint(Some("ab:CD:01".into())),
            Some("ab:CD:01".into())
        );
        let longest = "a".repeat(MAX_FINGERPRINT_CHARS);
        assert_eq!(sanitize_fingerprint(Some(longest.clone())), Some(longest));
        assert_eq!(
            sanitize_fingerprint(Some("a".repeat(MAX_FINGERPRINT_CHARS + 1))),
            None
        );
        for bad in [
            "",
            "sha-256 AB:CD",
            "AB CD",
            "AB:\u{1b}[2J",
            "AB:CD\n",
            "ÀB:CD",
            "0x12",
        ] {
            assert_eq!(sanitize_fingerprint(Some(bad.into())), None, "{bad:?}");
        }
        assert_eq!(sanitize_fingerprint(None), None);
    }

    #[test]
    fn cuts_on_character_boundary() {
        let long = "é".repeat(200);
        let name = sanitize_name(&long);
        assert_eq!(name.chars().count(), MAX_DEVICE_NAME_CHARS);
        let spaced = format!("{} tail", "a".repeat(MAX_DEVICE_NAME_CHARS - 1));
        assert_eq!(
            sanitize_name(&spaced),
            "a".repeat(MAX_DEVICE_NAME_CHARS - 1),
            "no trailing space after the cut"
        );
    }
}
