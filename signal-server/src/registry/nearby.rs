//! Nearby lists: which group a peer joins (its address, or the bounded LAN group), and
//! sending each member the list of the others; on a device endpoint, guests see the owner.

use std::net::IpAddr;
use std::sync::Arc;

use peerdrop_proto::signal::PeerInfo;

use super::outbox::{deliver, Outgoing, NO_SKIP};
use super::{Inner, Peer, Registry};
use crate::addr::{GroupKey, NearbyGroup};
use crate::device::Role;

impl Registry {
    /// The nearby group a new peer from `client` joins: its [`NearbyGroup`], except that a full
    /// LAN group sends it to the group of its own address.
    pub(super) fn nearby_group_for(&self, inner: &Inner, client: IpAddr) -> NearbyGroup {
        match NearbyGroup::of(client) {
            NearbyGroup::Lan
                if inner
                    .groups
                    .get(&NearbyGroup::Lan)
                    .is_some_and(|members| members.len() >= self.max_lan_group) =>
            {
                NearbyGroup::Address(GroupKey::of(client))
            }
            group => group,
        }
    }
}

impl Inner {
    /// The nearby list of a device endpoint's guests: the owner, if online.
    pub(super) fn owner_list(&self) -> Vec<PeerInfo> {
        self.owner
            .and_then(|id| self.peers.get(&id))
            .map(|owner| owner.info.clone())
            .into_iter()
            .collect()
    }

    /// Sends every guest of a device endpoint its nearby list (after the owner came or went).
    pub(super) fn send_guest_lists(&self) {
        let list = Arc::new(self.owner_list());
        for guest in self.peers.values().filter(|p| p.role == Role::Guest) {
            deliver(
                guest,
                Outgoing::Nearby {
                    members: Arc::clone(&list),
                    skip: NO_SKIP,
                },
            );
        }
    }

    /// Sends every member of `group` the full list of the other members.
    pub(super) fn broadcast_nearby(&mut self, group: NearbyGroup) {
        let Some(members) = self.groups.get(&group) else {
            return;
        };
        let present: Vec<&Peer> = members.iter().filter_map(|id| self.peers.get(id)).collect();
        // Members on other nodes come after this node's own (skip positions stay valid).
        let remote = self
            .remote_groups
            .get(&group)
            .map_or(&[][..], Vec::as_slice);
        let infos = Arc::new(
            present
                .iter()
                .map(|p| p.info.clone())
                .chain(remote.iter().cloned())
                .collect::<Vec<_>>(),
        );
        for (skip, peer) in (0u32..).zip(present) {
            deliver(
                peer,
                Outgoing::Nearby {
                    members: Arc::clone(&infos),
                    skip,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;
    use crate::registry::test_util::*;
    use crate::registry::JoinError;
    use peerdrop_proto::signal::{DeviceKind, PeerId, ServerMsg};

    #[test]
    fn nearby_is_per_group_and_excludes_self() {
        let registry = registry(30);
        let (mb_a, mut rx_a, _) = mailbox(8);
        let (mb_b, mut rx_b, _) = mailbox(8);
        let (mb_c, mut rx_c, _) = mailbox(8);
        let a = registry
            .join(peer("198.18.0.1", "A", DeviceKind::Desktop), mb_a)
            .unwrap();
        assert_eq!(drain(&mut rx_a), vec![ServerMsg::Nearby { peers: vec![] }]);
        let b = registry
            .join(peer("198.18.0.1", "B", DeviceKind::Phone), mb_b)
            .unwrap();
        let _c = registry
            .join(peer("203.0.113.9", "C", DeviceKind::Cli), mb_c)
            .unwrap();
        assert_eq!(
            drain(&mut rx_a),
            vec![ServerMsg::Nearby {
                peers: vec![b.info.clone()]
            }]
        );
        assert_eq!(
            drain(&mut rx_b),
            vec![ServerMsg::Nearby {
                peers: vec![a.info.clone()]
            }]
        );
        assert_eq!(drain(&mut rx_c), vec![ServerMsg::Nearby { peers: vec![] }]);
        registry.leave(b.info.id);
        assert_eq!(drain(&mut rx_a), vec![ServerMsg::Nearby { peers: vec![] }]);
        assert!(drain(&mut rx_c).is_empty(), "other groups hear nothing");
    }

    #[test]
    fn lan_addresses_share_one_bounded_group() {
        let limits = Limits {
            max_lan_group: 2,
            ..Limits::default()
        };
        let registry = Registry::new(&limits, false);
        let (mb_a, mut rx_a, _) = mailbox(8);
        let (mb_b, mut rx_b, _) = mailbox(8);
        let (mb_c, mut rx_c, _) = mailbox(8);
        let (mb_d, mut rx_d, _) = mailbox(8);
        let a = registry
            .join(peer("192.168.1.10", "A", DeviceKind::Desktop), mb_a)
            .unwrap();
        let b = registry
            .join(peer("10.1.2.3", "B", DeviceKind::Phone), mb_b)
            .unwrap();
        drain(&mut rx_a);
        assert_eq!(ids(&drain(&mut rx_b)), vec![vec![a.info.id]]);
        // The LAN group is full: C is grouped by its own address and sees nobody...
        let c = registry
            .join(peer("192.168.1.12", "C", DeviceKind::Cli), mb_c)
            .unwrap();
        assert_eq!(ids(&drain(&mut rx_c)), vec![Vec::<PeerId>::new()]);
        assert!(drain(&mut rx_a).is_empty(), "the full group hears nothing");
        // ...except another peer from that same address.
        let _d = registry
            .join(peer("192.168.1.12", "D", DeviceKind::Cli), mb_d)
            .unwrap();
        assert_eq!(ids(&drain(&mut rx_d)), vec![vec![c.info.id]]);
        // Once a LAN member leaves, the next LAN peer joins the LAN group again.
        registry.leave(b.info.id);
        assert_eq!(ids(&drain(&mut rx_a)), vec![Vec::<PeerId>::new()]);
        let (mb_e, mut rx_e, _) = mailbox(8);
        registry
            .join(peer("fd00::5", "E", DeviceKind::Cli), mb_e)
            .unwrap();
        assert_eq!(ids(&drain(&mut rx_e)), vec![vec![a.info.id]]);
    }

    #[test]
    fn a_device_endpoint_shows_guests_only_the_owner() {
        let registry = endpoint();
        let (mb_g1, mut rx_g1, _) = mailbox(8);
        let (mb_g2, mut rx_g2, _) = mailbox(8);
        let (mb_o, mut rx_o, _) = mailbox(8);
        let g1 = registry
            .join(on_endpoint(Role::Guest, "192.168.1.20", "g1"), mb_g1)
            .unwrap();
        assert_eq!(
            ids(&drain(&mut rx_g1)),
            vec![Vec::<PeerId>::new()],
            "no owner yet"
        );
        let owner = registry
            .join(on_endpoint(Role::Owner, "127.0.0.1", "me"), mb_o)
            .unwrap();
        assert_eq!(
            ids(&drain(&mut rx_o)),
            vec![Vec::<PeerId>::new()],
            "the owner sees nobody"
        );
        assert_eq!(ids(&drain(&mut rx_g1)), vec![vec![owner.info.id]]);
        let g2 = registry
            .join(on_endpoint(Role::Guest, "192.168.1.20", "g2"), mb_g2)
            .unwrap();
        assert_eq!(ids(&drain(&mut rx_g2)), vec![vec![owner.info.id]]);
        assert!(drain(&mut rx_g1).is_empty() && drain(&mut rx_o).is_empty());

        // A second owner is refused while the first is online.
        let (mb_o2, _rx_o2, _) = mailbox(8);
        assert_eq!(
            registry
                .join(on_endpoint(Role::Owner, "127.0.0.1", "me too"), mb_o2)
                .unwrap_err(),
            JoinError::OwnerTaken
        );

        registry.leave(g2.info.id);
        assert!(drain(&mut rx_g1).is_empty() && drain(&mut rx_o).is_empty());
        registry.leave(owner.info.id);
        assert_eq!(ids(&drain(&mut rx_g1)), vec![Vec::<PeerId>::new()]);
        let (mb_o3, _rx_o3, _) = mailbox(8);
        let back = registry
            .join(on_endpoint(Role::Owner, "127.0.0.1", "me again"), mb_o3)
            .unwrap();
        assert_eq!(ids(&drain(&mut rx_g1)), vec![vec![back.info.id]]);
        assert_eq!(registry.len(), 2);
        let _ = g1;
    }
}
