//! `peerdrop send`: resolve the code, offer the files, stream them, wait for every hash to be
//! confirmed.

use anyhow::Result;
use peerdrop_core::{CancellationToken, Node, SendPlan};

use crate::args::SendArgs;
use crate::output;
use crate::receive::spawn_ctrl_c;

/// Runs the command; `Ok` only when the receiver confirmed every file's hash.
pub async fn run(args: SendArgs) -> Result<()> {
    let plan = SendPlan::from_paths(&args.paths)?;
    let node = Node::connect(args.common.node_config()).await?;
    let peer = node.resolve(&args.to).await?;
    let events = output::sink(args.common.json);
    let cancel = CancellationToken::new();
    spawn_ctrl_c(cancel.clone());
    node.send(&peer, plan, events, cancel).await?;
    Ok(())
}
