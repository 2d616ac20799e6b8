//! `peerdrop receive`: register (with the server, on the LAN, or both), print the code,
//! accept one transfer (or more with `--keep`).

use anyhow::{Context, Result};
use peerdrop_core::{AutoAccept, CancellationToken, LanRole, Node};
use peerdrop_proto::events::TransferEvent;

use crate::args::ReceiveArgs;
use crate::lan;
use crate::output;
use crate::prompt::{TerminalDecider, TrustedOrAsk};

/// Runs the command; `Ok` only when every accepted file was received and verified.
pub async fn run(args: ReceiveArgs) -> Result<()> {
    let node = Node::connect(args.common.node_config(LanRole::Discoverable)).await?;
    let addresses = node
        .lan_port()
        .map(peerdrop_core::lan::typed_addresses)
        .unwrap_or_default();
    if args.common.json {
        output::print_json(&TransferEvent::Code {
            code: node.code().to_string(),
            name: node.name().to_string(),
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
        warn_when_multicast_is_blocked(&node, args.common.json, addresses.clone());
    }
    if args.qr {
        crate::qr::show(
            node.code(),
            crate::qr::link_server(args.common.server.as_deref()),
            args.common.json,
        )?;
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let dir = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("cannot open {}", args.dir.display()))?;
    let events = output::sink_with(args.common.json, args.stdout);
    let cancel = CancellationToken::new();
    spawn_ctrl_c(cancel.clone());
    loop {
        let incoming = tokio::select! {
            incoming = node.next_incoming() => incoming?,
            _ = cancel.cancelled() => anyhow::bail!("cancelled"),
        };
        let result = if args.yes {
            incoming
                .receive(dir.clone(), AutoAccept, events.clone(), cancel.clone())
                .await
        } else if args.trusted {
            incoming
                .receive(dir.clone(), TrustedOrAsk, events.clone(), cancel.clone())
                .await
        } else {
            incoming
                .receive(dir.clone(), TerminalDecider, events.clone(), cancel.clone())
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
