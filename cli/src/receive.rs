//! `peerdrop receive`: register (with the server, on the LAN, or both), print the code,
//! accept one transfer (or more with `--keep`).

use std::time::Duration;

use anyhow::{Context, Result};
use peerdrop_core::signaling::SignalError;
use peerdrop_core::{AutoAccept, CancellationToken, CoreError, LanRole, Node, WhenBusy};
use peerdrop_proto::events::TransferEvent;

use crate::args::ReceiveArgs;
use crate::lan;
use crate::output;
use crate::prompt::{TerminalDecider, TrustedOrAsk};

/// Longest wait between two attempts to reach the server again.
const RECONNECT_MAX_WAIT: Duration = Duration::from_secs(30);

/// Runs the command; `Ok` only when every accepted file was received and verified.
///
/// A receiver that loses its server while waiting (a server restart answers 1012 "service
/// restart", a network drop) connects again — after 1 s, then doubling up to 30 s, until
/// Ctrl-C — and prints its new code, so a rolling restart of the service does not end it.
pub async fn run(args: ReceiveArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let dir = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("cannot open {}", args.dir.display()))?;
    let events = output::sink_with(args.common.json, args.stdout);
    let cancel = CancellationToken::new();
    spawn_ctrl_c(cancel.clone());
    let mut node = Node::connect(args.common.node_config(LanRole::Discoverable)).await?;
    announce(&node, &args)?;
    loop {
        let incoming = tokio::select! {
            incoming = node.next_incoming() => incoming,
            _ = cancel.cancelled() => anyhow::bail!("cancelled"),
        };
        let incoming = match incoming {
            Ok(incoming) => incoming,
            Err(CoreError::Signal(SignalError::Disconnected)) if args.common.server.is_some() => {
                drop(node);
                node = reconnect(&args, &cancel).await?;
                announce(&node, &args)?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // With --keep, senders that come meanwhile wait in line and are taken next; without
        // it this is the only transfer, so they are told at once that the receiver is busy.
        let when = if args.keep {
            WhenBusy::Queue
        } else {
            WhenBusy::Refuse
        };
        let (dir, events, cancel) = (dir.clone(), events.clone(), cancel.clone());
        let result = if args.yes {
            node.while_busy(incoming.receive(dir, AutoAccept, events, cancel), when)
                .await
        } else if args.trusted {
            node.while_busy(incoming.receive(dir, TrustedOrAsk, events, cancel), when)
                .await
        } else {
            node.while_busy(incoming.receive(dir, TerminalDecider, events, cancel), when)
                .await
        };
        match result {
            Ok(_) if args.keep => continue,
            Ok(_) => return Ok(()),
            Err(e) if args.keep => eprintln!("peerdrop: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Connects again after the server went away, waiting longer after each failure; a refused
/// certificate or any other error that retrying cannot fix ends the command.
async fn reconnect(args: &ReceiveArgs, cancel: &CancellationToken) -> Result<Node> {
    let mut wait = Duration::from_secs(1);
    loop {
        if !args.common.json {
            eprintln!(
                "peerdrop: lost the connection to the server; connecting again in {} s",
                wait.as_secs()
            );
        }
        tracing::info!(
            wait_secs = wait.as_secs(),
            "server connection lost; reconnecting"
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = cancel.cancelled() => anyhow::bail!("cancelled"),
        }
        match Node::connect(args.common.node_config(LanRole::Discoverable)).await {
            Ok(node) => return Ok(node),
            Err(CoreError::Signal(SignalError::Unreachable { reason, .. })) => {
                tracing::info!(%reason, "server still unreachable");
                wait = (wait * 2).min(RECONNECT_MAX_WAIT);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Prints how to reach this receiver: its code (a `code` event with `--json`), its LAN
/// addresses, and the QR code when asked for.
fn announce(node: &Node, args: &ReceiveArgs) -> Result<()> {
    let addresses = node
        .lan_port()
        .map(peerdrop_core::lan::typed_addresses)
        .unwrap_or_default();
    if args.common.json {
        output::print_json(&TransferEvent::Code {
            code: node.code().to_string(),
            name: node.name().to_string(),
            kind: None,
        });
        if node.lan_port().is_some() {
            output::print_json(&TransferEvent::Lan {
                addresses: addresses.clone(),
                blocked: false,
            });
        }
    } else {
        if args.stdout {
            // Stdout carries only what was sent.
            eprintln!("code: {}", node.code());
        } else {
            println!("code: {}", node.code());
        }
        eprintln!(
            "Waiting for files as \"{}\"; on the sender run: peerdrop send --to {} FILE…",
            node.name(),
            node.code()
        );
        if let Some(first) = addresses.first() {
            eprintln!(
                "On this network it is also listed by name; where discovery is blocked, type: \
                 peerdrop send --to {first} FILE…"
            );
        }
    }
    if node.lan_port().is_some() {
        warn_when_multicast_is_blocked(node, args.common.json, addresses);
    }
    if args.qr {
        crate::qr::show(
            node.code(),
            crate::qr::link_server(args.common.server.as_deref()),
            args.common.json,
        )?;
    }
    Ok(())
}

/// Tells the person (once, when the probe times out) that other devices cannot discover
/// this one, and what works instead.
fn warn_when_multicast_is_blocked(node: &Node, json: bool, addresses: Vec<String>) {
    let Some(state) = node.multicast() else {
        return;
    };
    tokio::spawn(async move {
        if peerdrop_core::lan::verdict(state).await != peerdrop_core::lan::Multicast::Blocked {
            return;
        }
        if json {
            output::print_json(&TransferEvent::Lan {
                addresses,
                blocked: true,
            });
        } else {
            eprintln!("peerdrop: {}", lan::BLOCKED_ADVICE);
        }
    });
}

/// Ctrl-C cancels the running transfer (both sides are told) instead of killing the process.
pub fn spawn_ctrl_c(cancel: CancellationToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
}
