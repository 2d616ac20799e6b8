//! The sender's file is written to while it is being sent (same size, bytes in the middle):
//! the sender reports it and stops, the receiver never saves a torn mixture of old and new.

mod common;

use common::*;
use std::os::unix::fs::FileExt;
use std::time::Duration;

#[test]
fn a_file_modified_during_the_transfer_is_reported_and_never_saved() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("database.db");
    let size = 300 * 1024 * 1024;
    random_file(&file, size, 11);
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::spawn(&signal, dest.path(), &["--yes"]);
    let sender = spawn_sender(&signal, &receiver.code, &[&file], &[]);
    receiver.wait_for_progress(0.02, Duration::from_secs(60));
    // Another program writes into the file, keeping its size.
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .write_all_at(&[0xAB; 4096], (size / 2) as u64)
        .unwrap();
    let out = finish_child(sender, Duration::from_secs(60));
    let tx_stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must not claim success");
    assert!(
        tx_stderr.contains("modified while being sent") && tx_stderr.contains("database.db"),
        "sender says what happened: {tx_stderr}"
    );
    let (ok, rx_stderr) = receiver.finish(Duration::from_secs(20));
    assert!(!ok);
    assert!(
        rx_stderr.contains("modified while being sent"),
        "receiver learns why: {rx_stderr}"
    );
    assert!(
        final_files(dest.path()).is_empty(),
        "no torn file is ever saved: {:?}",
        final_files(dest.path())
    );
}
