//! Who may signal whom, and forwarding `signal` and `relay` frames: to a peer here, to one on
//! another node through the bus, and from another node to a peer here. A full outbox refuses
//! the sender (`Busy`), never kicks the addressee.

use peerdrop_proto::signal::{PeerId, ServerMsg, SignalData};
use tokio::sync::mpsc;

use super::membership::partner_gone;
use super::{Inner, Peer, Registry};
use crate::cluster::wire::Envelope;
use crate::device::Role;

/// Why a `signal` or `relay` frame was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelayError {
    /// The addressee is not connected or not reachable by the sender.
    UnknownPeer,
    /// (`relay` frames only) The addressee was the sender's partner and has just left, or is
    /// leaving: frames already in flight to it are no fault of the sender.
    Gone,
    /// The addressee's outbox is full: the message is dropped and the sender told to slow
    /// down; the addressee is not kicked for it.
    Busy,
}

impl Registry {
    /// Relays `data` from `from` to `to`, stamped with the sender's registered identity, if
    /// `to` is reachable by `from`; remembers the pair for `peer_gone`.
    pub(crate) fn relay(
        &self,
        from: PeerId,
        to: PeerId,
        data: SignalData,
    ) -> Result<(), RelayError> {
        let mut inner = self.lock();
        if from == to {
            return Err(RelayError::UnknownPeer);
        }
        if !inner.peers.contains_key(&to) {
            return self.relay_remote(&mut inner, from, to, |sender, node| Envelope::Signal {
                to,
                from: sender.info.clone(),
                node,
                data,
            });
        }
        let (sender_info, reachable) = match (inner.peers.get(&from), inner.peers.get(&to)) {
            (Some(sender), Some(target)) => (sender.info.clone(), may_reach(sender, target)),
            _ => return Err(RelayError::UnknownPeer),
        };
        if !reachable {
            return Err(RelayError::UnknownPeer);
        }
        let target = inner.peers.get_mut(&to).expect("checked above");
        let msg = ServerMsg::Signal {
            from: sender_info,
            data,
        };
        // A full outbox refuses the *sender* (who is flooding), never kicks the addressee:
        // otherwise anyone who may signal a peer could get it disconnected at will.
        if let Err(mpsc::error::TrySendError::Full(_)) = target.mailbox.outbox.try_send(msg.into())
        {
            return Err(RelayError::Busy);
        }
        target.may_address.insert(from);
        target.partners.insert(from);
        inner
            .peers
            .get_mut(&from)
            .expect("checked above")
            .partners
            .insert(to);
        Ok(())
    }

    /// Forwards an encrypted fallback relay frame from `from` to `to` under the same
    /// reachability rule as [`Registry::relay`]. A full outbox drops the frame (`Busy`) instead
    /// of disconnecting the addressee: relay traffic must never cost a peer its presence. A
    /// partner that has just left (or is leaving) is `Gone`, not `UnknownPeer`.
    pub(crate) fn relay_frame(
        &self,
        from: PeerId,
        to: PeerId,
        msg: ServerMsg,
    ) -> Result<(), RelayError> {
        let mut inner = self.lock();
        let Some(sender) = inner.peers.get(&from) else {
            return Err(RelayError::UnknownPeer);
        };
        // A partner that left is gone (frames in flight), wherever it was.
        if !inner.peers.contains_key(&to)
            && inner.remote_nodes.contains_key(&to)
            && !sender.gone_partners.contains(&to)
        {
            let ServerMsg::Relay { session, data, .. } = msg else {
                return Err(RelayError::UnknownPeer);
            };
            return self.relay_remote(&mut inner, from, to, |_, node| Envelope::Relay {
                to,
                from,
                node,
                session,
                data,
            });
        }
        let Some(target) = inner.peers.get(&to) else {
            return Err(if sender.gone_partners.contains(&to) {
                RelayError::Gone
            } else {
                RelayError::UnknownPeer
            });
        };
        if from == to || !may_reach(sender, target) {
            return Err(RelayError::UnknownPeer);
        }
        match target.mailbox.outbox.try_send(msg.into()) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(RelayError::Busy),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(RelayError::Gone),
        }
        // As for `signal`: the addressee may answer, and both hear `peer_gone`.
        let target = inner.peers.get_mut(&to).expect("checked above");
        target.may_address.insert(from);
        target.partners.insert(from);
        if let Some(sender) = inner.peers.get_mut(&from) {
            sender.partners.insert(to);
        }
        Ok(())
    }

    /// (Cluster) Sends what `envelope` builds from the sender and this node's id to `to`, a
    /// peer on another node, if `from` may reach it; remembers the pair for `peer_gone`. A
    /// full bus queue is `Busy`; Redis down makes every other node unreachable.
    fn relay_remote(
        &self,
        inner: &mut Inner,
        from: PeerId,
        to: PeerId,
        envelope: impl FnOnce(&Peer, String) -> Envelope,
    ) -> Result<(), RelayError> {
        let (Some(me), Some(sender), Some(node)) = (
            self.bus.node(),
            inner.peers.get(&from),
            inner.remote_nodes.get(&to),
        ) else {
            return Err(RelayError::UnknownPeer);
        };
        if !self.bus.is_up() || !inner.may_reach_remote(sender, to) {
            return Err(RelayError::UnknownPeer);
        }
        if !self.bus.send(node, &envelope(sender, me.to_string())) {
            return Err(RelayError::Busy);
        }
        if let Some(sender) = inner.peers.get_mut(&from) {
            sender.partners.insert(to);
        }
        Ok(())
    }

    /// (Cluster) Delivers what another node sent to one of this node's peers. Its node
    /// already checked that the sender may reach the addressee; the addressee may answer, and
    /// both become partners. An addressee that has left is reported back as gone.
    pub(crate) fn deliver_remote(&self, envelope: Envelope) {
        let mut inner = self.lock();
        let (to, from, node, msg) = match envelope {
            Envelope::Gone { to, id } => {
                if let Some(peer) = inner.peers.get_mut(&to) {
                    partner_gone(peer, id);
                }
                return;
            }
            Envelope::Signal {
                to,
                from,
                node,
                data,
            } => (to, from.id, node, ServerMsg::Signal { from, data }),
            Envelope::Relay {
                to,
                from,
                node,
                session,
                data,
            } => (
                to,
                from,
                node,
                ServerMsg::Relay {
                    from,
                    session,
                    data,
                },
            ),
        };
        let Some(target) = inner.peers.get_mut(&to) else {
            self.bus.send(&node, &Envelope::Gone { to: from, id: to });
            return;
        };
        // As for a local sender: a full outbox drops the message, never kicks the addressee.
        if let Err(mpsc::error::TrySendError::Full(_)) = target.mailbox.outbox.try_send(msg.into())
        {
            tracing::debug!(peer = %to, "outbox full, message from another node dropped");
            return;
        }
        target.may_address.insert(from);
        target.partners.insert(from);
        inner.remote_nodes.insert(from, node.into());
    }
}

impl Inner {
    /// (Cluster) Whether `sender` may signal `target`, a peer on another node: a member of
    /// its nearby group there, a holder of one of its pairing tags there, or one it may
    /// address (resolved it, or was signalled by it).
    fn may_reach_remote(&self, sender: &Peer, target: PeerId) -> bool {
        sender.role == Role::Peer
            && (sender.may_address.contains(&target)
                || sender
                    .group
                    .and_then(|group| self.remote_groups.get(&group))
                    .is_some_and(|members| members.iter().any(|m| m.id == target))
                || sender.tags.iter().any(|tag| {
                    self.remote_tags
                        .get(tag)
                        .is_some_and(|holders| holders.iter().any(|h| h.id == target))
                }))
    }
}

/// Whether `sender` may signal (or relay to) `target`, a different peer; see the module doc.
fn may_reach(sender: &Peer, target: &Peer) -> bool {
    let known = sender.may_address.contains(&target.info.id);
    match (sender.role, target.role) {
        (Role::Peer, Role::Peer) => {
            (sender.group.is_some() && sender.group == target.group)
                || known
                || !sender.tags.is_disjoint(&target.tags)
        }
        (Role::Guest, Role::Owner) => true,
        (Role::Owner, Role::Guest) => known,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::test_util::*;
    use peerdrop_proto::signal::DeviceKind;
    use uuid::Uuid;

    #[test]
    fn relay_requires_reachability_and_tracks_partners() {
        let registry = registry(30);
        let (mb_a, mut rx_a, _) = mailbox(8);
        let (mb_b, mut rx_b, _) = mailbox(8);
        let a = registry
            .join(peer("198.18.0.1", "A", DeviceKind::Desktop), mb_a)
            .unwrap();
        let b = registry
            .join(peer("203.0.113.9", "B", DeviceKind::Cli), mb_b)
            .unwrap();
        drain(&mut rx_a);
        drain(&mut rx_b);
        let bye = SignalData::Bye {
            session: Uuid::nil(),
            reason: "x".into(),
        };
        assert_eq!(
            registry.relay(a.info.id, b.info.id, bye.clone()),
            Err(RelayError::UnknownPeer)
        );
        assert_eq!(
            registry.relay(b.info.id, a.info.id, bye.clone()),
            Err(RelayError::UnknownPeer)
        );
        assert_eq!(registry.resolve(a.info.id, &b.code), Some(b.info.clone()));
        registry.relay(a.info.id, b.info.id, bye.clone()).unwrap();
        assert_eq!(
            drain(&mut rx_b),
            vec![ServerMsg::Signal {
                from: a.info.clone(),
                data: bye.clone()
            }]
        );
        registry.relay(b.info.id, a.info.id, bye.clone()).unwrap();
        assert_eq!(
            drain(&mut rx_a),
            vec![ServerMsg::Signal {
                from: b.info.clone(),
                data: bye
            }]
        );
        registry.leave(b.info.id);
        assert_eq!(
            drain(&mut rx_a),
            vec![ServerMsg::PeerGone { id: b.info.id }]
        );
        assert_eq!(registry.resolve(a.info.id, &b.code), None, "code freed");
        assert_eq!(registry.len(), 1);
    }

    #[test]
    fn flooding_a_peers_outbox_refuses_the_sender_not_the_victim() {
        let registry = registry(30);
        let (mb_victim, mut rx_victim, kick) = mailbox(2);
        let victim = registry
            .join(peer("198.18.0.1", "victim", DeviceKind::Desktop), mb_victim)
            .unwrap();
        let (mb_flooder, _rx_flooder, _) = mailbox(64);
        let flooder = registry
            .join(
                peer("198.18.0.1", "flooder", DeviceKind::Desktop),
                mb_flooder,
            )
            .unwrap();
        // The victim's two slots hold nearby lists; it reads nothing more.
        drain(&mut rx_victim);
        let offer = |n: u128| SignalData::Offer {
            session: Uuid::from_u128(n),
            sdp: "v=0".into(),
        };
        let mut busy = 0;
        for n in 0..10 {
            if let Err(RelayError::Busy) = registry.relay(flooder.info.id, victim.info.id, offer(n))
            {
                busy += 1;
            }
        }
        assert_eq!(
            busy, 8,
            "past the victim's two free slots the flooder is refused"
        );
        assert!(
            futures_util::FutureExt::now_or_never(kick.notified()).is_none(),
            "the victim is not kicked"
        );
    }

    #[test]
    fn relay_frames_to_a_partner_that_left_are_gone_not_unknown() {
        let registry = registry(30);
        let (mb_a, _rx_a, _) = mailbox(8);
        let (mb_b, _rx_b, _) = mailbox(8);
        let a = registry
            .join(peer("198.18.0.1", "A", DeviceKind::Desktop), mb_a)
            .unwrap();
        let b = registry
            .join(peer("198.18.0.1", "B", DeviceKind::Desktop), mb_b)
            .unwrap();
        let frame = ServerMsg::Relay {
            from: a.info.id,
            session: Uuid::nil(),
            data: "AQI=".into(),
        };
        registry
            .relay_frame(a.info.id, b.info.id, frame.clone())
            .unwrap();
        registry.leave(b.info.id);
        assert_eq!(
            registry.relay_frame(a.info.id, b.info.id, frame.clone()),
            Err(RelayError::Gone)
        );
        assert_eq!(
            registry.relay_frame(a.info.id, Uuid::new_v4(), frame),
            Err(RelayError::UnknownPeer),
            "someone who never was a partner"
        );
    }

    #[test]
    fn on_a_device_endpoint_only_owner_and_guest_talk() {
        let registry = endpoint();
        let (mb_o, mut rx_o, _) = mailbox(8);
        let (mb_a, mut rx_a, _) = mailbox(8);
        let (mb_b, mut rx_b, _) = mailbox(8);
        let owner = registry
            .join(on_endpoint(Role::Owner, "127.0.0.1", "me"), mb_o)
            .unwrap();
        let a = registry
            .join(on_endpoint(Role::Guest, "192.168.1.20", "a"), mb_a)
            .unwrap();
        let b = registry
            .join(on_endpoint(Role::Guest, "192.168.1.20", "b"), mb_b)
            .unwrap();
        for rx in [&mut rx_o, &mut rx_a, &mut rx_b] {
            drain(rx);
        }
        let bye = SignalData::Bye {
            session: Uuid::nil(),
            reason: "x".into(),
        };
        // The owner cannot address a guest that never signalled it.
        assert_eq!(
            registry.relay(owner.info.id, a.info.id, bye.clone()),
            Err(RelayError::UnknownPeer)
        );
        // Guests cannot reach each other, not even by code.
        assert_eq!(registry.resolve(a.info.id, &b.code), None);
        assert_eq!(
            registry.relay(a.info.id, b.info.id, bye.clone()),
            Err(RelayError::UnknownPeer)
        );
        let frame = ServerMsg::Relay {
            from: a.info.id,
            session: Uuid::nil(),
            data: "AQI=".into(),
        };
        assert_eq!(
            registry.relay_frame(a.info.id, b.info.id, frame.clone()),
            Err(RelayError::UnknownPeer)
        );
        assert!(drain(&mut rx_b).is_empty());
        // A guest signals the owner; the owner answers it, and only it.
        registry
            .relay(a.info.id, owner.info.id, bye.clone())
            .unwrap();
        assert_eq!(drain(&mut rx_o).len(), 1);
        registry
            .relay(owner.info.id, a.info.id, bye.clone())
            .unwrap();
        assert_eq!(drain(&mut rx_a).len(), 1);
        registry
            .relay_frame(a.info.id, owner.info.id, frame)
            .unwrap();
        assert_eq!(drain(&mut rx_o).len(), 1);
        assert_eq!(
            registry.relay(owner.info.id, b.info.id, bye),
            Err(RelayError::UnknownPeer)
        );
        // Only the owner's code resolves; the owner resolves no guest.
        assert_eq!(
            registry.resolve(b.info.id, &owner.code),
            Some(owner.info.clone())
        );
        assert_eq!(registry.resolve(owner.info.id, &a.code), None);
        // peer_gone as on any server.
        registry.leave(a.info.id);
        assert_eq!(
            drain(&mut rx_o),
            vec![ServerMsg::PeerGone { id: a.info.id }]
        );
    }
}
