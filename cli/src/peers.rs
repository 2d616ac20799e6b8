//! `peerdrop peers`: list the devices in reach right now — on this network (mDNS, no server
//! needed) and, with a server, the server's nearby devices and the devices this one pinned
//! that are on the server from any network (`via` "paired") — one per device.

use anyhow::Result;
use peerdrop_core::store::terminal_safe;
use peerdrop_core::{Device, LanRole, Node, Via};
use serde_json::json;
use std::time::Duration;

use crate::args::PeersArgs;
use crate::lan;

/// How long to listen before printing: mDNS answers arrive within milliseconds on a LAN and a
/// server sends its list at once; this leaves room for a slow Wi-Fi.
const LISTEN_FOR: Duration = Duration::from_millis(1500);

/// Prints the devices once.
pub async fn run(args: PeersArgs) -> Result<()> {
    let mut common = args.common;
    // Listing is not "being around": stay out of other devices' lists as far as possible.
    common.name.get_or_insert_with(|| "peerdrop peers".into());
    let node = Node::connect(common.node_config(LanRole::Browse)).await?;
    tokio::time::sleep(LISTEN_FOR).await;
    let devices = node.devices().borrow().clone();
    if common.json {
        for device in &devices {
            println!("{}", device_json(device));
        }
    } else {
        for device in &devices {
            println!(
                "{}\t{}\t{:?}\t{}",
                terminal_safe(&device.name),
                device.code.as_deref().unwrap_or("-"),
                device.kind,
                via_str(device.via)
            );
        }
    }
    if devices.is_empty() {
        if lan::multicast_blocked(&node).await {
            eprintln!("peerdrop: no devices found: {}", lan::BLOCKED_ADVICE);
        } else if common.server.is_some() {
            eprintln!("No devices nearby, and no device verified here before is online on this server. Other devices are reached by code: peerdrop send --to CODE FILE");
        } else {
            eprintln!("No devices found on this network. Is the other device receiving (peerdrop receive, or the app's Receive page)? Devices on other networks are reached through a server (--server URL) by code.");
        }
    }
    Ok(())
}

fn via_str(via: Via) -> &'static str {
    match via {
        Via::Lan => "lan",
        Via::Server => "server",
        Via::Paired => "paired",
    }
}

/// One device as a JSON object (`name`, `code`, `via`, `kind`, `fingerprint`).
fn device_json(device: &Device) -> serde_json::Value {
    json!({
        "name": device.name,
        "code": device.code,
        "via": via_str(device.via),
        "kind": device.kind,
        "fingerprint": device.fingerprint,
    })
}
