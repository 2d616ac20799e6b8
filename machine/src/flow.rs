//! Flow control, as arithmetic the drivers only carry out: the store window between the
//! sender and the receiver's disk (both sides), and the in-flight cap a data channel is held
//! to ([`in_flight_cap`]).
//!
//! Why: SCTP's receive window only bounds what sits inside the association; once a WebRTC
//! stack has taken a message, the window reopens, and a receiver whose disk stalls piles
//! frames up in its stack's queues (55 MiB were seen held there). So the receiver reports what
//! reached its disk ([`ControlMsg::Stored`], counted per connection), and the sender keeps at
//! most [`STORE_WINDOW`] bytes sent on that connection beyond it.
//!
//! [`ControlMsg::Stored`]: peerdrop_proto::transfer::ControlMsg::Stored

use peerdrop_proto::transfer::STORE_WINDOW;
use std::time::Duration;

/// The sender's side of one connection's store window: how far it may send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendWindow {
    stored: u64,
}

impl SendWindow {
    /// A connection on which the receiver has stored nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Payload bytes the sender may have sent on this connection, in total.
    pub fn allowance(&self) -> u64 {
        self.stored.saturating_add(STORE_WINDOW)
    }

    /// The receiver reported `bytes` of this connection on disk. Returns the new allowance
    /// when it grew (reports may arrive out of order or repeat; the window never shrinks).
    pub fn stored(&mut self, bytes: u64) -> Option<u64> {
        if bytes <= self.stored {
            return None;
        }
        self.stored = bytes;
        Some(self.allowance())
    }
}

/// The receiver's side: what its disk has written, in total, and how much of it belongs to
/// the current connection (the sender counts per connection, so a new connection starts at 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreReports {
    total: u64,
    at_connect: u64,
}

impl StoreReports {
    /// Nothing written yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The disk has written `total` payload bytes of this transfer; returns what to report
    /// for the current connection.
    pub fn written(&mut self, total: u64) -> u64 {
        self.total = self.total.max(total);
        self.total - self.at_connect
    }

    /// The connection was replaced: the next connection's count starts from here.
    pub fn new_connection(&mut self) {
        self.at_connect = self.total;
    }
}

/// The rate the in-flight cap is sized for: a path up to this fast is never limited by it.
pub const TARGET_RATE: f64 = 125_000_000.0; // 1 Gbit/s in bytes per second

/// The smallest in-flight cap, whatever the round trip: a driver wakes every few
/// milliseconds, so even a zero-RTT path needs a few milliseconds of data queued.
pub const MIN_CAP: usize = 512 * 1024;

/// The bytes a data channel may have in flight on a path with round-trip time `rtt` and a
/// send buffer of `send_buffer` bytes: the path's bandwidth-delay product at [`TARGET_RATE`],
/// at least [`MIN_CAP`]; `None` when the send buffer is already the smaller bound. Why: the
/// WebRTC stack does not pace, so more in flight than the path holds overflows a shallow
/// router queue (a 100 Mbit/s link carried 78% with 2 MiB in flight, 91% with 512 KiB).
pub fn in_flight_cap(rtt: Duration, send_buffer: usize) -> Option<usize> {
    let bdp = (rtt.as_secs_f64() * TARGET_RATE) as usize;
    let cap = bdp.max(MIN_CAP);
    (cap < send_buffer).then_some(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_may_run_one_window_ahead_of_the_receivers_disk_and_never_back() {
        let mut window = SendWindow::new();
        assert_eq!(window.allowance(), STORE_WINDOW);
        assert_eq!(window.stored(1 << 20), Some((1 << 20) + STORE_WINDOW));
        assert_eq!(
            window.stored(1 << 20),
            None,
            "a repeated report opens nothing"
        );
        assert_eq!(
            window.stored(5),
            None,
            "a late, smaller report shrinks nothing"
        );
        assert_eq!(window.allowance(), (1 << 20) + STORE_WINDOW);
    }

    #[test]
    fn the_receiver_counts_what_it_stored_per_connection() {
        let mut reports = StoreReports::new();
        assert_eq!(reports.written(3 << 20), 3 << 20);
        reports.new_connection();
        assert_eq!(reports.written(3 << 20), 0, "nothing yet on the new one");
        assert_eq!(reports.written(4 << 20), 1 << 20);
        assert_eq!(reports.written(2 << 20), 1 << 20, "totals never go back");
    }

    #[test]
    fn the_in_flight_cap_covers_a_gigabit_path_and_never_exceeds_the_send_buffer() {
        let buffer = 2 * 1024 * 1024;
        // LAN, netns, shaped link: the floor.
        assert_eq!(in_flight_cap(Duration::ZERO, buffer), Some(MIN_CAP));
        assert_eq!(
            in_flight_cap(Duration::from_micros(200), buffer),
            Some(MIN_CAP)
        );
        // 10 ms: a gigabit needs 1.25 MB in flight.
        assert_eq!(
            in_flight_cap(Duration::from_millis(10), buffer),
            Some(1_250_000)
        );
        // 30 ms: more than the send buffer, which stays the bound.
        assert_eq!(in_flight_cap(Duration::from_millis(30), buffer), None);
    }
}
