//! Ctrl-C (SIGINT) on either side mid-file cancels the transfer on both: both exit non-zero
//! saying "cancelled", no final file appears, and the partial data is deleted (a cancel is a
//! "no", not an interruption to resume).

mod common;

use common::*;
use std::time::Duration;

fn big_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("huge.iso");
    random_file(&file, 200 * 1024 * 1024, 3);
    (src, file)
}

#[test]
fn sigint_at_the_sender_cancels_both_sides() {
    let signal = Signal::start();
    let (_src, file) = big_file();
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::spawn(&signal, dest.path(), &["--yes"]);
    let sender = spawn_sender(&signal, &receiver.code, &[&file], &[]);
    receiver.wait_for_progress(0.05, Duration::from_secs(60));
    signal_child(&sender, libc::SIGINT);
    let out = finish_child(sender, Duration::from_secs(15));
    let tx_stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "exit code 7: cancelled");
    assert!(tx_stderr.contains("cancelled"), "sender: {tx_stderr}");
    let (ok, rx_stderr, lines) = receiver.finish_lines(Duration::from_secs(15));
    assert!(!ok);
    assert!(
        rx_stderr.contains("sender cancelled"),
        "receiver: {rx_stderr}"
    );
    let events = json_events(&lines.join("\n"));
    assert_eq!(events_of(&events, "cancelled").len(), 1, "{events:#?}");
    assert!(hash_tree(dest.path()).is_empty(), "nothing left behind");
    assert!(!dest.path().join(".peerdrop-incoming").exists());
}

#[test]
fn sigint_at_the_receiver_cancels_both_sides() {
    let signal = Signal::start();
    let (_src, file) = big_file();
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::spawn(&signal, dest.path(), &["--yes"]);
    let sender = spawn_sender(&signal, &receiver.code, &[&file], &[]);
    receiver.wait_for_progress(0.05, Duration::from_secs(60));
    signal_child(&receiver.child, libc::SIGINT);
    let (ok, rx_stderr) = receiver.finish(Duration::from_secs(15));
    assert!(!ok);
    assert!(rx_stderr.contains("cancelled"), "receiver: {rx_stderr}");
    let out = finish_child(sender, Duration::from_secs(15));
    let tx_stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(7),
        "exit code 7: cancelled by the other side"
    );
    assert!(
        tx_stderr.contains("receiver cancelled"),
        "sender: {tx_stderr}"
    );
    let events = json_events(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(events_of(&events, "cancelled").len(), 1, "{events:#?}");
    assert!(hash_tree(dest.path()).is_empty(), "nothing left behind");
}
