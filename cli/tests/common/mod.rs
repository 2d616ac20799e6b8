//! Test harness: a real `peerdrop-signal` on an ephemeral loopback port and real `peerdrop`
//! processes, with helpers to make files and compare trees by BLAKE3.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The lines `stdout` prints, as they come, read on a thread of their own (so a test can
/// wait for one with a timeout while the child runs).
pub fn stdout_lines(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

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

#[allow(unused_imports)] // each test binary uses a different subset
pub use peerdrop_testkit::{random_file, wait_timeout};
use peerdrop_testkit::{spawn_listening, KillOnDrop};

/// A running signaling server, killed on drop.
pub struct Signal {
    _child: Option<KillOnDrop>,
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
        let (child, addr) = spawn_listening(
            Command::new(signal_bin())
                .args(["--listen", "127.0.0.1:0"])
                .args(extra)
                .stderr(Stdio::null()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Signal {
            _child: Some(child),
            url: format!("ws://{addr}/ws"),
            addr,
        }
    }

    /// A server this harness did not start (e.g. a proxy in front of a real one at `addr`).
    pub fn external(addr: &str) -> Signal {
        Signal {
            _child: None,
            url: format!("ws://{addr}/ws"),
            addr: addr.to_string(),
        }
    }
}

/// The Python with aiortc (an independent WebRTC stack) that plays the other implementation
/// in the interop and hostile-peer tests: `PEERDROP_TEST_PYTHON`, else the venv
/// `scripts/deps.sh` makes.
pub fn aiortc_python() -> PathBuf {
    let python = std::env::var_os("PEERDROP_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/peerdrop-venv/bin/python")
        });
    assert!(
        python.exists(),
        "{} is missing: run scripts/deps.sh (it installs aiortc for these tests)",
        python.display()
    );
    python
}

/// A fresh, empty folder for one device's identity and pinned devices (`PEERDROP_HOME`), under
/// cargo's scratch space for integration tests, so no test touches `~/.config/peerdrop` and no
/// two processes share an identity by accident.
pub fn test_home() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("homes")
        .join(format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `peerdrop` command pointed at `signal`, on loopback only, with a device identity of its
/// own (override `PEERDROP_HOME` to make two runs the same device).
pub fn peerdrop(signal: &Signal) -> Command {
    let mut cmd = Command::new(peerdrop_bin());
    cmd.env("PEERDROP_SERVER", &signal.url)
        // Tests on the host use the server only: no multicast onto the host's networks.
        .env("PEERDROP_NO_LAN", "1")
        .env("PEERDROP_BIND", "127.0.0.1:0")
        .env("PEERDROP_HOME", test_home())
        .env_remove("PEERDROP_LOG");
    cmd
}

/// Parses newline-delimited JSON events, skipping anything else.
pub fn json_events(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("event").is_some())
        .collect()
}

/// The events of kind `kind` among `events`.
pub fn events_of<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
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
        Self::spawn_with(signal, dir, extra, &[])
    }

    /// Like [`Receiver::spawn`], with extra environment (e.g. `PEERDROP_HOME`).
    pub fn spawn_with(
        signal: &Signal,
        dir: &Path,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Receiver {
        Self::spawn_named(signal, dir, "test receiver", extra, env)
    }

    /// Like [`Receiver::spawn_with`], under the device name `name` (two receivers one
    /// sender reaches must not share a name: the sender pins devices by name).
    pub fn spawn_named(
        signal: &Signal,
        dir: &Path,
        name: &str,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Receiver {
        let mut cmd = peerdrop(signal);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .args(["receive", "--json", "--name", name, "--dir"])
            .arg(dir)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn peerdrop receive");
        let lines = stdout_lines(child.stdout.take().unwrap());
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

    /// Waits for a progress event with at least `fraction` of the bytes done.
    pub fn wait_for_progress(&mut self, fraction: f64, timeout: Duration) -> (u64, u64) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.wait_for(r#""event":"progress""#, left);
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let (done, total) = (v["done"].as_u64().unwrap(), v["total"].as_u64().unwrap());
            if total > 0 && done as f64 >= fraction * total as f64 {
                return (done, total);
            }
        }
    }

    /// The next stdout line already printed, without waiting (`Err` when there is none yet).
    pub fn lines_now(&mut self) -> Result<String, mpsc::TryRecvError> {
        let line = self.lines.try_recv()?;
        self.seen.push(line.clone());
        Ok(line)
    }

    /// Waits for exit; returns (success, stderr).
    pub fn finish(self, timeout: Duration) -> (bool, String) {
        let (ok, stderr, _) = self.finish_lines(timeout);
        (ok, stderr)
    }

    /// Waits for exit; returns (success, stderr, every stdout line).
    pub fn finish_lines(self, timeout: Duration) -> (bool, String, Vec<String>) {
        let (status, stderr, lines) = self.finish_status(timeout);
        (status.success(), stderr, lines)
    }

    /// Waits for exit; returns (exit status, stderr, every stdout line).
    pub fn finish_status(
        mut self,
        timeout: Duration,
    ) -> (std::process::ExitStatus, String, Vec<String>) {
        let status = wait_timeout(&mut self.child, timeout).expect("receiver did not exit in time");
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        (status, stderr, std::mem::take(&mut self.seen))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `peerdrop send --to CODE PATHS...` to completion (with a generous timeout).
pub fn send(signal: &Signal, code: &str, paths: &[&Path], extra: &[&str]) -> Output {
    send_with(signal, code, paths, extra, &[])
}

/// Like [`send`], with extra environment (e.g. `PEERDROP_HOME`, `PEERDROP_LOG`).
pub fn send_with(
    signal: &Signal,
    code: &str,
    paths: &[&Path],
    extra: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> Output {
    let mut cmd = peerdrop(signal);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
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

/// Spawns `peerdrop send --json` in the background (stdout and stderr piped).
pub fn spawn_sender(
    signal: &Signal,
    code: &str,
    paths: &[&Path],
    env: &[(&str, &std::ffi::OsStr)],
) -> Child {
    let mut cmd = peerdrop(signal);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(["send", "--json", "--name", "test sender", "--to", code])
        .args(paths)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn peerdrop send")
}

/// Waits for a spawned child and collects its output (killing it after `timeout`).
pub fn finish_child(mut child: Child, timeout: Duration) -> Output {
    let stdout = child.stdout.take().map(slurp);
    let stderr = child.stderr.take().map(slurp);
    let status = wait_timeout(&mut child, timeout).expect("process did not exit in time");
    Output {
        status,
        stdout: stdout.map(|h| h.join().unwrap()).unwrap_or_default(),
        stderr: stderr.map(|h| h.join().unwrap()).unwrap_or_default(),
    }
}

fn slurp(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        out
    })
}

/// Sends `signal` (e.g. `libc::SIGINT`) to a child.
#[cfg(unix)]
pub fn signal_child(child: &Child, signal: i32) {
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    let rc = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Every path under `dest` outside the staging folder.
pub fn final_files(dest: &Path) -> Vec<String> {
    hash_tree(dest)
        .into_keys()
        .filter(|p| !p.starts_with(".peerdrop-incoming/"))
        .collect()
}

/// Sends `file` to a `receive --yes` into `dest` and kills the receiver once it reported
/// `fraction` of the bytes, as a crash would (its part and journal stay); the send cannot
/// succeed. Returns (bytes done, total) at the kill.
pub fn receive_killed_midway(
    signal: &Signal,
    dest: &Path,
    file: &Path,
    fraction: f64,
    rx_env: &[(&str, &std::ffi::OsStr)],
    tx_env: &[(&str, &std::ffi::OsStr)],
) -> (u64, u64) {
    let mut receiver = Receiver::spawn_with(signal, dest, &["--yes"], rx_env);
    let sender = spawn_sender(signal, &receiver.code, &[file], tx_env);
    let (done, total) = receiver.wait_for_progress(fraction, Duration::from_secs(120));
    receiver.child.kill().unwrap();
    let _ = receiver.child.wait();
    eprintln!(
        "killed the receiver at {:.0}%",
        done as f64 * 100.0 / total as f64
    );
    let first = finish_child(sender, Duration::from_secs(30));
    assert!(!first.status.success(), "the first send cannot succeed");
    (done, total)
}

/// The staged files (`<transfer>/<name>`) under `dest/.peerdrop-incoming`.
pub fn staged_files(dest: &Path) -> Vec<String> {
    let root = dest.join(".peerdrop-incoming");
    if !root.exists() {
        return Vec::new();
    }
    hash_tree(&root).into_keys().collect()
}

/// The sender's `sender summary` log line, as (payload bytes sent, bytes it needed to send).
pub fn sender_summary(stderr: &str) -> Option<(u64, u64)> {
    Some((
        summary_field(stderr, "payload_bytes_sent")?,
        summary_field(stderr, "bytes_needed")?,
    ))
}

/// One numeric `name=value` field of the sender's summary line.
pub fn summary_field(stderr: &str, name: &str) -> Option<u64> {
    let line = stderr.lines().find(|l| l.contains("sender summary"))?;
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    line[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}
