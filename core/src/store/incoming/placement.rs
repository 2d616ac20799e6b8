//! Moving verified parts to their final names under DEST: choosing a free name (` (n)`),
//! choosing and remembering each top-level folder, creating the folders below without ever
//! following a link, and the no-replace move itself.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::parts::{open_error, open_existing_part, open_part, part_name};
use super::IncomingTransfer;
use crate::store::dir::Dir;
use crate::store::names::{sanitize_relative_path, Platform, SafePath, MAX_COMPONENT_BYTES};
use crate::store::sys::{self, Access};
use crate::store::StoreError;

/// Name of the file, inside a transfer's staging directory, that remembers which folder each
/// top-level name was given.
const FOLDERS_FILE: &str = "folders";

/// How many ` (n)` variants are tried before giving up on a name.
const MAX_SUFFIX: u32 = 9_999;

impl IncomingTransfer {
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

    pub(super) fn load_folders(&mut self) -> Result<(), StoreError> {
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

/// Refuses a symlink or anything but a directory at `path`.
pub(super) fn check_real_dir(path: &Path, meta: &fs::Metadata) -> Result<(), StoreError> {
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
    use super::*;
    use crate::store::dir;
    use crate::store::incoming::test_util::*;
    use uuid::Uuid;

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
}
