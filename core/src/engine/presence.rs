//! A node's presence on the LAN (its mDNS record, its LAN endpoint and its own registration
//! there) and the one device list that joins the LAN with the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use peerdrop_proto::signal::PeerInfo;
use tokio::sync::watch;

use super::devices::{merge, Device};
use super::LanRole;
use crate::error::CoreError;
use crate::lan::{
    endpoint_url, Advertisement, DeviceCard, LanDiscovery, LanEndpoint, Multicast, Role,
    DEFAULT_LAN_PORT,
};
use crate::signaling::{Presentation, SignalClient};
use crate::tls::ClientTls;

/// How long a LAN endpoint may take to show its owner after connecting.
const OWNER_WAIT: Duration = Duration::from_secs(5);

/// What a node runs on the LAN.
pub(crate) struct LanPresence {
    discovery: LanDiscovery,
    /// Present when the node is discoverable.
    listed: Option<Listed>,
}

/// The parts of a discoverable node: its endpoint, its registration there, its record.
struct Listed {
    // Field order is drop order: withdraw the record, leave the endpoint, then stop it.
    _advertisement: Advertisement,
    own: Arc<SignalClient>,
    endpoint: LanEndpoint,
}

impl LanPresence {
    /// Starts LAN discovery for `role` (`Ok(None)` for [`LanRole::Off`]). A discoverable node
    /// advertises `shown_code` (its server code) or, with no server, its LAN endpoint's code.
    pub(crate) async fn start(
        role: LanRole,
        me: &Presentation,
        shown_code: Option<String>,
    ) -> Result<Option<LanPresence>, CoreError> {
        if role == LanRole::Off {
            return Ok(None);
        }
        let discovery = LanDiscovery::start(&me.fingerprint)?;
        let listed = match role {
            LanRole::Discoverable => Some(Self::list(&discovery, me, shown_code).await?),
            _ => None,
        };
        Ok(Some(LanPresence { discovery, listed }))
    }

    async fn list(
        discovery: &LanDiscovery,
        me: &Presentation,
        shown_code: Option<String>,
    ) -> Result<Listed, CoreError> {
        let endpoint = LanEndpoint::start(DEFAULT_LAN_PORT).await?;
        let own = SignalClient::connect(endpoint.owner_url(), me, &ClientTls::none()).await?;
        let card = DeviceCard {
            name: me.name.clone(),
            kind: me.kind,
            code: shown_code.unwrap_or_else(|| own.code().to_string()),
            fingerprint: me.fingerprint.clone(),
            role: Role::Device,
        };
        let advertisement = discovery.advertise(&card, endpoint.port())?;
        Ok(Listed {
            _advertisement: advertisement,
            own: Arc::new(own),
            endpoint,
        })
    }

    /// The code of this node's LAN registration (empty when it only browses).
    pub(crate) fn code(&self) -> &str {
        self.listed.as_ref().map_or("", |l| l.own.code())
    }

    /// This node's registration on its own LAN endpoint.
    pub(crate) fn own_client(&self) -> Option<Arc<SignalClient>> {
        self.listed.as_ref().map(|l| l.own.clone())
    }

    /// The LAN endpoint's port.
    pub(crate) fn port(&self) -> Option<u16> {
        self.listed.as_ref().map(|l| l.endpoint.port())
    }

    /// Whether multicast works here.
    pub(crate) fn multicast(&self) -> watch::Receiver<Multicast> {
        self.discovery.multicast()
    }
}

/// The live merged list of LAN and server devices, and the task that keeps it current.
pub(crate) fn merged_devices(
    server: Option<&SignalClient>,
    lan: Option<&LanPresence>,
) -> (watch::Receiver<Vec<Device>>, tokio::task::JoinHandle<()>) {
    let mut server_list = server.map(|s| s.nearby());
    let mut paired_list = server.map(|s| s.paired());
    let mut lan_list = lan.map(|l| l.discovery.devices());
    let current = |server: &Option<watch::Receiver<Vec<PeerInfo>>>,
                   paired: &Option<watch::Receiver<Vec<PeerInfo>>>,
                   lan: &Option<watch::Receiver<Vec<crate::lan::LanDevice>>>| {
        let lan_now = lan.as_ref().map(|l| l.borrow().clone()).unwrap_or_default();
        let now = |list: &Option<watch::Receiver<Vec<PeerInfo>>>| {
            list.as_ref()
                .map(|s| s.borrow().clone())
                .unwrap_or_default()
        };
        merge(&lan_now, &now(paired), &now(server))
    };
    let (tx, rx) = watch::channel(current(&server_list, &paired_list, &lan_list));
    let task = tokio::spawn(async move {
        loop {
            let server_changed = async {
                match (server_list.as_mut(), paired_list.as_mut()) {
                    (Some(s), Some(p)) => tokio::select! {
                        alive = s.changed() => alive.is_ok(),
                        alive = p.changed() => alive.is_ok(),
                    },
                    _ => std::future::pending().await,
                }
            };
            let lan_changed = async {
                match lan_list.as_mut() {
                    Some(l) => l.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            let alive = tokio::select! {
                alive = server_changed => alive,
                alive = lan_changed => alive,
            };
            if !alive {
                // A source closed (server connection gone): keep the last list, stop.
                return;
            }
            tx.send_replace(current(&server_list, &paired_list, &lan_list));
        }
    });
    (rx, task)
}

/// Connects to the LAN endpoint at `addr` as `me` and returns the connection and its owner.
pub(crate) async fn dial(
    addr: SocketAddr,
    me: &Presentation,
) -> Result<(SignalClient, PeerInfo), CoreError> {
    let client = SignalClient::connect(&endpoint_url(addr), me, &ClientTls::none()).await?;
    let mut nearby = client.nearby();
    // A device endpoint lists exactly its owner to a guest.
    let owner = tokio::time::timeout(OWNER_WAIT, nearby.wait_for(|list| !list.is_empty()))
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|list| list.first().cloned())
        .ok_or_else(|| {
            CoreError::PeerUnavailable(format!(
                "{addr} answers but no device is receiving there right now"
            ))
        })?;
    Ok((client, owner))
}
