//! Token bucket: the one rate-limiting primitive behind message, code-guessing and TURN
//! credential limits.
//!
//! A bucket holds up to `capacity` tokens and refills continuously at `refill_per_sec`.
//! Each action takes one token; with none left the action is refused. Time is passed in
//! explicitly so the bucket is a pure value, trivially unit-tested. [`KeyedBuckets`] keeps one
//! bucket per client address, for budgets that must survive reconnecting.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::addr::GroupKey;

/// How often [`KeyedBuckets`] forgets buckets that have refilled.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

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

/// One [`TokenBucket`] per address, all of the same size; a bucket that has refilled
/// completely is forgotten, so memory follows the addresses active within about the last
/// window, not every address ever seen.
#[derive(Debug)]
pub struct KeyedBuckets {
    capacity: u32,
    refill_per_sec: f64,
    inner: Mutex<KeyedInner>,
}

#[derive(Debug, Default)]
struct KeyedInner {
    buckets: HashMap<GroupKey, TokenBucket>,
    last_sweep: Option<Instant>,
}

impl KeyedBuckets {
    /// Buckets allowing `capacity` actions per `window` per address, all of which may come at
    /// once.
    pub fn per_window(capacity: u32, window: Duration) -> Self {
        let secs = window.as_secs_f64().max(1e-3);
        Self {
            capacity,
            refill_per_sec: f64::from(capacity) / secs,
            inner: Mutex::new(KeyedInner::default()),
        }
    }

    /// Takes one token from the bucket of `key`; `false` means the action must be refused.
    pub fn try_take(&self, key: GroupKey, now: Instant) -> bool {
        let mut inner = self.inner.lock().expect("bucket lock poisoned");
        if inner
            .last_sweep
            .is_none_or(|t| now.saturating_duration_since(t) >= SWEEP_EVERY)
        {
            inner.last_sweep = Some(now);
            inner.buckets.retain(|_, bucket| !bucket.is_full(now));
        }
        let (capacity, refill) = (self.capacity, self.refill_per_sec);
        inner
            .buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::new(capacity, refill, now))
            .try_take(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn keyed_buckets_are_per_address_and_refill_over_the_window() {
        let t0 = Instant::now();
        let buckets = KeyedBuckets::per_window(2, Duration::from_secs(10));
        let home = GroupKey::V4("198.18.0.1".parse().unwrap());
        let away = GroupKey::V4("198.18.0.2".parse().unwrap());
        assert!(buckets.try_take(home, t0) && buckets.try_take(home, t0));
        assert!(!buckets.try_take(home, t0), "two per window");
        assert!(buckets.try_take(away, t0), "another address has its own");
        assert!(
            buckets.try_take(home, t0 + Duration::from_secs(5)),
            "2 per 10 s = one per 5 s"
        );
        assert!(!buckets.try_take(home, t0 + Duration::from_secs(5)));
        // Refilled buckets are forgotten: a fresh one is full again.
        let later = t0 + Duration::from_secs(120);
        assert!(buckets.try_take(home, later) && buckets.try_take(home, later));
        assert_eq!(buckets.inner.lock().unwrap().buckets.len(), 1);
    }
}
