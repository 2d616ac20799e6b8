//! Device endpoint mode: this server as one device's direct LAN signaling endpoint.
//!
//! With no server on a LAN, every device runs a small copy of this server (bound to
//! `0.0.0.0:PORT`, advertised by mDNS) so that offer, answer and candidates go device to
//! device with the same messages and limits as through a rendezvous server. Such an endpoint
//! must serve exactly one device — its **owner** — and must not become an open relay between
//! the other devices of the LAN. So, when [`crate::ServerConfig::owner_token`] is set:
//!
//! - the owner is the connection that comes **from this host** (a loopback peer, or a peer
//!   address equal to the connection's own local address) **and** presents the token as
//!   `/ws?owner=TOKEN` (compared in constant time). At most one owner is online at a time;
//!   a second one is refused with `too_many_connections` and closed;
//! - every other connection is a **guest**: its nearby list is exactly `[owner]` while the
//!   owner is online (re-sent when the owner comes or goes), it may `signal`/`relay` only to
//!   the owner and `resolve` only the owner's code; guests never see or reach each other;
//! - the owner's nearby list is always empty: it learns about a guest when the guest signals
//!   it, and may then answer that guest;
//! - `welcome` carries no ICE servers; sizes, rates, strikes and timeouts are as on any server.
//!
//! A wrong or missing token makes an ordinary guest, not an error: the token is the secret,
//! and refusing loudly would only tell a prober it is on the right track.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Shortest owner token accepted by [`crate::ServerConfig::validate`]: 128 bits of hex.
pub const MIN_OWNER_TOKEN_BYTES: usize = 32;

/// Name of the query parameter carrying the owner token on `/ws`.
pub const OWNER_QUERY_PARAM: &str = "owner";

/// What a connection is to the server; decided once, when the WebSocket is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Role {
    /// A peer of an ordinary rendezvous server (no owner token configured).
    Peer,
    /// The device a device endpoint belongs to.
    Owner,
    /// Any other connection to a device endpoint: may talk only to the owner.
    Guest,
}

impl Role {
    /// The role of a connection from `tcp_peer` to local address `local` that presented
    /// `presented` as its owner token, on a server configured with `owner_token`.
    pub(crate) fn decide(
        owner_token: Option<&str>,
        presented: Option<&str>,
        tcp_peer: IpAddr,
        local: IpAddr,
    ) -> Role {
        match owner_token {
            None => Role::Peer,
            Some(_) if is_owner(owner_token, presented, tcp_peer, local) => Role::Owner,
            Some(_) => Role::Guest,
        }
    }
}

/// Whether a connection is the endpoint's owner: a token is configured, the connection comes
/// from this host ([`is_from_this_host`]) and it presented exactly that token.
pub fn is_owner(
    owner_token: Option<&str>,
    presented: Option<&str>,
    tcp_peer: IpAddr,
    local: IpAddr,
) -> bool {
    let (Some(token), Some(presented)) = (owner_token, presented) else {
        return false;
    };
    // Evaluate both, so the time taken does not say which check failed.
    let local_peer = is_from_this_host(tcp_peer, local);
    let token_ok = constant_time_eq(token.as_bytes(), presented.as_bytes());
    local_peer & token_ok
}

/// Whether a TCP peer is this host: a loopback address, or the very address the connection
/// arrived at (a process on this host connecting to its own LAN address). A remote host
/// cannot complete a TCP handshake from our own address: the answers would never reach it,
/// and Linux drops such packets from other interfaces as martians anyway.
pub fn is_from_this_host(tcp_peer: IpAddr, local: IpAddr) -> bool {
    let (peer, local) = (tcp_peer.to_canonical(), local.to_canonical());
    peer.is_loopback() || (!local.is_unspecified() && peer == local)
}

/// Compares two byte strings in time that depends only on their lengths (the token length
/// is no secret), so a prober cannot learn a token prefix by timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Whether `token` can be an owner token: long enough, and only characters that travel in a
/// URL query unescaped (the server compares the query value as sent, without decoding).
pub fn is_valid_owner_token(token: &str) -> bool {
    token.len() >= MIN_OWNER_TOKEN_BYTES
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A fresh owner token: 32 bytes from the OS-seeded CSPRNG (`rand::rng()`), as lower-case hex.
pub fn fresh_owner_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The URL the owner's own client connects with, `ws://127.0.0.1:PORT/ws?owner=TOKEN`, for a
/// server bound to `local_addr`. A wildcard bind is reached over loopback (`127.0.0.1`, or
/// `[::1]` for `[::]`); a server bound to one address is reached at that address (a loopback
/// one, or this host's LAN address, which [`is_from_this_host`] accepts as well).
pub fn owner_url(local_addr: SocketAddr, token: &str) -> String {
    let host = match local_addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(host, local_addr.port());
    format!("ws://{addr}/ws?{OWNER_QUERY_PARAM}={token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn the_owner_needs_the_token_and_this_host() {
        let any = ip("0.0.0.0");
        let lan = ip("192.168.1.5");
        let t = Some(TOKEN);
        assert!(is_owner(t, t, ip("127.0.0.1"), ip("127.0.0.1")));
        assert!(is_owner(t, t, ip("::1"), ip("::1")));
        assert!(is_owner(
            t,
            t,
            ip("::ffff:127.0.0.1"),
            ip("::ffff:127.0.0.1")
        ));
        // This host, connecting to its own LAN address.
        assert!(is_owner(t, t, lan, lan));
        // Another device on the LAN, even with the right token.
        assert!(!is_owner(t, t, ip("192.168.1.6"), lan));
        assert!(!is_owner(t, t, ip("192.168.1.6"), any));
        assert!(
            !is_owner(t, t, ip("0.0.0.0"), any),
            "no match on a wildcard"
        );
        // Loopback without, or with a wrong or truncated token.
        assert!(!is_owner(t, None, ip("127.0.0.1"), ip("127.0.0.1")));
        let wrong = TOKEN.replace('f', "e");
        assert!(!is_owner(t, Some(&wrong), ip("127.0.0.1"), ip("127.0.0.1")));
        assert!(!is_owner(
            t,
            Some(&TOKEN[..63]),
            ip("127.0.0.1"),
            ip("127.0.0.1")
        ));
        assert!(!is_owner(t, Some(""), ip("127.0.0.1"), ip("127.0.0.1")));
        // No token configured: nobody is the owner.
        assert!(!is_owner(None, t, ip("127.0.0.1"), ip("127.0.0.1")));
    }

    #[test]
    fn roles_follow_the_configuration() {
        let lo = ip("127.0.0.1");
        let t = Some(TOKEN);
        assert_eq!(Role::decide(None, t, lo, lo), Role::Peer);
        assert_eq!(Role::decide(None, None, lo, lo), Role::Peer);
        assert_eq!(Role::decide(t, t, lo, lo), Role::Owner);
        assert_eq!(Role::decide(t, Some("nope"), lo, lo), Role::Guest);
        assert_eq!(
            Role::decide(t, t, ip("10.0.0.9"), ip("10.0.0.1")),
            Role::Guest
        );
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn tokens_are_fresh_hex_and_valid() {
        let a = fresh_owner_token();
        assert_eq!(a.len(), 64);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(is_valid_owner_token(&a));
        assert_ne!(a, fresh_owner_token());
        assert!(!is_valid_owner_token("short"));
        assert!(!is_valid_owner_token(&format!("{}&x=1", &a[..40])));
        assert!(!is_valid_owner_token(&format!("{} ", &a[..40])));
    }

    #[test]
    fn owner_url_reaches_the_bound_address_over_loopback_when_it_can() {
        let url = |addr: &str| owner_url(addr.parse().unwrap(), "T");
        assert_eq!(url("0.0.0.0:4242"), "ws://127.0.0.1:4242/ws?owner=T");
        assert_eq!(url("127.0.0.1:4242"), "ws://127.0.0.1:4242/ws?owner=T");
        assert_eq!(url("127.0.0.7:4242"), "ws://127.0.0.7:4242/ws?owner=T");
        assert_eq!(url("[::]:4242"), "ws://[::1]:4242/ws?owner=T");
        assert_eq!(url("192.168.1.5:4242"), "ws://192.168.1.5:4242/ws?owner=T");
    }
}
