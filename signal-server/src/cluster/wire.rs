//! What nodes of one cluster write to Redis and send each other: key and channel names, the
//! presence record of a peer, and the envelopes of the per-node inboxes.
//!
//! Pure data and (de)serialisation, so every format is unit-tested without a Redis. Every
//! name starts with [`PREFIX`], so a Redis shared with other services keeps them apart.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use peerdrop_proto::signal::{PeerId, PeerInfo, SessionId, SignalData};
use serde::{Deserialize, Serialize};

use crate::addr::{GroupKey, NearbyGroup};
use crate::registry::{parse_tag, tag_hex, Tag};

/// Prefix of every key and channel.
pub(crate) const PREFIX: &str = "peerdrop:";

/// Channel on which a node announces that the membership of a nearby group changed
/// ([`GroupChanged`]); every node listens, and re-reads the groups it has members in.
pub(crate) const NEARBY_CHANNEL: &str = "peerdrop:nearby";

/// The name of one node of the cluster: random per process, so a restarted node is a new one
/// and nothing of its previous life (which expires with the TTL) is mistaken for its own.
pub(crate) type NodeId = Arc<str>;

/// A fresh random node id (a uuid v4, simple form).
pub(crate) fn fresh_node_id() -> NodeId {
    uuid::Uuid::new_v4().simple().to_string().into()
}

/// Key of the peer holding `code` (a [`PeerRecord`], with the presence TTL).
pub(crate) fn code_key(code: &str) -> String {
    format!("{PREFIX}code:{code}")
}

/// Key of peer `id`'s presence (a [`PeerRecord`], with the presence TTL).
pub(crate) fn peer_key(id: PeerId) -> String {
    format!("{PREFIX}peer:{id}")
}

/// Key of the members of nearby group `group`: a sorted set of peer ids scored by the time
/// they joined (milliseconds since the Unix epoch), expiring with the presence TTL unless a
/// node with members in it refreshes it.
pub(crate) fn group_key(group: NearbyGroup) -> String {
    format!("{PREFIX}group:{group}")
}

/// Key of the holders of pairing tag `tag`: a sorted set of peer ids scored by the time they
/// joined, expiring with the presence TTL unless a node with holders of it refreshes it.
pub(crate) fn tag_key(tag: &Tag) -> String {
    format!("{PREFIX}tag:{}", tag_hex(tag))
}

/// What a node follows in Redis for its peers: the members of a nearby group, or the holders
/// of a pairing tag. Both are sorted sets of peer ids, announced on [`NEARBY_CHANNEL`] when
/// they change (a tag as `tag:HEX`, which nodes without paired lists do not parse, and ignore).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Followed {
    /// A nearby group.
    Group(NearbyGroup),
    /// A pairing tag.
    Tag(Tag),
}

impl Followed {
    /// Its sorted set.
    pub(crate) fn key(&self) -> String {
        match self {
            Followed::Group(group) => group_key(*group),
            Followed::Tag(tag) => tag_key(tag),
        }
    }

    /// Its name in a [`GroupChanged`] event.
    pub(crate) fn event_name(&self) -> String {
        match self {
            Followed::Group(group) => group.to_string(),
            Followed::Tag(tag) => format!("tag:{}", tag_hex(tag)),
        }
    }

    /// Reads [`Followed::event_name`] back.
    pub(crate) fn parse(text: &str) -> Option<Followed> {
        match text.strip_prefix("tag:") {
            Some(hex) => parse_tag(hex).map(Followed::Tag),
            None => parse_group(text).map(Followed::Group),
        }
    }
}

/// The pub/sub channel of node `node`'s inbox ([`Envelope`]s for its peers).
pub(crate) fn inbox_channel(node: &str) -> String {
    format!("{PREFIX}inbox:{node}")
}

/// Reads a nearby group back from its `Display` form (`lan`, `203.0.113.9`,
/// `2001:db8:1:2::/64`), as found in keys and [`GroupChanged`] events.
pub(crate) fn parse_group(text: &str) -> Option<NearbyGroup> {
    if text == "lan" {
        return Some(NearbyGroup::Lan);
    }
    if let Some(net) = text.strip_suffix("/64") {
        let v6: Ipv6Addr = net.parse().ok()?;
        return Some(NearbyGroup::Address(GroupKey::V6Net(
            (u128::from(v6) >> 64) as u64,
        )));
    }
    match text.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(NearbyGroup::Address(GroupKey::V4(v4))),
        IpAddr::V6(_) => None,
    }
}

/// A peer as the cluster knows it: where it is connected and how others see it. Stored under
/// both [`code_key`] and [`peer_key`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct PeerRecord {
    /// The node whose inbox reaches it.
    pub(crate) node: String,
    /// The peer as others see it.
    pub(crate) info: PeerInfo,
}

impl PeerRecord {
    /// The JSON stored in Redis. Deterministic for one record, so a node can delete or refresh
    /// a key only while it still holds exactly what it wrote (compare-and-set scripts).
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a peer record always serialises")
    }

    /// Parses a stored record; `None` for anything else (another writer's garbage).
    pub(crate) fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// A message for one peer connected to another node, published on that node's inbox.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum Envelope {
    /// A `signal` the sending node already checked `from` may send to `to`.
    Signal {
        /// The addressee, connected to the receiving node.
        to: PeerId,
        /// The sender's registered identity.
        from: PeerInfo,
        /// The sender's node (where answers go).
        node: String,
        /// What is relayed.
        data: SignalData,
    },
    /// An encrypted fallback relay frame, checked like a `signal`.
    Relay {
        /// The addressee.
        to: PeerId,
        /// The sender.
        from: PeerId,
        /// The sender's node.
        node: String,
        /// The relay session.
        session: SessionId,
        /// Base64 of the frame, as the sender sent it.
        data: String,
    },
    /// Peer `id`, a partner of `to`, has left: `to` is told `peer_gone`.
    Gone {
        /// The partner still connected, on the receiving node.
        to: PeerId,
        /// The peer that left.
        id: PeerId,
    },
}

impl Envelope {
    /// The JSON published.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serialises")
    }

    /// Parses a published envelope; `None` for anything else.
    pub(crate) fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// "The members of `group` changed", published on [`NEARBY_CHANNEL`] by the node where a peer
/// joined or left.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct GroupChanged {
    /// The node that changed it (it ignores its own events).
    pub(crate) node: String,
    /// The group, in its `Display` form ([`parse_group`]), or a pairing tag as `tag:HEX`
    /// ([`Followed::event_name`]).
    pub(crate) group: String,
}

impl GroupChanged {
    /// The JSON published.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a group event always serialises")
    }

    /// Parses a published event; `None` for anything else.
    pub(crate) fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerdrop_proto::signal::DeviceKind;
    use uuid::Uuid;

    #[test]
    fn followed_groups_and_tags_survive_their_event_names() {
        let tag = [0xa5; 32];
        let followed = [
            Followed::Group(NearbyGroup::Lan),
            Followed::Group(NearbyGroup::of("203.0.113.9".parse().unwrap())),
            Followed::Tag(tag),
        ];
        for f in followed {
            assert_eq!(Followed::parse(&f.event_name()), Some(f), "{f:?}");
        }
        assert_eq!(
            Followed::Tag(tag).key(),
            format!("peerdrop:tag:{}", "a5".repeat(32))
        );
        assert_eq!(parse_group(&Followed::Tag(tag).event_name()), None);
        assert_eq!(Followed::parse("tag:xyz"), None);
    }

    #[test]
    fn groups_survive_their_key_form() {
        for ip in ["203.0.113.9", "2001:db8:1:2:3:4:5:6", "192.168.1.2", "::1"] {
            let group = NearbyGroup::of(ip.parse().unwrap());
            assert_eq!(parse_group(&group.to_string()), Some(group), "{ip}");
        }
        assert_eq!(parse_group("lan"), Some(NearbyGroup::Lan));
        for bad in ["", "LAN", "2001:db8::1", "300.1.1.1", "2001:db8::/48"] {
            assert_eq!(parse_group(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_are_prefixed_and_distinct() {
        let id = Uuid::from_u128(7);
        let group = NearbyGroup::of("203.0.113.9".parse().unwrap());
        assert_eq!(code_key("K7QM-2X"), "peerdrop:code:K7QM-2X");
        assert_eq!(
            peer_key(id),
            "peerdrop:peer:00000000-0000-0000-0000-000000000007"
        );
        assert_eq!(group_key(group), "peerdrop:group:203.0.113.9");
        assert_eq!(inbox_channel("n1"), "peerdrop:inbox:n1");
        assert_ne!(fresh_node_id(), fresh_node_id());
    }

    #[test]
    fn records_and_envelopes_round_trip() {
        let info = PeerInfo {
            id: Uuid::from_u128(1),
            name: "Ana".into(),
            kind: DeviceKind::Phone,
            fingerprint: Some("AB:CD".into()),
            max_packet: None,
        };
        let record = PeerRecord {
            node: "n1".into(),
            info: info.clone(),
        };
        let json = record.to_json();
        assert_eq!(json, record.to_json(), "deterministic");
        assert_eq!(PeerRecord::from_json(&json), Some(record));
        assert_eq!(PeerRecord::from_json("{\"node\":1}"), None);

        let envelopes = [
            Envelope::Signal {
                to: Uuid::from_u128(2),
                from: info,
                node: "n1".into(),
                data: SignalData::Bye {
                    session: Uuid::nil(),
                    reason: "x".into(),
                },
            },
            Envelope::Relay {
                to: Uuid::from_u128(2),
                from: Uuid::from_u128(1),
                node: "n1".into(),
                session: Uuid::nil(),
                data: "AQI=".into(),
            },
            Envelope::Gone {
                to: Uuid::from_u128(2),
                id: Uuid::from_u128(1),
            },
        ];
        for envelope in envelopes {
            assert_eq!(Envelope::from_json(&envelope.to_json()), Some(envelope));
        }
        assert_eq!(Envelope::from_json("{\"t\":\"nope\"}"), None);

        let event = GroupChanged {
            node: "n2".into(),
            group: "lan".into(),
        };
        assert_eq!(GroupChanged::from_json(&event.to_json()), Some(event));
    }
}
