//! The receiver's disk worker: the one thread that touches the destination folder while a
//! transfer runs. It takes [`DiskCmd`]s strictly in order from the receive driver — positional
//! writes into `.part` files, verification and placement, checkpoints of the resume journal,
//! and the ending (finish, discard, keep) — and reports back [`DiskReport`]s. Blocking file
//! work lives here so the driver's loop never waits on the disk.

use bytes::BytesMut;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::warn;
use uuid::Uuid;

use peerdrop_proto::transfer::{FailureCause, STORE_ACK_EVERY};

use crate::machine::ranges::RangeSet;
use crate::machine::receiver::Unsaved;
use crate::store::{IncomingTransfer, Journal, SafePath, SavedFile, StoreError};

/// The journal is rewritten after this many new bytes... Each checkpoint fsyncs the parts:
/// every 8 MiB that was ≈ 8% of a fast receiver's CPU (perf, 1 GiB on loopback) and 8% of its
/// speed. A crash re-sends at most this much (or one interval's worth), well under a second
/// on a fast link.
const CHECKPOINT_BYTES: u64 = 64 << 20;

/// ...or after this long with unrecorded data, whichever comes first.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Commands for the disk worker, executed strictly in order.
pub(super) enum DiskCmd {
    Write {
        index: u32,
        offset: u64,
        data: BytesMut,
    },
    Verify {
        index: u32,
        blake3: String,
        path: SafePath,
        size: u64,
    },
    /// Flush and record progress now (e.g. the connection dropped).
    Checkpoint,
    /// Completed: remove the staging directory.
    Finish,
    /// Declined or cancelled: delete the partial data.
    Discard,
    /// Any other ending: record progress and keep everything for a resume.
    Keep,
}

/// What the disk worker reports.
pub(super) enum DiskReport {
    Verified {
        index: u32,
        result: Result<(String, PathBuf), Unsaved>,
    },
    /// Writing failed; `full` when the disk is out of space.
    Failed { full: bool, reason: String },
    /// Payload bytes written so far, in total (every [`STORE_ACK_EVERY`] bytes).
    Stored(u64),
}

/// Running BLAKE3 of a file: covers `[0, next)` of what is on disk. Frames at `next` are
/// hashed as they arrive; frames that arrived ahead (several channels or stripes, a resume)
/// are read back from the part once the gap before them is filled
/// ([`IncomingTransfer::hash_part_range`]).
pub(super) struct RunningHash {
    hasher: blake3::Hasher,
    next: u64,
    /// False once a write landed inside bytes already hashed, or reading back failed: the
    /// whole part is then hashed at the end instead, so what is verified is what is on disk.
    usable: bool,
}

impl RunningHash {
    fn new() -> Self {
        RunningHash {
            hasher: blake3::Hasher::new(),
            next: 0,
            usable: true,
        }
    }

    /// Takes in a write of `data` at `offset`, then whatever `have` (the part's ranges on disk,
    /// this write included) holds contiguously after the hashed prefix.
    fn advance(
        &mut self,
        store: &IncomingTransfer,
        index: u32,
        offset: u64,
        data: &[u8],
        have: Option<&RangeSet>,
        buf: &mut [u8],
    ) {
        if !self.usable {
            return;
        }
        let end = offset + data.len() as u64;
        if offset == self.next {
            self.hasher.update(data);
            self.next = end;
        } else if offset < self.next {
            // Bytes already hashed were written again: trust only a final full read.
            self.usable = false;
            return;
        }
        let Some(run_end) = have.and_then(|h| h.run_end_at(self.next)) else {
            return;
        };
        if run_end > self.next {
            match store.hash_part_range(index, self.next, run_end, &mut self.hasher, buf) {
                Ok(()) => self.next = run_end,
                Err(e) => {
                    warn!("file #{index}: reading back for the running hash failed: {e}");
                    self.usable = false;
                }
            }
        }
    }
}

/// Read-back buffer of the running hashes.
const READ_BACK_BUF: usize = 256 * 1024;

/// The disk worker's view of what is on disk, turned into the journal at checkpoints.
struct Progress {
    journal: Journal,
    /// File index → its position in `journal.files`.
    position: HashMap<u32, usize>,
    have: HashMap<u32, RangeSet>,
    unrecorded: u64,
    last: Instant,
}

impl Progress {
    fn new(journal: Journal) -> Self {
        let have = journal
            .files
            .iter()
            .map(|f| (f.index, RangeSet::from_ranges(&f.have)))
            .collect();
        let position = journal
            .files
            .iter()
            .enumerate()
            .map(|(at, f)| (f.index, at))
            .collect();
        Progress {
            journal,
            position,
            have,
            unrecorded: 0,
            last: Instant::now(),
        }
    }

    fn due(&self) -> bool {
        self.unrecorded >= CHECKPOINT_BYTES
            || (self.unrecorded > 0 && self.last.elapsed() >= CHECKPOINT_INTERVAL)
    }

    fn checkpoint(&mut self, store: &mut IncomingTransfer) -> Result<(), StoreError> {
        for entry in &mut self.journal.files {
            entry.have = self
                .have
                .get(&entry.index)
                .map(|r| r.ranges().to_vec())
                .unwrap_or_default();
        }
        self.unrecorded = 0;
        self.last = Instant::now();
        store.checkpoint(&self.journal)
    }

    fn saved(&mut self, index: u32, saved: Option<SavedFile>) {
        self.have.remove(&index);
        if let Some(&at) = self.position.get(&index) {
            self.journal.files[at].saved = saved;
        }
    }
}

/// The disk worker: the only code that touches the destination folder during a transfer.
pub(super) fn disk_worker(
    dest: PathBuf,
    staging: Uuid,
    journal: Journal,
    mut commands: mpsc::Receiver<DiskCmd>,
    report: mpsc::UnboundedSender<DiskReport>,
) {
    let mut store = match IncomingTransfer::open(&dest, staging) {
        Ok(store) => store,
        Err(e) => {
            let _ = report.send(DiskReport::failed(&e));
            return;
        }
    };
    let mut progress = Progress::new(journal);
    // Record the offer at once: even if the disk fills up right away, a resume knows it.
    if let Err(e) = progress.checkpoint(&mut store) {
        let _ = report.send(DiskReport::failed(&e));
    }
    let mut hashes: HashMap<u32, RunningHash> = HashMap::new();
    let mut read_back = vec![0u8; READ_BACK_BUF];
    let mut broken = false;
    let mut written: u64 = 0;
    let mut next_stored_report = STORE_ACK_EVERY;
    while let Some(cmd) = commands.blocking_recv() {
        match cmd {
            DiskCmd::Write {
                index,
                offset,
                data,
            } => {
                if broken {
                    continue;
                }
                if let Err(e) = store.write_at(index, offset, &data) {
                    broken = true;
                    let _ = report.send(DiskReport::failed(&e));
                    continue;
                }
                let len = data.len() as u64;
                written += len;
                if written >= next_stored_report {
                    let _ = report.send(DiskReport::Stored(written));
                    next_stored_report = written + STORE_ACK_EVERY;
                }
                progress
                    .have
                    .entry(index)
                    .or_default()
                    .insert(offset, offset + len);
                progress.unrecorded += len;
                hashes
                    .entry(index)
                    .or_insert_with(RunningHash::new)
                    .advance(
                        &store,
                        index,
                        offset,
                        &data,
                        progress.have.get(&index),
                        &mut read_back,
                    );
                if progress.due() {
                    if let Err(e) = progress.checkpoint(&mut store) {
                        broken = true;
                        let _ = report.send(DiskReport::failed(&e));
                    }
                }
            }
            DiskCmd::Verify {
                index,
                blake3,
                path,
                size,
            } => {
                let running = hashes.remove(&index);
                let result = verify_and_place(&mut store, index, &blake3, &path, size, running);
                let result = result.map(|abs| (relative_display(store.dest(), &abs), abs));
                match &result {
                    Ok((shown, _)) => {
                        let saved = SavedFile {
                            blake3: blake3.clone(),
                            saved_as: shown.clone(),
                        };
                        // One appended line, not a rewrite of the whole journal: the journal
                        // has an entry per offered file, so rewriting it per file was O(n²).
                        if let Err(e) = store.record_saved(index, &saved) {
                            warn!("could not record saved file #{index}: {e}");
                        }
                        progress.saved(index, Some(saved));
                    }
                    Err(unsaved) => {
                        warn!("file #{index} failed: {}", unsaved.reason);
                        let _ = store.remove_part(index);
                        progress.saved(index, None);
                        if !broken {
                            if let Err(e) = progress.checkpoint(&mut store) {
                                warn!("could not record progress: {e}");
                            }
                        }
                    }
                }
                let _ = report.send(DiskReport::Verified { index, result });
            }
            DiskCmd::Checkpoint => {
                if let Err(e) = progress.checkpoint(&mut store) {
                    warn!("could not record progress: {e}");
                }
            }
            DiskCmd::Finish => {
                if let Err(e) = store.finish() {
                    warn!("could not tidy staging folder: {e}");
                }
                return;
            }
            DiskCmd::Discard => {
                if let Err(e) = store.discard() {
                    warn!("could not remove partial files: {e}");
                }
                return;
            }
            DiskCmd::Keep => {
                match progress.checkpoint(&mut store) {
                    Ok(()) => tracing::info!(
                        staging = %store.staging_dir().display(),
                        "partial data kept: sending the same files again resumes"
                    ),
                    Err(e) => warn!("could not record progress: {e}"),
                }
                return;
            }
        }
    }
}

fn verify_and_place(
    store: &mut IncomingTransfer,
    index: u32,
    expected: &str,
    path: &SafePath,
    size: u64,
    running: Option<RunningHash>,
) -> Result<PathBuf, Unsaved> {
    if size == 0 {
        store.create_empty(index).map_err(|e| unsaved(&e))?;
    }
    let actual = match running {
        Some(r) if r.usable && r.next == size => r.hasher.finalize(),
        None if size == 0 => blake3::hash(&[]),
        // Bytes written twice, or never fully seen: hash the whole part as it is on disk.
        _ => store.hash_part(index).map_err(|e| unsaved(&e))?,
    };
    if actual.to_hex().as_str() != expected {
        return Err(Unsaved {
            reason: format!(
                "BLAKE3 mismatch (expected {expected}, got {}): corrupted in transit",
                actual.to_hex()
            ),
            cause: Some(FailureCause::HashMismatch),
        });
    }
    store.finalize(index, path).map_err(|e| unsaved(&e))
}

/// A store error as the machine's reason for not keeping a file (a full disk keeps its cause).
fn unsaved(e: &StoreError) -> Unsaved {
    Unsaved {
        reason: e.to_string(),
        cause: e.is_disk_full().then_some(FailureCause::DiskFull),
    }
}

impl DiskReport {
    /// A write that failed with `e`, typed so a full disk reaches both sides as one.
    fn failed(e: &StoreError) -> DiskReport {
        DiskReport::Failed {
            full: e.is_disk_full(),
            reason: e.to_string(),
        }
    }
}

fn relative_display(dest: &Path, abs: &Path) -> String {
    abs.strip_prefix(dest)
        .unwrap_or(abs)
        .to_string_lossy()
        .replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::RunningHash;
    use crate::machine::ranges::RangeSet;
    use crate::store::incoming::IncomingTransfer;

    /// Writes `frames` (offset, length) of `content` in the given order, as the disk worker
    /// does, and returns the running hash afterwards.
    fn receive_frames(content: &[u8], frames: &[(u64, usize)]) -> RunningHash {
        let dir = tempfile::tempdir().unwrap();
        let mut store = IncomingTransfer::open(dir.path(), uuid::Uuid::new_v4()).unwrap();
        let mut have = RangeSet::new();
        let mut running = RunningHash::new();
        let mut buf = vec![0u8; 7]; // small, so read-back takes several passes
        for &(offset, len) in frames {
            let data = &content[offset as usize..offset as usize + len];
            store.write_at(0, offset, data).unwrap();
            have.insert(offset, offset + len as u64);
            running.advance(&store, 0, offset, data, Some(&have), &mut buf);
        }
        running
    }

    #[test]
    fn frames_out_of_order_still_give_the_running_hash_of_the_whole_file() {
        let content: Vec<u8> = (0..100u8).collect();
        // Two stripes dealing 10-byte frames: arrivals interleave and overtake each other.
        let frames = [
            (10, 10),
            (0, 10),
            (30, 10),
            (20, 10),
            (50, 10),
            (60, 10),
            (40, 10),
            (70, 30),
        ];
        let running = receive_frames(&content, &frames);
        assert!(running.usable);
        assert_eq!(running.next, 100);
        assert_eq!(running.hasher.finalize(), blake3::hash(&content));
    }

    #[test]
    fn bytes_written_twice_make_the_running_hash_defer_to_a_full_read() {
        let content: Vec<u8> = (0..40u8).collect();
        let running = receive_frames(&content, &[(0, 20), (10, 10), (20, 20)]);
        assert!(
            !running.usable,
            "a rewrite inside hashed bytes must not be trusted"
        );
    }
}
