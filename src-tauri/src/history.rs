//! The transfer history: the last [`HISTORY_LIMIT`] finished transfers, both ways, in
//! `history.json` in the app's data folder, so "what did Ben send me yesterday, and where is
//! it?" has an answer after a restart. Written atomically after every transfer; cleared only
//! when the person asks ([`HistoryStore::clear`]).
//!
//! [`Recorder`] turns one transfer's events into its entry: it watches the same
//! [`TransferEvent`]s the UI gets and, on the terminal one, has the whole story (who, what,
//! how it ended, where it was saved).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use peerdrop_app_ipc::{Direction, HistoryEntry, HistoryOutcome, HISTORY_LIMIT};
use peerdrop_proto::events::TransferEvent;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::hub::TrackedSink;
use crate::{json_file, Shared};

/// File name inside the data folder.
const FILE_NAME: &str = "history.json";

/// What is on disk: the entries, oldest first, and the next id to give out.
#[derive(Serialize, Deserialize, Default)]
struct Stored {
    next_id: u64,
    entries: VecDeque<HistoryEntry>,
}

/// The history file and its contents.
pub struct HistoryStore {
    /// `None`: no data folder (nothing is kept past this run).
    path: Option<PathBuf>,
    current: Mutex<Stored>,
}

impl HistoryStore {
    /// Loads `history.json` from `data_dir`. A file that cannot be read as a history is moved
    /// aside to `history.json.unreadable` (not overwritten: nothing is lost) and the history
    /// starts empty.
    pub fn load(data_dir: &Path) -> Self {
        let path = data_dir.join(FILE_NAME);
        let stored = json_file::read_or_set_aside(&path, "history").unwrap_or_default();
        Self {
            path: Some(path),
            current: Mutex::new(stored),
        }
    }

    /// A history kept in memory only (no data folder).
    pub fn in_memory() -> Self {
        Self {
            path: None,
            current: Mutex::new(Stored::default()),
        }
    }

    /// The entries, newest first.
    pub fn list(&self) -> Vec<HistoryEntry> {
        let current = self.current.lock().expect("history lock");
        current.entries.iter().rev().cloned().collect()
    }

    /// One entry by id.
    pub fn get(&self, id: u64) -> Option<HistoryEntry> {
        let current = self.current.lock().expect("history lock");
        current.entries.iter().find(|e| e.id == id).cloned()
    }

    /// Adds `entry` (its id is assigned here), dropping the oldest beyond the limit, and
    /// writes the file; returns the entry as stored. A write failure is logged: the entry
    /// stays in memory for this run.
    pub fn add(&self, mut entry: HistoryEntry) -> HistoryEntry {
        let mut current = self.current.lock().expect("history lock");
        entry.id = current.next_id;
        current.next_id += 1;
        current.entries.push_back(entry.clone());
        while current.entries.len() > HISTORY_LIMIT {
            current.entries.pop_front();
        }
        if let Err(e) = self.write(&current) {
            tracing::warn!(error = %e, "history not saved");
        }
        entry
    }

    /// Forgets every entry (the person asked), on disk too. Ids are not reused.
    pub fn clear(&self) -> AppResult<()> {
        let mut current = self.current.lock().expect("history lock");
        let kept = std::mem::take(&mut current.entries);
        if let Err(e) = self.write(&current) {
            current.entries = kept;
            return Err(e);
        }
        Ok(())
    }

    /// Writes `stored` to the history file (none for an in-memory history).
    fn write(&self, stored: &Stored) -> AppResult<()> {
        match &self.path {
            Some(path) => json_file::write_atomic(path, stored, "the history"),
            None => Ok(()),
        }
    }
}

/// Where a received entry's first item is now, for "Show in folder": `saved_to/saved_item`
/// (or the folder alone), if it still exists.
pub fn saved_location(entry: &HistoryEntry) -> AppResult<PathBuf> {
    let folder = entry
        .saved_to
        .as_deref()
        .map(PathBuf::from)
        .ok_or_else(|| {
            AppError::Invalid(format!("nothing of \"{}\" was saved here", entry.what))
        })?;
    let item = match &entry.saved_item {
        Some(name) => folder.join(name),
        None => folder,
    };
    if item.exists() {
        Ok(item)
    } else {
        Err(AppError::Invalid(format!(
            "{} is no longer there (moved or deleted)",
            item.display()
        )))
    }
}

/// An event sink for one transfer that passes every event to `forward` and, when the
/// transfer ends, adds its entry to the history and tells the UI (`NodeUpdate::History`).
pub fn recording(
    shared: std::sync::Arc<Shared>,
    recorder: Recorder,
    forward: impl Fn(TransferEvent) + Send + Sync + 'static,
) -> TrackedSink {
    let recorder = Mutex::new(recorder);
    TrackedSink::new(move |event| {
        let finished = recorder.lock().expect("recorder lock").observe(&event);
        forward(event);
        if let Some(entry) = finished {
            let entry = shared.history.add(entry);
            shared
                .hub
                .emit(peerdrop_app_ipc::NodeUpdate::History(entry));
        }
    })
}

/// Collects one transfer's story from its events; [`Recorder::observe`] returns the
/// history entry when the transfer ends.
pub struct Recorder {
    direction: Direction,
    peer: String,
    peer_verified: bool,
    what: Option<String>,
    files_offered: usize,
    text: Option<String>,
    bytes_total: u64,
    /// Receiver: the top-level name of the first verified file.
    first_saved: Option<String>,
    /// The entry was made: later events (there should be none) change nothing.
    finished: bool,
}

impl Recorder {
    /// A send of `what` (described by the caller, which knows what was picked).
    pub fn sending(what: String) -> Self {
        Self::new(Direction::Sent, Some(what))
    }

    /// A receive: what it is comes with the offer.
    pub fn receiving() -> Self {
        Self::new(Direction::Received, None)
    }

    fn new(direction: Direction, what: Option<String>) -> Self {
        Self {
            direction,
            peer: String::new(),
            peer_verified: false,
            what,
            files_offered: 0,
            text: None,
            bytes_total: 0,
            first_saved: None,
            finished: false,
        }
    }

    /// Takes in one event; on the one that ends the transfer, returns its entry (id 0 until
    /// [`HistoryStore::add`] gives it one).
    pub fn observe(&mut self, event: &TransferEvent) -> Option<HistoryEntry> {
        if self.finished {
            return None;
        }
        let entry = self.take_in(event);
        self.finished = entry.is_some();
        entry
    }

    fn take_in(&mut self, event: &TransferEvent) -> Option<HistoryEntry> {
        match event {
            TransferEvent::Connecting { peer } if self.peer.is_empty() => self.peer = peer.clone(),
            TransferEvent::Connected { peer, .. } => self.peer = peer.clone(),
            TransferEvent::Verify { peer, known, .. } => {
                self.peer = peer.clone();
                self.peer_verified = *known;
            }
            TransferEvent::Incoming {
                from,
                files,
                total_size,
                text,
                ..
            } => {
                self.peer = from.clone();
                self.files_offered = files.len();
                self.bytes_total = *total_size;
                self.text = text.clone();
                self.what = Some(match text {
                    Some(_) => "a text".to_string(),
                    None => describe_offer(files.iter().map(|f| f.path.as_str())),
                });
            }
            TransferEvent::Text { text } => self.text = Some(text.clone()),
            TransferEvent::FileVerified { path, .. } if self.first_saved.is_none() => {
                self.first_saved = path.split('/').next().map(str::to_owned);
            }
            TransferEvent::Progress { total, .. } => self.bytes_total = *total,
            TransferEvent::Done {
                files,
                bytes,
                seconds,
                saved_to,
            } => {
                return Some(self.entry(
                    HistoryOutcome::Done,
                    None,
                    *files,
                    *bytes,
                    *seconds,
                    saved_to.clone(),
                ))
            }
            TransferEvent::Failed { reason, .. } => {
                return Some(self.ended(HistoryOutcome::Failed, reason))
            }
            TransferEvent::Declined { reason } => {
                return Some(self.ended(HistoryOutcome::Declined, reason))
            }
            TransferEvent::Cancelled { reason } => {
                return Some(self.ended(HistoryOutcome::Cancelled, reason))
            }
            _ => {}
        }
        None
    }

    fn ended(&self, outcome: HistoryOutcome, reason: &str) -> HistoryEntry {
        self.entry(
            outcome,
            Some(reason.to_string()),
            0,
            self.bytes_total,
            0.0,
            None,
        )
    }

    fn entry(
        &self,
        outcome: HistoryOutcome,
        reason: Option<String>,
        files: u32,
        bytes: u64,
        seconds: f64,
        saved_to: Option<String>,
    ) -> HistoryEntry {
        let text_bytes = self.text.as_ref().map(|t| t.len() as u64);
        HistoryEntry {
            id: 0,
            direction: self.direction,
            peer: if self.peer.is_empty() {
                "an unknown device".to_string()
            } else {
                self.peer.clone()
            },
            peer_verified: self.peer_verified,
            what: self
                .what
                .clone()
                .unwrap_or_else(|| match self.files_offered {
                    0 => "nothing yet".to_string(),
                    n => format!("{n} files"),
                }),
            files,
            bytes: text_bytes.unwrap_or(bytes),
            text: self.text.clone(),
            outcome,
            reason,
            saved_item: saved_to.as_ref().and(self.first_saved.clone()),
            saved_to,
            finished_at_ms: now_ms(),
            seconds,
        }
    }
}

/// What an offer holds, in a few words: the file's name for one file, else the top folder
/// (or first name) and the count — "holiday (12 files)", "a.txt and 2 more".
pub fn describe_offer<'a>(paths: impl Iterator<Item = &'a str>) -> String {
    let paths: Vec<&str> = paths.collect();
    match paths.as_slice() {
        [] => "an empty folder".to_string(),
        [one] => one.rsplit('/').next().unwrap_or(one).to_string(),
        [first, rest @ ..] => {
            let top = |p: &str| p.split('/').next().unwrap_or(p).to_string();
            let folder = top(first);
            if first.contains('/') && rest.iter().all(|p| top(p) == folder) {
                format!("{folder} ({} files)", paths.len())
            } else {
                format!("{} and {} more", top(first), rest.len())
            }
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerdrop_proto::events::FileSummary;
    use uuid::Uuid;

    fn incoming(paths: &[&str]) -> TransferEvent {
        TransferEvent::Incoming {
            transfer_id: Uuid::nil(),
            from: "Ben's phone".into(),
            files: paths
                .iter()
                .map(|p| FileSummary {
                    path: p.to_string(),
                    size: 10,
                })
                .collect(),
            total_size: 10 * paths.len() as u64,
            text: None,
        }
    }

    #[test]
    fn a_receive_is_recorded_with_who_what_where_and_how_it_ended() {
        let mut rec = Recorder::receiving();
        for event in [
            TransferEvent::Verify {
                phrase: "a b c d".into(),
                known: true,
                peer: "Ben's phone".into(),
                changed: false,
                fingerprint: "ab".into(),
                pinned_as: None,
            },
            incoming(&["holiday/a.jpg", "holiday/b.jpg"]),
            TransferEvent::Accepted,
            TransferEvent::FileVerified {
                path: "holiday/a.jpg".into(),
                size: 10,
                blake3: "00".into(),
            },
        ] {
            assert!(rec.observe(&event).is_none());
        }
        let entry = rec
            .observe(&TransferEvent::Done {
                files: 2,
                bytes: 20,
                seconds: 2.0,
                saved_to: Some("/home/ana/Downloads".into()),
            })
            .expect("done ends it");
        assert_eq!(entry.direction, Direction::Received);
        assert_eq!(entry.peer, "Ben's phone");
        assert!(entry.peer_verified);
        assert_eq!(entry.what, "holiday (2 files)");
        assert_eq!(entry.outcome, HistoryOutcome::Done);
        assert_eq!(entry.saved_to.as_deref(), Some("/home/ana/Downloads"));
        assert_eq!(entry.saved_item.as_deref(), Some("holiday"));
        assert_eq!(entry.average_bytes_per_sec(), Some(10.0));
    }

    #[test]
    fn a_declined_send_and_a_text_are_recorded_too() {
        let mut rec = Recorder::sending("report.pdf".into());
        rec.observe(&TransferEvent::Connecting {
            peer: "K7QM-2X".into(),
        });
        rec.observe(&TransferEvent::Connected {
            peer: "Ana's laptop".into(),
            connect_ms: 5,
        });
        let entry = rec
            .observe(&TransferEvent::Declined {
                reason: "Ana declined".into(),
            })
            .unwrap();
        assert_eq!(
            (entry.peer.as_str(), entry.what.as_str()),
            ("Ana's laptop", "report.pdf")
        );
        assert_eq!(entry.outcome, HistoryOutcome::Declined);
        assert_eq!(entry.reason.as_deref(), Some("Ana declined"));
        assert_eq!(entry.average_bytes_per_sec(), None);

        let mut rec = Recorder::receiving();
        rec.observe(&TransferEvent::Incoming {
            transfer_id: Uuid::nil(),
            from: "Ben".into(),
            files: vec![],
            total_size: 0,
            text: Some("https://example.org/x".into()),
        });
        let entry = rec
            .observe(&TransferEvent::Done {
                files: 0,
                bytes: 0,
                seconds: 0.1,
                saved_to: None,
            })
            .unwrap();
        assert_eq!(entry.what, "a text");
        assert_eq!(entry.text.as_deref(), Some("https://example.org/x"));
        assert_eq!(entry.bytes, 21);
    }

    #[test]
    fn offers_are_described_in_a_few_words() {
        assert_eq!(describe_offer(["a.txt"].into_iter()), "a.txt");
        assert_eq!(describe_offer(["d/e/a.txt"].into_iter()), "a.txt");
        assert_eq!(
            describe_offer(["a.txt", "b.txt", "c"].into_iter()),
            "a.txt and 2 more"
        );
        assert_eq!(describe_offer(["p/a", "p/b"].into_iter()), "p (2 files)");
        assert_eq!(describe_offer(std::iter::empty()), "an empty folder");
    }

    fn entry(what: &str) -> HistoryEntry {
        let mut rec = Recorder::sending(what.into());
        rec.observe(&TransferEvent::Failed {
            reason: "gone".into(),
            cause: None,
        })
        .unwrap()
    }

    #[test]
    fn the_history_survives_a_restart_keeps_the_last_hundred_and_clears_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::load(dir.path());
        for i in 0..(HISTORY_LIMIT + 5) {
            store.add(entry(&format!("file-{i}")));
        }
        let reloaded = HistoryStore::load(dir.path());
        let list = reloaded.list();
        assert_eq!(list.len(), HISTORY_LIMIT);
        assert_eq!(
            list[0].what,
            format!("file-{}", HISTORY_LIMIT + 4),
            "newest first"
        );
        assert_eq!(
            list.last().unwrap().what,
            "file-5",
            "the oldest five dropped"
        );
        let newest = list[0].id;
        assert_eq!(reloaded.get(newest).unwrap().what, list[0].what);

        reloaded.clear().unwrap();
        assert!(reloaded.list().is_empty());
        let after_clear = HistoryStore::load(dir.path());
        assert!(after_clear.list().is_empty(), "cleared on disk too");
        let added = after_clear.add(entry("next"));
        assert!(added.id > newest, "ids are never reused");
    }

    #[test]
    fn an_unreadable_history_is_moved_aside_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"{ not json").unwrap();
        let store = HistoryStore::load(dir.path());
        assert!(store.list().is_empty());
        assert_eq!(
            std::fs::read(dir.path().join("history.json.unreadable")).unwrap(),
            b"{ not json"
        );
        store.add(entry("x"));
        assert_eq!(HistoryStore::load(dir.path()).list().len(), 1);
    }
}
