//! What a sender does when the receiver is not the device the person trusted under that name.
//!
//! A receiver whose name looks like a pinned device's but whose certificate is another one is
//! either that device reinstalled or someone pretending to be it (a hostile server can
//! present any device under any name). Before anything is sent — not even the file list —
//! the driver asks [`OnChangedIdentity`]; only a person's explicit "go on" lets the transfer
//! start. The CLI refuses unless its explicit flag says so (`--yes` is about receiving and
//! never covers this); the app asks with a warning dialog.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A receiver presenting a certificate other than the one pinned for the name it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityChange {
    /// The name the receiver uses now (display form).
    pub peer: String,
    /// The name the trusted device was pinned under.
    pub pinned_as: String,
    /// The trusted device's certificate fingerprint.
    pub previous: String,
    /// The certificate fingerprint presented now.
    pub now: String,
}

/// Asks a person whether to send to a changed identity; resolves to `true` to go on.
pub type ConfirmChange =
    Arc<dyn Fn(IdentityChange) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// The sender's policy for a changed identity, chosen by the front end.
#[derive(Clone, Default)]
pub enum OnChangedIdentity {
    /// Send nothing and end with [`crate::CoreError::IdentityChanged`].
    #[default]
    Refuse,
    /// The person said beforehand to go on (e.g. they reinstalled that device themselves).
    Proceed,
    /// Ask the person, with the details, and wait for the answer.
    Ask(ConfirmChange),
}

impl std::fmt::Debug for OnChangedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OnChangedIdentity::Refuse => "Refuse",
            OnChangedIdentity::Proceed => "Proceed",
            OnChangedIdentity::Ask(_) => "Ask",
        })
    }
}

impl OnChangedIdentity {
    /// Whether to go on with `change`.
    pub async fn allows(&self, change: &IdentityChange) -> bool {
        match self {
            OnChangedIdentity::Refuse => false,
            OnChangedIdentity::Proceed => true,
            OnChangedIdentity::Ask(confirm) => confirm(change.clone()).await,
        }
    }
}
