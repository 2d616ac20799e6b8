//! Measuring a path from inside namespaces, without external tools: a UDP "ping" (echo
//! round trips, as `ping` would time them; iputils is not assumed installed) and a memory-to-
//! memory TCP blast (what a path carries when no disk is involved). Each side is a thread
//! that joins its namespace ([`crate::wan_stage::enter_namespace`]).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::wan_stage::enter_namespace;

/// A UDP echo responder in a namespace; stopped on drop.
pub struct EchoServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Starts an echo responder in `ns` on `ip` (an ephemeral port).
    pub fn start(ns: &str, ip: &str) -> io::Result<EchoServer> {
        let (ns, ip) = (ns.to_string(), ip.to_string());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (tx, rx) = mpsc::channel::<io::Result<SocketAddr>>();
        let thread = std::thread::spawn(move || {
            let sock = match enter_namespace(&ns).and_then(|()| {
                let s = UdpSocket::bind(format!("{ip}:0"))?;
                s.set_read_timeout(Some(Duration::from_millis(50)))?;
                Ok(s)
            }) {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(sock.local_addr());
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    let _ = sock.send_to(&buf[..n], from);
                }
            }
        });
        let addr = rx
            .recv()
            .map_err(|_| io::Error::other("echo thread ended early"))??;
        Ok(EchoServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a ping run saw.
#[derive(Clone, Debug)]
pub struct PingStats {
    /// Probes sent.
    pub sent: u32,
    /// Round-trip times of the probes answered, in sending order.
    pub rtts: Vec<Duration>,
}

impl PingStats {
    /// Fraction of probes never answered.
    pub fn loss(&self) -> f64 {
        1.0 - self.rtts.len() as f64 / f64::from(self.sent.max(1))
    }

    /// Median round trip (zero when none came back).
    pub fn median(&self) -> Duration {
        let mut v = self.rtts.clone();
        v.sort();
        v.get(v.len() / 2).copied().unwrap_or_default()
    }

    /// Fastest round trip.
    pub fn min(&self) -> Duration {
        self.rtts.iter().min().copied().unwrap_or_default()
    }

    /// Slowest round trip.
    pub fn max(&self) -> Duration {
        self.rtts.iter().max().copied().unwrap_or_default()
    }
}

/// Sends `count` probes from namespace `ns` to `target`, one every `interval`, and waits up to
/// one second after the last for late answers.
pub fn udp_ping(
    ns: &str,
    target: SocketAddr,
    count: u32,
    interval: Duration,
) -> io::Result<PingStats> {
    crate::wan_stage::in_namespace(ns, move || {
        let sock = UdpSocket::bind("0.0.0.0:0")?;
        sock.connect(target)?;
        let mut sent_at: Vec<Instant> = Vec::with_capacity(count as usize);
        let mut rtt: Vec<Option<Duration>> = vec![None; count as usize];
        let start = Instant::now();
        let mut buf = [0u8; 64];
        loop {
            let now = Instant::now();
            let next = start + interval * sent_at.len() as u32;
            if sent_at.len() < count as usize && now >= next {
                let mut probe = [0u8; 64];
                probe[..4].copy_from_slice(&(sent_at.len() as u32).to_be_bytes());
                // Timed before the send: the stage may read the packet before `send` returns.
                sent_at.push(Instant::now());
                sock.send(&probe)?;
                continue;
            }
            let until = if sent_at.len() < count as usize {
                next
            } else {
                match sent_at.last() {
                    Some(last) => *last + Duration::from_secs(1),
                    None => now,
                }
            };
            if now >= until && sent_at.len() == count as usize {
                break;
            }
            sock.set_read_timeout(Some((until - now).max(Duration::from_micros(100))))?;
            match sock.recv(&mut buf) {
                Ok(n) if n >= 4 => {
                    let seq = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                    if seq < sent_at.len() && rtt[seq].is_none() {
                        rtt[seq] = Some(sent_at[seq].elapsed());
                    }
                }
                Ok(_) => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) => return Err(e),
            }
        }
        Ok(PingStats {
            sent: count,
            rtts: rtt.into_iter().flatten().collect(),
        })
    })
}

/// Sends `bytes` over one TCP connection from namespace `tx_ns` to a listener in `rx_ns` on
/// `rx_ip`, memory to memory (256 KiB writes), and returns the receiver's time from accepting
/// to the end of the stream.
pub fn tcp_blast(tx_ns: &str, rx_ns: &str, rx_ip: &str, bytes: u64) -> io::Result<Duration> {
    let (rx_ns, rx_ip) = (rx_ns.to_string(), rx_ip.to_string());
    let (tx, rx) = mpsc::channel::<io::Result<SocketAddr>>();
    let receiver = std::thread::spawn(move || -> io::Result<(u64, Duration)> {
        let listener =
            enter_namespace(&rx_ns).and_then(|()| TcpListener::bind(format!("{rx_ip}:0")));
        let listener = match listener {
            Ok(l) => l,
            Err(e) => {
                let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                return Err(e);
            }
        };
        let _ = tx.send(listener.local_addr());
        let (mut sock, _) = listener.accept()?;
        let t0 = Instant::now();
        let mut buf = vec![0u8; 256 << 10];
        let mut got = 0u64;
        loop {
            let n = sock.read(&mut buf)?;
            if n == 0 {
                return Ok((got, t0.elapsed()));
            }
            got += n as u64;
        }
    });
    let addr = rx
        .recv()
        .map_err(|_| io::Error::other("receiver ended early"))??;
    crate::wan_stage::in_namespace(tx_ns, move || {
        let mut sock = TcpStream::connect(addr)?;
        let buf = vec![0x5au8; 256 << 10];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            sock.write_all(&buf[..n])?;
            left -= n as u64;
        }
        sock.shutdown(std::net::Shutdown::Write)
    })?;
    let (got, took) = receiver
        .join()
        .map_err(|_| io::Error::other("receiver panicked"))??;
    if got != bytes {
        return Err(io::Error::other(format!("received {got} of {bytes} bytes")));
    }
    Ok(took)
}
