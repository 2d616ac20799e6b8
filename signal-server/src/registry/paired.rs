//! Paired lists: peers that hold the same pairing tag ([`ClientMsg::Watch`]) find each other
//! wherever they connect from, and may signal each other.
//!
//! A tag is derived by the two devices from both their certificate fingerprints (see
//! docs/protocol.md, *Paired devices*); the server only matches equal tags, never passes
//! them on, and bounds what they cost: at most [`MAX_PAIRING_TAGS`] per peer (checked by the
//! connection) and at most [`MAX_TAG_HOLDERS`] peers per tag, so one `watch` touches at
//! most 256 × 8 peers and builds lists of at most 256 × 7 entries (in a cluster, plus at most 8
//! holders a tag on other nodes). In a cluster, tags span nodes like nearby groups: each
//! node writes its holders to a sorted set per tag, announces changes, and follows the tags it
//! has holders of (`cluster::redis_link`, `remote.rs`).
//!
//! [`ClientMsg::Watch`]: peerdrop_proto::signal::ClientMsg::Watch
//! [`MAX_PAIRING_TAGS`]: peerdrop_proto::signal::MAX_PAIRING_TAGS

use std::collections::HashSet;

use peerdrop_proto::signal::{PeerId, PeerInfo, ServerMsg, PAIRING_TAG_CHARS};

use super::outbox::deliver;
use super::{Inner, Registry};
use crate::device::Role;

/// Most peers grouped under one tag. Two devices share a tag; a device connected twice (the
/// app and the CLI on one machine share an identity, a reconnection overlapping the old
/// presence) holds it twice. Later holders are not grouped under it: someone who knows both
/// fingerprints can fill a tag first and keep the pair from finding each other (they then use
/// a code), but cannot make a list long.
pub(crate) const MAX_TAG_HOLDERS: usize = 8;

/// Most entries in one `paired` list: 128 devices online at once is far beyond what one
/// person pairs, and 128 entries of at most ~450 bytes of JSON stay under the 64 KiB a
/// message may have. It also bounds what re-sending a list costs.
pub(crate) const MAX_PAIRED_LIST: usize = 128;

/// `watch` messages a connection may send at once, and how fast that budget refills (one
/// every [`WATCH_REFILL_SECS`]): a client watches when it connects and when it pins a device;
/// a watch costs the server up to 2 × 256 × 8 list updates, so it is not free like a ping.
pub(crate) const WATCH_BURST: u32 = 8;

/// Seconds for one more `watch` to be allowed after [`WATCH_BURST`].
pub(crate) const WATCH_REFILL_SECS: f64 = 10.0;

/// A pairing tag: 32 bytes.
pub(crate) type Tag = [u8; 32];

/// A tag as sent: lowercase hex.
pub(crate) fn tag_hex(tag: &Tag) -> String {
    tag.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses one tag as sent: exactly [`PAIRING_TAG_CHARS`] lowercase hex digits.
pub(crate) fn parse_tag(text: &str) -> Option<Tag> {
    if text.len() != PAIRING_TAG_CHARS {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut tag = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
        tag[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(tag)
}

impl Registry {
    /// Peer `id` now watches `tags` (replacing what it watched before): it joins each tag's
    /// holders while there is room, gets its `paired` list, and every peer whose list changed
    /// gets a new one. On a device endpoint, where nobody is grouped, the list is always empty.
    pub(crate) fn watch(&self, id: PeerId, tags: Vec<Tag>) {
        let mut inner = self.lock();
        let Some(peer) = inner.peers.get(&id) else {
            return;
        };
        if peer.role != Role::Peer {
            deliver(peer, ServerMsg::Paired { peers: Vec::new() }.into());
            return;
        }
        let old = inner.drop_tags(id);
        let mut held = HashSet::new();
        for tag in tags {
            let holders = inner.tags.entry(tag).or_default();
            if holders.len() < MAX_TAG_HOLDERS && !holders.contains(&id) {
                holders.push(id);
                held.insert(tag);
            }
        }
        // Only the holders of tags it took or gave up see a change.
        let mut touched = inner.holders_of(old.symmetric_difference(&held));
        let dropped: Vec<Tag> = old.difference(&held).copied().collect();
        inner.peers.get_mut(&id).expect("checked above").tags = held;
        touched.insert(id);
        inner.send_paired(&touched);
        if let Some(presence) = self.presence_of(&inner, id) {
            self.bus.watched(presence, dropped);
        }
    }
}

impl Inner {
    /// Takes `id` out of the holders of its tags (its own set is left empty); returns them.
    pub(super) fn drop_tags(&mut self, id: PeerId) -> HashSet<Tag> {
        let Some(peer) = self.peers.get_mut(&id) else {
            return HashSet::new();
        };
        let old = std::mem::take(&mut peer.tags);
        for tag in &old {
            if let Some(holders) = self.tags.get_mut(tag) {
                holders.retain(|h| *h != id);
                if holders.is_empty() {
                    self.tags.remove(tag);
                    self.remote_tags.remove(tag);
                }
            }
        }
        old
    }

    /// Everyone holding one of `tags` now.
    pub(super) fn holders_of<'a>(&self, tags: impl Iterator<Item = &'a Tag>) -> HashSet<PeerId> {
        tags.filter_map(|tag| self.tags.get(tag))
            .flatten()
            .copied()
            .collect()
    }

    /// The paired list of `id`: every other holder of its tags, once each, in a stable order,
    /// at most [`MAX_PAIRED_LIST`].
    fn paired_list(&self, id: PeerId) -> Vec<PeerInfo> {
        let Some(peer) = self.peers.get(&id) else {
            return Vec::new();
        };
        let mut seen = HashSet::new();
        let mut tags: Vec<&Tag> = peer.tags.iter().collect();
        tags.sort_unstable();
        let mut list = Vec::new();
        for tag in tags {
            let here = self.tags.get(tag).into_iter().flatten();
            let here = here.filter(|holder| **holder != id);
            let here = here.filter_map(|holder| self.peers.get(holder).map(|p| &p.info));
            // Holders on other nodes come after this node's own.
            let elsewhere = self.remote_tags.get(tag).into_iter().flatten();
            for info in here.chain(elsewhere) {
                if list.len() == MAX_PAIRED_LIST {
                    return list;
                }
                if seen.insert(info.id) {
                    list.push(info.clone());
                }
            }
        }
        list
    }

    /// Sends each of `peers` its current paired list.
    pub(super) fn send_paired(&self, peers: &HashSet<PeerId>) {
        for id in peers {
            if let Some(peer) = self.peers.get(id) {
                let msg = ServerMsg::Paired {
                    peers: self.paired_list(*id),
                };
                deliver(peer, msg.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::test_util::*;
    use peerdrop_proto::signal::{DeviceKind, SessionId, SignalData};

    fn tag(n: u8) -> Tag {
        [n; 32]
    }

    fn paired_ids(msgs: &[ServerMsg]) -> Vec<Vec<PeerId>> {
        msgs.iter()
            .filter_map(|m| match m {
                ServerMsg::Paired { peers } => Some(peers.iter().map(|p| p.id).collect()),
                _ => None,
            })
            .collect()
    }

    fn bye() -> SignalData {
        SignalData::Bye {
            session: SessionId::nil(),
            reason: "test".into(),
        }
    }

    #[test]
    fn tags_parse_only_as_64_lowercase_hex_digits() {
        assert_eq!(parse_tag(&"0f".repeat(32)), Some([0x0f; 32]));
        assert_eq!(parse_tag(&"0F".repeat(32)), None);
        assert_eq!(parse_tag(&"0f".repeat(31)), None);
        assert_eq!(parse_tag(&format!("{}zz", "0f".repeat(31))), None);
        assert_eq!(parse_tag(&"é".repeat(32)), None);
    }

    #[test]
    fn peers_sharing_a_tag_are_paired_across_addresses_and_may_signal() {
        let registry = registry(30);
        let (mb_a, mut rx_a, _) = mailbox(16);
        let (mb_b, mut rx_b, _) = mailbox(16);
        let (mb_c, mut rx_c, _) = mailbox(16);
        let a = registry
            .join(peer("198.18.0.1", "A", DeviceKind::Cli), mb_a)
            .unwrap();
        let b = registry
            .join(peer("203.0.113.7", "B", DeviceKind::Cli), mb_b)
            .unwrap();
        let c = registry
            .join(peer("203.0.113.9", "C", DeviceKind::Cli), mb_c)
            .unwrap();
        let (a_id, b_id, c_id) = (a.info.id, b.info.id, c.info.id);
        drain(&mut rx_a);
        drain(&mut rx_b);
        drain(&mut rx_c);
        // Strangers on different addresses cannot signal each other.
        assert_eq!(
            registry.relay(a_id, b_id, bye()),
            Err(super::super::RelayError::UnknownPeer)
        );

        registry.watch(a_id, vec![tag(1), tag(2)]);
        assert_eq!(paired_ids(&drain(&mut rx_a)), vec![Vec::<PeerId>::new()]);
        registry.watch(b_id, vec![tag(1)]);
        assert_eq!(paired_ids(&drain(&mut rx_b)), vec![vec![a_id]]);
        assert_eq!(paired_ids(&drain(&mut rx_a)), vec![vec![b_id]]);
        // C shares another of A's tags: A lists both, each once; B and C do not see each other.
        registry.watch(c_id, vec![tag(2), tag(3)]);
        assert_eq!(paired_ids(&drain(&mut rx_c)), vec![vec![a_id]]);
        let a_list = paired_ids(&drain(&mut rx_a));
        assert_eq!(a_list.len(), 1);
        let mut got = a_list[0].clone();
        got.sort();
        let mut want = vec![b_id, c_id];
        want.sort();
        assert_eq!(got, want);
        assert!(drain(&mut rx_b).is_empty(), "B's list did not change");

        // Paired peers may signal each other; C may not reach B.
        assert_eq!(registry.relay(a_id, b_id, bye()), Ok(()));
        assert_eq!(registry.relay(b_id, a_id, bye()), Ok(()));
        assert_eq!(
            registry.relay(c_id, b_id, bye()),
            Err(super::super::RelayError::UnknownPeer)
        );
        drain(&mut rx_a);
        drain(&mut rx_b);

        // Watching nothing any more, or leaving, updates the others' lists.
        registry.watch(c_id, Vec::new());
        assert_eq!(paired_ids(&drain(&mut rx_a)), vec![vec![b_id]]);
        assert_eq!(paired_ids(&drain(&mut rx_c)), vec![Vec::<PeerId>::new()]);
        registry.leave(b_id);
        assert_eq!(paired_ids(&drain(&mut rx_a)), vec![Vec::<PeerId>::new()]);
        // Only A holds tags now; B's and C's memberships are gone.
        let inner = registry.lock();
        assert_eq!(inner.tags.len(), 2);
        assert!(inner.tags.values().all(|holders| holders == &vec![a_id]));
    }

    #[test]
    fn a_list_holds_at_most_128_and_a_same_watch_tells_nobody_else() {
        let registry = registry(30);
        let (mb, mut rx, _) = mailbox(1024);
        let me = registry
            .join(peer("198.18.2.1", "me", DeviceKind::Cli), mb)
            .unwrap();
        let tags: Vec<Tag> = (0..=200u8).map(tag).collect();
        registry.watch(me.info.id, tags.clone());
        let mut others = Vec::new();
        for (i, t) in tags.iter().enumerate() {
            let (mb, rx, _) = mailbox(8);
            let other = registry
                .join(
                    peer(&format!("203.0.113.{}", i % 250), "o", DeviceKind::Cli),
                    mb,
                )
                .unwrap();
            registry.watch(other.info.id, vec![*t]);
            others.push((other, rx));
        }
        let last = paired_ids(&drain(&mut rx)).pop().unwrap();
        assert_eq!(last.len(), MAX_PAIRED_LIST);
        for (_, rx) in &mut others {
            drain(rx);
        }
        // Watching the same tags again answers the watcher only.
        registry.watch(me.info.id, tags);
        assert_eq!(paired_ids(&drain(&mut rx)).len(), 1);
        assert!(others.iter_mut().all(|(_, rx)| drain(rx).is_empty()));
    }

    #[test]
    fn a_tag_groups_at_most_eight_holders() {
        let registry = registry(30);
        let mut rxs = Vec::new();
        let mut ids = Vec::new();
        for i in 0..MAX_TAG_HOLDERS + 2 {
            let (mb, rx, _) = mailbox(64);
            let joined = registry
                .join(peer(&format!("198.18.1.{i}"), "X", DeviceKind::Cli), mb)
                .unwrap();
            registry.watch(joined.info.id, vec![tag(9)]);
            ids.push(joined.info.id);
            rxs.push(rx);
        }
        let last = paired_ids(&drain(rxs.last_mut().unwrap()));
        assert_eq!(last, vec![Vec::<PeerId>::new()], "no room left for it");
        let first = paired_ids(&drain(&mut rxs[0]));
        assert_eq!(first.last().unwrap().len(), MAX_TAG_HOLDERS - 1);
        assert_eq!(registry.lock().tags[&tag(9)].len(), MAX_TAG_HOLDERS);
        // A holder leaving makes room for the next watch.
        registry.leave(ids[0]);
        registry.watch(ids[MAX_TAG_HOLDERS], vec![tag(9)]);
        let now = paired_ids(&drain(&mut rxs[MAX_TAG_HOLDERS]));
        assert_eq!(now.last().unwrap().len(), MAX_TAG_HOLDERS - 1);
    }
}
