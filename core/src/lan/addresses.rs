//! This device's own addresses, as a person would type them on another device.

use std::net::{IpAddr, SocketAddr};

/// `IP:PORT` of this device's LAN endpoint on every non-loopback interface (IPv4 first),
/// what a sender on a network that blocks discovery types after `--to`.
pub fn typed_addresses(port: u16) -> Vec<String> {
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|interface| interface.ip())
        .filter(|ip| !ip.is_loopback() && !is_link_local(ip))
        .collect();
    ips.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    ips.dedup();
    // The endpoint listens on IPv4 only (0.0.0.0), so only IPv4 addresses can be typed.
    ips.into_iter()
        .filter(IpAddr::is_ipv4)
        .map(|ip| SocketAddr::new(ip, port).to_string())
        .collect()
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    }
}
