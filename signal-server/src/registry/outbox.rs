//! How the registry reaches a peer: the small item queued in its bounded outbox, and the one
//! rule for the server's own messages: a peer whose outbox is full is kicked, never waited for.

use std::sync::Arc;

use peerdrop_proto::signal::{PeerInfo, ServerMsg};
use tokio::sync::{mpsc, Notify};

use super::Peer;

/// One item queued for a peer.
///
/// Small on purpose: a bounded tokio channel allocates its slots 32 at a time, so the item size
/// is paid 32 (after a block boundary, 64) times per peer whether or not anything is queued.
/// `ServerMsg` is 144 bytes (4.5 KiB per block); this is 16.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A message, sent as is.
    Msg(Box<ServerMsg>),
    /// The member list of the recipient's nearby group, shared by every member it was sent
    /// to; the recipient's own entry, at `skip`, is left out when it is sent. One list per
    /// change instead of one copy per member keeps a join or leave in a big group cheap.
    Nearby {
        /// Everyone in the group, in join order.
        members: Arc<Vec<PeerInfo>>,
        /// Position of the recipient in `members` ([`NO_SKIP`] when it is not among them).
        skip: u32,
    },
}

impl Outgoing {
    /// The message as the recipient must receive it.
    pub(crate) fn into_msg(self) -> ServerMsg {
        match self {
            Outgoing::Msg(msg) => *msg,
            Outgoing::Nearby { members, skip } => ServerMsg::Nearby {
                peers: members
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip as usize)
                    .map(|(_, info)| info.clone())
                    .collect(),
            },
        }
    }
}

/// `skip` of an [`Outgoing::Nearby`] whose recipient is not in the list (a device endpoint's
/// guest, shown the owner).
pub(super) const NO_SKIP: u32 = u32::MAX;

impl From<ServerMsg> for Outgoing {
    fn from(msg: ServerMsg) -> Self {
        Outgoing::Msg(Box::new(msg))
    }
}

/// How a registered peer is reached by the registry.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    /// Bounded queue drained by the peer's connection task.
    pub(crate) outbox: mpsc::Sender<Outgoing>,
    /// Notified when the peer cannot keep up and must be disconnected.
    pub(crate) kick: Arc<Notify>,
}

/// Queues `msg` for `peer`; a full queue means the peer is too slow and gets kicked.
pub(super) fn deliver(peer: &Peer, msg: Outgoing) {
    match peer.mailbox.outbox.try_send(msg) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(peer = %peer.info.id, "outbox full, disconnecting slow peer");
            peer.mailbox.kick.notify_one();
        }
        // The connection is already going away; `leave` will follow.
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::test_util::*;
    use peerdrop_proto::signal::DeviceKind;

    #[test]
    fn queued_items_stay_small() {
        assert!(std::mem::size_of::<Outgoing>() <= 16);
    }

    #[test]
    fn full_outbox_kicks_the_slow_peer() {
        let registry = registry(30);
        let (mb_a, _rx_a, kick) = mailbox(1);
        registry
            .join(peer("198.18.0.1", "A", DeviceKind::Desktop), mb_a)
            .unwrap();
        assert!(futures_util::FutureExt::now_or_never(kick.notified()).is_none());
        let (mb_b, _rx_b, _) = mailbox(8);
        registry
            .join(peer("198.18.0.1", "B", DeviceKind::Desktop), mb_b)
            .unwrap();
        // A's single slot holds its first nearby list; the second one overflows.
        assert!(futures_util::FutureExt::now_or_never(kick.notified()).is_some());
    }
}
