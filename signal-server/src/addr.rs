//! Which address a connection counts as, and which "nearby" group that puts it in.
//!
//! Normally the client address is the TCP peer address. Behind a reverse proxy every
//! connection comes from the proxy, so when (and only when) the TCP peer is one of the
//! configured trusted proxies, the address is taken from `X-Forwarded-For`.
//!
//! `X-Forwarded-For` is read **from the right**: each proxy appends the address it saw, so
//! the right-most entries were written by our own proxies and the left-most by whoever sent
//! the request — possibly an attacker who wants to join someone else's nearby group. We skip
//! entries that are themselves trusted proxies and take the first one that is not. With a
//! single proxy that sets the header, this is the same as taking its only entry.
//!
//! Peers are grouped by [`GroupKey`]: the IPv4 address, or the IPv6 /64 prefix (devices on
//! one IPv6 LAN share the prefix but usually not the address, and one subscriber usually
//! controls a whole /64, so per-address limits must apply to the prefix too).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The unit of "nearby" grouping and of per-address limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupKey {
    /// One public IPv4 address.
    V4(Ipv4Addr),
    /// One IPv6 /64 network (the upper 64 bits).
    V6Net(u64),
}

impl GroupKey {
    /// The group `ip` belongs to; IPv4-mapped IPv6 addresses count as IPv4.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => GroupKey::V4(v4),
            IpAddr::V6(v6) => GroupKey::V6Net((u128::from(v6) >> 64) as u64),
        }
    }
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupKey::V4(v4) => write!(f, "{v4}"),
            GroupKey::V6Net(net) => write!(f, "{}/64", Ipv6Addr::from(u128::from(*net) << 64)),
        }
    }
}

/// The address a connection from `tcp_peer` counts as, given its `X-Forwarded-For`
/// header values (in the order they appeared) and the trusted proxies.
pub fn client_ip(tcp_peer: IpAddr, forwarded_for: &[&str], trusted_proxies: &[IpAddr]) -> IpAddr {
    let tcp_peer = tcp_peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted_proxies.iter().any(|t| t.to_canonical() == *ip);
    if !is_trusted(&tcp_peer) {
        return tcp_peer;
    }
    let hops: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = tcp_peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(&ip) => client = ip,
            Some(ip) => return ip,
            // Garbage in the chain: trust nothing left of it.
            None => return client,
        }
    }
    client
}

/// Parses one `X-Forwarded-For` entry: `1.2.3.4`, `2001:db8::1`, `1.2.3.4:5678` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_header_is_ignored() {
        let got = client_ip(ip("203.0.113.7"), &["198.18.0.1"], &[ip("10.0.0.1")]);
        assert_eq!(got, ip("203.0.113.7"));
    }

    #[test]
    fn trusted_proxy_uses_rightmost_untrusted_hop() {
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(
            client_ip(ip("10.0.0.1"), &["198.18.0.9"], &trusted),
            ip("198.18.0.9")
        );
        // The client forged the first entry; our proxies appended the real one.
        let got = client_ip(
            ip("10.0.0.1"),
            &["198.18.0.1, 203.0.113.5", "10.0.0.2"],
            &trusted,
        );
        assert_eq!(got, ip("203.0.113.5"));
        assert_eq!(
            client_ip(ip("10.0.0.1"), &["[2001:db8::5]:443"], &trusted),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &["203.0.113.5:1234"], &trusted),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn trusted_proxy_without_usable_header_is_itself() {
        let trusted = [ip("10.0.0.1")];
        assert_eq!(client_ip(ip("10.0.0.1"), &[], &trusted), ip("10.0.0.1"));
        assert_eq!(
            client_ip(ip("10.0.0.1"), &["not-an-ip"], &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &["198.18.0.3"], &trusted),
            ip("198.18.0.3")
        );
    }

    #[test]
    fn ipv6_groups_by_slash_64() {
        assert_eq!(
            GroupKey::of(ip("2001:db8:1:2::10")),
            GroupKey::of(ip("2001:db8:1:2:ffff::1"))
        );
        assert_ne!(
            GroupKey::of(ip("2001:db8:1:2::10")),
            GroupKey::of(ip("2001:db8:1:3::10"))
        );
        assert_eq!(
            GroupKey::of(ip("::ffff:198.18.0.1")),
            GroupKey::V4("198.18.0.1".parse().unwrap())
        );
        assert_eq!(
            GroupKey::of(ip("2001:db8:1:2::10")).to_string(),
            "2001:db8:1:2::/64"
        );
    }
}
