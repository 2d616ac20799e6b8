//! Real processes, real signaling server, real WebRTC: what is sent arrives, byte for byte.

mod common;

use common::*;
use std::time::Duration;

/// Sends `paths` from a fresh sender to a fresh `--yes` receiver and returns the receive dir.
fn transfer(paths: &[&std::path::Path]) -> (tempfile::TempDir, Vec<String>) {
    let signal = Signal::start();
    let dest = tempfile::tempdir().unwrap();
    let receiver = Receiver::spawn(&signal, dest.path(), &["--yes"]);
    let sent = send(&signal, &receiver.code, paths, &["--json"]);
    assert_success(&sent, "peerdrop send");
    let (ok, stderr) = receiver.finish(Duration::from_secs(30));
    assert!(ok, "receiver failed: {stderr}");
    let events = String::from_utf8_lossy(&sent.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    (dest, events)
}

#[test]
fn one_file_arrives_intact() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("report.pdf");
    random_file(&file, 300_000, 1);
    let (dest, events) = transfer(&[&file]);
    assert_eq!(hash_tree(dest.path()), hash_tree(src.path()));
    assert!(
        events.iter().any(|e| e.contains(r#""event":"done""#)),
        "sender reports done: {events:#?}"
    );
    assert!(events
        .iter()
        .any(|e| e.contains(r#""event":"file_verified""#)));
}

#[test]
fn empty_file_arrives_empty() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("empty.txt");
    std::fs::write(&file, b"").unwrap();
    let (dest, _) = transfer(&[&file]);
    let got = dest.path().join("empty.txt");
    assert_eq!(std::fs::metadata(&got).unwrap().len(), 0);
    assert_eq!(hash_tree(dest.path()), hash_tree(src.path()));
}

#[test]
fn two_hundred_small_files_arrive() {
    let src = tempfile::tempdir().unwrap();
    let folder = src.path().join("many");
    for i in 0..200 {
        random_file(
            &folder.join(format!("file-{i:03}.bin")),
            100 + i * 37,
            i as u64 + 7,
        );
    }
    let (dest, _) = transfer(&[&folder]);
    let got = hash_tree(dest.path());
    assert_eq!(got.len(), 200);
    assert_eq!(got, hash_tree(src.path()));
}

#[test]
fn nested_folder_with_awkward_names_is_recreated() {
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("Ferien 2026 ☀");
    random_file(&root.join("a.txt"), 10, 1);
    random_file(&root.join("Ünïcødé/日本語 ファイル.txt"), 2000, 2);
    random_file(&root.join("with space/-leading dash.bin"), 5000, 3);
    random_file(&root.join("deep/er/and/deeper/back\\slash.txt"), 33, 4);
    random_file(&root.join("deep/empty-ish.dat"), 1, 5);
    let (dest, _) = transfer(&[&root]);
    let got = hash_tree(dest.path());
    assert!(
        got.contains_key("Ferien 2026 ☀/deep/er/and/deeper/back\\slash.txt"),
        "{got:#?}"
    );
    assert!(got.contains_key("Ferien 2026 ☀/with space/-leading dash.bin"));
    assert_eq!(got, hash_tree(src.path()));
    let leftovers: Vec<_> = std::fs::read_dir(dest.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "only the sent folder, no staging left behind: {leftovers:?}"
    );
}

#[test]
fn fifty_mebibyte_random_file_arrives_intact() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("big.bin");
    random_file(&file, 50 * 1024 * 1024, 42);
    let (dest, events) = transfer(&[&file]);
    assert_eq!(hash_tree(dest.path()), hash_tree(src.path()));
    assert!(
        events.iter().any(|e| e.contains(r#""event":"progress""#)),
        "progress is reported"
    );
}

#[test]
fn existing_names_are_never_overwritten() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("notes.txt");
    std::fs::write(&file, b"new contents").unwrap();
    let dest = tempfile::tempdir().unwrap();
    std::fs::write(dest.path().join("notes.txt"), b"precious old contents").unwrap();
    let receiver = Receiver::spawn(&signal, dest.path(), &["--yes"]);
    assert_success(
        &send(&signal, &receiver.code, &[&file], &[]),
        "peerdrop send",
    );
    assert!(receiver.finish(Duration::from_secs(30)).0);
    assert_eq!(
        std::fs::read(dest.path().join("notes.txt")).unwrap(),
        b"precious old contents"
    );
    assert_eq!(
        std::fs::read(dest.path().join("notes (1).txt")).unwrap(),
        b"new contents"
    );
}
