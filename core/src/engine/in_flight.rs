//! A cap on the bytes in flight on each data channel, sized from the path's round-trip time.
//!
//! Why: `rtc-sctp` 0.21 does not pace. Whatever its windows allow leaves in one burst, and the
//! data channel's send buffer (2 MiB, fixed when the connection is built; see
//! [`crate::rtc::RtcSettings::send_buffer_limit`]) is what bounds the bytes in flight. On a
//! short path with a shallow bottleneck queue (a home router, a `tbf` shaper with a 625 KB
//! queue) 2 MiB in flight overflow the queue, packets drop, and SCTP halves its window: a
//! 100 Mbit/s link carried 78% goodput. The link only needs its bandwidth-delay product in
//! flight, and with 512 KiB the same link carried 91%, the ceiling its per-packet overhead
//! allows (docs/BENCHMARKS.md).
//!
//! So the sender measures the round-trip time of the selected ICE pair once the transfer
//! starts and caps each channel's outstanding bytes at what `TARGET_RATE` needs over that
//! round trip, never below `MIN_CAP` (the driver wakes every few milliseconds, so even a
//! zero-RTT path needs a few milliseconds of data queued) and never above the send buffer,
//! which then stays the limit on long paths. Loopback-only connections are not capped
//! (nothing to overflow; measured fastest with the full buffer). The arithmetic is the
//! protocol crate's ([`crate::machine::flow::in_flight_cap`]); this is the channel that
//! waits for it.

use bytes::BytesMut;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use webrtc::data_channel::DataChannel;

use super::transport::{MessageOut, RtcChannel};
use crate::error::CoreError;

/// How long a capped sender waits for the channel's "drained" signal before it looks again
/// anyway (a backstop against a lost wake-up).
const RECHECK: Duration = Duration::from_millis(10);

/// A main data channel whose sends, once [`CappedChannel::set_cap`] has run, wait until
/// fewer than the cap's bytes are outstanding. The channel's low-threshold event (set to
/// half the cap) wakes a waiting send through `drained`
/// ([`super::channels::spawn_pump_notifying`]). Uncapped, it is a plain [`RtcChannel`].
pub struct CappedChannel {
    inner: RtcChannel,
    /// Bytes allowed in flight; 0 = no cap (the send buffer is the bound).
    cap: AtomicUsize,
    drained: Arc<Notify>,
}

impl CappedChannel {
    /// Wraps `channel`, uncapped; its pump must wake `drained` when it drains.
    pub fn new(channel: Arc<dyn DataChannel>, drained: Arc<Notify>) -> Self {
        CappedChannel {
            inner: RtcChannel(channel),
            cap: AtomicUsize::new(0),
            drained,
        }
    }

    /// Caps the bytes in flight at `cap` from now on.
    pub async fn set_cap(&self, cap: usize) -> Result<(), CoreError> {
        let threshold = u32::try_from(cap / 2).unwrap_or(u32::MAX);
        self.inner
            .0
            .set_buffered_amount_low_threshold(threshold)
            .await
            .map_err(|e| CoreError::Connect(format!("setting the drain threshold: {e}")))?;
        self.cap.store(cap, Ordering::Release);
        Ok(())
    }
}

#[async_trait::async_trait]
impl MessageOut for CappedChannel {
    async fn send_text(&self, text: &str) -> Result<(), CoreError> {
        self.inner.send_text(text).await
    }

    async fn send_binary(&self, frame: BytesMut) -> Result<(), CoreError> {
        let cap = self.cap.load(Ordering::Acquire);
        if cap > 0 {
            while self.inner.outstanding().await + frame.len() > cap {
                let _ = tokio::time::timeout(RECHECK, self.drained.notified()).await;
            }
        }
        self.inner.send_binary(frame).await
    }

    async fn outstanding(&self) -> usize {
        self.inner.outstanding().await
    }
}
