//! What a transfer looks like on screen, folded from the engine's [`TransferEvent`]s.
//!
//! This is plain Rust with no DOM, so every transition (offer → accepted → progress → done,
//! declined, failed, cancelled) is unit-tested natively. The pages hold one [`Transfer`] in a
//! signal for the receive side and one for the send side and call [`Transfer::apply`] on each
//! event.

use peerdrop_proto::events::{FileSummary, PathKind, TransferEvent};
use peerdrop_proto::transfer::FailureCause;

/// Where a transfer stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Nothing going on.
    Idle,
    /// Receiver: an offer waits for Accept/Decline.
    Offered,
    /// Sender: looking up the receiver / setting up the connection.
    Connecting,
    /// Sender: the receiver has been asked and not yet answered.
    AwaitingAnswer,
    /// Bytes are moving.
    Running,
    /// Every file arrived and was verified.
    Done {
        /// Seconds from accept to the last verification.
        seconds: f64,
        /// Folder the files are in (receiver only).
        saved_to: Option<String>,
    },
    /// The receiver declined.
    Declined(String),
    /// It failed; the one line to show.
    Failed(String),
    /// One side cancelled.
    Cancelled(String),
}

impl Phase {
    /// True while the transfer is still going (a new one cannot start).
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Phase::Offered | Phase::Connecting | Phase::AwaitingAnswer | Phase::Running
        )
    }

    /// True once it ended, whatever the outcome.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            Phase::Done { .. } | Phase::Declined(_) | Phase::Failed(_) | Phase::Cancelled(_)
        )
    }
}

/// One file's progress.
#[derive(Clone, Debug, PartialEq)]
pub struct FileRow {
    /// Relative path.
    pub path: String,
    /// Size in bytes (0 while unknown on the sender side).
    pub size: u64,
    /// Bytes moved.
    pub done: u64,
    /// The receiver verified its hash.
    pub verified: bool,
}

/// The short authentication phrase both screens show (see `TransferEvent::Verify`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// Four words; the same on both devices means nobody is in the middle.
    pub phrase: String,
    /// This device verified the other one before (its identity is pinned).
    pub known: bool,
    /// A device remembered under this name now has a different identity: warn loudly.
    pub changed: bool,
    /// With `known`: the name the device was trusted under, when it now uses another one.
    pub pinned_as: Option<String>,
}

/// Sender side: the receiver is not the device trusted under its name. Nothing has been sent;
/// the Send page asks Cancel / Send anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityWarning {
    /// The name the receiver uses now.
    pub peer: String,
    /// The name the trusted device was pinned under.
    pub pinned_as: String,
    /// The trusted fingerprint.
    pub previous: String,
    /// The fingerprint presented now.
    pub fingerprint: String,
}

/// Everything the progress card shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    /// Current phase.
    pub phase: Phase,
    /// The other device's name.
    pub peer: String,
    /// Files, in the order offered (sender: in the order they start moving).
    pub files: Vec<FileRow>,
    /// Bytes moved over all files.
    pub done: u64,
    /// Total bytes.
    pub total: u64,
    /// Recent throughput.
    pub bytes_per_sec: f64,
    /// Estimated seconds left.
    pub eta_secs: Option<f64>,
    /// The network path, once known.
    pub path: Option<PathKind>,
    /// The verification phrase, once both sides derived it.
    pub verify: Option<Verification>,
    /// Set while the connection is being re-established to resume (the reason).
    pub reconnecting: Option<String>,
    /// Sender: set while a busy receiver holds this offer in its line (the place, 1 = next).
    pub queued: Option<u32>,
    /// Set while the sender waits for the person's answer about a changed identity.
    pub identity_warning: Option<IdentityWarning>,
    /// A text (or link) offered instead of files.
    pub text: Option<String>,
}

impl Default for Transfer {
    fn default() -> Self {
        Self {
            phase: Phase::Idle,
            peer: String::new(),
            files: Vec::new(),
            done: 0,
            total: 0,
            bytes_per_sec: 0.0,
            eta_secs: None,
            path: None,
            verify: None,
            reconnecting: None,
            queued: None,
            identity_warning: None,
            text: None,
        }
    }
}

impl Transfer {
    /// A sender's transfer that has just been started towards `peer` with `total` bytes.
    pub fn sending(peer: &str, total: u64) -> Self {
        Self {
            phase: Phase::Connecting,
            peer: peer.to_string(),
            total,
            ..Self::default()
        }
    }

    /// Folds one event in. Events that do not concern a transfer (code, nearby) are ignored.
    pub fn apply(&mut self, event: &TransferEvent) {
        match event {
            TransferEvent::Incoming {
                from,
                files,
                total_size,
                text,
                ..
            } => {
                // Keep what the connection already established (phrase, path).
                *self = Self {
                    phase: Phase::Offered,
                    peer: from.clone(),
                    files: files.iter().map(row).collect(),
                    total: *total_size,
                    verify: self.verify.take(),
                    path: self.path.take(),
                    text: text.clone(),
                    ..Self::default()
                };
            }
            TransferEvent::Verify {
                phrase,
                known,
                changed,
                pinned_as,
                ..
            } => {
                self.identity_warning = None;
                self.verify = Some(Verification {
                    phrase: phrase.clone(),
                    known: *known,
                    changed: *changed,
                    pinned_as: pinned_as.clone(),
                });
            }
            TransferEvent::IdentityChanged {
                peer,
                pinned_as,
                previous,
                fingerprint,
            } => {
                self.identity_warning = Some(IdentityWarning {
                    peer: peer.clone(),
                    pinned_as: pinned_as.clone(),
                    previous: previous.clone(),
                    fingerprint: fingerprint.clone(),
                });
            }
            TransferEvent::Resumed { file, offset, size } => {
                match self.files.iter_mut().find(|f| &f.path == file) {
                    Some(f) => f.done = *offset,
                    None => self.files.push(FileRow {
                        path: file.clone(),
                        size: *size,
                        done: *offset,
                        verified: false,
                    }),
                }
            }
            TransferEvent::Reconnecting { reason } => self.reconnecting = Some(reason.clone()),
            TransferEvent::Queued { position } => self.queued = Some(*position),
            TransferEvent::Connecting { peer } => {
                if self.phase.is_finished() {
                    // A new transfer starts (receiver side); forget the last one.
                    *self = Self::default();
                }
                self.peer = peer.clone();
                if !matches!(self.phase, Phase::Offered | Phase::Running) {
                    self.phase = Phase::Connecting;
                }
            }
            TransferEvent::Connected { peer, .. } => {
                self.peer = peer.clone();
                self.reconnecting = None;
                self.queued = None;
                if matches!(self.phase, Phase::Connecting | Phase::Idle) {
                    self.phase = Phase::AwaitingAnswer;
                }
            }
            TransferEvent::Path { path } => self.path = Some(*path),
            TransferEvent::Accepted => self.phase = Phase::Running,
            TransferEvent::Text { text } => self.text = Some(text.clone()),
            TransferEvent::Declined { reason } => self.phase = Phase::Declined(reason.clone()),
            TransferEvent::Progress {
                done,
                total,
                bytes_per_sec,
                eta_secs,
                file,
            } => {
                self.reconnecting = None;
                if !self.phase.is_finished() {
                    self.phase = Phase::Running;
                }
                self.done = *done;
                self.total = *total;
                self.bytes_per_sec = *bytes_per_sec;
                self.eta_secs = *eta_secs;
                match file {
                    Some(file) => self.track_current(file),
                    None => self.spread_in_order(),
                }
            }
            TransferEvent::FileVerified { path, size, .. } => {
                match self
                    .files
                    .iter_mut()
                    .find(|f| &f.path == path && !f.verified)
                {
                    Some(f) => {
                        f.size = *size;
                        f.done = *size;
                        f.verified = true;
                    }
                    None => self.files.push(FileRow {
                        path: path.clone(),
                        size: *size,
                        done: *size,
                        verified: true,
                    }),
                }
            }
            TransferEvent::Done {
                bytes,
                seconds,
                saved_to,
                ..
            } => {
                self.done = (*bytes).max(self.done);
                self.total = self.total.max(self.done);
                self.eta_secs = Some(0.0);
                for f in &mut self.files {
                    f.done = f.size;
                    f.verified = true;
                }
                self.phase = Phase::Done {
                    seconds: *seconds,
                    saved_to: saved_to.clone(),
                };
            }
            TransferEvent::Failed { reason, cause } => {
                if !self.phase.is_finished() {
                    self.phase = Phase::Failed(failure_text(reason, *cause));
                }
            }
            TransferEvent::Cancelled { reason } => {
                if !self.phase.is_finished() {
                    self.phase = Phase::Cancelled(reason.clone());
                }
            }
            TransferEvent::Code { .. }
            | TransferEvent::Lan { .. }
            | TransferEvent::Nearby { .. } => {}
        }
    }

    /// Attributes the bytes not accounted for by verified files to `file`, the one moving now
    /// (files move one after the other).
    fn track_current(&mut self, file: &str) {
        let verified: u64 = self
            .files
            .iter()
            .filter(|f| f.verified)
            .map(|f| f.size)
            .sum();
        let current = self.done.saturating_sub(verified);
        if !self.files.iter().any(|f| f.path == file && !f.verified) {
            self.files.push(FileRow {
                path: file.to_string(),
                size: 0,
                done: 0,
                verified: false,
            });
        }
        if let Some(f) = self
            .files
            .iter_mut()
            .find(|f| f.path == file && !f.verified)
        {
            f.done = if f.size > 0 {
                current.min(f.size)
            } else {
                current
            };
        }
    }

    /// Without a current file name, attributes the unverified bytes to the unverified files
    /// in offer order (the sender streams them in that order).
    fn spread_in_order(&mut self) {
        let verified: u64 = self
            .files
            .iter()
            .filter(|f| f.verified)
            .map(|f| f.size)
            .sum();
        let mut left = self.done.saturating_sub(verified);
        for f in self.files.iter_mut().filter(|f| !f.verified) {
            f.done = left.min(f.size);
            left -= f.done;
        }
    }

    /// Number of files verified so far.
    pub fn verified_count(&self) -> usize {
        self.files.iter().filter(|f| f.verified).count()
    }
}

fn row(file: &FileSummary) -> FileRow {
    FileRow {
        path: file.path.clone(),
        size: file.size,
        done: 0,
        verified: false,
    }
}

/// What the sender sees while a busy receiver holds its offer in line at `position` (1 =
/// next); `peer` is the receiver's name (empty before it is known).
pub fn waiting_line_text(peer: &str, position: u32) -> String {
    let who = if peer.is_empty() {
        "The receiver"
    } else {
        peer
    };
    let place = match position {
        0 | 1 => "you are next".to_string(),
        n => format!("{} ahead of you", n - 1),
    };
    format!("{who} is busy with another transfer. Waiting in line: {place}.")
}

/// What a failure says to the person: its own sentence for a cause that calls for its own
/// answer (chosen by the engine's typed cause, never by reading the reason), else the reason.
pub fn failure_text(reason: &str, cause: Option<FailureCause>) -> String {
    match cause {
        Some(FailureCause::DiskFull) => "The receiving device is out of space. What arrived is \
            kept: free some space and send again to continue where it stopped."
            .to_string(),
        Some(FailureCause::HashMismatch) => "A file was damaged on the way (it did not match \
            its checksum) and was not kept. Send it again."
            .to_string(),
        None => reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queued_send_says_where_it_waits_until_the_receiver_takes_it() {
        let mut t = Transfer::default();
        t.apply(&TransferEvent::Connecting { peer: "Ana".into() });
        t.apply(&TransferEvent::Queued { position: 2 });
        assert_eq!(t.queued, Some(2));
        assert_eq!(
            waiting_line_text(&t.peer, 2),
            "Ana is busy with another transfer. Waiting in line: 1 ahead of you."
        );
        t.apply(&TransferEvent::Queued { position: 1 });
        assert_eq!(
            waiting_line_text(&t.peer, t.queued.unwrap()),
            "Ana is busy with another transfer. Waiting in line: you are next."
        );
        t.apply(&TransferEvent::Connected {
            peer: "Ana".into(),
            connect_ms: 40,
        });
        assert_eq!(t.queued, None, "its turn came");
        assert_eq!(t.phase, Phase::AwaitingAnswer);
    }
    use uuid::Uuid;

    fn offer() -> TransferEvent {
        TransferEvent::Incoming {
            transfer_id: Uuid::nil(),
            from: "Ben's phone".into(),
            files: vec![
                FileSummary {
                    path: "a.txt".into(),
                    size: 100,
                },
                FileSummary {
                    path: "photos/b.jpg".into(),
                    size: 300,
                },
            ],
            total_size: 400,
            text: None,
        }
    }

    fn progress(done: u64, file: &str) -> TransferEvent {
        TransferEvent::Progress {
            done,
            total: 400,
            bytes_per_sec: 1000.0,
            eta_secs: Some(1.0),
            file: Some(file.into()),
        }
    }

    #[test]
    fn receive_happy_path() {
        let mut t = Transfer::default();
        t.apply(&offer());
        assert_eq!(t.phase, Phase::Offered);
        assert_eq!(t.peer, "Ben's phone");
        assert_eq!(t.files.len(), 2);
        t.apply(&TransferEvent::Accepted);
        t.apply(&progress(50, "a.txt"));
        assert_eq!(t.files[0].done, 50);
        t.apply(&TransferEvent::FileVerified {
            path: "a.txt".into(),
            size: 100,
            blake3: "x".into(),
        });
        t.apply(&progress(250, "photos/b.jpg"));
        assert_eq!(t.files[1].done, 150);
        assert_eq!(t.verified_count(), 1);
        t.apply(&TransferEvent::Done {
            files: 2,
            bytes: 400,
            seconds: 1.5,
            saved_to: Some("/d".into()),
        });
        assert_eq!(
            t.phase,
            Phase::Done {
                seconds: 1.5,
                saved_to: Some("/d".into())
            }
        );
        assert_eq!(t.verified_count(), 2);
        assert!(t.phase.is_finished());
    }

    #[test]
    fn progress_without_file_name_fills_files_in_order() {
        let mut t = Transfer::default();
        t.apply(&offer());
        t.apply(&TransferEvent::Accepted);
        t.apply(&TransferEvent::Progress {
            done: 150,
            total: 400,
            bytes_per_sec: 1.0,
            eta_secs: None,
            file: None,
        });
        assert_eq!((t.files[0].done, t.files[1].done), (100, 50));
        t.apply(&TransferEvent::FileVerified {
            path: "a.txt".into(),
            size: 100,
            blake3: "x".into(),
        });
        t.apply(&TransferEvent::Progress {
            done: 390,
            total: 400,
            bytes_per_sec: 1.0,
            eta_secs: None,
            file: None,
        });
        assert_eq!(t.files[1].done, 290);
    }

    #[test]
    fn sender_learns_files_as_they_move() {
        let mut t = Transfer::sending("Ana", 400);
        assert_eq!(t.phase, Phase::Connecting);
        t.apply(&TransferEvent::Connected {
            peer: "Ana".into(),
            connect_ms: 20,
        });
        assert_eq!(t.phase, Phase::AwaitingAnswer);
        t.apply(&TransferEvent::Path {
            path: PathKind::Direct,
        });
        t.apply(&TransferEvent::Accepted);
        t.apply(&progress(40, "a.txt"));
        assert_eq!(t.files.len(), 1);
        assert_eq!(t.files[0].done, 40);
        assert_eq!(t.path, Some(PathKind::Direct));
    }

    #[test]
    fn decline_and_late_failure_keep_the_first_outcome() {
        let mut t = Transfer::sending("Ana", 400);
        t.apply(&TransferEvent::Declined {
            reason: "declined by Ana".into(),
        });
        t.apply(&TransferEvent::Failed {
            reason: "connection closed".into(),
            cause: None,
        });
        assert_eq!(t.phase, Phase::Declined("declined by Ana".into()));
        assert!(!t.phase.is_active());
    }

    #[test]
    fn a_full_disk_and_a_damaged_file_say_what_to_do_by_their_cause() {
        for (cause, says) in [
            (Some(FailureCause::DiskFull), "out of space"),
            (Some(FailureCause::HashMismatch), "damaged on the way"),
            (None, "receiver could not write: disk full while writing x"),
        ] {
            let mut t = Transfer::default();
            t.apply(&TransferEvent::Failed {
                reason: "receiver could not write: disk full while writing x".into(),
                cause,
            });
            match &t.phase {
                Phase::Failed(text) => assert!(text.contains(says), "{cause:?}: {text}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_changed_identity_is_a_warning_until_the_phrase_arrives() {
        let mut t = Transfer::default();
        t.apply(&TransferEvent::Connecting { peer: "Ana".into() });
        t.apply(&TransferEvent::IdentityChanged {
            peer: "Ana".into(),
            pinned_as: "Ana".into(),
            previous: "aa".into(),
            fingerprint: "bb".into(),
        });
        assert_eq!(t.identity_warning.as_ref().unwrap().previous, "aa");
        assert!(t.phase.is_active());
        t.apply(&TransferEvent::Verify {
            phrase: "a b c d".into(),
            known: false,
            peer: "Ana".into(),
            changed: true,
            fingerprint: "bb".into(),
            pinned_as: Some("Ana".into()),
        });
        assert_eq!(t.identity_warning, None, "answered: the phrase follows");
        assert!(t.verify.unwrap().changed);
    }

    #[test]
    fn phrase_survives_the_offer_and_a_new_transfer_starts_clean() {
        let mut t = Transfer::default();
        t.apply(&TransferEvent::Connecting { peer: "Ben".into() });
        t.apply(&TransferEvent::Verify {
            phrase: "otter maple cobalt ridge".into(),
            known: false,
            peer: "Ben".into(),
            changed: false,
            fingerprint: String::new(),
            pinned_as: None,
        });
        t.apply(&offer());
        assert_eq!(t.phase, Phase::Offered);
        assert_eq!(
            t.verify.as_ref().unwrap().phrase,
            "otter maple cobalt ridge"
        );
        t.apply(&TransferEvent::Declined {
            reason: "no".into(),
        });
        t.apply(&TransferEvent::Connecting { peer: "Cy".into() });
        assert_eq!(t.phase, Phase::Connecting);
        assert!(t.verify.is_none() && t.files.is_empty());
    }

    #[test]
    fn resume_and_reconnect() {
        let mut t = Transfer::default();
        t.apply(&offer());
        t.apply(&TransferEvent::Accepted);
        t.apply(&TransferEvent::Resumed {
            file: "photos/b.jpg".into(),
            offset: 120,
            size: 300,
        });
        assert_eq!(t.files[1].done, 120);
        t.apply(&TransferEvent::Reconnecting {
            reason: "connection lost".into(),
        });
        assert_eq!(t.reconnecting.as_deref(), Some("connection lost"));
        t.apply(&progress(200, "photos/b.jpg"));
        assert!(t.reconnecting.is_none());
    }

    #[test]
    fn cancel_mid_transfer() {
        let mut t = Transfer::default();
        t.apply(&offer());
        t.apply(&TransferEvent::Accepted);
        t.apply(&progress(10, "a.txt"));
        t.apply(&TransferEvent::Cancelled {
            reason: "cancelled by sender".into(),
        });
        assert_eq!(t.phase, Phase::Cancelled("cancelled by sender".into()));
    }
}
