//! Codes: handing out a fresh one at `hello`, resolving one to its peer (here, or from a
//! record another node published), and the per-address budget of look-ups that keeps codes
//! from being guessed.

use std::time::{Duration, Instant};

use peerdrop_proto::code::{format_code, CODE_ALPHABET, CODE_LEN};
use peerdrop_proto::signal::{PeerId, PeerInfo};
use rand::Rng;

use super::{Inner, Registry};
use crate::addr::GroupKey;
use crate::cluster::wire::PeerRecord;
use crate::rate::TokenBucket;

/// How often idle per-address resolve budgets are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl Registry {
    /// Takes one code look-up from the budget of address `group`; `false` = rate-limited.
    pub(crate) fn take_resolve_budget(&self, group: GroupKey, now: Instant) -> bool {
        let per_minute = self.resolve_per_minute_per_ip;
        let mut inner = self.lock();
        inner.sweep_budgets(now);
        inner
            .resolve_budgets
            .entry(group)
            .or_insert_with(|| TokenBucket::per_minute(per_minute, now))
            .try_take(now)
    }

    /// Looks up the peer holding the normalised `code` for `requester`, and from now on lets
    /// the requester signal it. A device endpoint resolves only its owner's code.
    pub(crate) fn resolve(&self, requester: PeerId, code: &str) -> Option<PeerInfo> {
        let mut inner = self.lock();
        let target_id = *inner.codes.get(code)?;
        if self.device_endpoint && inner.owner != Some(target_id) {
            return None;
        }
        if target_id != requester {
            if let Some(me) = inner.peers.get_mut(&requester) {
                me.may_address.insert(target_id);
            }
            if let Some(target) = inner.peers.get_mut(&target_id) {
                target.resolved_by.insert(requester);
            }
        }
        inner.peers.get(&target_id).map(|p| p.info.clone())
    }

    /// (Cluster) `requester` resolved a code held on another node by `record`: from now on
    /// it may signal that peer. `None` when the record claims to be of this node (a stale
    /// record of a peer that has left) or the requester is gone.
    pub(crate) fn resolve_remote(&self, requester: PeerId, record: PeerRecord) -> Option<PeerInfo> {
        let node = self.bus.node()?;
        if *record.node == **node || record.info.id == requester {
            return None;
        }
        let mut inner = self.lock();
        let target = record.info.id;
        inner.peers.get_mut(&requester)?.may_address.insert(target);
        inner.remote_nodes.insert(target, record.node.into());
        Some(record.info)
    }
}

impl Inner {
    /// A random code no connected peer holds, from a CSPRNG (`rand::rng()` is ChaCha-based
    /// and seeded from the OS).
    pub(super) fn fresh_code(&self) -> Option<String> {
        let mut rng = rand::rng();
        (0..64).find_map(|_| {
            let symbols: String = (0..CODE_LEN)
                .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
                .collect();
            let code = format_code(&symbols);
            (!self.codes.contains_key(&code)).then_some(code)
        })
    }

    /// Forgets resolve budgets that have refilled completely (they hold no information).
    fn sweep_budgets(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|t| now.saturating_duration_since(t) < SWEEP_EVERY)
        {
            return;
        }
        self.last_sweep = Some(now);
        self.resolve_budgets
            .retain(|_, bucket| !bucket.is_full(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::test_util::*;
    use peerdrop_proto::code::normalize_code;
    use peerdrop_proto::signal::DeviceKind;
    use std::collections::HashSet;

    const HOME: GroupKey = GroupKey::V4(std::net::Ipv4Addr::new(198, 18, 0, 1));
    const AWAY: GroupKey = GroupKey::V4(std::net::Ipv4Addr::new(203, 0, 113, 9));

    #[test]
    fn codes_are_well_formed_and_unique() {
        let registry = registry(30);
        let mut seen = HashSet::new();
        let mut keep = Vec::new();
        for i in 0..200 {
            let (mb, rx, _) = mailbox(8);
            keep.push(rx);
            let joined = registry
                .join(peer("203.0.113.9", &format!("p{i}"), DeviceKind::Cli), mb)
                .unwrap();
            assert_eq!(
                normalize_code(&joined.code).as_deref(),
                Some(joined.code.as_str())
            );
            assert!(seen.insert(joined.code));
        }
    }

    #[test]
    fn resolve_budget_is_per_address() {
        let registry = registry(2);
        let now = Instant::now();
        assert!(registry.take_resolve_budget(HOME, now));
        assert!(registry.take_resolve_budget(HOME, now));
        assert!(!registry.take_resolve_budget(HOME, now));
        assert!(registry.take_resolve_budget(AWAY, now));
    }
}
