//! Exponential backoff between attempts to reach Redis again.
//!
//! Pure (no clock, no randomness source of its own), so its sequence is unit-tested: delays
//! double from `first` up to `max`, each with up to a quarter of jitter taken off, so nodes
//! that lost the same Redis at the same moment do not all knock at once when it comes back.

use std::time::Duration;

/// The delays between reconnection attempts.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `first`, doubles up to `max`.
    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The wait before the next attempt; `jitter` in `[0, 1)` takes up to 25% off it.
    pub(crate) fn next_delay(&mut self, jitter: f64) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        base.mul_f64(1.0 - 0.25 * jitter.clamp(0.0, 1.0))
    }

    /// Back to `first`, after an attempt that worked.
    pub(crate) fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let ms = Duration::from_millis;
        let mut backoff = Backoff::new(ms(100), ms(1000));
        let delays: Vec<_> = (0..6).map(|_| backoff.next_delay(0.0)).collect();
        assert_eq!(
            delays,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        backoff.reset();
        assert_eq!(backoff.next_delay(0.0), ms(100));
    }

    #[test]
    fn jitter_only_shortens_and_by_a_quarter_at_most() {
        let ms = Duration::from_millis;
        let mut backoff = Backoff::new(ms(400), ms(400));
        let almost_full = backoff.next_delay(0.999_999);
        assert!((ms(300)..ms(301)).contains(&almost_full), "{almost_full:?}");
        assert_eq!(backoff.next_delay(7.0), ms(300), "clamped");
        assert_eq!(backoff.next_delay(-1.0), ms(400), "clamped");
    }
}
