//! [`Hub`]: the node channel to the UI, plus a snapshot so a reloaded page (or one that
//! attaches late) immediately sees the current status, code, nearby devices and pending offer.
//!
//! Also [`TrackedSink`], an engine event sink that remembers whether a transfer already told
//! its outcome, so a command can add a `failed` event only when the engine did not.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use peerdrop_app_ipc::{NodeStatus, NodeUpdate};
use peerdrop_core::EventSink;
use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::signal::PeerInfo;
use tauri::ipc::Channel;

#[derive(Default)]
struct Snapshot {
    status: Option<NodeStatus>,
    code: Option<TransferEvent>,
    /// The last [`TransferEvent::Lan`]: typed addresses and whether multicast is blocked.
    lan: Option<TransferEvent>,
    nearby: Vec<PeerInfo>,
    offer: Option<TransferEvent>,
}

/// Fan-out of node updates to the (single) UI channel.
#[derive(Default)]
pub struct Hub {
    channel: Mutex<Option<Channel<NodeUpdate>>>,
    snapshot: Mutex<Snapshot>,
}

impl Hub {
    /// Makes `channel` the UI's channel and replays the snapshot on it.
    pub fn attach(&self, channel: Channel<NodeUpdate>) {
        let replay = {
            let snap = self.snapshot.lock().expect("hub lock");
            let mut replay = Vec::new();
            if let Some(status) = &snap.status {
                replay.push(NodeUpdate::Status(status.clone()));
            }
            if let Some(code) = &snap.code {
                replay.push(NodeUpdate::Event(code.clone()));
            }
            if let Some(lan) = &snap.lan {
                replay.push(NodeUpdate::Event(lan.clone()));
            }
            if snap.status.is_some() {
                replay.push(NodeUpdate::Event(TransferEvent::Nearby {
                    peers: snap.nearby.clone(),
                }));
            }
            if let Some(offer) = &snap.offer {
                replay.push(NodeUpdate::Event(offer.clone()));
            }
            replay
        };
        for update in replay {
            if let Err(e) = channel.send(update) {
                tracing::debug!(error = %e, "replay to UI failed");
            }
        }
        *self.channel.lock().expect("hub lock") = Some(channel);
    }

    /// Records `update` in the snapshot and sends it to the UI, if one is attached.
    pub fn emit(&self, update: NodeUpdate) {
        {
            let mut snap = self.snapshot.lock().expect("hub lock");
            match &update {
                NodeUpdate::Status(status) => {
                    if status.state != peerdrop_app_ipc::NodeState::Online {
                        snap.code = None;
                        snap.lan = None;
                        snap.nearby.clear();
                    }
                    snap.status = Some(status.clone());
                }
                NodeUpdate::Event(ev @ TransferEvent::Code { .. }) => snap.code = Some(ev.clone()),
                NodeUpdate::Event(ev @ TransferEvent::Lan { .. }) => snap.lan = Some(ev.clone()),
                NodeUpdate::Event(TransferEvent::Nearby { peers }) => snap.nearby = peers.clone(),
                NodeUpdate::Event(ev @ TransferEvent::Incoming { .. }) => {
                    snap.offer = Some(ev.clone())
                }
                NodeUpdate::Event(ev)
                    if matches!(ev, TransferEvent::Accepted) || is_terminal(ev) =>
                {
                    snap.offer = None;
                }
                NodeUpdate::Event(_) | NodeUpdate::History(_) => {}
            }
        }
        let channel = self.channel.lock().expect("hub lock").clone();
        if let Some(channel) = channel {
            if let Err(e) = channel.send(update) {
                tracing::debug!(error = %e, "UI channel closed");
            }
        }
    }

    /// The current status, if any.
    pub fn status(&self) -> Option<NodeStatus> {
        self.snapshot.lock().expect("hub lock").status.clone()
    }
}

/// Wraps a sink and remembers whether a terminal event (done, failed, declined, cancelled)
/// went through it.
#[derive(Clone)]
pub struct TrackedSink {
    inner: Arc<dyn Fn(TransferEvent) + Send + Sync>,
    finished: Arc<AtomicBool>,
}

impl TrackedSink {
    /// Tracks events passed to `inner`.
    pub fn new(inner: impl Fn(TransferEvent) + Send + Sync + 'static) -> Self {
        Self {
            inner: Arc::new(inner),
            finished: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The sink to hand to the engine.
    pub fn sink(&self) -> EventSink {
        let this = self.clone();
        Arc::new(move |event| this.emit(event))
    }

    /// Forwards one event.
    pub fn emit(&self, event: TransferEvent) {
        if is_terminal(&event) {
            self.finished.store(true, Ordering::SeqCst);
        }
        (self.inner)(event);
    }

    /// Ends the transfer with `failed` unless the engine already reported an outcome.
    pub fn fail_unless_finished(&self, reason: String) {
        if !self.finished.load(Ordering::SeqCst) {
            self.emit(TransferEvent::Failed {
                reason,
                cause: None,
            });
        }
    }
}

/// True for the events that end a transfer.
pub fn is_terminal(event: &TransferEvent) -> bool {
    matches!(
        event,
        TransferEvent::Done { .. }
            | TransferEvent::Failed { .. }
            | TransferEvent::Declined { .. }
            | TransferEvent::Cancelled { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_sink_adds_failure_only_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let sink = TrackedSink::new(move |e| s2.lock().unwrap().push(e));
        sink.emit(TransferEvent::Accepted);
        sink.fail_unless_finished("boom".into());
        sink.fail_unless_finished("again".into());
        assert_eq!(seen.lock().unwrap().len(), 2);

        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let sink = TrackedSink::new(move |e| s2.lock().unwrap().push(e));
        (sink.sink())(TransferEvent::Declined {
            reason: "no".into(),
        });
        sink.fail_unless_finished("x".into());
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}
