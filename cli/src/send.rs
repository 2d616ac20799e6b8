//! `peerdrop send`: find the receiver (code, name or address; on the LAN and/or the server),
//! offer the files, stream them, wait for every hash to be confirmed.

use anyhow::{Context, Result};
use peerdrop_core::{CancellationToken, CoreError, LanRole, Node, OnChangedIdentity, SendPlan};
use std::io::Read;

use crate::args::SendArgs;
use crate::exit::{self, Hinted};
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

/// Runs the command; `Ok` only when every receiver confirmed every file's hash.
///
/// With several `--to`, every receiver is found first (one that cannot be found ends the
/// command before anything is sent), then the files go to all of them in parallel; the
/// command fails with the most serious of the receivers' failures ([`exit::most_serious`])
/// after every one of them ended.
pub async fn run(args: SendArgs) -> Result<()> {
    let plan = match &args.text {
        Some(text) => SendPlan::text(text_to_send(text)?)?,
        None => SendPlan::from_paths(&args.paths)?,
    };
    let node = Node::connect(args.common.node_config(LanRole::Browse)).await?;
    let mut recipients = Vec::new();
    for typed in &args.to {
        let recipient = match node.find_typed(typed).await {
            Ok(recipient) => recipient,
            Err(e @ CoreError::NotFound { .. }) if args.common.server.is_none() => {
                anyhow::bail!("{e} (with --server URL, codes from other networks work too)")
            }
            Err(e) if args.to.len() > 1 => {
                return Err(anyhow::Error::new(e).context(format!("to {typed}")))
            }
            Err(e) => return Err(e.into()),
        };
        tracing::debug!("sending to {typed} via {:?}", recipient.via());
        recipients.push((typed.clone(), recipient));
    }
    let cancel = CancellationToken::new();
    spawn_ctrl_c(cancel.clone());
    let on_changed = if args.accept_changed_identity {
        OnChangedIdentity::Proceed
    } else {
        OnChangedIdentity::Refuse
    };
    let json = args.common.json;
    if let [(_, recipient)] = recipients.as_slice() {
        let sent = node
            .send(recipient, plan, output::sink(json), cancel, &on_changed)
            .await;
        return explained(sent);
    }
    let node = &node;
    let sends = recipients.iter().map(|(typed, recipient)| {
        let (plan, cancel, on_changed) = (plan.clone(), cancel.clone(), &on_changed);
        async move {
            let sent = node
                .send(
                    recipient,
                    plan,
                    output::sink_for_receiver(json, typed),
                    cancel,
                    on_changed,
                )
                .await;
            (typed, explained(sent))
        }
    });
    let mut failures = Vec::new();
    for (typed, result) in futures_util::future::join_all(sends).await {
        if let Err(e) = result {
            failures.push(e.context(format!("to {typed}")));
        }
    }
    let Some(worst) = exit::most_serious(&failures) else {
        return Ok(());
    };
    let worst = failures.swap_remove(worst);
    for other in &failures {
        eprintln!(
            "peerdrop: {}",
            peerdrop_core::store::terminal_safe(&format!("{other:#}"))
        );
    }
    Err(worst)
}

/// A send's result, with advice added where the person can act on it.
fn explained(sent: Result<peerdrop_core::TransferReport, CoreError>) -> Result<()> {
    match sent {
        Ok(_) => Ok(()),
        Err(error @ CoreError::IdentityChanged(_)) => Err(Hinted {
            error,
            hint: "If you reinstalled that device yourself, compare the verification phrase and send again with --accept-changed-identity",
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}
