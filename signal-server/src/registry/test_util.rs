//! Helpers shared by the registry's unit tests.

use std::net::IpAddr;
use std::sync::Arc;

use peerdrop_proto::signal::{DeviceKind, PeerId, PeerInfo, ServerMsg};
use tokio::sync::{mpsc, Notify};
use uuid::Uuid;

use super::outbox::Outgoing;
use super::{Joining, Mailbox, Registry};
use crate::config::Limits;
use crate::device::Role;

pub(super) fn mailbox(capacity: usize) -> (Mailbox, mpsc::Receiver<Outgoing>, Arc<Notify>) {
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

pub(super) fn drain(rx: &mut mpsc::Receiver<Outgoing>) -> Vec<ServerMsg> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .map(Outgoing::into_msg)
        .collect()
}

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A server registry allowing `resolves` look-ups per minute per address.
pub(super) fn registry(resolves: u32) -> Registry {
    let limits = Limits {
        resolve_per_minute_per_ip: resolves,
        ..Limits::default()
    };
    Registry::new(&limits, false)
}

/// A peer of an ordinary server, from `client`.
pub(super) fn peer(client: &str, name: &str, kind: DeviceKind) -> Joining {
    Joining {
        client: ip(client),
        role: Role::Peer,
        name: name.into(),
        kind,
        fingerprint: None,
        max_packet: None,
    }
}

pub(super) fn info(n: u128, name: &str) -> PeerInfo {
    PeerInfo {
        id: Uuid::from_u128(n),
        name: name.into(),
        kind: DeviceKind::Phone,
        fingerprint: None,
        max_packet: None,
    }
}

pub(super) fn ids(msgs: &[ServerMsg]) -> Vec<Vec<PeerId>> {
    msgs.iter()
        .map(|m| match m {
            ServerMsg::Nearby { peers } => peers.iter().map(|p| p.id).collect(),
            other => panic!("expected nearby, got {other:?}"),
        })
        .collect()
}

/// A device endpoint's registry and a joining connection with `role`.
pub(super) fn endpoint() -> Registry {
    Registry::new(&Limits::device_endpoint(), true)
}

pub(super) fn on_endpoint(role: Role, client: &str, name: &str) -> Joining {
    Joining {
        role,
        ..peer(client, name, DeviceKind::Desktop)
    }
}
