//! The sending side of a transfer as a pure state machine.
//!
//! Lifecycle: `Start` → verification commitment, offer and file list sent →
//! `AwaitingDecision` (meanwhile the receiver's nonce arrives and the sender reveals its own:
//! both sides can now show the verification phrase) → accept (with what the receiver already
//! has) → `Sending` (the driver streams the missing ranges and reports each file's hash) →
//! every `file_ok` received → finished. The sender only calls a transfer successful when the
//! receiver has confirmed every file's hash.
//!
//! A connection lost while sending is not the end: the machine moves to `Reconnecting`, the
//! driver sets up a new connection to the same device (same verified certificate), and
//! [`TxInput::Reconnected`] re-offers the same transfer; the receiver's automatic accept says
//! what it already holds and only the rest is sent. The machine owns that window
//! ([`RECONNECT_WINDOW`](crate::RECONNECT_WINDOW)) and the grace after the server says the
//! receiver left ([`PEER_GONE_GRACE`]): the driver passes `now` with every input, sleeps until
//! [`SenderMachine::poll_timeout`] and then calls [`SenderMachine::handle_timeout`].

use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::transfer::{ByteRange, ControlMsg, FailureCause, FileEntry, MAX_MESSAGE_BYTES};
use peerdrop_proto::PROTOCOL_VERSION;
use std::time::Duration;
use uuid::Uuid;

use super::flow::SendWindow;
use super::ranges::RangeSet;
use super::receiver::{control_name, outcome_of_failures, REFUSED_PREFIX};
use super::Outcome;
use crate::sas;
use crate::time::{earliest, Timestamp};
use crate::{RECONNECT_WINDOW, STALL_LIMIT};

/// How long the sender keeps reading the control channel after the server said the receiver
/// left ([`TxInput::PeerLeft`]): a receiver that verified the last file answers `file_ok` and
/// then says `bye` through the server, and the `bye` can overtake the `file_ok` still on its
/// way up the data channel stack. Without the grace a complete transfer could end as "peer
/// disconnected".
pub const PEER_GONE_GRACE: Duration = Duration::from_millis(500);

/// Budget for one `files` message, leaving headroom under the 64 KiB message limit.
const FILES_CHUNK_BUDGET: usize = MAX_MESSAGE_BYTES - 4 * 1024;

/// One file the driver has to stream: which ranges the receiver is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamJob {
    /// File index.
    pub index: u32,
    /// Ranges to send, in order. The whole file is still read, to hash it.
    pub ranges: Vec<ByteRange>,
}

/// Inputs to the sender machine.
#[derive(Clone, Debug, PartialEq)]
pub enum TxInput {
    /// The control channel is open: offer the files.
    Start,
    /// A message arrived on the control channel.
    Control(ControlMsg),
    /// The driver has sent every missing byte of `index`; this is the whole file's BLAKE3.
    FileSent {
        /// File index.
        index: u32,
        /// BLAKE3 of the whole file, lowercase hex.
        blake3: String,
    },
    /// Reading a source file failed (vanished, shrank, unreadable).
    SourceError(String),
    /// The peer is gone for good (no new connection could be made, or the way to it is gone).
    PeerGone,
    /// The server said the receiver left. Its last messages may still be on their way, so the
    /// transfer ends [`PEER_GONE_GRACE`] later unless they complete it first.
    PeerLeft,
    /// The peer-to-peer connection failed, but the peer may still be reachable: try again.
    ConnectionLost(String),
    /// A new connection to the same device is up (after [`TxAction::Reconnect`]).
    Reconnected,
    /// Progress the machine does not otherwise see — the connection took more bytes, the
    /// receiver stored more: the connection is not stuck ([`STALL_LIMIT`]).
    Progress,
    /// The driver must stop the transfer (e.g. the receiver's certificate changed on a
    /// reconnection); the string is the reason.
    Fail(String),
    /// The local user cancelled.
    LocalCancel(String),
}

/// Actions the driver must carry out, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum TxAction {
    /// Send on the control channel.
    Send(ControlMsg),
    /// Start streaming these files, in order, on the current connection; send nothing beyond
    /// the allowance of the [`TxAction::Allow`] that follows.
    Stream(Vec<StreamJob>),
    /// The store window moved: the streaming may have sent `up_to` payload bytes on this
    /// connection in total ([`crate::flow`]).
    Allow {
        /// Payload bytes allowed on this connection so far.
        up_to: u64,
    },
    /// Report to the front end.
    Emit(TransferEvent),
    /// The verification handshake is complete: derive the phrase from both fingerprints and
    /// these nonces, and show it.
    Authenticated {
        /// The sender's nonce (this side's).
        sender_nonce: String,
        /// The receiver's nonce.
        receiver_nonce: String,
    },
    /// Stop streaming, drop the connection without ending the transfer, connect again and
    /// report [`TxInput::Reconnected`] (or [`TxInput::PeerGone`] when that is impossible).
    Reconnect,
    /// The transfer is over; stop streaming and drop the connection.
    Finish(Outcome),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Idle,
    AwaitingDecision,
    Sending,
    Reconnecting,
    Finished,
}

/// The sender's protocol state. Feed it [`TxInput`]s with [`SenderMachine::handle`].
#[derive(Debug)]
pub struct SenderMachine {
    state: State,
    transfer_id: Uuid,
    sender_name: String,
    files: Vec<FileEntry>,
    hashes: Vec<Option<String>>,
    confirmed: Vec<bool>,
    /// Files the receiver could not keep: `path: reason` and the typed cause.
    failures: Vec<(String, Option<FailureCause>)>,
    skipped_bytes: u64,
    sas_nonce: String,
    sas_revealed: bool,
    /// Accepted once already: a new `accept` (after a reconnection) resumes without the user.
    resuming: bool,
    /// When the receiver's leave stops being a race with its last messages ([`TxInput::PeerLeft`]).
    gone_at: Option<Timestamp>,
    /// When reconnecting stops being worth it ([`RECONNECT_WINDOW`] after the cut).
    reconnect_until: Option<Timestamp>,
    /// While sending: when the connection counts as stuck unless progress comes first
    /// ([`STALL_LIMIT`]).
    stalled_at: Option<Timestamp>,
    /// A text offered instead of files ([`SenderMachine::new_text`]).
    text: Option<String>,
    /// How far the current connection may send ahead of the receiver's disk.
    window: SendWindow,
}

impl SenderMachine {
    /// A sender offering `files` (indices must be `0..n` in order). `sas_nonce` is this
    /// transfer's fresh random verification nonce (`peerdrop-core`'s `identity::nonce::new_nonce`).
    pub fn new(
        transfer_id: Uuid,
        sender_name: String,
        files: Vec<FileEntry>,
        sas_nonce: String,
    ) -> Self {
        let n = files.len();
        Self {
            state: State::Idle,
            transfer_id,
            sender_name,
            files,
            hashes: vec![None; n],
            confirmed: vec![false; n],
            failures: Vec::new(),
            skipped_bytes: 0,
            sas_nonce,
            sas_revealed: false,
            resuming: false,
            gone_at: None,
            reconnect_until: None,
            stalled_at: None,
            text: None,
            window: SendWindow::new(),
        }
    }

    /// A sender offering `text` instead of files: it travels in the offer, so the transfer is
    /// over once the receiver accepts.
    pub fn new_text(
        transfer_id: Uuid,
        sender_name: String,
        text: String,
        sas_nonce: String,
    ) -> Self {
        Self {
            text: Some(text),
            ..Self::new(transfer_id, sender_name, Vec::new(), sas_nonce)
        }
    }

    /// The transfer id offered.
    pub fn transfer_id(&self) -> Uuid {
        self.transfer_id
    }

    /// Whether the machine has finished.
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// Total bytes on offer.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Bytes the receiver said it already had (resume), so progress can start there.
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped_bytes
    }

    /// When the machine next wants [`SenderMachine::handle_timeout`] (`None`: no timer runs).
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.state == State::Finished {
            return None;
        }
        let stall = self.stalled_at.filter(|_| self.state == State::Sending);
        earliest([self.gone_at, self.reconnect_until, stall])
    }

    /// Fires every timer due at `now`: the receiver that left is given up on, or the
    /// reconnection window is over.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Vec<TxAction> {
        bounded(self.fire_timers(now))
    }

    fn fire_timers(&mut self, now: Timestamp) -> Vec<TxAction> {
        if self.state == State::Finished {
            return Vec::new();
        }
        if self.gone_at.is_some_and(|at| at <= now) {
            return self.finish(Outcome::Disconnected("peer disconnected".into()));
        }
        if self.reconnect_until.is_some_and(|at| at <= now) {
            return self.finish(Outcome::Disconnected(format!(
                "peer disconnected: no new connection within {} s",
                RECONNECT_WINDOW.as_secs()
            )));
        }
        if self.state == State::Sending && self.stalled_at.is_some_and(|at| at <= now) {
            let reason = format!(
                "no progress for {} s: the connection is stuck",
                STALL_LIMIT.as_secs()
            );
            return self.handle(now, TxInput::ConnectionLost(reason));
        }
        Vec::new()
    }

    /// Advances the machine by one input, which happened at `now`.
    pub fn handle(&mut self, now: Timestamp, input: TxInput) -> Vec<TxAction> {
        bounded(self.step(now, input))
    }

    fn step(&mut self, now: Timestamp, input: TxInput) -> Vec<TxAction> {
        if self.state == State::Finished {
            return Vec::new();
        }
        // Anything the receiver confirms, and every file this side finished sending, shows the
        // connection is moving.
        let moving = matches!(
            input,
            TxInput::Progress
                | TxInput::FileSent { .. }
                | TxInput::Control(
                    ControlMsg::FileOk { .. }
                        | ControlMsg::FileFailed { .. }
                        | ControlMsg::Stored { .. }
                )
        );
        if moving && self.state == State::Sending {
            self.stalled_at = Some(now + STALL_LIMIT);
        }
        match input {
            TxInput::Progress => Vec::new(),
            TxInput::Start if self.state == State::Idle => self.offer(),
            TxInput::Start => Vec::new(),
            TxInput::Control(msg) => {
                let actions = self.on_control(msg);
                if self.state == State::Sending && self.stalled_at.is_none() {
                    // Just accepted: the connection is on the clock from now.
                    self.stalled_at = Some(now + STALL_LIMIT);
                }
                actions
            }
            TxInput::FileSent { index, blake3 } => {
                if self.state != State::Sending || index as usize >= self.files.len() {
                    return Vec::new();
                }
                self.hashes[index as usize] = Some(blake3.clone());
                vec![TxAction::Send(ControlMsg::FileDone { index, blake3 })]
            }
            TxInput::SourceError(why) => {
                let reason = format!("cannot read file to send: {why}");
                let mut actions = vec![TxAction::Send(ControlMsg::Cancel {
                    reason: reason.clone(),
                })];
                actions.extend(self.finish(Outcome::Failed(reason)));
                actions
            }
            TxInput::PeerGone => self.finish(Outcome::Disconnected("peer disconnected".into())),
            TxInput::PeerLeft => {
                self.gone_at.get_or_insert(now + PEER_GONE_GRACE);
                Vec::new()
            }
            TxInput::Fail(reason) => {
                let mut actions = vec![TxAction::Send(ControlMsg::Error {
                    message: reason.clone(),
                    cause: None,
                })];
                actions.extend(self.finish(Outcome::Failed(reason)));
                actions
            }
            TxInput::ConnectionLost(reason) => {
                // Resuming is reconnecting until the receiver has accepted again: a second
                // cut during the re-offer is one more reason to try again, not the end.
                let resuming_offer = self.state == State::AwaitingDecision && self.resuming;
                if self.state == State::Sending || resuming_offer {
                    self.state = State::Reconnecting;
                    self.reconnect_until = Some(now + RECONNECT_WINDOW);
                    self.stalled_at = None;
                    vec![
                        TxAction::Emit(TransferEvent::Reconnecting { reason }),
                        TxAction::Reconnect,
                    ]
                } else if self.state == State::Reconnecting {
                    Vec::new()
                } else {
                    self.finish(Outcome::Disconnected(format!(
                        "peer disconnected: {reason}"
                    )))
                }
            }
            TxInput::Reconnected => {
                if self.state != State::Reconnecting {
                    return Vec::new();
                }
                self.resuming = true;
                self.reconnect_until = None;
                self.offer()
            }
            TxInput::LocalCancel(reason) => {
                let mut actions = vec![TxAction::Send(ControlMsg::Cancel {
                    reason: reason.clone(),
                })];
                actions.extend(self.finish(Outcome::Cancelled(format!("cancelled: {reason}"))));
                actions
            }
        }
    }

    fn offer(&mut self) -> Vec<TxAction> {
        self.state = State::AwaitingDecision;
        let mut actions = Vec::new();
        if !self.resuming {
            actions.push(TxAction::Send(ControlMsg::SasCommit {
                commit: sas::commitment(&self.sas_nonce),
            }));
        }
        actions.push(TxAction::Send(ControlMsg::Offer {
            v: PROTOCOL_VERSION,
            transfer_id: self.transfer_id,
            sender_name: self.sender_name.clone(),
            file_count: self.files.len() as u32,
            total_size: self.total_size(),
            text: self.text.clone(),
        }));
        if self.text.is_some() {
            return actions;
        }
        let mut chunk = Vec::new();
        let mut chunk_bytes = 0;
        for entry in &self.files {
            // JSON overhead per entry is ~40 bytes; escaping can at most double... be generous.
            let cost = entry.path.len() * 6 + 64;
            if !chunk.is_empty() && chunk_bytes + cost > FILES_CHUNK_BUDGET {
                actions.push(TxAction::Send(ControlMsg::Files {
                    entries: std::mem::take(&mut chunk),
                }));
                chunk_bytes = 0;
            }
            chunk.push(entry.clone());
            chunk_bytes += cost;
        }
        actions.push(TxAction::Send(ControlMsg::Files { entries: chunk }));
        actions
    }

    fn on_control(&mut self, msg: ControlMsg) -> Vec<TxAction> {
        match (&self.state, msg) {
            (State::Sending, ControlMsg::Stored { bytes }) => self
                .window
                .stored(bytes)
                .map(|up_to| TxAction::Allow { up_to })
                .into_iter()
                .collect(),
            // A report about a connection that is being replaced (or not sending yet).
            (_, ControlMsg::Stored { .. }) => Vec::new(),
            (State::AwaitingDecision, ControlMsg::SasNonce { nonce }) if !self.sas_revealed => {
                if !sas::is_valid_nonce(&nonce) {
                    return self.protocol_error("malformed verification nonce".into());
                }
                self.sas_revealed = true;
                vec![
                    TxAction::Send(ControlMsg::SasReveal {
                        nonce: self.sas_nonce.clone(),
                    }),
                    TxAction::Authenticated {
                        sender_nonce: self.sas_nonce.clone(),
                        receiver_nonce: nonce,
                    },
                ]
            }
            (State::AwaitingDecision, ControlMsg::Accept { .. }) if !self.sas_revealed => {
                self.protocol_error("accept before the verification handshake finished".into())
            }
            (State::AwaitingDecision, ControlMsg::Accept { resume }) => self.on_accept(resume),
            (State::AwaitingDecision, ControlMsg::Decline { reason }) => {
                self.finish(Outcome::Declined(format!("declined by receiver: {reason}")))
            }
            (State::Sending, ControlMsg::FileOk { index }) => self.on_file_result(index, None),
            (
                State::Sending,
                ControlMsg::FileFailed {
                    index,
                    reason,
                    cause,
                },
            ) => self.on_file_result(index, Some((reason, cause))),
            (_, ControlMsg::Cancel { reason }) => {
                self.finish(Outcome::Cancelled(format!("receiver cancelled: {reason}")))
            }
            (_, ControlMsg::Error { message, cause }) => {
                let reason = format!("the receiver stopped the transfer: {message}");
                // An offer the receiver found unsafe (names, sizes) is refused, not failed:
                // its error starts with [`REFUSED_PREFIX`] (docs/protocol.md).
                self.finish(if message.starts_with(REFUSED_PREFIX) {
                    Outcome::Refused(reason)
                } else {
                    outcome_of_failures(std::iter::once(cause), reason)
                })
            }
            (_, other) => self.protocol_error(format!(
                "unexpected {} message from receiver",
                control_name(&other)
            )),
        }
    }

    fn protocol_error(&mut self, reason: String) -> Vec<TxAction> {
        let mut actions = vec![TxAction::Send(ControlMsg::Error {
            message: reason.clone(),
            cause: None,
        })];
        actions.extend(self.finish(Outcome::Failed(format!("protocol error: {reason}"))));
        actions
    }

    fn on_accept(&mut self, resume: Vec<peerdrop_proto::transfer::ResumeEntry>) -> Vec<TxAction> {
        self.state = State::Sending;
        let mut have: Vec<RangeSet> = vec![RangeSet::new(); self.files.len()];
        for entry in resume {
            if let Some(set) = have.get_mut(entry.index as usize) {
                *set = RangeSet::from_ranges(&entry.have);
            }
        }
        let mut actions = Vec::new();
        if !self.resuming {
            actions.push(TxAction::Emit(TransferEvent::Accepted));
        }
        if self.text.is_some() {
            // The text went with the offer; accepting it is receiving it.
            actions.extend(self.finish(Outcome::Completed));
            return actions;
        }
        let mut jobs = Vec::new();
        let mut skipped = 0;
        for ((file, have), confirmed) in self.files.iter().zip(&have).zip(&self.confirmed) {
            if *confirmed {
                skipped += file.size;
                continue;
            }
            let missing = have.missing(file.size);
            let already = file.size - missing.iter().map(|r| r.end - r.start).sum::<u64>();
            skipped += already;
            if already > 0 {
                actions.push(TxAction::Emit(TransferEvent::Resumed {
                    file: file.path.clone(),
                    offset: already,
                    size: file.size,
                }));
            }
            jobs.push(StreamJob {
                index: file.index,
                ranges: missing,
            });
        }
        self.skipped_bytes = skipped;
        // Every accept is on a fresh connection, whose window starts empty.
        self.window = SendWindow::new();
        actions.push(TxAction::Stream(jobs));
        actions.push(TxAction::Allow {
            up_to: self.window.allowance(),
        });
        actions
    }

    fn on_file_result(
        &mut self,
        index: u32,
        failure: Option<(String, Option<FailureCause>)>,
    ) -> Vec<TxAction> {
        let i = index as usize;
        if i >= self.files.len() || self.confirmed[i] {
            return Vec::new();
        }
        let Some(hash) = self.hashes[i].clone() else {
            return self.protocol_error(format!(
                "receiver confirmed file {index} before it was sent"
            ));
        };
        self.confirmed[i] = true;
        let file = &self.files[i];
        let mut actions = Vec::new();
        match failure {
            None => actions.push(TxAction::Emit(TransferEvent::FileVerified {
                path: file.path.clone(),
                size: file.size,
                blake3: hash,
            })),
            Some((reason, cause)) => self
                .failures
                .push((format!("{}: {reason}", file.path), cause)),
        }
        if self.confirmed.iter().all(|c| *c) {
            let outcome = if self.failures.is_empty() {
                Outcome::Completed
            } else {
                let reasons: Vec<&str> = self.failures.iter().map(|(r, _)| r.as_str()).collect();
                let reason = format!(
                    "receiver could not save {} file(s): {}",
                    self.failures.len(),
                    reasons.join("; ")
                );
                outcome_of_failures(self.failures.iter().map(|(_, c)| *c), reason)
            };
            actions.extend(self.finish(outcome));
        }
        actions
    }

    fn finish(&mut self, outcome: Outcome) -> Vec<TxAction> {
        self.state = State::Finished;
        let mut actions: Vec<TxAction> = outcome.event().into_iter().map(TxAction::Emit).collect();
        actions.push(TxAction::Finish(outcome));
        actions
    }
}

/// `actions` with every message to send cut to fit a control message ([`ControlMsg::bounded`]):
/// reasons may quote local errors of any length.
fn bounded(actions: Vec<TxAction>) -> Vec<TxAction> {
    actions
        .into_iter()
        .map(|action| match action {
            TxAction::Send(msg) => TxAction::Send(msg.bounded()),
            other => other,
        })
        .collect()
}
