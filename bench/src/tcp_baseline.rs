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

/// `tcp-send`: streams `path` (a file or a folder) to `to`.
pub fn send(to: &str, path: &Path) -> Result<()> {
    let sock = TcpStream::connect(to).with_context(|| format!("connecting to {to}"))?;
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
}

impl Placement {
    /// Both on the host, over loopback.
    pub fn loopback() -> Placement {
        Placement {
            sender_ns: None,
            receiver_ns: None,
            listen: "127.0.0.1:0".into(),
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
    let sender = Watched::spawn(
        helper(place.sender_ns.as_deref())?
            .args(["tcp-send", "--to", &addr])
            .arg(source)
            .stderr(Stdio::inherit()),
        "tcp sender",
    )?;
    let result =
        Pair { sender, receiver }.wait(t0, dest.to_path_buf(), Duration::from_secs(1800))?;
    let bytes = payload::verify_and_clear(digest, source, dest, "tcp")?;
    Ok(ToolRun::new("tcp", bytes, result, None))
}
