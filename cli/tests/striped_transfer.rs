//! A transfer striped over two peer connections (`PEERDROP_STRIPES=2`): the sender opens a
//! second association once the receiver accepts, frames are dealt over both, and the
//! receiver, which writes positionally and keeps a running hash of out-of-order frames,
//! saves exactly the sent bytes.

mod common;

use common::*;
use std::ffi::OsStr;
use std::time::Duration;

#[test]
fn a_transfer_striped_over_two_connections_arrives_intact() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let big = src.path().join("big.bin");
    random_file(&big, 24 << 20, 7);
    let small = src.path().join("small.txt");
    std::fs::write(&small, b"striped").unwrap();
    let dest = tempfile::tempdir().unwrap();

    let stripes = [
        ("PEERDROP_STRIPES", OsStr::new("2")),
        ("PEERDROP_LOG", OsStr::new("info")),
    ];
    let receiver = Receiver::spawn_with(&signal, dest.path(), &["--yes"], &stripes);
    let sent = send_with(
        &signal,
        &receiver.code,
        &[&big, &small],
        &["--json"],
        &stripes,
    );
    assert_success(&sent, "striped send");
    let (ok, rx_stderr) = receiver.finish(Duration::from_secs(60));
    assert!(ok, "receiver failed: {rx_stderr}");

    let tx_stderr = String::from_utf8_lossy(&sent.stderr);
    assert!(
        tx_stderr.contains("stripes open") && tx_stderr.contains("stripes=1"),
        "the sender opened no stripe: {tx_stderr}"
    );
    assert!(
        rx_stderr.contains("stripe accepted"),
        "the receiver accepted no stripe: {rx_stderr}"
    );
    assert_eq!(hash_tree(dest.path()), hash_tree(src.path()));
}
