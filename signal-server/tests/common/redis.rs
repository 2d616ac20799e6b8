//! A real `redis-server` (Debian's `redis-server` package) for one test, and
//! `peerdrop-signal` cluster nodes as processes pointed at it.
//!
//! Std only, so the CLI's tests include this file too (`#[path]`). Redis listens on a free
//! loopback port, keeps nothing on disk (`--save ""`, no AOF, its folder a temp dir) and is
//! killed on drop; so are the nodes.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for Redis or a node to come up.
const START: Duration = Duration::from_secs(10);

/// A `redis-server` process on a loopback port.
pub struct Redis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    /// Starts a fresh, empty Redis on a free loopback port.
    pub fn start() -> Redis {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("peerdrop-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Redis {
            child: None,
            port,
            dir,
        };
        redis.launch();
        redis
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (Debian package redis-server, see scripts/deps.sh)");
        self.child = Some(child);
        let deadline = Instant::now() + START;
        while !self.answers_ping() {
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether Redis answers `PING` with `+PONG`.
    pub fn answers_ping(&self) -> bool {
        self.command("PING")
            .is_some_and(|reply| reply.starts_with("+PONG"))
    }

    /// Sends one inline command and returns the first reply line (`None` if unreachable).
    pub fn command(&self, inline: &str) -> Option<String> {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        tcp.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        tcp.write_all(format!("{inline}\r\n").as_bytes()).ok()?;
        let mut line = String::new();
        BufReader::new(tcp).read_line(&mut line).ok()?;
        Some(line)
    }

    /// `GET key`: the value (a bulk-string reply), `None` if the key does not exist.
    pub fn get(&self, key: &str) -> Option<String> {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        tcp.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        tcp.write_all(format!("GET {key}\r\n").as_bytes()).ok()?;
        let mut lines = BufReader::new(tcp).lines();
        let head = lines.next()?.ok()?;
        if !head.starts_with('$') || head == "$-1" {
            return None;
        }
        lines.next()?.ok()
    }

    /// Kills Redis (SIGKILL: no goodbye to its clients) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty (it kept nothing).
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A `peerdrop-signal` process, one node of a cluster.
pub struct Node {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Node {
    /// Starts `bin --listen 127.0.0.1:0 --redis URL --presence-ttl SECS` plus `extra`, reads
    /// its `listening on` line and waits until `/health` says its Redis link is up.
    pub fn start(bin: &Path, redis: &Redis, presence_ttl_secs: u64, extra: &[&str]) -> Node {
        Self::start_on(bin, "127.0.0.1:0", redis, presence_ttl_secs, extra)
    }

    /// [`Node::start`] listening on `listen` (e.g. the port of a node that just stopped: a
    /// restart on the same host).
    pub fn start_on(
        bin: &Path,
        listen: &str,
        redis: &Redis,
        presence_ttl_secs: u64,
        extra: &[&str],
    ) -> Node {
        let mut child = Command::new(bin)
            .args(["--listen", listen, "--redis"])
            .arg(redis.url())
            .arg("--presence-ttl")
            .arg(presence_ttl_secs.to_string())
            .args(extra)
            .env_remove("PEERDROP_TURN_SECRET")
            .env_remove("PEERDROP_ALLOW_ORIGIN")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("peerdrop-signal starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("reads the listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let node = Node {
            child: Some(child),
            addr,
        };
        node.wait_health(200, START);
        node
    }

    /// `ws://ADDR/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// `GET /health`: the status code and the body.
    pub fn health(&self) -> Option<(u16, String)> {
        let mut tcp = TcpStream::connect(self.addr).ok()?;
        tcp.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .ok()?;
        let mut response = String::new();
        tcp.read_to_string(&mut response).ok()?;
        let status = response.split(' ').nth(1)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n")?.1.to_string();
        Some((status, body))
    }

    /// Waits until `/health` answers `status`; panics after `within`. Returns how long it took.
    pub fn wait_health(&self, status: u16, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.health().is_some_and(|(got, _)| got == status) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "node {} did not report {status} in {within:?}: {:?}",
                self.addr,
                self.health()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit; its exit code, or `None` if it did not in `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().ok()? {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process (SIGKILL: it says goodbye to nobody).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}
