//! The node supervisor: keeps this device registered on a signaling server, forwards its code
//! and the live nearby list to the UI, and runs incoming transfers through the UI's
//! Accept/Decline dialog. It reconnects with back-off when the server goes away and restarts
//! at once when the server or device name changes in Settings.

use std::sync::Arc;
use std::time::Duration;

use peerdrop_app_ipc::{NodeState, NodeStatus, NodeUpdate};
use peerdrop_core::{
    CancellationToken, Decider, Decision, Incoming, Node, NodeConfig, OfferSummary, RtcSettings,
};
use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::signal::DeviceKind;
use tokio::sync::oneshot;

use crate::hub::TrackedSink;
use crate::server::{preferred_builtin_url, CONNECT_TIMEOUT};
use crate::Shared;

/// Longest pause between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// This device's kind as others see it.
fn device_kind() -> DeviceKind {
    if cfg!(any(target_os = "android", target_os = "ios")) {
        DeviceKind::Phone
    } else {
        DeviceKind::Desktop
    }
}

/// Registers on `url` with a time limit.
async fn connect_to(shared: &Shared, url: &str, name: &str) -> Result<Node, String> {
    let config = NodeConfig {
        server_url: url.to_string(),
        name: name.to_string(),
        kind: device_kind(),
        rtc: RtcSettings {
            identity: shared.identity.clone(),
            ..RtcSettings::default()
        },
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, Node::connect(config)).await {
        Ok(Ok(node)) => Ok(node),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_string()),
    }
}

/// Picks the server (see [`crate::server`]) and registers; returns the node and the status
/// to show.
async fn connect(shared: &Shared) -> Result<(Node, NodeStatus), NodeStatus> {
    let name = shared.settings.effective().device_name;
    let online = |server: String, embedded: bool, message: Option<String>| NodeStatus {
        state: NodeState::Online,
        server,
        embedded,
        message,
    };
    let note = match shared.settings.configured_server() {
        Some(url) => match connect_to(shared, &url, &name).await {
            Ok(node) => return Ok((node, online(url, false, None))),
            Err(e) => {
                tracing::warn!(%url, error = %e, "configured server unreachable");
                Some(format!(
                    "{url} is unreachable ({e}); using the built-in server on this computer"
                ))
            }
        },
        None => {
            // Join a server already running on this computer before starting our own.
            let builtin = shared.builtin.url().await;
            let local = builtin.clone().unwrap_or_else(preferred_builtin_url);
            if let Ok(node) = connect_to(shared, &local, &name).await {
                return Ok((node, online(local, builtin.is_some(), None)));
            }
            None
        }
    };
    let offline = |message: String| NodeStatus {
        state: NodeState::Offline,
        server: preferred_builtin_url(),
        embedded: true,
        message: Some(message),
    };
    let url = shared.builtin.ensure().await.map_err(offline)?;
    match connect_to(shared, &url, &name).await {
        Ok(node) => Ok((node, online(url, true, note))),
        Err(e) => Err(offline(format!("the built-in server does not answer: {e}"))),
    }
}

/// Runs forever: connect, serve, and reconnect when needed.
pub async fn supervise(shared: Arc<Shared>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let target = shared
            .settings
            .configured_server()
            .unwrap_or_else(|| "built-in server".to_string());
        shared.hub.emit(NodeUpdate::Status(NodeStatus {
            state: NodeState::Connecting,
            server: target,
            embedded: false,
            message: None,
        }));
        let failure = match connect(&shared).await {
            Ok((node, status)) => {
                backoff = Duration::from_secs(1);
                tracing::info!(server = %status.server, code = %node.code(), "registered");
                let node = Arc::new(node);
                *shared.node.lock().expect("node lock") = Some(node.clone());
                shared.hub.emit(NodeUpdate::Status(status));
                shared.hub.emit(NodeUpdate::Event(TransferEvent::Code {
                    code: node.code().to_string(),
                    name: node.name().to_string(),
                }));
                let outcome = tokio::select! {
                    reason = serve(shared.clone(), node.clone()) => Some(reason),
                    _ = shared.restart.notified() => None,
                };
                *shared.node.lock().expect("node lock") = None;
                match outcome {
                    // Settings changed: reconnect right away.
                    None => continue,
                    Some(reason) => NodeStatus {
                        state: NodeState::Offline,
                        server: shared.hub.status().map(|s| s.server).unwrap_or_default(),
                        embedded: false,
                        message: Some(format!(
                            "Lost the signaling server: {reason}. Reconnecting…"
                        )),
                    },
                }
            }
            Err(status) => status,
        };
        tracing::warn!(message = ?failure.message, "node offline");
        shared.hub.emit(NodeUpdate::Status(failure));
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shared.restart.notified() => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Serves one registration until it fails; returns why.
async fn serve(shared: Arc<Shared>, node: Arc<Node>) -> String {
    let mut nearby = node.nearby();
    let hub_shared = shared.clone();
    let forward = tokio::spawn(async move {
        loop {
            let peers = nearby.borrow_and_update().clone();
            hub_shared
                .hub
                .emit(NodeUpdate::Event(TransferEvent::Nearby { peers }));
            if nearby.changed().await.is_err() {
                break;
            }
        }
    });
    let reason = loop {
        match node.next_incoming().await {
            Ok(incoming) => start_receive(&shared, incoming),
            Err(e) => break e.to_string(),
        }
    };
    forward.abort();
    reason
}

/// Receives one incoming transfer on a task, or turns the sender away when busy.
fn start_receive(shared: &Arc<Shared>, incoming: Incoming) {
    let cancel = CancellationToken::new();
    {
        let mut slot = shared.receive_cancel.lock().expect("receive lock");
        if slot.is_some() {
            tracing::info!(from = %incoming.from().name, "busy: turning a second sender away");
            incoming.reject("the receiver is busy with another transfer");
            return;
        }
        *slot = Some(cancel.clone());
    }
    let shared = shared.clone();
    tauri::async_runtime::spawn(async move {
        let hub = shared.clone();
        let events = TrackedSink::new(move |event| hub.hub.emit(NodeUpdate::Event(event)));
        let result = match shared.settings.download_dir() {
            Ok(dir) => {
                let decider = UiDecider {
                    shared: shared.clone(),
                };
                incoming
                    .receive(dir, decider, events.sink(), cancel)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Err(e) => {
                incoming.reject("the receiver cannot save files right now");
                Err(e.to_string())
            }
        };
        if let Err(reason) = result {
            tracing::info!(%reason, "receive ended without success");
            events.fail_unless_finished(reason);
        }
        shared.pending_answer.lock().expect("answer lock").take();
        shared.receive_cancel.lock().expect("receive lock").take();
    });
}

/// Asks the person through the UI's dialog (the engine has already emitted `incoming`).
struct UiDecider {
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl Decider for UiDecider {
    async fn decide(&mut self, offer: &OfferSummary) -> Decision {
        let (tx, rx) = oneshot::channel();
        *self.shared.pending_answer.lock().expect("answer lock") = Some(tx);
        tracing::info!(from = %offer.from, files = offer.files.len(), "asking the user");
        match rx.await {
            Ok(true) => Decision::Accept,
            Ok(false) => {
                let me = self.shared.settings.effective().device_name;
                Decision::Decline(format!("{me} declined the transfer"))
            }
            Err(_) => Decision::Decline("the receiver did not answer".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Defaults, SettingsStore};
    use peerdrop_app_ipc::Settings;
    use peerdrop_core::identity::Identity;

    fn shared(dir: &std::path::Path) -> Shared {
        let defaults = Defaults {
            device_name: "test device".into(),
            download_dir: dir.join("Downloads"),
            env_server: None,
        };
        let settings = SettingsStore::load(dir, defaults);
        Shared::new(settings, Some(Identity::ephemeral().expect("identity")))
    }

    #[tokio::test]
    async fn without_a_server_the_app_uses_a_local_one() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = shared(tmp.path());
        let (node, status) = connect(&shared).await.expect("online");
        assert_eq!(status.state, NodeState::Online);
        assert!(
            status.server.starts_with("ws://127.0.0.1:"),
            "{}",
            status.server
        );
        assert_eq!(node.code().len(), 7);
    }

    #[tokio::test]
    async fn an_unreachable_configured_server_falls_back_to_the_built_in_one() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = shared(tmp.path());
        // A port nobody listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("ws://127.0.0.1:{port}/ws");
        shared
            .settings
            .save(Settings {
                server_url: url.clone(),
                ..Settings::default()
            })
            .unwrap();
        let (_node, status) = connect(&shared)
            .await
            .expect("online via the built-in server");
        assert!(status.embedded, "{status:?}");
        assert_ne!(status.server, url);
        assert!(status.message.unwrap().contains("unreachable"));
        assert_eq!(shared.builtin.url().await, Some(status.server));
    }
}
