//! `peerdrop receive --qr`: the link it prints names its code and server, the QR code it draws
//! decodes (with an independent decoder) to that very link, and a sender that knows nothing
//! but the link reaches the receiver through it. `code:` stays the first stdout line.

mod common;

use common::*;
use peerdrop_proto::link;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Lines of one output stream, read on a thread.
struct Lines(mpsc::Receiver<String>);

impl Lines {
    fn of(stream: impl std::io::Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    fn next(&self, timeout: Duration) -> String {
        self.0
            .recv_timeout(timeout)
            .expect("peerdrop printed nothing more in time")
    }

    /// Lines up to and including the first one containing `needle`.
    fn until(&self, needle: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .0
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no line with {needle:?}; got {seen:#?}"));
            let done = line.contains(needle);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }
}

/// The receiver process, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn receive_qr(signal: &Signal, dir: &std::path::Path, extra: &[&str]) -> (Running, Lines, Lines) {
    let mut child = peerdrop(signal)
        .args(["receive", "--qr", "--yes", "--name", "qr receiver", "--dir"])
        .arg(dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn peerdrop receive --qr");
    let stdout = Lines::of(child.stdout.take().unwrap());
    let stderr = Lines::of(child.stderr.take().unwrap());
    (Running(child), stdout, stderr)
}

/// Reads the QR code drawn with half blocks back into a greyscale image (a block is light, a
/// blank dark, 6 pixels per module) and decodes it with rqrr.
fn decode_terminal_qr(lines: &[String]) -> String {
    let art: Vec<Vec<char>> = lines
        .iter()
        .filter(|l| !l.is_empty() && l.chars().all(|c| matches!(c, '█' | '▀' | '▄' | ' ')))
        .map(|l| l.chars().collect())
        .collect();
    assert!(art.len() > 10, "no QR code on stderr: {lines:#?}");
    let width = art[0].len();
    assert!(art.iter().all(|row| row.len() == width), "ragged QR rows");
    // Module (x, y) is light?
    let light = |x: usize, y: usize| -> bool {
        let c = art[y / 2][x];
        matches!((c, y % 2), ('█', _) | ('▀', 0) | ('▄', 1))
    };
    const SCALE: usize = 6;
    let (w, h) = (width * SCALE, art.len() * 2 * SCALE);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        if light(x / SCALE, y / SCALE) {
            255
        } else {
            0
        }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the terminal drawing");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    content
}

#[test]
fn receive_qr_prints_a_link_that_connects_a_sender() {
    let signal = Signal::start();
    let inbox = tempfile::tempdir().unwrap();
    let (mut receiver, stdout, stderr) = receive_qr(&signal, inbox.path(), &[]);

    let first = stdout.next(Duration::from_secs(20));
    let code = first
        .strip_prefix("code: ")
        .unwrap_or_else(|| panic!("first stdout line is the code line, got {first:?}"))
        .to_string();
    let second = stdout.next(Duration::from_secs(10));
    let printed = second
        .strip_prefix("link: ")
        .unwrap_or_else(|| panic!("second stdout line is the link, got {second:?}"))
        .to_string();
    let parsed = link::parse(&printed).expect("the printed link parses");
    assert_eq!(parsed.page, link::Page::Send);
    assert_eq!(parsed.to.as_deref(), Some(code.as_str()));
    assert_eq!(parsed.server.as_deref(), Some(signal.url.as_str()));

    let drawn = stderr.until("Scan with a phone", Duration::from_secs(10));
    assert_eq!(
        decode_terminal_qr(&drawn),
        printed,
        "the QR code is the link"
    );

    // A sender that knows only the link: its own default server is a dead port, so the file
    // can only arrive through the server the link names.
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("from-the-link.bin");
    random_file(&file, 300_000, 41);
    let dead = Signal::external("127.0.0.1:9");
    let server = parsed.server.clone().unwrap();
    let to = parsed.to.clone().unwrap();
    let sent = send(&dead, &to, &[file.as_path()], &["--server", &server]);
    assert_success(&sent, "send through the link's server");
    assert_eq!(
        wait_timeout(&mut receiver.0, Duration::from_secs(60)).map(|s| s.success()),
        Some(true),
        "the receiver exits 0 after one verified transfer"
    );
    assert_eq!(
        hash_tree(inbox.path()),
        hash_tree(src.path()),
        "the file arrived intact"
    );
}

#[test]
fn with_json_stdout_stays_json_and_the_link_goes_to_stderr() {
    let signal = Signal::start();
    let inbox = tempfile::tempdir().unwrap();
    let (receiver, stdout, stderr) = receive_qr(&signal, inbox.path(), &["--json"]);
    let first = stdout.next(Duration::from_secs(20));
    let event: serde_json::Value = serde_json::from_str(&first).expect("a JSON line");
    assert_eq!(event["event"], "code");
    let code = event["code"].as_str().unwrap().to_string();

    let lines = stderr.until("Scan with a phone", Duration::from_secs(10));
    let printed = lines
        .iter()
        .find_map(|l| l.strip_prefix("link: "))
        .unwrap_or_else(|| panic!("no link line on stderr: {lines:#?}"));
    let parsed = link::parse(printed).unwrap();
    assert_eq!(parsed.to.as_deref(), Some(code.as_str()));
    assert_eq!(parsed.server.as_deref(), Some(signal.url.as_str()));
    assert_eq!(decode_terminal_qr(&lines), printed);

    // Nothing but JSON on stdout meanwhile.
    drop(receiver);
    while let Ok(line) = stdout.0.recv_timeout(Duration::from_secs(5)) {
        assert!(
            serde_json::from_str::<serde_json::Value>(&line).is_ok(),
            "non-JSON stdout line {line:?}"
        );
    }
}
