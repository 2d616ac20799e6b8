//! `peerdrop://` links: the one format the app's QR code, the app's link handler and
//! `peerdrop receive --qr` share.
//!
//! ```text
//! peerdrop://send?to=K7QM-2X
//! peerdrop://send?to=K7QM-2X&server=wss%3A%2F%2Fpeerdrop.example.org%2Fws
//! peerdrop://receive        peerdrop://settings        peerdrop://send
//! ```
//!
//! A link to a receiver names its code and, when the receiver registered on a signaling server
//! other devices can use, that server: a device scanning it can then reach the receiver even if
//! it normally uses another server (or none). Links come from anywhere (a web page, a QR code on
//! a poster), so parsing is strict and total:
//! - the whole text is bounded ([`MAX_LINK_LEN`]) before anything else is looked at;
//! - the code is checked and normalised like a typed one ([`normalize_code`]);
//! - the server must be a plain `ws://` or `wss://` URL with a host, no user name or password
//!   (`wss://trusted.example@evil.example/` reads like the first host but connects to the
//!   second), no fragment, at most [`MAX_SERVER_LEN`] characters;
//! - a value given twice, bad percent-encoding or an unknown page refuses the whole link, so a
//!   half-understood link never opens anything. Unknown parameters are ignored (newer senders
//!   may add some).
//!
//! A link only ever opens a page and fills in a code and a server; what to send and the
//! decision to send stay with the person.
//!
//! Pure string handling: no I/O, no URL library, so it builds for the wasm UI at no cost.

use crate::code::normalize_code;

/// The URL scheme of PeerDrop links. Registered for the app by the `.desktop` entry
/// (`x-scheme-handler/peerdrop`), the Windows installer and the Android manifest.
pub const SCHEME: &str = "peerdrop";

/// Longest link accepted, in bytes. A built link is far shorter (a server of
/// [`MAX_SERVER_LEN`] characters percent-encodes to at most three times that); the bound keeps a
/// hostile megabyte argument from costing anything.
pub const MAX_LINK_LEN: usize = 1024;

/// Longest server URL a link may carry, in bytes (`wss://peerdrop.example.org/ws` is 29). Keeps
/// the QR code small enough to scan from a screen.
pub const MAX_SERVER_LEN: usize = 256;

/// A page of the app a link can open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// Send (optionally with a receiver's code, and the server to reach it through).
    Send,
    /// Receive: this device's code and QR.
    Receive,
    /// Settings.
    Settings,
}

impl Page {
    /// The page's name in a link (`peerdrop://<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Page::Send => "send",
            Page::Receive => "receive",
            Page::Settings => "settings",
        }
    }
}

/// A parsed (or to be built) `peerdrop://` link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The page to open.
    pub page: Page,
    /// For [`Page::Send`]: the receiver's code, normalised (`K7QM-2X`).
    pub to: Option<String>,
    /// For [`Page::Send`]: the signaling server the receiver is registered on (`ws://` or
    /// `wss://`, checked by [`check_server`]); `None` means "the sender's own".
    pub server: Option<String>,
}

/// Why a text is not a usable PeerDrop link. The messages complete "This PeerDrop link cannot
/// be opened: …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Longer than [`MAX_LINK_LEN`].
    #[error("it is too long ({0} bytes; at most {max})", max = MAX_LINK_LEN)]
    TooLong(usize),
    /// Another scheme (`https:`, `javascript:`, …) or no scheme at all.
    #[error("it is not a peerdrop:// link")]
    NotPeerDrop,
    /// A page the app does not have.
    #[error("unknown page {0:?}")]
    UnknownPage(String),
    /// The code is not six symbols of the code alphabet.
    #[error("its code is not a PeerDrop code (6 letters and digits, like K7QM-2X)")]
    BadCode,
    /// The server is not a plain `ws://`/`wss://` URL (the reason says what is wrong).
    #[error("its server {reason}")]
    BadServer {
        /// What is wrong, e.g. "must start with ws:// or wss://".
        reason: &'static str,
    },
    /// A parameter given twice (`to` and `code` count as one).
    #[error("it gives {0:?} more than once")]
    Repeated(&'static str),
    /// Broken percent-encoding, or bytes that are not UTF-8 once decoded.
    #[error("it is not a valid link (bad %-encoding)")]
    BadEncoding,
}

impl Link {
    /// A link to send to the device holding `code`, through `server` when given. Checks both,
    /// so whatever this returns formats into a link [`parse`] accepts.
    pub fn send(code: &str, server: Option<&str>) -> Result<Link, LinkError> {
        let to = normalize_code(code).ok_or(LinkError::BadCode)?;
        let server = server.map(check_server).transpose()?;
        Ok(Link {
            page: Page::Send,
            to: Some(to),
            server,
        })
    }

    /// The link as text: `peerdrop://send?to=K7QM-2X&server=<percent-encoded URL>`. The code
    /// needs no encoding (its alphabet and the dash are unreserved characters); the server is
    /// encoded whole, so its `:`, `/`, `?` and `&` never mix with the link's own.
    pub fn to_uri(&self) -> String {
        let mut uri = format!("{SCHEME}://{}", self.page.name());
        let mut separator = '?';
        if let Some(to) = &self.to {
            uri.push(separator);
            uri.push_str("to=");
            percent_encode_into(to, &mut uri);
            separator = '&';
        }
        if let Some(server) = &self.server {
            uri.push(separator);
            uri.push_str("server=");
            percent_encode_into(server, &mut uri);
        }
        uri
    }
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_uri())
    }
}

/// The link to send to `code` through `server` (see [`Link::send`]), as text.
pub fn send_link(code: &str, server: Option<&str>) -> Result<String, LinkError> {
    Link::send(code, server).map(|link| link.to_uri())
}

/// True when `text` starts with `peerdrop:` (any case): it is meant as a link, so a front end
/// should report why it cannot be opened rather than treat it as, say, a file name.
pub fn is_peerdrop_link(text: &str) -> bool {
    let text = text.trim_start();
    text.as_bytes().get(SCHEME.len()) == Some(&b':')
        && text
            .get(..SCHEME.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
}

/// Parses a link: `peerdrop://send?to=CODE[&server=URL]` (`code=` also names the code),
/// `peerdrop://send`, `peerdrop://receive` (also `peerdrop://`), `peerdrop://settings`, with
/// or without the `//` and a trailing `/`; scheme and page in any case. `to` and `server` are
/// read for Send only. See the module docs for what is refused.
pub fn parse(text: &str) -> Result<Link, LinkError> {
    if text.len() > MAX_LINK_LEN {
        return Err(LinkError::TooLong(text.len()));
    }
    let text = text.trim();
    if !is_peerdrop_link(text) {
        return Err(LinkError::NotPeerDrop);
    }
    let rest = &text[SCHEME.len() + 1..];
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    // A fragment means nothing to PeerDrop; drop it as a browser would.
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (target, query) = rest.split_once('?').unwrap_or((rest, ""));
    let page = match target.trim_matches('/').to_ascii_lowercase().as_str() {
        "send" => Page::Send,
        "receive" | "" => Page::Receive,
        "settings" => Page::Settings,
        other => return Err(LinkError::UnknownPage(shorten(other))),
    };
    let mut link = Link {
        page,
        to: None,
        server: None,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key)?;
        // Decode every value, even ignored ones: a link with broken encoding is broken.
        let value = percent_decode(value)?;
        if page != Page::Send {
            continue;
        }
        match key.as_str() {
            "to" | "code" => {
                if link.to.is_some() {
                    return Err(LinkError::Repeated("to"));
                }
                link.to = Some(normalize_code(&value).ok_or(LinkError::BadCode)?);
            }
            "server" => {
                if link.server.is_some() {
                    return Err(LinkError::Repeated("server"));
                }
                link.server = Some(check_server(&value)?);
            }
            _ => {}
        }
    }
    Ok(link)
}

/// Checks that `url` is a server a link may name: `ws://` or `wss://` (any case; returned in
/// lower case), a host name, IPv4 or bracketed IPv6 address, an optional port 1–65535, an
/// optional path and query of printable URL characters; no user name or password, no
/// fragment, no spaces or control characters, at most [`MAX_SERVER_LEN`] bytes. Returns it
/// trimmed, with the scheme in lower case.
pub fn check_server(url: &str) -> Result<String, LinkError> {
    let bad = |reason| LinkError::BadServer { reason };
    let url = url.trim();
    if url.len() > MAX_SERVER_LEN {
        return Err(bad("is too long"));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or(bad("must start with ws:// or wss://"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "ws" && scheme != "wss" {
        return Err(bad("must start with ws:// or wss://"));
    }
    if !rest.bytes().all(is_url_byte) {
        return Err(bad("contains characters a URL cannot have"));
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(bad("must not contain a user name or password"));
    }
    if tail.contains('#') || authority.contains('#') {
        return Err(bad("must not have a #fragment"));
    }
    let port = if let Some(v6) = authority.strip_prefix('[') {
        let (address, after) = v6.split_once(']').ok_or(bad("has a broken IPv6 address"))?;
        let valid = !address.is_empty()
            && address.contains(':')
            && address
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !valid {
            return Err(bad("has a broken IPv6 address"));
        }
        match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(bad("has a broken port"))?),
        }
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
            && !host.starts_with(['.', '-']);
        if !valid {
            return Err(bad("has no valid host name"));
        }
        port
    };
    if let Some(port) = port {
        let number = port
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| port.parse::<u16>().ok())
            .flatten();
        if !matches!(number, Some(1..)) {
            return Err(bad("has a broken port"));
        }
    }
    Ok(format!("{scheme}://{rest}"))
}

/// Characters a server URL may contain: RFC 3986's unreserved, reserved and `%`.
fn is_url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

/// At most 40 characters of a hostile page name, for an error message.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Appends `text` with everything but RFC 3986's unreserved characters percent-encoded.
fn percent_encode_into(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// Decodes `%XX` escapes and `+` (a space, as in HTML forms); the result must be UTF-8.
fn percent_decode(text: &str) -> Result<String, LinkError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(LinkError::BadEncoding)?;
                let hex = std::str::from_utf8(hex).map_err(|_| LinkError::BadEncoding)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(LinkError::BadEncoding);
                }
                out.push(u8::from_str_radix(hex, 16).map_err(|_| LinkError::BadEncoding)?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| LinkError::BadEncoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(to: Option<&str>, server: Option<&str>) -> Link {
        Link {
            page: Page::Send,
            to: to.map(Into::into),
            server: server.map(Into::into),
        }
    }

    #[test]
    fn builds_the_documented_form() {
        assert_eq!(
            send_link("k7qm2x", None).unwrap(),
            "peerdrop://send?to=K7QM-2X"
        );
        assert_eq!(
            send_link("K7QM-2X", Some("wss://peerdrop.example.org/ws")).unwrap(),
            "peerdrop://send?to=K7QM-2X&server=wss%3A%2F%2Fpeerdrop.example.org%2Fws"
        );
        assert_eq!(
            Link {
                page: Page::Settings,
                to: None,
                server: None
            }
            .to_string(),
            "peerdrop://settings"
        );
    }

    #[test]
    fn round_trips() {
        for server in [
            None,
            Some("ws://127.0.0.1:8787/ws"),
            Some("wss://peerdrop.example.org/ws"),
            Some("ws://[2001:db8::1]:9000/ws?room=a&b=c%20d"),
            Some("wss://signal-1.example.org:443/peer/ws"),
        ] {
            let text = send_link("m4n5-p6", server).unwrap();
            let link = parse(&text).unwrap();
            assert_eq!(link, send(Some("M4N5-P6"), server), "{text}");
            assert_eq!(link.to_uri(), text);
        }
    }

    #[test]
    fn accepts_what_the_app_always_accepted() {
        for form in [
            "peerdrop://send?to=k7qm2x",
            "PeerDrop://SEND?to=K7QM-2X",
            "peerdrop:send?to=K7QM-2X",
            "peerdrop://send/?to=K7QM-2X",
            "peerdrop://send?code=k7qm-2x",
            "peerdrop://send?to=K7QM+2X",
            "peerdrop://send?to=K7QM%2D2X#top",
            "  peerdrop://send?to=K7QM-2X\n",
            "peerdrop://send?to=K7QM-2X&file=/etc/passwd",
        ] {
            assert_eq!(parse(form), Ok(send(Some("K7QM-2X"), None)), "{form}");
        }
        assert_eq!(parse("peerdrop://send"), Ok(send(None, None)));
        assert_eq!(parse("peerdrop://receive").unwrap().page, Page::Receive);
        assert_eq!(parse("peerdrop://").unwrap().page, Page::Receive);
        assert_eq!(parse("peerdrop:").unwrap().page, Page::Receive);
        assert_eq!(parse("peerdrop://settings/").unwrap().page, Page::Settings);
        // Only Send reads a code or a server.
        assert_eq!(
            parse("peerdrop://settings?to=nope&server=http://x").unwrap(),
            Link {
                page: Page::Settings,
                to: None,
                server: None
            }
        );
    }

    #[test]
    fn reads_the_server_percent_encoded_or_not() {
        let want = send(Some("K7QM-2X"), Some("ws://192.168.1.10:8787/ws"));
        for form in [
            "peerdrop://send?to=K7QM-2X&server=ws%3A%2F%2F192.168.1.10%3A8787%2Fws",
            "peerdrop://send?server=ws://192.168.1.10:8787/ws&to=k7qm2x",
            "peerdrop://send?to=K7QM-2X&server=WS://192.168.1.10:8787/ws",
        ] {
            assert_eq!(parse(form), Ok(want.clone()), "{form}");
        }
        assert_eq!(
            parse("peerdrop://send?server=wss%3A%2F%2Fa.example%2Fws"),
            Ok(send(None, Some("wss://a.example/ws")))
        );
    }

    #[test]
    fn refuses_other_schemes() {
        for text in [
            "javascript:alert(1)",
            "JAVASCRIPT://send?to=K7QM-2X",
            "https://peerdrop.example.org/send?to=K7QM-2X",
            "peerdropx://send?to=K7QM-2X",
            "peerdrop",
            "",
            "PEERDROP-K7QM-2X",
            "file:///etc/passwd",
        ] {
            assert_eq!(parse(text), Err(LinkError::NotPeerDrop), "{text:?}");
        }
    }

    #[test]
    fn refuses_bad_codes_and_pages() {
        for text in [
            "peerdrop://send?to=nope",
            "peerdrop://send?to=",
            "peerdrop://send?to",
            "peerdrop://send?to=O0IL-11",
            "peerdrop://send?to=K7QM-2XX",
            "peerdrop://send?to=%E2%80%AEK7QM-2X",
            "peerdrop://send?to=<script>",
        ] {
            assert_eq!(parse(text), Err(LinkError::BadCode), "{text}");
        }
        assert_eq!(
            parse("peerdrop://format-disk"),
            Err(LinkError::UnknownPage("format-disk".into()))
        );
        assert_eq!(
            parse("peerdrop://send/extra?to=K7QM-2X"),
            Err(LinkError::UnknownPage("send/extra".into()))
        );
        let long_page = format!("peerdrop://{}", "x".repeat(500));
        match parse(&long_page) {
            Err(LinkError::UnknownPage(shown)) => assert!(shown.chars().count() <= 41),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse("peerdrop://send?to=K7QM-2X&code=M4N5-P6"),
            Err(LinkError::Repeated("to"))
        );
        assert_eq!(
            parse("peerdrop://send?to=K7QM-2X&server=ws://a/ws&server=ws://b/ws"),
            Err(LinkError::Repeated("server"))
        );
    }

    #[test]
    fn refuses_servers_that_are_not_plain_websocket_urls() {
        for (server, why) in [
            ("javascript:alert(1)", "must start with ws:// or wss://"),
            (
                "https://peerdrop.example.org/ws",
                "must start with ws:// or wss://",
            ),
            ("file:///etc/passwd", "must start with ws:// or wss://"),
            ("peerdrop.example.org", "must start with ws:// or wss://"),
            ("", "must start with ws:// or wss://"),
            ("ws://", "has no valid host name"),
            ("ws:///ws", "has no valid host name"),
            ("ws://-x.example/ws", "has no valid host name"),
            ("ws://a b/ws", "contains characters a URL cannot have"),
            ("ws://a\u{7}b/ws", "contains characters a URL cannot have"),
            (
                "wss://pëerdrop.example/ws",
                "contains characters a URL cannot have",
            ),
            (
                "wss://good.example@evil.example/ws",
                "must not contain a user name or password",
            ),
            (
                "wss://user:pw@evil.example/ws",
                "must not contain a user name or password",
            ),
            ("wss://a.example/ws#x", "must not have a #fragment"),
            ("ws://a.example:0/ws", "has a broken port"),
            ("ws://a.example:65536/ws", "has a broken port"),
            ("ws://a.example:/ws", "has a broken port"),
            ("ws://a.example:80x/ws", "has a broken port"),
            ("ws://[::1/ws", "has a broken IPv6 address"),
            ("ws://[]/ws", "has a broken IPv6 address"),
            ("ws://[zz::1]/ws", "has a broken IPv6 address"),
            ("ws://[::1]x/ws", "has a broken port"),
        ] {
            assert_eq!(
                check_server(server),
                Err(LinkError::BadServer { reason: why }),
                "{server:?}"
            );
            // The same server inside a link refuses the whole link.
            let mut link = String::from("peerdrop://send?to=K7QM-2X&server=");
            percent_encode_into(server, &mut link);
            assert!(parse(&link).is_err(), "{link}");
            assert!(Link::send("K7QM-2X", Some(server)).is_err(), "{server:?}");
        }
        assert_eq!(
            check_server(&format!("wss://{}.example/ws", "a".repeat(300))),
            Err(LinkError::BadServer {
                reason: "is too long"
            })
        );
        assert_eq!(
            check_server(" WSS://Peerdrop.Example.org:8443/ws "),
            Ok("wss://Peerdrop.Example.org:8443/ws".into())
        );
        assert_eq!(
            check_server("ws://[::1]:8787/ws"),
            Ok("ws://[::1]:8787/ws".into())
        );
    }

    #[test]
    fn refuses_huge_and_broken_input_without_looking_at_it() {
        let huge = format!("peerdrop://send?to=K7QM-2X&pad={}", "a".repeat(1 << 20));
        assert_eq!(parse(&huge), Err(LinkError::TooLong(huge.len())));
        assert!(parse(&"peerdrop://send?to=K7QM-2X".repeat(40)).is_err());
        for text in [
            "peerdrop://send?to=K7QM-2X&server=%",
            "peerdrop://send?to=K7QM-2X&server=%4",
            "peerdrop://send?to=K7QM-2X&server=%zz",
            "peerdrop://send?to=%FF%FE",
            "peerdrop://send?x=%C3&to=K7QM-2X",
        ] {
            assert_eq!(parse(text), Err(LinkError::BadEncoding), "{text}");
        }
        // Multi-byte characters never split a %-escape or panic.
        assert!(parse("peerdrop://send?to=%é1").is_err());
        assert!(parse("peerdrop://sénd").is_err());
    }

    #[test]
    fn errors_read_as_one_line_for_a_person() {
        assert_eq!(
            LinkError::BadServer {
                reason: "must start with ws:// or wss://"
            }
            .to_string(),
            "its server must start with ws:// or wss://"
        );
        assert!(LinkError::BadCode.to_string().contains("like K7QM-2X"));
    }

    #[test]
    fn recognises_links_by_scheme() {
        assert!(is_peerdrop_link("PEERDROP://send"));
        assert!(is_peerdrop_link("peerdrop:"));
        assert!(!is_peerdrop_link("peerdrop"));
        assert!(!is_peerdrop_link("péerdrop://x"));
        assert!(!is_peerdrop_link("./peerdrop:x"));
    }
}
