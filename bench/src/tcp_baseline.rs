//! The baseline: disk → TCP socket on loopback → disk, with the same 1 MiB blocks and a final
//! fsync, so it does what PeerDrop's receiver does minus WebRTC.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

const BLOCK: usize = 1 << 20;

/// Writes `len` bytes of fast pseudo-random data and returns its BLAKE3 (hex).
pub fn write_random_file(path: &Path, len: u64) -> Result<String> {
    let mut file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut hasher = blake3::Hasher::new();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; BLOCK];
    let mut left = len;
    while left > 0 {
        for chunk in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(BLOCK as u64) as usize;
        file.write_all(&block[..n])?;
        hasher.update(&block[..n]);
        left -= n as u64;
    }
    file.sync_all()?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Copies `source` to `dest` through a loopback TCP connection; returns the wall time.
pub fn copy_over_tcp(source: &Path, dest: &Path) -> Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let dest = dest.to_path_buf();
    let started = Instant::now();
    let receiver = std::thread::spawn(move || -> Result<()> {
        let (mut sock, _) = listener.accept()?;
        let mut out = File::create(&dest)?;
        let mut buf = vec![0u8; BLOCK];
        loop {
            let n = sock.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
        }
        out.sync_all()?;
        std::fs::remove_file(&dest)?;
        Ok(())
    });
    let mut sock = TcpStream::connect(addr)?;
    let mut input = File::open(source)?;
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sock.write_all(&buf[..n])?;
    }
    drop(sock);
    receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver thread panicked"))??;
    Ok(started.elapsed())
}
