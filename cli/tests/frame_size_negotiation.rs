//! Data frames follow the SCTP max-message-size both peers advertise in SDP: two current
//! peers use 256 KiB frames (a quarter of the per-message work of 64 KiB ones), and a receiver
//! that advertises only the RFC 8841 default of 64 KiB (an older peer, played here with
//! `PEERDROP_MAX_MESSAGE`) gets 64 KiB frames, and the file still arrives whole.

mod common;

use common::*;
use peerdrop_proto::transfer::{data_payload_budget, MAX_DATA_FRAME_BYTES, MAX_DATA_PAYLOAD};
use std::ffi::OsStr;
use std::time::Duration;

const SIZE: usize = 24 * 1024 * 1024;

/// Sends one file to a receiver started with `receiver_env`; returns the sender's frame
/// payload (from its summary line) after checking the file arrived intact.
fn frame_payload_of_a_transfer(receiver_env: &[(&str, &OsStr)]) -> u64 {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("footage.mov");
    random_file(&file, SIZE, 31);
    let dest = tempfile::tempdir().unwrap();
    let rx_home = test_home();
    let tx_home = test_home();
    let mut rx_env = vec![("PEERDROP_HOME", rx_home.as_os_str())];
    rx_env.extend_from_slice(receiver_env);
    let receiver = Receiver::spawn_with(&signal, dest.path(), &["--yes"], &rx_env);
    let tx_env = [
        ("PEERDROP_HOME", tx_home.as_os_str()),
        ("PEERDROP_LOG", OsStr::new("warn,peerdrop::stats=info")),
    ];
    let sent = send_with(&signal, &receiver.code, &[&file], &[], &tx_env);
    assert_success(&sent, "send");
    let (ok, stderr) = receiver.finish(Duration::from_secs(30));
    assert!(ok, "receiver: {stderr}");
    assert_eq!(
        blake3::hash(&std::fs::read(dest.path().join("footage.mov")).unwrap()),
        blake3::hash(&std::fs::read(&file).unwrap()),
        "the file arrived whole"
    );
    let stderr = String::from_utf8_lossy(&sent.stderr);
    summary_field(&stderr, "frame_payload").unwrap_or_else(|| panic!("no summary: {stderr}"))
}

#[test]
fn two_current_peers_use_the_largest_frames() {
    assert_eq!(
        frame_payload_of_a_transfer(&[]),
        data_payload_budget(MAX_DATA_FRAME_BYTES) as u64
    );
}

#[test]
fn a_receiver_advertising_64_kib_gets_64_kib_frames() {
    assert_eq!(
        frame_payload_of_a_transfer(&[("PEERDROP_MAX_MESSAGE", OsStr::new("65536"))]),
        MAX_DATA_PAYLOAD as u64
    );
}
