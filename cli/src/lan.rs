//! What the CLI tells a person about the LAN: where this receiver can be typed in, and what
//! to do when discovery is blocked.

use peerdrop_core::lan::Multicast;
use peerdrop_core::Node;
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

/// Waits for the multicast verdict; `true` when multicast is blocked here.
pub async fn multicast_blocked(node: &Node) -> bool {
    let Some(mut state) = node.multicast() else {
        return false;
    };
    loop {
        let now = *state.borrow_and_update();
        match now {
            Multicast::Checking => {
                if state.changed().await.is_err() {
                    return false;
                }
            }
            Multicast::Working => return false,
            Multicast::Blocked => return true,
        }
    }
}

/// The one-paragraph explanation printed when multicast is blocked.
pub const BLOCKED_ADVICE: &str = "multicast (mDNS) is blocked on this network or by this \
device's firewall (Wi-Fi client isolation, a VPN): devices here cannot discover each other. \
Type the receiver's address instead (peerdrop send --to HOST:PORT, the address `peerdrop \
receive` prints), or use a server (--server URL) and the receiver's code.";
