//! A WAN emulator in user space: the kernel here has no netem (nor fq/fq_codel), so a TUN
//! device in a router namespace carries every forwarded packet through this stage, which
//! holds it in a time-ordered queue for the configured one-way delay, drops it at random
//! with a seeded RNG (reproducible runs), and serialises it at a configured rate behind a
//! byte-limited tail-drop queue — one such pipe per direction, told apart by destination.
//!
//! The stage is a thread of the calling process: it joins the router's network namespace
//! (`setns`, which affects only that thread), creates the TUN device there, and forwards until
//! [`WanStage::stop`]. [`crate::wan_bed`] routes the hosts' traffic into it.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What one direction of the emulated path does to packets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Impairment {
    /// Added one-way delay (half the round trip it contributes to).
    pub delay: Duration,
    /// Probability that a packet is dropped at random (0.0–1.0), before queueing.
    pub loss: f64,
    /// Link rate in bits per second (`None`: as fast as the stage forwards).
    pub rate_bps: Option<u64>,
    /// Bytes the rate limiter's queue holds before it drops arrivals (tail drop).
    pub queue_bytes: usize,
}

impl Impairment {
    /// A direction that adds nothing: no delay, no loss, no rate limit.
    pub const fn clear() -> Impairment {
        Impairment {
            delay: Duration::ZERO,
            loss: 0.0,
            rate_bps: None,
            queue_bytes: usize::MAX,
        }
    }

    /// A path of `rtt` round trip (half of it added in each direction), `loss` per packet
    /// and direction, `mbit` Mbit/s, with a queue of one bandwidth-delay product (at least
    /// 64 KiB) — a typical access-link buffer.
    pub fn wan(rtt: Duration, loss: f64, mbit: Option<u64>) -> Impairment {
        let rate_bps = mbit.map(|m| m * 1_000_000);
        let bdp = rate_bps.map_or(usize::MAX, |r| {
            ((r as f64 / 8.0 * rtt.as_secs_f64()) as usize).max(64 << 10)
        });
        Impairment {
            delay: rtt / 2,
            loss,
            rate_bps,
            queue_bytes: bdp,
        }
    }
}

/// The stage's configuration: the two directions and how to tell them apart.
#[derive(Clone, Copy, Debug)]
pub struct StageConfig {
    /// Packets whose IPv4 destination is in this network (address, prefix length) go
    /// "towards B" and get [`StageConfig::to_b`]; all others get [`StageConfig::to_a`].
    pub b_net: (Ipv4Addr, u8),
    /// Towards host B.
    pub to_b: Impairment,
    /// Towards host A.
    pub to_a: Impairment,
    /// Seed of the loss RNG.
    pub seed: u64,
}

/// What happened to the packets of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Packets read from the TUN device.
    pub received: u64,
    /// Dropped by the random loss.
    pub lost: u64,
    /// Dropped because the rate limiter's queue was full.
    pub queue_drops: u64,
    /// Written back to the kernel after their delay.
    pub forwarded: u64,
}

/// Counters of both directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageStats {
    /// Towards B.
    pub to_b: DirectionStats,
    /// Towards A.
    pub to_a: DirectionStats,
    /// Packets that were not IPv4 (dropped).
    pub not_ipv4: u64,
}

/// A running stage; stopped (and its TUN device removed) by [`WanStage::stop`] or on drop.
pub struct WanStage {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<StageStats>>>,
}

const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags (40 bytes in all).
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Moves the calling thread into network namespace `ns` (`/run/netns/NS`, as `ip netns`
/// names them). Other threads of the process are unaffected.
pub fn enter_namespace(ns: &str) -> io::Result<()> {
    let file = File::open(format!("/run/netns/{ns}"))?;
    // SAFETY: setns on a valid descriptor of a network namespace file.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` on a new thread inside namespace `ns` and returns what it returns.
pub fn in_namespace<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter_namespace(&ns)?;
        f()
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

/// Creates TUN device `name` (no packet-info header) in the calling thread's namespace.
fn open_tun(name: &str) -> io::Result<OwnedFd> {
    // SAFETY: open of a constant C path; the result is checked.
    let fd = unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = IfReq {
        name: [0; 16],
        flags: IFF_TUN | IFF_NO_PI,
        _pad: [0; 22],
    };
    if name.len() >= req.name.len() {
        return Err(io::Error::other(format!("TUN name {name:?} too long")));
    }
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which IfReq lays out.
    if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, &mut req) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// One direction's pipe: the rate limiter's state and the packets waiting for their time.
struct Pipe {
    imp: Impairment,
    /// When the rate limiter has finished serialising everything accepted so far.
    busy_until: Instant,
    /// (time to write, packet), in time order: delay is constant and departures monotonic.
    queue: VecDeque<(Instant, Vec<u8>)>,
    stats: DirectionStats,
}

impl Pipe {
    fn new(imp: Impairment, now: Instant) -> Pipe {
        Pipe {
            imp,
            busy_until: now,
            queue: VecDeque::new(),
            stats: DirectionStats::default(),
        }
    }

    /// Takes a packet that arrived at `now`: lose it, drop it at a full queue, or schedule it.
    fn admit(&mut self, packet: &[u8], now: Instant, rng: &mut StdRng) {
        self.stats.received += 1;
        if self.imp.loss > 0.0 && rng.random::<f64>() < self.imp.loss {
            self.stats.lost += 1;
            return;
        }
        let departs = match self.imp.rate_bps {
            Some(rate) => {
                let start = self.busy_until.max(now);
                let backlog = (start - now).as_secs_f64() * rate as f64 / 8.0;
                if backlog + packet.len() as f64 > self.imp.queue_bytes as f64 {
                    self.stats.queue_drops += 1;
                    return;
                }
                let serialise = Duration::from_secs_f64(packet.len() as f64 * 8.0 / rate as f64);
                self.busy_until = start + serialise;
                self.busy_until
            }
            None => now,
        };
        self.queue
            .push_back((departs + self.imp.delay, packet.to_vec()));
    }

    /// Writes every packet due by `now` to `fd`.
    fn release(&mut self, fd: &OwnedFd, now: Instant) {
        while self.queue.front().is_some_and(|(due, _)| *due <= now) {
            let (_, packet) = self.queue.pop_front().expect("front exists");
            // SAFETY: write of a live buffer to an owned descriptor.
            let n = unsafe { libc::write(fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
            if n == packet.len() as isize {
                self.stats.forwarded += 1;
            } else {
                // The kernel refused it (e.g. ENOBUFS): a drop like any other.
                self.stats.queue_drops += 1;
            }
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|(due, _)| *due)
    }
}

fn in_net(addr: Ipv4Addr, (net, prefix): (Ipv4Addr, u8)) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    u32::from(addr) & mask == u32::from(net) & mask
}

/// Longest the stage sleeps without looking at its stop flag.
const IDLE_WAKE: Duration = Duration::from_millis(20);
/// Packets read per wake-up before the due ones are written (keeps both directions moving).
const READ_BATCH: usize = 64;

fn forward(fd: OwnedFd, config: StageConfig, stop: &AtomicBool) -> io::Result<StageStats> {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let now = Instant::now();
    let mut to_b = Pipe::new(config.to_b, now);
    let mut to_a = Pipe::new(config.to_a, now);
    let mut not_ipv4 = 0u64;
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        to_b.release(&fd, now);
        to_a.release(&fd, now);
        let wake = [to_b.next_due(), to_a.next_due()]
            .into_iter()
            .flatten()
            .min()
            .map_or(IDLE_WAKE, |due| due.saturating_duration_since(now))
            .min(IDLE_WAKE);
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: wake.as_secs() as libc::time_t,
            tv_nsec: wake.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd, a valid timespec, no signal mask.
        let rc = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if rc == 0 {
            continue;
        }
        let arrived = Instant::now();
        for _ in 0..READ_BATCH {
            // SAFETY: read into a live buffer from an owned, non-blocking descriptor.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted {
                    break;
                }
                return Err(e);
            }
            let packet = &buf[..n as usize];
            if packet.len() < 20 || packet[0] >> 4 != 4 {
                not_ipv4 += 1;
                continue;
            }
            let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
            if in_net(dst, config.b_net) {
                to_b.admit(packet, arrived, &mut rng);
            } else {
                to_a.admit(packet, arrived, &mut rng);
            }
        }
    }
    Ok(StageStats {
        to_b: to_b.stats,
        to_a: to_a.stats,
        not_ipv4,
    })
}

impl WanStage {
    /// Creates TUN device `tun` in namespace `ns` and starts forwarding through it. Returns
    /// once the device exists (still down: the caller addresses and routes it).
    pub fn start(ns: &str, tun: &str, config: StageConfig) -> io::Result<WanStage> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let (ns, tun, flag) = (ns.to_string(), tun.to_string(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("wan-stage".into())
            .spawn(move || {
                let opened = enter_namespace(&ns).and_then(|()| open_tun(&tun));
                match opened {
                    Ok(fd) => {
                        let _ = ready_tx.send(Ok(()));
                        forward(fd, config, &flag)
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                        Err(e)
                    }
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("WAN stage thread ended before its TUN was ready"))??;
        Ok(WanStage {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops forwarding (the TUN device goes with the descriptor) and returns the counters.
    pub fn stop(mut self) -> io::Result<StageStats> {
        self.finish()
    }

    fn finish(&mut self) -> io::Result<StageStats> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("WAN stage thread panicked"))?,
            None => Ok(StageStats::default()),
        }
    }
}

impl Drop for WanStage {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_match_by_prefix() {
        let b = (Ipv4Addr::new(198, 18, 10, 0), 24);
        assert!(in_net(Ipv4Addr::new(198, 18, 10, 10), b));
        assert!(!in_net(Ipv4Addr::new(198, 18, 9, 10), b));
        assert!(in_net(
            Ipv4Addr::new(1, 2, 3, 4),
            (Ipv4Addr::UNSPECIFIED, 0)
        ));
    }

    #[test]
    fn the_rate_limiter_spaces_packets_and_drops_beyond_its_queue() {
        let now = Instant::now();
        // 8 Mbit/s = 1 byte/µs; a 1000-byte packet takes 1 ms; the queue holds 3000 bytes.
        let imp = Impairment {
            delay: Duration::from_millis(10),
            loss: 0.0,
            rate_bps: Some(8_000_000),
            queue_bytes: 3000,
        };
        let mut pipe = Pipe::new(imp, now);
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..5 {
            pipe.admit(&[0u8; 1000], now, &mut rng);
        }
        // Backlog before each: 0, 1000, 2000 accepted; 3000 + 1000 > 3000 refused twice.
        assert_eq!(pipe.queue.len(), 3);
        assert_eq!(pipe.stats.queue_drops, 2);
        let dues: Vec<Duration> = pipe.queue.iter().map(|(d, _)| *d - now).collect();
        let ms = |m: u64| Duration::from_millis(m);
        for (due, want) in dues.iter().zip([ms(11), ms(12), ms(13)]) {
            assert!(due.abs_diff(want) < Duration::from_micros(5), "{dues:?}");
        }
    }

    #[test]
    fn random_loss_is_near_its_rate_and_reproducible() {
        let now = Instant::now();
        let imp = Impairment {
            loss: 0.05,
            ..Impairment::clear()
        };
        let run = |seed| {
            let mut pipe = Pipe::new(imp, now);
            let mut rng = StdRng::seed_from_u64(seed);
            for _ in 0..20_000 {
                pipe.admit(&[0u8; 40], now, &mut rng);
            }
            pipe.stats.lost
        };
        let lost = run(7);
        assert!((800..1200).contains(&lost), "lost {lost} of 20000 at 5%");
        assert_eq!(run(7), lost, "same seed, same drops");
    }
}
