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
//! One file per job: `parts.rs` (naming and opening part files), `writer.rs` (positional
//! writes), `hash.rs` (reading parts back to verify them), `placement.rs` (the final move and
//! folder choice), `prune.rs` (abandoned staging) and `journal.rs` (the resume journal and the
//! saved-files log); this file opens and closes a transfer's staging.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::dir::{self, Dir};
use super::StoreError;

mod hash;
mod journal;
mod parts;
mod placement;
mod prune;
#[cfg(test)]
mod test_util;
mod writer;

pub use journal::{FileResume, Journal, JournalEntry, SavedFile};
use placement::check_real_dir;

/// Name of the staging directory created inside the destination folder.
pub const STAGING_DIR_NAME: &str = ".peerdrop-incoming";

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
    /// ([`writer::WRITEBACK_EVERY`]).
    unflushed: u64,
}

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

    /// Opens (without creating anything) and checks the staging folder of `transfer_id` in
    /// `dest`; `None` when there is none.
    pub(super) fn open_staging(dest: &Path, transfer_id: Uuid) -> Result<Option<Dir>, StoreError> {
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

    pub(super) fn refuse_if_finalized(&self, index: u32) -> Result<(), StoreError> {
        match self.finalized.get(&index) {
            Some(path) => Err(StoreError::AlreadyFinalized {
                index,
                path: path.clone(),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::journal::JOURNAL_FILE;
    use super::test_util::*;
    use super::*;

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

    #[cfg(unix)]
    mod symlinks {
        use super::*;
        use std::os::unix::fs::symlink;

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
    }

    /// Another local user who can write to a shared DEST.
    #[cfg(unix)]
    mod shared_destination {
        use super::*;
        use std::os::unix::fs::PermissionsExt;
        use std::time::Duration;

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
    }
}
