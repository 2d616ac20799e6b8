//! [`AppError`]: what a command reports to the UI — one line a user can read.

use serde::{Serialize, Serializer};
use thiserror::Error;

/// Why a command failed.
#[derive(Debug, Error)]
pub enum AppError {
    /// Another transfer of the same direction is running.
    #[error("a transfer is already running")]
    Busy,
    /// There is no offer waiting for an answer.
    #[error("no incoming transfer is waiting for an answer")]
    NoPendingOffer,
    /// No send is waiting for the answer to an "identity changed" warning.
    #[error("no send is waiting for an answer about a changed identity")]
    NoChangedIdentityQuestion,
    /// The UI named a file or folder by a handle the app never gave out (see
    /// [`crate::grants`]): nothing is opened. Only a broken or compromised page does this;
    /// choosing the files again gives fresh handles.
    #[error("refused: \"{handle}\" is not a file or folder chosen in this app (pick it with Choose files, Choose folder or by dropping it on the window)")]
    UnknownItem {
        /// The refused handle, shortened.
        handle: String,
    },
    /// Reading or writing settings or folders failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The settings were not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Something in Tauri failed (dialog, opener, paths).
    #[error("{0}")]
    Platform(String),
}

impl AppError {
    /// An I/O error with context.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// Result of a command.
pub type AppResult<T> = Result<T, AppError>;
