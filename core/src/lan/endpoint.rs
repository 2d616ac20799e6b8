//! The direct LAN signaling endpoint: a small `peerdrop-signal` in device mode on this device.
//!
//! A device that wants to be found with no server anywhere runs one on `0.0.0.0`, and its
//! own [`crate::signaling::SignalClient`] joins it over loopback as the endpoint's owner.
//! Senders on the LAN connect to it exactly as to a server: the same messages, sizes, rates
//! and connection caps, but in device mode they see only the owner and may signal only the
//! owner, so the endpoint is never a relay between strangers (see docs/security.md).

use std::net::{Ipv4Addr, SocketAddr};

use peerdrop_signal::{RunningServer, ServerConfig, SignalServer};

use super::LanError;

/// The port tried first, so a typed address is easy to say (`192.168.1.20:8788`) and
/// firewalls can name it; an ephemeral port is used when it is taken (several receivers on
/// one machine).
pub const DEFAULT_LAN_PORT: u16 = 8788;

/// A running LAN endpoint; dropping it stops accepting (use [`LanEndpoint::shutdown`] to
/// wait for that).
pub struct LanEndpoint {
    server: RunningServer,
    owner_url: String,
}

impl LanEndpoint {
    /// Listens on every IPv4 interface, on `port` when it is free, else on an ephemeral one.
    pub async fn start(port: u16) -> Result<LanEndpoint, LanError> {
        let bind =
            |port| ServerConfig::device_endpoint(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)));
        let server = match SignalServer::bind(bind(port)).await {
            Ok(server) => server,
            Err(first) if port != 0 => {
                tracing::debug!("LAN port {port} unavailable ({first}); using an ephemeral port");
                SignalServer::bind(bind(0))
                    .await
                    .map_err(|e| LanError::Endpoint(e.to_string()))?
            }
            Err(e) => return Err(LanError::Endpoint(e.to_string())),
        };
        let server = server.spawn();
        let owner_url = server
            .owner_url()
            .ok_or_else(|| LanError::Endpoint("the endpoint has no owner URL".into()))?;
        Ok(LanEndpoint { server, owner_url })
    }

    /// The URL this device's own client joins as the owner (loopback, with the secret token).
    pub fn owner_url(&self) -> &str {
        &self.owner_url
    }

    /// The TCP port senders connect to (advertised by mDNS; typed as `HOST:PORT`).
    pub fn port(&self) -> u16 {
        self.server.local_addr().port()
    }

    /// Stops accepting and closes every connection.
    pub async fn shutdown(self) {
        if let Err(e) = self.server.shutdown().await {
            tracing::debug!("LAN endpoint shutdown: {e}");
        }
    }
}

/// `ws://` URL of a LAN endpoint at `addr` (IPv6 in brackets, with its scope when link-local).
pub fn endpoint_url(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("ws://{a}/ws"),
        SocketAddr::V6(a) if a.scope_id() != 0 => {
            format!("ws://[{}%25{}]:{}/ws", a.ip(), a.scope_id(), a.port())
        }
        SocketAddr::V6(a) => format!("ws://[{}]:{}/ws", a.ip(), a.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_bracket_ipv6_and_keep_scopes() {
        assert_eq!(
            endpoint_url("198.18.0.2:8788".parse().unwrap()),
            "ws://198.18.0.2:8788/ws"
        );
        assert_eq!(
            endpoint_url("[2001:db8::1]:8788".parse().unwrap()),
            "ws://[2001:db8::1]:8788/ws"
        );
        let scoped = SocketAddr::V6(std::net::SocketAddrV6::new(
            "fe80::1".parse().unwrap(),
            8788,
            0,
            3,
        ));
        assert_eq!(endpoint_url(scoped), "ws://[fe80::1%253]:8788/ws");
    }
}
