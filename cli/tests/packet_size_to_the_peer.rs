//! PeerDrop never sends a packet the peer cannot take (issue 17, item 3). On a loopback-only
//! connection it sends 16,000-byte SCTP packets (fewer packets, less CPU), but only to a peer
//! that said in its signaling `hello` that it takes them: another WebRTC stack reads into
//! buffers of its own size (aiortc: 1500 bytes of DTLS plaintext per datagram; libwebrtc:
//! 2048), drops every larger packet on every retransmission, and the transfer never ends.
//!
//! - Two PeerDrop peers on loopback still use the large packets, both ways (each logs the
//!   budget it gave its SCTP stack).
//! - `peerdrop send` to an independent receiver (aiortc, `tests/hostile/receive_file.py`,
//!   written from docs/protocol.md; its `hello` says nothing about packet size) completes,
//!   and the file it got has the sender's BLAKE3. Before the fix the sender chose 16,000-byte
//!   packets from its own loopback binding and the receiver got none of its data.
//!
//! `scripts/deps.sh` installs aiortc into `~/.cache/peerdrop-venv` (`PEERDROP_TEST_PYTHON`
//! names another interpreter).

mod common;

use common::*;
use peerdrop_core::rtc::LOOPBACK_SCTP_MTU;
use peerdrop_proto::signal::DEFAULT_MAX_PACKET;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Logs the SCTP packet budget of every connection ([`peerdrop_core::rtc`]), nothing else.
const BUDGET_LOG: &str = "warn,peerdrop_core::rtc=debug";

/// How long a transfer of a few MiB over loopback may take, at most.
const TRANSFER_LIMIT: Duration = Duration::from_secs(15);

/// Whether a log has the budget line for `mtu`-byte packets.
fn logs_budget(stderr: &str, mtu: u32) -> bool {
    let field = format!("sctp_mtu={mtu}");
    stderr
        .lines()
        .any(|l| l.contains("SCTP packet budget") && l.split_whitespace().any(|word| word == field))
}

#[test]
fn two_peerdrop_peers_on_loopback_use_large_packets() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("clip.bin");
    random_file(&file, 4 * 1024 * 1024, 17);
    let dest = tempfile::tempdir().unwrap();
    let log = [("PEERDROP_LOG", OsStr::new(BUDGET_LOG))];
    let receiver = Receiver::spawn_with(&signal, dest.path(), &["--yes"], &log);
    let sent = send_with(&signal, &receiver.code, &[&file], &[], &log);
    assert_success(&sent, "send");
    let (ok, rx_log) = receiver.finish(Duration::from_secs(30));
    assert!(ok, "receiver: {rx_log}");
    assert_eq!(
        hash_tree(dest.path()).get("clip.bin"),
        hash_tree(src.path()).get("clip.bin"),
        "the file arrived whole"
    );
    let tx_log = String::from_utf8_lossy(&sent.stderr);
    assert!(
        logs_budget(&tx_log, LOOPBACK_SCTP_MTU),
        "the sender uses {LOOPBACK_SCTP_MTU}-byte packets: {tx_log}"
    );
    assert!(
        logs_budget(&rx_log, LOOPBACK_SCTP_MTU),
        "the receiver uses {LOOPBACK_SCTP_MTU}-byte packets: {rx_log}"
    );
}

#[test]
fn send_to_an_aiortc_receiver_on_loopback_completes() {
    let signal = Signal::start();
    let out = tempfile::tempdir().unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/receive_file.py");
    let mut peer = Command::new(aiortc_python())
        .arg(script)
        .arg(&signal.url)
        .arg(out.path())
        .arg(TRANSFER_LIMIT.as_secs().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the aiortc receiver");
    let mut lines = BufReader::new(peer.stdout.take().unwrap()).lines();
    let first = lines
        .next()
        .expect("the aiortc receiver prints its code")
        .unwrap();
    let code: serde_json::Value = serde_json::from_str(&first).unwrap();
    let code = code["code"].as_str().expect("a code").to_string();

    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("notes.bin");
    random_file(&file, 3 * 1024 * 1024, 23);
    let sender = spawn_sender(
        &signal,
        &code,
        &[&file],
        &[("PEERDROP_LOG", OsStr::new(BUDGET_LOG))],
    );
    let sent = finish_child_or_kill(sender, TRANSFER_LIMIT);
    let report = lines.next().and_then(Result::ok).unwrap_or_default();
    let peer_status = peerdrop_testkit::wait_timeout(&mut peer, Duration::from_secs(10));
    if peer_status.is_none() {
        let _ = peer.kill();
    }
    let tx_log = String::from_utf8_lossy(&sent.stderr);
    assert!(
        sent.status.success(),
        "the send completes (status {:?}); the receiver reported {report:?}; sender log:\n{tx_log}",
        sent.status.code()
    );
    assert!(
        logs_budget(&tx_log, DEFAULT_MAX_PACKET),
        "a peer that said nothing gets {DEFAULT_MAX_PACKET}-byte packets: {tx_log}"
    );
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let expected = blake3::hash(&std::fs::read(&file).unwrap())
        .to_hex()
        .to_string();
    assert_eq!(
        report["files"]["notes.bin"], expected,
        "the receiver verified the sender's BLAKE3: {report}"
    );
    assert_eq!(
        blake3::hash(&std::fs::read(out.path().join("notes.bin")).unwrap())
            .to_hex()
            .to_string(),
        expected,
        "and wrote the same bytes"
    );
    assert!(
        peer_status.is_some_and(|s| s.success()),
        "the aiortc receiver exits 0"
    );
}

/// Collects a child's output; kills it when it outlives `limit` (the status then says so).
fn finish_child_or_kill(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = pipe.read_to_end(&mut out);
            out
        })
    }
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let status = match peerdrop_testkit::wait_timeout(&mut child, limit) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            child.wait().unwrap()
        }
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}
