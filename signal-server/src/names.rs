//! Cleaning device names before other peers see them.
//!
//! Names are shown in other people's UIs and terminals, so the server strips what could
//! hide or rearrange text (control characters, terminal escapes, bidi overrides), trims
//! whitespace and caps the length at [`MAX_DEVICE_NAME_CHARS`].

use peerdrop_proto::signal::MAX_DEVICE_NAME_CHARS;

/// Name given to a peer whose chosen name is empty after cleaning.
pub const UNNAMED_DEVICE: &str = "Unnamed device";

/// Returns the name other peers will see for `raw`.
pub fn sanitize_name(raw: &str) -> String {
    let cleaned: String = raw.chars().filter(|c| !is_hidden_char(*c)).collect();
    let cut: String = cleaned.trim().chars().take(MAX_DEVICE_NAME_CHARS).collect();
    let name = cut.trim_end();
    if name.is_empty() {
        UNNAMED_DEVICE.to_string()
    } else {
        name.to_string()
    }
}

/// Control characters (including ESC, so no terminal escapes survive) and the Unicode
/// bidirectional formatting characters that can make a name display as something else.
fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
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
