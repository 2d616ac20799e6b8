//! Which signaling server the app uses, and the built-in one it starts when needed.
//!
//! The rule (documented in the README):
//! 1. A server set in Settings (or, when the setting is empty, in `PEERDROP_SERVER`) is used.
//! 2. With none configured, the app first joins `ws://127.0.0.1:8787/ws` if something already
//!    serves it (a `peerdrop-signal` or another PeerDrop app on this computer), so several
//!    apps and `peerdrop` commands on one machine find each other with zero setup — unless
//!    that listener belongs to another user ([`crate::local_owner`]).
//! 3. Otherwise — or when the configured server is unreachable — it starts
//!    [`peerdrop_signal::SignalServer`] in-process on `127.0.0.1:8787` (an ephemeral port if
//!    8787 is taken) and uses that, telling the user in the status line. While it stands in
//!    for an unreachable configured server, [`crate::failover`] schedules the tries to go back;
//!    a configured `wss://` server whose certificate is refused is never stood in for.
//!
//! The built-in server listens on loopback only: it never opens a port to the network. To
//! reach devices on other machines, run `peerdrop-signal --listen 0.0.0.0:8787` somewhere they
//! can all reach and enter its address in Settings.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use peerdrop_signal::{RunningServer, ServerConfig, SignalServer};
use tokio::sync::Mutex;

/// Port the built-in server prefers.
pub const BUILTIN_PORT: u16 = 8787;

/// How long connecting to a signaling server may take before it counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);

/// The URL the built-in server has on its preferred port.
pub fn preferred_builtin_url() -> String {
    format!("ws://127.0.0.1:{BUILTIN_PORT}/ws")
}

/// Owns the built-in server once started; it runs until the app exits.
#[derive(Default)]
pub struct BuiltinServer {
    running: Mutex<Option<RunningServer>>,
}

impl BuiltinServer {
    /// URL of the running built-in server, if started.
    pub async fn url(&self) -> Option<String> {
        self.running
            .lock()
            .await
            .as_ref()
            .map(RunningServer::ws_url)
    }

    /// Starts the server if it is not running and returns its URL.
    pub async fn ensure(&self) -> Result<String, String> {
        let mut running = self.running.lock().await;
        if let Some(server) = running.as_ref() {
            return Ok(server.ws_url());
        }
        let preferred = SocketAddr::from((Ipv4Addr::LOCALHOST, BUILTIN_PORT));
        let server = match SignalServer::bind(ServerConfig::new(preferred)).await {
            Ok(server) => server,
            Err(e) => {
                tracing::info!(error = %e, "port {BUILTIN_PORT} unavailable; built-in server takes an ephemeral port");
                let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
                SignalServer::bind(ServerConfig::new(any))
                    .await
                    .map_err(|e| format!("could not start the built-in server: {e}"))?
            }
        };
        let server = server.spawn();
        let url = server.ws_url();
        tracing::info!(%url, "built-in signaling server started");
        *running = Some(server);
        Ok(url)
    }
}
