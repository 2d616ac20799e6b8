//! Turns a growing byte counter into the speed and ETA a person wants to see: arithmetic on
//! the machines' [`Timestamp`]s, so any driver (native or the browser's) shows the same.

use std::collections::VecDeque;
use std::time::Duration;

use crate::time::Timestamp;

/// How far back the speed is averaged: long enough to be steady, short enough to follow a
/// change of network.
const WINDOW: Duration = Duration::from_secs(3);

/// Sliding-window throughput meter.
#[derive(Debug)]
pub struct RateMeter {
    samples: VecDeque<(Timestamp, u64)>,
}

impl Default for RateMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateMeter {
    /// An empty meter.
    pub fn new() -> Self {
        Self {
            samples: VecDeque::new(),
        }
    }

    /// Records that `done` bytes were transferred by `now`; returns the rate in bytes/s.
    pub fn record(&mut self, now: Timestamp, done: u64) -> f64 {
        self.samples.push_back((now, done));
        while self.samples.len() > 2 && now.saturating_since(self.samples[0].0) > WINDOW {
            self.samples.pop_front();
        }
        let (t0, b0) = self.samples[0];
        let elapsed = now.saturating_since(t0).as_secs_f64();
        if elapsed <= 0.0 {
            0.0
        } else {
            done.saturating_sub(b0) as f64 / elapsed
        }
    }
}

/// Seconds left at `rate`, when that can be known.
pub fn eta_secs(done: u64, total: u64, rate: f64) -> Option<f64> {
    (rate > 0.0).then(|| total.saturating_sub(done) as f64 / rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_rate_is_measured() {
        let mut meter = RateMeter::new();
        let t0 = Timestamp::ZERO;
        meter.record(t0, 0);
        let rate = meter.record(t0 + Duration::from_secs(2), 2_000_000);
        assert!((rate - 1_000_000.0).abs() < 1.0);
        assert_eq!(eta_secs(2_000_000, 5_000_000, rate), Some(3.0));
        assert_eq!(eta_secs(0, 10, 0.0), None);
    }

    #[test]
    fn old_samples_leave_the_window() {
        let mut meter = RateMeter::new();
        let t0 = Timestamp::ZERO;
        meter.record(t0, 0);
        meter.record(t0 + Duration::from_secs(10), 10);
        meter.record(t0 + Duration::from_secs(11), 1010);
        let rate = meter.record(t0 + Duration::from_secs(12), 2010);
        assert!(rate > 900.0, "recent speed dominates, got {rate}");
    }
}
