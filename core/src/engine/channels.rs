//! One pump task per data channel: `DataChannel::poll` is the only way to get a channel's
//! events, and every channel must be polled continuously or the connection's driver stalls.
//! The pump turns events into [`ChannelEvent`]s on a bounded queue, so a slow consumer
//! (a busy disk) stops the pump, which leaves bytes in SCTP's receive window, which throttles
//! the sender: end-to-end backpressure with bounded memory.

use bytes::BytesMut;
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};
use webrtc::data_channel::{DataChannel, DataChannelEvent};

/// Messages buffered between a channel and its consumer (a data frame is 256 KiB at most; the
/// sender's store window bounds what is queued in all to 16 MiB).
pub const PUMP_QUEUE: usize = 64;

/// What a pump reports.
#[derive(Debug)]
pub enum ChannelEvent {
    /// The channel opened.
    Open,
    /// A message arrived.
    Message {
        /// Whether it was sent as text.
        is_text: bool,
        /// Its bytes.
        data: BytesMut,
    },
    /// The channel closed (or errored): nothing more will arrive.
    Closed,
}

/// Spawns the pump of `channel`, sending into `queue`.
pub fn spawn_pump(channel: Arc<dyn DataChannel>, queue: mpsc::Sender<ChannelEvent>) {
    spawn_pump_notifying(channel, queue, None);
}

/// [`spawn_pump`] that also wakes `drained` whenever the channel's buffered amount falls to
/// its low threshold (how a sender capping its bytes in flight learns that bytes were
/// acknowledged; see [`super::in_flight`]).
pub fn spawn_pump_notifying(
    channel: Arc<dyn DataChannel>,
    queue: mpsc::Sender<ChannelEvent>,
    drained: Option<Arc<Notify>>,
) {
    tokio::spawn(async move {
        while let Some(event) = channel.poll().await {
            let forwarded = match event {
                DataChannelEvent::OnOpen => queue.send(ChannelEvent::Open).await,
                DataChannelEvent::OnMessage(msg) => {
                    queue
                        .send(ChannelEvent::Message {
                            is_text: msg.is_string,
                            data: msg.data,
                        })
                        .await
                }
                DataChannelEvent::OnBufferedAmountLow => {
                    if let Some(drained) = &drained {
                        drained.notify_one();
                    }
                    Ok(())
                }
                DataChannelEvent::OnClose | DataChannelEvent::OnError => break,
                _ => Ok(()),
            };
            if forwarded.is_err() {
                // The consumer is gone; keep draining so the connection driver never stalls.
                while channel.poll().await.is_some() {}
                return;
            }
        }
        let _ = queue.send(ChannelEvent::Closed).await;
    });
}
