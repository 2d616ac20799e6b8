//! The file store: everything a transfer does with the file system.
//!
//! - [`names`]: received paths are hostile until proven safe. [`sanitize_relative_path`] turns a
//!   wire path into a [`SafePath`] or refuses it; [`terminal_safe`] makes any name printable.
//! - [`outgoing`]: what a sender offers. [`SendPlan::from_paths`] turns the files and folders a
//!   person picked into numbered [`FileEntry`](peerdrop_proto::transfer::FileEntry)s with
//!   `/`-separated relative paths, without following symlinks; [`SourceReader`] streams one
//!   file in blocks, hashes it and notices if it changed size underneath us.
//! - [`incoming`]: where a receiver writes. [`IncomingTransfer`] stages data in `.part` files
//!   and moves each verified file to its final name without ever overwriting anything.
//!
//! # Layout of a destination folder during a transfer
//!
//! ```text
//! DEST/
//!   .peerdrop-incoming/            staging root (0700 on Unix, ours, used by handle), removed
//!                                  when empty
//!     <transfer id>/               one per transfer, removed by finish() or discard()
//!       0.part  1.part ...         data of file #index, written positionally
//!       folders                    "name<TAB>chosen name" per top-level folder, for resume
//!       journal                    ranges of each part known to be on disk, and the files
//!                                  already saved (JSON); written after the parts are flushed
//!   photo.jpg                      finished files appear only once verified, under their
//!   photos (1)/beach.jpg           real name, renamed ` (n)` if the name was taken
//! ```
//!
//! Staging lives inside DEST so the final move is a same-file-system link or rename: a file
//! appears complete or not at all. Dropping an [`IncomingTransfer`] without `finish`/`discard`
//! keeps the staging directory, so the transfer can resume later with the same id.
//!
//! # What happens to partial data
//!
//! A transfer that completes removes its staging directory (`finish`). One the receiver
//! declined or either side cancelled removes it too (`discard`): the person said no. Every
//! other ending — network cut, peer gone, killed process, disk full, a sender whose file
//! changed — *keeps* the parts and the journal, so sending the same files to the same device
//! again resumes; staging untouched for 30 days is pruned when the next transfer starts.
//!
//! # What is defended against
//!
//! A hostile sender controls only the names and bytes it sends. Names are sanitized before
//! anything is created; the store never creates a symlink, refuses to write through one
//! (`O_NOFOLLOW` on part files, `symlink_metadata` on every directory it enters), never
//! enters a pre-existing top-level entry (a taken name gets ` (n)`, so a planted
//! `DEST/photos -> /etc` is simply skipped), and moves files with a no-replace primitive
//! (`hard_link`, which fails if the target exists) so not even a race can clobber a file.
//!
//! All calls block on file-system I/O; async callers run them on a blocking thread.

mod dir;
pub mod incoming;
/// Safe names live with the machines that check them (`peerdrop-machine`).
pub use peerdrop_machine::names;
pub mod outgoing;
mod sys;

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use incoming::{
    FileResume, IncomingTransfer, Journal, JournalEntry, SavedFile, STAGING_DIR_NAME,
};
pub use names::{sanitize_relative_path, terminal_safe, Platform, SafePath, UnsafePath};
pub use outgoing::{hash_source, Block, OutgoingFile, SendPlan, SourceReader, BLOCK_SIZE};

/// Everything that can go wrong in the store. Every variant names the path involved, so the
/// message alone tells a person what to look at.
#[derive(Debug, Error)]
pub enum StoreError {
    /// An I/O operation failed; `op` says which ("could not create folder", ...).
    #[error("{op} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The disk (or the user's quota) is full.
    #[error("disk full while writing {}: free some space and try again", .path.display())]
    DiskFull {
        /// The file or folder being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A symbolic link (or Windows junction) is where the store wanted a real file or folder.
    #[error("refusing to use {}: it is a symbolic link, and PeerDrop never writes through links", .path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The staging folder (`.peerdrop-incoming`, or a transfer's folder in it) belongs to
    /// another user. They could rename, replace or fill it while PeerDrop writes or cleans up
    /// there, so it is not used.
    #[error("refusing to use {}: it belongs to another user (uid {owner}), who could redirect what PeerDrop writes or deletes there; remove it or choose another download folder", .path.display())]
    StagingNotOwned {
        /// The folder.
        path: PathBuf,
        /// Its owner's user id.
        owner: u32,
    },
    /// Our own staging folder is open to other users and could not be made private again.
    #[error("refusing to use {}: other users may write to it (mode {mode:o}) and it could not be made private: {source}", .path.display())]
    StagingNotPrivate {
        /// The folder.
        path: PathBuf,
        /// Its mode.
        mode: u32,
        /// Why `chmod 0700` failed.
        #[source]
        source: io::Error,
    },
    /// Something that is not a folder is where a folder is needed.
    #[error("{} is in the way: it should be a folder but is not", .path.display())]
    NotADirectory {
        /// The obstacle.
        path: PathBuf,
    },
    /// A device, pipe or socket where a regular file is needed.
    #[error("{} is not a regular file or folder (device, pipe or socket)", .path.display())]
    NotARegularFile {
        /// The special file.
        path: PathBuf,
    },
    /// A file being sent changed size after it was announced.
    #[error("{} changed while being sent: announced {expected} bytes, found {actual}", .path.display())]
    SourceChanged {
        /// The source file.
        path: PathBuf,
        /// Size announced in the offer.
        expected: u64,
        /// Size found (at least this much).
        actual: u64,
    },
    /// A file being sent was written to (its modification time changed) after it was picked
    /// or while it was being read: what was read may mix old and new contents.
    #[error("{} was modified while being sent; send it again once nothing is writing to it", .path.display())]
    SourceModified {
        /// The source file.
        path: PathBuf,
    },
    /// A local name cannot be put on the wire: it is not UTF-8.
    #[error("{} cannot be sent: its name is not valid UTF-8", .path.display())]
    NonUtf8Name {
        /// The file.
        path: PathBuf,
    },
    /// A local name cannot be put on the wire: a receiver would refuse it.
    #[error("{} cannot be sent: {reason}", .path.display())]
    UnsendableName {
        /// The file.
        path: PathBuf,
        /// Why a receiver would refuse it.
        #[source]
        reason: UnsafePath,
    },
    /// Two picked items have the same name, so their wire paths would collide.
    #[error("{} and {} would both be sent as \"{name}\"; rename one or send them separately", .first.display(), .second.display())]
    DuplicateName {
        /// The shared wire name.
        name: String,
        /// The first item.
        first: PathBuf,
        /// The second item.
        second: PathBuf,
    },
    /// The picked items hold no regular file.
    #[error("nothing to send: {} hold no regular files", display_list(.paths))]
    NothingToSend {
        /// What was picked.
        paths: Vec<PathBuf>,
    },
    /// A text to send is empty, or too long to go as text.
    #[error("{reason}")]
    UnsendableText {
        /// Why, with what to do instead.
        reason: String,
    },
    /// More files than one transfer may announce.
    #[error("{} holds {count} files; one transfer is limited to {limit}", .path.display())]
    TooManyFiles {
        /// The item that went over the limit.
        path: PathBuf,
        /// Files counted so far.
        count: usize,
        /// The protocol's limit.
        limit: u32,
    },
    /// No data was ever received for a file that is being finalized or hashed.
    #[error("no data was received for file #{index} (expected {})", .path.display())]
    PartMissing {
        /// File index.
        index: u32,
        /// The part file that does not exist.
        path: PathBuf,
    },
    /// A file was already moved to its final name; more data for it is refused.
    #[error("file #{index} is already complete at {}", .path.display())]
    AlreadyFinalized {
        /// File index.
        index: u32,
        /// Where it was saved.
        path: PathBuf,
    },
    /// Every ` (n)` variant of a name is taken.
    #[error("no free name for {}: every numbered variant is taken", .path.display())]
    NoFreeName {
        /// The wanted name.
        path: PathBuf,
    },
}

impl StoreError {
    /// Whether the disk (or the quota) is full: the one failure both sides report as its own
    /// cause, and after which a resume works once space is freed.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::DiskFull { .. })
    }

    /// Wraps an I/O error, recognising a full disk or quota.
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        if matches!(
            source.kind(),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
        ) {
            StoreError::DiskFull {
                path: path.to_owned(),
                source,
            }
        } else {
            StoreError::Io {
                op,
                path: path.to_owned(),
                source,
            }
        }
    }
}

fn display_list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no paths given, which".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_full_is_recognised() {
        let path = Path::new("/dest/x.part");
        let full = io::Error::from(io::ErrorKind::StorageFull);
        let e = StoreError::io("could not write", path, full);
        assert!(matches!(e, StoreError::DiskFull { .. }), "{e:?}");
        assert_eq!(
            e.to_string().split(':').next().unwrap(),
            "disk full while writing /dest/x.part"
        );
        #[cfg(unix)]
        {
            let enospc = io::Error::from_raw_os_error(libc::ENOSPC);
            assert!(matches!(
                StoreError::io("w", path, enospc),
                StoreError::DiskFull { .. }
            ));
            let edquot = io::Error::from_raw_os_error(libc::EDQUOT);
            assert!(matches!(
                StoreError::io("w", path, edquot),
                StoreError::DiskFull { .. }
            ));
        }
        let other = io::Error::from(io::ErrorKind::PermissionDenied);
        let e = StoreError::io("could not write", path, other);
        assert!(
            e.to_string().starts_with("could not write /dest/x.part: "),
            "{e}"
        );
    }
}
