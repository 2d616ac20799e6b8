//! Test harness: a real `peerdrop-signal` on an ephemeral loopback port and real `peerdrop`
//! processes, with helpers to make files and compare trees by BLAKE3.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `peerdrop` binary under test.
pub fn peerdrop_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_peerdrop"))
}

/// The `peerdrop-signal` binary, built on demand when this package is tested alone.
pub fn signal_bin() -> PathBuf {
    let path =
        peerdrop_bin().with_file_name(format!("peerdrop-signal{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "peerdrop-signal", "--bin", "peerdrop-signal"])
            .status()
            .expect("run cargo build for peerdrop-signal");
        assert!(status.success(), "building peerdrop-signal failed");
    }
    path
}

/// A running signaling server, killed on drop.
pub struct Signal {
    child: Child,
    /// `ws://127.0.0.1:PORT/ws`.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Signal {
    /// Starts `peerdrop-signal --listen 127.0.0.1:0` and reads its `listening on` line.
    pub fn start() -> Signal {
        Self::start_with(&[])
    }

    /// Same, with extra flags.
    pub fn start_with(extra: &[&str]) -> Signal {
        let mut child = Command::new(signal_bin())
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn peerdrop-signal");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Signal {
            child,
            url: format!("ws://{addr}/ws"),
            addr,
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `peerdrop` command pointed at `signal`, on loopback only.
pub fn peerdrop(signal: &Signal) -> Command {
    let mut cmd = Command::new(peerdrop_bin());
    cmd.env("PEERDROP_SERVER", &signal.url)
        .env("PEERDROP_BIND", "127.0.0.1:0")
        .env_remove("PEERDROP_LOG");
    cmd
}

/// A receiving `peerdrop receive --json` process whose stdout lines are collected.
pub struct Receiver {
    /// The process.
    pub child: Child,
    /// Its code.
    pub code: String,
    lines: mpsc::Receiver<String>,
    /// Lines seen so far.
    pub seen: Vec<String>,
}

impl Receiver {
    /// Starts `peerdrop receive --json --dir DIR` plus `extra`, and waits for its code.
    pub fn spawn(signal: &Signal, dir: &Path, extra: &[&str]) -> Receiver {
        let mut child = peerdrop(signal)
            .args(["receive", "--json", "--name", "test receiver", "--dir"])
            .arg(dir)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn peerdrop receive");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut rx = Receiver {
            child,
            code: String::new(),
            lines,
            seen: Vec::new(),
        };
        let code_line = rx.wait_for(r#""event":"code""#, Duration::from_secs(20));
        let event: serde_json::Value = serde_json::from_str(&code_line).unwrap();
        rx.code = event["code"].as_str().unwrap().to_string();
        rx
    }

    /// Waits for a stdout line containing `needle`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line containing {needle} within {timeout:?}; saw {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Waits for exit; returns (success, stderr).
    pub fn finish(mut self, timeout: Duration) -> (bool, String) {
        let status = wait_timeout(&mut self.child, timeout).expect("receiver did not exit in time");
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        (status.success(), stderr)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `child` until it exits or `timeout` passes (then kills it and returns None).
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `peerdrop send --to CODE PATHS...` to completion (with a generous timeout).
pub fn send(signal: &Signal, code: &str, paths: &[&Path], extra: &[&str]) -> Output {
    let mut child = peerdrop(signal)
        .args(["send", "--name", "test sender", "--to", code])
        .args(extra)
        .args(paths)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn peerdrop send");
    let status =
        wait_timeout(&mut child, Duration::from_secs(240)).expect("sender did not exit in time");
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Writes `len` pseudo-random bytes (xorshift, seeded) to `path`.
pub fn random_file(path: &Path, len: usize, seed: u64) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let mut state = seed | 1;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(len);
    std::fs::write(path, data).unwrap();
}

/// BLAKE3 of every regular file under `root`, keyed by `/`-separated relative path.
pub fn hash_tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                walk(root, &path, out);
            } else if kind.is_file() {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace(std::path::MAIN_SEPARATOR, "/");
                out.insert(
                    rel,
                    blake3::hash(&std::fs::read(&path).unwrap())
                        .to_hex()
                        .to_string(),
                );
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// Asserts a command succeeded, showing its output otherwise.
pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
