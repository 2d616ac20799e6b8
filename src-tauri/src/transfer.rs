//! Sending: resolve the picked items' handles to the paths the person chose
//! ([`crate::grants`]), resolve the target, build the send plan and run the
//! engine's send, streaming its events to the UI on the command's channel. A send by code to a
//! server a `peerdrop://` link named goes through a registration on that server made for the
//! send ([`node_for`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use peerdrop_app_ipc::{ItemHandle, NodeState, SendTarget};
use peerdrop_core::{CancellationToken, CoreError, LanRole, Node, OnChangedIdentity, SendPlan};
use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::link::check_server;
use tauri::ipc::Channel;
use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};
use crate::failover::Failure;
use crate::history::{self, describe_offer, Recorder};
use crate::hub::TrackedSink;
use crate::{node, Shared};

/// Clears the send slot when the send ends, however it ends.
struct SlotGuard(Arc<Shared>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.send_cancel.lock().expect("send lock").take();
    }
}

/// What a send carries: the files and folders the person picked, or a text (or link).
pub enum Payload {
    /// Paths resolved from the page's handles ([`crate::grants`]).
    Paths(Vec<PathBuf>),
    /// A text typed or pasted on the Send page; it travels in the offer.
    Text(String),
}

/// Sends the items behind `items` to `target`. Outcomes (done, declined, failed, cancelled)
/// arrive as events on `channel`; the command itself fails only when a handle was never given
/// out ([`AppError::UnknownItem`]: nothing is read, nobody is contacted) or a send is already
/// running.
pub async fn send(
    shared: Arc<Shared>,
    target: SendTarget,
    items: Vec<ItemHandle>,
    channel: Channel<TransferEvent>,
) -> AppResult<()> {
    let paths = shared.grants.resolve(&items)?;
    send_payload(shared, target, Payload::Paths(paths), channel).await
}

/// Sends `text` to `target`, like [`send`] does files (an empty text, or one too long for an
/// offer, fails with the send plan's reason, as a `failed` event).
pub async fn send_text(
    shared: Arc<Shared>,
    target: SendTarget,
    text: String,
    channel: Channel<TransferEvent>,
) -> AppResult<()> {
    send_payload(shared, target, Payload::Text(text), channel).await
}

async fn send_payload(
    shared: Arc<Shared>,
    target: SendTarget,
    payload: Payload,
    channel: Channel<TransferEvent>,
) -> AppResult<()> {
    let cancel = CancellationToken::new();
    {
        let mut slot = shared.send_cancel.lock().expect("send lock");
        if slot.is_some() {
            return Err(AppError::Busy);
        }
        *slot = Some(cancel.clone());
    }
    let _guard = SlotGuard(shared.clone());
    let what = match &payload {
        Payload::Paths(paths) => describe_offer(
            paths
                .iter()
                .map(|p| p.file_name().and_then(|n| n.to_str()).unwrap_or("a file")),
        ),
        Payload::Text(_) => "a text".to_string(),
    };
    let events = history::recording(shared.clone(), Recorder::sending(what), move |event| {
        if let Err(e) = channel.send(event) {
            tracing::debug!(error = %e, "send channel closed");
        }
    });
    if let Err(reason) = run(&shared, target, payload, &events, cancel).await {
        tracing::info!(%reason, "send ended without success");
        events.fail_unless_finished(reason);
    }
    Ok(())
}

async fn run(
    shared: &Shared,
    target: SendTarget,
    payload: Payload,
    events: &TrackedSink,
    cancel: CancellationToken,
) -> Result<(), String> {
    let (node, recipient) = match target {
        SendTarget::Peer { peer } => {
            let node = own_node(shared)?;
            let recipient = node
                .recipient_by_id(peer.id)
                .await
                .map_err(|e| e.to_string())?;
            (node, recipient)
        }
        SendTarget::Code { code, server } => {
            events.emit(TransferEvent::Connecting { peer: code.clone() });
            let lookup = async {
                let node = node_for(shared, server).await?;
                // A code, a device name or a typed LAN address (HOST:PORT).
                let recipient = node.find_typed(&code).await.map_err(|e| e.to_string())?;
                Ok::<_, String>((node, recipient))
            };
            tokio::select! {
                found = lookup => found?,
                _ = cancel.cancelled() => {
                    events.emit(TransferEvent::Cancelled { reason: "cancelled".into() });
                    return Ok(());
                }
            }
        }
    };
    let plan = match payload {
        Payload::Paths(paths) => tokio::task::spawn_blocking(move || SendPlan::from_paths(&paths))
            .await
            .map_err(|e| e.to_string())?,
        Payload::Text(text) => SendPlan::text(text),
    }
    .map_err(|e| e.to_string())?;
    tracing::info!(to = %recipient.peer().name, via = ?recipient.via(), "sending");
    let on_changed = ask_the_person(shared.changed_identity_answer.clone());
    match node
        .send(&recipient, plan, events.sink(), cancel, &on_changed)
        .await
    {
        Ok(_) => Ok(()),
        Err(CoreError::IdentityChanged(change)) => {
            // The person chose Cancel on the warning: a cancelled send, nothing sent.
            events.emit(TransferEvent::Cancelled {
                reason: format!(
                    "not sent: {:?} is not the device you trusted as {:?}",
                    change.peer, change.pinned_as
                ),
            });
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The app's registration, while online.
fn own_node(shared: &Shared) -> Result<Arc<Node>, String> {
    shared
        .node
        .lock()
        .expect("node lock")
        .clone()
        .ok_or_else(|| {
            "the signaling server is unreachable; check Settings or your network".to_string()
        })
}

/// The registration a send by code goes through: the app's own, unless a link named another
/// server (`server`) — then a registration on that server for this send only, dropped (and so
/// disconnected) when the send ends. The receiver's code only means something on the server
/// it registered on; the app's own registration, nearby list and code stay as they are.
async fn node_for(shared: &Shared, server: Option<String>) -> Result<Arc<Node>, String> {
    let Some(server) = server else {
        return own_node(shared);
    };
    // The UI only passes servers of checked links; check again, the command is the boundary.
    let server = check_server(&server).map_err(|e| format!("cannot send through {server}: {e}"))?;
    let own_server = shared
        .hub
        .status()
        .filter(|s| s.state == NodeState::Online)
        .map(|s| s.server);
    if own_server.as_deref() == Some(server.as_str()) {
        if let Ok(node) = own_node(shared) {
            return Ok(node);
        }
    }
    let name = shared.settings.effective().device_name;
    tracing::info!(%server, "registering on the server a link named, for this send");
    // Only for this send: no second presence on the LAN.
    match node::connect_to(shared, &server, &name, LanRole::Off).await {
        Ok(node) => Ok(Arc::new(node)),
        Err(Failure::Unreachable(reason)) => {
            Err(format!("the server {server} is unreachable ({reason})"))
        }
        Err(Failure::Refused(line)) => Err(line),
    }
}

/// The app's answer to a changed identity: the engine has already sent the
/// `identity_changed` event the Send page shows as a warning with Cancel / Send anyway; this
/// waits for that answer ([`crate::commands::answer_changed_identity`]). Cancelling the send
/// or closing the page ends the wait as a "no".
fn ask_the_person(answer_slot: Arc<Mutex<Option<oneshot::Sender<bool>>>>) -> OnChangedIdentity {
    OnChangedIdentity::Ask(Arc::new(move |change| {
        let (tx, rx) = oneshot::channel();
        *answer_slot.lock().expect("answer lock") = Some(tx);
        tracing::warn!(peer = %change.peer, pinned_as = %change.pinned_as, "asking whether to send to a changed identity");
        Box::pin(async move { rx.await.unwrap_or(false) })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Defaults, SettingsStore};
    use peerdrop_core::identity::Identity;
    use peerdrop_core::{NodeConfig, RtcSettings};
    use peerdrop_proto::signal::DeviceKind;

    /// A real signaling server on loopback and a receiving node "Ben's phone" registered on it.
    async fn server_with_receiver() -> (peerdrop_signal::RunningServer, Node) {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let server = peerdrop_signal::SignalServer::bind(peerdrop_signal::ServerConfig::new(addr))
            .await
            .unwrap()
            .spawn();
        let receiver = Node::connect(NodeConfig {
            server_url: Some(server.ws_url()),
            lan: LanRole::Off,
            tls: peerdrop_core::ClientTls::none(),
            name: "Ben's phone".into(),
            kind: DeviceKind::Phone,
            rtc: RtcSettings {
                identity: Some(Identity::ephemeral().unwrap()),
                ..RtcSettings::default()
            },
            home: None,
        })
        .await
        .unwrap();
        (server, receiver)
    }

    fn shared(dir: &std::path::Path) -> Shared {
        let defaults = Defaults {
            device_name: "Ana's laptop".into(),
            download_dir: dir.join("Downloads"),
            env_server: None,
        };
        Shared::new(
            SettingsStore::load(dir, defaults),
            Some(Identity::ephemeral().expect("identity")),
        )
    }

    /// Everything a send reported on its channel, as JSON text.
    fn recording_channel() -> (Channel<TransferEvent>, Arc<std::sync::Mutex<Vec<String>>>) {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let channel = Channel::new(move |body| {
            if let tauri::ipc::InvokeResponseBody::Json(json) = body {
                log.lock().unwrap().push(json);
            }
            Ok(())
        });
        (channel, seen)
    }

    #[tokio::test]
    async fn a_webview_cannot_send_a_path_it_was_not_given() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = Arc::new(shared(tmp.path()));
        // A real receiver that accepts everything it is offered, counting the offers.
        let (server, receiver) = server_with_receiver().await;
        let code = receiver.code().to_string();
        let inbox = tmp.path().join("ben-inbox");
        let offers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = offers.clone();
        let receiving_into = inbox.clone();
        let (received_tx, mut received) = tokio::sync::mpsc::unbounded_channel();
        let receiving = tokio::spawn(async move {
            while let Ok(incoming) = receiver.next_incoming().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let report = incoming
                    .receive(
                        receiving_into.clone(),
                        peerdrop_core::AutoAccept,
                        Arc::new(|_| {}),
                        CancellationToken::new(),
                    )
                    .await;
                let _ = received_tx.send(report.map(|_| ()).map_err(|e| e.to_string()));
            }
        });

        // The person picked one photo; a secret sits next to it.
        let photo = tmp.path().join("photo.jpg");
        std::fs::write(&photo, b"a picture").unwrap();
        let secret = tmp.path().join(".ssh").join("id_ed25519");
        std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
        std::fs::write(&secret, b"PRIVATE KEY").unwrap();
        let picked = crate::pick::describe(&shared.grants, vec![photo.clone()])
            .await
            .unwrap();
        let granted = picked.items[0].handle.clone();
        let target = SendTarget::Code {
            code,
            server: Some(server.ws_url()),
        };

        // What a compromised page would put in `send_files`' `items`: the secret's path, the
        // secret's folder, a made-up handle, and the secret smuggled next to the real pick.
        let secret_path = secret.display().to_string();
        let ssh_dir = secret.parent().unwrap().display().to_string();
        for attempt in [
            serde_json::json!([secret_path]),
            serde_json::json!([ssh_dir]),
            serde_json::json!([uuid::Uuid::new_v4().to_string()]),
            serde_json::json!([granted.as_str(), secret_path]),
        ] {
            let items: Vec<ItemHandle> = serde_json::from_value(attempt.clone()).unwrap();
            let (channel, seen) = recording_channel();
            let result = send(shared.clone(), target.clone(), items, channel).await;
            assert!(
                matches!(result, Err(AppError::UnknownItem { .. })),
                "{attempt} was not refused: {result:?}"
            );
            assert!(seen.lock().unwrap().is_empty(), "{attempt}: a send began");
        }
        assert!(shared.send_cancel.lock().unwrap().is_none());

        // The handle the pick gave out does send, and only the photo arrives.
        let (channel, seen) = recording_channel();
        send(shared.clone(), target, vec![granted], channel)
            .await
            .unwrap();
        let events = seen.lock().unwrap().join("\n");
        assert!(events.contains(r#""event":"done""#), "{events}");
        let receipt = tokio::time::timeout(std::time::Duration::from_secs(30), received.recv())
            .await
            .expect("the receiver finishes")
            .expect("the receiver task runs");
        receipt.expect("the receive succeeded");
        assert_eq!(
            std::fs::read(inbox.join("photo.jpg")).unwrap(),
            b"a picture"
        );
        let arrived: Vec<_> = std::fs::read_dir(&inbox)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(arrived, ["photo.jpg"], "only what was picked arrives");
        assert_eq!(
            offers.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "no refused attempt reached the receiver"
        );
        receiving.abort();
    }

    #[tokio::test]
    async fn a_code_from_a_link_is_looked_up_on_the_links_server() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = shared(tmp.path());
        let (theirs, receiver) = server_with_receiver().await;

        // The app itself is offline: without a server from a link there is nothing to use.
        assert!(node_for(&shared, None).await.is_err());
        let node = node_for(&shared, Some(theirs.ws_url())).await.unwrap();
        let found = node.resolve(receiver.code()).await.unwrap();
        assert_eq!(found.peer().name, "Ben's phone");
        assert_eq!(node.name(), "Ana's laptop");

        // A link naming the server the app is already on uses the app's own registration.
        let own = node_for(&shared, Some(theirs.ws_url())).await.unwrap();
        *shared.node.lock().unwrap() = Some(own.clone());
        shared.hub.emit(peerdrop_app_ipc::NodeUpdate::Status(
            peerdrop_app_ipc::NodeStatus {
                state: NodeState::Online,
                server: theirs.ws_url(),
                embedded: false,
                configured: true,
                message: None,
            },
        ));
        let reused = node_for(&shared, Some(theirs.ws_url())).await.unwrap();
        assert!(Arc::ptr_eq(&reused, &own));

        let refused = node_for(&shared, Some("https://evil.example/".into()))
            .await
            .err()
            .unwrap();
        assert!(refused.contains("must start with ws://"), "{refused}");
    }
}
