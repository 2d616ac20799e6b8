//! The encrypted fallback relay: when two peers have no UDP path at all (not even to TURN),
//! they carry their transfer over this server's WebSocket as `relay` frames.
//!
//! What the server does with a frame: checks that the addressee is reachable by the sender
//! (the same rule as for `signal`), stamps the sender's id and queues it for the addressee. It
//! never decodes `data`: the peers encrypt end to end (Noise, see `core/src/fallback`), so the
//! server sees only ciphertext.
//!
//! Limits, per connection:
//! - the frame size limit (`max_message_bytes`) applies as to any frame;
//! - relay frames do not use the messages-per-second budget but a **bytes-per-second** budget
//!   (`relay_bytes_per_sec`, burst of one second's worth). A connection over budget is not
//!   refused: the server stops reading from it until the budget has refilled, so TCP
//!   backpressure slows the sender down without losing frames;
//! - a frame for a peer whose outbox is full is dropped and the sender gets `rate_limited`
//!   (the peers' own flow-control window keeps well-behaved clients far from that); the slow
//!   addressee is *not* disconnected for it;
//! - `relay_bytes_per_sec = 0` disables the relay (`unavailable`).

use std::time::{Duration, Instant};

/// Default relay budget per connection: 8 MB/s of frame text (~6 MB/s of file data).
pub const DEFAULT_RELAY_BYTES_PER_SEC: u64 = 8_000_000;

/// Whether a text frame is a `relay` frame, judged before parsing so the right budget is
/// charged. Clients serialise the `type` tag first (serde's internally tagged enums do); a frame
/// that only pretends to be a relay frame is charged as one and then fails to parse (strike).
pub(crate) fn is_relay_frame(text: &str) -> bool {
    text.starts_with(r#"{"type":"relay""#)
}

/// A byte budget: refills at `rate` bytes/s up to `burst`; spending past zero creates a debt
/// that is paid by not reading from the connection for a while.
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
        let burst = rate.max(64.0 * 1024.0);
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Spends `bytes`; returns how long reading must pause to stay within the rate.
    pub(crate) fn charge(&mut self, bytes: usize, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= bytes as f64;
        if self.tokens >= 0.0 || self.rate <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
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
}
