//! Which web pages may open the WebSocket: the `Origin` check on the upgrade.
//!
//! A browser lets any page open a WebSocket to any address, the device's own loopback
//! included, and says which page it is in the `Origin` header. Without a check, every web site
//! a person visits could join a server on their machine or LAN (a device endpoint, a LAN
//! server) and appear as a nearby device under any name. So an upgrade is accepted when:
//! - it has **no** `Origin` header: native clients (the CLI, the app's core, tests) send none,
//!   and a browser always sends one, so a page cannot pass for a native client;
//! - its origin is one the operator allowed (`--allow-origin`, [`crate::ServerConfig::allowed_origins`]);
//! - it is a page this server served itself: an `http`/`https` origin whose host and port are
//!   the request's `Host`, where that host is an IP address or `localhost`. A host **name**
//!   does not count on its own: with DNS rebinding, a hostile page at `evil.example:8787`
//!   can have its name point at `127.0.0.1` and then be "same host" as the server it attacks.
//!   A server reached by name allows its own origin with `--allow-origin https://NAME`.
//!
//! Everything else (other sites, `null` from sandboxed frames and `file:` pages, malformed
//! values) is refused with 403 before the upgrade.

use std::fmt;
use std::net::IpAddr;

/// Longest origin echoed back or logged.
const MAX_SHOWN: usize = 120;

/// A parsed origin: `scheme://host[:port]`, lower-cased, with the scheme's default port made
/// explicit so `https://a` and `https://a:443` are the same origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// Parses `scheme://host[:port]` (one trailing `/` tolerated); `None` for anything else
    /// (a path, credentials, `null`, no scheme).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let text = text.strip_suffix('/').unwrap_or(&text);
        let (scheme, authority) = text.split_once("://")?;
        let mut chars = scheme.chars();
        if !chars.next()?.is_ascii_lowercase()
            || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return None;
        }
        let (host, port) = split_authority(authority)?;
        Some(Self {
            port: port.or_else(|| default_port(scheme)),
            scheme: scheme.to_string(),
            host,
        })
    }

    /// Whether this is a page served by the server the request reached as `host_header`.
    fn is_served_by(&self, host_header: &str) -> bool {
        if !matches!(self.scheme.as_str(), "http" | "https") {
            return false;
        }
        let Some((host, port)) = split_authority(&host_header.trim().to_ascii_lowercase()) else {
            return false;
        };
        let port = port.or_else(|| default_port(&self.scheme));
        host == self.host && port == self.port && cannot_be_rebound(&host)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        match self.port {
            Some(port) if Some(port) != default_port(&self.scheme) => write!(f, ":{port}"),
            _ => Ok(()),
        }
    }
}

/// Why an upgrade was refused, ready to be logged and told to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The refused `Origin` value, cleaned (printable ASCII, at most 120 characters).
    pub origin: String,
}

impl Refusal {
    /// The body of the 403 response.
    pub fn body(&self) -> String {
        format!(
            "forbidden: WebSocket connections from web pages are refused unless their origin is \
             allowed (Origin: {}); the server's operator can allow one with --allow-origin\n",
            self.origin
        )
    }
}

/// Decides an upgrade from its `Origin` header values (usually none or one), its `Host`
/// header and the allowed origins (already parsed).
pub fn check(origins: &[&str], host: Option<&str>, allowed: &[Origin]) -> Result<(), Refusal> {
    for value in origins {
        let ok = Origin::parse(value).is_some_and(|origin| {
            allowed.contains(&origin) || host.is_some_and(|h| origin.is_served_by(h))
        });
        if !ok {
            return Err(Refusal {
                origin: shown(value),
            });
        }
    }
    Ok(())
}

/// `host[:port]` → (host, port); IPv6 literals keep their brackets. `None` if malformed.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '@'))
    {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || (!host.starts_with('[') && host.contains(':')) {
        return None;
    }
    let port = match port {
        Some(digits) => Some(digits.parse::<u16>().ok()?),
        None => None,
    };
    Some((host.to_string(), port))
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Hosts a web page cannot claim through DNS: IP literals, and `localhost` (browsers resolve
/// it to loopback themselves).
fn cannot_be_rebound(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host == "localhost" || bare.parse::<IpAddr>().is_ok()
}

/// A header value made safe to log and echo: printable ASCII only, bounded.
fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .take(MAX_SHOWN)
        .collect();
    if value.chars().count() > MAX_SHOWN {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(list: &[&str]) -> Vec<Origin> {
        list.iter().map(|o| Origin::parse(o).unwrap()).collect()
    }

    #[test]
    fn parses_and_normalises_origins() {
        let o = Origin::parse("HTTPS://App.Example.org:443/").unwrap();
        assert_eq!(o, Origin::parse("https://app.example.org").unwrap());
        assert_eq!(o.to_string(), "https://app.example.org");
        assert_eq!(
            Origin::parse("http://[::1]:8787").unwrap().to_string(),
            "http://[::1]:8787"
        );
        assert_eq!(
            Origin::parse("tauri://localhost").unwrap().to_string(),
            "tauri://localhost"
        );
        for bad in [
            "null",
            "",
            "app.example.org",
            "https://",
            "https://a/b",
            "https://u@a",
            "https://a:99999",
            "https://a:b",
            "https://::1",
            "1http://a",
            "https://a b",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn no_origin_is_a_native_client() {
        assert_eq!(check(&[], Some("127.0.0.1:8787"), &[]), Ok(()));
    }

    #[test]
    fn other_sites_and_opaque_origins_are_refused() {
        for hostile in [
            "https://evil.example",
            "http://127.0.0.1:9000",
            "http://localhost:9000",
            "null",
            "file://",
        ] {
            let refusal = check(&[hostile], Some("127.0.0.1:8787"), &[]).unwrap_err();
            assert_eq!(refusal.origin, hostile);
            assert!(
                refusal.body().contains("--allow-origin"),
                "{}",
                refusal.body()
            );
        }
    }

    #[test]
    fn configured_origins_are_allowed_exactly() {
        let list = allowed(&["https://app.example.org", "http://198.18.0.9:3000"]);
        let host = Some("127.0.0.1:8787");
        assert_eq!(check(&["https://app.example.org"], host, &list), Ok(()));
        assert_eq!(check(&["https://APP.example.org:443"], host, &list), Ok(()));
        assert_eq!(check(&["http://198.18.0.9:3000"], host, &list), Ok(()));
        assert!(check(&["http://app.example.org"], host, &list).is_err());
        assert!(check(&["https://sub.app.example.org"], host, &list).is_err());
        assert!(check(&["http://198.18.0.9:3001"], host, &list).is_err());
        // Every Origin header must pass.
        assert!(check(
            &["https://app.example.org", "https://evil.example"],
            host,
            &list
        )
        .is_err());
    }

    #[test]
    fn the_servers_own_pages_are_allowed_when_their_host_cannot_be_rebound() {
        assert_eq!(
            check(&["http://127.0.0.1:8787"], Some("127.0.0.1:8787"), &[]),
            Ok(())
        );
        assert_eq!(
            check(&["http://localhost:8787"], Some("LOCALHOST:8787"), &[]),
            Ok(())
        );
        assert_eq!(
            check(&["http://[::1]:8787"], Some("[::1]:8787"), &[]),
            Ok(())
        );
        assert_eq!(
            check(&["https://203.0.113.5"], Some("203.0.113.5"), &[]),
            Ok(())
        );
        assert_eq!(
            check(&["http://203.0.113.5"], Some("203.0.113.5:80"), &[]),
            Ok(())
        );
        // Another port is another page.
        assert!(check(&["http://127.0.0.1:8788"], Some("127.0.0.1:8787"), &[]).is_err());
        // A name matching Host may be a rebinding attack: only allowed when configured.
        assert!(check(
            &["http://evil.example:8787"],
            Some("evil.example:8787"),
            &[]
        )
        .is_err());
        let list = allowed(&["https://peerdrop.example.org"]);
        assert_eq!(
            check(
                &["https://peerdrop.example.org"],
                Some("peerdrop.example.org"),
                &list
            ),
            Ok(())
        );
        // No Host, or another scheme: not this server's page.
        assert!(check(&["http://127.0.0.1:8787"], None, &[]).is_err());
        assert!(check(&["ftp://127.0.0.1:8787"], Some("127.0.0.1:8787"), &[]).is_err());
    }

    #[test]
    fn refused_values_are_cleaned_before_they_are_shown() {
        let nasty = format!("https://evil.example/\u{1b}[2J{}", "x".repeat(500));
        let refusal = check(&[&nasty], Some("127.0.0.1:8787"), &[]).unwrap_err();
        assert!(refusal.origin.is_ascii() && !refusal.origin.contains('\u{1b}'));
        assert!(refusal.origin.len() <= MAX_SHOWN + 3);
    }
}
