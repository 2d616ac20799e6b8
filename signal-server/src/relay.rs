//! The encrypted fallback relay: when two peers have no UDP path at all (not even to TURN),
//! they carry their transfer over this server's WebSocket as `relay` frames.
//!
//! What the server does with a frame: checks that the addressee is reachable by the sender
//! (the same rule as for `signal`), stamps the sender's id and queues it for the addressee. It
//! never decodes `data`: the peers encrypt end to end (Noise, see `core/src/fallback`), so the
//! server sees only ciphertext.
//!
//! Limits:
//! - the frame size limit (`max_message_bytes`) applies as to any frame;
//! - relay frames do not use the messages-per-second budget (a transfer sends ~200 frames a
//!   second) but two [`RelayBudget`]s, each counting **bytes** and **frames** per second: one
//!   per connection (`relay_bytes_per_sec`, `relay_frames_per_sec`) and one shared by every
//!   connection of a client address ([`AddressBudgets`]: `relay_bytes_per_sec_per_ip`,
//!   `relay_frames_per_sec_per_ip`, per IPv4 address or IPv6 /48), so opening more
//!   connections does not buy more bandwidth. Each refills continuously up to one second's
//!   worth. A connection over either budget is not refused: the server stops reading from it
//!   until the budgets have refilled, so TCP backpressure slows the sender down without
//!   losing frames. The frame count makes a flood of tiny frames as slow as a stream of big
//!   ones;
//! - a frame for a peer that is not reachable costs a strike (repeated → closed), except for a
//!   partner that has just left: frames still in flight to it are expected;
//! - a frame for a peer whose outbox is full is dropped and the sender gets `rate_limited`
//!   (the peers' own flow-control window keeps well-behaved clients far from that); the slow
//!   addressee is *not* disconnected for it;
//! - `relay_bytes_per_sec = 0` disables the relay (`unavailable`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::addr::GroupKey;
use crate::config::Limits;

/// Default relay budget per connection: 8 MB/s of frame text (~6 MB/s of file data).
pub const DEFAULT_RELAY_BYTES_PER_SEC: u64 = 8_000_000;
/// Default relay budget per client address, shared by all its connections: two transfers at
/// full speed (a household), not 64 (one address's connection cap).
pub const DEFAULT_RELAY_BYTES_PER_SEC_PER_IP: u64 = 16_000_000;
/// Default relay frames per second per connection: twice what a transfer at the default byte
/// budget sends (a 64 KiB data frame is two ~44 KB relay frames, ~180 a second at 8 MB/s).
pub const DEFAULT_RELAY_FRAMES_PER_SEC: u32 = 400;
/// Default relay frames per second per client address.
pub const DEFAULT_RELAY_FRAMES_PER_SEC_PER_IP: u32 = 800;

/// Bytes charged per frame on top of its `data`: the JSON envelope.
pub(crate) const FRAME_OVERHEAD: usize = 100;

/// How often fully refilled per-address budgets are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Whether a text frame is a `relay` frame, judged before parsing so the right budget is
/// charged. Clients serialise the `type` tag first (serde's internally tagged enums do); a frame
/// that only pretends to be a relay frame is charged as one and then fails to parse (strike).
pub(crate) fn is_relay_frame(text: &str) -> bool {
    text.starts_with(r#"{"type":"relay""#)
}

/// A budget of units (bytes or frames): refills at `rate` units/s up to `burst`; spending past
/// zero creates a debt that is paid by not reading from the connection for a while.
#[derive(Debug, Clone)]
pub(crate) struct ByteBudget {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl ByteBudget {
    /// A full budget of one second at `rate` bytes/s (at least 64 KiB, so one maximal frame
    /// always fits).
    pub(crate) fn new(rate: u64, now: Instant) -> Self {
        let rate = rate as f64;
        Self::with_burst(rate, rate.max(64.0 * 1024.0), now)
    }

    /// A full budget of `burst` units refilling at `rate` units/s.
    fn with_burst(rate: f64, burst: f64, now: Instant) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Spends `units`; returns how long reading must pause to stay within the rate.
    pub(crate) fn charge(&mut self, units: usize, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= units as f64;
        if self.tokens >= 0.0 || self.rate <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// Whether the budget has refilled completely (it then remembers nothing worth keeping).
    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }
}

/// What relaying costs one payer (a connection, or a client address): bytes and frames, each
/// with one second of burst.
#[derive(Debug, Clone)]
pub(crate) struct RelayBudget {
    bytes: ByteBudget,
    frames: ByteBudget,
}

impl RelayBudget {
    /// A full budget of `bytes_per_sec` and `frames_per_sec`.
    pub(crate) fn new(bytes_per_sec: u64, frames_per_sec: u32, now: Instant) -> Self {
        let frames = f64::from(frames_per_sec.max(1));
        Self {
            bytes: ByteBudget::new(bytes_per_sec, now),
            frames: ByteBudget::with_burst(frames, frames, now),
        }
    }

    /// Charges one frame of `bytes`; returns how long reading must pause to honour both rates.
    pub(crate) fn charge(&mut self, bytes: usize, now: Instant) -> Duration {
        let by_bytes = self.bytes.charge(bytes, now);
        let by_frames = self.frames.charge(1, now);
        by_bytes.max(by_frames)
    }

    fn is_full(&mut self, now: Instant) -> bool {
        self.bytes.is_full(now) && self.frames.is_full(now)
    }
}

/// The relay budgets of client addresses ([`GroupKey::subscriber_of`]), shared by all their
/// connections. A budget is forgotten once it has refilled, so the map holds only addresses
/// that relayed within about the last minute.
#[derive(Debug)]
pub(crate) struct AddressBudgets {
    bytes_per_sec: u64,
    frames_per_sec: u32,
    inner: Mutex<AddressInner>,
}

#[derive(Debug, Default)]
struct AddressInner {
    budgets: HashMap<GroupKey, RelayBudget>,
    last_sweep: Option<Instant>,
}

impl AddressBudgets {
    /// Budgets of `relay_bytes_per_sec_per_ip` and `relay_frames_per_sec_per_ip` per address.
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            bytes_per_sec: limits.relay_bytes_per_sec_per_ip,
            frames_per_sec: limits.relay_frames_per_sec_per_ip,
            inner: Mutex::new(AddressInner::default()),
        }
    }

    /// Charges one frame of `bytes` to the budget of `key`; returns how long the connection
    /// that sent it must pause reading.
    pub(crate) fn charge(&self, key: GroupKey, bytes: usize, now: Instant) -> Duration {
        let mut inner = self.inner.lock().expect("relay budgets lock poisoned");
        if inner
            .last_sweep
            .is_none_or(|t| now.saturating_duration_since(t) >= SWEEP_EVERY)
        {
            inner.last_sweep = Some(now);
            inner.budgets.retain(|_, budget| !budget.is_full(now));
        }
        let (bytes_per_sec, frames_per_sec) = (self.bytes_per_sec, self.frames_per_sec);
        inner
            .budgets
            .entry(key)
            .or_insert_with(|| RelayBudget::new(bytes_per_sec, frames_per_sec, now))
            .charge(bytes, now)
    }

    /// Addresses with a budget in memory (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().expect("relay budgets lock").budgets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_relay_frames_by_their_tag() {
        assert!(is_relay_frame(r#"{"type":"relay","to":"x"}"#));
        assert!(!is_relay_frame(r#"{"type":"signal","to":"x"}"#));
        assert!(!is_relay_frame(r#" {"type":"relay"}"#));
    }

    #[test]
    fn budget_allows_a_burst_then_paces_at_the_rate() {
        let t0 = Instant::now();
        let mut b = ByteBudget::new(1_000_000, t0);
        assert_eq!(
            b.charge(1_000_000, t0),
            Duration::ZERO,
            "one second of burst"
        );
        let pause = b.charge(500_000, t0);
        assert!(
            (pause.as_secs_f64() - 0.5).abs() < 1e-6,
            "half a second of debt: {pause:?}"
        );
        // After paying the debt the budget is back at zero, then refills.
        let later = t0 + Duration::from_millis(1500);
        assert_eq!(b.charge(1_000_000, later), Duration::ZERO);
        assert!(b.charge(1, later) > Duration::ZERO);
    }

    #[test]
    fn sustained_rate_matches_configuration() {
        let t0 = Instant::now();
        let mut b = ByteBudget::new(8_000_000, t0);
        // Send 40 MB in 40 KB frames, advancing the clock by each pause: ~4 s after the burst.
        let mut now = t0;
        for _ in 0..1000 {
            now += b.charge(40_000, now);
        }
        let secs = (now - t0).as_secs_f64();
        assert!((secs - 4.0).abs() < 0.05, "{secs}");
    }

    #[test]
    fn tiny_frames_are_paced_by_their_number() {
        let t0 = Instant::now();
        let mut b = RelayBudget::new(8_000_000, 100, t0);
        // 1,100 frames of 10 bytes: nothing against 8 MB/s, but 1,000 past a burst of 100/s.
        let mut now = t0;
        for _ in 0..1100 {
            now += b.charge(10, now);
        }
        let secs = (now - t0).as_secs_f64();
        assert!((secs - 10.0).abs() < 0.05, "{secs}");
    }

    #[test]
    fn an_address_budget_is_shared_and_forgotten_once_refilled() {
        let limits = Limits {
            relay_bytes_per_sec_per_ip: 1_000_000,
            relay_frames_per_sec_per_ip: 1000,
            ..Limits::default()
        };
        let budgets = AddressBudgets::new(&limits);
        let home = GroupKey::V4("198.18.0.1".parse().unwrap());
        let away = GroupKey::V4("198.18.0.2".parse().unwrap());
        let t0 = Instant::now();
        // Two "connections" of one address spend one budget…
        assert_eq!(budgets.charge(home, 600_000, t0), Duration::ZERO);
        let pause = budgets.charge(home, 600_000, t0);
        assert!((pause.as_secs_f64() - 0.2).abs() < 1e-6, "{pause:?}");
        // …another address has its own.
        assert_eq!(budgets.charge(away, 600_000, t0), Duration::ZERO);
        assert_eq!(budgets.len(), 2);
        // A minute later both have refilled and are forgotten at the next charge.
        let later = t0 + Duration::from_secs(61);
        budgets.charge(away, 1, later);
        assert_eq!(budgets.len(), 1);
    }
}
