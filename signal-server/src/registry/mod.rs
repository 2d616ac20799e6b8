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
//! - a peer may answer whoever signalled it;
//! - peers holding the same pairing tag ("paired", `paired.rs`) may signal each other.
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
//! members on other nodes of its own nearby groups (`remote_groups`) and the holders elsewhere of
//! its peers' pairing tags (`remote_tags`), all kept up to date by the Redis link. The same rules then span nodes: a peer may signal a member of its group on
//! another node, or whoever it resolved by code there; the message leaves through the
//! [`Bus`] (queued, never awaited under the lock) and the other node delivers it.
//!
//! One file per job: `outbox.rs` (what is queued for a peer, and kicking a slow one),
//! `membership.rs` (join and leave), `codes.rs` (codes, look-ups and their budget),
//! `nearby.rs` (groups and their lists), `paired.rs` (pairing tags and their lists), `routing.rs` (who may signal whom, and forwarding)
//! and `remote.rs` (peers on other nodes); this file holds the state they share.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use peerdrop_proto::signal::{PeerId, PeerInfo};

use crate::addr::{GroupKey, NearbyGroup};
use crate::cluster::wire::NodeId;
use crate::cluster::Bus;
use crate::config::Limits;
use crate::device::Role;
use crate::rate::TokenBucket;

mod codes;
mod membership;
mod nearby;
mod outbox;
mod paired;
mod remote;
mod routing;
#[cfg(test)]
mod test_util;

pub(crate) use membership::{JoinError, Joined, Joining};
pub(crate) use outbox::Mailbox;
pub(crate) use paired::{parse_tag, tag_hex, Tag, WATCH_BURST, WATCH_REFILL_SECS};
pub(crate) use routing::RelayError;

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
    /// The pairing tags it watches and is a holder of (`paired.rs`).
    tags: HashSet<Tag>,
}

#[derive(Default)]
struct Inner {
    peers: HashMap<PeerId, Peer>,
    codes: HashMap<String, PeerId>,
    /// Members of each nearby group, in join order.
    groups: HashMap<NearbyGroup, Vec<PeerId>>,
    /// Holders of each pairing tag, in the order they watched it (`paired.rs`).
    tags: HashMap<Tag, Vec<PeerId>>,
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
    /// (Cluster) Holders on other nodes of the pairing tags that have local holders.
    remote_tags: HashMap<Tag, Vec<PeerInfo>>,
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
}
