//! Reading an offered file: streamed in blocks, hashed as it is read, and checked against the
//! size and times it had when it was picked.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::SystemTime;

use bytes::Bytes;

use super::plan::OutgoingFile;
use crate::store::{sys, StoreError};

/// Size of the blocks [`SourceReader`] reads: large enough for fast sequential I/O, small
/// enough that a few in flight stay cheap. The session slices them into data frames.
pub const BLOCK_SIZE: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Offset of `data[0]` in the file.
    pub offset: u64,
    /// The bytes, at most [`BLOCK_SIZE`]; cheap to slice into data frames.
    pub data: Bytes,
}

/// Reads one outgoing file front to back in blocks, hashing every byte, and checks it still
/// has the announced size. Reading everything (even ranges a resuming receiver already has)
/// keeps the hash over the whole file; the session simply does not send those blocks.
#[derive(Debug)]
pub struct SourceReader {
    file: File,
    path: PathBuf,
    size: u64,
    position: u64,
    block_size: usize,
    hasher: blake3::Hasher,
    stamp: Stamp,
}

/// What changes when a file is written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    changed: Option<(i64, i64)>,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let changed = {
            use std::os::unix::fs::MetadataExt;
            Some((meta.ctime(), meta.ctime_nsec()))
        };
        #[cfg(not(unix))]
        let changed = None;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            changed,
        }
    }
}

impl SourceReader {
    /// Opens the file of `outgoing`; fails if it is gone, not a regular file, or no longer
    /// has the announced size.
    pub fn open(outgoing: &OutgoingFile) -> Result<SourceReader, StoreError> {
        Self::open_expecting(outgoing, None)
    }

    /// Like [`open`](Self::open), and also fails with [`StoreError::SourceModified`] if the
    /// file's modification time is no longer `modified` (as recorded when it was picked, see
    /// [`SendPlan::modified`](super::SendPlan::modified)).
    pub fn open_expecting(
        outgoing: &OutgoingFile,
        modified: Option<SystemTime>,
    ) -> Result<SourceReader, StoreError> {
        let path = outgoing.source.clone();
        let file =
            sys::open_source(&path).map_err(|e| StoreError::io("could not open", &path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| StoreError::io("could not read", &path, e))?;
        if !meta.is_file() {
            return Err(StoreError::NotARegularFile { path });
        }
        let size = outgoing.entry.size;
        if meta.len() != size {
            return Err(StoreError::SourceChanged {
                path,
                expected: size,
                actual: meta.len(),
            });
        }
        if modified.is_some() && meta.modified().ok() != modified {
            return Err(StoreError::SourceModified { path });
        }
        Ok(SourceReader {
            file,
            path,
            size,
            position: 0,
            block_size: BLOCK_SIZE,
            hasher: blake3::Hasher::new(),
            stamp: Stamp::of(&meta),
        })
    }

    /// Fails if the file was written to since it was opened.
    fn check_unmodified(&self) -> Result<(), StoreError> {
        let meta = self
            .file
            .metadata()
            .map_err(|e| StoreError::io("could not read", &self.path, e))?;
        let now = Stamp::of(&meta);
        if now.len != self.stamp.len {
            return Err(StoreError::SourceChanged {
                path: self.path.clone(),
                expected: self.size,
                actual: now.len,
            });
        }
        if now != self.stamp {
            return Err(StoreError::SourceModified {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Uses blocks of `block_size` bytes instead of [`BLOCK_SIZE`] (at least 1).
    pub fn with_block_size(mut self, block_size: usize) -> SourceReader {
        self.block_size = block_size.max(1);
        self
    }

    /// The announced size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes read so far; the offset of the next block.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next block, or `None` once the whole announced size was read and the file was
    /// found to end exactly there.
    pub fn next_block(&mut self) -> Result<Option<Block>, StoreError> {
        let remaining = self.size - self.position;
        if remaining == 0 {
            self.check_at_end()?;
            return Ok(None);
        }
        let want = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(self.block_size);
        // Read into spare capacity: no zero-filling of a buffer about to be overwritten.
        let mut buf = Vec::with_capacity(want);
        let filled = io::Read::take(&mut self.file, want as u64)
            .read_to_end(&mut buf)
            .map_err(|e| StoreError::io("could not read", &self.path, e))?;
        if filled < want {
            return Err(StoreError::SourceChanged {
                path: self.path.clone(),
                expected: self.size,
                actual: self.position + filled as u64,
            });
        }
        self.check_unmodified()?;
        self.hasher.update(&buf);
        let block = Block {
            offset: self.position,
            data: Bytes::from(buf),
        };
        self.position += want as u64;
        Ok(Some(block))
    }

    /// Reads whatever is left and returns the BLAKE3 of the whole file.
    pub fn finish(mut self) -> Result<blake3::Hash, StoreError> {
        while self.next_block()?.is_some() {}
        Ok(self.hasher.finalize())
    }

    /// At the announced end: the file must not have grown.
    fn check_at_end(&mut self) -> Result<(), StoreError> {
        self.check_unmodified()?;
        let mut probe = [0u8; 1];
        loop {
            match self.file.read(&mut probe) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    let now = self.file.metadata().map(|m| m.len()).unwrap_or(0);
                    return Err(StoreError::SourceChanged {
                        path: self.path.clone(),
                        expected: self.size,
                        actual: now.max(self.size + 1),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(StoreError::io("could not read", &self.path, e)),
            }
        }
    }
}

/// BLAKE3 of a whole outgoing file, streamed with bounded memory, checking its size.
pub fn hash_source(outgoing: &OutgoingFile) -> Result<blake3::Hash, StoreError> {
    SourceReader::open(outgoing)?.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outgoing::test_util::write;
    use crate::store::outgoing::SendPlan;

    #[test]
    fn reader_streams_blocks_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        write(&path, &data);
        let plan = SendPlan::from_paths(&[path]).unwrap();
        let mut reader = SourceReader::open(&plan.files()[0])
            .unwrap()
            .with_block_size(4096);
        assert_eq!(reader.size(), 10_000);
        let mut seen = Vec::new();
        while let Some(block) = reader.next_block().unwrap() {
            assert_eq!(block.offset, seen.len() as u64);
            assert!(block.data.len() <= 4096);
            seen.extend_from_slice(&block.data);
        }
        assert_eq!(seen, data);
        assert_eq!(reader.position(), 10_000);
        assert_eq!(reader.finish().unwrap(), blake3::hash(&data));
        assert_eq!(hash_source(&plan.files()[0]).unwrap(), blake3::hash(&data));
    }

    #[test]
    fn empty_file_hashes_to_the_empty_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        write(&path, b"");
        let plan = SendPlan::from_paths(&[path]).unwrap();
        let mut reader = SourceReader::open(&plan.files()[0]).unwrap();
        assert_eq!(reader.next_block().unwrap(), None);
        assert_eq!(reader.finish().unwrap(), blake3::hash(b""));
    }

    #[test]
    fn a_source_that_shrinks_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shrinks.bin");
        write(&path, &[7u8; 10_000]);
        let plan = SendPlan::from_paths(&[&path]).unwrap();

        // Shrunk after the offer, before opening.
        fs::write(&path, [7u8; 100]).unwrap();
        let err = SourceReader::open(&plan.files()[0]).unwrap_err();
        assert!(
            matches!(&err, StoreError::SourceChanged { path: p, expected: 10_000, actual: 100 } if *p == path),
            "{err:?}"
        );

        // Shrunk while being read.
        fs::write(&path, [7u8; 10_000]).unwrap();
        let mut reader = SourceReader::open(&plan.files()[0])
            .unwrap()
            .with_block_size(4096);
        assert!(reader.next_block().unwrap().is_some());
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(5000)
            .unwrap();
        let err = loop {
            match reader.next_block() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("shrinking went unnoticed"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(
                err,
                StoreError::SourceChanged {
                    expected: 10_000,
                    actual: 5000,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("shrinks.bin"), "{err}");
    }

    #[test]
    fn a_source_that_grows_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grows.log");
        write(&path, b"hello");
        let plan = SendPlan::from_paths(&[&path]).unwrap();
        let reader = SourceReader::open(&plan.files()[0]).unwrap();
        fs::write(&path, b"hello, world").unwrap();
        let err = reader.finish().unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::SourceChanged {
                    expected: 5,
                    actual: 12,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_source_rewritten_in_place_is_detected() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        write(&path, &[1u8; 20_000]);
        let plan = SendPlan::from_paths(&[&path]).unwrap();
        let picked = plan.modified(0);
        assert!(picked.is_some());

        // Written to while being read, same size: the mixture is never hashed as "the file".
        let mut reader = SourceReader::open_expecting(&plan.files()[0], picked)
            .unwrap()
            .with_block_size(4096);
        assert!(reader.next_block().unwrap().is_some());
        std::thread::sleep(std::time::Duration::from_millis(20));
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all_at(&[9u8; 100], 10_000)
            .unwrap();
        let err = reader.finish().unwrap_err();
        assert!(matches!(err, StoreError::SourceModified { .. }), "{err:?}");
        assert!(
            err.to_string().contains("modified while being sent"),
            "{err}"
        );

        // Written to after it was picked, before it is opened (e.g. between two attempts).
        let err = SourceReader::open_expecting(&plan.files()[0], picked).unwrap_err();
        assert!(matches!(err, StoreError::SourceModified { .. }), "{err:?}");
    }
}
