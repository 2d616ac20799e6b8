//! Joining and leaving: a peer gets an id, a code and a nearby group when it says `hello`;
//! when it goes, its code is freed, its partners hear `peer_gone` and its group a new list.

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use peerdrop_proto::signal::{DeviceKind, PeerId, PeerInfo, ServerMsg};
use uuid::Uuid;

use super::outbox::{deliver, Mailbox, Outgoing, NO_SKIP};
use super::remote::presence;
use super::{Inner, Peer, Registry};
use crate::cluster::wire::Envelope;
use crate::device::Role;

/// Partners that left, remembered per peer so that relay frames still in flight to them are
/// not held against the sender (see [`RelayError::Gone`](super::RelayError::Gone)).
const GONE_PARTNERS: usize = 8;

/// Who is joining, as the connection learnt it (name and fingerprint already cleaned).
#[derive(Debug, Clone)]
pub(crate) struct Joining {
    /// The address the client counts as (after trusted proxies).
    pub(crate) client: IpAddr,
    /// Decided when the WebSocket was accepted.
    pub(crate) role: Role,
    /// Device name as others will see it.
    pub(crate) name: String,
    /// Device kind.
    pub(crate) kind: DeviceKind,
    /// Claimed certificate fingerprint, if it looked like one.
    pub(crate) fingerprint: Option<String>,
    /// Claimed largest SCTP packet it receives, passed on as said ([`PeerInfo::max_packet`]).
    pub(crate) max_packet: Option<u32>,
}

/// What `join` assigned.
#[derive(Debug, Clone)]
pub(crate) struct Joined {
    /// The peer as others see it.
    pub(crate) info: PeerInfo,
    /// Its formatted code (`XXXX-XX`).
    pub(crate) code: String,
}

/// Why a `join` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinError {
    /// No free code was found (the code space is practically exhausted).
    NoCodeAvailable,
    /// A device endpoint's owner is already online; there is only one.
    OwnerTaken,
}

impl Registry {
    /// Registers a peer that said `hello`: assigns id and code, and sends a fresh `nearby`
    /// list to it and to every other member of its group (on a device endpoint: to it, and
    /// when it is the owner, to every guest).
    pub(crate) fn join(&self, who: Joining, mailbox: Mailbox) -> Result<Joined, JoinError> {
        let mut inner = self.lock();
        let mut id = Uuid::new_v4();
        while inner.peers.contains_key(&id) {
            id = Uuid::new_v4();
        }
        let code = inner.fresh_code().ok_or(JoinError::NoCodeAvailable)?;
        self.insert(&mut inner, who, mailbox, id, code)
    }

    /// A code no peer of this node holds, for a connection to claim in the cluster before
    /// [`Registry::join_claimed`].
    pub(crate) fn candidate_code(&self) -> Option<String> {
        self.lock().fresh_code()
    }

    /// [`Registry::join`] with the id and code this connection already claimed in the
    /// cluster; the peer is then announced on the bus.
    pub(crate) fn join_claimed(
        &self,
        who: Joining,
        mailbox: Mailbox,
        id: PeerId,
        code: String,
    ) -> Result<Joined, JoinError> {
        let mut inner = self.lock();
        if inner.peers.contains_key(&id) || inner.codes.contains_key(&code) {
            return Err(JoinError::NoCodeAvailable);
        }
        let joined = self.insert(&mut inner, who, mailbox, id, code)?;
        if let Some(presence) = self.presence_of(&inner, id) {
            self.bus.joined(presence);
        }
        Ok(joined)
    }

    /// Registers a peer under `id` and `code` (both free) and sends the nearby lists.
    fn insert(
        &self,
        inner: &mut Inner,
        who: Joining,
        mailbox: Mailbox,
        id: PeerId,
        code: String,
    ) -> Result<Joined, JoinError> {
        debug_assert_eq!(self.device_endpoint, who.role != Role::Peer);
        if who.role == Role::Owner && inner.owner.is_some() {
            return Err(JoinError::OwnerTaken);
        }
        let info = PeerInfo {
            id,
            name: who.name,
            kind: who.kind,
            fingerprint: who.fingerprint,
            max_packet: who.max_packet,
        };
        let group = (who.role == Role::Peer).then(|| self.nearby_group_for(inner, who.client));
        inner.codes.insert(code.clone(), id);
        inner.peers.insert(
            id,
            Peer {
                info: info.clone(),
                code: code.clone(),
                group,
                role: who.role,
                mailbox,
                may_address: HashSet::new(),
                resolved_by: HashSet::new(),
                partners: HashSet::new(),
                gone_partners: VecDeque::new(),
                since_ms: unix_millis(),
                tags: HashSet::new(),
            },
        );
        match who.role {
            Role::Peer => {
                let group = group.expect("peers have a group");
                inner.groups.entry(group).or_default().push(id);
                inner.broadcast_nearby(group);
            }
            Role::Owner => {
                inner.owner = Some(id);
                inner.send_guest_lists();
                let me = inner.peers.get(&id).expect("just inserted");
                deliver(me, ServerMsg::Nearby { peers: Vec::new() }.into());
            }
            Role::Guest => {
                let list = Arc::new(inner.owner_list());
                let me = inner.peers.get(&id).expect("just inserted");
                deliver(
                    me,
                    Outgoing::Nearby {
                        members: list,
                        skip: NO_SKIP,
                    },
                );
            }
        }
        Ok(Joined { info, code })
    }

    /// Removes a peer: frees its code, tells its partners `peer_gone`, its group the new
    /// `nearby` list and the peers paired with it their new `paired` list. Unknown ids are ignored, so this is safe to call on any exit path.
    pub(crate) fn leave(&self, id: PeerId) {
        let mut inner = self.lock();
        let held = inner.drop_tags(id);
        let Some(peer) = inner.peers.remove(&id) else {
            return;
        };
        let paired = inner.holders_of(held.iter());
        inner.send_paired(&paired);
        inner.codes.remove(&peer.code);
        if let Some(node) = self.bus.node() {
            let mut gone = presence(node, &peer);
            gone.tags = held.iter().copied().collect();
            self.bus.left(gone);
        }
        for partner in &peer.partners {
            if let Some(node) = inner.remote_nodes.get(partner) {
                let gone = Envelope::Gone { to: *partner, id };
                self.bus.send(node, &gone);
            }
            if let Some(other) = inner.peers.get_mut(partner) {
                other.partners.remove(&id);
                other.may_address.remove(&id);
                if other.gone_partners.len() >= GONE_PARTNERS {
                    other.gone_partners.pop_front();
                }
                other.gone_partners.push_back(id);
                deliver(other, ServerMsg::PeerGone { id }.into());
            }
        }
        for resolver in &peer.resolved_by {
            if let Some(other) = inner.peers.get_mut(resolver) {
                other.may_address.remove(&id);
            }
        }
        for target in &peer.may_address {
            if let Some(other) = inner.peers.get_mut(target) {
                other.resolved_by.remove(&id);
            }
        }
        if let Some(group) = peer.group {
            if let Some(members) = inner.groups.get_mut(&group) {
                members.retain(|m| *m != id);
                if members.is_empty() {
                    inner.groups.remove(&group);
                    inner.remote_groups.remove(&group);
                }
            }
            inner.broadcast_nearby(group);
        }
        if inner.owner == Some(id) {
            inner.owner = None;
            inner.send_guest_lists();
        }
    }
}

/// Partner `id` of `peer` has left: forget it (keeping it among the recently gone, for relay
/// frames in flight) and tell `peer`.
pub(super) fn partner_gone(peer: &mut Peer, id: PeerId) {
    if !peer.partners.remove(&id) {
        peer.may_address.remove(&id);
        return;
    }
    peer.may_address.remove(&id);
    if peer.gone_partners.len() >= GONE_PARTNERS {
        peer.gone_partners.pop_front();
    }
    peer.gone_partners.push_back(id);
    deliver(peer, ServerMsg::PeerGone { id }.into());
}

/// Now, in milliseconds since the Unix epoch.
fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::test_util::*;

    #[test]
    fn the_fingerprint_and_packet_size_reach_the_others() {
        let registry = registry(30);
        let (mb_a, _rx_a, _) = mailbox(8);
        let (mb_b, mut rx_b, _) = mailbox(8);
        let mut with = peer("198.18.0.1", "A", DeviceKind::Desktop);
        with.fingerprint = Some("AB:CD".into());
        with.max_packet = Some(16_000);
        let a = registry.join(with, mb_a).unwrap();
        assert_eq!(a.info.fingerprint.as_deref(), Some("AB:CD"));
        assert_eq!(a.info.max_packet, Some(16_000));
        registry
            .join(peer("198.18.0.1", "B", DeviceKind::Desktop), mb_b)
            .unwrap();
        assert_eq!(
            drain(&mut rx_b),
            vec![ServerMsg::Nearby {
                peers: vec![a.info.clone()]
            }]
        );
    }
}
