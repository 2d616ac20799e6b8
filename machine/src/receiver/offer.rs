//! The offer, as the receiver collects it: the text or the file list (checked as hostile:
//! caps, safe and unique paths), the verification reveal, the question to the person and the
//! answer, and a re-offer after a cut, which must be the same transfer.

use std::collections::HashSet;

use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::transfer::{ControlMsg, FileEntry, MAX_TEXT_BYTES};
use uuid::Uuid;

use super::*;
use crate::names::sanitize_relative_path;
use crate::sas;

impl ReceiverMachine {
    /// A text instead of files: no file list follows; it is asked about like files are.
    pub(super) fn on_text_offer(
        &mut self,
        transfer_id: Uuid,
        sender_name: String,
        file_count: u32,
        total_size: u64,
        text: String,
    ) -> Vec<RxAction> {
        if file_count != 0 || total_size != 0 {
            return self.protocol_error("a text offer also announces files".into());
        }
        if text.len() > MAX_TEXT_BYTES {
            return self.refuse(format!(
                "the text is {} bytes; at most {} KiB are accepted as text (send it as a file)",
                text.len(),
                MAX_TEXT_BYTES >> 10
            ));
        }
        self.offer = Some(OfferHeader {
            transfer_id,
            sender_name: sender_name.clone(),
            file_count: 0,
            total_size: 0,
            text: Some(text.clone()),
        });
        self.state = State::AwaitingDecision;
        self.pending_ask = Some(OfferSummary {
            transfer_id,
            from: sender_name,
            files: Vec::new(),
            total_size: 0,
            resumable_bytes: 0,
            verification: None,
            text: Some(text),
        });
        self.ask_when_ready()
    }

    /// Refuses the offer as unsafe: the sender learns it was refused, not that it failed.
    pub(super) fn refuse(&mut self, reason: String) -> Vec<RxAction> {
        let message = format!("{REFUSED_PREFIX}{reason}");
        let mut actions = vec![RxAction::Send(ControlMsg::Error {
            message: message.clone(),
            cause: None,
        })];
        actions.extend(self.finish(Outcome::Refused(message)));
        actions
    }

    pub(super) fn on_files(&mut self, entries: Vec<FileEntry>) -> Vec<RxAction> {
        let offer = self
            .offer
            .clone()
            .expect("collecting files implies an offer");
        for entry in entries {
            if entry.index as usize != self.entries.len()
                || self.entries.len() >= offer.file_count as usize
            {
                return self
                    .protocol_error(format!("file list entry {} out of order", entry.index));
            }
            self.manifest_bytes = self.manifest_bytes.saturating_add(entry.path.len());
            if self.manifest_bytes > MAX_MANIFEST_PATH_BYTES {
                // Before any prompt: a million deep paths would otherwise cost gigabytes.
                return self.protocol_error(format!(
                    "the file list holds more than {} MiB of names",
                    MAX_MANIFEST_PATH_BYTES >> 20
                ));
            }
            self.entries.push(entry);
        }
        if self.entries.len() < offer.file_count as usize {
            return Vec::new();
        }
        // Checked: `[2^63, 2^63, 5]` must not wrap to 5 and show a 5-byte offer in the prompt.
        let Some(announced) = self
            .entries
            .iter()
            .try_fold(0u64, |total, e| total.checked_add(e.size))
        else {
            return self
                .protocol_error("the file sizes add up to more than 2^64 bytes".to_string());
        };
        if announced != offer.total_size {
            return self.protocol_error(format!(
                "file sizes add up to {announced} bytes but the offer says {}",
                offer.total_size
            ));
        }
        match self.check_paths() {
            Ok(files) => self.files = files,
            Err(reason) => return self.refuse(reason),
        }
        self.state = State::AwaitingDecision;
        let summary = OfferSummary {
            transfer_id: offer.transfer_id,
            from: offer.sender_name.clone(),
            files: self
                .files
                .iter()
                .map(|f| FileSummary {
                    path: f.path.display_string(),
                    size: f.entry.size,
                })
                .collect(),
            total_size: offer.total_size,
            resumable_bytes: 0,
            verification: None,
            text: None,
        };
        self.pending_ask = Some(summary);
        self.ask_when_ready()
    }

    /// Asks the user once both the file list and the verification handshake are complete.
    pub(super) fn ask_when_ready(&mut self) -> Vec<RxAction> {
        if !self.sas_done || self.state != State::AwaitingDecision {
            return Vec::new();
        }
        let Some(summary) = self.pending_ask.take() else {
            return Vec::new();
        };
        // The offer is complete: the person may take as long as they need.
        self.offer_until = None;
        vec![
            RxAction::Emit(TransferEvent::Incoming {
                transfer_id: summary.transfer_id,
                from: summary.from.clone(),
                files: summary.files.clone(),
                total_size: summary.total_size,
                text: summary.text.clone(),
            }),
            RxAction::AskUser(summary),
        ]
    }

    pub(super) fn on_reveal(&mut self, nonce: String) -> Vec<RxAction> {
        let expected = self.sas_commit.clone().unwrap_or_default();
        if !sas::is_valid_nonce(&nonce) || sas::commitment(&nonce) != expected {
            return self.protocol_error(
                "the verification handshake failed (revealed nonce does not match its commitment)"
                    .into(),
            );
        }
        self.sas_done = true;
        let mut actions = vec![RxAction::Authenticated {
            sender_nonce: nonce,
            receiver_nonce: self.sas_nonce.clone(),
        }];
        actions.extend(self.ask_when_ready());
        actions
    }

    /// File list of a re-offer: must be exactly the original one; then accept without asking.
    pub(super) fn on_refiles(&mut self, entries: Vec<FileEntry>) -> Vec<RxAction> {
        self.reoffer.extend(entries);
        if self.reoffer.len() > self.entries.len()
            || self.reoffer[..] != self.entries[..self.reoffer.len()]
        {
            return self.protocol_error("the sender changed the file list while resuming".into());
        }
        if self.reoffer.len() < self.entries.len() {
            return Vec::new();
        }
        self.reoffer.clear();
        self.state = State::Receiving;
        self.reconnect_until = None;
        let mut actions = vec![RxAction::Send(ControlMsg::Accept {
            resume: self.resume_entries(),
        })];
        actions.extend(self.resumed_events());
        actions.extend(self.verify_ready());
        actions
    }

    pub(super) fn resumed_events(&self) -> Vec<RxAction> {
        self.files
            .iter()
            .filter(|f| f.status == FileStatus::Receiving && f.have.covered() > 0)
            .map(|f| {
                RxAction::Emit(TransferEvent::Resumed {
                    file: f.path.display_string(),
                    offset: f.have.covered(),
                    size: f.entry.size,
                })
            })
            .collect()
    }

    /// Every announced path must be safe, unique, and no file may also be a folder of another.
    pub(super) fn check_paths(&self) -> Result<Vec<RxFile>, String> {
        let mut files = Vec::with_capacity(self.entries.len());
        let mut seen_files = HashSet::new();
        let mut seen_dirs = HashSet::new();
        for entry in &self.entries {
            let path = sanitize_relative_path(&entry.path, self.platform)
                // The refusal quotes the name only as `UnsafePath` does: cut short, escaped.
                .map_err(|e| format!("unsafe file name: {e}"))?;
            let key = path.display_string().to_lowercase();
            let components = path.components();
            for depth in 1..components.len() {
                seen_dirs.insert(components[..depth].join("/").to_lowercase());
            }
            if !seen_files.insert(key) {
                return Err(format!(
                    "file name \"{}\" appears twice",
                    crate::names::quote(&path.display_string())
                ));
            }
            files.push(RxFile {
                entry: entry.clone(),
                path,
                have: RangeSet::new(),
                expected_hash: None,
                status: FileStatus::Receiving,
                saved_as: None,
                failure: None,
            });
        }
        if let Some(clash) = files
            .iter()
            .find(|f| seen_dirs.contains(&f.path.display_string().to_lowercase()))
        {
            return Err(format!(
                "{:?} is both a file and a folder",
                clash.path.display_string()
            ));
        }
        Ok(files)
    }

    pub(super) fn on_decision(&mut self, decision: Decision) -> Vec<RxAction> {
        // Only an answer to a question that was asked: after the verification phrase and the
        // whole file list (found by the machine fuzz target: an early `Accept` was taken).
        let asked = self.sas_done && self.pending_ask.is_none();
        if self.state != State::AwaitingDecision || !asked {
            return Vec::new();
        }
        match decision {
            Decision::Accept => {
                self.state = State::Receiving;
                let mut actions = vec![
                    RxAction::Send(ControlMsg::Accept {
                        resume: self.resume_entries(),
                    }),
                    RxAction::Emit(TransferEvent::Accepted),
                ];
                if let Some(text) = self.offer.as_ref().and_then(|o| o.text.clone()) {
                    // Nothing to stream: the text came with the offer.
                    actions.push(RxAction::Emit(TransferEvent::Text { text }));
                    actions.extend(self.finish(Outcome::Completed));
                    return actions;
                }
                actions.extend(self.resumed_events());
                // Zero-byte files need no data: they are complete as soon as their hash arrives.
                actions.extend(self.verify_ready());
                actions
            }
            Decision::Decline(reason) => {
                let mut actions = vec![RxAction::Send(ControlMsg::Decline {
                    reason: reason.clone(),
                })];
                actions.extend(self.finish(Outcome::Declined(reason)));
                actions
            }
        }
    }
}
