//! Who is online: peers, their codes, nearby groups, and who may signal whom.
//!
//! All state sits behind one mutex that is never held across an `.await`; every operation is
//! a short, synchronous update. Messages to peers are pushed into each peer's bounded outbox
//! with `try_send`, so a slow peer can never stall the registry. When the server's own
//! messages (nearby lists, `peer_gone`) find its outbox full it is "kicked" (its connection
//! task closes it); a peer's `signal` or `relay` into a full outbox is refused to the sender
//! instead, so flooding a peer never gets it disconnected.
//!
//! Reachability rules for `signal` (a peer id alone is not enough):
//! - peers in the same nearby group may signal each other;
//! - a peer may signal whoever it resolved by code;
//! - a peer may answer whoever signalled it.
//!
//! Nearby groups are [`NearbyGroup`]s: one per public address, and one for everyone on the
//! server's LAN, bounded by `max_lan_group` (later LAN peers are grouped by their own address).
//!
//! On a device endpoint ([`crate::device`]) there are no groups: a guest's nearby list is the
//! owner, the owner's is empty, and only owner ↔ guest pairs may signal (a guest always may
//! signal the owner; the owner may answer a guest that signalled it). Guests never reach
//! each other, whatever they know.
//!
//! Every pair that exchanged a signal is remembered as "partners", so when one side leaves
//! the other gets `peer_gone` at once.
//!
//! With several nodes ([`crate::cluster`]) this registry still holds only the peers connected
//! to this node; what it knows of peers elsewhere is where they are (`remote_nodes`) and the
//! members on other nodes of its own nearby groups (`remote_groups`), both kept up to date by
//! the Redis link. The same rules then span nodes: a peer may signal a member of its group on
//! another node, or whoever it resolved by code there; the message leaves through the
//! [`Bus`] (queued, never awaited under the lock) and the other node delivers it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peerdrop_proto::code::{format_code, CODE_ALPHABET, CODE_LEN};
use peerdrop_proto::signal::{DeviceKind, PeerId, PeerInfo, ServerMsg, SignalData};
use rand::Rng;
use tokio::sync::{mpsc, Notify};
use uuid::Uuid;

use crate::addr::{GroupKey, NearbyGroup};
use crate::cluster::wire::{Envelope, NodeId, PeerRecord};
use crate::cluster::{Bus, LocalPresence};
use crate::config::Limits;
use crate::device::Role;
use crate::rate::TokenBucket;

/// How often idle per-address resolve budgets are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Partners that left, remembered per peer so that relay frames still in flight to them are
/// not held against the sender (see [`RelayError::Gone`]).
const GONE_PARTNERS: usize = 8;

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
const NO_SKIP: u32 = u32::MAX;

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

struct Peer {
    info: PeerInfo,
    code: String,
    /// Its nearby group; `None` on a device endpoint, which has none.
    group: Option<NearbyGroup>,
    role: Role,
    mailbox: Mailbox,
    /// Peers this one may signal besides its nearby group (resolved, or who signalled it).
    may_address: HashSet<PeerId>,
    /// Peers that resolved this one (so their `may_address` can be cleaned when it leaves).
    resolved_by: HashSet<PeerId>,
    /// Peers it exchanged signals with; they get `peer_gone` when it leaves.
    partners: HashSet<PeerId>,
    /// The last few partners that left (newest last).
    gone_partners: VecDeque<PeerId>,
    /// When it joined, in milliseconds since the Unix epoch (its rank in a group spanning
    /// nodes).
    since_ms: u64,
}

#[derive(Default)]
struct Inner {
    peers: HashMap<PeerId, Peer>,
    codes: HashMap<String, PeerId>,
    /// Members of each nearby group, in join order.
    groups: HashMap<NearbyGroup, Vec<PeerId>>,
    /// A device endpoint's owner, while it is online.
    owner: Option<PeerId>,
    /// Code look-up budgets per address, kept after disconnect until they refill.
    resolve_budgets: HashMap<GroupKey, TokenBucket>,
    last_sweep: Option<Instant>,
    /// (Cluster) The node of every peer elsewhere that a local peer may address or is a
    /// partner of, or that is in a local group.
    remote_nodes: HashMap<PeerId, NodeId>,
    /// (Cluster) Members on other nodes of the nearby groups that have local members, in
    /// their join order.
    remote_groups: HashMap<NearbyGroup, Vec<PeerInfo>>,
}

/// The server's view of everyone online.
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    resolve_per_minute_per_ip: u32,
    max_lan_group: usize,
    device_endpoint: bool,
    /// How other nodes are reached ([`Bus::Local`] on a server alone).
    bus: Bus,
}

impl Registry {
    /// An empty registry with the look-up budget and LAN group bound of `limits`; with
    /// `device_endpoint`, following the owner/guest rules instead of nearby groups.
    #[cfg(test)]
    pub(crate) fn new(limits: &Limits, device_endpoint: bool) -> Self {
        Self::with_bus(limits, device_endpoint, Bus::Local)
    }

    /// [`Registry::new`], one node of a cluster reached through `bus` (device endpoints
    /// are always alone: [`Bus::Local`]).
    pub(crate) fn with_bus(limits: &Limits, device_endpoint: bool, bus: Bus) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            resolve_per_minute_per_ip: limits.resolve_per_minute_per_ip,
            max_lan_group: limits.max_lan_group,
            device_endpoint,
            bus,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("registry lock poisoned")
    }

    /// Number of peers that completed `hello`.
    pub(crate) fn len(&self) -> usize {
        self.lock().peers.len()
    }

    /// Peers by device kind (indexed by [`crate::metrics::kind_index`]) and the number of
    /// non-empty nearby groups, for `/metrics`.
    pub(crate) fn stats(&self) -> ([i64; 3], i64) {
        let inner = self.lock();
        let mut kinds = [0i64; 3];
        for peer in inner.peers.values() {
            kinds[crate::metrics::kind_index(peer.info.kind)] += 1;
        }
        let groups = inner.groups.values().filter(|m| !m.is_empty()).count();
        (kinds, groups as i64)
    }

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

    /// What the cluster must know of local peer `id` (`None` alone, or for a stranger).
    fn presence_of(&self, inner: &Inner, id: PeerId) -> Option<LocalPresence> {
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

    /// The nearby group a new peer from `client` joins: its [`NearbyGroup`], except that a full
    /// LAN group sends it to the group of its own address.
    fn nearby_group_for(&self, inner: &Inner, client: IpAddr) -> NearbyGroup {
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

    /// Removes a peer: frees its code, tells its partners `peer_gone` and its group the new
    /// `nearby` list. Unknown ids are ignored, so this is safe to call on any exit path.
    pub(crate) fn leave(&self, id: PeerId) {
        let mut inner = self.lock();
        let Some(peer) = inner.peers.remove(&id) else {
            return;
        };
        inner.codes.remove(&peer.code);
        if let Some(node) = self.bus.node() {
            self.bus.left(presence(node, &peer));
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

    /// Whether `group` has members on this node (only such groups are followed in Redis).
    pub(crate) fn has_local_members(&self, group: NearbyGroup) -> bool {
        self.lock().groups.contains_key(&group)
    }

    /// The nearby groups with members on this node.
    pub(crate) fn local_groups(&self) -> Vec<NearbyGroup> {
        self.lock().groups.keys().copied().collect()
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
        let mut changed = Vec::new();
        inner.remote_groups.retain(|group, members| {
            let before = members.len();
            members.retain(|info| !gone.contains(&info.id));
            if members.len() != before {
                changed.push(*group);
            }
            !members.is_empty()
        });
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

/// Partner `id` of `peer` has left: forget it (keeping it among the recently gone, for relay
/// frames in flight) and tell `peer`.
fn partner_gone(peer: &mut Peer, id: PeerId) {
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

/// What the cluster must know of `peer`, a peer of node `node`.
fn presence(node: &NodeId, peer: &Peer) -> LocalPresence {
    LocalPresence {
        id: peer.info.id,
        code: peer.code.clone(),
        group: peer.group,
        since_ms: peer.since_ms,
        record: PeerRecord {
            node: node.to_string(),
            info: peer.info.clone(),
        },
    }
}

/// Now, in milliseconds since the Unix epoch.
fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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

    /// The nearby list of a device endpoint's guests: the owner, if online.
    fn owner_list(&self) -> Vec<PeerInfo> {
        self.owner
            .and_then(|id| self.peers.get(&id))
            .map(|owner| owner.info.clone())
            .into_iter()
            .collect()
    }

    /// Sends every guest of a device endpoint its nearby list (after the owner came or went).
    fn send_guest_lists(&self) {
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
    fn broadcast_nearby(&mut self, group: NearbyGroup) {
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

impl Inner {
    /// (Cluster) Whether `sender` may signal `target`, a peer on another node: a member of
    /// its nearby group there, or one it may address (resolved it, or was signalled by it).
    fn may_reach_remote(&self, sender: &Peer, target: PeerId) -> bool {
        sender.role == Role::Peer
            && (sender.may_address.contains(&target)
                || sender
                    .group
                    .and_then(|group| self.remote_groups.get(&group))
                    .is_some_and(|members| members.iter().any(|m| m.id == target)))
    }
}

/// Whether `sender` may signal (or relay to) `target`, a different peer; see the module doc.
fn may_reach(sender: &Peer, target: &Peer) -> bool {
    let known = sender.may_address.contains(&target.info.id);
    match (sender.role, target.role) {
        (Role::Peer, Role::Peer) => {
            (sender.group.is_some() && sender.group == target.group) || known
        }
        (Role::Guest, Role::Owner) => true,
        (Role::Owner, Role::Guest) => known,
        _ => false,
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A server registry allowing `resolves` look-ups per minute per address.
    fn registry(resolves: u32) -> Registry {
        let limits = Limits {
            resolve_per_minute_per_ip: resolves,
            ..Limits::default()
        };
        Registry::new(&limits, false)
    }

    /// A peer of an ordinary server, from `client`.
    fn peer(client: &str, name: &str, kind: DeviceKind) -> Joining {
        Joining {
            client: ip(client),
            role: Role::Peer,
            name: name.into(),
            kind,
            fingerprint: None,
        }
    }

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

    fn info(n: u128, name: &str) -> PeerInfo {
        PeerInfo {
            id: Uuid::from_u128(n),
            name: name.into(),
            kind: DeviceKind::Phone,
            fingerprint: None,
        }
    }

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

    #[test]
    fn resolve_budget_is_per_address() {
        let registry = registry(2);
        let now = Instant::now();
        assert!(registry.take_resolve_budget(HOME, now));
        assert!(registry.take_resolve_budget(HOME, now));
        assert!(!registry.take_resolve_budget(HOME, now));
        assert!(registry.take_resolve_budget(AWAY, now));
    }

    fn ids(msgs: &[ServerMsg]) -> Vec<Vec<PeerId>> {
        msgs.iter()
            .map(|m| match m {
                ServerMsg::Nearby { peers } => peers.iter().map(|p| p.id).collect(),
                other => panic!("expected nearby, got {other:?}"),
            })
            .collect()
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
    fn the_fingerprint_reaches_the_others() {
        let registry = registry(30);
        let (mb_a, _rx_a, _) = mailbox(8);
        let (mb_b, mut rx_b, _) = mailbox(8);
        let mut with = peer("198.18.0.1", "A", DeviceKind::Desktop);
        with.fingerprint = Some("AB:CD".into());
        let a = registry.join(with, mb_a).unwrap();
        assert_eq!(a.info.fingerprint.as_deref(), Some("AB:CD"));
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

    /// A device endpoint's registry and a joining connection with `role`.
    fn endpoint() -> Registry {
        Registry::new(&Limits::device_endpoint(), true)
    }

    fn on_endpoint(role: Role, client: &str, name: &str) -> Joining {
        Joining {
            role,
            ..peer(client, name, DeviceKind::Desktop)
        }
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
