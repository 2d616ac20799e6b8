//! Child processes measured from the outside: CPU seconds and peak RSS read from the kernel
//! when the child is reaped (`wait4`), plus RSS sampled over time, so every tool (PeerDrop,
//! the TCP helpers, Python's magic-wormhole) is measured the same way.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How often resident memory is recorded into [`Usage::rss_series`].
const SERIES_EVERY: Duration = Duration::from_millis(100);

/// What one process used over its whole life.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    /// User + system CPU seconds (from `wait4`, exact).
    pub cpu_s: f64,
    /// Peak resident set size in bytes (`VmHWM` samples and `ru_maxrss`, whichever is larger).
    pub peak_rss: u64,
    /// `(seconds since the sender was launched, VmRSS bytes)`, every [`SERIES_EVERY`].
    pub rss_series: Vec<(f64, u64)>,
}

/// A spawned child being watched; killed and reaped on drop if still running.
pub struct Watched {
    /// What the report calls it (for error messages).
    pub label: String,
    child: Child,
    exit: Option<(i32, libc::rusage)>,
    usage: Usage,
    last_sample: Option<Instant>,
}

/// A `/proc/PID/status` field in kB, as bytes.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl Watched {
    /// Spawns `cmd` and starts watching it.
    pub fn spawn(cmd: &mut Command, label: &str) -> Result<Watched> {
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {label} ({:?})", cmd.get_program()))?;
        Ok(Watched {
            label: label.to_string(),
            child,
            exit: None,
            usage: Usage::default(),
            last_sample: None,
        })
    }

    /// The underlying child (to take its pipes).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Samples memory and checks for exit; `t0` is the time axis origin of the RSS series.
    /// Returns `true` once the process has exited (and was reaped).
    pub fn poll(&mut self, t0: Instant) -> Result<bool> {
        if self.exit.is_some() {
            return Ok(true);
        }
        let pid = self.child.id();
        if let Some(hwm) = status_kib(pid, "VmHWM:") {
            self.usage.peak_rss = self.usage.peak_rss.max(hwm);
        }
        let now = Instant::now();
        if self
            .last_sample
            .is_none_or(|t| now.duration_since(t) >= SERIES_EVERY)
        {
            if let Some(rss) = status_kib(pid, "VmRSS:") {
                let at = now.saturating_duration_since(t0).as_secs_f64();
                self.usage.rss_series.push((at, rss));
                self.last_sample = Some(now);
            }
        }
        let mut status = 0;
        // SAFETY: rusage is plain data; wait4 on our own child's pid.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::wait4(pid as i32, &mut status, libc::WNOHANG, &mut ru) };
        if rc < 0 {
            bail!("wait4 {}: {}", self.label, std::io::Error::last_os_error());
        }
        if rc == pid as i32 {
            self.exit = Some((status, ru));
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            self.usage.cpu_s = tv(ru.ru_utime) + tv(ru.ru_stime);
            self.usage.peak_rss = self.usage.peak_rss.max(ru.ru_maxrss as u64 * 1024);
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether it exited with status 0 (`false` while running).
    pub fn succeeded(&self) -> bool {
        self.exit
            .is_some_and(|(s, _)| libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 0)
    }

    /// Its exit as text, for errors.
    pub fn exit_text(&self) -> String {
        match self.exit {
            None => "still running".into(),
            Some((s, _)) if libc::WIFEXITED(s) => format!("exit code {}", libc::WEXITSTATUS(s)),
            Some((s, _)) if libc::WIFSIGNALED(s) => {
                format!("killed by signal {}", libc::WTERMSIG(s))
            }
            Some((s, _)) => format!("status {s}"),
        }
    }

    /// What it used (complete once [`Watched::poll`] returned `true`).
    pub fn usage(&self) -> Usage {
        self.usage.clone()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sender and receiver watched together until both exit; the receiver's folder is polled for
/// the first payload byte (the end-to-end connect time every tool gets measured by).
pub struct Pair {
    /// The sending process.
    pub sender: Watched,
    /// The receiving process.
    pub receiver: Watched,
}

/// What [`Pair::wait`] measured.
pub struct PairResult {
    /// Sender launch until both processes exited.
    pub wall: Duration,
    /// Sender launch until the first byte of payload was on the receiver's disk, if seen.
    pub first_byte: Option<Duration>,
    /// The sender's usage.
    pub sender: Usage,
    /// The receiver's usage.
    pub receiver: Usage,
}

/// Sum of file sizes under `dir` (recursively, hidden staging folders included), stopping
/// early once anything is found.
fn any_bytes_under(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            if any_bytes_under(&entry.path()) {
                return true;
            }
        } else if meta.len() > 0 {
            return true;
        }
    }
    false
}

impl Pair {
    /// Waits for both (up to `timeout`), sampling every 20 ms; `t0` is the sender's launch;
    /// `dest` is where the receiver writes. Fails if either exits unsuccessfully.
    pub fn wait(mut self, t0: Instant, dest: PathBuf, timeout: Duration) -> Result<PairResult> {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if any_bytes_under(&dest) {
                        return Some(t0.elapsed());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                None
            })
        };
        let (mut tx_done, mut rx_done) = (false, false);
        while !(tx_done && rx_done) {
            tx_done = self.sender.poll(t0)?;
            rx_done = self.receiver.poll(t0)?;
            if t0.elapsed() > timeout {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                bail!(
                    "transfer took longer than {timeout:?} ({} {}, {} {})",
                    self.sender.label,
                    self.sender.exit_text(),
                    self.receiver.label,
                    self.receiver.exit_text()
                );
            }
            if (tx_done && !self.sender.succeeded()) || (rx_done && !self.receiver.succeeded()) {
                // Give the other side a moment to report, then fail with both statuses.
                std::thread::sleep(Duration::from_millis(300));
                let _ = self.sender.poll(t0);
                let _ = self.receiver.poll(t0);
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                bail!(
                    "{} {}, {} {}",
                    self.sender.label,
                    self.sender.exit_text(),
                    self.receiver.label,
                    self.receiver.exit_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let wall = t0.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let first_byte = watcher.join().ok().flatten();
        Ok(PairResult {
            wall,
            first_byte,
            sender: self.sender.usage(),
            receiver: self.receiver.usage(),
        })
    }
}
