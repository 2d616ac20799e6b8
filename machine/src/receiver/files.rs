//! The files, as they arrive: resume seeding, data frames inside what was announced, the
//! sender's hashes, verification and its results, and the end once every file is settled.

use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::transfer::{ByteRange, ControlMsg, ResumeEntry};

use super::*;

/// What an earlier run of a transfer left of one offered file ([`RxInput::EarlierRun`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EarlierFile {
    /// Nothing: it starts from the first byte.
    Fresh,
    /// These byte ranges are on disk in its part file.
    Partial(Vec<ByteRange>),
    /// It was verified and saved already.
    Saved {
        /// Its BLAKE3 then (lowercase hex): confirmed only if the sender's hash is the same.
        blake3: String,
        /// Where it was saved (relative display form).
        saved_as: String,
    },
}

impl ReceiverMachine {
    /// Seeds what an earlier run left ([`RxInput::EarlierRun`]), only while the person is being
    /// asked: after the decision the sender has been told what to skip.
    pub(super) fn seed_earlier_run(&mut self, files: Vec<EarlierFile>) {
        if self.state != State::AwaitingDecision {
            return;
        }
        for (index, earlier) in (0u32..).zip(files) {
            match earlier {
                EarlierFile::Fresh => {}
                EarlierFile::Partial(have) => {
                    self.set_already_have(index, RangeSet::from_ranges(&have))
                }
                EarlierFile::Saved { blake3, saved_as } => {
                    self.set_already_saved(index, &blake3, &saved_as)
                }
            }
        }
    }

    /// Pre-seeds what is already on disk of file `index` (resume).
    fn set_already_have(&mut self, index: u32, have: RangeSet) {
        if let Some(file) = self.files.get_mut(index as usize) {
            if file.status == FileStatus::Receiving {
                file.have = RangeSet::from_ranges(
                    &have
                        .ranges()
                        .iter()
                        .filter(|r| r.start < file.entry.size)
                        .map(|r| peerdrop_proto::transfer::ByteRange {
                            start: r.start,
                            end: r.end.min(file.entry.size),
                        })
                        .collect::<Vec<_>>(),
                );
            }
        }
    }

    /// Marks file `index` as verified and saved (as `saved_as`) by an earlier run of this
    /// transfer. It counts as done once the sender's hash
    /// arrives and equals `blake3`.
    fn set_already_saved(&mut self, index: u32, blake3: &str, saved_as: &str) {
        if let Some(file) = self.files.get_mut(index as usize) {
            file.status = FileStatus::Saved;
            file.have = RangeSet::new();
            file.have.insert(0, file.entry.size);
            file.expected_hash = Some(blake3.to_ascii_lowercase());
            file.saved_as = Some(saved_as.to_owned());
        }
    }

    pub(super) fn resume_entries(&self) -> Vec<ResumeEntry> {
        self.files
            .iter()
            .filter(|f| f.have.covered() > 0)
            .map(|f| ResumeEntry {
                index: f.entry.index,
                have: f.have.ranges().to_vec(),
            })
            .collect()
    }

    pub(super) fn on_data(&mut self, index: u32, offset: u64, len: u64) -> Vec<RxAction> {
        if matches!(
            self.state,
            State::AwaitingReoffer | State::CollectingReoffer
        ) {
            // A frame of the failed connection that was still queued: it may or may not have
            // been complete; the re-offer's accept says what is held, so it is simply dropped.
            return Vec::new();
        }
        if self.state != State::Receiving {
            return self.protocol_error("data before the transfer was accepted".into());
        }
        let Some(size) = self.files.get(index as usize).map(|f| f.entry.size) else {
            return self.protocol_error(format!("data for unknown file {index}"));
        };
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return self.protocol_error(format!(
                "data at {offset}+{len} is past the end of file {index} ({size} bytes)"
            ));
        }
        let file = &mut self.files[index as usize];
        if file.status != FileStatus::Receiving {
            // A late duplicate for a file already being checked: harmless, ignore it.
            return Vec::new();
        }
        file.have.insert(offset, offset + len);
        if file.have.len() > MAX_RANGES_PER_FILE {
            // 1-byte frames at descending offsets with gaps would grow the set (and the cost of
            // every insert) without bound; no honest sender leaves this many holes.
            return self.protocol_error(format!(
                "file {index} arrives in more than {MAX_RANGES_PER_FILE} separate pieces"
            ));
        }
        let mut actions = vec![RxAction::Write { index, offset }];
        actions.extend(self.verify_if_complete(index));
        actions
    }

    pub(super) fn on_file_done(&mut self, index: u32, blake3: String) -> Vec<RxAction> {
        let valid_hash = blake3.len() == 64 && blake3.bytes().all(|b| b.is_ascii_hexdigit());
        let Some(file) = self.files.get_mut(index as usize) else {
            return self.protocol_error(format!("file_done for unknown file {index}"));
        };
        if !valid_hash {
            return self.protocol_error(format!(
                "file_done for file {index} carries a malformed hash"
            ));
        }
        let blake3 = blake3.to_ascii_lowercase();
        if let Some(known) = &file.expected_hash {
            if *known != blake3 {
                if file.status == FileStatus::Saved {
                    let reason = format!(
                        "already saved as {} by an earlier attempt, but the sender's file is different now",
                        file.saved_as.clone().unwrap_or_default()
                    );
                    file.status = FileStatus::Failed;
                    file.failure = Some(Unsaved::other(reason.clone()));
                    self.failures
                        .push((format!("{}: {reason}", file.path.display_string()), None));
                    let mut actions = vec![RxAction::Send(ControlMsg::FileFailed {
                        index,
                        reason,
                        cause: None,
                    })];
                    actions.extend(self.finish_if_all_done());
                    return actions;
                }
                return self.protocol_error(format!(
                    "file_done for file {index} sent twice with different hashes"
                ));
            }
            // The same hash again: a resumed transfer repeats it for files not yet confirmed.
            return match file.status {
                FileStatus::Saved => {
                    file.status = FileStatus::Verified;
                    let mut actions = vec![
                        RxAction::Send(ControlMsg::FileOk { index }),
                        RxAction::Emit(TransferEvent::FileVerified {
                            path: file.saved_as.clone().unwrap_or_default(),
                            size: file.entry.size,
                            blake3,
                        }),
                    ];
                    actions.extend(self.finish_if_all_done());
                    actions
                }
                FileStatus::Verified => {
                    let mut actions = vec![RxAction::Send(ControlMsg::FileOk { index })];
                    actions.extend(self.finish_if_all_done());
                    actions
                }
                FileStatus::Failed => {
                    let failure = file.failure.clone().unwrap_or(Unsaved::other(""));
                    let mut actions = vec![RxAction::Send(ControlMsg::FileFailed {
                        index,
                        reason: failure.reason,
                        cause: failure.cause,
                    })];
                    actions.extend(self.finish_if_all_done());
                    actions
                }
                FileStatus::Receiving | FileStatus::Verifying => self.verify_if_complete(index),
            };
        }
        file.expected_hash = Some(blake3);
        self.verify_if_complete(index)
    }

    pub(super) fn verify_ready(&mut self) -> Vec<RxAction> {
        (0..self.files.len() as u32)
            .flat_map(|i| self.verify_if_complete(i))
            .collect()
    }

    pub(super) fn verify_if_complete(&mut self, index: u32) -> Vec<RxAction> {
        let file = &mut self.files[index as usize];
        match &file.expected_hash {
            Some(hash)
                if file.status == FileStatus::Receiving
                    && file.have.covers_all(file.entry.size) =>
            {
                file.status = FileStatus::Verifying;
                vec![RxAction::Verify {
                    index,
                    blake3: hash.clone(),
                    path: file.path.clone(),
                    size: file.entry.size,
                }]
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn on_verified(
        &mut self,
        index: u32,
        result: Result<String, Unsaved>,
    ) -> Vec<RxAction> {
        let Some(file) = self.files.get_mut(index as usize) else {
            return Vec::new();
        };
        if file.status != FileStatus::Verifying {
            return Vec::new();
        }
        // While reconnecting there is no one to tell: the sender repeats `file_done` for every
        // file it has no answer for, and gets the answer then.
        let connected = self.state == State::Receiving;
        let mut actions = Vec::new();
        match result {
            Ok(saved_as) => {
                file.status = FileStatus::Verified;
                file.saved_as = Some(saved_as.clone());
                if connected {
                    actions.push(RxAction::Send(ControlMsg::FileOk { index }));
                }
                actions.push(RxAction::Emit(TransferEvent::FileVerified {
                    path: saved_as,
                    size: file.entry.size,
                    blake3: file.expected_hash.clone().unwrap_or_default(),
                }));
            }
            Err(unsaved) => {
                file.status = FileStatus::Failed;
                file.failure = Some(unsaved.clone());
                self.failures.push((
                    format!("{}: {}", file.path.display_string(), unsaved.reason),
                    unsaved.cause,
                ));
                if connected {
                    actions.push(RxAction::Send(ControlMsg::FileFailed {
                        index,
                        reason: unsaved.reason,
                        cause: unsaved.cause,
                    }));
                }
            }
        }
        if connected {
            actions.extend(self.finish_if_all_done());
        }
        actions
    }

    pub(super) fn finish_if_all_done(&mut self) -> Vec<RxAction> {
        if self.state != State::Receiving {
            return Vec::new();
        }
        let mut actions = Vec::new();
        if self
            .files
            .iter()
            .all(|f| matches!(f.status, FileStatus::Verified | FileStatus::Failed))
        {
            let outcome = if self.failures.is_empty() {
                Outcome::Completed
            } else {
                let reasons: Vec<&str> = self.failures.iter().map(|(r, _)| r.as_str()).collect();
                let reason = format!(
                    "{} file(s) failed verification: {}",
                    self.failures.len(),
                    reasons.join("; ")
                );
                outcome_of_failures(self.failures.iter().map(|(_, c)| *c), reason)
            };
            actions.extend(self.finish(outcome));
        }
        actions
    }
}
