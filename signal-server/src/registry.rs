//! Who is online: peers, their codes, nearby groups, and who may signal whom.
//!
//! All state sits behind one mutex that is never held across an `.await`; every operation is
//! a short, synchronous update. Messages to peers are pushed into each peer's bounded outbox
//! with `try_send`, so a slow peer can never stall the registry: when its outbox is full it
//! is "kicked" (its connection task closes it).
//!
//! Reachability rules for `signal` (a peer id alone is not enough):
//! - peers in the same nearby group may signal each other;
//! - a peer may signal whoever it resolved by code;
//! - a peer may answer whoever signalled it.
//!
//! Every pair that exchanged a signal is remembered as "partners", so when one side leaves
//! the other gets `peer_gone` at once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peerdrop_proto::code::{format_code, CODE_ALPHABET, CODE_LEN};
use peerdrop_proto::signal::{DeviceKind, PeerId, PeerInfo, ServerMsg, SignalData};
use rand::Rng;
use tokio::sync::{mpsc, Notify};
use uuid::Uuid;

use crate::addr::GroupKey;
use crate::rate::TokenBucket;

/// How often idle per-address resolve budgets are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// One item queued for a peer.
///
/// Small on purpose: a bounded tokio channel allocates its slots 32 at a time, so the item size
/// is paid 32 (after a block boundary, 64) times per peer whether or not anything is queued.
/// `ServerMsg` is 120 bytes (3.8 KiB per block); this is 16.
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
        /// Position of the recipient in `members`.
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
}

/// Why a `signal` was not relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelayError {
    /// The addressee is not connected or not reachable by the sender.
    UnknownPeer,
    /// The addressee's outbox is full (fallback relay frames only: dropped, not kicked).
    Busy,
}

struct Peer {
    info: PeerInfo,
    code: String,
    group: GroupKey,
    mailbox: Mailbox,
    /// Peers this one may signal besides its nearby group (resolved, or who signalled it).
    may_address: HashSet<PeerId>,
    /// Peers that resolved this one (so their `may_address` can be cleaned when it leaves).
    resolved_by: HashSet<PeerId>,
    /// Peers it exchanged signals with; they get `peer_gone` when it leaves.
    partners: HashSet<PeerId>,
}

#[derive(Default)]
struct Inner {
    peers: HashMap<PeerId, Peer>,
    codes: HashMap<String, PeerId>,
    /// Members of each nearby group, in join order.
    groups: HashMap<GroupKey, Vec<PeerId>>,
    /// Code look-up budgets per address, kept after disconnect until they refill.
    resolve_budgets: HashMap<GroupKey, TokenBucket>,
    last_sweep: Option<Instant>,
}

/// The server's view of everyone online.
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    resolve_per_minute_per_ip: u32,
}

impl Registry {
    /// An empty registry allowing `resolve_per_minute_per_ip` look-ups per address.
    pub(crate) fn new(resolve_per_minute_per_ip: u32) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            resolve_per_minute_per_ip,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("registry lock poisoned")
    }

    /// Number of peers that completed `hello`.
    pub(crate) fn len(&self) -> usize {
        self.lock().peers.len()
    }

    /// Registers a peer that said `hello`: assigns id and code, and sends a fresh `nearby`
    /// list to it and to every other member of its group.
    pub(crate) fn join(
        &self,
        group: GroupKey,
        name: String,
        kind: DeviceKind,
        mailbox: Mailbox,
    ) -> Result<Joined, JoinError> {
        let mut inner = self.lock();
        let mut id = Uuid::new_v4();
        while inner.peers.contains_key(&id) {
            id = Uuid::new_v4();
        }
        let code = inner.fresh_code().ok_or(JoinError::NoCodeAvailable)?;
        let info = PeerInfo { id, name, kind };
        inner.codes.insert(code.clone(), id);
        inner.peers.insert(
            id,
            Peer {
                info: info.clone(),
                code: code.clone(),
                group,
                mailbox,
                may_address: HashSet::new(),
                resolved_by: HashSet::new(),
                partners: HashSet::new(),
            },
        );
        inner.groups.entry(group).or_default().push(id);
        inner.broadcast_nearby(group);
        Ok(Joined { info, code })
    }

    /// Removes a peer: frees its code, tells its partners `peer_gone` and its group the new
    /// `nearby` list. Unknown ids are ignored, so this is safe to call on any exit path.
    pub(crate) fn leave(&self, id: PeerId) {
        let mut inner = self.lock();
        let Some(peer) = inner.peers.remove(&id) else {
            return;
        };
        inner.codes.remove(&peer.code);
        for partner in &peer.partners {
            if let Some(other) = inner.peers.get_mut(partner) {
                other.partners.remove(&id);
                other.may_address.remove(&id);
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
        if let Some(members) = inner.groups.get_mut(&peer.group) {
            members.retain(|m| *m != id);
            if members.is_empty() {
                inner.groups.remove(&peer.group);
            }
        }
        inner.broadcast_nearby(peer.group);
    }

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
    /// the requester signal it.
    pub(crate) fn resolve(&self, requester: PeerId, code: &str) -> Option<PeerInfo> {
        let mut inner = self.lock();
        let target_id = *inner.codes.get(code)?;
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
        let (sender_info, reachable) = match (inner.peers.get(&from), inner.peers.get(&to)) {
            (Some(sender), Some(target)) => (
                sender.info.clone(),
                sender.group == target.group || sender.may_address.contains(&to),
            ),
            _ => return Err(RelayError::UnknownPeer),
        };
        if !reachable {
            return Err(RelayError::UnknownPeer);
        }
        let target = inner.peers.get_mut(&to).expect("checked above");
        deliver(
            target,
            ServerMsg::Signal {
                from: sender_info,
                data,
            }
            .into(),
        );
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
    /// of disconnecting the addressee: relay traffic must never cost a peer its presence.
    pub(crate) fn relay_frame(
        &self,
        from: PeerId,
        to: PeerId,
        msg: ServerMsg,
    ) -> Result<(), RelayError> {
        let mut inner = self.lock();
        let (Some(sender), Some(target)) = (inner.peers.get(&from), inner.peers.get(&to)) else {
            return Err(RelayError::UnknownPeer);
        };
        if from == to || !(sender.group == target.group || sender.may_address.contains(&to)) {
            return Err(RelayError::UnknownPeer);
        }
        match target.mailbox.outbox.try_send(msg.into()) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(RelayError::Busy),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(RelayError::UnknownPeer),
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
}

impl Inner {
    /// A random code no connected peer holds, from a CSPRNG (`rand::rng()` is ChaCha-based
    /// and seeded from the OS).
    fn fresh_code(&self) -> Option<String> {
        let mut rng = rand::rng();
        (0..64).find_map(|_| {
            let symbols: String = (0..CODE_LEN)
                .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
                .collect();
            let code = format_code(&symbols);
            (!self.codes.contains_key(&code)).then_some(code)
        })
    }

    /// Sends every member of `group` the full list of the other members.
    fn broadcast_nearby(&mut self, group: GroupKey) {
        let Some(members) = self.groups.get(&group) else {
            return;
        };
        let present: Vec<&Peer> = members.iter().filter_map(|id| self.peers.get(id)).collect();
        let infos = Arc::new(present.iter().map(|p| p.info.clone()).collect::<Vec<_>>());
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

/// Queues `msg` for `peer`; a full queue means the peer is too slow and gets kicked.
fn deliver(peer: &Peer, msg: Outgoing) {
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
    use peerdrop_proto::code::normalize_code;

    fn mailbox(capacity: usize) -> (Mailbox, mpsc::Receiver<Outgoing>, Arc<Notify>) {
        let (tx, rx) = mpsc::channel(capacity);
        let kick = Arc::new(Notify::new());
        (
            Mailbox {
                outbox: tx,
                kick: Arc::clone(&kick),
            },
            rx,
            kick,
        )
    }

    fn drain(rx: &mut mpsc::Receiver<Outgoing>) -> Vec<ServerMsg> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(Outgoing::into_msg)
            .collect()
    }

    #[test]
    fn queued_items_stay_small() {
        assert!(std::mem::size_of::<Outgoing>() <= 16);
    }

    const HOME: GroupKey = GroupKey::V4(std::net::Ipv4Addr::new(198, 18, 0, 1));
    const AWAY: GroupKey = GroupKey::V4(std::net::Ipv4Addr::new(203, 0, 113, 9));

    #[test]
    fn codes_are_well_formed_and_unique() {
        let registry = Registry::new(30);
        let mut seen = HashSet::new();
        let mut keep = Vec::new();
        for i in 0..200 {
            let (mb, rx, _) = mailbox(8);
            keep.push(rx);
            let joined = registry
                .join(AWAY, format!("p{i}"), DeviceKind::Cli, mb)
                .unwrap();
            assert_eq!(
                normalize_code(&joined.code).as_deref(),
                Some(joined.code.as_str())
            );
            assert!(seen.insert(joined.code));
        }
    }

    #[test]
    fn nearby_is_per_group_and_excludes_self() {
        let registry = Registry::new(30);
        let (mb_a, mut rx_a, _) = mailbox(8);
        let (mb_b, mut rx_b, _) = mailbox(8);
        let (mb_c, mut rx_c, _) = mailbox(8);
        let a = registry
            .join(HOME, "A".into(), DeviceKind::Desktop, mb_a)
            .unwrap();
        assert_eq!(drain(&mut rx_a), vec![ServerMsg::Nearby { peers: vec![] }]);
        let b = registry
            .join(HOME, "B".into(), DeviceKind::Phone, mb_b)
            .unwrap();
        let _c = registry
            .join(AWAY, "C".into(), DeviceKind::Cli, mb_c)
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
    fn relay_requires_reachability_and_tracks_partners() {
        let registry = Registry::new(30);
        let (mb_a, mut rx_a, _) = mailbox(8);
        let (mb_b, mut rx_b, _) = mailbox(8);
        let a = registry
            .join(HOME, "A".into(), DeviceKind::Desktop, mb_a)
            .unwrap();
        let b = registry
            .join(AWAY, "B".into(), DeviceKind::Cli, mb_b)
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
    fn full_outbox_kicks_the_slow_peer() {
        let registry = Registry::new(30);
        let (mb_a, _rx_a, kick) = mailbox(1);
        registry
            .join(HOME, "A".into(), DeviceKind::Desktop, mb_a)
            .unwrap();
        assert!(futures_util::FutureExt::now_or_never(kick.notified()).is_none());
        let (mb_b, _rx_b, _) = mailbox(8);
        registry
            .join(HOME, "B".into(), DeviceKind::Desktop, mb_b)
            .unwrap();
        // A's single slot holds its first nearby list; the second one overflows.
        assert!(futures_util::FutureExt::now_or_never(kick.notified()).is_some());
    }

    #[test]
    fn resolve_budget_is_per_address() {
        let registry = Registry::new(2);
        let now = Instant::now();
        assert!(registry.take_resolve_budget(HOME, now));
        assert!(registry.take_resolve_budget(HOME, now));
        assert!(!registry.take_resolve_budget(HOME, now));
        assert!(registry.take_resolve_budget(AWAY, now));
    }
}
