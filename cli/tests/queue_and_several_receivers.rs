//! A busy receiver holds a second sender in line instead of refusing it, and one send goes
//! to several receivers at once. Real signal server, real `peerdrop` processes.
//!
//! The first transfer is kept busy deterministically by its prompt (`receive --keep` without
//! `--yes`): the receiver is busy from the offer on, whoever answers it.

mod common;

use common::*;
use std::io::{BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A `peerdrop send --json` whose stdout lines arrive on a channel as they are printed.
struct Sender {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Sender {
    fn spawn(signal: &Signal, name: &str, to: &[&str], file: &std::path::Path) -> Sender {
        Self::spawn_with(signal, name, to, file, &[])
    }

    fn spawn_with(
        signal: &Signal,
        name: &str,
        to: &[&str],
        file: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Sender {
        let mut cmd = peerdrop(signal);
        cmd.envs(env.iter().copied());
        cmd.args(["send", "--json", "--name", name]);
        for code in to {
            cmd.args(["--to", code]);
        }
        let mut child = cmd
            .arg(file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn peerdrop send");
        let lines = stdout_lines(child.stdout.take().unwrap());
        Sender {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for `count` stdout lines containing `needle` (counting those seen already).
    fn wait_for_count(&mut self, needle: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.seen.iter().filter(|l| l.contains(needle)).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "fewer than {count} lines with {needle} within {timeout:?}; saw {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Waits for exit; returns (exit code, stderr, every stdout line).
    fn finish(mut self, timeout: Duration) -> (Option<i32>, String, Vec<String>) {
        let stderr = self.child.stderr.take().unwrap();
        let status = wait_timeout(&mut self.child, timeout).expect("sender did not exit in time");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text).unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        (status.code(), text, std::mem::take(&mut self.seen))
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn answer(stdin: &mut ChildStdin, yes: bool) {
    stdin.write_all(if yes { b"y\n" } else { b"n\n" }).unwrap();
    stdin.flush().unwrap();
}

fn file_with(dir: &std::path::Path, name: &str, size: usize, seed: u8) -> std::path::PathBuf {
    let path = dir.join(name);
    let bytes: Vec<u8> = (0..size)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect();
    std::fs::write(&path, bytes).unwrap();
    path
}

fn blake3_of(path: &std::path::Path) -> String {
    blake3::hash(&std::fs::read(path).unwrap())
        .to_hex()
        .to_string()
}

/// The `from` of the n-th (0-based) `incoming` event the receiver printed, waiting for it.
fn nth_incoming_from(receiver: &mut Receiver, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let incoming: Vec<String> = receiver
            .seen
            .iter()
            .filter(|l| l.contains(r#""event":"incoming""#))
            .cloned()
            .collect();
        if let Some(line) = incoming.get(n) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            return v["from"].as_str().unwrap().to_string();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        receiver.wait_for(r#""event":"incoming""#, left);
    }
}

#[test]
fn a_second_sender_waits_in_line_and_both_files_arrive() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let first = file_with(src.path(), "first.bin", 3 << 20, 1);
    let second = file_with(src.path(), "second.bin", 2 << 20, 2);
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::spawn(&signal, dest.path(), &["--keep"]);
    let mut stdin = receiver.child.stdin.take().unwrap();
    let code = receiver.code.clone();

    let one = Sender::spawn(&signal, "sender one", &[&code], &first);
    assert_eq!(nth_incoming_from(&mut receiver, 0), "sender one");
    // Its relay switch would fire after 2 s of no connection: while it is held there is no
    // path to try, so it must wait for the answer instead.
    let mut two = Sender::spawn_with(
        &signal,
        "sender two",
        &[&code],
        &second,
        &[("PEERDROP_FALLBACK_AFTER_MS", "2000")],
    );
    // Told at once, and again after the refresh: each re-arms its connect deadline.
    two.wait_for_count(r#""event":"queued""#, 1, Duration::from_secs(10));
    let queued: serde_json::Value = serde_json::from_str(
        two.seen
            .iter()
            .find(|l| l.contains(r#""event":"queued""#))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(queued["position"], 1, "next in line: {queued}");
    two.wait_for_count(r#""event":"queued""#, 2, Duration::from_secs(15));

    answer(&mut stdin, true);
    let (code_one, stderr_one, _) = one.finish(Duration::from_secs(30));
    assert_eq!(code_one, Some(0), "first sender: {stderr_one}");
    assert_eq!(
        nth_incoming_from(&mut receiver, 1),
        "sender two",
        "the held sender is asked next"
    );
    answer(&mut stdin, true);
    let (code_two, stderr_two, lines_two) = two.finish(Duration::from_secs(30));
    assert_eq!(code_two, Some(0), "second sender: {stderr_two}");
    assert!(
        !stderr_two.contains("busy"),
        "nothing was refused: {stderr_two}"
    );
    assert!(
        lines_two.iter().any(|l| l.contains(r#""event":"done""#)),
        "second sender done: {lines_two:#?}"
    );
    assert_eq!(blake3_of(&dest.path().join("first.bin")), blake3_of(&first));
    assert_eq!(
        blake3_of(&dest.path().join("second.bin")),
        blake3_of(&second)
    );
    assert!(
        receiver.child.try_wait().unwrap().is_none(),
        "--keep: still receiving"
    );
}

#[test]
fn receive_yes_keep_takes_a_second_sender_after_the_first_transfer() {
    // The first transfer goes over the server's encrypted relay, held to 400 kB/s, so the
    // receiver is still busy with it when the second sender offers.
    let signal = Signal::start_with(&["--relay-bytes-per-sec", "400000"]);
    let src = tempfile::tempdir().unwrap();
    let first = file_with(src.path(), "slow.bin", 3 << 20, 8);
    let second = file_with(src.path(), "after.bin", 1 << 20, 9);
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::spawn(&signal, dest.path(), &["--yes", "--keep"]);
    let code = receiver.code.clone();
    let one = Sender::spawn_with(
        &signal,
        "sender one",
        &[&code],
        &first,
        &[("PEERDROP_FALLBACK", "force")],
    );
    receiver.wait_for(r#""event":"progress""#, Duration::from_secs(20));
    let mut two = Sender::spawn(&signal, "sender two", &[&code], &second);
    two.wait_for_count(r#""event":"queued""#, 1, Duration::from_secs(10));
    let (code_one, stderr_one, _) = one.finish(Duration::from_secs(30));
    assert_eq!(code_one, Some(0), "first sender: {stderr_one}");
    let (code_two, stderr_two, lines_two) = two.finish(Duration::from_secs(30));
    assert_eq!(code_two, Some(0), "second sender: {stderr_two}");
    assert!(
        lines_two.iter().any(|l| l.contains(r#""event":"done""#)),
        "{lines_two:#?}"
    );
    assert_eq!(blake3_of(&dest.path().join("slow.bin")), blake3_of(&first));
    assert_eq!(
        blake3_of(&dest.path().join("after.bin")),
        blake3_of(&second)
    );
    assert!(
        receiver.child.try_wait().unwrap().is_none(),
        "--keep: still receiving"
    );
}

#[test]
fn a_queued_sender_that_is_killed_leaves_the_line_and_a_third_gets_its_turn() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let first = file_with(src.path(), "first.bin", 1 << 20, 3);
    let killed = file_with(src.path(), "killed.bin", 1 << 20, 4);
    let third = file_with(src.path(), "third.bin", 1 << 20, 5);
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::spawn(&signal, dest.path(), &["--keep"]);
    let mut stdin = receiver.child.stdin.take().unwrap();
    let code = receiver.code.clone();

    let one = Sender::spawn(&signal, "sender one", &[&code], &first);
    assert_eq!(nth_incoming_from(&mut receiver, 0), "sender one");
    let mut two = Sender::spawn(&signal, "sender two", &[&code], &killed);
    two.wait_for_count(r#""event":"queued""#, 1, Duration::from_secs(10));
    two.child.kill().unwrap();
    let _ = two.child.wait();
    let mut three = Sender::spawn(&signal, "sender three", &[&code], &third);
    three.wait_for_count(r#""event":"queued""#, 1, Duration::from_secs(10));

    answer(&mut stdin, true);
    let (code_one, stderr_one, _) = one.finish(Duration::from_secs(30));
    assert_eq!(code_one, Some(0), "first sender: {stderr_one}");
    assert_eq!(
        nth_incoming_from(&mut receiver, 1),
        "sender three",
        "the killed sender left the line"
    );
    answer(&mut stdin, true);
    let (code_three, stderr_three, _) = three.finish(Duration::from_secs(30));
    assert_eq!(code_three, Some(0), "third sender: {stderr_three}");
    assert_eq!(blake3_of(&dest.path().join("third.bin")), blake3_of(&third));
    assert!(!dest.path().join("killed.bin").exists());
    drop(two);
}

#[test]
fn one_send_reaches_two_receivers() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = file_with(src.path(), "both.bin", 2 << 20, 6);
    let (dest_a, dest_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Receiver::spawn_named(&signal, dest_a.path(), "receiver a", &["--yes"], &[]);
    let b = Receiver::spawn_named(&signal, dest_b.path(), "receiver b", &["--yes"], &[]);
    let (code_a, code_b) = (a.code.clone(), b.code.clone());
    let sender = Sender::spawn(&signal, "sender", &[&code_a, &code_b], &file);
    let (code, stderr, lines) = sender.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{stderr}");
    let events = json_events(&lines.join("\n"));
    for to in [&code_a, &code_b] {
        assert!(
            events_of(&events, "done").iter().any(|e| e["to"] == **to),
            "a done event tagged with {to}: {lines:#?}"
        );
    }
    for dest in [&dest_a, &dest_b] {
        assert_eq!(blake3_of(&dest.path().join("both.bin")), blake3_of(&file));
    }
    assert!(a.finish(Duration::from_secs(10)).0, "receiver A exits 0");
    assert!(b.finish(Duration::from_secs(10)).0, "receiver B exits 0");
}

#[test]
fn one_of_two_receivers_declines_the_other_still_gets_it() {
    let signal = Signal::start();
    let src = tempfile::tempdir().unwrap();
    let file = file_with(src.path(), "maybe.bin", 1 << 20, 7);
    let (dest_a, dest_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Receiver::spawn_named(&signal, dest_a.path(), "receiver a", &["--yes"], &[]);
    let mut b = Receiver::spawn_named(&signal, dest_b.path(), "receiver b", &[], &[]);
    let (code_a, code_b) = (a.code.clone(), b.code.clone());
    let sender = Sender::spawn(&signal, "sender", &[&code_a, &code_b], &file);
    b.wait_for(r#""event":"incoming""#, Duration::from_secs(20));
    answer(b.child.stdin.as_mut().unwrap(), false);
    let (code, stderr, _) = sender.finish(Duration::from_secs(30));
    assert_eq!(code, Some(3), "exit code 3: declined: {stderr}");
    assert!(
        stderr.contains(&format!("to {code_b}")) && stderr.contains("declined"),
        "names the receiver that declined: {stderr}"
    );
    assert_eq!(
        blake3_of(&dest_a.path().join("maybe.bin")),
        blake3_of(&file)
    );
    assert!(final_files(dest_b.path()).is_empty(), "nothing at B");
    assert!(a.finish(Duration::from_secs(10)).0, "receiver A exits 0");
}
