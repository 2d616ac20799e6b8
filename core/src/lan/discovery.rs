//! DNS-SD over mDNS with the `mdns-sd` daemon: advertising this device, browsing for others,
//! and telling whether multicast works here at all.
//!
//! Multicast is often blocked (Wi-Fi "AP isolation", VPNs, firewalls), and the difference
//! between "nobody is here" and "nobody can hear us" matters to a person looking at an empty
//! list. So every [`LanDiscovery`] publishes a short-lived probe record of its own and
//! watches for it to come back through the network stack: seen → [`Multicast::Working`];
//! not seen within [`PROBE_WINDOW`] (and no other device seen) → [`Multicast::Blocked`].
//! Probes are never listed as devices.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mdns_sd::{ResolvedService, ScopedIp, ServiceDaemon, ServiceEvent, ServiceInfo};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::card::{DeviceCard, Role, SERVICE_TYPE};
use super::LanError;

/// How long a probe may take to come back before multicast counts as blocked. Responses on a
/// LAN take milliseconds; a responder may delay shared records by up to 120 ms.
pub const PROBE_WINDOW: Duration = Duration::from_secs(3);

/// Most devices kept in the list: a flood of fake records cannot grow memory without bound.
pub const MAX_LAN_DEVICES: usize = 256;

/// Whether multicast DNS reaches this device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Multicast {
    /// The probe has not come back yet.
    Checking,
    /// Our probe (or another device) was heard.
    Working,
    /// Nothing came back within [`PROBE_WINDOW`]: multicast is blocked on this network or
    /// by this device's firewall.
    Blocked,
}

/// The multicast check's answer, once it has one: [`Multicast::Working`] or
/// [`Multicast::Blocked`] (within [`PROBE_WINDOW`]). `Working` also when the check is gone.
pub async fn verdict(mut state: watch::Receiver<Multicast>) -> Multicast {
    match state.wait_for(|now| *now != Multicast::Checking).await {
        Ok(now) => *now,
        Err(_) => Multicast::Working,
    }
}

/// A device found on the LAN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LanDevice {
    /// What it says about itself.
    pub card: DeviceCard,
    /// Where its LAN signaling endpoint listens, IPv4 first.
    pub endpoints: Vec<SocketAddr>,
    /// Its DNS-SD instance name (unique on the network).
    pub instance: String,
}

/// A running mDNS responder and browser for PeerDrop services.
pub struct LanDiscovery {
    daemon: ServiceDaemon,
    devices: watch::Receiver<Vec<LanDevice>>,
    multicast: watch::Receiver<Multicast>,
    own: Arc<Mutex<HashSet<String>>>,
    tasks: Vec<JoinHandle<()>>,
}

/// This device's record on the LAN; dropping it withdraws the record (a goodbye packet).
pub struct Advertisement {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Drop for Advertisement {
    fn drop(&mut self) {
        let _ = self.daemon.unregister(&self.fullname);
    }
}

impl LanDiscovery {
    /// Starts the daemon (a thread of its own), browses for PeerDrop devices and publishes a
    /// probe record carrying this device's `fingerprint`. The records this discovery publishes
    /// itself (probe and advertisements) are never listed.
    pub fn start(fingerprint: &str) -> Result<LanDiscovery, LanError> {
        let daemon = ServiceDaemon::new().map_err(|e| LanError::Daemon(e.to_string()))?;
        let events = daemon
            .browse(SERVICE_TYPE)
            .map_err(|e| LanError::Daemon(e.to_string()))?;
        let (devices_tx, devices) = watch::channel(Vec::new());
        let (multicast_tx, multicast) = watch::channel(Multicast::Checking);
        let own = Arc::new(Mutex::new(HashSet::new()));
        let probe = DeviceCard {
            name: "probe".into(),
            kind: peerdrop_proto::signal::DeviceKind::Cli,
            code: peerdrop_proto::code::format_code("222222"),
            fingerprint: fingerprint.to_string(),
            role: Role::Probe,
        };
        let probe_name = register(&daemon, &own, &probe, 9)?;
        let listener = tokio::spawn(listen(
            events,
            devices_tx,
            multicast_tx.clone(),
            own.clone(),
            daemon.clone(),
            probe_name,
        ));
        let deadline = tokio::spawn(async move {
            tokio::time::sleep(PROBE_WINDOW).await;
            multicast_tx.send_if_modified(|state| {
                let blocked = *state == Multicast::Checking;
                if blocked {
                    *state = Multicast::Blocked;
                }
                blocked
            });
        });
        Ok(LanDiscovery {
            daemon,
            devices,
            multicast,
            own,
            tasks: vec![listener, deadline],
        })
    }

    /// Publishes `card` with this device's LAN signaling endpoint `port` on every interface.
    pub fn advertise(&self, card: &DeviceCard, port: u16) -> Result<Advertisement, LanError> {
        let fullname = register(&self.daemon, &self.own, card, port)?;
        Ok(Advertisement {
            daemon: self.daemon.clone(),
            fullname,
        })
    }

    /// The devices heard right now (not this one), updated as they come and go.
    pub fn devices(&self) -> watch::Receiver<Vec<LanDevice>> {
        self.devices.clone()
    }

    /// Whether multicast works here.
    pub fn multicast(&self) -> watch::Receiver<Multicast> {
        self.multicast.clone()
    }
}

impl Drop for LanDiscovery {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        let _ = self.daemon.shutdown();
    }
}

/// Registers `card` under a fresh instance name and remembers it as our own.
fn register(
    daemon: &ServiceDaemon,
    own: &Mutex<HashSet<String>>,
    card: &DeviceCard,
    port: u16,
) -> Result<String, LanError> {
    let instance = format!(
        "peerdrop-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let host = format!("{instance}.local.");
    let properties: HashMap<String, String> = card.to_txt().into_iter().collect();
    let info = ServiceInfo::new(SERVICE_TYPE, &instance, &host, (), port, properties)
        .map_err(|e| LanError::Daemon(e.to_string()))?
        .enable_addr_auto();
    let fullname = info.get_fullname().to_string();
    own.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(fullname.clone());
    daemon
        .register(info)
        .map_err(|e| LanError::Daemon(e.to_string()))?;
    Ok(fullname)
}

/// Turns daemon events into the device list and the multicast verdict.
async fn listen(
    events: mdns_sd::Receiver<ServiceEvent>,
    devices_tx: watch::Sender<Vec<LanDevice>>,
    multicast_tx: watch::Sender<Multicast>,
    own: Arc<Mutex<HashSet<String>>>,
    daemon: ServiceDaemon,
    probe_name: String,
) {
    let mut known: HashMap<String, LanDevice> = HashMap::new();
    let mut probe_withdrawn = false;
    let started = std::time::Instant::now();
    while let Ok(event) = events.recv_async().await {
        let changed = match event {
            ServiceEvent::ServiceResolved(service) => {
                let is_own = own
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains(&service.fullname);
                multicast_tx.send_if_modified(|state| {
                    let heard = *state != Multicast::Working;
                    *state = Multicast::Working;
                    heard
                });
                if is_own {
                    if service.fullname == probe_name && !probe_withdrawn {
                        // Heard ourselves: the probe has done its job.
                        probe_withdrawn = true;
                        let _ = daemon.unregister(&probe_name);
                    }
                    false
                } else {
                    let new = !known.contains_key(&service.fullname);
                    let changed = admit(&mut known, &service);
                    if new && changed {
                        tracing::info!(
                            device = %known[&service.fullname].card.name,
                            after_ms = started.elapsed().as_millis() as u64,
                            "found a device on the LAN"
                        );
                    }
                    changed
                }
            }
            ServiceEvent::ServiceRemoved(_, fullname) => known.remove(&fullname).is_some(),
            _ => false,
        };
        if changed {
            let mut list: Vec<LanDevice> = known.values().cloned().collect();
            list.sort_by(|a, b| {
                a.card
                    .name
                    .cmp(&b.card.name)
                    .then(a.instance.cmp(&b.instance))
            });
            devices_tx.send_replace(list);
        }
    }
}

/// Adds or refreshes one resolved service; `true` when the list changed.
fn admit(known: &mut HashMap<String, LanDevice>, service: &ResolvedService) -> bool {
    let card = match DeviceCard::from_txt(|key| service.get_property_val_str(key)) {
        Ok(card) if card.role == Role::Device => card,
        Ok(_) => return false,
        Err(e) => {
            tracing::debug!("ignoring LAN record {}: {e}", service.fullname);
            return false;
        }
    };
    let endpoints = endpoints_of(service.addresses.iter(), service.port);
    if endpoints.is_empty() || service.port == 0 {
        return false;
    }
    if !known.contains_key(&service.fullname) && known.len() >= MAX_LAN_DEVICES {
        tracing::warn!(
            "more than {MAX_LAN_DEVICES} PeerDrop devices on the LAN; ignoring the rest"
        );
        return false;
    }
    let device = LanDevice {
        card,
        endpoints,
        instance: service.fullname.clone(),
    };
    known.insert(service.fullname.clone(), device.clone()) != Some(device)
}

/// Usable socket addresses for a service: IPv4 first; IPv6 link-local ones keep their scope
/// (interface), without which they cannot be dialled.
fn endpoints_of<'a>(addresses: impl Iterator<Item = &'a ScopedIp>, port: u16) -> Vec<SocketAddr> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for address in addresses {
        match address {
            ScopedIp::V4(a) if !a.addr().is_loopback() && !a.addr().is_unspecified() => {
                v4.push(SocketAddr::new(IpAddr::V4(*a.addr()), port))
            }
            ScopedIp::V6(a) if !a.addr().is_loopback() && !a.addr().is_unspecified() => {
                let scope = if a.addr().is_unicast_link_local() {
                    a.scope_id().index
                } else {
                    0
                };
                v6.push(SocketAddr::V6(SocketAddrV6::new(*a.addr(), port, 0, scope)))
            }
            _ => {}
        }
    }
    v4.sort();
    v6.sort();
    v4.extend(v6);
    v4
}
