//! The unhappy paths a user meets: a decline, a receiver that vanishes, a bad code.

mod common;

use common::*;
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn decline_makes_sender_fail_with_declined() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("secret.txt");
    std::fs::write(&file, b"no thanks").unwrap();
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::spawn(&signal, dest.path(), &[]);
    let code = receiver.code.clone();
    let sender = std::thread::spawn({
        let url = signal.url.clone();
        let file = file.clone();
        move || {
            let signal_ref = SignalRef(url);
            signal_ref.send(&code, &file)
        }
    });
    receiver.wait_for(r#""event":"incoming""#, Duration::from_secs(30));
    receiver
        .child
        .stdin
        .take()
        .unwrap()
        .write_all(b"n\n")
        .unwrap();
    let output = sender.join().unwrap();
    assert_eq!(output.status.code(), Some(3), "exit code 3: declined");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("declined"),
        "stderr says declined: {stderr}"
    );
    let (ok, _) = receiver.finish(Duration::from_secs(10));
    assert!(!ok, "receiver exits non-zero: nothing was received");
    assert!(hash_tree(dest.path()).is_empty(), "nothing written");
}

/// Just enough of [`Signal`] to send from another thread.
struct SignalRef(String);

impl SignalRef {
    fn send(&self, code: &str, file: &std::path::Path) -> std::process::Output {
        let mut child = std::process::Command::new(peerdrop_bin())
            .env("PEERDROP_SERVER", &self.0)
            .env("PEERDROP_NO_LAN", "1")
            .env("PEERDROP_BIND", "127.0.0.1:0")
            .args(["send", "--to", code])
            .arg(file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_timeout(&mut child, Duration::from_secs(60)).expect("sender exits");
        child.wait_with_output().unwrap()
    }
}

#[test]
fn receiver_killed_mid_transfer_fails_sender_fast_and_leaves_no_final_file() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("huge.bin");
    random_file(&file, 400 * 1024 * 1024, 9);
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::spawn(&signal, dest.path(), &["--yes"]);
    let mut sender = peerdrop(&signal)
        .args(["send", "--json", "--to", &receiver.code])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the receiver once bytes are flowing.
    receiver.wait_for(r#""event":"progress""#, Duration::from_secs(60));
    receiver.child.kill().unwrap();
    let killed_at = Instant::now();
    let status =
        wait_timeout(&mut sender, Duration::from_secs(10)).expect("sender must exit within 10 s");
    assert_eq!(status.code(), Some(5), "exit code 5: disconnected");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut sender.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("disconnected"), "clear reason: {stderr}");
    eprintln!(
        "sender noticed the dead receiver after {:?}",
        killed_at.elapsed()
    );
    assert!(
        !dest.path().join("huge.bin").exists(),
        "no final file at the receiver"
    );
    let finals: Vec<_> = hash_tree(dest.path())
        .into_keys()
        .filter(|p| !p.starts_with(".peerdrop-incoming/"))
        .collect();
    assert!(
        finals.is_empty(),
        "only staging data may remain: {finals:?}"
    );
}

#[test]
fn unknown_code_is_a_clear_error() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("a.txt");
    std::fs::write(&file, b"x").unwrap();
    let output = send(&signal, "ZZZZ-ZZ", &[&file], &[]);
    assert_eq!(output.status.code(), Some(4), "exit code 4: unknown code");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no device is online with code ZZZZ-ZZ"),
        "{stderr}"
    );
    let bad = send(&signal, "hello", &[&file], &[]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a valid code"));
}

#[test]
fn missing_source_file_is_a_clear_error() {
    let signal = Signal::start();
    let output = send(
        &signal,
        "ABCD-EF",
        &[std::path::Path::new("/definitely/not/here.txt")],
        &[],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/definitely/not/here.txt"),
        "names the path: {stderr}"
    );
}
