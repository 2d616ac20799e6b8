//! (Cluster) What this node knows of peers on other nodes: what it tells the cluster of its
//! own peers, the members elsewhere of its nearby groups and the holders elsewhere of its
//! peers' pairing tags, and forgetting peers whose presence expired.

use std::collections::{HashMap, HashSet};

use peerdrop_proto::signal::{PeerId, PeerInfo};

use super::membership::partner_gone;
use super::paired::{Tag, MAX_TAG_HOLDERS};
use super::{Inner, Peer, Registry};
use crate::addr::NearbyGroup;
use crate::cluster::wire::{Followed, NodeId, PeerRecord};
use crate::cluster::LocalPresence;

impl Registry {
    /// What the cluster must know of local peer `id` (`None` alone, or for a stranger).
    pub(super) fn presence_of(&self, inner: &Inner, id: PeerId) -> Option<LocalPresence> {
        let node = self.bus.node()?;
        let peer = inner.peers.get(&id)?;
        Some(presence(node, peer))
    }

    /// Every peer of this node as the cluster must know it (for the periodic refresh).
    pub(crate) fn local_presences(&self) -> Vec<LocalPresence> {
        let Some(node) = self.bus.node() else {
            return Vec::new();
        };
        let inner = self.lock();
        inner
            .peers
            .values()
            .map(|peer| presence(node, peer))
            .collect()
    }

    /// (Cluster) The members of `group` on other nodes, as just read from Redis, in join
    /// order. When they changed, every local member gets a new `nearby` list.
    pub(crate) fn set_remote_group(&self, group: NearbyGroup, members: Vec<(PeerInfo, NodeId)>) {
        let mut inner = self.lock();
        if !inner.groups.contains_key(&group) {
            inner.remote_groups.remove(&group);
            return;
        }
        let mut infos = Vec::with_capacity(members.len());
        for (info, node) in members {
            inner.remote_nodes.insert(info.id, node);
            infos.push(info);
        }
        let known = inner
            .remote_groups
            .get(&group)
            .map_or(&[][..], Vec::as_slice);
        if known == infos.as_slice() {
            return;
        }
        if infos.is_empty() {
            inner.remote_groups.remove(&group);
        } else {
            inner.remote_groups.insert(group, infos);
        }
        inner.broadcast_nearby(group);
    }

    /// (Cluster) The holders of pairing tag `tag` on other nodes, as just read from Redis.
    /// When they changed, every local holder gets a new `paired` list. At most
    /// [`MAX_TAG_HOLDERS`] are kept, like the holders here.
    pub(crate) fn set_remote_tag(&self, tag: Tag, mut holders: Vec<(PeerInfo, NodeId)>) {
        let mut inner = self.lock();
        if !inner.tags.contains_key(&tag) {
            inner.remote_tags.remove(&tag);
            return;
        }
        holders.truncate(MAX_TAG_HOLDERS);
        let mut infos = Vec::with_capacity(holders.len());
        for (info, node) in holders {
            inner.remote_nodes.insert(info.id, node);
            infos.push(info);
        }
        let known = inner.remote_tags.get(&tag).map_or(&[][..], Vec::as_slice);
        if known == infos.as_slice() {
            return;
        }
        if infos.is_empty() {
            inner.remote_tags.remove(&tag);
        } else {
            inner.remote_tags.insert(tag, infos);
        }
        let local = inner.holders_of(std::iter::once(&tag));
        inner.send_paired(&local);
    }

    /// (Cluster) Whether this node follows `followed` in Redis: a nearby group or a pairing
    /// tag with members here.
    pub(crate) fn follows(&self, followed: Followed) -> bool {
        let inner = self.lock();
        match followed {
            Followed::Group(group) => inner.groups.contains_key(&group),
            Followed::Tag(tag) => inner.tags.contains_key(&tag),
        }
    }

    /// (Cluster) Every nearby group and pairing tag with members here.
    pub(crate) fn local_followed(&self) -> Vec<Followed> {
        let inner = self.lock();
        inner
            .groups
            .keys()
            .copied()
            .map(Followed::Group)
            .chain(inner.tags.keys().copied().map(Followed::Tag))
            .collect()
    }

    /// (Cluster) Peers elsewhere whose presence has expired (their node died, or left without
    /// telling): they leave every group, and their partners here get `peer_gone`.
    pub(crate) fn forget_remote(&self, gone: &HashSet<PeerId>) {
        if gone.is_empty() {
            return;
        }
        let mut inner = self.lock();
        for id in gone {
            inner.remote_nodes.remove(id);
        }
        let tags_changed = drop_members(&mut inner.remote_tags, gone);
        let paired = inner.holders_of(tags_changed.iter());
        inner.send_paired(&paired);
        let changed = drop_members(&mut inner.remote_groups, gone);
        for peer in inner.peers.values_mut() {
            let lost: Vec<PeerId> = peer
                .partners
                .iter()
                .filter(|p| gone.contains(p))
                .copied()
                .collect();
            for id in lost {
                partner_gone(peer, id);
            }
            peer.may_address.retain(|p| !gone.contains(p));
        }
        for group in changed {
            inner.broadcast_nearby(group);
        }
    }

    /// (Cluster) Every peer elsewhere this node still has a reason to know (in a local group,
    /// addressable by or a partner of a local peer), after forgetting the others: the ones
    /// whose presence the Redis link checks.
    pub(crate) fn remote_ids(&self) -> Vec<PeerId> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut wanted: HashSet<PeerId> = inner
            .remote_groups
            .values()
            .chain(inner.remote_tags.values())
            .flatten()
            .map(|info| info.id)
            .collect();
        for peer in inner.peers.values() {
            wanted.extend(peer.partners.iter().chain(&peer.may_address));
        }
        inner.remote_nodes.retain(|id, _| wanted.contains(id));
        inner.remote_nodes.keys().copied().collect()
    }
}

/// What the cluster must know of `peer`, a peer of node `node`.
pub(super) fn presence(node: &NodeId, peer: &Peer) -> LocalPresence {
    LocalPresence {
        id: peer.info.id,
        code: peer.code.clone(),
        group: peer.group,
        since_ms: peer.since_ms,
        tags: peer.tags.iter().copied().collect(),
        record: PeerRecord {
            node: node.to_string(),
            info: peer.info.clone(),
        },
    }
}

/// Removes the `gone` peers from every list of `lists` (nearby groups or pairing tags held
/// elsewhere), drops lists left empty, and returns the keys whose list changed.
fn drop_members<K: Copy + Eq + std::hash::Hash>(
    lists: &mut HashMap<K, Vec<PeerInfo>>,
    gone: &HashSet<PeerId>,
) -> Vec<K> {
    let mut changed = Vec::new();
    lists.retain(|key, members| {
        let before = members.len();
        members.retain(|info| !gone.contains(&info.id));
        if members.len() != before {
            changed.push(*key);
        }
        !members.is_empty()
    });
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::wire::Envelope;
    use crate::registry::test_util::*;
    use crate::registry::RelayError;
    use peerdrop_proto::signal::{DeviceKind, ServerMsg, SignalData};
    use uuid::Uuid;

    #[test]
    fn members_on_other_nodes_join_the_nearby_list_until_they_expire() {
        let registry = registry(30);
        let (mb_a, mut rx_a, _) = mailbox(8);
        let a = registry
            .join(peer("203.0.113.9", "A", DeviceKind::Desktop), mb_a)
            .unwrap();
        drain(&mut rx_a);
        let group = NearbyGroup::of(ip("203.0.113.9"));
        let node: NodeId = "other".into();
        let (x, y) = (info(1, "X"), info(2, "Y"));
        registry.set_remote_group(
            group,
            vec![(x.clone(), node.clone()), (y.clone(), node.clone())],
        );
        assert_eq!(
            ids(&drain(&mut rx_a)),
            vec![vec![x.id, y.id]],
            "after the local members (none but A itself)"
        );
        // The same members again: nothing new to say.
        registry.set_remote_group(
            group,
            vec![(x.clone(), node.clone()), (y.clone(), node.clone())],
        );
        assert!(drain(&mut rx_a).is_empty());
        // A group with no member here is not followed.
        registry.set_remote_group(
            NearbyGroup::of(ip("198.18.0.1")),
            vec![(x.clone(), node.clone())],
        );
        assert!(drain(&mut rx_a).is_empty());
        // X signals A from its node: they are partners, so X expiring is a `peer_gone` too.
        registry.deliver_remote(Envelope::Signal {
            to: a.info.id,
            from: x.clone(),
            node: "other".into(),
            data: SignalData::Bye {
                session: Uuid::nil(),
                reason: "x".into(),
            },
        });
        assert!(matches!(&drain(&mut rx_a)[..], [ServerMsg::Signal { from, .. }] if *from == x));
        let mut remote = registry.remote_ids();
        remote.sort();
        assert_eq!(remote, vec![x.id, y.id]);
        registry.forget_remote(&HashSet::from([x.id]));
        assert_eq!(
            drain(&mut rx_a),
            vec![
                ServerMsg::PeerGone { id: x.id },
                ServerMsg::Nearby {
                    peers: vec![y.clone()]
                }
            ]
        );
        assert_eq!(registry.remote_ids(), vec![y.id]);
    }

    #[test]
    fn holders_of_a_tag_on_other_nodes_are_paired_until_they_expire() {
        let registry = registry(30);
        let (mb_a, mut rx_a, _) = mailbox(8);
        let a = registry
            .join(peer("203.0.113.9", "A", DeviceKind::Desktop), mb_a)
            .unwrap();
        let tag = [7u8; 32];
        registry.watch(a.info.id, vec![tag]);
        drain(&mut rx_a);
        let node: NodeId = "other".into();
        let x = info(1, "X");
        // A tag nobody here holds is not followed.
        registry.set_remote_tag([8u8; 32], vec![(x.clone(), node.clone())]);
        assert!(drain(&mut rx_a).is_empty());
        assert!(!registry.follows(Followed::Tag([8u8; 32])));
        assert!(registry.follows(Followed::Tag(tag)));
        registry.set_remote_tag(tag, vec![(x.clone(), node.clone())]);
        assert_eq!(
            drain(&mut rx_a),
            vec![ServerMsg::Paired {
                peers: vec![x.clone()]
            }]
        );
        registry.set_remote_tag(tag, vec![(x.clone(), node.clone())]);
        assert!(drain(&mut rx_a).is_empty(), "nothing new to say");
        assert_eq!(registry.remote_ids(), vec![x.id]);
        registry.forget_remote(&HashSet::from([x.id]));
        assert_eq!(drain(&mut rx_a), vec![ServerMsg::Paired { peers: vec![] }]);
        assert!(registry.remote_ids().is_empty());
    }

    #[test]
    fn a_partner_leaving_another_node_is_peer_gone_here() {
        let registry = registry(30);
        let (mb_a, mut rx_a, _) = mailbox(8);
        let a = registry
            .join(peer("203.0.113.9", "A", DeviceKind::Desktop), mb_a)
            .unwrap();
        drain(&mut rx_a);
        let x = info(1, "X");
        let gone = Envelope::Gone {
            to: a.info.id,
            id: x.id,
        };
        registry.deliver_remote(gone.clone());
        assert!(
            drain(&mut rx_a).is_empty(),
            "not a partner: nothing to tell"
        );
        registry.deliver_remote(Envelope::Relay {
            to: a.info.id,
            from: x.id,
            node: "other".into(),
            session: Uuid::nil(),
            data: "AQI=".into(),
        });
        assert_eq!(drain(&mut rx_a).len(), 1);
        registry.deliver_remote(gone);
        assert_eq!(drain(&mut rx_a), vec![ServerMsg::PeerGone { id: x.id }]);
        // Frames A still had in flight to X are no fault of A's.
        let frame = ServerMsg::Relay {
            from: a.info.id,
            session: Uuid::nil(),
            data: "AQI=".into(),
        };
        assert_eq!(
            registry.relay_frame(a.info.id, x.id, frame),
            Err(RelayError::Gone)
        );
    }
}
