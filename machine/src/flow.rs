//! Flow control between the sender and the receiver's disk: the store window's arithmetic on
//! both sides, so the drivers only carry its numbers.
//!
//! Why: SCTP's receive window only bounds what sits inside the association; once a WebRTC
//! stack has taken a message, the window reopens, and a receiver whose disk stalls piles
//! frames up in its stack's queues (55 MiB were seen held there). So the receiver reports what
//! reached its disk ([`ControlMsg::Stored`], counted per connection), and the sender keeps at
//! most [`STORE_WINDOW`] bytes sent on that connection beyond it.
//!
//! [`ControlMsg::Stored`]: peerdrop_proto::transfer::ControlMsg::Stored

use peerdrop_proto::transfer::STORE_WINDOW;

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
}
