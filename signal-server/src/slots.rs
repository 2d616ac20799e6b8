//! Connection caps: at most N WebSockets per client address and M in total.
//!
//! A [`Slot`] is taken when a WebSocket is accepted and given back when it is dropped, so
//! the counts can never leak, whatever way a connection task ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::addr::GroupKey;

/// Why a new connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotError {
    /// This address already has `max_connections_per_ip` connections.
    PerAddress,
    /// The server already has `max_connections` connections.
    Total,
}

/// Counts live connections per address and in total.
#[derive(Debug)]
pub(crate) struct Slots {
    per_address_max: usize,
    total_max: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_address: HashMap<GroupKey, usize>,
}

/// Proof that a connection holds a slot; releases it on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    /// `None` for a slot counted against the total only.
    key: Option<GroupKey>,
}

impl Slots {
    /// Caps of `per_address_max` per address and `total_max` overall.
    pub(crate) fn new(per_address_max: usize, total_max: usize) -> Self {
        Self {
            per_address_max,
            total_max,
            counts: Mutex::new(Counts::default()),
        }
    }

    /// Takes a slot for `key`, or says which cap is full.
    pub(crate) fn try_acquire(self: &Arc<Self>, key: GroupKey) -> Result<Slot, SlotError> {
        let mut counts = self.counts.lock().expect("slots lock poisoned");
        if counts.total >= self.total_max {
            return Err(SlotError::Total);
        }
        let here = counts.per_address.entry(key).or_insert(0);
        if *here >= self.per_address_max {
            return Err(SlotError::PerAddress);
        }
        *here += 1;
        counts.total += 1;
        Ok(Slot {
            slots: Arc::clone(self),
            key: Some(key),
        })
    }

    /// Takes a slot counted against the total cap only (for a trusted proxy, which carries
    /// many clients behind one address).
    pub(crate) fn try_acquire_total_only(self: &Arc<Self>) -> Result<Slot, SlotError> {
        let mut counts = self.counts.lock().expect("slots lock poisoned");
        if counts.total >= self.total_max {
            return Err(SlotError::Total);
        }
        counts.total += 1;
        Ok(Slot {
            slots: Arc::clone(self),
            key: None,
        })
    }

    /// Live connections in total (for `/health`).
    pub(crate) fn total(&self) -> usize {
        self.counts.lock().expect("slots lock poisoned").total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.slots.counts.lock().expect("slots lock poisoned");
        counts.total = counts.total.saturating_sub(1);
        let Some(key) = self.key else {
            return;
        };
        if let Some(n) = counts.per_address.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_address.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_releases_on_drop() {
        let slots = Arc::new(Slots::new(2, 10));
        let a = GroupKey::V4("198.18.0.1".parse().unwrap());
        let b = GroupKey::V4("198.18.0.2".parse().unwrap());
        let s1 = slots.try_acquire(a).unwrap();
        let _s2 = slots.try_acquire(a).unwrap();
        assert_eq!(slots.try_acquire(a).unwrap_err(), SlotError::PerAddress);
        let _s3 = slots.try_acquire(b).unwrap();
        drop(s1);
        let _s4 = slots.try_acquire(a).unwrap();
        assert_eq!(slots.total(), 3);
    }

    #[test]
    fn caps_total() {
        let slots = Arc::new(Slots::new(5, 1));
        let _s = slots.try_acquire(GroupKey::V6Net(1)).unwrap();
        assert_eq!(
            slots.try_acquire(GroupKey::V6Net(2)).unwrap_err(),
            SlotError::Total
        );
    }
}
