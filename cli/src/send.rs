//! `peerdrop send`: find the receiver (code, name or address; on the LAN and/or the server),
//! offer the files, stream them, wait for every hash to be confirmed.

use anyhow::{Context, Result};
use peerdrop_core::{CancellationToken, CoreError, LanRole, Node, OnChangedIdentity, SendPlan};
use std::io::Read;

use crate::args::SendArgs;
use crate::exit::Hinted;
use crate::output;
use crate::receive::spawn_ctrl_c;

/// `--text TEXT` as given, or stdin for `--text -` (read to the end, as UTF-8).
fn text_to_send(arg: &str) -> Result<String> {
    if arg != "-" {
        return Ok(arg.to_string());
    }
    let mut bytes = Vec::new();
    // One byte past the limit is enough to know it is too long.
    std::io::stdin()
        .take(peerdrop_proto::transfer::MAX_TEXT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .context("cannot read the text from stdin")?;
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("the text on stdin is not UTF-8: send it as a file"))
}

/// Runs the command; `Ok` only when the receiver confirmed every file's hash.
pub async fn run(args: SendArgs) -> Result<()> {
    let plan = match &args.text {
        Some(text) => SendPlan::text(text_to_send(text)?)?,
        None => SendPlan::from_paths(&args.paths)?,
    };
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
