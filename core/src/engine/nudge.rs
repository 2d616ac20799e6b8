//! Keeps a peer connection's driver from sleeping on packets it already has.
//!
//! `webrtc` 0.21's driver flushes what the SCTP association queued at the top of each loop
//! iteration, but some packets are queued *after* that flush in the same iteration (the
//! association's INIT when DTLS completes; the data-channel handshake when the association
//! is established; a window update once the application has read). They then wait for the
//! driver's next wake-up, which on an idle connection is its next timer, ≈ 200 ms later.
//! Measured on loopback: INIT left 200 ms after DTLS connected, and the DCEP OPENs 200 ms
//! after the association was established — 400 of the 455 ms connect time.
//!
//! Any data-channel setter wakes the driver for one iteration, so a task touching the control
//! channel every few milliseconds bounds every such wait to that period, for ≈ 200 cheap
//! calls per second. The task ends with the connection (or its channel).

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::{CancellationToken, DropGuard};
use webrtc::data_channel::DataChannel;

/// How often the driver is woken.
pub const NUDGE_INTERVAL: Duration = Duration::from_millis(5);

/// Starts nudging the driver of `channel`'s connection; stops when the guard is dropped or
/// the channel is gone.
pub fn spawn_nudger(channel: Arc<dyn DataChannel>) -> DropGuard {
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        let threshold = channel.buffered_amount_low_threshold().await.unwrap_or(0);
        let mut tick = tokio::time::interval(NUDGE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped.cancelled() => return,
                _ = tick.tick() => {
                    // Re-setting the same value changes nothing but wakes the driver.
                    if channel.set_buffered_amount_low_threshold(threshold).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    stop.drop_guard()
}
