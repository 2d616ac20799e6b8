//! The sending side of a transfer as a pure state machine.
//!
//! Lifecycle: `Start` → offer + file list sent → `AwaitingDecision` → accept (with what the
//! receiver already has) → `Sending` (the driver streams the missing ranges and reports each
//! file's hash) → every `file_ok` received → finished. The sender only calls a transfer
//! successful when the receiver has confirmed every file's hash.

use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::transfer::{ByteRange, ControlMsg, FileEntry, MAX_MESSAGE_BYTES};
use peerdrop_proto::PROTOCOL_VERSION;
use uuid::Uuid;

use super::ranges::RangeSet;
use super::receiver::control_name;
use super::Outcome;

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
    /// The connection to the peer is gone.
    PeerGone,
    /// The local user cancelled.
    LocalCancel(String),
}

/// Actions the driver must carry out, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum TxAction {
    /// Send on the control channel.
    Send(ControlMsg),
    /// Start streaming these files, in order.
    Stream(Vec<StreamJob>),
    /// Report to the front end.
    Emit(TransferEvent),
    /// The transfer is over; stop streaming and drop the connection.
    Finish(Outcome),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Idle,
    AwaitingDecision,
    Sending,
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
    failures: Vec<String>,
    skipped_bytes: u64,
}

impl SenderMachine {
    /// A sender offering `files` (indices must be `0..n` in order).
    pub fn new(transfer_id: Uuid, sender_name: String, files: Vec<FileEntry>) -> Self {
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
        }
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

    /// Advances the machine by one input.
    pub fn handle(&mut self, input: TxInput) -> Vec<TxAction> {
        if self.state == State::Finished {
            return Vec::new();
        }
        match input {
            TxInput::Start if self.state == State::Idle => self.offer(),
            TxInput::Start => Vec::new(),
            TxInput::Control(msg) => self.on_control(msg),
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
            TxInput::PeerGone => self.finish(Outcome::Failed("peer disconnected".into())),
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
        let mut actions = vec![TxAction::Send(ControlMsg::Offer {
            v: PROTOCOL_VERSION,
            transfer_id: self.transfer_id,
            sender_name: self.sender_name.clone(),
            file_count: self.files.len() as u32,
            total_size: self.total_size(),
        })];
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
            (State::AwaitingDecision, ControlMsg::Accept { resume }) => {
                self.state = State::Sending;
                let mut have: Vec<RangeSet> = vec![RangeSet::new(); self.files.len()];
                for entry in resume {
                    if let Some(set) = have.get_mut(entry.index as usize) {
                        *set = RangeSet::from_ranges(&entry.have);
                    }
                }
                let jobs: Vec<StreamJob> = self
                    .files
                    .iter()
                    .zip(&have)
                    .map(|(file, have)| StreamJob {
                        index: file.index,
                        ranges: have.missing(file.size),
                    })
                    .collect();
                self.skipped_bytes = self
                    .files
                    .iter()
                    .zip(&have)
                    .map(|(f, h)| {
                        f.size
                            - h.missing(f.size)
                                .iter()
                                .map(|r| r.end - r.start)
                                .sum::<u64>()
                    })
                    .sum();
                vec![
                    TxAction::Emit(TransferEvent::Accepted),
                    TxAction::Stream(jobs),
                ]
            }
            (State::AwaitingDecision, ControlMsg::Decline { reason }) => {
                self.finish(Outcome::Declined(format!("declined by receiver: {reason}")))
            }
            (State::Sending, ControlMsg::FileOk { index }) => self.on_file_result(index, None),
            (State::Sending, ControlMsg::FileFailed { index, reason }) => {
                self.on_file_result(index, Some(reason))
            }
            (_, ControlMsg::Cancel { reason }) => {
                self.finish(Outcome::Cancelled(format!("receiver cancelled: {reason}")))
            }
            (_, ControlMsg::Error { message }) => {
                self.finish(Outcome::Failed(format!("receiver refused: {message}")))
            }
            (_, other) => {
                let reason = format!("unexpected {} message from receiver", control_name(&other));
                let mut actions = vec![TxAction::Send(ControlMsg::Error {
                    message: reason.clone(),
                })];
                actions.extend(self.finish(Outcome::Failed(format!("protocol error: {reason}"))));
                actions
            }
        }
    }

    fn on_file_result(&mut self, index: u32, failure: Option<String>) -> Vec<TxAction> {
        let i = index as usize;
        if i >= self.files.len() || self.confirmed[i] {
            return Vec::new();
        }
        let Some(hash) = self.hashes[i].clone() else {
            let reason = format!("receiver confirmed file {index} before it was sent");
            let mut actions = vec![TxAction::Send(ControlMsg::Error {
                message: reason.clone(),
            })];
            actions.extend(self.finish(Outcome::Failed(format!("protocol error: {reason}"))));
            return actions;
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
            Some(reason) => self.failures.push(format!("{}: {reason}", file.path)),
        }
        if self.confirmed.iter().all(|c| *c) {
            let outcome = if self.failures.is_empty() {
                Outcome::Completed
            } else {
                Outcome::Failed(format!(
                    "receiver could not save {} file(s): {}",
                    self.failures.len(),
                    self.failures.join("; ")
                ))
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
