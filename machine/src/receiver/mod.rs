//! The receiving side of a transfer as a pure state machine.
//!
//! Lifecycle: `AwaitingOffer` → (verification commitment, offer + file list, reveal) →
//! `AwaitingDecision` → (user accepts) → `Receiving` → every file verified → finished. Any
//! protocol violation, hostile file name, cancel or vanished peer finishes it early with the
//! matching [`Outcome`].
//!
//! The user is asked only once the verification handshake is complete, so the prompt can
//! show the phrase. A connection lost while receiving moves to `AwaitingReoffer`: the sender
//! connects again and re-offers the *same* transfer (same id, same file list), which is
//! accepted without asking again, with the ranges already held, so only the rest is sent.
//!
//! The machine owns three timers: the sender must complete its offer within [`OFFER_DEADLINE`]
//! of the connection, a cut sender must be back (its re-offer complete) within
//! [`RECONNECT_WINDOW`], and while bytes are expected something must arrive within
//! [`STALL_LIMIT`]. The driver passes `now` with every input, sleeps until
//! [`ReceiverMachine::poll_timeout`] and then calls [`ReceiverMachine::handle_timeout`].

use peerdrop_proto::events::{FileSummary, TransferEvent};
use peerdrop_proto::transfer::{ControlMsg, FailureCause, FileEntry, MAX_FILES_PER_TRANSFER};
use peerdrop_proto::PROTOCOL_VERSION;
use std::time::Duration;
use uuid::Uuid;

use super::flow::StoreReports;
use super::ranges::RangeSet;
use super::Outcome;
use crate::names::{Platform, SafePath};
use crate::time::{earliest, Timestamp};
use crate::{RECONNECT_WINDOW, STALL_LIMIT};

mod files;
mod offer;
pub mod trust;

pub use files::EarlierFile;

/// How long a receiver that completed lets the sender close the connection first, so its
/// last message (the final `file_ok`) is not lost in flight; bounded for a sender that
/// vanished.
pub const SENDER_CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How long a sender has, from the moment the connection is up, to complete its offer (the
/// verification handshake and the whole file list). A peer that sends half an offer and then
/// nothing must not keep the receiver busy — and unable to take another transfer — forever.
/// A real sender needs milliseconds; 30 s leaves room for a huge list on a slow relay.
pub const OFFER_DEADLINE: Duration = Duration::from_secs(30);

/// Most bytes of path names one file list may hold (64 MiB: a million files with 64-byte
/// paths). Held before the person is asked, so it bounds what a stranger can make this device
/// keep in memory with an offer.
pub const MAX_MANIFEST_PATH_BYTES: usize = 64 << 20;

/// Most separate byte ranges one file may be in while it arrives. Honest senders leave a few
/// dozen holes at most (frames in flight on several channels, resume); a hostile one could
/// otherwise make every frame cost more than the last.
pub const MAX_RANGES_PER_FILE: usize = 4096;

/// How the receiver's `error` message starts when it refuses an offer as unsafe (hostile
/// names, impossible sizes), so the sender can tell a refusal from a failure.
pub const REFUSED_PREFIX: &str = "refused: ";

/// What the user (or `--yes`) decided about an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Receive the files.
    Accept,
    /// Refuse, with a reason shown to the sender.
    Decline(String),
}

/// What the verification step found, for the prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The four-word phrase; the same on the sender's screen means no one is in the middle.
    pub phrase: String,
    /// The sender's certificate was trusted (pinned) before.
    pub known: bool,
    /// A device by the sender's name was trusted before with a *different* certificate.
    pub changed: bool,
    /// The sender's certificate fingerprint.
    pub fingerprint: String,
}

/// An offer as presented to the user before accepting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferSummary {
    /// Stable transfer id.
    pub transfer_id: Uuid,
    /// Sender's device name.
    pub from: String,
    /// Files with their safe relative paths.
    pub files: Vec<FileSummary>,
    /// Sum of file sizes.
    pub total_size: u64,
    /// Bytes already here from an earlier, interrupted run of the same transfer.
    pub resumable_bytes: u64,
    /// The verification phrase and what is known about the sender (filled in by the driver).
    pub verification: Option<Verification>,
    /// A text offered instead of files (then `files` is empty). Untrusted: display it safely.
    pub text: Option<String>,
}

/// Inputs to the receiver machine.
#[derive(Clone, Debug, PartialEq)]
pub enum RxInput {
    /// A message arrived on the control channel.
    Control(ControlMsg),
    /// A data frame arrived; the driver holds the payload of `len` bytes.
    Data {
        /// File index.
        index: u32,
        /// Offset of the first payload byte.
        offset: u64,
        /// Payload length.
        len: u64,
    },
    /// A message could not even be decoded.
    BadFrame(String),
    /// What an earlier run of this transfer left on disk, one entry per offered file in
    /// order (resume). Taken only while the person is being asked, before the decision.
    EarlierRun(Vec<EarlierFile>),
    /// The disk has written `total` payload bytes of this transfer so far; the sender hears
    /// what of it belongs to the current connection ([`crate::flow`]).
    Stored {
        /// Payload bytes written, over every connection.
        total: u64,
    },
    /// The user decided.
    Decided(Decision),
    /// The driver checked file `index` against its hash and (if it matched) moved it into place.
    Verified {
        /// File index.
        index: u32,
        /// `Ok(saved relative path)` or why it was not kept.
        result: Result<String, Unsaved>,
    },
    /// Writing to disk failed; the transfer cannot go on.
    DiskError {
        /// The disk is full (the sender is told so, and the part is kept for a resume).
        full: bool,
        /// What failed, for display.
        reason: String,
    },
    /// The peer is gone for good (left the server, or did not come back in time).
    PeerGone,
    /// The peer-to-peer connection failed; the sender may connect again and resume.
    ConnectionLost(String),
    /// The driver must stop the transfer (e.g. the sender's certificate changed on a
    /// reconnection); the string is the reason.
    Fail(String),
    /// The local user cancelled.
    LocalCancel(String),
}

/// Why a file that arrived whole was not kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsaved {
    /// For display.
    pub reason: String,
    /// The typed cause, when there is one ([`FailureCause::HashMismatch`], a full disk while
    /// placing it).
    pub cause: Option<FailureCause>,
}

impl Unsaved {
    /// A file not kept for `reason`, with no cause to act on.
    pub fn other(reason: impl Into<String>) -> Self {
        Unsaved {
            reason: reason.into(),
            cause: None,
        }
    }
}

/// Actions the driver must carry out, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum RxAction {
    /// Send on the control channel.
    Send(ControlMsg),
    /// Ask the user to accept or decline.
    AskUser(OfferSummary),
    /// Write the payload of the data frame just handled at `(index, offset)`.
    Write {
        /// File index.
        index: u32,
        /// Offset.
        offset: u64,
    },
    /// All bytes of `index` are in: hash the part file, compare with `blake3`, and if equal move
    /// it to `path`; report back with [`RxInput::Verified`].
    Verify {
        /// File index.
        index: u32,
        /// Expected BLAKE3, lowercase hex.
        blake3: String,
        /// Where it goes, relative to the destination folder.
        path: SafePath,
        /// Size, so zero-byte files can be created without any data frame.
        size: u64,
    },
    /// Report to the front end.
    Emit(TransferEvent),
    /// The verification handshake is complete: derive the phrase from both fingerprints and
    /// these nonces, and show it.
    Authenticated {
        /// The sender's nonce (checked against its commitment).
        sender_nonce: String,
        /// This side's nonce.
        receiver_nonce: String,
    },
    /// Drop the failed connection (without ending the transfer) and wait for the sender to
    /// connect again; feed its messages in as usual, or [`RxInput::PeerGone`] on timeout.
    AwaitReconnect,
    /// The transfer is over. What happens to partial data depends on the outcome: kept for
    /// resume after a failure, deleted after a decline or a cancel. The connection is dropped
    /// at once, except after a success: then [`RxAction::Close`] says when.
    Finish(Outcome),
    /// After a success: close the connection now — the sender closed its side (it has read
    /// the last message), or [`SENDER_CLOSE_GRACE`] passed. Feed the sender's close in as
    /// [`RxInput::ConnectionLost`] or [`RxInput::PeerGone`].
    Close,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum FileStatus {
    Receiving,
    Verifying,
    Verified,
    Failed,
    /// Verified and saved by an earlier run of this transfer; confirmed once the sender's
    /// hash for it arrives and matches.
    Saved,
}

#[derive(Clone, Debug)]
struct RxFile {
    entry: FileEntry,
    path: SafePath,
    have: RangeSet,
    expected_hash: Option<String>,
    status: FileStatus,
    /// Where it was saved (relative display form), once verified.
    saved_as: Option<String>,
    failure: Option<Unsaved>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    AwaitingOffer,
    CollectingFiles,
    AwaitingDecision,
    Receiving,
    AwaitingReoffer,
    CollectingReoffer,
    Finished,
}

#[derive(Clone, Debug)]
struct OfferHeader {
    transfer_id: Uuid,
    sender_name: String,
    file_count: u32,
    total_size: u64,
    text: Option<String>,
}

/// The receiver's protocol state. Feed it [`RxInput`]s with [`ReceiverMachine::handle`].
#[derive(Debug)]
pub struct ReceiverMachine {
    state: State,
    platform: Platform,
    offer: Option<OfferHeader>,
    entries: Vec<FileEntry>,
    /// Bytes of path names in `entries` so far (bounded by [`MAX_MANIFEST_PATH_BYTES`]).
    manifest_bytes: usize,
    files: Vec<RxFile>,
    /// Files not kept: `path: reason` and the typed cause.
    failures: Vec<(String, Option<FailureCause>)>,
    sas_nonce: String,
    sas_commit: Option<String>,
    sas_done: bool,
    /// The prompt, held back until the verification handshake is complete.
    pending_ask: Option<OfferSummary>,
    /// File list of a re-offer after a reconnection, compared with the original.
    reoffer: Vec<FileEntry>,
    /// Until the person is asked, the sender is on the clock ([`OFFER_DEADLINE`]).
    offer_until: Option<Timestamp>,
    /// After a cut, until the sender's re-offer is complete ([`RECONNECT_WINDOW`]).
    reconnect_until: Option<Timestamp>,
    /// While bytes are expected: when the connection counts as stuck unless something arrives
    /// first ([`STALL_LIMIT`]).
    stalled_at: Option<Timestamp>,
    /// What the disk has written, and how much of it the current connection carried.
    stored: StoreReports,
    /// After a success, until the sender closes first ([`SENDER_CLOSE_GRACE`]).
    linger_until: Option<Timestamp>,
}

impl ReceiverMachine {
    /// A receiver waiting for an offer on a connection that came up at `now`; names are
    /// checked for `platform`. `sas_nonce` is a fresh random verification nonce
    /// (`peerdrop-core`'s `identity::nonce::new_nonce`).
    pub fn new(now: Timestamp, platform: Platform, sas_nonce: String) -> Self {
        Self {
            state: State::AwaitingOffer,
            platform,
            offer: None,
            entries: Vec::new(),
            manifest_bytes: 0,
            files: Vec::new(),
            failures: Vec::new(),
            sas_nonce,
            sas_commit: None,
            sas_done: false,
            pending_ask: None,
            reoffer: Vec::new(),
            offer_until: Some(now + OFFER_DEADLINE),
            reconnect_until: None,
            stalled_at: None,
            stored: StoreReports::new(),
            linger_until: None,
        }
    }

    /// Whether the offer is a text rather than files (nothing is written to disk for it).
    pub fn is_text(&self) -> bool {
        self.offer.as_ref().is_some_and(|o| o.text.is_some())
    }

    /// The announced entries, in index order (after the file list arrived).
    pub fn entries(&self) -> &[FileEntry] {
        &self.entries
    }

    /// Sender's device name, once the offer arrived.
    pub fn sender_name(&self) -> Option<&str> {
        self.offer.as_ref().map(|o| o.sender_name.as_str())
    }

    /// Whether the machine has finished (no input will change anything any more).
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// The transfer id, once the offer arrived.
    pub fn transfer_id(&self) -> Option<Uuid> {
        self.offer.as_ref().map(|o| o.transfer_id)
    }

    /// Bytes held so far over all files.
    pub fn bytes_received(&self) -> u64 {
        self.files.iter().map(|f| f.have.covered()).sum()
    }

    /// Separate pieces held of file `index` (0 for no such file): bounded by
    /// [`MAX_RANGES_PER_FILE`], which the machine fuzz target checks.
    pub fn pieces(&self, index: u32) -> usize {
        self.files.get(index as usize).map_or(0, |f| f.have.len())
    }

    /// Total bytes of the accepted offer (0 before the offer).
    pub fn total_size(&self) -> u64 {
        self.offer.as_ref().map_or(0, |o| o.total_size)
    }

    /// Number of files in the offer.
    pub fn file_count(&self) -> u32 {
        self.files.len() as u32
    }

    /// Safe path of file `index`, for progress display.
    pub fn file_path(&self, index: u32) -> Option<&SafePath> {
        self.files.get(index as usize).map(|f| &f.path)
    }

    /// When the machine next wants [`ReceiverMachine::handle_timeout`] (`None`: no timer runs).
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.state == State::Finished {
            return self.linger_until;
        }
        let stall = self.stalled_at.filter(|_| self.expecting_bytes());
        earliest([self.offer_until, self.reconnect_until, stall])
    }

    /// Whether bytes are still expected from the sender on this connection.
    fn expecting_bytes(&self) -> bool {
        self.state == State::Receiving
            && self.files.iter().any(|f| f.status == FileStatus::Receiving)
    }

    /// Fires every timer due at `now`: a sender that did not complete its offer, or did not
    /// come back after a cut, ends the transfer.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Vec<RxAction> {
        if self.state == State::Finished {
            if self.linger_until.is_some_and(|at| at <= now) {
                self.linger_until = None;
                return vec![RxAction::Close];
            }
            return Vec::new();
        }
        if self.offer_until.is_some_and(|at| at <= now) {
            self.offer_until = None;
            return bounded(self.fail(format!(
                "the sender did not complete its offer within {} s",
                OFFER_DEADLINE.as_secs()
            )));
        }
        if self.reconnect_until.is_some_and(|at| at <= now) {
            return self.finish(Outcome::Disconnected(format!(
                "peer disconnected: the sender did not come back within {} s",
                RECONNECT_WINDOW.as_secs()
            )));
        }
        if self.expecting_bytes() && self.stalled_at.is_some_and(|at| at <= now) {
            let reason = format!(
                "nothing arrived for {} s: the connection is stuck",
                STALL_LIMIT.as_secs()
            );
            return self.handle(now, RxInput::ConnectionLost(reason));
        }
        Vec::new()
    }

    /// Advances the machine by one input, which happened at `now`.
    pub fn handle(&mut self, now: Timestamp, input: RxInput) -> Vec<RxAction> {
        if self.state == State::Finished {
            let sender_closed = matches!(input, RxInput::ConnectionLost(_) | RxInput::PeerGone);
            if sender_closed && self.linger_until.take().is_some() {
                return vec![RxAction::Close];
            }
            return Vec::new();
        }
        let from_sender = matches!(input, RxInput::Data { .. } | RxInput::Control(_));
        let actions = bounded(self.handle_input(now, input));
        if actions
            .iter()
            .any(|a| matches!(a, RxAction::Finish(outcome) if outcome.is_success()))
        {
            // Closing first could drop the last message still on its way to the sender
            // (which would then report a lost connection for a transfer that completed).
            self.linger_until = Some(now + SENDER_CLOSE_GRACE);
        }
        if self.state == State::Receiving && (from_sender || self.stalled_at.is_none()) {
            // Receiving (just accepted, or resumed) and the sender is heard: on the clock.
            self.stalled_at = Some(now + STALL_LIMIT);
        } else if self.state != State::Receiving {
            self.stalled_at = None;
        }
        actions
    }

    fn handle_input(&mut self, now: Timestamp, input: RxInput) -> Vec<RxAction> {
        match input {
            RxInput::Control(msg) => self.on_control(msg),
            RxInput::Data { index, offset, len } => self.on_data(index, offset, len),
            // Quoted short: a decoder's error may quote all of what the peer sent.
            RxInput::BadFrame(why) => {
                self.protocol_error(format!("malformed message: {}", crate::names::quote(&why)))
            }
            RxInput::EarlierRun(files) => {
                self.seed_earlier_run(files);
                Vec::new()
            }
            RxInput::Stored { total } => {
                let bytes = self.stored.written(total);
                match self.state {
                    // Only a connection that carries this transfer's data hears it.
                    State::Receiving => vec![RxAction::Send(ControlMsg::Stored { bytes })],
                    _ => Vec::new(),
                }
            }
            RxInput::Decided(decision) => self.on_decision(decision),
            RxInput::Verified { index, result } => self.on_verified(index, result),
            RxInput::DiskError { full, reason } => {
                let reason = format!("receiver could not write: {reason}");
                let cause = full.then_some(FailureCause::DiskFull);
                let mut actions = vec![RxAction::Send(ControlMsg::Error {
                    message: reason.clone(),
                    cause,
                })];
                actions.extend(self.finish(if full {
                    Outcome::DiskFull(reason)
                } else {
                    Outcome::Failed(reason)
                }));
                actions
            }
            RxInput::PeerGone => self.finish(Outcome::Disconnected("peer disconnected".into())),
            RxInput::Fail(reason) => self.fail(reason),
            RxInput::ConnectionLost(reason) => match self.state {
                State::Receiving => {
                    self.state = State::AwaitingReoffer;
                    self.reconnect_until = Some(now + RECONNECT_WINDOW);
                    self.stored.new_connection();
                    vec![
                        RxAction::Emit(TransferEvent::Reconnecting { reason }),
                        RxAction::AwaitReconnect,
                    ]
                }
                State::AwaitingReoffer | State::CollectingReoffer => {
                    // The sender's new connection failed too; it tries again, with a window
                    // of its own from this cut, and so does this side.
                    self.state = State::AwaitingReoffer;
                    self.reconnect_until = Some(now + RECONNECT_WINDOW);
                    self.reoffer.clear();
                    self.stored.new_connection();
                    vec![RxAction::AwaitReconnect]
                }
                _ => self.finish(Outcome::Disconnected(format!(
                    "peer disconnected: {reason}"
                ))),
            },
            RxInput::LocalCancel(reason) => {
                let outcome = Outcome::Cancelled(format!("cancelled: {reason}"));
                let mut actions = vec![RxAction::Send(ControlMsg::Cancel { reason })];
                actions.extend(self.finish(outcome));
                actions
            }
        }
    }

    /// Tells the sender why and ends the transfer as failed.
    fn fail(&mut self, reason: String) -> Vec<RxAction> {
        let mut actions = vec![RxAction::Send(ControlMsg::Error {
            message: reason.clone(),
            cause: None,
        })];
        actions.extend(self.finish(Outcome::Failed(reason)));
        actions
    }

    fn on_control(&mut self, msg: ControlMsg) -> Vec<RxAction> {
        match (&self.state, msg) {
            (State::AwaitingOffer, ControlMsg::SasCommit { commit })
                if self.sas_commit.is_none() =>
            {
                if commit.len() != 64 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return self.protocol_error("malformed verification commitment".into());
                }
                self.sas_commit = Some(commit.to_ascii_lowercase());
                vec![RxAction::Send(ControlMsg::SasNonce {
                    nonce: self.sas_nonce.clone(),
                })]
            }
            (State::AwaitingOffer, ControlMsg::Offer { .. }) if self.sas_commit.is_none() => self
                .protocol_error(
                    "offer without the verification handshake (sas_commit first)".into(),
                ),
            (
                State::AwaitingOffer | State::CollectingFiles | State::AwaitingDecision,
                ControlMsg::SasReveal { nonce },
            ) if !self.sas_done && self.sas_commit.is_some() => self.on_reveal(nonce),
            (
                State::AwaitingReoffer,
                ControlMsg::Offer {
                    transfer_id,
                    file_count,
                    total_size,
                    ..
                },
            ) => {
                let same = self.offer.as_ref().is_some_and(|o| {
                    o.transfer_id == transfer_id
                        && o.file_count == file_count
                        && o.total_size == total_size
                });
                if !same {
                    return self.protocol_error(
                        "the sender offered a different transfer while resuming".into(),
                    );
                }
                self.state = State::CollectingReoffer;
                self.reoffer.clear();
                Vec::new()
            }
            (State::CollectingReoffer, ControlMsg::Files { entries }) => self.on_refiles(entries),
            (
                State::AwaitingOffer,
                ControlMsg::Offer {
                    v,
                    transfer_id,
                    sender_name,
                    file_count,
                    total_size,
                    text,
                },
            ) => {
                if v != PROTOCOL_VERSION {
                    return self.protocol_error(format!(
                        "sender speaks protocol version {v}, this device speaks {PROTOCOL_VERSION}"
                    ));
                }
                if let Some(text) = text {
                    return self.on_text_offer(
                        transfer_id,
                        sender_name,
                        file_count,
                        total_size,
                        text,
                    );
                }
                if file_count == 0 || file_count > MAX_FILES_PER_TRANSFER {
                    return self.protocol_error(format!("offer announces {file_count} files"));
                }
                self.offer = Some(OfferHeader {
                    transfer_id,
                    sender_name,
                    file_count,
                    total_size,
                    text: None,
                });
                self.state = State::CollectingFiles;
                Vec::new()
            }
            (State::CollectingFiles, ControlMsg::Files { entries }) => self.on_files(entries),
            (_, ControlMsg::Cancel { reason }) => {
                self.finish(Outcome::Cancelled(format!("sender cancelled: {reason}")))
            }
            (_, ControlMsg::Error { message, .. }) => self.finish(Outcome::Failed(format!(
                "sender reported an error: {message}"
            ))),
            (State::Receiving, ControlMsg::FileDone { index, blake3 }) => {
                self.on_file_done(index, blake3)
            }
            (_, other) => {
                self.protocol_error(format!("unexpected {} message", control_name(&other)))
            }
        }
    }

    fn protocol_error(&mut self, reason: String) -> Vec<RxAction> {
        let mut actions = vec![RxAction::Send(ControlMsg::Error {
            message: reason.clone(),
            cause: None,
        })];
        actions.extend(self.finish(Outcome::Failed(format!("protocol error: {reason}"))));
        actions
    }

    /// Ends the machine: reports the outcome (unless it is success, which the driver reports
    /// with its timing) and tells the driver to tear down.
    fn finish(&mut self, outcome: Outcome) -> Vec<RxAction> {
        self.state = State::Finished;
        let mut actions: Vec<RxAction> = outcome.event().into_iter().map(RxAction::Emit).collect();
        actions.push(RxAction::Finish(outcome));
        actions
    }
}

/// How files that were not kept end a transfer: with their common cause when they all share
/// one (every one a hash mismatch, or a full disk), else as a plain failure. Both sides decide
/// it the same way from the same `file_failed` causes.
pub(crate) fn outcome_of_failures(
    causes: impl Iterator<Item = Option<FailureCause>>,
    reason: String,
) -> Outcome {
    let mut common: Option<Option<FailureCause>> = None;
    for cause in causes {
        match common {
            None => common = Some(cause),
            Some(c) if c == cause => {}
            Some(_) => return Outcome::Failed(reason),
        }
    }
    match common.flatten() {
        Some(FailureCause::HashMismatch) => Outcome::HashMismatch(reason),
        Some(FailureCause::DiskFull) => Outcome::DiskFull(reason),
        None => Outcome::Failed(reason),
    }
}

/// `actions` with every message to send cut to fit a control message ([`ControlMsg::bounded`]):
/// reasons may quote the peer or local errors of any length.
fn bounded(actions: Vec<RxAction>) -> Vec<RxAction> {
    actions
        .into_iter()
        .map(|action| match action {
            RxAction::Send(msg) => RxAction::Send(msg.bounded()),
            other => other,
        })
        .collect()
}

/// The `type` tag of a control message, for error texts.
pub(crate) fn control_name(msg: &ControlMsg) -> &'static str {
    match msg {
        ControlMsg::Offer { .. } => "offer",
        ControlMsg::Files { .. } => "files",
        ControlMsg::Accept { .. } => "accept",
        ControlMsg::Decline { .. } => "decline",
        ControlMsg::FileDone { .. } => "file_done",
        ControlMsg::FileOk { .. } => "file_ok",
        ControlMsg::FileFailed { .. } => "file_failed",
        ControlMsg::Cancel { .. } => "cancel",
        ControlMsg::Error { .. } => "error",
        ControlMsg::SasCommit { .. } => "sas_commit",
        ControlMsg::SasNonce { .. } => "sas_nonce",
        ControlMsg::SasReveal { .. } => "sas_reveal",
        ControlMsg::Stored { .. } => "stored",
    }
}
