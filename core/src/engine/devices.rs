//! One list of devices from every source (the LAN and a server), and picking one of them by
//! what a person types: a code, a device name, or an address.
//!
//! Pure functions: the [`crate::engine::Node`] feeds them the live lists.

use std::net::SocketAddr;

use peerdrop_proto::send_to::SendTo;
use peerdrop_proto::signal::{DeviceKind, PeerId, PeerInfo};
use serde::Serialize;

use crate::lan::LanDevice;

/// How a device was found (and how it will be reached).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// mDNS on this network; signaling goes device to device.
    Lan,
    /// The signaling server's nearby list.
    Server,
    /// The signaling server's paired list: a device this one pinned, found by pairing tag on
    /// any network (`crate::identity::pairing`); signaled through the server.
    Paired,
}

/// Where to signal a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Through the server this node is registered with, to this peer.
    Server(PeerInfo),
    /// Directly to the device's LAN endpoint at one of these addresses.
    Lan(Vec<SocketAddr>),
}

/// A device someone can send to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Its id: the server's id for server devices, one derived from the LAN record's instance
    /// name for LAN devices, so a UI can hand a listed device back as a [`PeerInfo`].
    pub id: PeerId,
    /// Its name, cleaned.
    pub name: String,
    /// Its kind, for the icon.
    pub kind: DeviceKind,
    /// Its code, when known (LAN devices publish theirs).
    pub code: Option<String>,
    /// Its certificate fingerprint as claimed (unverified until the connection proves it).
    pub fingerprint: Option<String>,
    /// How it was found.
    pub via: Via,
    /// Where to signal it.
    pub reach: Reach,
}

impl Device {
    /// A device heard on the LAN.
    pub fn from_lan(device: &LanDevice) -> Device {
        let digest = blake3::hash(format!("lan:{}", device.instance).as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest.as_bytes()[..16]);
        Device {
            id: uuid::Builder::from_random_bytes(bytes).into_uuid(),
            name: device.card.name.clone(),
            kind: device.card.kind,
            code: Some(device.card.code.clone()),
            fingerprint: Some(device.card.fingerprint.clone()),
            via: Via::Lan,
            reach: Reach::Lan(device.endpoints.clone()),
        }
    }

    /// The device as a [`PeerInfo`] (what the app's UI lists and hands back). The packet size
    /// it takes is the server's record of it; a LAN device says it on its own endpoint.
    pub fn peer_info(&self) -> PeerInfo {
        PeerInfo {
            id: self.id,
            name: self.name.clone(),
            kind: self.kind,
            fingerprint: self.fingerprint.clone(),
            max_packet: match &self.reach {
                Reach::Server(peer) => peer.max_packet,
                Reach::Lan(_) => None,
            },
        }
    }

    /// A device on the server's nearby list.
    pub fn from_server(peer: &PeerInfo) -> Device {
        Device {
            id: peer.id,
            name: peer.name.clone(),
            kind: peer.kind,
            code: None,
            fingerprint: peer.fingerprint.clone(),
            via: Via::Server,
            reach: Reach::Server(peer.clone()),
        }
    }

    /// A device on the server's paired list.
    pub fn from_paired(peer: &PeerInfo) -> Device {
        Device {
            via: Via::Paired,
            ..Device::from_server(peer)
        }
    }
}

/// LAN devices, then paired devices, then the server's nearby devices, each left out when an
/// entry already listed claims the same fingerprint: a device seen several ways is shown once
/// (reached directly when it is on the LAN; shown as paired when it is also nearby), and so is
/// a device whose record is briefly there twice (an app re-registering starts its new presence
/// before the old one is gone).
pub fn merge(lan: &[LanDevice], paired: &[PeerInfo], server: &[PeerInfo]) -> Vec<Device> {
    let candidates = lan
        .iter()
        .map(Device::from_lan)
        .chain(paired.iter().map(Device::from_paired))
        .chain(server.iter().map(Device::from_server));
    let mut list: Vec<Device> = Vec::new();
    for device in candidates {
        let listed = device.fingerprint.as_ref().is_some_and(|fp| {
            list.iter().any(|d| {
                d.fingerprint
                    .as_ref()
                    .is_some_and(|o| o.eq_ignore_ascii_case(fp))
            })
        });
        if !listed {
            list.push(device);
        }
    }
    list
}

/// Result of looking for a device in the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Exactly one device fits.
    One(Box<Device>),
    /// Several devices have that name (listed by name and code).
    Ambiguous(Vec<String>),
    /// None fits (yet).
    None,
}

/// Finds the device with `code` (LAN first) or the one device called `name` (case and
/// surrounding space ignored).
pub fn pick(devices: &[Device], wanted: &SendTo) -> Pick {
    let matches: Vec<&Device> = match wanted {
        SendTo::Code(code) => devices
            .iter()
            .filter(|d| d.code.as_deref() == Some(code.as_str()))
            .take(1)
            .collect(),
        SendTo::Name(name) => {
            let folded = name.trim().to_lowercase();
            devices
                .iter()
                .filter(|d| d.name.trim().to_lowercase() == folded)
                .collect()
        }
        SendTo::Address(_) => Vec::new(),
    };
    match matches.as_slice() {
        [] => Pick::None,
        [one] => Pick::One(Box::new((*one).clone())),
        many => Pick::Ambiguous(
            many.iter()
                .map(|d| match &d.code {
                    Some(code) => format!("{} ({code})", d.name),
                    None => format!("{} (via server)", d.name),
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lan::{DeviceCard, Role};

    fn lan(name: &str, code: &str, fp: &str) -> LanDevice {
        LanDevice {
            card: DeviceCard {
                name: name.into(),
                kind: DeviceKind::Desktop,
                code: code.into(),
                fingerprint: fp.into(),
                role: Role::Device,
            },
            endpoints: vec!["198.18.0.2:8788".parse().unwrap()],
            instance: format!("{name}._peerdrop._tcp.local."),
        }
    }

    fn server(name: &str, fp: Option<&str>) -> PeerInfo {
        PeerInfo {
            id: uuid::Uuid::new_v4(),
            name: name.into(),
            kind: DeviceKind::Phone,
            fingerprint: fp.map(str::to_string),
            max_packet: None,
        }
    }

    #[test]
    fn a_device_seen_on_the_lan_and_the_server_is_listed_once_as_lan() {
        let list = merge(
            &[lan("Laptop", "K7QM-2X", "AA:BB")],
            &[],
            &[
                server("Laptop", Some("aa:bb")),
                server("Phone", Some("CC:DD")),
            ],
        );
        let names: Vec<(&str, Via)> = list.iter().map(|d| (d.name.as_str(), d.via)).collect();
        assert_eq!(names, [("Laptop", Via::Lan), ("Phone", Via::Server)]);
    }

    #[test]
    fn a_device_announced_twice_on_the_lan_is_listed_once() {
        let mut again = lan("Laptop", "K7QM-2X", "AA:BB");
        again.instance = "Laptop-2._peerdrop._tcp.local.".into();
        let list = merge(&[lan("Laptop", "K7QM-2X", "AA:BB"), again], &[], &[]);
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn server_devices_without_a_fingerprint_are_kept() {
        let list = merge(
            &[lan("Laptop", "K7QM-2X", "AA:BB")],
            &[],
            &[server("Laptop", None)],
        );
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn a_paired_device_is_listed_once_as_paired_unless_it_is_on_the_lan() {
        let laptop = server("Laptop", Some("AA:BB"));
        let phone = server("Phone", Some("CC:DD"));
        let list = merge(
            &[lan("Laptop", "K7QM-2X", "aa:bb")],
            &[laptop.clone(), phone.clone()],
            &[server("Other", Some("EE:FF")), phone.clone()],
        );
        let seen: Vec<(&str, Via)> = list.iter().map(|d| (d.name.as_str(), d.via)).collect();
        assert_eq!(
            seen,
            [
                ("Laptop", Via::Lan),
                ("Phone", Via::Paired),
                ("Other", Via::Server)
            ]
        );
        assert_eq!(list[1].reach, Reach::Server(phone));
        assert!(
            matches!(pick(&list, &SendTo::Name("phone".into())), Pick::One(d) if d.via == Via::Paired)
        );
    }

    #[test]
    fn names_pick_one_device_or_say_which_ones_clash() {
        let list = merge(
            &[
                lan("Laptop", "K7QM-2X", "AA"),
                lan("LAPTOP", "ABCD-23", "BB"),
                lan("Desk", "WXYZ-45", "CC"),
            ],
            &[],
            &[],
        );
        assert!(
            matches!(pick(&list, &SendTo::Name("desk".into())), Pick::One(d) if d.name == "Desk")
        );
        assert_eq!(
            pick(&list, &SendTo::Name("LAPTOP".into())),
            Pick::Ambiguous(vec!["Laptop (K7QM-2X)".into(), "LAPTOP (ABCD-23)".into()])
        );
        assert_eq!(pick(&list, &SendTo::Name("nobody".into())), Pick::None);
        assert!(matches!(
            pick(&list, &SendTo::Code("ABCD-23".into())),
            Pick::One(d) if d.fingerprint.as_deref() == Some("BB")
        ));
    }
}
