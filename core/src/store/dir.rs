//! [`Dir`]: a directory opened once and then used by name, and [`open_private`], how the
//! staging folders are opened.
//!
//! Why: a destination folder may be shared with other local users (a group download folder, a
//! USB stick mounted for everyone). If the store named staging files by path, another user who
//! can write to DEST could, between two of our calls, rename `.peerdrop-incoming` away and put
//! a symlink to the victim's home in its place: a part would then be written, or `prune_stale`
//! would delete, *there*. So on Unix a staging folder is opened once with `O_NOFOLLOW |
//! O_DIRECTORY`, checked on the open handle (a real directory, owned by us, no group/other
//! write — fixed to 0700 when it is ours), and everything in it is done relative to that handle
//! (`openat`, `unlinkat`, `renameat`, `linkat`, `fstatat`, reading entries from the handle).
//! Renaming or swapping a path component afterwards changes nothing: the handle still names
//! the directory that was checked.
//!
//! Elsewhere (Windows) the same interface joins paths, as the store did before; Windows
//! download folders are per-user and have no Unix modes to check.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::sys::Access;
use super::StoreError;

/// What [`Dir::entry`] says about one name in a directory (never following a link).
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// A symbolic link (or Windows reparse point).
    pub is_symlink: bool,
    /// A real directory.
    pub is_dir: bool,
    /// A regular file.
    pub is_file: bool,
    /// Size in bytes.
    pub len: u64,
    /// Last modification, when known.
    pub modified: Option<SystemTime>,
    /// Owned by the user this process runs as (always true where there are no owners).
    pub ours: bool,
}

/// An open directory. Every operation takes a single name inside it (no `/`).
#[derive(Debug)]
pub(crate) struct Dir {
    path: PathBuf,
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
}

/// Opens the existing directory `path` itself (not following a symlink at its last
/// component); `Ok(None)` when there is nothing there.
pub(crate) fn open_existing(path: &Path) -> Result<Option<Dir>, StoreError> {
    imp::open_dir(path)
}

/// Opens the staging folder `name` inside `parent` — creating it (mode 0700) when `create`
/// and missing — and checks it on the open handle: a real directory (not a symlink), owned by
/// this user, with no group/other access (a looser mode on our own folder is set back to
/// 0700). Another user's folder is refused ([`StoreError::StagingNotOwned`]). `Ok(None)` when
/// it does not exist and `create` is false.
pub(crate) fn open_private(
    parent: &Dir,
    name: &str,
    create: bool,
) -> Result<Option<Dir>, StoreError> {
    imp::open_private(parent, name, create)
}

impl Dir {
    /// The path it was opened as (for messages; operations never go through it on Unix).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path()/name`, for messages.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Opens file `name` without following a symlink there (created 0600 for writing).
    pub fn open_file(&self, name: &str, access: Access) -> io::Result<File> {
        imp::open_file(self, name, access)
    }

    /// What is at `name`, not following a link; `Ok(None)` when nothing is.
    pub fn entry(&self, name: &str) -> io::Result<Option<Entry>> {
        imp::entry(self, name)
    }

    /// Removes file (or link) `name`; a missing one is fine.
    pub fn remove_file(&self, name: &str) -> io::Result<()> {
        match imp::remove_file(self, name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Renames `from` to `to` inside this directory (replacing `to`).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        imp::rename(self, from, to)
    }

    /// Hard-links `name` to `target` (a path outside); fails if `target` exists.
    pub fn link_out(&self, name: &str, target: &Path) -> io::Result<()> {
        imp::link_out(self, name, target)
    }

    /// Renames `name` to `target` (a path outside).
    pub fn rename_out(&self, name: &str, target: &Path) -> io::Result<()> {
        imp::rename_out(self, name, target)
    }

    /// The names in this directory (without `.` and `..`).
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        imp::names(self)
    }

    /// Deletes the directory `name` and everything in it, never following a link: links are
    /// removed, not traversed, and each directory below is entered by handle. A missing one
    /// is fine.
    pub fn remove_tree(&self, name: &str) -> io::Result<()> {
        match imp::remove_tree(self, name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Removes the subdirectory `name` if it is empty and still the directory `child` is
    /// open on (so a folder swapped in under that name is left alone). Returns whether it was
    /// removed.
    pub fn remove_child_if_empty(&self, name: &str, child: &Dir) -> io::Result<bool> {
        imp::remove_child_if_empty(self, name, child)
    }
}

#[cfg(unix)]
mod imp {
    use std::ffi::{OsStr, OsString};
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

    use super::{Dir, Entry};
    use crate::store::sys::Access;
    use crate::store::StoreError;

    /// Directories below a tree being removed that are entered at most (a guard against a
    /// planted tree deep enough to exhaust file descriptors).
    const MAX_DEPTH: usize = 32;

    const DIR_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);

    /// Why opening a folder failed. `O_NOFOLLOW | O_DIRECTORY` on a symlink fails with
    /// `ELOOP` or `ENOTDIR` depending on the system; which one it was is looked up only to
    /// word the message (the open already refused it).
    fn dir_error(path: &Path, e: io::Error) -> StoreError {
        match e.raw_os_error() {
            Some(code) if code == libc::ELOOP || code == libc::ENOTDIR => {
                let is_link = std::fs::symlink_metadata(path)
                    .map(|meta| meta.file_type().is_symlink())
                    .unwrap_or(false);
                if is_link {
                    StoreError::Symlink {
                        path: path.to_owned(),
                    }
                } else {
                    StoreError::NotADirectory {
                        path: path.to_owned(),
                    }
                }
            }
            _ => StoreError::io("could not open folder", path, e),
        }
    }

    pub(super) fn open_dir(path: &Path) -> Result<Option<Dir>, StoreError> {
        match rfs::open(path, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Ok(Some(Dir {
                path: path.to_owned(),
                fd,
            })),
            Err(e) if e == rustix::io::Errno::NOENT => Ok(None),
            Err(e) => Err(dir_error(path, e.into())),
        }
    }

    pub(super) fn open_private(
        parent: &Dir,
        name: &str,
        create: bool,
    ) -> Result<Option<Dir>, StoreError> {
        let path = parent.join(name);
        if create {
            match rfs::mkdirat(&parent.fd, name, Mode::RWXU) {
                Ok(()) => {}
                Err(e) if e == rustix::io::Errno::EXIST => {}
                Err(e) => return Err(StoreError::io("could not create folder", &path, e.into())),
            }
        }
        let fd = match rfs::openat(&parent.fd, name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) if e == rustix::io::Errno::NOENT && !create => return Ok(None),
            Err(e) => return Err(dir_error(&path, e.into())),
        };
        check_private(&path, &fd)?;
        Ok(Some(Dir { path, fd }))
    }

    /// The checks of [`super::open_private`], on the open handle.
    fn check_private(path: &Path, fd: &OwnedFd) -> Result<(), StoreError> {
        let stat = rfs::fstat(fd).map_err(|e| StoreError::io("could not read", path, e.into()))?;
        if FileType::from_raw_mode(stat.st_mode as _) != FileType::Directory {
            return Err(StoreError::NotADirectory {
                path: path.to_owned(),
            });
        }
        let me = rustix::process::geteuid().as_raw();
        if stat.st_uid != me {
            return Err(StoreError::StagingNotOwned {
                path: path.to_owned(),
                owner: stat.st_uid,
            });
        }
        let mode = stat.st_mode as u32 & 0o7777;
        if mode & 0o077 != 0 {
            // Ours, but others may enter or write it: make it private again.
            rfs::fchmod(fd, Mode::RWXU).map_err(|e| StoreError::StagingNotPrivate {
                path: path.to_owned(),
                mode,
                source: e.into(),
            })?;
            tracing::warn!(folder = %path.display(), mode = format!("{mode:o}"), "staging folder was open to others; set it back to 0700");
        }
        Ok(())
    }

    pub(super) fn open_file(dir: &Dir, name: &str, access: Access) -> io::Result<File> {
        let flags = match access {
            Access::Read => OFlags::RDONLY,
            Access::WriteCreate => OFlags::RDWR | OFlags::CREATE,
            Access::WriteExisting => OFlags::RDWR,
            Access::AppendCreate => OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE,
        } | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | OFlags::NOCTTY;
        let fd = rfs::openat(&dir.fd, name, flags, Mode::RUSR | Mode::WUSR)?;
        Ok(File::from(fd))
    }

    pub(super) fn entry(dir: &Dir, name: &str) -> io::Result<Option<Entry>> {
        let stat = match rfs::statat(&dir.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(e) if e == rustix::io::Errno::NOENT => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let kind = FileType::from_raw_mode(stat.st_mode as _);
        let modified = u64::try_from(stat.st_mtime)
            .ok()
            .map(|secs| SystemTime::UNIX_EPOCH + Duration::new(secs, stat.st_mtime_nsec as u32));
        Ok(Some(Entry {
            is_symlink: kind == FileType::Symlink,
            is_dir: kind == FileType::Directory,
            is_file: kind == FileType::RegularFile,
            len: stat.st_size as u64,
            modified,
            ours: stat.st_uid == rustix::process::geteuid().as_raw(),
        }))
    }

    pub(super) fn remove_file(dir: &Dir, name: &str) -> io::Result<()> {
        Ok(rfs::unlinkat(&dir.fd, name, AtFlags::empty())?)
    }

    pub(super) fn rename(dir: &Dir, from: &str, to: &str) -> io::Result<()> {
        Ok(rfs::renameat(&dir.fd, from, &dir.fd, to)?)
    }

    pub(super) fn link_out(dir: &Dir, name: &str, target: &Path) -> io::Result<()> {
        Ok(rfs::linkat(
            &dir.fd,
            name,
            rfs::CWD,
            target,
            AtFlags::empty(),
        )?)
    }

    pub(super) fn rename_out(dir: &Dir, name: &str, target: &Path) -> io::Result<()> {
        Ok(rfs::renameat(&dir.fd, name, rfs::CWD, target)?)
    }

    fn names_of(fd: impl AsFd) -> io::Result<Vec<OsString>> {
        let mut names = Vec::new();
        for entry in rfs::Dir::read_from(fd)? {
            let entry = entry?;
            let bytes = entry.file_name().to_bytes();
            if bytes != b"." && bytes != b".." {
                names.push(OsStr::from_bytes(bytes).to_owned());
            }
        }
        Ok(names)
    }

    pub(super) fn names(dir: &Dir) -> io::Result<Vec<OsString>> {
        names_of(&dir.fd)
    }

    pub(super) fn remove_tree(dir: &Dir, name: &str) -> io::Result<()> {
        remove_tree_at(&dir.fd, OsStr::new(name), 0)
    }

    fn remove_tree_at(parent: &OwnedFd, name: &OsStr, depth: usize) -> io::Result<()> {
        // Not a directory (a file, a link): unlink it, whatever it points to.
        match rfs::unlinkat(parent, name, AtFlags::empty()) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::ISDIR || e == rustix::io::Errno::PERM => {}
            Err(e) => return Err(e.into()),
        }
        if depth >= MAX_DEPTH {
            return Err(io::Error::other("folder nested too deeply to remove"));
        }
        let child = rfs::openat(parent, name, DIR_FLAGS, Mode::empty())?;
        for entry in names_of(&child)? {
            remove_tree_at(&child, &entry, depth + 1)?;
        }
        drop(child);
        Ok(rfs::unlinkat(parent, name, AtFlags::REMOVEDIR)?)
    }

    pub(super) fn remove_child_if_empty(dir: &Dir, name: &str, child: &Dir) -> io::Result<bool> {
        let there = match rfs::statat(&dir.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(e) if e == rustix::io::Errno::NOENT => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let open = rfs::fstat(&child.fd)?;
        if (there.st_dev, there.st_ino) != (open.st_dev, open.st_ino) {
            return Ok(false);
        }
        match rfs::unlinkat(&dir.fd, name, AtFlags::REMOVEDIR) {
            Ok(()) => Ok(true),
            Err(e) if e == rustix::io::Errno::NOTEMPTY || e == rustix::io::Errno::EXIST => {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use std::ffi::OsString;
    use std::fs::{self, File};
    use std::io;
    use std::path::Path;

    use super::{Dir, Entry};
    use crate::store::sys::{self, Access};
    use crate::store::StoreError;

    pub(super) fn open_dir(path: &Path) -> Result<Option<Dir>, StoreError> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => Err(StoreError::Symlink {
                path: path.to_owned(),
            }),
            Ok(meta) if !meta.is_dir() => Err(StoreError::NotADirectory {
                path: path.to_owned(),
            }),
            Ok(_) => Ok(Some(Dir {
                path: path.to_owned(),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("could not read", path, e)),
        }
    }

    pub(super) fn open_private(
        parent: &Dir,
        name: &str,
        create: bool,
    ) -> Result<Option<Dir>, StoreError> {
        let path = parent.join(name);
        if create {
            match sys::create_private_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StoreError::io("could not create folder", &path, e)),
            }
        }
        open_dir(&path)
    }

    pub(super) fn open_file(dir: &Dir, name: &str, access: Access) -> io::Result<File> {
        sys::open_nofollow(&dir.join(name), access)
    }

    pub(super) fn entry(dir: &Dir, name: &str) -> io::Result<Option<Entry>> {
        match fs::symlink_metadata(dir.join(name)) {
            Ok(meta) => Ok(Some(Entry {
                is_symlink: meta.file_type().is_symlink(),
                is_dir: meta.is_dir(),
                is_file: meta.is_file(),
                len: meta.len(),
                modified: meta.modified().ok(),
                ours: true,
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) fn remove_file(dir: &Dir, name: &str) -> io::Result<()> {
        fs::remove_file(dir.join(name))
    }

    pub(super) fn rename(dir: &Dir, from: &str, to: &str) -> io::Result<()> {
        fs::rename(dir.join(from), dir.join(to))
    }

    pub(super) fn link_out(dir: &Dir, name: &str, target: &Path) -> io::Result<()> {
        fs::hard_link(dir.join(name), target)
    }

    pub(super) fn rename_out(dir: &Dir, name: &str, target: &Path) -> io::Result<()> {
        fs::rename(dir.join(name), target)
    }

    pub(super) fn names(dir: &Dir) -> io::Result<Vec<OsString>> {
        fs::read_dir(&dir.path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect()
    }

    pub(super) fn remove_tree(dir: &Dir, name: &str) -> io::Result<()> {
        // remove_dir_all does not follow a link in place of the folder or inside it.
        fs::remove_dir_all(dir.join(name))
    }

    pub(super) fn remove_child_if_empty(dir: &Dir, name: &str, _child: &Dir) -> io::Result<bool> {
        match fs::remove_dir(dir.join(name)) {
            Ok(()) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
