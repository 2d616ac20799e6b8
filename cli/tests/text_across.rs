//! Text instead of files: `peerdrop send --text "…"` (or `--text -` for stdin) and
//! `peerdrop receive --stdout`, which writes the text exactly as sent and nothing else.

mod common;

use common::*;
use std::io::{BufRead, Read, Write};
use std::process::Stdio;
use std::time::Duration;

/// A text with what a terminal or a naive pipe gets wrong: no trailing newline, a tab, a
/// control character, and non-ASCII.
const NOTE: &str = "Meet at 7 — https://example.org/a?b=c\ttab\u{1b}[31m red\u{1F600} no newline";

#[test]
fn text_from_stdin_arrives_on_the_receivers_stdout_byte_for_byte() {
    let signal = Signal::start();
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = peerdrop(&signal)
        .args([
            "receive",
            "--yes",
            "--stdout",
            "--name",
            "test receiver",
            "--dir",
        ])
        .arg(dest.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // With --stdout the `code:` line goes to stderr: stdout carries only the text.
    let mut stderr = std::io::BufReader::new(receiver.stderr.take().unwrap());
    let mut seen = String::new();
    let code = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "receiver ended early: {seen}"
        );
        seen.push_str(&line);
        if let Some(code) = line.strip_prefix("code: ") {
            break code.trim().to_string();
        }
    };
    let stderr_rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });

    let mut sender = peerdrop(&signal)
        .args([
            "send",
            "--name",
            "test sender",
            "--to",
            &code,
            "--text",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    sender
        .stdin
        .take()
        .unwrap()
        .write_all(NOTE.as_bytes())
        .unwrap();
    let sent = finish_child(sender, Duration::from_secs(30));
    assert_success(&sent, "send --text -");
    assert!(
        String::from_utf8_lossy(&sent.stderr).contains("the text went across"),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );

    let received = finish_child(receiver, Duration::from_secs(30));
    let rx_stderr = stderr_rest.join().unwrap();
    assert!(received.status.success(), "receiver failed: {rx_stderr}");
    assert_eq!(
        received.stdout,
        NOTE.as_bytes(),
        "stdout holds exactly the text (stderr: {rx_stderr})"
    );
    assert!(
        std::fs::read_dir(dest.path()).unwrap().next().is_none(),
        "a text leaves nothing in the receive folder"
    );
}

#[test]
fn text_by_code_is_offered_and_delivered_in_json_events() {
    let signal = Signal::start();
    let dest = tempfile::tempdir().unwrap();
    let receiver = Receiver::spawn(&signal, dest.path(), &["--yes"]);
    let sent = send(&signal, &receiver.code, &[], &["--text", NOTE, "--json"]);
    assert_success(&sent, "send --text");
    let (ok, stderr, lines) = receiver.finish_lines(Duration::from_secs(30));
    assert!(ok, "{stderr}");
    let events = json_events(&lines.join("\n"));
    let incoming = events_of(&events, "incoming");
    assert_eq!(incoming.len(), 1, "{events:#?}");
    assert_eq!(incoming[0]["text"], NOTE);
    assert_eq!(incoming[0]["files"].as_array().map(Vec::len), Some(0));
    let text = events_of(&events, "text");
    assert_eq!(text.len(), 1, "{events:#?}");
    assert_eq!(text[0]["text"], NOTE);
}

#[test]
fn a_text_too_long_or_empty_is_refused_before_connecting() {
    let signal = Signal::start();
    let long = "x".repeat(32 * 1024 + 1);
    for (text, says) in [(long.as_str(), "send the file"), ("", "is empty")] {
        let sent = send(&signal, "ABCD-EF", &[], &["--text", text]);
        assert_eq!(sent.status.code(), Some(1), "{sent:?}");
        let stderr = String::from_utf8_lossy(&sent.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
}
