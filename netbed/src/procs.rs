//! The real binaries, run inside namespaces: `peerdrop-signal`, coturn and `peerdrop`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::bed::{ns, SERVER_IP};

/// The directory holding the workspace binaries of the profile this test was built with
/// (`target/debug` or `target/release`), next to the test executable.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Where `peerdrop` and `peerdrop-signal` are, once known (see [`binaries`]).
static DIR: OnceLock<PathBuf> = OnceLock::new();

/// Makes [`binaries`] use `dir` as is (no staleness check, no build): for callers outside
/// `cargo test`, such as `peerdrop-bench`, that built the release binaries themselves and must
/// not trigger a build from whatever the working tree holds mid-run. Returns `false` when the
/// directory was already chosen.
pub fn use_binaries(dir: PathBuf) -> bool {
    DIR.set(dir).is_ok()
}

/// Builds (or checks) `peerdrop` and `peerdrop-signal` once per process, in the test's
/// profile, and returns the directory they are in.
pub fn binaries() -> &'static Path {
    DIR.get_or_init(|| {
        let dir = bin_dir();
        let fresh = ["peerdrop", "peerdrop-signal"]
            .iter()
            .all(|bin| !is_stale(&dir.join(bin)));
        if fresh {
            // Built by this same `cargo test` (workspace) run: do not rebuild with another
            // feature set.
            return dir;
        }
        let release = dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let mut cmd = Command::new(cargo);
        cmd.arg("build")
            .arg("--manifest-path")
            .arg(&manifest)
            .args(["-p", "peerdrop-cli", "-p", "peerdrop-signal"]);
        if release {
            cmd.arg("--release");
        }
        eprintln!("netbed: building peerdrop and peerdrop-signal ({:?})", dir);
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building peerdrop binaries failed");
        for bin in ["peerdrop", "peerdrop-signal"] {
            assert!(dir.join(bin).exists(), "{bin} missing in {}", dir.display());
        }
        dir
    })
}

/// Whether `bin` is missing or older than any source it is built from.
fn is_stale(bin: &Path) -> bool {
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return true;
    };
    fn newer(dir: &Path, than: std::time::SystemTime) -> bool {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return false;
        };
        entries.flatten().any(|e| {
            let path = e.path();
            if path.is_dir() {
                newer(&path, than)
            } else {
                e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t > than)
            }
        })
    }
    let file_newer = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t > built)
    };
    let root = repo_root();
    file_newer(&root.join("Cargo.lock"))
        || ["proto", "core", "cli", "signal-server"].iter().any(|c| {
            newer(&root.join(c).join("src"), built) || file_newer(&root.join(c).join("Cargo.toml"))
        })
}

/// The repository root (for `turnserver.conf`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// `ip netns exec NS program`.
pub fn in_ns(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).arg(program);
    cmd
}

/// A child process killed (and reaped) on drop.
pub use peerdrop_testkit::KillOnDrop as Guard;
pub use peerdrop_testkit::{blake3_file, random_file, wait_timeout};

/// A random secret shared by coturn and the signaling server (never written to disk).
pub fn random_secret() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect()
}

/// coturn, from the repo's `turnserver.conf`, in the internet namespace.
pub struct Coturn {
    _child: Guard,
    /// `turn:203.0.113.1:3478?transport=udp`.
    pub url: String,
    /// The shared REST secret.
    pub secret: String,
    /// Its log file.
    pub log: PathBuf,
}

impl Coturn {
    /// Starts coturn and waits until it answers on 3478.
    pub fn start(workdir: &Path, secret: &str) -> Coturn {
        let conf = repo_root().join("turnserver.conf");
        let log = workdir.join("turnserver.log");
        let child = in_ns(ns::INET, "turnserver")
            .arg("-c")
            .arg(&conf)
            .arg(format!("--static-auth-secret={secret}"))
            .args([
                "--realm=peerdrop.test",
                "--listening-ip",
                SERVER_IP,
                "--relay-ip",
                SERVER_IP,
                // Test bed only: its "internet" is 203.0.113.0/24, which the production
                // configuration denies as a documentation range.
                "--allowed-peer-ip=203.0.113.0-203.0.113.255",
                "--no-stdout-log",
                "--log-file",
            ])
            .arg(&log)
            .arg("--pidfile")
            .arg(workdir.join("turnserver.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn turnserver");
        let mut guard = Guard(child);
        // Wait for its UDP listener.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = guard.0.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("turnserver exited ({status}): {text}");
            }
            let out = in_ns(ns::INET, "ss")
                .args(["-Hlun", "sport", "=", ":3478"])
                .output()
                .expect("ss");
            if !out.stdout.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "turnserver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Coturn {
            _child: guard,
            url: format!("turn:{SERVER_IP}:3478?transport=udp"),
            secret: secret.to_string(),
            log,
        }
    }
}

/// `peerdrop-signal` in the internet namespace, with TURN credentials for coturn.
pub struct Signal {
    _child: Guard,
    /// `IP:PORT` it listens on (`203.0.113.1:PORT` in the NAT bed).
    pub addr: String,
}

impl Signal {
    /// Starts the server in the "internet" (TURN URL and secret if given) and reads its address.
    pub fn start(turn: Option<&Coturn>) -> Signal {
        Self::start_in(ns::INET, SERVER_IP, turn)
    }

    /// Starts the server in namespace `ns` on `ip` (an ephemeral port) and reads its address.
    pub fn start_in(ns: &str, ip: &str, turn: Option<&Coturn>) -> Signal {
        let mut cmd = in_ns(ns, binaries().join("peerdrop-signal"));
        cmd.args(["--listen", &format!("{ip}:0")]);
        if let Some(turn) = turn {
            cmd.args(["--turn-url", &turn.url])
                .env("PEERDROP_TURN_SECRET", &turn.secret);
        }
        let (child, addr) = peerdrop_testkit::spawn_listening(cmd.stderr(Stdio::null()))
            .unwrap_or_else(|e| panic!("{e}"));
        Signal {
            _child: child,
            addr,
        }
    }

    /// `ws://IP:PORT/ws`.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

/// Environment for a `peerdrop` process: which server, and logs that name the chosen path.
pub fn peerdrop(ns: &str, server_url: &str, extra_env: &[(&str, &str)]) -> Command {
    let mut cmd = in_ns(ns, binaries().join("peerdrop"));
    cmd.env("PEERDROP_SERVER", server_url)
        .env("PEERDROP_NO_LAN", "1")
        .env("PEERDROP_LOG", "warn,peerdrop_core=info")
        .env_remove("PEERDROP_BIND");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd
}

/// Collects a child's stdout lines on a thread.
pub struct Lines {
    rx: mpsc::Receiver<String>,
    /// Every line seen so far.
    pub seen: Vec<String>,
}

impl Lines {
    /// Starts reading `stdout`.
    pub fn new(stdout: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Takes whatever arrived until the stream closed or `timeout`.
    pub fn drain(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while let Ok(line) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
    }
}

/// Reads all of a pipe on a thread (so the child never blocks on a full pipe).
pub fn slurp(pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut pipe = pipe;
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// A `peerdrop` process on a LAN with no server: no `PEERDROP_SERVER`, LAN discovery on,
/// its own identity folder `home` and a name of its own (`host pdnb-lb`: namespaces share the
/// machine's host name, and two devices with one name and two certificates look like a
/// changed identity to a receiver that pinned the first).
pub fn peerdrop_lan(ns: &str, home: &Path, extra_env: &[(&str, &str)]) -> Command {
    let mut cmd = in_ns(ns, binaries().join("peerdrop"));
    cmd.env("PEERDROP_NAME", format!("host {ns}"))
        .env_remove("PEERDROP_SERVER")
        .env_remove("PEERDROP_NO_LAN")
        .env_remove("PEERDROP_BIND")
        .env("PEERDROP_HOME", home)
        .env(
            "PEERDROP_LOG",
            "warn,rtc=error,rtc_ice=error,rtc_dtls=error,rtc_sctp=error,webrtc=error,peerdrop_core=info",
        );
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd
}
