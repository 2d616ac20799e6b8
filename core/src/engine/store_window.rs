//! The sender's store-window gate: the streaming task sends no payload byte on a connection
//! beyond the allowance the sender machine last granted ([`TxAction::Allow`], computed by
//! `peerdrop_machine::flow` from the receiver's [`ControlMsg::Stored`] reports).
//!
//! Why a gate and not the arithmetic: the machine decides how far the sender may run ahead
//! of the receiver's disk; this only makes the streaming task wait for it, woken by a
//! `watch` channel (no polling, no lost wake-up).
//!
//! [`TxAction::Allow`]: crate::machine::sender::TxAction::Allow
//! [`ControlMsg::Stored`]: peerdrop_proto::transfer::ControlMsg::Stored

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// One connection's gate (each streaming task gets its own: a new connection starts at 0).
pub struct StoreWindow {
    allowed: watch::Sender<u64>,
    sent: AtomicU64,
}

impl StoreWindow {
    /// A gate that allows nothing until the first [`StoreWindow::allow`].
    pub fn new() -> Arc<Self> {
        Arc::new(StoreWindow {
            allowed: watch::Sender::new(0),
            sent: AtomicU64::new(0),
        })
    }

    /// The machine allows `up_to` payload bytes on this connection in total (never shrinks).
    pub fn allow(&self, up_to: u64) {
        self.allowed.send_if_modified(|allowed| {
            let grows = up_to > *allowed;
            if grows {
                *allowed = up_to;
            }
            grows
        });
    }

    /// Waits until `len` more bytes are allowed, then counts them as sent. One task reserves
    /// per gate (the streaming task), so the check and the count cannot race.
    pub async fn reserve(&self, len: u64) {
        let sent = self.sent.load(Ordering::Acquire);
        // Per frame on the hot path: only a send past the allowance subscribes and waits.
        if sent + len > *self.allowed.borrow() {
            let mut allowed = self.allowed.subscribe();
            // The sender half lives in `self`, so the channel cannot close while we wait.
            let _ = allowed.wait_for(|allowed| sent + len <= *allowed).await;
        }
        self.sent.fetch_add(len, Ordering::AcqRel);
    }

    /// Bytes sent through this gate so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_send_past_the_allowance_waits_until_the_machine_allows_more() {
        let window = StoreWindow::new();
        window.allow(100);
        window.reserve(100).await;
        let waiting = {
            let window = window.clone();
            tokio::spawn(async move { window.reserve(1).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "sent beyond the allowance");
        window.allow(50);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiting.is_finished(),
            "a smaller allowance opened the gate"
        );
        window.allow(101);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("woken once allowed one more byte")
            .unwrap();
        assert_eq!(window.sent(), 101);
    }
}
