//! Time as the machines see it: a point the driver passes in, never a clock the machine reads.
//!
//! The machines own their timers (how long a peer may take to offer, to come back after a
//! cut, to finish talking after it left the server) but not the clock: every input carries
//! `now`, [`poll_timeout`](crate::sender::SenderMachine::poll_timeout) says when the machine
//! next wants to be woken, and `handle_timeout(now)` fires what is due. That is quinn-proto's
//! shape, and it is what lets a test run a two-minute reconnect window in microseconds and
//! the browser peer drive the same code from `performance.now()`.

use std::ops::Add;
use std::time::Duration;

/// A point in time: how long after the driver's own epoch (any fixed instant it chose, e.g.
/// when it started). Only differences and order mean anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(Duration);

impl Timestamp {
    /// The driver's epoch.
    pub const ZERO: Timestamp = Timestamp(Duration::ZERO);

    /// The point `elapsed` after the epoch.
    pub const fn after_epoch(elapsed: Duration) -> Self {
        Timestamp(elapsed)
    }

    /// How long after the epoch this is.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// How long from `earlier` to this point (zero if `earlier` is later).
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(rhs))
    }
}

/// The earliest of some optional deadlines (`None` when there is none).
pub(crate) fn earliest<const N: usize>(deadlines: [Option<Timestamp>; N]) -> Option<Timestamp> {
    deadlines.into_iter().flatten().min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_order_and_saturate() {
        let t = Timestamp::after_epoch(Duration::from_secs(5));
        assert_eq!(
            (t + Duration::from_secs(1)).since_epoch(),
            Duration::from_secs(6)
        );
        assert_eq!(Timestamp::ZERO.saturating_since(t), Duration::ZERO);
        assert_eq!(t.saturating_since(Timestamp::ZERO), Duration::from_secs(5));
        assert_eq!(
            earliest([None, Some(t), Some(Timestamp::ZERO)]),
            Some(Timestamp::ZERO)
        );
        assert_eq!(earliest::<2>([None, None]), None);
        let far = Timestamp::after_epoch(Duration::MAX) + Duration::from_secs(1);
        assert_eq!(far.since_epoch(), Duration::MAX);
    }
}
