//! What the CLI tells a person about the LAN: where this receiver can be typed in, and what
//! to do when discovery is blocked.

use peerdrop_core::lan::{verdict, Multicast};
use peerdrop_core::Node;

/// Waits for the multicast verdict; `true` when multicast is blocked here.
pub async fn multicast_blocked(node: &Node) -> bool {
    match node.multicast() {
        Some(state) => verdict(state).await == Multicast::Blocked,
        None => false,
    }
}

/// The one-paragraph explanation printed when multicast is blocked.
pub const BLOCKED_ADVICE: &str = "multicast (mDNS) is blocked on this network or by this \
device's firewall (Wi-Fi client isolation, a VPN): devices here cannot discover each other. \
Type the receiver's address instead (peerdrop send --to HOST:PORT, the address `peerdrop \
receive` prints), or use a server (--server URL) and the receiver's code.";
