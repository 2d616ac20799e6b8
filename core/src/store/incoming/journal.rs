//! The resume journal of an incoming transfer: what a receiver holds of each file, written
//! next to the parts so an interrupted transfer resumes where it stopped, and the saved-files
//! log that records each verified file between two journal checkpoints.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use peerdrop_proto::transfer::ByteRange;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::parts::{open_part, part_name};
use super::IncomingTransfer;
use crate::store::dir::Dir;
use crate::store::names::{sanitize_relative_path, Platform};
use crate::store::sys::{self, Access};
use crate::store::StoreError;

/// Name of the resume journal inside a transfer's staging directory.
pub(super) const JOURNAL_FILE: &str = "journal";

/// Name of the log of files saved since the journal was last written: one JSON line per
/// file ([`IncomingTransfer::record_saved`]), folded into the journal at each checkpoint.
pub(super) const SAVED_LOG_FILE: &str = "saved";

/// A journal larger than this is not read (a million files with a few ranges each fit).
const MAX_JOURNAL_BYTES: u64 = 256 << 20;

/// Version of the journal format.
const JOURNAL_VERSION: u32 = 1;

/// What a receiver holds of one transfer, written next to the parts so an interrupted
/// transfer (network cut, killed process, full disk) resumes where it stopped. Ranges are
/// only recorded after the part data they describe was flushed to disk
/// ([`IncomingTransfer::checkpoint`]), so a journal never claims bytes that are not there.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Journal {
    /// Format version.
    pub v: u32,
    /// One entry per file of the offer.
    pub files: Vec<JournalEntry>,
}

/// One file in a [`Journal`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    /// File index in the offer.
    pub index: u32,
    /// Wire path as offered (a resumed offer must name the same file).
    pub path: String,
    /// Announced size.
    pub size: u64,
    /// Byte ranges of the part known to be on disk.
    #[serde(default)]
    pub have: Vec<ByteRange>,
    /// Set once the file was verified and moved to its final name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved: Option<SavedFile>,
}

/// A file a run of the transfer already verified and saved.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SavedFile {
    /// Its BLAKE3 (lowercase hex).
    pub blake3: String,
    /// Where it was saved, relative to DEST, `/`-separated.
    pub saved_as: String,
}

impl Journal {
    /// A journal for an offer with nothing received yet.
    pub fn new(files: impl IntoIterator<Item = (u32, String, u64)>) -> Journal {
        Journal {
            v: JOURNAL_VERSION,
            files: files
                .into_iter()
                .map(|(index, path, size)| JournalEntry {
                    index,
                    path,
                    size,
                    have: Vec::new(),
                    saved: None,
                })
                .collect(),
        }
    }
}

/// One line of the saved-files log.
#[derive(Serialize, Deserialize)]
struct SavedRecord {
    index: u32,
    #[serde(flatten)]
    saved: SavedFile,
}

/// How a file of a re-offered transfer can continue, according to the journal and the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileResume {
    /// Nothing usable: receive it from the start.
    Fresh,
    /// These ranges of its part are on disk.
    Partial(Vec<ByteRange>),
    /// Already verified and saved by an earlier run.
    Saved(SavedFile),
}

impl IncomingTransfer {
    /// Records that file `index` was verified and saved, by appending one line to the staging
    /// directory's saved-files log, so a resume after a crash neither asks for it again nor
    /// saves a second copy. Why a log and not the journal: rewriting the journal (one entry
    /// per offered file) after every file made a folder of n small files cost O(n²). The line
    /// is not fsynced: it survives the process being killed (it is in the kernel's page cache),
    /// and after a power cut the worst case is one file received again under a ` (n)` name.
    /// The next [`checkpoint`](Self::checkpoint) folds the log into the journal.
    pub fn record_saved(&mut self, index: u32, saved: &SavedFile) -> Result<(), StoreError> {
        let path = self.staging.join(SAVED_LOG_FILE);
        let mut line = Vec::new();
        if self.saved_log.is_none() {
            let log = open_part(&self.staging, SAVED_LOG_FILE, Access::AppendCreate)?;
            let len = log
                .metadata()
                .map_err(|e| StoreError::io("could not read", &path, e))?
                .len();
            if len > 0 {
                // An earlier run may have died mid-line: start on a line of our own (empty
                // lines are skipped when the log is read).
                line.push(b'\n');
            }
            self.saved_log = Some(log);
        }
        serde_json::to_writer(
            &mut line,
            &SavedRecord {
                index,
                saved: saved.clone(),
            },
        )
        .expect("saved record serialises");
        line.push(b'\n');
        let log = self.saved_log.as_mut().expect("opened above");
        log.write_all(&line)
            .map_err(|e| StoreError::io("could not write", &path, e))
    }

    /// Makes the data written so far durable, then records `journal` (replacing the previous
    /// one atomically) and empties the saved-files log, which the journal now covers. Call it every few megabytes and when a transfer stops without
    /// completing; what it records is exactly what a resumed transfer will not ask for again.
    pub fn checkpoint(&mut self, journal: &Journal) -> Result<(), StoreError> {
        for (index, file) in &self.open_parts {
            file.sync_data()
                .map_err(|e| StoreError::io("could not flush", &self.part_path(*index), e))?;
        }
        let path = self.staging.join(JOURNAL_FILE);
        let tmp_name = format!("{JOURNAL_FILE}.tmp");
        let tmp = self.staging.join(&tmp_name);
        let text = serde_json::to_vec(journal).expect("journal serialises");
        let _ = self.staging.remove_file(&tmp_name);
        let file = open_part(&self.staging, &tmp_name, Access::WriteCreate)?;
        sys::write_all_at(&file, &text, 0)
            .and_then(|()| file.sync_data())
            .map_err(|e| StoreError::io("could not write", &tmp, e))?;
        drop(file);
        self.staging
            .rename(&tmp_name, JOURNAL_FILE)
            .map_err(|e| StoreError::io("could not save", &path, e))?;
        // A crash before this line leaves log lines the journal already has: harmless.
        if let Some(log) = &self.saved_log {
            let log_path = self.staging.join(SAVED_LOG_FILE);
            log.set_len(0)
                .map_err(|e| StoreError::io("could not empty", &log_path, e))?;
        }
        Ok(())
    }

    /// The journal an earlier run of `transfer_id` left in `dest`, if any. Creates nothing and
    /// never follows a link; a damaged journal counts as none (the transfer starts afresh).
    pub fn read_journal(dest: &Path, transfer_id: Uuid) -> Result<Option<Journal>, StoreError> {
        match Self::open_staging(dest, transfer_id)? {
            Some(staging) => read_journal_in(&staging),
            None => Ok(None),
        }
    }

    /// What can be kept of each file of an offer (`(index, wire path, size)`), from the
    /// journal in `dest` and what is really on disk: ranges beyond a part's end are dropped,
    /// a saved file must still be there with its size, and a file the offer names differently
    /// (or with another size) starts afresh.
    pub fn resume_plan(
        dest: &Path,
        transfer_id: Uuid,
        offer: &[(u32, String, u64)],
    ) -> Result<Vec<FileResume>, StoreError> {
        let Some(staging) = Self::open_staging(dest, transfer_id)? else {
            return Ok(vec![FileResume::Fresh; offer.len()]);
        };
        let Some(journal) = read_journal_in(&staging)? else {
            return Ok(vec![FileResume::Fresh; offer.len()]);
        };
        let by_index: HashMap<u32, &JournalEntry> =
            journal.files.iter().map(|e| (e.index, e)).collect();
        let mut plan = Vec::with_capacity(offer.len());
        for (index, path, size) in offer {
            let Some(entry) = by_index
                .get(index)
                .filter(|e| e.path == *path && e.size == *size)
            else {
                plan.push(FileResume::Fresh);
                continue;
            };
            if let Some(saved) = &entry.saved {
                plan.push(if saved_file_is_there(dest, &saved.saved_as, *size) {
                    FileResume::Saved(saved.clone())
                } else {
                    FileResume::Fresh
                });
                continue;
            }
            let on_disk = match staging.entry(&part_name(*index)) {
                Ok(Some(e)) if e.is_file => e.len,
                _ => 0,
            };
            let have: Vec<ByteRange> = entry
                .have
                .iter()
                .filter(|r| r.start < r.end && r.start < on_disk.min(*size))
                .map(|r| ByteRange {
                    start: r.start,
                    end: r.end.min(on_disk).min(*size),
                })
                .collect();
            plan.push(if have.is_empty() {
                FileResume::Fresh
            } else {
                FileResume::Partial(have)
            });
        }
        Ok(plan)
    }
}

/// Whether `DEST/<saved_as>` is a regular file (not a link) of `size` bytes.
fn saved_file_is_there(dest: &Path, saved_as: &str, size: u64) -> bool {
    let Ok(safe) = sanitize_relative_path(saved_as, Platform::current()) else {
        return false;
    };
    let mut path = dest.to_path_buf();
    for component in safe.components() {
        path.push(component);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => return false,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    matches!(fs::symlink_metadata(&path), Ok(meta) if meta.is_file() && meta.len() == size)
}

/// The journal (with the saved-files log folded in) in the open staging folder, if any; a
/// damaged journal counts as none.
fn read_journal_in(staging: &Dir) -> Result<Option<Journal>, StoreError> {
    let path = staging.join(JOURNAL_FILE);
    let mut file = match open_part(staging, JOURNAL_FILE, Access::Read) {
        Ok(file) => file,
        Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let mut text = Vec::new();
    (&mut file)
        .take(MAX_JOURNAL_BYTES)
        .read_to_end(&mut text)
        .map_err(|e| StoreError::io("could not read", &path, e))?;
    let mut journal = match serde_json::from_slice::<Journal>(&text) {
        Ok(journal) if journal.v == JOURNAL_VERSION => journal,
        Ok(_) | Err(_) => {
            tracing::warn!(path = %path.display(), "ignoring unreadable resume journal");
            return Ok(None);
        }
    };
    apply_saved_log(staging, &mut journal)?;
    Ok(Some(journal))
}

/// Marks the files listed in the saved-files log at `path` (if any) as saved in `journal`. A
/// torn last line (the process died while appending) or a line for a file the journal does
/// not list is skipped.
fn apply_saved_log(staging: &Dir, journal: &mut Journal) -> Result<(), StoreError> {
    let path = &staging.join(SAVED_LOG_FILE);
    let mut file = match open_part(staging, SAVED_LOG_FILE, Access::Read) {
        Ok(file) => file,
        Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    let mut text = Vec::new();
    (&mut file)
        .take(MAX_JOURNAL_BYTES)
        .read_to_end(&mut text)
        .map_err(|e| StoreError::io("could not read", path, e))?;
    let position: HashMap<u32, usize> = journal
        .files
        .iter()
        .enumerate()
        .map(|(at, entry)| (entry.index, at))
        .collect();
    for line in text.split(|&b| b == b'\n') {
        let Ok(record) = serde_json::from_slice::<SavedRecord>(line) else {
            continue;
        };
        if let Some(&at) = position.get(&record.index) {
            let entry = &mut journal.files[at];
            entry.have.clear();
            entry.saved = Some(record.saved);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::incoming::test_util::*;
    use crate::store::incoming::STAGING_DIR_NAME;

    #[test]
    fn a_checkpointed_journal_resumes_only_what_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path();
        let id = Uuid::new_v4();
        assert_eq!(IncomingTransfer::read_journal(dest, id).unwrap(), None);
        let offer = vec![
            (0, "a.bin".to_string(), 100),
            (1, "b.bin".to_string(), 10),
            (2, "c.bin".to_string(), 50),
            (3, "d.bin".to_string(), 5),
        ];
        let mut t = IncomingTransfer::open(dest, id).unwrap();
        t.write_at(0, 0, &[1u8; 60]).unwrap();
        t.write_at(2, 0, &[2u8; 20]).unwrap();
        let b = receive(&mut t, 1, "b.bin", &[3u8; 10]);
        let mut journal = Journal::new(offer.clone());
        journal.files[0].have = vec![ByteRange { start: 0, end: 60 }];
        // The journal claims more of file 2 than its part holds: only the part counts.
        journal.files[2].have = vec![ByteRange { start: 0, end: 40 }];
        journal.files[1].saved = Some(SavedFile {
            blake3: blake3::hash(&[3u8; 10]).to_hex().to_string(),
            saved_as: "b.bin".into(),
        });
        t.checkpoint(&journal).unwrap();
        drop(t); // the process dies here
        assert_eq!(
            IncomingTransfer::read_journal(dest, id).unwrap(),
            Some(journal.clone())
        );

        let plan = IncomingTransfer::resume_plan(dest, id, &offer).unwrap();
        assert_eq!(
            plan,
            vec![
                FileResume::Partial(vec![ByteRange { start: 0, end: 60 }]),
                FileResume::Saved(journal.files[1].saved.clone().unwrap()),
                FileResume::Partial(vec![ByteRange { start: 0, end: 20 }]),
                FileResume::Fresh,
            ]
        );
        // Another file list, a deleted saved file, or another transfer id: start afresh.
        let renamed = vec![(0, "other.bin".to_string(), 100)];
        assert_eq!(
            IncomingTransfer::resume_plan(dest, id, &renamed).unwrap(),
            vec![FileResume::Fresh]
        );
        fs::remove_file(&b).unwrap();
        assert_eq!(
            IncomingTransfer::resume_plan(dest, id, &offer).unwrap()[1],
            FileResume::Fresh
        );
        assert_eq!(
            IncomingTransfer::resume_plan(dest, Uuid::new_v4(), &offer).unwrap(),
            vec![FileResume::Fresh; 4]
        );
        // A damaged journal is no journal.
        fs::write(
            dest.join(STAGING_DIR_NAME)
                .join(id.to_string())
                .join(JOURNAL_FILE),
            "{not json",
        )
        .unwrap();
        assert_eq!(IncomingTransfer::read_journal(dest, id).unwrap(), None);
    }

    #[test]
    fn files_saved_after_the_last_checkpoint_are_remembered_through_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path();
        let id = Uuid::new_v4();
        let offer = vec![
            (0, "a.bin".to_string(), 4),
            (1, "b.bin".to_string(), 4),
            (2, "c.bin".to_string(), 4),
        ];
        let saved = |bytes: &[u8], name: &str| SavedFile {
            blake3: blake3::hash(bytes).to_hex().to_string(),
            saved_as: name.into(),
        };
        let mut t = IncomingTransfer::open(dest, id).unwrap();
        let journal = Journal::new(offer.clone());
        t.checkpoint(&journal).unwrap();
        receive(&mut t, 0, "a.bin", b"aaaa");
        t.record_saved(0, &saved(b"aaaa", "a.bin")).unwrap();
        receive(&mut t, 1, "b.bin", b"bbbb");
        t.record_saved(1, &saved(b"bbbb", "b.bin")).unwrap();
        // The process dies while appending a third line.
        let log = t.staging_dir().join(SAVED_LOG_FILE);
        fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(br#"{"index":2,"blake3":"#)
            .unwrap();
        drop(t);

        let plan = IncomingTransfer::resume_plan(dest, id, &offer).unwrap();
        assert_eq!(
            plan,
            vec![
                FileResume::Saved(saved(b"aaaa", "a.bin")),
                FileResume::Saved(saved(b"bbbb", "b.bin")),
                FileResume::Fresh,
            ]
        );

        // A checkpoint folds the log into the journal and empties it.
        let mut t = IncomingTransfer::open(dest, id).unwrap();
        let mut journal = IncomingTransfer::read_journal(dest, id).unwrap().unwrap();
        receive(&mut t, 2, "c.bin", b"cccc");
        t.record_saved(2, &saved(b"cccc", "c.bin")).unwrap();
        journal.files[2].saved = Some(saved(b"cccc", "c.bin"));
        t.checkpoint(&journal).unwrap();
        assert_eq!(fs::metadata(&log).unwrap().len(), 0);
        assert_eq!(
            IncomingTransfer::read_journal(dest, id).unwrap(),
            Some(journal)
        );
    }
}
