//! One PeerDrop transfer through the real binaries, with peak-RSS sampling of both peers.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What one PeerDrop transfer measured.
#[derive(Clone, Debug)]
pub struct PeerdropRun {
    /// Sender start to both processes exited.
    pub wall: Duration,
    /// Connect time reported by the sender (signal + ICE + DTLS + channels open), ms.
    pub connect_ms: u64,
    /// Peak resident set size of the sender, bytes.
    pub sender_rss: u64,
    /// Peak resident set size of the receiver, bytes.
    pub receiver_rss: u64,
    /// CPU seconds (user + system) used by the sender.
    pub sender_cpu: f64,
    /// CPU seconds (user + system) used by the receiver.
    pub receiver_cpu: f64,
}

/// Kills the child on drop so a failed run leaves nothing behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Peak RSS so far (`VmHWM`) of a live process, in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU seconds (utime + stime) a live process has used so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Sends `source` with the real stack into `dest_dir` and checks the BLAKE3 on arrival.
pub fn send_through_peerdrop(
    bin_dir: &Path,
    source: &Path,
    dest_dir: &Path,
    expected_blake3: &str,
) -> Result<PeerdropRun> {
    let _ = std::fs::remove_dir_all(dest_dir);
    std::fs::create_dir_all(dest_dir)?;
    let mut signal = Guard(
        Command::new(bin_dir.join("peerdrop-signal"))
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting peerdrop-signal (build with --release first)")?,
    );
    let mut line = String::new();
    BufReader::new(signal.0.stdout.take().context("signal stdout")?).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .context("signal server address")?
        .to_string();
    let url = format!("ws://{addr}/ws");

    let mut receiver = Guard(
        Command::new(bin_dir.join("peerdrop"))
            .env("PEERDROP_SERVER", &url)
            .env("PEERDROP_BIND", "127.0.0.1:0")
            .args(["receive", "--yes", "--json", "--dir"])
            .arg(dest_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?,
    );
    let mut rx_out = BufReader::new(receiver.0.stdout.take().context("receiver stdout")?);
    let mut code_line = String::new();
    rx_out.read_line(&mut code_line)?;
    let code: serde_json::Value = serde_json::from_str(&code_line).context("receiver code line")?;
    let code = code["code"].as_str().context("code")?.to_string();
    std::thread::spawn(move || for _ in rx_out.lines() {});

    let started = Instant::now();
    let mut sender = Guard(
        Command::new(bin_dir.join("peerdrop"))
            .env("PEERDROP_SERVER", &url)
            .env("PEERDROP_BIND", "127.0.0.1:0")
            .args(["send", "--json", "--to", &code])
            .arg(source)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?,
    );
    let tx_out = BufReader::new(sender.0.stdout.take().context("sender stdout")?);
    let connect_reader = std::thread::spawn(move || {
        tx_out
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .find(|v| v["event"] == "connected")
            .and_then(|v| v["connect_ms"].as_u64())
    });

    let (mut sender_rss, mut receiver_rss) = (0, 0);
    let (mut sender_cpu, mut receiver_cpu) = (0.0f64, 0.0f64);
    let (mut sender_done, mut receiver_done) = (None, None);
    while sender_done.is_none() || receiver_done.is_none() {
        if sender_done.is_none() {
            sender_rss = sender_rss.max(peak_rss(sender.0.id()).unwrap_or(0));
            sender_cpu = sender_cpu.max(cpu_seconds(sender.0.id()).unwrap_or(0.0));
            sender_done = sender.0.try_wait()?;
        }
        if receiver_done.is_none() {
            receiver_rss = receiver_rss.max(peak_rss(receiver.0.id()).unwrap_or(0));
            receiver_cpu = receiver_cpu.max(cpu_seconds(receiver.0.id()).unwrap_or(0.0));
            receiver_done = receiver.0.try_wait()?;
        }
        if started.elapsed() > Duration::from_secs(900) {
            bail!("peerdrop transfer took more than 15 minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = started.elapsed();
    if !sender_done.is_some_and(|s| s.success()) || !receiver_done.is_some_and(|s| s.success()) {
        bail!("peerdrop transfer failed (sender {sender_done:?}, receiver {receiver_done:?})");
    }
    let name = source.file_name().context("source name")?;
    let received = dest_dir.join(name);
    let got = blake3::Hasher::new()
        .update_reader(std::fs::File::open(&received)?)?
        .finalize()
        .to_hex()
        .to_string();
    if got != expected_blake3 {
        bail!("received file differs: {got} != {expected_blake3}");
    }
    std::fs::remove_dir_all(dest_dir)?;
    let connect_ms = connect_reader.join().ok().flatten().unwrap_or(0);
    Ok(PeerdropRun {
        wall,
        connect_ms,
        sender_rss,
        receiver_rss,
        sender_cpu,
        receiver_cpu,
    })
}
