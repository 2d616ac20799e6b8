//! Token bucket: the one rate-limiting primitive behind message and code-guessing limits.
//!
//! A bucket holds up to `capacity` tokens and refills continuously at `refill_per_sec`.
//! Each action takes one token; with none left the action is refused. Time is passed in
//! explicitly so the bucket is a pure value, trivially unit-tested.

use std::time::Instant;

/// A token bucket (capacity + continuous refill).
#[derive(Clone, Debug)]
pub struct TokenBucket {
    capacity: f64,
    tokens: f64,
    refill_per_sec: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `capacity` tokens refilling at `refill_per_sec`.
    pub fn new(capacity: u32, refill_per_sec: f64, now: Instant) -> Self {
        let capacity = f64::from(capacity.max(1));
        Self {
            capacity,
            tokens: capacity,
            refill_per_sec: refill_per_sec.max(0.0),
            last: now,
        }
    }

    /// A bucket allowing `per_minute` actions per minute, all of which may come at once.
    pub fn per_minute(per_minute: u32, now: Instant) -> Self {
        Self::new(per_minute, f64::from(per_minute) / 60.0, now)
    }

    /// Takes one token if available; `false` means the action must be refused.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket has refilled completely, i.e. it remembers nothing worth keeping.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.refill_per_sec).min(self.capacity);
        self.last = now.max(self.last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_a_burst_then_refuses() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(3, 1.0, t0);
        assert!(bucket.try_take(t0));
        assert!(bucket.try_take(t0));
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0));
    }

    #[test]
    fn refills_over_time_up_to_capacity() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(2, 2.0, t0);
        assert!(bucket.try_take(t0) && bucket.try_take(t0));
        assert!(!bucket.try_take(t0));
        let later = t0 + Duration::from_millis(500);
        assert!(
            bucket.try_take(later),
            "one token after half a second at 2/s"
        );
        assert!(!bucket.try_take(later));
        let much_later = t0 + Duration::from_secs(60);
        assert!(bucket.is_full(much_later));
        assert!(bucket.try_take(much_later) && bucket.try_take(much_later));
        assert!(!bucket.try_take(much_later), "never more than capacity");
    }

    #[test]
    fn per_minute_refills_slowly() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::per_minute(6, t0);
        for _ in 0..6 {
            assert!(bucket.try_take(t0));
        }
        assert!(!bucket.try_take(t0 + Duration::from_secs(5)));
        assert!(
            bucket.try_take(t0 + Duration::from_secs(10)),
            "6/min = one per 10 s"
        );
    }
}
