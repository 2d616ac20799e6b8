//! One PeerDrop transfer through the real release binaries (`peerdrop-signal`, `peerdrop
//! receive --yes`, `peerdrop send`), on loopback or inside the netbed namespaces.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use peerdrop_testkit::{spawn_listening, KillOnDrop};

use crate::payload;
use crate::report::ToolRun;
use crate::watch::{Pair, Watched};

/// Where the two peers run.
pub enum Where<'a> {
    /// On this host: a fresh `peerdrop-signal` on 127.0.0.1, peers bound to loopback (the
    /// loopback-only packet size: the bench's fastest case, which no person sets).
    Loopback,
    /// On this host, two processes as a person runs them: a fresh `peerdrop-signal` on
    /// 127.0.0.1, the CLI's defaults otherwise (no `PEERDROP_BIND`: every interface, the
    /// packet size of a real network).
    LocalDefaults,
    /// Inside network namespaces (the netbed), with the signaling server already running.
    Netns {
        /// `ws://…/ws` of the bed's signaling server.
        server_url: &'a str,
        /// Sender's namespace.
        sender_ns: &'a str,
        /// Receiver's namespace.
        receiver_ns: &'a str,
        /// The path the transfer must take (`direct`, `relayed`); any other fails the run.
        path: &'a str,
    },
}

/// A fresh `peerdrop-signal` on loopback (killed on drop, so a failed run leaves nothing
/// behind) and its `ws://` URL.
fn start_signal(bin_dir: &Path) -> Result<(KillOnDrop, String)> {
    let (signal, addr) = spawn_listening(
        Command::new(bin_dir.join("peerdrop-signal"))
            .args(["--listen", "127.0.0.1:0"])
            .stderr(Stdio::null()),
    )
    .context("starting peerdrop-signal (build with --release first)")?;
    Ok((signal, format!("ws://{addr}/ws")))
}

/// A peer's command: in namespace `ns` (the netbed's), else on this host, bound to loopback
/// only when `bind_loopback`.
fn peer_command(
    bin_dir: &Path,
    url: &str,
    ns: Option<&str>,
    bind_loopback: bool,
    log: &Path,
) -> Result<Command> {
    let mut cmd = match ns {
        Some(ns) => peerdrop_netbed::procs::peerdrop(ns, url, &[]),
        None => {
            let mut cmd = Command::new(bin_dir.join("peerdrop"));
            cmd.env("PEERDROP_SERVER", url).env("PEERDROP_NO_LAN", "1");
            if bind_loopback {
                cmd.env("PEERDROP_BIND", "127.0.0.1:0");
            }
            cmd
        }
    };
    let log = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    cmd.stdout(Stdio::piped()).stderr(log);
    Ok(cmd)
}

/// Sends `source` (file or folder) with the real stack into `dest` (emptied first), checks
/// the received copy against `digest`, and returns the measurements.
pub fn run(
    bin_dir: &Path,
    source: &Path,
    digest: &str,
    dest: &Path,
    place: &Where,
) -> Result<ToolRun> {
    let _ = std::fs::remove_dir_all(dest);
    std::fs::create_dir_all(dest)?;
    let logs = dest.parent().context("dest has a parent")?;
    let (_signal, url, tx_ns, rx_ns, want_path) = match place {
        Where::Loopback | Where::LocalDefaults => {
            let (signal, url) = start_signal(bin_dir)?;
            (Some(signal), url, None, None, "direct")
        }
        Where::Netns {
            server_url,
            sender_ns,
            receiver_ns,
            path,
        } => (
            None,
            server_url.to_string(),
            Some(*sender_ns),
            Some(*receiver_ns),
            *path,
        ),
    };

    let bind_loopback = matches!(place, Where::Loopback);
    let rx_log = logs.join("peerdrop-receiver.log");
    let mut receiver = Watched::spawn(
        peer_command(bin_dir, &url, rx_ns, bind_loopback, &rx_log)?
            .args([
                "receive",
                "--yes",
                "--json",
                "--name",
                "bench-receiver",
                "--dir",
            ])
            .arg(dest),
        "peerdrop receiver",
    )?;
    let mut rx_out = BufReader::new(receiver.child().stdout.take().context("receiver stdout")?);
    let mut code_line = String::new();
    rx_out.read_line(&mut code_line)?;
    let code: serde_json::Value = serde_json::from_str(&code_line).with_context(|| {
        format!(
            "receiver's first line {code_line:?} (log: {})",
            rx_log.display()
        )
    })?;
    let code = code["code"].as_str().context("code")?.to_string();
    std::thread::spawn(move || for _ in rx_out.lines() {});

    let tx_log = logs.join("peerdrop-sender.log");
    let t0 = Instant::now();
    let mut sender = Watched::spawn(
        peer_command(bin_dir, &url, tx_ns, bind_loopback, &tx_log)?
            .args(["send", "--json", "--name", "bench-sender", "--to", &code])
            .arg(source),
        "peerdrop sender",
    )?;
    let tx_out = BufReader::new(sender.child().stdout.take().context("sender stdout")?);
    let events = std::thread::spawn(move || {
        tx_out
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .collect::<Vec<_>>()
    });
    let result = Pair { sender, receiver }
        .wait(t0, dest.to_path_buf(), Duration::from_secs(1800))
        .with_context(|| {
            format!(
                "peerdrop transfer failed (logs: {}, {})",
                tx_log.display(),
                rx_log.display()
            )
        })?;
    let events = events.join().unwrap_or_default();
    let connect_ms = events
        .iter()
        .find(|v| v["event"] == "connected")
        .and_then(|v| v["connect_ms"].as_u64());
    if let Some(path) = events.iter().find(|v| v["event"] == "path") {
        if path["path"] != want_path {
            bail!("peerdrop took the {} path, not {want_path}", path["path"]);
        }
    }
    let bytes = payload::verify_and_clear(digest, source, dest, "peerdrop")?;
    Ok(ToolRun::new("peerdrop", bytes, result, connect_ms))
}
