//! The baseline: disk → one TCP connection → disk, done by two helper processes
//! (`peerdrop-bench tcp-send` / `tcp-recv`) so they are measured exactly like the other tools'
//! peers (CPU, peak RSS) and can run inside network namespaces.
//!
//! Stream format (one socket for everything, no per-file round trips): for each file a
//! big-endian `u32` path length, the relative path (`/`-separated, top folder included), a
//! `u64` size, then the bytes; a zero path length ends the stream. The receiver writes each
//! file with 1 MiB blocks and `fsync`s it before the next, as PeerDrop's receiver makes every
//! file durable before it appears.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::payload;
use crate::report::ToolRun;
use crate::watch::{Pair, Watched};

const BLOCK: usize = 1 << 20;

/// `tcp-send`: streams `path` (a file or a folder) to `to`, with congestion control
/// `congestion` (`cubic`, `bbr`, ...; `None`: the kernel's default).
pub fn send(to: &str, path: &Path, congestion: Option<&str>) -> Result<()> {
    let sock = connect(to, congestion)?;
    let mut out = BufWriter::with_capacity(BLOCK, sock);
    let base = path.parent().context("path has a parent")?;
    let mut buf = vec![0u8; BLOCK];
    let files: Vec<PathBuf> = if path.is_file() {
        vec![PathBuf::from(path.file_name().context("name")?)]
    } else {
        let top = PathBuf::from(path.file_name().context("name")?);
        payload::list_files(path)?
            .into_iter()
            .map(|rel| top.join(rel))
            .collect()
    };
    for rel in files {
        let name = rel.to_string_lossy().replace('\\', "/");
        let mut file = File::open(base.join(&rel))?;
        let size = file.metadata()?.len();
        out.write_all(&(name.len() as u32).to_be_bytes())?;
        out.write_all(name.as_bytes())?;
        out.write_all(&size.to_be_bytes())?;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
        }
    }
    out.write_all(&0u32.to_be_bytes())?;
    out.flush()?;
    Ok(())
}

/// Connects to `to` with the congestion control algorithm `congestion` chosen on the socket
/// before the handshake (`TCP_CONGESTION`), so the whole transfer runs under it.
fn connect(to: &str, congestion: Option<&str>) -> Result<TcpStream> {
    let Some(cc) = congestion else {
        return TcpStream::connect(to).with_context(|| format!("connecting to {to}"));
    };
    let addr: std::net::SocketAddrV4 = to.parse().with_context(|| format!("address {to}"))?;
    // SAFETY: plain socket calls on a descriptor this function owns; every pointer passed
    // points to a live local of the stated length.
    unsafe {
        use std::os::fd::FromRawFd;
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("socket");
        }
        let sock = TcpStream::from_raw_fd(fd);
        let rc = libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            cc.as_ptr().cast(),
            cc.len() as libc::socklen_t,
        );
        if rc != 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| {
                format!("TCP_CONGESTION {cc} (see net.ipv4.tcp_available_congestion_control)")
            });
        }
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: addr.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*addr.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if rc != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("connecting to {to}"));
        }
        Ok(sock)
    }
}

/// `tcp-recv`: listens on `listen`, prints `listening on ADDR`, receives one stream into `dir`.
pub fn receive(listen: &str, dir: &Path) -> Result<()> {
    let listener = TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let (sock, _) = listener.accept()?;
    let mut input = BufReader::with_capacity(BLOCK, sock);
    let mut buf = vec![0u8; BLOCK];
    loop {
        let mut len = [0u8; 4];
        input.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            return Ok(());
        }
        let mut name = vec![0u8; len];
        input.read_exact(&mut name)?;
        let name = String::from_utf8(name)?;
        if name
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            bail!("unsafe name {name:?}");
        }
        let mut size = [0u8; 8];
        input.read_exact(&mut size)?;
        let mut left = u64::from_be_bytes(size);
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out =
            File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        while left > 0 {
            let want = left.min(BLOCK as u64) as usize;
            let n = input.read(&mut buf[..want])?;
            if n == 0 {
                bail!("stream ended inside {name}");
            }
            out.write_all(&buf[..n])?;
            left -= n as u64;
        }
        out.sync_all()?;
    }
}

/// Where the two helpers run: on the host (loopback) or inside network namespaces.
#[derive(Clone, Debug)]
pub struct Placement {
    /// Namespace of the sender (`None`: host).
    pub sender_ns: Option<String>,
    /// Namespace of the receiver (`None`: host).
    pub receiver_ns: Option<String>,
    /// Address the receiver listens on (`127.0.0.1:0` on loopback).
    pub listen: String,
    /// The sender's congestion control (`None`: the kernel default). `bbr` is reported as
    /// tool `tcp-bbr`, anything else as `tcp` (the baseline ratios are taken against).
    pub congestion: Option<&'static str>,
}

impl Placement {
    /// Both on the host, over loopback.
    pub fn loopback() -> Placement {
        Placement {
            sender_ns: None,
            receiver_ns: None,
            listen: "127.0.0.1:0".into(),
            congestion: None,
        }
    }
}

/// The bench binary the helpers run from (see [`use_helper`]).
static HELPER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Runs the helpers from `exe` (a private copy of this binary: a rebuild of the shared target
/// folder during a long run must not swap or delete the program mid-suite).
pub fn use_helper(exe: PathBuf) {
    let _ = HELPER.set(exe);
}

fn helper(ns: Option<&str>) -> Result<Command> {
    let exe = match HELPER.get() {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().context("own path")?,
    };
    Ok(match ns {
        Some(ns) => {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns]).arg(exe);
            cmd
        }
        None => Command::new(exe),
    })
}

/// Runs one baseline transfer of `source` into `dest` (emptied first) and checks it.
pub fn run(source: &Path, digest: &str, dest: &Path, place: &Placement) -> Result<ToolRun> {
    let _ = std::fs::remove_dir_all(dest);
    std::fs::create_dir_all(dest)?;
    let mut receiver = Watched::spawn(
        helper(place.receiver_ns.as_deref())?
            .args(["tcp-recv", "--listen", &place.listen, "--dir"])
            .arg(dest)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
        "tcp receiver",
    )?;
    let addr = peerdrop_testkit::read_listening_line(receiver.child(), "tcp receiver")?;
    let t0 = Instant::now();
    let mut send = helper(place.sender_ns.as_deref())?;
    send.args(["tcp-send", "--to", &addr]);
    if let Some(cc) = place.congestion {
        send.args(["--cc", cc]);
    }
    let sender = Watched::spawn(send.arg(source).stderr(Stdio::inherit()), "tcp sender")?;
    let result =
        Pair { sender, receiver }.wait(t0, dest.to_path_buf(), Duration::from_secs(1800))?;
    let bytes = payload::verify_and_clear(digest, source, dest, "tcp")?;
    let tool = if place.congestion == Some("bbr") {
        "tcp-bbr"
    } else {
        "tcp"
    };
    Ok(ToolRun::new(tool, bytes, result, None))
}
