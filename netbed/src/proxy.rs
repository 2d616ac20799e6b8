//! A recording TCP proxy in front of the signaling server: everything the server receives and
//! sends passes through it, so a test can prove what the server could (not) read.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// Enters network namespace `ns` on the calling thread only.
pub fn enter_netns(ns: &str) {
    let path = format!("/var/run/netns/{ns}");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    // SAFETY: setns on a valid namespace descriptor; it affects only this thread.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
}

/// The proxy; [`RecordingProxy::finish`] stops it and returns every byte it carried.
pub struct RecordingProxy {
    /// `ip:port` to connect to instead of the server.
    pub addr: String,
    seen: Arc<Mutex<Vec<u8>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl RecordingProxy {
    /// Listens on the internet namespace's server address (any port) and forwards to `upstream`.
    pub fn start(ns: &str, upstream: &str) -> RecordingProxy {
        let (tx, rx) = std::sync::mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let upstream = upstream.to_string();
        let ns = ns.to_string();
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            enter_netns(&ns);
            let host = upstream.split(':').next().unwrap_or("0.0.0.0").to_string();
            let listener = TcpListener::bind((host.as_str(), 0)).expect("bind proxy");
            listener.set_nonblocking(true).expect("nonblocking");
            tx.send(listener.local_addr().expect("addr").to_string())
                .expect("report addr");
            let mut pumps = Vec::new();
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        // Connect from this thread: the socket lives in the namespace.
                        let Ok(server) = TcpStream::connect(&upstream) else {
                            continue;
                        };
                        for (mut from, mut to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server, client),
                        ] {
                            let seen = seen2.clone();
                            pumps.push(std::thread::spawn(move || {
                                let mut buf = vec![0u8; 64 * 1024];
                                loop {
                                    match from.read(&mut buf) {
                                        Ok(0) | Err(_) => break,
                                        Ok(n) => {
                                            seen.lock().unwrap().extend_from_slice(&buf[..n]);
                                            if to.write_all(&buf[..n]).is_err() {
                                                break;
                                            }
                                        }
                                    }
                                }
                                let _ = to.shutdown(Shutdown::Write);
                            }));
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("proxy started");
        RecordingProxy {
            addr,
            seen,
            stop,
            accept: Some(accept),
        }
    }

    /// Stops accepting and returns everything recorded so far (both directions).
    pub fn finish(mut self) -> Vec<u8> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// How many sampled windows of `plaintext` appear in `seen`, raw or base64-encoded at any
/// alignment. 0 means the recording holds no recognisable piece of the file.
pub fn plaintext_leaks(seen: &[u8], plaintext: &[u8]) -> usize {
    const WINDOW: usize = 48;
    const SAMPLES: usize = 64;
    if plaintext.len() < WINDOW + 3 {
        return 0;
    }
    let step = ((plaintext.len() - WINDOW - 3) / SAMPLES).max(1);
    // Needles: each window raw, and base64 of it at the three alignments (45 bytes -> 60 chars).
    let mut needles: Vec<(usize, Vec<u8>)> = Vec::new();
    for i in 0..SAMPLES {
        let at = (i * step).min(plaintext.len() - WINDOW);
        let window = &plaintext[at..at + WINDOW];
        needles.push((i, window.to_vec()));
        for k in 0..3 {
            needles.push((i, BASE64.encode(&window[k..k + 45]).into_bytes()));
        }
    }
    // One pass over `seen`, indexed by each needle's first 8 bytes.
    let key = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    let mut index: std::collections::HashMap<u64, Vec<usize>> = Default::default();
    for (n, (_, needle)) in needles.iter().enumerate() {
        index.entry(key(needle)).or_default().push(n);
    }
    let mut leaked = [false; SAMPLES];
    if seen.len() >= 8 {
        for pos in 0..=seen.len() - 8 {
            if let Some(candidates) = index.get(&key(&seen[pos..])) {
                for &n in candidates {
                    let (sample, needle) = &needles[n];
                    if seen[pos..].starts_with(needle) {
                        leaked[*sample] = true;
                    }
                }
            }
        }
    }
    leaked.iter().filter(|l| **l).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_raw_and_base64_plaintext_but_not_ciphertext() {
        let plain: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        // Base64 of a slice starting at an arbitrary offset, as a JSON relay would carry it.
        let mut carried = b"{\"data\":\"".to_vec();
        carried.extend_from_slice(BASE64.encode(&plain[1001..9000]).as_bytes());
        assert!(plaintext_leaks(&carried, &plain) > 0);
        assert!(plaintext_leaks(&plain, &plain) > 0);
        let scrambled: Vec<u8> = plain.iter().map(|b| b ^ 0x5a).collect();
        assert_eq!(plaintext_leaks(&scrambled, &plain), 0);
    }
}
