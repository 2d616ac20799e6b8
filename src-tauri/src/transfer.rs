//! Sending: resolve the target, build the send plan from the picked paths and run the
//! engine's send, streaming its events to the UI on the command's channel.

use std::path::PathBuf;
use std::sync::Arc;

use peerdrop_app_ipc::SendTarget;
use peerdrop_core::{CancellationToken, SendPlan};
use peerdrop_proto::events::TransferEvent;
use tauri::ipc::Channel;

use crate::error::{AppError, AppResult};
use crate::hub::TrackedSink;
use crate::Shared;

/// Clears the send slot when the send ends, however it ends.
struct SlotGuard(Arc<Shared>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.send_cancel.lock().expect("send lock").take();
    }
}

/// Sends `paths` to `target`. Outcomes (done, declined, failed, cancelled) arrive as events on
/// `channel`; the command itself only fails when a send is already running.
pub async fn send(
    shared: Arc<Shared>,
    target: SendTarget,
    paths: Vec<String>,
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
    let events = TrackedSink::new(move |event| {
        if let Err(e) = channel.send(event) {
            tracing::debug!(error = %e, "send channel closed");
        }
    });
    if let Err(reason) = run(&shared, target, paths, &events, cancel).await {
        tracing::info!(%reason, "send ended without success");
        events.fail_unless_finished(reason);
    }
    Ok(())
}

async fn run(
    shared: &Shared,
    target: SendTarget,
    paths: Vec<String>,
    events: &TrackedSink,
    cancel: CancellationToken,
) -> Result<(), String> {
    let node = shared
        .node
        .lock()
        .expect("node lock")
        .clone()
        .ok_or_else(|| {
            "the signaling server is unreachable; check Settings or your network".to_string()
        })?;
    let recipient = match target {
        SendTarget::Peer { peer } => node
            .recipient_by_id(peer.id)
            .await
            .map_err(|e| e.to_string())?,
        SendTarget::Code { code } => {
            events.emit(TransferEvent::Connecting { peer: code.clone() });
            tokio::select! {
                // A code, a device name or a typed LAN address (HOST:PORT).
                found = node.find_typed(&code) => found.map_err(|e| e.to_string())?,
                _ = cancel.cancelled() => {
                    events.emit(TransferEvent::Cancelled { reason: "cancelled".into() });
                    return Ok(());
                }
            }
        }
    };
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    let plan = tokio::task::spawn_blocking(move || SendPlan::from_paths(&paths))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    tracing::info!(to = %recipient.peer().name, via = ?recipient.via(), "sending");
    node.send(&recipient, plan, events.sink(), cancel)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
