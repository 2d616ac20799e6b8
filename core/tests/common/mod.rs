//! What the core integration tests share: a real `peerdrop-signal` in-process on loopback,
//! a node on it made the way the CLI makes one (server only, an ephemeral identity), and a
//! bare signaling client for peers that play by other rules.
#![allow(dead_code)] // each test binary uses a different subset

use peerdrop_core::signaling::{Presentation, SignalClient};
use peerdrop_core::{ClientTls, LanRole, Node, NodeConfig, RtcSettings};
use peerdrop_proto::signal::DeviceKind;
use peerdrop_signal::{RunningServer, ServerConfig, SignalServer};

/// A signaling server on an ephemeral loopback port, with the default limits.
pub async fn signal_server() -> RunningServer {
    SignalServer::bind(ServerConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .expect("bind peerdrop-signal on loopback")
        .spawn()
}

/// A node named `name` registered with the server at `url`, no LAN, a fresh identity.
pub async fn server_node(url: &str, name: &str) -> Node {
    Node::connect(NodeConfig {
        server_url: Some(url.to_string()),
        lan: LanRole::Off,
        tls: ClientTls::none(),
        name: name.into(),
        kind: DeviceKind::Cli,
        rtc: RtcSettings {
            identity: Some(peerdrop_core::identity::Identity::ephemeral().unwrap()),
            ..RtcSettings::default()
        },
        home: None,
    })
    .await
    .expect("node registers with the server")
}

/// How a bare client named `name` introduces itself (a CLI device claiming `fingerprint`).
pub fn presenting(name: &str, fingerprint: &str) -> Presentation {
    Presentation {
        name: name.into(),
        kind: DeviceKind::Cli,
        fingerprint: fingerprint.into(),
    }
}

/// A bare signaling client on the server at `url`, presented as [`presenting`] says.
pub async fn bare_client(url: &str, name: &str, fingerprint: &str) -> SignalClient {
    SignalClient::connect(url, &presenting(name, fingerprint), &ClientTls::none())
        .await
        .expect("client connects")
}
