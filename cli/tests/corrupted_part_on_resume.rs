//! A file that does not match its hash is never kept, and both sides say so with their own
//! exit code (9) and a `failed` event whose `cause` is `hash_mismatch`. The damage here is
//! what a flaky disk does to a transfer that waits for a resume: the receiver dies part-way,
//! one byte of its kept `.part` flips, and the resumed transfer's whole-file BLAKE3 (old bytes
//! read back from disk, new bytes as they arrive) no longer matches the sender's.

mod common;

use common::*;
use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

const SIZE: usize = 128 * 1024 * 1024;

#[test]
fn a_part_damaged_while_waiting_for_the_resume_fails_verification_on_both_sides() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("photos.tar");
    random_file(&file, SIZE, 91);
    let dest = tempfile::tempdir().unwrap();
    let rx_home = test_home();
    let tx_home = test_home();
    let rx_env = [("PEERDROP_HOME", rx_home.as_os_str())];
    let tx_env = [
        ("PEERDROP_HOME", tx_home.as_os_str()),
        ("PEERDROP_LOG", OsStr::new("warn")),
    ];

    // The receiver dies part-way; its part and journal stay for a resume.
    receive_killed_midway(&signal, dest.path(), &file, 0.25, &rx_env, &tx_env);
    let part = staged_files(dest.path())
        .into_iter()
        .find(|p| p.ends_with("/0.part"))
        .expect("the part is kept");
    let part = dest.path().join(".peerdrop-incoming").join(part);

    // One byte early in the part (well inside what the journal recorded) flips.
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&part)
        .unwrap();
    let mut byte = [0u8; 1];
    f.seek(SeekFrom::Start(1000)).unwrap();
    f.read_exact(&mut byte).unwrap();
    f.seek(SeekFrom::Start(1000)).unwrap();
    f.write_all(&[byte[0] ^ 0x01]).unwrap();
    f.sync_all().unwrap();
    drop(f);

    let receiver = Receiver::spawn_with(&signal, dest.path(), &["--yes"], &rx_env);
    let second = send_with(&signal, &receiver.code, &[&file], &["--json"], &tx_env);
    let (rx_status, rx_stderr, rx_lines) = receiver.finish_status(Duration::from_secs(60));
    let tx_stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(9), "sender: {tx_stderr}");
    assert_eq!(rx_status.code(), Some(9), "receiver: {rx_stderr}");
    assert!(rx_stderr.contains("BLAKE3 mismatch"), "{rx_stderr}");
    for (side, events) in [
        (
            "sender",
            json_events(&String::from_utf8_lossy(&second.stdout)),
        ),
        ("receiver", json_events(&rx_lines.join("\n"))),
    ] {
        let resumed = events_of(&events, "resumed");
        assert_eq!(resumed.len(), 1, "{side} resumed first: {events:#?}");
        let failed = events_of(&events, "failed");
        assert_eq!(failed.len(), 1, "{side}: {events:#?}");
        assert_eq!(failed[0]["cause"], "hash_mismatch", "{side}: {failed:#?}");
    }
    assert!(
        final_files(dest.path()).is_empty(),
        "a file that did not verify never appears: {:?}",
        final_files(dest.path())
    );
}
