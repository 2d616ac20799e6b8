//! The sender's half of the store window: at most [`STORE_WINDOW`] payload bytes sent on a
//! connection beyond what the receiver reported written to disk ([`ControlMsg::Stored`]).
//!
//! Why: SCTP's receive window only bounds what sits inside the association. Once `webrtc`
//! has handed a message to its data channel queue, the window reopens, and when the
//! receiver's disk stalls (an fsync behind gigabytes of dirty page cache) messages pile up
//! in that stack's queues: heaptrack showed 55 MiB of frames held there with a slowed disk,
//! and receiver peaks of 60–110 MiB on 4 GiB (docs/BENCHMARKS.md). Counting what actually
//! reached the disk bounds it end to end, whatever the transport buffers.
//!
//! [`ControlMsg::Stored`]: peerdrop_proto::transfer::ControlMsg::Stored

use peerdrop_proto::transfer::STORE_WINDOW;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Backstop for a lost wake-up while waiting for room.
const RECHECK: Duration = Duration::from_millis(100);

/// One connection's store window (a new connection starts a new one, as the receiver's
/// count restarts with it).
#[derive(Default)]
pub struct StoreWindow {
    sent: AtomicU64,
    stored: AtomicU64,
    moved: Notify,
}

impl StoreWindow {
    /// A window with nothing sent.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The receiver reported `bytes` of this connection written to disk.
    pub fn stored(&self, bytes: u64) {
        self.stored.fetch_max(bytes, Ordering::AcqRel);
        self.moved.notify_one();
    }

    /// Waits until `len` more bytes fit in the window, then counts them as sent.
    pub async fn reserve(&self, len: u64) {
        loop {
            let sent = self.sent.load(Ordering::Acquire);
            if sent + len <= self.stored.load(Ordering::Acquire) + STORE_WINDOW {
                self.sent.fetch_add(len, Ordering::AcqRel);
                return;
            }
            let _ = tokio::time::timeout(RECHECK, self.moved.notified()).await;
        }
    }

    /// Bytes sent on this connection so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_window_waits_for_the_receiver_to_store() {
        let window = StoreWindow::new();
        window.reserve(STORE_WINDOW).await;
        let waiting = {
            let window = window.clone();
            tokio::spawn(async move { window.reserve(1).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "sent beyond the window");
        window.stored(1);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("woken once the receiver stored a byte")
            .unwrap();
        assert_eq!(window.sent(), STORE_WINDOW + 1);
    }
}
