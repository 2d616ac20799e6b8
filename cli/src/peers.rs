//! `peerdrop peers`: list the devices nearby (same public address) right now.

use anyhow::Result;
use peerdrop_core::store::terminal_safe;
use peerdrop_core::Node;
use peerdrop_proto::events::TransferEvent;
use std::time::Duration;

use crate::args::PeersArgs;
use crate::output;

/// How long to wait for the server's first nearby list.
const FIRST_LIST_WAIT: Duration = Duration::from_secs(2);

/// Prints the nearby list once.
pub async fn run(args: PeersArgs) -> Result<()> {
    let mut common = args.common;
    // Listing is not "being around": stay out of other devices' lists as far as possible.
    common.name.get_or_insert_with(|| "peerdrop peers".into());
    let node = Node::connect(common.node_config()).await?;
    let mut nearby = node.nearby();
    let _ = tokio::time::timeout(FIRST_LIST_WAIT, nearby.changed()).await;
    let peers = nearby.borrow().clone();
    if common.json {
        output::print_json(&TransferEvent::Nearby { peers });
    } else if peers.is_empty() {
        eprintln!("No devices nearby. Devices on other networks are reached by code: peerdrop send --to CODE FILE");
    } else {
        for peer in peers {
            println!("{}\t{:?}", terminal_safe(&peer.name), peer.kind);
        }
    }
    Ok(())
}
