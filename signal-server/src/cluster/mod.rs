//! Several `peerdrop-signal` nodes as one service: the seam between the [`Registry`] and
//! whatever connects the nodes.
//!
//! The registry keeps doing all of its work for the peers connected to this node (it is the
//! in-memory directory of a single node, exactly as before). What reaches *other* nodes goes
//! through a [`Bus`]:
//! - [`Bus::Local`]: one node, nothing else exists; every method is a no-op and the registry
//!   behaves as it always did.
//! - [`Bus::Redis`]: a [`redis_link::RedisLink`] — codes claimed in Redis (unique across
//!   nodes), presence records with a TTL, nearby groups as sorted sets, and one pub/sub inbox
//!   channel per node for `signal`, `relay` and `peer_gone` addressed to its peers.
//!
//! The registry calls the bus while holding its mutex, so every registry-facing method here is
//! synchronous and never waits: writes are queued for a background task. The asynchronous
//! look-ups (claiming and resolving a code) are made by the connection task with no lock held.
//!
//! Modules, one job each: [`wire`] (names and formats in Redis), [`backoff`] (delays between
//! reconnection attempts), [`redis_link`] (talking to Redis and keeping the registry in sync).
//!
//! [`Registry`]: crate::registry::Registry

pub(crate) mod backoff;
pub(crate) mod redis_link;
pub(crate) mod wire;

use std::sync::Arc;
use std::time::Duration;

use peerdrop_proto::signal::PeerId;

use crate::addr::NearbyGroup;
use redis_link::RedisLink;
use wire::{Envelope, NodeId, PeerRecord};

/// How to join a cluster of nodes sharing one Redis ([`crate::ServerConfig::cluster`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub redis_url: String,
    /// How long a peer's presence outlives the last refresh by its node: when a node dies,
    /// its peers vanish from the others within this (plus a third of it), and their codes
    /// become free again.
    pub presence_ttl: Duration,
}

/// Default [`ClusterConfig::presence_ttl`].
pub const DEFAULT_PRESENCE_TTL: Duration = Duration::from_secs(30);

/// Why a cluster operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Redis is unreachable or failed the command; the text says how.
    #[error("the cluster's Redis is unavailable: {0}")]
    Unavailable(String),
}

impl From<::redis::RedisError> for ClusterError {
    fn from(err: ::redis::RedisError) -> Self {
        ClusterError::Unavailable(err.to_string())
    }
}

/// What `/health` says about the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterHealth {
    /// This node's id.
    pub node: String,
    /// Whether Redis answers and the inbox subscription is live. While not, new peers are
    /// refused (`unavailable`: their codes could not be made unique) and peers on other
    /// nodes cannot be reached; peers on this node still reach each other.
    pub redis_up: bool,
    /// Seconds since the last change of `redis_up`.
    pub for_secs: u64,
    /// The last error seen, while down.
    pub last_error: Option<String>,
}

/// A peer of this node as the cluster must know it (see [`redis_link`]'s refresh).
#[derive(Debug, Clone)]
pub(crate) struct LocalPresence {
    /// Its id.
    pub(crate) id: PeerId,
    /// Its code.
    pub(crate) code: String,
    /// Its nearby group.
    pub(crate) group: Option<NearbyGroup>,
    /// When it joined (ms since the Unix epoch): its rank in the group.
    pub(crate) since_ms: u64,
    /// The pairing tags it holds.
    pub(crate) tags: Vec<crate::registry::Tag>,
    /// What other nodes read.
    pub(crate) record: PeerRecord,
}

/// How this node reaches the others (see the module doc).
#[derive(Clone)]
pub(crate) enum Bus {
    /// One node alone.
    Local,
    /// Nodes sharing a Redis.
    Redis(Arc<RedisLink>),
}

impl Bus {
    /// This node's id in the cluster (`None` alone).
    pub(crate) fn node(&self) -> Option<&NodeId> {
        match self {
            Bus::Local => None,
            Bus::Redis(link) => Some(link.node()),
        }
    }

    /// Whether other nodes can be reached now (always, trivially, alone).
    pub(crate) fn is_up(&self) -> bool {
        match self {
            Bus::Local => true,
            Bus::Redis(link) => link.is_up(),
        }
    }

    /// Queues `envelope` for node `node`'s inbox; `false` when it had to be dropped (Redis
    /// down, or the queue full).
    pub(crate) fn send(&self, node: &str, envelope: &Envelope) -> bool {
        match self {
            Bus::Local => false,
            Bus::Redis(link) => link.send(node, envelope),
        }
    }

    /// The Redis link, when there is one (for the connection's look-ups and `/health`).
    pub(crate) fn link(&self) -> Option<&Arc<RedisLink>> {
        match self {
            Bus::Local => None,
            Bus::Redis(link) => Some(link),
        }
    }

    /// Announces a peer that joined this node (its code is already claimed).
    pub(crate) fn joined(&self, presence: LocalPresence) {
        if let Bus::Redis(link) = self {
            link.joined(presence);
        }
    }

    /// Announces a peer that left this node.
    pub(crate) fn left(&self, presence: LocalPresence) {
        if let Bus::Redis(link) = self {
            link.left(presence);
        }
    }

    /// Announces that a peer of this node holds other pairing tags now (`presence.tags`),
    /// and no longer `dropped`.
    pub(crate) fn watched(&self, presence: LocalPresence, dropped: Vec<crate::registry::Tag>) {
        if let Bus::Redis(link) = self {
            link.watched(presence, dropped);
        }
    }
}
