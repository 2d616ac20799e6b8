//! `peerdrop send`: find the receiver (code, name or address; on the LAN and/or the server),
//! offer the files, stream them, wait for every hash to be confirmed.

use anyhow::Result;
use peerdrop_core::{CancellationToken, CoreError, LanRole, Node, OnChangedIdentity, SendPlan};

use crate::args::SendArgs;
use crate::exit::Hinted;
use crate::output;
use crate::receive::spawn_ctrl_c;

/// Runs the command; `Ok` only when the receiver confirmed every file's hash.
pub async fn run(args: SendArgs) -> Result<()> {
    let plan = SendPlan::from_paths(&args.paths)?;
    let node = Node::connect(args.common.node_config(LanRole::Browse)).await?;
    let recipient = match node.find_typed(&args.to).await {
        Ok(recipient) => recipient,
        Err(e @ CoreError::NotFound { .. }) if args.common.server.is_none() => {
            anyhow::bail!("{e} (with --server URL, codes from other networks work too)")
        }
        Err(e) => return Err(e.into()),
    };
    tracing::debug!("sending via {:?}", recipient.via());
    let events = output::sink(args.common.json);
    let cancel = CancellationToken::new();
    spawn_ctrl_c(cancel.clone());
    let on_changed = if args.accept_changed_identity {
        OnChangedIdentity::Proceed
    } else {
        OnChangedIdentity::Refuse
    };
    match node
        .send(&recipient, plan, events, cancel, &on_changed)
        .await
    {
        Ok(_) => {}
        Err(error @ CoreError::IdentityChanged(_)) => {
            return Err(Hinted {
                error,
                hint: "If you reinstalled that device yourself, compare the verification phrase and send again with --accept-changed-identity",
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
