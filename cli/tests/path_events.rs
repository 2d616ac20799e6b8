//! Both sides say which network path a transfer uses (`{"event":"path",...}`): `direct` on
//! loopback, `fallback` when told to use the encrypted relay over the signaling WebSocket.
//! Real NAT paths (server-reflexive, TURN relay, UDP blocked) are tested in `netbed/`.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::Duration;

/// Sends one 3 MB file with `env` set on both peers; returns (sender lines, receiver lines).
fn transfer_with(env: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let file = src.path().join("photo.raw");
    random_file(&file, 3_000_000, 42);

    let mut rx_cmd = peerdrop(&signal);
    rx_cmd
        .args(["receive", "--json", "--yes", "--name", "rx", "--dir"])
        .arg(dest.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut tx_cmd = peerdrop(&signal);
    for (k, v) in env {
        rx_cmd.env(k, v);
        tx_cmd.env(k, v);
    }
    let mut receiver = rx_cmd.spawn().expect("spawn receiver");
    let mut rx_out = BufReader::new(receiver.stdout.take().unwrap());
    let mut code_line = String::new();
    rx_out.read_line(&mut code_line).unwrap();
    let code: serde_json::Value = serde_json::from_str(&code_line).expect("code event");
    let code = code["code"].as_str().unwrap().to_string();

    let mut sender = tx_cmd
        .args(["send", "--json", "--name", "tx", "--to", &code])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sender");
    let status = wait_timeout(&mut sender, Duration::from_secs(120)).expect("sender exits");
    let mut tx_stdout = String::new();
    sender
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut tx_stdout)
        .unwrap();
    let mut tx_stderr = String::new();
    sender
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut tx_stderr)
        .unwrap();
    assert!(status.success(), "sender failed: {tx_stderr}\n{tx_stdout}");
    let rx_status = wait_timeout(&mut receiver, Duration::from_secs(30)).expect("receiver exits");
    let mut rx_stdout = code_line;
    rx_out.read_to_string(&mut rx_stdout).unwrap();
    assert!(rx_status.success(), "receiver failed: {rx_stdout}");
    assert_eq!(
        hash_tree(dest.path()),
        hash_tree(src.path()),
        "BLAKE3 of every file"
    );
    (
        tx_stdout.lines().map(str::to_string).collect(),
        rx_stdout.lines().map(str::to_string).collect(),
    )
}

fn path_events(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains(r#""event":"path""#))
        .cloned()
        .collect()
}

#[test]
fn loopback_transfer_reports_the_direct_path_on_both_sides() {
    let (sent, received) = transfer_with(&[]);
    let direct = r#"{"event":"path","path":"direct"}"#.to_string();
    assert_eq!(
        path_events(&sent),
        vec![direct.clone()],
        "sender: {sent:#?}"
    );
    assert_eq!(
        path_events(&received),
        vec![direct],
        "receiver: {received:#?}"
    );
}

#[test]
fn forced_fallback_moves_files_over_the_encrypted_websocket_relay() {
    let (sent, received) = transfer_with(&[("PEERDROP_FALLBACK", "force")]);
    let fallback = r#"{"event":"path","path":"fallback"}"#.to_string();
    assert_eq!(
        path_events(&sent),
        vec![fallback.clone()],
        "sender: {sent:#?}"
    );
    assert_eq!(
        path_events(&received),
        vec![fallback],
        "receiver: {received:#?}"
    );
    assert!(sent.iter().any(|l| l.contains(r#""event":"done""#)));
}
