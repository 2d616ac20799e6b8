//! The transfer protocol as pure state machines: events in, actions out, no I/O.
//!
//! [`sender::SenderMachine`] and [`receiver::ReceiverMachine`] hold every protocol decision —
//! what to send when, which frames are acceptable, when a file is complete, when the transfer
//! is over and how it ended. The async drivers in `peerdrop-core`'s `engine` only move bytes
//! between these machines, the data channels and the disk.
//!
//! This crate is its own so that "pure" is enforced, not a convention: it depends on no async
//! runtime, no WebRTC, no file or socket I/O and reads no clock, and it builds for
//! `wasm32-unknown-unknown` (the browser peer runs the same protocol). Beside the machines
//! live the pure pieces they decide with: the store window's arithmetic ([`flow`]), byte ranges ([`ranges`]), speed and ETA ([`rate`]), safe names ([`names`]),
//! the verification phrase ([`sas`]) and the fingerprint form it hashes ([`fingerprint`]). That split is what lets every edge case
//! (decline, cancel mid-file, peer gone, duplicate frame, hash mismatch, hostile names) be a
//! fast unit test with no sockets.
//!
//! The machines own their timers but not the clock ([`time`]): each input comes with `now`,
//! `poll_timeout()` says when to wake them and `handle_timeout(now)` fires what is due, so a
//! simulated clock runs whole transfers — cuts, reconnection windows, a silent peer — in
//! microseconds (the `sim` tests).

use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::transfer::FailureCause;
use std::time::Duration;

pub mod fingerprint;
pub mod flow;
pub mod names;
pub mod ranges;
pub mod rate;
pub mod receiver;
pub mod sas;
pub mod sender;
pub mod time;
mod words;

/// How long either side keeps a cut transfer alive, waiting for a new connection to the same
/// device (the sender dialling again, the receiver waiting for it) before it gives up.
pub const RECONNECT_WINDOW: Duration = Duration::from_secs(120);

/// How long a connection may carry a transfer with no sign of progress before the side that
/// waits for it takes the connection for stuck. The sender counts bytes the connection took
/// from it, bytes the receiver stored and files it confirmed, and then makes a new connection,
/// resuming where the receiver is; the receiver, while it still expects bytes, counts what
/// arrives, and then drops the connection and waits for the sender to come back. A path was
/// seen to make no progress for 150 s with neither side giving up; a slow path still moves
/// bytes, and a slow disk flushes in far less than this. While the receiver verifies a very
/// large file after the last byte, a new connection is harmless: it resumes with everything
/// there, and the answer comes on it.
pub const STALL_LIMIT: Duration = Duration::from_secs(60);

/// How a transfer ended, seen from either side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every file was received and verified.
    Completed,
    /// The receiver said no.
    Declined(String),
    /// One side cancelled.
    Cancelled(String),
    /// The connection to the peer was lost and could not be resumed.
    Disconnected(String),
    /// The receiver refused the offer as unsafe (hostile names, impossible sizes).
    Refused(String),
    /// Something went wrong; the string is the one line a user needs.
    Failed(String),
    /// The receiving device ran out of space ([`FailureCause::DiskFull`]); what arrived is
    /// kept for a resume.
    DiskFull(String),
    /// Every file that failed did not match its hash ([`FailureCause::HashMismatch`]).
    HashMismatch(String),
}

impl Outcome {
    /// Whether this is the one happy ending.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Completed)
    }

    /// The event that reports this ending to a front end. Success has none here: the driver
    /// reports it as [`TransferEvent::Done`] with timing it alone knows.
    pub fn event(&self) -> Option<TransferEvent> {
        match self {
            Outcome::Completed => None,
            Outcome::Declined(reason) => Some(TransferEvent::Declined {
                reason: reason.clone(),
            }),
            Outcome::Cancelled(reason) => Some(TransferEvent::Cancelled {
                reason: reason.clone(),
            }),
            Outcome::Disconnected(reason) | Outcome::Refused(reason) | Outcome::Failed(reason) => {
                Some(TransferEvent::Failed {
                    reason: reason.clone(),
                    cause: None,
                })
            }
            Outcome::DiskFull(reason) | Outcome::HashMismatch(reason) => {
                Some(TransferEvent::Failed {
                    reason: reason.clone(),
                    cause: self.cause(),
                })
            }
        }
    }

    /// The typed cause of a failure, when it has one.
    pub fn cause(&self) -> Option<FailureCause> {
        match self {
            Outcome::DiskFull(_) => Some(FailureCause::DiskFull),
            Outcome::HashMismatch(_) => Some(FailureCause::HashMismatch),
            _ => None,
        }
    }

    /// The one line to show, whatever the ending ("" for success).
    pub fn reason(&self) -> &str {
        match self {
            Outcome::Completed => "",
            Outcome::Declined(r)
            | Outcome::Cancelled(r)
            | Outcome::Disconnected(r)
            | Outcome::Refused(r)
            | Outcome::Failed(r)
            | Outcome::DiskFull(r)
            | Outcome::HashMismatch(r) => r,
        }
    }
}

#[cfg(test)]
mod protocol_vectors;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
