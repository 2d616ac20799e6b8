//! Whether a received text is a web link the app may offer to open ("Open link"): the whole
//! text, trimmed, is one `http://` or `https://` URL with a host. A received text is hostile,
//! so anything else — another scheme (`file:`, `javascript:`, `peerdrop:`), a user name before
//! the host (`https://bank.example@evil.example/` reads like the first host but goes to the
//! second), spaces, control or non-ASCII characters, a text around the link — is only shown
//! and copied, never opened. Pure string handling, shared by the UI (which shows the button)
//! and the app (which checks again before opening).

/// Longest link offered for opening, in bytes.
pub const MAX_WEB_LINK_LEN: usize = 2048;

/// The link to open when `text` is exactly one web link, else `None`.
pub fn web_link(text: &str) -> Option<&str> {
    let link = text.trim();
    if link.is_empty() || link.len() > MAX_WEB_LINK_LEN {
        return None;
    }
    let (scheme, rest) = link.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    if !rest.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..host_end];
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_web_link_is_offered() {
        assert_eq!(
            web_link("  https://example.org/t?id=42#top\n"),
            Some("https://example.org/t?id=42#top")
        );
        assert_eq!(web_link("HTTP://[::1]:8080/"), Some("HTTP://[::1]:8080/"));
    }

    #[test]
    fn anything_else_is_only_shown() {
        for text in [
            "",
            "see https://example.org",
            "https://example.org and more",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "peerdrop://send?to=K7QM-2X",
            "https://bank.example@evil.example/",
            "https:///path-without-host",
            "https://exa\u{0}mple.org",
            "https://exämple.org",
            "ftp://example.org",
        ] {
            assert_eq!(web_link(text), None, "{text:?}");
        }
        let long = format!("https://example.org/{}", "a".repeat(MAX_WEB_LINK_LEN));
        assert_eq!(web_link(&long), None);
    }
}
