//! Writing a transfer's parts: positional writes as frames arrive, through a bounded set of
//! open handles, with the kernel asked to start write-out as a part grows so each checkpoint's
//! fsync has little left to do.

use std::io;

use super::parts::{open_part, part_name};
use super::IncomingTransfer;
use crate::store::sys::{self, Access};
use crate::store::StoreError;

/// Part files kept open at once; more are closed and reopened on demand.
const MAX_OPEN_PARTS: usize = 32;

/// How often (bytes written) a receiver asks the kernel to start writing a part out, so each
/// checkpoint's fsync has little left to do ([`sys::start_writeback`]).
const WRITEBACK_EVERY: u64 = 8 << 20;

impl IncomingTransfer {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::incoming::test_util::*;
    use std::fs;
    use uuid::Uuid;

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
}
