//! The exit codes of `peerdrop`, one per cause a script may want to act on. Stable: they are
//! part of the command-line contract (README "Exit codes"). Code 2 is clap's: the command
//! line was wrong.

use peerdrop_core::{CoreError, Outcome};

/// Every file was sent (or received) and verified.
pub const OK: u8 = 0;
/// Any other failure (a file that cannot be read, a protocol error, …).
pub const FAILED: u8 = 1;
/// The receiver declined.
pub const DECLINED: u8 = 3;
/// No such device or code, or it could not be reached (server or peer).
pub const UNREACHABLE: u8 = 4;
/// The connection to the peer was lost and could not be resumed.
pub const DISCONNECTED: u8 = 5;
/// Refused for safety: the receiver's identity changed since it was trusted, or the
/// receiver refused unsafe names or sizes.
pub const REFUSED: u8 = 6;
/// Cancelled by either side (Ctrl-C here, or the other person).
pub const CANCELLED: u8 = 7;
/// The receiving disk is full (on either side of the transfer: the receiver's own disk, or the
/// receiver said so). What arrived is kept: free some space and send again to resume.
pub const DISK_FULL: u8 = 8;
/// A file arrived whole but did not match its BLAKE3 (corrupted in transit); it was not kept.
pub const HASH_MISMATCH: u8 = 9;

/// Every exit code with its meaning, for the manual page (`peerdrop man`).
pub const DOCUMENTED: [(u8, &str); 10] = [
    (OK, "Every file was sent (or received) and verified."),
    (FAILED, "Any other failure: a file that cannot be read, a protocol error."),
    (2, "The command line was wrong."),
    (DECLINED, "The receiver declined."),
    (UNREACHABLE, "No such device or code, or it could not be reached (server or peer)."),
    (DISCONNECTED, "The connection to the peer was lost and could not be resumed."),
    (REFUSED, "Refused for safety: the receiver's identity changed since it was trusted, or the receiver refused unsafe names or sizes."),
    (CANCELLED, "Cancelled by either side (Ctrl-C here, or the other person)."),
    (DISK_FULL, "The receiving disk is full; what arrived is kept: free space and send again to resume."),
    (HASH_MISMATCH, "A file did not match its hash (corrupted in transit) and was not kept."),
];

/// A core error with advice for the person, printed after the reason; its exit code is the
/// error's.
#[derive(Debug, thiserror::Error)]
#[error("{error}. {hint}")]
pub struct Hinted {
    /// What went wrong.
    pub error: CoreError,
    /// What the person can do about it.
    pub hint: &'static str,
}

/// How serious each exit code is when a send to several receivers fails for more than one
/// (most serious first): a safety refusal, then lost or corrupted data, then failures, then
/// a receiver that could not be reached, then a person's choice (declined, cancelled).
const SEVERITY: [u8; 9] = [
    REFUSED,
    HASH_MISMATCH,
    DISK_FULL,
    FAILED,
    DISCONNECTED,
    UNREACHABLE,
    DECLINED,
    CANCELLED,
    OK,
];

/// The index in `errors` of the most serious one (see [`SEVERITY`]), `None` when empty: the
/// one a send to several receivers exits with.
pub fn most_serious(errors: &[anyhow::Error]) -> Option<usize> {
    let rank = |error: &anyhow::Error| {
        let code = code_for(error);
        SEVERITY
            .iter()
            .position(|c| *c == code)
            .unwrap_or(SEVERITY.len())
    };
    (0..errors.len()).min_by_key(|i| rank(&errors[*i]))
}

/// The exit code for a command that ended with `error`.
pub fn code_for(error: &anyhow::Error) -> u8 {
    let core = error.chain().find_map(|e| {
        e.downcast_ref::<CoreError>()
            .or_else(|| e.downcast_ref::<Hinted>().map(|h| &h.error))
    });
    match core {
        Some(core) => code_for_core(core),
        None => FAILED,
    }
}

fn code_for_core(error: &CoreError) -> u8 {
    match error {
        CoreError::IdentityChanged(_) => REFUSED,
        CoreError::Transfer(outcome) => match outcome {
            Outcome::Completed => OK,
            Outcome::Declined(_) => DECLINED,
            Outcome::Cancelled(_) => CANCELLED,
            Outcome::Disconnected(_) => DISCONNECTED,
            Outcome::Refused(_) => REFUSED,
            Outcome::Failed(_) => FAILED,
            Outcome::DiskFull(_) => DISK_FULL,
            Outcome::HashMismatch(_) => HASH_MISMATCH,
        },
        CoreError::NotFound { .. }
        | CoreError::AmbiguousName { .. }
        | CoreError::BadCode(_)
        | CoreError::PeerUnavailable(_)
        | CoreError::Connect(_)
        | CoreError::Signal(_) => UNREACHABLE,
        CoreError::Store(_) | CoreError::Lan(_) | CoreError::Identity(_) => FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_has_its_own_code() {
        let transfer = |o| anyhow::Error::new(CoreError::Transfer(o));
        assert_eq!(
            code_for(&transfer(Outcome::Declined("no".into()))),
            DECLINED
        );
        assert_eq!(
            code_for(&transfer(Outcome::Cancelled("x".into()))),
            CANCELLED
        );
        assert_eq!(
            code_for(&transfer(Outcome::Disconnected("x".into()))),
            DISCONNECTED
        );
        assert_eq!(code_for(&transfer(Outcome::Refused("x".into()))), REFUSED);
        assert_eq!(code_for(&transfer(Outcome::Failed("x".into()))), FAILED);
        assert_eq!(
            code_for(&transfer(Outcome::DiskFull("x".into()))),
            DISK_FULL
        );
        assert_eq!(
            code_for(&transfer(Outcome::HashMismatch("x".into()))),
            HASH_MISMATCH
        );
        let hinted = anyhow::Error::new(CoreError::BadCode("zz".into())).context("while sending");
        assert_eq!(code_for(&hinted), UNREACHABLE, "found through context");
        assert_eq!(code_for(&anyhow::anyhow!("disk on fire")), FAILED);
        let change = peerdrop_core::IdentityChange {
            peer: "Laptop-A".into(),
            pinned_as: "Laptop-A".into(),
            previous: "aa".into(),
            now: "bb".into(),
        };
        let refused = anyhow::Error::new(Hinted {
            error: CoreError::IdentityChanged(change),
            hint: "try again",
        });
        assert_eq!(code_for(&refused), REFUSED);
        assert!(format!("{refused:#}").ends_with("nothing was sent. try again"));
        let codes = [
            OK,
            FAILED,
            2,
            DECLINED,
            UNREACHABLE,
            DISCONNECTED,
            REFUSED,
            CANCELLED,
            DISK_FULL,
            HASH_MISMATCH,
        ];
        let mut unique = codes.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        assert_eq!(
            DOCUMENTED.map(|(code, _)| code),
            codes,
            "the manual lists every code"
        );
    }
}
