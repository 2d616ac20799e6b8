//! magic-wormhole on the same payload, entirely on loopback: the Debian client and transit
//! relay plus the PyPI mailbox server (`scripts/bench-deps.sh`), all inside a private network
//! namespace that has nothing but `lo`. The namespace matters: wormhole advertises every local
//! address as a direct hint, and with only `lo` the hint is 127.0.0.1, so the transfer is
//! direct over loopback (as PeerDrop's is), not via the relay and never via another interface.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::payload;
use crate::report::ToolRun;
use crate::watch::{Pair, Watched};

/// The namespace the wormhole run lives in (created and removed by [`Wormhole`]).
const NS: &str = "pdbench-wormhole";
const MAILBOX_PORT: u16 = 4000;
const TRANSIT_PORT: u16 = 4001;

/// Where the mailbox server's venv is (see `scripts/bench-deps.sh`).
fn venv() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
        });
    cache.join("peerdrop-bench/wormhole-venv")
}

/// Why wormhole cannot run here (printed, and the tool skipped), or `None`.
pub fn missing() -> Option<String> {
    let ok = |cmd: &mut Command| {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok(Command::new("wormhole").arg("--version")) {
        return Some("`wormhole` not installed (scripts/bench-deps.sh)".into());
    }
    if !ok(Command::new("twistd3").args(["transitrelay", "--help"])) {
        return Some("magic-wormhole-transit-relay not installed (scripts/bench-deps.sh)".into());
    }
    if !venv().join("bin/twistd").exists() {
        return Some(format!(
            "mailbox server venv {} missing (scripts/bench-deps.sh)",
            venv().display()
        ));
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root for its loopback-only network namespace".into());
    }
    None
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn in_ns(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", NS]).arg(program);
    cmd
}

fn listening(port: u16) -> bool {
    in_ns("ss")
        .args(["-Hltn", "sport", "=", &format!(":{port}")])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty())
}

/// The mailbox server and transit relay, running in the namespace; removed on drop.
pub struct Wormhole {
    servers: Vec<Server>,
    work: PathBuf,
    next_nameplate: u32,
}

impl Wormhole {
    /// Creates the namespace and starts both servers (logs in `work`).
    pub fn start(work: &Path) -> Result<Wormhole> {
        let _ = Command::new("ip")
            .args(["netns", "del", NS])
            .stderr(Stdio::null())
            .status();
        let status = Command::new("ip").args(["netns", "add", NS]).status()?;
        if !status.success() {
            bail!("ip netns add {NS} failed");
        }
        let mut me = Wormhole {
            servers: Vec::new(),
            work: work.to_path_buf(),
            next_nameplate: 7,
        };
        let up = Command::new("ip")
            .args(["-n", NS, "link", "set", "lo", "up"])
            .status()?;
        if !up.success() {
            bail!("bringing lo up in {NS} failed");
        }
        std::fs::create_dir_all(work)?;
        let log = |name: &str| std::fs::File::create(work.join(name));
        me.servers.push(Server(
            in_ns(venv().join("bin/twistd"))
                .args(["-n", "--pidfile=", "wormhole-mailbox"])
                .arg(format!("--port=tcp:{MAILBOX_PORT}:interface=127.0.0.1"))
                .arg(format!(
                    "--channel-db={}",
                    work.join("mailbox.sqlite").display()
                ))
                .current_dir(work)
                .stdout(log("mailbox.log")?)
                .stderr(Stdio::null())
                .spawn()
                .context("starting the wormhole mailbox server")?,
        ));
        me.servers.push(Server(
            in_ns("twistd3")
                .args(["-n", "--pidfile=", "transitrelay"])
                .arg(format!("--port=tcp:{TRANSIT_PORT}:interface=127.0.0.1"))
                .current_dir(work)
                .stdout(log("transit.log")?)
                .stderr(Stdio::null())
                .spawn()
                .context("starting the wormhole transit relay")?,
        ));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(listening(MAILBOX_PORT) && listening(TRANSIT_PORT)) {
            if Instant::now() > deadline {
                bail!(
                    "wormhole servers did not start (logs in {})",
                    work.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(me)
    }

    fn client(&self) -> Command {
        let mut cmd = in_ns("wormhole");
        cmd.arg(format!("--relay-url=ws://127.0.0.1:{MAILBOX_PORT}/v1"))
            .arg(format!("--transit-helper=tcp:127.0.0.1:{TRANSIT_PORT}"));
        cmd
    }

    /// Sends `source` (file, or folder as wormhole's zip) into `dest` (emptied first) and
    /// checks the received copy.
    pub fn run(&mut self, source: &Path, digest: &str, dest: &Path) -> Result<ToolRun> {
        let _ = std::fs::remove_dir_all(dest);
        std::fs::create_dir_all(dest)?;
        self.next_nameplate += 1;
        let code = format!("{}-peerdrop-bench", self.next_nameplate);
        let log = |name: &str| std::fs::File::create(self.work.join(name));
        let receiver = Watched::spawn(
            self.client()
                .args(["receive", "--accept-file", "--hide-progress", &code])
                .current_dir(dest)
                .stdin(Stdio::null())
                .stdout(log("receiver.log")?)
                .stderr(log("receiver.err")?),
            "wormhole receiver",
        )?;
        let t0 = Instant::now();
        let sender = Watched::spawn(
            self.client()
                .args(["send", "--hide-progress", "--code", &code])
                .arg(source)
                .stdin(Stdio::null())
                .stdout(log("sender.log")?)
                .stderr(log("sender.err")?),
            "wormhole sender",
        )?;
        let mut result = Pair { sender, receiver }
            .wait(t0, dest.to_path_buf(), Duration::from_secs(1800))
            .with_context(|| format!("wormhole failed (logs in {})", self.work.display()))?;
        if source.is_dir() {
            // The receiver spools the zip in memory and unpacks at the end: no first byte on
            // disk to time.
            result.first_byte = None;
        }
        let bytes = payload::verify_and_clear(digest, source, dest, "wormhole")?;
        Ok(ToolRun::new("wormhole", bytes, result, None))
    }
}

impl Drop for Wormhole {
    fn drop(&mut self) {
        self.servers.clear();
        let _ = Command::new("ip")
            .args(["netns", "del", NS])
            .stderr(Stdio::null())
            .status();
    }
}
