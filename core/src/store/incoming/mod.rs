//! Where a receiver writes: `.part` staging and the final, never-overwriting move.
//!
//! ```text
//! DEST/.peerdrop-incoming/<transfer id>/<index>.part
//! ```
//!
//! Staging lives inside DEST so moving a verified part to its final name stays on one file
//! system and is atomic. Parts are written positionally (frames may arrive on any data channel
//! in any order) and opened lazily with `O_NOFOLLOW`, so a symlink planted at a part path is
//! refused, never written through.
//!
//! DEST may be shared with other local users, so on Unix the staging folders are opened once
//! and checked on the open handle — a real directory owned by us, mode 0700 (set back to 0700
//! if it was looser; another user's folder is refused with [`StoreError::StagingNotOwned`]) —
//! and every part, journal and clean-up operation is done relative to that handle
//! ([`super::dir`]): renaming `.peerdrop-incoming` away and putting a symlink in its place
//! cannot redirect a write, a move or a [`IncomingTransfer::prune_stale`] deletion.
//!
//! [`IncomingTransfer::finalize`] moves a part to `DEST/<safe path>`:
//! - a single file takes its name, or `name (1).ext`, `name (2).ext`, ... if that is taken;
//! - a folder's top-level name is chosen once per transfer by creating a fresh directory
//!   (`photos`, else `photos (1)`, ...) and remembered — also on disk in the staging directory,
//!   so a resumed transfer keeps filling the same folder. Because the top-level directory is
//!   always one this transfer created, a pre-existing `DEST/photos` (folder, file or planted
//!   symlink) is never entered;
//! - every folder below is created or checked with `symlink_metadata`: a symlink or a
//!   non-directory in the way is an error, never followed;
//! - the move itself is `hard_link` + unlink, which fails instead of replacing an existing
//!   name, so not even a concurrent writer can be clobbered.
//!
//! The resume journal and the saved-files log are in [`journal`].

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use super::dir::{self, Dir};
use super::names::{sanitize_relative_path, Platform, SafePath, MAX_COMPONENT_BYTES};
use super::sys::{self, Access};
use super::StoreError;

mod journal;
use journal::JOURNAL_FILE;
pub use journal::{FileResume, Journal, JournalEntry, SavedFile};

/// Name of the staging directory created inside the destination folder.
pub const STAGING_DIR_NAME: &str = ".peerdrop-incoming";

/// Name of the file, inside a transfer's staging directory, that remembers which folder each
/// top-level name was given.
const FOLDERS_FILE: &str = "folders";

/// How many ` (n)` variants are tried before giving up on a name.
const MAX_SUFFIX: u32 = 9_999;

/// Part files kept open at once; more are closed and reopened on demand.
const MAX_OPEN_PARTS: usize = 32;

/// The receiving side of one transfer in one destination folder: stages parts, hashes them,
/// moves verified files into place, and cleans up.
///
/// Dropping it without [`finish`](Self::finish) or [`discard`](Self::discard) keeps the staged
/// parts, so opening the same transfer id again resumes where it stopped.
#[derive(Debug)]
pub struct IncomingTransfer {
    dest: PathBuf,
    /// DEST, open (the staging root is created and removed relative to it).
    dest_dir: Dir,
    /// `DEST/.peerdrop-incoming`, open and checked.
    staging_root: Dir,
    /// This transfer's folder in it, open and checked; every staging file is used through it.
    staging: Dir,
    /// The name of `staging` in `staging_root` (the transfer id).
    staging_name: String,
    transfer_id: Uuid,
    open_parts: HashMap<u32, File>,
    /// Top-level folder name as sent → directory name chosen under DEST.
    folders: HashMap<String, String>,
    /// Index → final path of every file moved into place by this value.
    finalized: HashMap<u32, PathBuf>,
    /// The saved-files log, open for appending once something was saved.
    saved_log: Option<File>,
    /// Bytes written since the kernel was last asked to start writing parts out
    /// ([`WRITEBACK_EVERY`]).
    unflushed: u64,
}

/// How often (bytes written) a receiver asks the kernel to start writing a part out, so each
/// checkpoint's fsync has little left to do ([`sys::start_writeback`]).
const WRITEBACK_EVERY: u64 = 8 << 20;

impl IncomingTransfer {
    /// Prepares `dest` (created if missing) and the staging directory for `transfer_id`.
    /// Refuses if `dest` or a staging directory is a symlink or not a directory, or (Unix) if a
    /// staging directory belongs to another user; one of ours open to others is made 0700.
    /// Existing parts of the same transfer are kept (resume).
    pub fn open(dest: &Path, transfer_id: Uuid) -> Result<IncomingTransfer, StoreError> {
        let dest =
            std::path::absolute(dest).map_err(|e| StoreError::io("could not resolve", dest, e))?;
        match fs::symlink_metadata(&dest) {
            Ok(meta) => check_real_dir(&dest, &meta)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&dest)
                    .map_err(|e| StoreError::io("could not create folder", &dest, e))?;
                let meta = fs::symlink_metadata(&dest)
                    .map_err(|e| StoreError::io("could not read", &dest, e))?;
                check_real_dir(&dest, &meta)?;
            }
            Err(e) => return Err(StoreError::io("could not read", &dest, e)),
        }
        let dest_dir = dir::open_existing(&dest)?.ok_or_else(|| {
            StoreError::io(
                "could not open folder",
                &dest,
                io::Error::from(io::ErrorKind::NotFound),
            )
        })?;
        let staging_root =
            dir::open_private(&dest_dir, STAGING_DIR_NAME, true)?.expect("created when missing");
        let staging_name = transfer_id.hyphenated().to_string();
        let staging =
            dir::open_private(&staging_root, &staging_name, true)?.expect("created when missing");
        let mut transfer = IncomingTransfer {
            dest,
            dest_dir,
            staging_root,
            staging,
            staging_name,
            transfer_id,
            open_parts: HashMap::new(),
            unflushed: 0,
            folders: HashMap::new(),
            finalized: HashMap::new(),
            saved_log: None,
        };
        transfer.load_folders()?;
        tracing::debug!(staging = %transfer.staging.path().display(), "incoming transfer opened");
        Ok(transfer)
    }

    /// The destination folder, absolute.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// This transfer's staging directory, `DEST/.peerdrop-incoming/<id>`.
    pub fn staging_dir(&self) -> &Path {
        self.staging.path()
    }

    /// The transfer id the staging directory is named after.
    pub fn transfer_id(&self) -> Uuid {
        self.transfer_id
    }

    /// Where the data of file `index` is staged.
    pub fn part_path(&self, index: u32) -> PathBuf {
        self.staging.join(&part_name(index))
    }

    /// Writes `bytes` at `offset` of file `index`'s part, creating it on first use. Never
    /// follows a symlink at the part path. Range checks against the announced size are the
    /// caller's (the receiver state machine's) job.
    pub fn write_at(&mut self, index: u32, offset: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.refuse_if_finalized(index)?;
        let path = self.part_path(index);
        if offset.checked_add(bytes.len() as u64).is_none() {
            let e = io::Error::new(io::ErrorKind::InvalidInput, "offset + length overflows");
            return Err(StoreError::io("could not write", &path, e));
        }
        if !self.open_parts.contains_key(&index) {
            if self.open_parts.len() >= MAX_OPEN_PARTS {
                // Frames usually come file after file, so any handle is a fine victim.
                let victim = *self
                    .open_parts
                    .keys()
                    .next()
                    .expect("map is full, not empty");
                if let Some(file) = self.open_parts.remove(&victim) {
                    // The next checkpoint only syncs open parts, and its journal will claim
                    // this one's bytes too: make them durable before the handle goes.
                    file.sync_data().map_err(|e| {
                        StoreError::io("could not flush", &self.part_path(victim), e)
                    })?;
                }
            }
            let file = open_part(&self.staging, &part_name(index), Access::WriteCreate)?;
            self.open_parts.insert(index, file);
        }
        let file = &self.open_parts[&index];
        sys::write_all_at(file, bytes, offset)
            .map_err(|e| StoreError::io("could not write", &path, e))?;
        self.unflushed += bytes.len() as u64;
        if self.unflushed >= WRITEBACK_EVERY {
            sys::start_writeback(file);
            self.unflushed = 0;
        }
        Ok(())
    }

    /// Creates (or empties) the part of a zero-byte file, which receives no data frames.
    pub fn create_empty(&mut self, index: u32) -> Result<(), StoreError> {
        self.refuse_if_finalized(index)?;
        self.open_parts.remove(&index);
        let path = self.part_path(index);
        let file = open_part(&self.staging, &part_name(index), Access::WriteCreate)?;
        file.set_len(0)
            .map_err(|e| StoreError::io("could not truncate", &path, e))
    }

    /// Size of file `index`'s part on disk, `None` if nothing was received yet (for resume).
    pub fn part_len(&self, index: u32) -> Result<Option<u64>, StoreError> {
        let path = self.part_path(index);
        match self.staging.entry(&part_name(index)) {
            Ok(Some(e)) if e.is_symlink => Err(StoreError::Symlink { path }),
            Ok(Some(e)) if !e.is_file => Err(StoreError::NotARegularFile { path }),
            Ok(Some(e)) => Ok(Some(e.len)),
            Ok(None) => Ok(None),
            Err(e) => Err(StoreError::io("could not read", &path, e)),
        }
    }

    /// BLAKE3 of what is on disk for file `index`, read back in a streaming pass with bounded
    /// memory: what gets verified is what will be moved into place.
    pub fn hash_part(&self, index: u32) -> Result<blake3::Hash, StoreError> {
        let path = self.part_path(index);
        let mut file = open_existing_part(index, &self.staging, Access::Read)?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(StoreError::io("could not read", &path, e)),
            }
        }
        Ok(hasher.finalize())
    }

    /// Feeds bytes `[start, end)` of file `index`'s part, as written so far, to `hasher`,
    /// through `buf`. Lets a receiver keep a running hash when frames arrive out of order
    /// (several channels or stripes): what arrived ahead is read back once the gap before it
    /// is filled, usually from the page cache, instead of hashing the whole part at the end.
    pub fn hash_part_range(
        &self,
        index: u32,
        start: u64,
        end: u64,
        hasher: &mut blake3::Hasher,
        buf: &mut [u8],
    ) -> Result<(), StoreError> {
        let path = self.part_path(index);
        let reopened;
        let file = match self.open_parts.get(&index) {
            Some(file) => file,
            None => {
                reopened = open_existing_part(index, &self.staging, Access::Read)?;
                &reopened
            }
        };
        let mut pos = start;
        while pos < end {
            let n = ((end - pos) as usize).min(buf.len());
            sys::read_exact_at(file, &mut buf[..n], pos)
                .map_err(|e| StoreError::io("could not read", &path, e))?;
            hasher.update(&buf[..n]);
            pos += n as u64;
        }
        Ok(())
    }

    /// Deletes the part of file `index` (after a hash mismatch, so it is received afresh).
    pub fn remove_part(&mut self, index: u32) -> Result<(), StoreError> {
        self.open_parts.remove(&index);
        self.staging
            .remove_file(&part_name(index))
            .map_err(|e| StoreError::io("could not remove", &self.part_path(index), e))
    }

    /// Moves the (verified) part of file `index` to `DEST/<path>`, creating folders as needed,
    /// and returns the absolute final path. Never overwrites and never goes through a symlink:
    /// a taken top-level name becomes ` (n)`; a symlink or file in the way below a folder this
    /// transfer created is an error.
    pub fn finalize(&mut self, index: u32, path: &SafePath) -> Result<PathBuf, StoreError> {
        self.refuse_if_finalized(index)?;
        let part = self.part_path(index);
        // Data must be on disk before the name appears: a visible file is a complete file.
        let file = match self.open_parts.remove(&index) {
            Some(file) => file,
            None => open_existing_part(index, &self.staging, Access::WriteExisting)?,
        };
        file.sync_all()
            .map_err(|e| StoreError::io("could not flush", &part, e))?;
        drop(file);

        let final_path = if path.is_nested() {
            let mut dir = self.folder_for(path.top_level())?;
            let middle = &path.components()[1..path.components().len() - 1];
            for component in middle {
                dir.push(component);
                ensure_dir(&dir)?;
            }
            move_to_free_name(&self.staging, &part_name(index), &dir, path.file_name())?
        } else {
            move_to_free_name(
                &self.staging,
                &part_name(index),
                &self.dest,
                path.file_name(),
            )?
        };
        tracing::debug!(index, path = %final_path.display(), "file finalized");
        self.finalized.insert(index, final_path.clone());
        Ok(final_path)
    }

    /// Ends a completed transfer: removes this transfer's staging directory (any part still in
    /// it is deleted), and `.peerdrop-incoming` too if no other transfer uses it. Afterwards
    /// DEST holds exactly the files that were finalized.
    pub fn finish(self) -> Result<(), StoreError> {
        let leftovers = self.count_parts();
        if leftovers > 0 {
            tracing::warn!(leftovers, staging = %self.staging.path().display(), "finishing with unfinalized parts; deleting them");
        }
        self.remove_staging()
    }

    /// Ends an aborted transfer: deletes its parts and staging directory. Files already
    /// finalized stay (each was verified and is complete).
    pub fn discard(self) -> Result<(), StoreError> {
        tracing::debug!(staging = %self.staging.path().display(), "discarding incoming transfer");
        self.remove_staging()
    }

    /// Deletes the staging directories of transfers nobody touched for `max_age` (abandoned
    /// for good), so kept parts do not pile up forever. Returns how many were removed.
    ///
    /// Works through handles: the staging root is opened (not following a link) and checked
    /// like [`open`](Self::open) does, each transfer folder is looked at and removed relative
    /// to it, and the root itself is removed only while its name still means the folder that
    /// was opened. A root or transfer folder of another user is left alone.
    pub fn prune_stale(dest: &Path, max_age: Duration) -> usize {
        let dest_dir = match dir::open_existing(dest) {
            Ok(Some(dest_dir)) => dest_dir,
            _ => return 0,
        };
        let root = match dir::open_private(&dest_dir, STAGING_DIR_NAME, false) {
            Ok(Some(root)) => root,
            Ok(None) => return 0,
            Err(e) => {
                tracing::warn!(error = %e, "not pruning stale staging");
                return 0;
            }
        };
        let Ok(names) = root.names() else {
            return 0;
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for name in names {
            let Some(name) = name.to_str() else {
                continue;
            };
            let Ok(Some(entry)) = root.entry(name) else {
                continue;
            };
            if !entry.is_dir || entry.is_symlink || !entry.ours {
                continue;
            }
            let journal = match dir::open_private(&root, name, false) {
                Ok(Some(folder)) => folder.entry(JOURNAL_FILE).ok().flatten(),
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "leaving a staging folder alone");
                    continue;
                }
            };
            let newest = journal
                .and_then(|j| j.modified)
                .or(entry.modified)
                .unwrap_or(now);
            if now.duration_since(newest).unwrap_or_default() > max_age
                && root.remove_tree(name).is_ok()
            {
                removed += 1;
            }
        }
        let _ = dest_dir.remove_child_if_empty(STAGING_DIR_NAME, &root);
        removed
    }

    /// Opens (without creating anything) and checks the staging folder of `transfer_id` in
    /// `dest`; `None` when there is none.
    fn open_staging(dest: &Path, transfer_id: Uuid) -> Result<Option<Dir>, StoreError> {
        let Some(dest_dir) = dir::open_existing(dest)? else {
            return Ok(None);
        };
        let Some(root) = dir::open_private(&dest_dir, STAGING_DIR_NAME, false)? else {
            return Ok(None);
        };
        dir::open_private(&root, &transfer_id.hyphenated().to_string(), false)
    }

    fn remove_staging(mut self) -> Result<(), StoreError> {
        self.open_parts.clear();
        self.saved_log = None;
        // Relative to the open root: never follows a link, inside or in place of the folder.
        self.staging_root
            .remove_tree(&self.staging_name)
            .map_err(|e| StoreError::io("could not remove", self.staging.path(), e))?;
        if let Err(e) = self
            .dest_dir
            .remove_child_if_empty(STAGING_DIR_NAME, &self.staging_root)
        {
            tracing::warn!(path = %self.staging_root.path().display(), error = %e, "could not remove staging root");
        }
        Ok(())
    }

    fn count_parts(&self) -> usize {
        self.staging
            .names()
            .map(|names| {
                names
                    .iter()
                    .filter(|n| n.to_string_lossy().ends_with(".part"))
                    .count()
            })
            .unwrap_or(0)
    }

    fn refuse_if_finalized(&self, index: u32) -> Result<(), StoreError> {
        match self.finalized.get(&index) {
            Some(path) => Err(StoreError::AlreadyFinalized {
                index,
                path: path.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The directory under DEST that top-level folder `top` goes to: chosen (and created) on
    /// first use, then remembered.
    fn folder_for(&mut self, top: &str) -> Result<PathBuf, StoreError> {
        if let Some(chosen) = self.folders.get(top) {
            let dir = self.dest.join(chosen);
            match fs::symlink_metadata(&dir) {
                Ok(meta) => {
                    check_real_dir(&dir, &meta)?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    tracing::warn!(folder = %dir.display(), "folder of this transfer disappeared; choosing a new one");
                    self.folders.remove(top);
                }
                Err(e) => return Err(StoreError::io("could not read", &dir, e)),
            }
        }
        for n in 0..=MAX_SUFFIX {
            let name = numbered_name(top, n, true);
            let dir = self.dest.join(&name);
            match fs::create_dir(&dir) {
                Ok(()) => {
                    self.remember_folder(top, &name)?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io("could not create folder", &dir, e)),
            }
        }
        Err(StoreError::NoFreeName {
            path: self.dest.join(top),
        })
    }

    fn remember_folder(&mut self, top: &str, chosen: &str) -> Result<(), StoreError> {
        self.folders.insert(top.to_owned(), chosen.to_owned());
        let path = self.staging.join(FOLDERS_FILE);
        let mut file = open_part(&self.staging, FOLDERS_FILE, Access::WriteCreate)?;
        let end = file
            .metadata()
            .map_err(|e| StoreError::io("could not read", &path, e))?
            .len();
        let line = format!("{top}\t{chosen}\n");
        sys::write_all_at(&file, line.as_bytes(), end)
            .and_then(|()| file.flush())
            .map_err(|e| StoreError::io("could not write", &path, e))
    }

    fn load_folders(&mut self) -> Result<(), StoreError> {
        let path = self.staging.join(FOLDERS_FILE);
        let mut file = match self.staging.open_file(FOLDERS_FILE, Access::Read) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(open_error(&self.staging, FOLDERS_FILE, e)),
        };
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| StoreError::io("could not read", &path, e))?;
        for line in text.lines() {
            let Some((top, chosen)) = line.split_once('\t') else {
                continue;
            };
            if is_single_safe_component(top) && is_single_safe_component(chosen) {
                self.folders.insert(top.to_owned(), chosen.to_owned());
            } else {
                tracing::warn!(path = %path.display(), "ignoring malformed line in folders file");
            }
        }
        Ok(())
    }
}

fn is_single_safe_component(name: &str) -> bool {
    matches!(sanitize_relative_path(name, Platform::current()), Ok(safe) if safe.components() == [name])
}

/// The name of file `index`'s part in its staging folder.
fn part_name(index: u32) -> String {
    format!("{index}.part")
}

/// Errors of opening a staging file: a symlink at the name gets its own message.
fn open_error(dir: &Dir, name: &str, e: io::Error) -> StoreError {
    let path = dir.join(name);
    match dir.entry(name) {
        Ok(Some(entry)) if entry.is_symlink => StoreError::Symlink { path },
        _ => StoreError::io("could not open", &path, e),
    }
}

/// Opens a part (or other staging file) in `dir` without following links and checks it is a
/// regular file.
fn open_part(dir: &Dir, name: &str, access: Access) -> Result<File, StoreError> {
    let path = dir.join(name);
    let file = dir
        .open_file(name, access)
        .map_err(|e| open_error(dir, name, e))?;
    let meta = file
        .metadata()
        .map_err(|e| StoreError::io("could not read", &path, e))?;
    if meta.file_type().is_symlink() {
        return Err(StoreError::Symlink { path });
    }
    if !meta.is_file() {
        return Err(StoreError::NotARegularFile { path });
    }
    Ok(file)
}

/// [`open_part`] for the part of file `index`, which must already exist.
fn open_existing_part(index: u32, staging: &Dir, access: Access) -> Result<File, StoreError> {
    match open_part(staging, &part_name(index), access) {
        Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Err(StoreError::PartMissing {
                index,
                path: staging.join(&part_name(index)),
            })
        }
        other => other,
    }
}

/// Refuses a symlink or anything but a directory at `path`.
fn check_real_dir(path: &Path, meta: &fs::Metadata) -> Result<(), StoreError> {
    if meta.file_type().is_symlink() {
        Err(StoreError::Symlink {
            path: path.to_owned(),
        })
    } else if !meta.is_dir() {
        Err(StoreError::NotADirectory {
            path: path.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Makes sure `path` is a real directory, creating it if missing; never follows a symlink.
fn ensure_dir(path: &Path) -> Result<(), StoreError> {
    ensure_dir_with(path, |p| fs::create_dir(p))
}

fn ensure_dir_with(
    path: &Path,
    create: impl Fn(&Path) -> io::Result<()>,
) -> Result<(), StoreError> {
    match fs::symlink_metadata(path) {
        Ok(meta) => return check_real_dir(path, &meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io("could not read", path, e)),
    }
    match create(path) {
        Ok(()) => Ok(()),
        // Created concurrently: accept it only if it is a real directory.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = fs::symlink_metadata(path)
                .map_err(|e| StoreError::io("could not read", path, e))?;
            check_real_dir(path, &meta)
        }
        Err(e) => Err(StoreError::io("could not create folder", path, e)),
    }
}

/// Moves part `part` of `staging` into `dir` as `name`, or the first free `name (n)`; returns
/// the final path.
fn move_to_free_name(
    staging: &Dir,
    part: &str,
    dir: &Path,
    name: &str,
) -> Result<PathBuf, StoreError> {
    for n in 0..=MAX_SUFFIX {
        let target = dir.join(numbered_name(name, n, false));
        match sys::move_out_no_replace(staging, part, &target) {
            Ok(()) => return Ok(target),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(StoreError::io("could not move into place", &target, e)),
        }
    }
    Err(StoreError::NoFreeName {
        path: dir.join(name),
    })
}

/// `name` for `n == 0`, else `stem (n).ext` for a file (`photo (1).jpg`, `.bashrc (1)`) or
/// `name (n)` for a folder, shortening the stem so the result fits in one component.
fn numbered_name(name: &str, n: u32, is_dir: bool) -> String {
    if n == 0 {
        return name.to_owned();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if !is_dir && dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    let suffix = format!(" ({n})");
    let mut stem = stem;
    let budget = MAX_COMPONENT_BYTES.saturating_sub(suffix.len() + ext.len());
    if stem.len() > budget {
        let mut cut = budget;
        while !stem.is_char_boundary(cut) {
            cut -= 1;
        }
        stem = &stem[..cut];
    }
    format!("{stem}{suffix}{ext}")
}

#[cfg(test)]
mod tests {
    use super::journal::SAVED_LOG_FILE;
    use super::*;

    use peerdrop_proto::transfer::ByteRange;
    use std::collections::BTreeSet;

    fn safe(raw: &str) -> SafePath {
        sanitize_relative_path(raw, Platform::current()).unwrap()
    }

    /// Every path under `root`, relative, `/`-joined, without following links.
    fn tree(root: &Path) -> BTreeSet<String> {
        walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                let rel = e.path().strip_prefix(root).unwrap();
                rel.components()
                    .map(|c| c.as_os_str().to_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// Receives `data` as file `index` and finalizes it as `path`.
    fn receive(t: &mut IncomingTransfer, index: u32, path: &str, data: &[u8]) -> PathBuf {
        if data.is_empty() {
            t.create_empty(index).unwrap();
        } else {
            t.write_at(index, 0, data).unwrap();
        }
        assert_eq!(t.hash_part(index).unwrap(), blake3::hash(data));
        t.finalize(index, &safe(path)).unwrap()
    }

    #[test]
    fn layout_and_positional_writes() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("Downloads");
        let id = Uuid::new_v4();
        let mut t = IncomingTransfer::open(&dest, id).unwrap();
        assert!(dest.is_dir(), "dest is created");
        assert_eq!(
            t.staging_dir(),
            dest.join(".peerdrop-incoming").join(id.to_string())
        );
        assert_eq!(t.part_path(3), t.staging_dir().join("3.part"));
        assert_eq!(t.transfer_id(), id);
        assert_eq!(t.dest(), dest);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(t.staging_dir()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }

        // Out of order, as frames from several channels would arrive.
        assert_eq!(t.part_len(0).unwrap(), None);
        t.write_at(0, 6, b"world").unwrap();
        t.write_at(0, 0, b"hello ").unwrap();
        assert_eq!(t.part_len(0).unwrap(), Some(11));
        assert_eq!(t.hash_part(0).unwrap(), blake3::hash(b"hello world"));
        let final_path = t.finalize(0, &safe("greeting.txt")).unwrap();
        assert_eq!(final_path, dest.join("greeting.txt"));
        assert!(final_path.is_absolute());
        assert_eq!(fs::read(&final_path).unwrap(), b"hello world");
        assert!(!t.part_path(0).exists(), "part is gone after finalize");

        let err = t.write_at(0, 0, b"late duplicate").unwrap_err();
        assert!(
            matches!(err, StoreError::AlreadyFinalized { index: 0, .. }),
            "{err:?}"
        );
        assert_eq!(fs::read(&final_path).unwrap(), b"hello world");
    }

    #[test]
    fn finish_leaves_exactly_the_files_sent() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path();
        let mut t = IncomingTransfer::open(dest, Uuid::new_v4()).unwrap();
        receive(&mut t, 0, "a.txt", b"a");
        receive(&mut t, 1, "empty.bin", b"");
        receive(&mut t, 2, "photos/2024/beach.jpg", b"jpeg");
        receive(&mut t, 3, "photos/cat.jpg", b"meow");
        t.finish().unwrap();
        assert_eq!(
            tree(dest),
            set(&[
                "a.txt",
                "empty.bin",
                "photos",
                "photos/2024",
                "photos/2024/beach.jpg",
                "photos/cat.jpg"
            ])
        );
        assert_eq!(fs::read(dest.join("empty.bin")).unwrap(), b"");
    }

    #[test]
    fn finish_keeps_the_staging_root_while_another_transfer_uses_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = IncomingTransfer::open(dir.path(), Uuid::new_v4()).unwrap();
        let mut second = IncomingTransfer::open(dir.path(), Uuid::new_v4()).unwrap();
        first.write_at(0, 0, b"1").unwrap();
        second.write_at(0, 0, b"2").unwrap();
        let second_staging = second.staging_dir().to_owned();
        first.finalize(0, &safe("one.txt")).unwrap();
        first.finish().unwrap();
        assert!(second_staging.join("0.part").is_file());
        second.finalize(0, &safe("two.txt")).unwrap();
        second.finish().unwrap();
        assert_eq!(tree(dir.path()), set(&["one.txt", "two.txt"]));
    }

    #[test]
    fn discard_removes_staging_and_keeps_finalized_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = IncomingTransfer::open(dir.path(), Uuid::new_v4()).unwrap();
        receive(&mut t, 0, "done.txt", b"done");
        t.write_at(1, 0, b"half a fi").unwrap();
        t.write_at(2, 100, b"sparse").unwrap();
        t.discard().unwrap();
        assert_eq!(tree(dir.path()), set(&["done.txt"]));
    }

    #[test]
    fn dropping_keeps_parts_for_resume_with_the_same_folder() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path();
        fs::create_dir(dest.join("album")).unwrap(); // taken: the transfer uses "album (1)"
        let id = Uuid::new_v4();
        let mut t = IncomingTransfer::open(dest, id).unwrap();
        receive(&mut t, 0, "album/1.jpg", b"one");
        t.write_at(1, 0, b"tw").unwrap();
        drop(t);

        let mut t = IncomingTransfer::open(dest, id).unwrap();
        assert_eq!(t.part_len(1).unwrap(), Some(2));
        t.write_at(1, 2, b"o").unwrap();
        let path = t.finalize(1, &safe("album/2.jpg")).unwrap();
        assert_eq!(path, dest.join("album (1)").join("2.jpg"));
        t.finish().unwrap();
        assert_eq!(
            tree(dest),
            set(&["album", "album (1)", "album (1)/1.jpg", "album (1)/2.jpg"])
        );
        assert_eq!(fs::read(dest.join("album (1)/2.jpg")).unwrap(), b"two");
    }

    #[test]
    fn a_taken_file_name_gets_a_number_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path();
        fs::write(dest.join("photo.jpg"), b"original").unwrap();
        fs::write(dest.join("photo (1).jpg"), b"original 1").unwrap();
        fs::write(dest.join(".bashrc"), b"mine").unwrap();
        fs::write(dest.join("README"), b"mine").unwrap();
        let mut t = IncomingTransfer::open(dest, Uuid::new_v4()).unwrap();
        assert_eq!(
            receive(&mut t, 0, "photo.jpg", b"new"),
            dest.join("photo (2).jpg")
        );
        assert_eq!(
            receive(&mut t, 1, ".bashrc", b"evil"),
            dest.join(".bashrc (1)")
        );
        assert_eq!(
            receive(&mut t, 2, "README", b"new"),
            dest.join("README (1)")
        );
        t.finish().unwrap();
        assert_eq!(fs::read(dest.join("photo.jpg")).unwrap(), b"original");
        assert_eq!(fs::read(dest.join("photo (1).jpg")).unwrap(), b"original 1");
        assert_eq!(fs::read(dest.join("photo (2).jpg")).unwrap(), b"new");
        assert_eq!(fs::read(dest.join(".bashrc")).unwrap(), b"mine");
    }

    #[test]
    fn a_taken_folder_name_is_renamed_once_for_the_whole_folder() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path();
        fs::create_dir(dest.join("photos")).unwrap();
        fs::write(dest.join("photos").join("mine.jpg"), b"mine").unwrap();
        fs::write(dest.join("photos (1)"), b"a file in the way").unwrap();
        let mut t = IncomingTransfer::open(dest, Uuid::new_v4()).unwrap();
        let a = receive(&mut t, 0, "photos/a.jpg", b"a");
        let b = receive(&mut t, 1, "photos/sub/b.jpg", b"b");
        let c = receive(&mut t, 2, "photos/mine.jpg", b"theirs");
        assert_eq!(a, dest.join("photos (2)/a.jpg"));
        assert_eq!(b, dest.join("photos (2)/sub/b.jpg"));
        assert_eq!(c, dest.join("photos (2)/mine.jpg"));
        // A second folder of the same name in another transfer gets its own.
        t.finish().unwrap();
        let mut t = IncomingTransfer::open(dest, Uuid::new_v4()).unwrap();
        assert_eq!(
            receive(&mut t, 0, "photos/a.jpg", b"a"),
            dest.join("photos (3)/a.jpg")
        );
        t.finish().unwrap();
        assert_eq!(fs::read(dest.join("photos/mine.jpg")).unwrap(), b"mine");
        assert_eq!(
            fs::read(dest.join("photos (1)")).unwrap(),
            b"a file in the way"
        );
    }

    #[test]
    fn a_manifest_with_the_staging_name_cannot_touch_staging() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path();
        let id = Uuid::new_v4();
        let mut t = IncomingTransfer::open(dest, id).unwrap();
        t.write_at(1, 0, b"victim").unwrap();
        let hostile = format!(".peerdrop-incoming/{id}/1.part");
        let landed = receive(&mut t, 0, &hostile, b"overwrite?");
        assert_eq!(
            landed,
            dest.join(format!(".peerdrop-incoming (1)/{id}/1.part"))
        );
        assert_eq!(fs::read(t.part_path(1)).unwrap(), b"victim");
        let one_file = receive(&mut t, 2, ".peerdrop-incoming", b"x");
        assert_eq!(one_file, dest.join(".peerdrop-incoming (2)"));
        t.discard().unwrap();
    }

    #[test]
    fn duplicate_paths_in_one_manifest_do_not_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = IncomingTransfer::open(dir.path(), Uuid::new_v4()).unwrap();
        receive(&mut t, 0, "f/x.txt", b"first");
        let second = receive(&mut t, 1, "f/x.txt", b"second");
        assert_eq!(second, dir.path().join("f/x (1).txt"));
        assert_eq!(fs::read(dir.path().join("f/x.txt")).unwrap(), b"first");
        t.finish().unwrap();
    }

    #[test]
    fn a_file_in_the_way_of_a_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = IncomingTransfer::open(dir.path(), Uuid::new_v4()).unwrap();
        receive(&mut t, 0, "f/sub", b"file");
        t.write_at(1, 0, b"x").unwrap();
        let err = t.finalize(1, &safe("f/sub/x.txt")).unwrap_err();
        assert!(
            matches!(&err, StoreError::NotADirectory { path } if path.ends_with("f/sub")),
            "{err:?}"
        );
        assert_eq!(fs::read(dir.path().join("f/sub")).unwrap(), b"file");
    }

    #[test]
    fn missing_part_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = IncomingTransfer::open(dir.path(), Uuid::new_v4()).unwrap();
        let err = t.finalize(4, &safe("never.txt")).unwrap_err();
        assert!(
            matches!(err, StoreError::PartMissing { index: 4, .. }),
            "{err:?}"
        );
        let err = t.hash_part(4).unwrap_err();
        assert!(
            matches!(err, StoreError::PartMissing { index: 4, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("4.part"), "{err}");
    }

    #[test]
    fn remove_part_allows_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = IncomingTransfer::open(dir.path(), Uuid::new_v4()).unwrap();
        t.write_at(0, 0, b"corrupted!!").unwrap();
        t.remove_part(0).unwrap();
        t.remove_part(0).unwrap();
        assert_eq!(t.part_len(0).unwrap(), None);
        assert_eq!(
            receive(&mut t, 0, "ok.txt", b"good"),
            dir.path().join("ok.txt")
        );
        assert_eq!(fs::read(dir.path().join("ok.txt")).unwrap(), b"good");
    }

    #[test]
    fn many_files_reuse_a_bounded_number_of_handles() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = IncomingTransfer::open(dir.path(), Uuid::new_v4()).unwrap();
        let n = (MAX_OPEN_PARTS * 3) as u32;
        for round in 0..2u64 {
            for index in 0..n {
                t.write_at(index, round, &[b'a' + round as u8]).unwrap();
            }
        }
        assert!(t.open_parts.len() <= MAX_OPEN_PARTS);
        for index in 0..n {
            assert_eq!(t.hash_part(index).unwrap(), blake3::hash(b"ab"));
        }
        t.discard().unwrap();
    }

    #[test]
    fn parts_are_written_out_as_they_grow_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = IncomingTransfer::open(dir.path(), Uuid::new_v4()).unwrap();
        let chunk: Vec<u8> = (0..1 << 20).map(|i| (i % 253) as u8).collect();
        let chunks = WRITEBACK_EVERY / chunk.len() as u64 + 2;
        let mut whole = blake3::Hasher::new();
        for n in 0..chunks {
            t.write_at(0, n * chunk.len() as u64, &chunk).unwrap();
            whole.update(&chunk);
        }
        // Write-out was started once the threshold passed, and the count began again.
        assert!(t.unflushed < WRITEBACK_EVERY);
        assert_eq!(t.unflushed, 2 * chunk.len() as u64);
        assert_eq!(t.hash_part(0).unwrap(), whole.finalize());
        t.discard().unwrap();
    }

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

    #[test]
    fn stale_staging_is_pruned_and_fresh_staging_kept() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path();
        let old = IncomingTransfer::open(dest, Uuid::new_v4()).unwrap();
        let old_dir = old.staging_dir().to_owned();
        drop(old);
        let fresh = IncomingTransfer::open(dest, Uuid::new_v4()).unwrap();
        let fresh_dir = fresh.staging_dir().to_owned();
        drop(fresh);
        let ancient = SystemTime::now() - Duration::from_secs(90 * 24 * 3600);
        fs::File::open(&old_dir)
            .unwrap()
            .set_modified(ancient)
            .unwrap();
        assert_eq!(
            IncomingTransfer::prune_stale(dest, Duration::from_secs(30 * 24 * 3600)),
            1
        );
        assert!(!old_dir.exists());
        assert!(fresh_dir.exists());
    }

    #[test]
    fn numbered_names() {
        assert_eq!(numbered_name("photo.jpg", 0, false), "photo.jpg");
        assert_eq!(numbered_name("photo.jpg", 1, false), "photo (1).jpg");
        assert_eq!(
            numbered_name("archive.tar.gz", 2, false),
            "archive.tar (2).gz"
        );
        assert_eq!(numbered_name(".bashrc", 1, false), ".bashrc (1)");
        assert_eq!(numbered_name("README", 10, false), "README (10)");
        assert_eq!(numbered_name("my.folder", 1, true), "my.folder (1)");
        let long = format!("{}.txt", "é".repeat(125)); // 254 bytes
        let numbered = numbered_name(&long, 1, false);
        assert!(numbered.len() <= MAX_COMPONENT_BYTES, "{}", numbered.len());
        assert!(numbered.ends_with(" (1).txt"));
    }

    #[test]
    fn fallback_move_without_hard_links_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("0.part");
        let target = dir.path().join("taken.txt");
        fs::write(&part, b"new").unwrap();
        fs::write(&target, b"old").unwrap();
        let staging = dir::open_existing(dir.path()).unwrap().unwrap();
        let unsupported =
            |_: &Dir, _: &str, _: &Path| Err(io::Error::from(io::ErrorKind::Unsupported));
        let err =
            sys::move_out_no_replace_with(&staging, "0.part", &target, unsupported).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        let free = dir.path().join("free.txt");
        sys::move_out_no_replace_with(&staging, "0.part", &free, unsupported).unwrap();
        assert_eq!(fs::read(&free).unwrap(), b"new");
        assert!(!part.exists());
    }

    #[cfg(unix)]
    mod symlinks {
        use super::*;
        use std::os::unix::fs::symlink;

        /// A temp dir with `dest/` and `outside/` (what must never be touched).
        fn sandbox() -> (tempfile::TempDir, PathBuf, PathBuf) {
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("dest");
            let outside = dir.path().join("outside");
            fs::create_dir(&dest).unwrap();
            fs::create_dir(&outside).unwrap();
            fs::write(outside.join("keep.txt"), b"precious").unwrap();
            (dir, dest, outside)
        }

        fn assert_outside_untouched(outside: &Path) {
            assert_eq!(tree(outside), set(&["keep.txt"]));
            assert_eq!(fs::read(outside.join("keep.txt")).unwrap(), b"precious");
        }

        #[test]
        fn a_planted_folder_link_is_never_entered() {
            let (_dir, dest, outside) = sandbox();
            symlink(&outside, dest.join("photos")).unwrap();
            let mut t = IncomingTransfer::open(&dest, Uuid::new_v4()).unwrap();
            let a = receive(&mut t, 0, "photos/keep.txt", b"evil");
            let b = receive(&mut t, 1, "photos/new.txt", b"evil");
            t.finish().unwrap();
            assert_eq!(a, dest.join("photos (1)/keep.txt"));
            assert_eq!(b, dest.join("photos (1)/new.txt"));
            assert_outside_untouched(&outside);
            assert!(fs::symlink_metadata(dest.join("photos"))
                .unwrap()
                .file_type()
                .is_symlink());
        }

        #[test]
        fn a_planted_file_link_is_never_written_through() {
            let (_dir, dest, outside) = sandbox();
            symlink(outside.join("keep.txt"), dest.join("keep.txt")).unwrap();
            symlink(outside.join("absent.txt"), dest.join("dangling.txt")).unwrap();
            let mut t = IncomingTransfer::open(&dest, Uuid::new_v4()).unwrap();
            assert_eq!(
                receive(&mut t, 0, "keep.txt", b"evil"),
                dest.join("keep (1).txt")
            );
            assert_eq!(
                receive(&mut t, 1, "dangling.txt", b"evil"),
                dest.join("dangling (1).txt")
            );
            t.finish().unwrap();
            assert_outside_untouched(&outside);
        }

        #[test]
        fn a_link_inside_a_transfer_folder_is_refused() {
            let (_dir, dest, outside) = sandbox();
            let mut t = IncomingTransfer::open(&dest, Uuid::new_v4()).unwrap();
            receive(&mut t, 0, "photos/a.jpg", b"a");
            // Someone swaps a subfolder for a link mid-transfer.
            symlink(&outside, dest.join("photos/sub")).unwrap();
            t.write_at(1, 0, b"evil").unwrap();
            let err = t.finalize(1, &safe("photos/sub/b.jpg")).unwrap_err();
            assert!(
                matches!(&err, StoreError::Symlink { path } if *path == dest.join("photos/sub")),
                "{err:?}"
            );
            // The remembered top-level folder replaced by a link is refused too.
            fs::rename(dest.join("photos"), dest.join("moved")).unwrap();
            symlink(&outside, dest.join("photos")).unwrap();
            let err = t.finalize(1, &safe("photos/b.jpg")).unwrap_err();
            assert!(matches!(&err, StoreError::Symlink { .. }), "{err:?}");
            t.discard().unwrap();
            assert_outside_untouched(&outside);
        }

        #[test]
        fn a_link_at_the_part_path_is_refused() {
            let (_dir, dest, outside) = sandbox();
            let mut t = IncomingTransfer::open(&dest, Uuid::new_v4()).unwrap();
            symlink(outside.join("keep.txt"), t.part_path(0)).unwrap();
            symlink(outside.join("new.txt"), t.part_path(1)).unwrap();
            let err = t.write_at(0, 0, b"evil").unwrap_err();
            assert!(
                matches!(&err, StoreError::Symlink { path } if *path == t.part_path(0)),
                "{err:?}"
            );
            assert!(matches!(
                t.write_at(1, 0, b"evil"),
                Err(StoreError::Symlink { .. })
            ));
            assert!(matches!(t.create_empty(1), Err(StoreError::Symlink { .. })));
            assert!(matches!(t.hash_part(0), Err(StoreError::Symlink { .. })));
            assert!(matches!(t.part_len(0), Err(StoreError::Symlink { .. })));
            assert!(matches!(
                t.finalize(0, &safe("x.txt")),
                Err(StoreError::Symlink { .. })
            ));
            t.discard().unwrap();
            assert_outside_untouched(&outside);
            assert_eq!(tree(&dest), set(&[]));
        }

        #[test]
        fn a_linked_destination_or_staging_dir_is_refused() {
            let (dir, dest, outside) = sandbox();
            let linked_dest = dir.path().join("linked-dest");
            symlink(&outside, &linked_dest).unwrap();
            let err = IncomingTransfer::open(&linked_dest, Uuid::new_v4()).unwrap_err();
            assert!(
                matches!(&err, StoreError::Symlink { path } if *path == linked_dest),
                "{err:?}"
            );

            symlink(&outside, dest.join(STAGING_DIR_NAME)).unwrap();
            let err = IncomingTransfer::open(&dest, Uuid::new_v4()).unwrap_err();
            assert!(matches!(&err, StoreError::Symlink { .. }), "{err:?}");
            fs::remove_file(dest.join(STAGING_DIR_NAME)).unwrap();

            let id = Uuid::new_v4();
            fs::create_dir(dest.join(STAGING_DIR_NAME)).unwrap();
            symlink(&outside, dest.join(STAGING_DIR_NAME).join(id.to_string())).unwrap();
            let err = IncomingTransfer::open(&dest, id).unwrap_err();
            assert!(matches!(&err, StoreError::Symlink { .. }), "{err:?}");
            assert_outside_untouched(&outside);

            let file_dest = dir.path().join("a-file");
            fs::write(&file_dest, b"").unwrap();
            let err = IncomingTransfer::open(&file_dest, Uuid::new_v4()).unwrap_err();
            assert!(matches!(err, StoreError::NotADirectory { .. }), "{err:?}");
        }

        #[test]
        fn a_tampered_folders_file_is_ignored() {
            let (_dir, dest, outside) = sandbox();
            let id = Uuid::new_v4();
            let t = IncomingTransfer::open(&dest, id).unwrap();
            let staging = t.staging_dir().to_owned();
            drop(t);
            fs::write(
                staging.join(FOLDERS_FILE),
                b"photos\t../outside\nbad line\n",
            )
            .unwrap();
            let mut t = IncomingTransfer::open(&dest, id).unwrap();
            assert_eq!(
                receive(&mut t, 0, "photos/x.txt", b"x"),
                dest.join("photos/x.txt")
            );
            t.finish().unwrap();
            assert_outside_untouched(&outside);
        }
    }

    /// Another local user who can write to a shared DEST.
    #[cfg(unix)]
    mod shared_destination {
        use super::*;
        use std::os::unix::fs::{symlink, PermissionsExt};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};

        /// `nobody`: the other user in these tests.
        const OTHER_UID: u32 = 65534;

        fn mode(path: &Path) -> u32 {
            fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
        }

        fn set_mode(path: &Path, mode: u32) {
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
        }

        fn give_away(path: &Path) {
            std::os::unix::fs::chown(path, Some(OTHER_UID), Some(OTHER_UID)).unwrap();
        }

        fn make_old(path: &Path) {
            let old = SystemTime::now() - Duration::from_secs(90 * 24 * 3600);
            File::open(path).unwrap().set_modified(old).unwrap();
        }

        fn running_as_root() -> bool {
            let root = rustix::process::geteuid().is_root();
            if !root {
                eprintln!("not root: cannot chown a folder to uid {OTHER_UID}; only the mode and symlink parts of these tests run");
            }
            root
        }

        #[test]
        fn a_staging_folder_owned_by_someone_else_is_refused() {
            if !running_as_root() {
                return;
            }
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("shared");
            fs::create_dir(&dest).unwrap();
            set_mode(&dest, 0o1777);
            // The other user got there first, with a folder anyone may write to.
            let root = dest.join(STAGING_DIR_NAME);
            fs::create_dir(&root).unwrap();
            let id = Uuid::new_v4();
            let theirs = root.join(id.to_string());
            fs::create_dir(&theirs).unwrap();
            fs::write(theirs.join(JOURNAL_FILE), br#"{"v":1,"files":[]}"#).unwrap();
            let stale = root.join("stale");
            fs::create_dir(&stale).unwrap();
            for path in [&root, &theirs, &stale] {
                give_away(path);
                set_mode(path, 0o777);
            }
            make_old(&stale);

            let err = IncomingTransfer::open(&dest, id).unwrap_err();
            assert!(
                matches!(&err, StoreError::StagingNotOwned { path, owner } if *path == root && *owner == OTHER_UID),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains(&root.display().to_string()) && message.contains("another user"),
                "{message}"
            );
            // Resume and clean-up do not look inside it either.
            assert!(matches!(
                IncomingTransfer::read_journal(&dest, id),
                Err(StoreError::StagingNotOwned { .. })
            ));
            assert_eq!(IncomingTransfer::prune_stale(&dest, Duration::ZERO), 0);
            assert!(stale.is_dir() && theirs.join(JOURNAL_FILE).is_file());
            assert_eq!(
                mode(&root),
                0o777,
                "someone else's folder is not ours to change"
            );
            assert_eq!(
                tree(&dest),
                set(&[
                    ".peerdrop-incoming",
                    &format!(".peerdrop-incoming/{id}"),
                    &format!(".peerdrop-incoming/{id}/journal"),
                    ".peerdrop-incoming/stale"
                ])
            );

            // Our own root with another user's transfer folder in it: that one is refused.
            fs::remove_dir_all(&root).unwrap();
            fs::create_dir(&root).unwrap();
            fs::create_dir(&theirs).unwrap();
            give_away(&theirs);
            let err = IncomingTransfer::open(&dest, id).unwrap_err();
            assert!(
                matches!(&err, StoreError::StagingNotOwned { path, .. } if *path == theirs),
                "{err:?}"
            );
            // A fresh transfer next to it is fine, and pruning leaves the other user's alone.
            let t = IncomingTransfer::open(&dest, Uuid::new_v4()).unwrap();
            make_old(&theirs);
            t.discard().unwrap();
            assert_eq!(IncomingTransfer::prune_stale(&dest, Duration::ZERO), 0);
            assert!(theirs.is_dir());
        }

        #[test]
        fn a_world_writable_staging_folder_is_refused_or_fixed() {
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("Downloads");
            fs::create_dir(&dest).unwrap();
            let root = dest.join(STAGING_DIR_NAME);
            let id = Uuid::new_v4();
            let staging = root.join(id.to_string());
            fs::create_dir_all(&staging).unwrap();
            set_mode(&root, 0o777);
            set_mode(&staging, 0o777);

            // Ours, so it is made private again before anything is written into it.
            let mut t = IncomingTransfer::open(&dest, id).unwrap();
            assert_eq!(mode(&root), 0o700);
            assert_eq!(mode(&staging), 0o700);
            t.write_at(0, 0, b"half a file").unwrap();
            assert_eq!(mode(&t.part_path(0)) & 0o077, 0, "parts are private too");
            drop(t);

            // Loosened again while the transfer was interrupted: reading the journal for a
            // resume, and pruning, fix it too.
            set_mode(&root, 0o757);
            IncomingTransfer::read_journal(&dest, id).unwrap();
            assert_eq!(mode(&root), 0o700);
            set_mode(&root, 0o733);
            assert_eq!(
                IncomingTransfer::prune_stale(&dest, Duration::from_secs(3600)),
                0
            );
            assert_eq!(mode(&root), 0o700);
            // A fresh root is created private.
            fs::remove_dir_all(&root).unwrap();
            let t = IncomingTransfer::open(&dest, Uuid::new_v4()).unwrap();
            assert_eq!(mode(&root), 0o700);
            t.discard().unwrap();
        }

        #[test]
        fn prune_stale_cannot_be_redirected_by_a_symlink() {
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("shared");
            fs::create_dir(&dest).unwrap();
            // The victim's folder, named like a stale transfer folder the attacker plants.
            let home = dir.path().join("home");
            let victim = home.join("Documents");
            fs::create_dir_all(&victim).unwrap();
            fs::write(victim.join("thesis.odt"), b"years of work").unwrap();
            make_old(&victim);

            let root = dest.join(STAGING_DIR_NAME);
            let aside = dest.join(".moved-aside");
            let plant = |root: &Path| {
                let stale = root.join("Documents");
                if !stale.exists() {
                    fs::create_dir_all(&stale).unwrap();
                    make_old(&stale);
                }
            };
            // While prune_stale runs, the attacker keeps swapping the staging root for a
            // symlink to the victim's home and back (renames in a folder they can write to).
            let turn = Arc::new(Mutex::new(()));
            let stop = Arc::new(AtomicBool::new(false));
            let swapper = {
                let (turn, stop, root, aside, home) = (
                    turn.clone(),
                    stop.clone(),
                    root.clone(),
                    aside.clone(),
                    home.clone(),
                );
                std::thread::spawn(move || {
                    let mut swaps = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        {
                            let _turn = turn.lock().unwrap();
                            if fs::rename(&root, &aside).is_ok() {
                                symlink(&home, &root).unwrap();
                                swaps += 1;
                                std::thread::sleep(Duration::from_micros(40));
                                fs::remove_file(&root).unwrap();
                                fs::rename(&aside, &root).unwrap();
                            }
                        }
                        std::thread::sleep(Duration::from_micros(40));
                    }
                    swaps
                })
            };
            let mut pruned = 0;
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            let mut rounds = 0;
            while std::time::Instant::now() < deadline && victim.exists() {
                {
                    let _turn = turn.lock().unwrap();
                    plant(&root);
                }
                pruned += IncomingTransfer::prune_stale(&dest, Duration::from_secs(3600));
                rounds += 1;
            }
            stop.store(true, Ordering::Relaxed);
            let swaps = swapper.join().unwrap();
            assert!(
                victim.join("thesis.odt").is_file(),
                "prune_stale deleted the victim's folder through the swapped root ({rounds} rounds)"
            );
            assert!(swaps > 100, "the root was swapped only {swaps} times");
            assert!(
                pruned > 0,
                "prune_stale never removed the real stale folder"
            );
            assert!(fs::symlink_metadata(&root)
                .map(|m| !m.file_type().is_symlink())
                .unwrap_or(true));
        }
    }
}
