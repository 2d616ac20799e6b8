//! When the app leaves its configured signaling server and when it goes back: a pure decision
//! type (no I/O, no clock) that [`crate::node`] drives.
//!
//! - The configured server answers: use it.
//! - It is unreachable (refused, timed out, lost): register on the built-in server meanwhile,
//!   so the app keeps working with this computer's other PeerDrops, and try the configured one
//!   again after 1 s, 2 s, 4 s … at most 30 s apart; the first answer moves the app back.
//! - It answers but TLS refuses it (its certificate is not trusted or not for its name): stay
//!   offline and say so, trying again on the same schedule. Never another server instead: one
//!   that is not who it claims to be must not look like a working connection.

use std::time::Duration;

/// First wait before trying the configured server again.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);

/// Longest wait between two tries.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// Doubling waits between attempts, capped.
#[derive(Clone, Debug)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Waits of `first`, twice that, … never more than `max`.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The wait before the next attempt; the one after is twice as long (up to the cap).
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// After a success the next failure waits the shortest time again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(RETRY_FIRST, RETRY_MAX)
    }
}

/// Why registering on the configured server failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Nobody answered (connection refused, timed out, name not found, lost).
    Unreachable(String),
    /// Something answered, but TLS refused it (certificate, handshake): the whole line says why.
    Refused(String),
}

/// What to do while the configured server cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Meanwhile {
    /// Register on the built-in server, showing `note`; try the configured one after `retry_in`.
    UseBuiltin {
        /// The status line's explanation.
        note: String,
        /// When to try the configured server again.
        retry_in: Duration,
    },
    /// Stay offline, showing `message`; try the configured server after `retry_in`.
    StayOffline {
        /// The status line's explanation.
        message: String,
        /// When to try again.
        retry_in: Duration,
    },
}

/// The configured server and the schedule of tries to get (back) to it.
#[derive(Clone, Debug)]
pub struct Failover {
    configured: String,
    backoff: Backoff,
}

impl Failover {
    /// A fresh schedule for `configured` (a new one whenever Settings change the server).
    pub fn new(configured: String) -> Self {
        Self {
            configured,
            backoff: Backoff::default(),
        }
    }

    /// The configured server's URL.
    pub fn configured(&self) -> &str {
        &self.configured
    }

    /// The configured server answered (and is used): a later failure starts from the
    /// shortest wait.
    pub fn answered(&mut self) {
        self.backoff.reset();
    }

    /// It did not answer, or was refused: what to do meanwhile, and when to try again.
    pub fn failed(&mut self, failure: &Failure) -> Meanwhile {
        let retry_in = self.backoff.next_wait();
        let url = &self.configured;
        match failure {
            Failure::Unreachable(reason) => Meanwhile::UseBuiltin {
                note: format!(
                    "{url} is unreachable ({reason}); using the built-in server on this computer until it answers (next try in {})",
                    seconds(retry_in)
                ),
                retry_in,
            },
            Failure::Refused(line) => Meanwhile::StayOffline {
                message: format!("{line}. Next try in {}", seconds(retry_in)),
                retry_in,
            },
        }
    }
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn waits_double_from_one_second_up_to_thirty() {
        let mut backoff = Backoff::default();
        let waits: Vec<u64> = (0..8).map(|_| backoff.next_wait().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        backoff.reset();
        assert_eq!(backoff.next_wait(), secs(1));
    }

    #[test]
    fn an_unreachable_server_is_replaced_by_the_built_in_one_and_retried() {
        let mut failover = Failover::new("wss://peerdrop.example.org/ws".into());
        let down = Failure::Unreachable("Connection refused (os error 111)".into());
        match failover.failed(&down) {
            Meanwhile::UseBuiltin { note, retry_in } => {
                assert_eq!(retry_in, secs(1));
                assert_eq!(
                    note,
                    "wss://peerdrop.example.org/ws is unreachable (Connection refused (os error 111)); \
                     using the built-in server on this computer until it answers (next try in 1 s)"
                );
            }
            other => panic!("{other:?}"),
        }
        let retries: Vec<Duration> = (0..6)
            .map(|_| match failover.failed(&down) {
                Meanwhile::UseBuiltin { retry_in, .. } => retry_in,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            retries,
            [secs(2), secs(4), secs(8), secs(16), secs(30), secs(30)]
        );
    }

    #[test]
    fn coming_back_returns_to_it_and_restarts_the_schedule() {
        let mut failover = Failover::new("ws://192.168.1.10:8787/ws".into());
        let down = Failure::Unreachable("timed out".into());
        for _ in 0..4 {
            failover.failed(&down);
        }
        failover.answered();
        // Lost again later: the first try comes after the shortest wait, not the longest.
        assert!(matches!(
            failover.failed(&down),
            Meanwhile::UseBuiltin { retry_in, .. } if retry_in == secs(1)
        ));
    }

    #[test]
    fn a_refused_certificate_is_never_replaced_by_another_server() {
        let mut failover = Failover::new("wss://peerdrop.example.org/ws".into());
        let refused = Failure::Refused(
            "the server wss://peerdrop.example.org/ws presented a certificate this device does not trust (unknown issuer)"
                .into(),
        );
        match failover.failed(&refused) {
            Meanwhile::StayOffline { message, retry_in } => {
                assert_eq!(retry_in, secs(1));
                assert!(
                    message.contains("(unknown issuer). Next try in 1 s"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            failover.failed(&refused),
            Meanwhile::StayOffline { retry_in, .. } if retry_in == secs(2)
        ));
    }
}
