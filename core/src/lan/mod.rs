//! Finding devices on the same network with no server at all.
//!
//! - [`addresses`]: this device's `IP:PORT`s to type on a network that blocks discovery.
//! - [`card`]: what a device says about itself in its DNS-SD TXT record (parsed as hostile).
//! - [`discovery`]: the mDNS responder and browser ([`LanDiscovery`]), and whether
//!   multicast works here ([`Multicast`]).
//! - [`endpoint`]: the direct LAN signaling endpoint each discoverable device runs
//!   ([`LanEndpoint`]), so offer/answer/candidates go device to device.
//!
//! Discovery only helps a person pick a device. Who is on the other end is proven the same
//! way as over a server: the verification phrase and the pinned certificate.

pub mod addresses;
pub mod card;
pub mod discovery;
pub mod endpoint;

pub use addresses::typed_addresses;
pub use card::{DeviceCard, Role, SERVICE_TYPE};
pub use discovery::{verdict, Advertisement, LanDevice, LanDiscovery, Multicast};
pub use endpoint::{endpoint_url, LanEndpoint, DEFAULT_LAN_PORT};

/// Why LAN discovery or the LAN endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum LanError {
    /// The mDNS daemon could not start or refused a request.
    #[error("LAN discovery (mDNS) is unavailable: {0}")]
    Daemon(String),
    /// The LAN signaling endpoint could not listen.
    #[error("the LAN endpoint could not start: {0}")]
    Endpoint(String),
}
