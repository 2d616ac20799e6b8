//! What a sender offers: the list of files, and reading them.
//!
//! [`SendPlan::from_paths`] turns what a person picked (files and folders) into numbered
//! [`FileEntry`](peerdrop_proto::transfer::FileEntry)s. A file is offered under its own name, a folder as `folder/sub/file` paths
//! that include the folder's name, walked in a sorted, deterministic order. Symlinks *inside* a
//! folder are skipped (following them could leak `~/.ssh` through a link someone left in a
//! shared folder); a path the person named explicitly is used even if it is a link, because
//! they chose it. Pipes, sockets and devices are skipped. Every wire path is checked with the
//! receiver's own rules ([`sanitize_relative_path`](super::names::sanitize_relative_path)) so a name a receiver would refuse fails
//! here, early, with the local path in the message.
//!
//! [`SourceReader`] streams one file in [`BLOCK_SIZE`] blocks, hashes everything it reads with
//! BLAKE3 and fails if the file turns out shorter or longer than announced, or if it is
//! modified meanwhile: after every block it compares the file's size, modification and
//! change times with what they were when the file was picked, so a file still being written
//! is reported instead of sent as a torn mixture of old and new bytes (the hash would match
//! the mixture, so this check is what keeps it from being "verified"). A write that keeps the
//! same size *and* lands within the file system's timestamp granularity can slip past (1–2 s
//! on FAT; nanoseconds on ext4, APFS, NTFS).
//!
//! `plan.rs` builds the offer; `reader.rs` reads and hashes its files.

mod plan;
mod reader;

pub use plan::{OutgoingFile, SendPlan};
pub use reader::{hash_source, Block, SourceReader, BLOCK_SIZE};

#[cfg(test)]
mod test_util {
    use std::fs;
    use std::path::Path;

    /// Writes `bytes` to `path`, creating its folders.
    pub(super) fn write(path: &Path, bytes: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
}
