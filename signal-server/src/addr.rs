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
//! Per-address limits (connection slots, code look-up budgets) are kept per [`GroupKey`]: the
//! IPv4 address, or the IPv6 /64 prefix (devices on one IPv6 LAN share the prefix but usually
//! not the address, and one subscriber usually controls a whole /64, so per-address limits
//! must apply to the prefix too).
//!
//! "Nearby" is a [`NearbyGroup`]: the same [`GroupKey`] for public addresses, but one
//! [`NearbyGroup::Lan`] for every client that reaches the server from a private (RFC 1918),
//! unique-local, link-local or loopback address. Such a client is on the server's own network
//! — a server on a LAN — where every device has its own private address and grouping by
//! address would leave everyone alone. Carrier-grade NAT space (100.64.0.0/10) is *not* a LAN:
//! many unrelated subscribers share it, so those addresses group as public ones do.

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

    /// Whose code-guessing budget `ip` spends: its IPv4 address, or its IPv6 **/48**. One
    /// subscriber commonly holds a whole /48 (65,536 /64s); budgets per /64 would let one
    /// site guess 65,536 times faster than one IPv4 household.
    pub fn guessing_budget_of(ip: IpAddr) -> Self {
        Self::subscriber_of(ip)
    }

    /// The unit of every budget that an attacker could multiply by spreading over addresses
    /// it controls anyway (code guessing, relay bandwidth, TURN credentials): the IPv4 address,
    /// or the IPv6 **/48** one subscriber commonly holds.
    pub fn subscriber_of(ip: IpAddr) -> Self {
        match Self::of(ip) {
            GroupKey::V6Net(net) => GroupKey::V6Net(net & !0xFFFF),
            v4 => v4,
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

/// The "nearby" group of a client address: who sees whom in `nearby` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NearbyGroup {
    /// Everyone reaching the server from a LAN address (see [`is_lan_address`]).
    Lan,
    /// Everyone behind one public address (IPv6: one /64).
    Address(GroupKey),
}

impl NearbyGroup {
    /// The nearby group of `ip`; IPv4-mapped IPv6 addresses count as IPv4.
    pub fn of(ip: IpAddr) -> Self {
        if is_lan_address(ip) {
            NearbyGroup::Lan
        } else {
            NearbyGroup::Address(GroupKey::of(ip))
        }
    }
}

impl fmt::Display for NearbyGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NearbyGroup::Lan => f.write_str("lan"),
            NearbyGroup::Address(key) => key.fmt(f),
        }
    }
}

/// Whether `ip` is an address only seen inside one site: IPv4 private (10/8, 172.16/12,
/// 192.168/16), link-local (169.254/16) or loopback (127/8); IPv6 unique-local (fc00::/7),
/// link-local (fe80::/10) or loopback (::1); and the IPv4-mapped forms of the IPv4 ones.
/// Carrier-grade NAT (100.64.0.0/10) is deliberately not included.
pub fn is_lan_address(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local() || v4.is_loopback(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
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
    fn lan_addresses_form_one_nearby_group() {
        for lan in [
            "10.0.0.1",
            "10.255.1.2",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.10",
            "169.254.3.4",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "fc00::1",
            "fd12:3456:789a::1",
            "fe80::1",
            "febf::1",
            "::ffff:192.168.1.10",
            "::ffff:127.0.0.1",
        ] {
            assert_eq!(NearbyGroup::of(ip(lan)), NearbyGroup::Lan, "{lan}");
        }
    }

    #[test]
    fn public_and_carrier_grade_nat_addresses_keep_their_own_group() {
        for public in [
            "100.64.0.1",
            "100.127.255.254",
            "172.32.0.1",
            "172.15.255.255",
            "192.169.0.1",
            "11.0.0.1",
            "198.18.0.1",
            "203.0.113.5",
            "2001:db8::1",
            "fec0::1",
            "fe00::1",
            "::ffff:198.18.0.1",
            "::ffff:100.64.0.1",
        ] {
            assert_eq!(
                NearbyGroup::of(ip(public)),
                NearbyGroup::Address(GroupKey::of(ip(public))),
                "{public}"
            );
        }
        assert_ne!(
            NearbyGroup::of(ip("100.64.0.1")),
            NearbyGroup::of(ip("100.64.0.2")),
            "CGNAT subscribers are strangers"
        );
        assert_eq!(NearbyGroup::of(ip("fd00::1")).to_string(), "lan");
        assert_eq!(NearbyGroup::of(ip("198.18.0.1")).to_string(), "198.18.0.1");
    }

    #[test]
    fn lan_grouping_leaves_per_address_keys_alone() {
        // Two LAN devices share a nearby group but not their connection and look-up budgets.
        assert_ne!(
            GroupKey::of(ip("192.168.1.10")),
            GroupKey::of(ip("192.168.1.11"))
        );
        assert_ne!(GroupKey::of(ip("127.0.0.1")), GroupKey::of(ip("127.0.0.2")));
    }

    #[test]
    fn code_guessing_budgets_are_per_ipv6_slash_48() {
        let key = |s| GroupKey::guessing_budget_of(ip(s));
        assert_eq!(key("2001:db8:1:1::5"), key("2001:db8:1:ffff::9"));
        assert_ne!(key("2001:db8:1:1::5"), key("2001:db8:2:1::5"));
        assert_eq!(
            key("198.18.0.1"),
            GroupKey::V4("198.18.0.1".parse().unwrap())
        );
        assert_ne!(key("198.18.0.1"), key("198.18.0.2"));
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
