//! The one error type front ends see. Its `Display` is the one line a user needs.

use thiserror::Error;

use crate::machine::Outcome;
use crate::signaling::SignalError;
use crate::store::StoreError;

/// Why a send or receive did not succeed.
#[derive(Debug, Error)]
pub enum CoreError {
    /// Talking to the signaling server failed.
    #[error(transparent)]
    Signal(#[from] SignalError),
    /// The peer could not be reached (gone, offline, unknown code).
    #[error("{0}")]
    PeerUnavailable(String),
    /// Setting up the WebRTC connection failed.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The file system refused something.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The user typed something that is not a code.
    #[error("{0:?} is not a valid code (codes look like K7QM-2X)")]
    BadCode(String),
    /// The transfer ran but did not end well (declined, cancelled, failed).
    #[error("{}", outcome_text(.0))]
    Transfer(Outcome),
    /// This device's identity (certificate, pinned devices) could not be loaded.
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
}

fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Completed => "completed".into(),
        Outcome::Declined(r) | Outcome::Cancelled(r) | Outcome::Failed(r) => r.clone(),
    }
}
