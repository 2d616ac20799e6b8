//! A receiver killed mid-file (the first progress report past 30%: early enough that a fast
//! link cannot finish between two reports) keeps its `.part` and journal; restarting it and
//! sending the same files from the same device resumes where the journal says, and the whole
//! file's BLAKE3 is still verified.

mod common;

use common::*;
use std::ffi::OsStr;
use std::time::Duration;

const SIZE: usize = 256 * 1024 * 1024;

#[test]
fn receiver_killed_mid_file_resumes_after_restart() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("movie.bin");
    random_file(&file, SIZE, 77);
    let dest = tempfile::tempdir().unwrap();
    let rx_home = test_home();
    let tx_home = test_home();
    let rx_env = [("PEERDROP_HOME", rx_home.as_os_str())];
    let tx_env = [
        ("PEERDROP_HOME", tx_home.as_os_str()),
        ("PEERDROP_LOG", OsStr::new("warn,peerdrop::stats=info")),
    ];

    // First attempt: the receiver process dies part-way through the file.
    let (done, _) = receive_killed_midway(&signal, dest.path(), &file, 0.3, &rx_env, &tx_env);
    assert!(
        final_files(dest.path()).is_empty(),
        "a half-received file never looks complete"
    );
    let staged = staged_files(dest.path());
    assert!(
        staged.iter().any(|p| p.ends_with("/0.part"))
            && staged.iter().any(|p| p.ends_with("/journal")),
        "the part and its journal are kept: {staged:?}"
    );

    // Second attempt: same devices, same file. It resumes.
    let receiver = Receiver::spawn_with(&signal, dest.path(), &["--yes"], &rx_env);
    let second = send_with(&signal, &receiver.code, &[&file], &["--json"], &tx_env);
    assert_success(&second, "the resumed send");
    let (ok, stderr, lines) = receiver.finish_lines(Duration::from_secs(30));
    assert!(ok, "receiver: {stderr}");
    let rx_events = json_events(&lines.join("\n"));
    let rx_resumed = events_of(&rx_events, "resumed");
    assert_eq!(rx_resumed.len(), 1, "the receiver reports the resume too");
    assert_eq!(
        hash_tree(dest.path()),
        hash_tree(src.path()),
        "the whole file, old bytes and new, matches"
    );
    assert!(
        staged_files(dest.path()).is_empty(),
        "staging is cleaned up"
    );

    let events = json_events(&String::from_utf8_lossy(&second.stdout));
    let resumed = events_of(&events, "resumed");
    assert_eq!(resumed.len(), 1, "{events:#?}");
    let offset = resumed[0]["offset"].as_u64().unwrap();
    assert_eq!(
        rx_resumed[0]["offset"], resumed[0]["offset"],
        "both sides agree"
    );
    assert_eq!(resumed[0]["file"], "movie.bin");
    assert_eq!(resumed[0]["size"].as_u64().unwrap(), SIZE as u64);
    // The journal is at most one checkpoint (64 MiB) behind what had arrived, plus the
    // progress report's own lag.
    assert!(
        offset <= done && offset + 72 * 1024 * 1024 >= done,
        "resumed at {offset} after dying at {done}"
    );
    let (sent, needed) =
        sender_summary(&String::from_utf8_lossy(&second.stderr)).expect("sender summary line");
    eprintln!(
        "resumed at {:.1}%: second run sent {sent} of {SIZE} bytes",
        offset as f64 * 100.0 / SIZE as f64
    );
    assert_eq!(needed, SIZE as u64 - offset);
    assert_eq!(sent, needed, "only the missing bytes were sent");
}
