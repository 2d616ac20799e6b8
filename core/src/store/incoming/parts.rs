//! A transfer's part files: where each is staged, how one is opened without following a link,
//! how big it is, and removing one.

use std::fs::File;
use std::io;
use std::path::PathBuf;

use super::IncomingTransfer;
use crate::store::dir::Dir;
use crate::store::sys::Access;
use crate::store::StoreError;

impl IncomingTransfer {
    /// Where the data of file `index` is staged.
    pub fn part_path(&self, index: u32) -> PathBuf {
        self.staging.join(&part_name(index))
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

    /// Deletes the part of file `index` (after a hash mismatch, so it is received afresh).
    pub fn remove_part(&mut self, index: u32) -> Result<(), StoreError> {
        self.open_parts.remove(&index);
        self.staging
            .remove_file(&part_name(index))
            .map_err(|e| StoreError::io("could not remove", &self.part_path(index), e))
    }
}

/// The name of file `index`'s part in its staging folder.
pub(super) fn part_name(index: u32) -> String {
    format!("{index}.part")
}

/// Errors of opening a staging file: a symlink at the name gets its own message.
pub(super) fn open_error(dir: &Dir, name: &str, e: io::Error) -> StoreError {
    let path = dir.join(name);
    match dir.entry(name) {
        Ok(Some(entry)) if entry.is_symlink => StoreError::Symlink { path },
        _ => StoreError::io("could not open", &path, e),
    }
}

/// Opens a part (or other staging file) in `dir` without following links and checks it is a
/// regular file.
pub(super) fn open_part(dir: &Dir, name: &str, access: Access) -> Result<File, StoreError> {
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
pub(super) fn open_existing_part(
    index: u32,
    staging: &Dir,
    access: Access,
) -> Result<File, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::incoming::test_util::*;
    use std::fs;
    use uuid::Uuid;

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

    #[cfg(unix)]
    mod symlinks {
        use super::*;
        use std::os::unix::fs::symlink;

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
    }
}
