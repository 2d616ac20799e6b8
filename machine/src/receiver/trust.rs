//! The trust decision: whether an offer is accepted without asking the person, from what the
//! verification found and what the person set up beforehand. One rule for the CLI's `--yes`
//! and `--trusted` and the app's "always accept", so no front end can forget the changed
//! identity.

use super::{Decision, Verification};

/// Whom the person said to accept without being asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptWithoutAsking {
    /// Everyone (`peerdrop receive --yes`): except a changed identity, which is declined,
    /// since nobody is there to compare the phrase.
    Everyone,
    /// Devices whose certificate was trusted here before (`receive --trusted`).
    Pinned,
    /// Devices on the person's "always accept" list; `listed` says whether this sender's
    /// certificate is on it.
    Listed {
        /// This sender's certificate is on the list.
        listed: bool,
    },
}

/// What to do with an offer before (or instead of) asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustVerdict {
    /// Decided without the person.
    Decided(Decision),
    /// The person must be asked (and compare the phrase).
    Ask,
}

/// The verdict for an offer verified as `verification` (`None`: nothing could be verified,
/// e.g. no certificate) under `policy`. A changed identity is never accepted without a
/// person; an unverified sender only when the person said everyone.
pub fn without_asking(
    verification: Option<&Verification>,
    policy: AcceptWithoutAsking,
) -> TrustVerdict {
    let changed = verification.is_some_and(|v| v.changed);
    let pinned = verification.is_some_and(|v| v.known && !v.changed && !v.fingerprint.is_empty());
    match policy {
        AcceptWithoutAsking::Everyone if changed => TrustVerdict::Decided(Decision::Decline(
            "the receiver does not auto-accept: this device's identity changed since it was trusted"
                .into(),
        )),
        AcceptWithoutAsking::Everyone => TrustVerdict::Decided(Decision::Accept),
        AcceptWithoutAsking::Pinned if pinned => TrustVerdict::Decided(Decision::Accept),
        AcceptWithoutAsking::Listed { listed: true } if pinned => {
            TrustVerdict::Decided(Decision::Accept)
        }
        AcceptWithoutAsking::Pinned | AcceptWithoutAsking::Listed { .. } => TrustVerdict::Ask,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(known: bool, changed: bool) -> Verification {
        Verification {
            phrase: "apple bird cloud dune".into(),
            known,
            changed,
            fingerprint: "AA:BB".into(),
        }
    }

    #[test]
    fn a_changed_identity_is_never_accepted_without_a_person() {
        let changed = verified(false, true);
        for policy in [
            AcceptWithoutAsking::Pinned,
            AcceptWithoutAsking::Listed { listed: true },
        ] {
            assert_eq!(without_asking(Some(&changed), policy), TrustVerdict::Ask);
        }
        assert!(matches!(
            without_asking(Some(&changed), AcceptWithoutAsking::Everyone),
            TrustVerdict::Decided(Decision::Decline(reason)) if reason.contains("identity changed")
        ));
    }

    #[test]
    fn trusted_devices_are_accepted_and_strangers_are_asked() {
        let pinned = verified(true, false);
        let stranger = verified(false, false);
        let accept = TrustVerdict::Decided(Decision::Accept);
        assert_eq!(
            without_asking(Some(&pinned), AcceptWithoutAsking::Pinned),
            accept
        );
        assert_eq!(
            without_asking(Some(&stranger), AcceptWithoutAsking::Pinned),
            TrustVerdict::Ask
        );
        assert_eq!(
            without_asking(Some(&pinned), AcceptWithoutAsking::Listed { listed: true }),
            accept
        );
        assert_eq!(
            without_asking(Some(&pinned), AcceptWithoutAsking::Listed { listed: false }),
            TrustVerdict::Ask,
            "pinned by a transfer, but not on the always-accept list"
        );
        assert_eq!(
            without_asking(None, AcceptWithoutAsking::Pinned),
            TrustVerdict::Ask
        );
        assert_eq!(without_asking(None, AcceptWithoutAsking::Everyone), accept);
        assert_eq!(
            without_asking(Some(&stranger), AcceptWithoutAsking::Everyone),
            accept
        );
    }
}
