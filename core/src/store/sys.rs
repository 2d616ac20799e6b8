//! The few platform-specific file-system calls the store needs, behind one interface.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

use super::dir::Dir;

/// How a part or source file is opened.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Access {
    /// Read only.
    Read,
    /// Read and write, creating the file if missing.
    WriteCreate,
    /// Read and write an existing file.
    WriteExisting,
    /// Append only, creating the file if missing (logs).
    AppendCreate,
}

/// Opens `path` without following a symlink at its last component: on Windows
/// `FILE_FLAG_OPEN_REPARSE_POINT` opens the link itself, which the caller then refuses after
/// looking at the handle's metadata. (Unix opens staging files relative to the staging
/// folder's handle with `O_NOFOLLOW` instead, in [`super::dir`].)
#[cfg(not(unix))]
pub(crate) fn open_nofollow(path: &Path, access: Access) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    match access {
        Access::Read => {}
        Access::WriteCreate => {
            options.write(true).create(true);
        }
        Access::WriteExisting => {
            options.write(true);
        }
        Access::AppendCreate => {
            options.append(true).create(true);
        }
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    options.open(path)
}

/// Opens a file the user picked for sending. On Unix `O_NONBLOCK` keeps a FIFO swapped in for
/// a regular file from hanging the open (it has no effect on regular files); the caller then
/// checks the handle is a regular file.
pub(crate) fn open_source(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Fills all of `buf` from `offset` without moving any shared cursor.
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(buf, offset)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let mut read = 0usize;
        while read < buf.len() {
            match file.seek_read(&mut buf[read..], offset + read as u64) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                Ok(n) => read += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (file, buf, offset);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Writes all of `buf` at `offset` without moving any shared cursor.
pub(crate) fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.write_all_at(buf, offset)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let mut written = 0usize;
        while written < buf.len() {
            match file.seek_write(&buf[written..], offset + written as u64) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (file, buf, offset);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Creates one directory (staging holds half-received data). Unix creates staging folders
/// through [`super::dir`] instead (0700, relative to an open handle); this is the fallback.
#[cfg(not(unix))]
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new().create(path)
}

/// Whether a `hard_link` failure means "this file system has no hard links" (FAT, exFAT, some
/// FUSE and Android storage), as opposed to a real error or a taken name.
pub(crate) fn links_unsupported(err: &io::Error) -> bool {
    if matches!(
        err.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
    ) {
        return true;
    }
    #[cfg(unix)]
    {
        matches!(err.raw_os_error(), Some(code) if code == libc::EOPNOTSUPP || code == libc::ENOTSUP || code == libc::EPERM)
    }
    #[cfg(windows)]
    {
        // ERROR_INVALID_FUNCTION, ERROR_NOT_SUPPORTED
        matches!(err.raw_os_error(), Some(1) | Some(50))
    }
    #[cfg(not(any(unix, windows)))]
    {
        false
    }
}

/// Moves `name` out of the open staging folder `from` to `to` unless `to` exists; never
/// replaces anything. Fails with `ErrorKind::AlreadyExists` when the name is taken.
///
/// `hard_link` (`linkat` from the folder's handle) is atomic and refuses an existing target,
/// symlink or not; the part is then unlinked. Where links are unsupported, a checked `rename`
/// is the fallback (the check and the rename are separate steps there, so that path is best
/// effort against local races).
pub(crate) fn move_out_no_replace(from: &Dir, name: &str, to: &Path) -> io::Result<()> {
    move_out_no_replace_with(from, name, to, |dir, name, to| dir.link_out(name, to))
}

/// [`move_out_no_replace`] with the link primitive injectable, so the fallback is testable.
pub(crate) fn move_out_no_replace_with(
    from: &Dir,
    name: &str,
    to: &Path,
    link: impl FnOnce(&Dir, &str, &Path) -> io::Result<()>,
) -> io::Result<()> {
    match link(from, name, to) {
        Ok(()) => {
            if let Err(e) = from.remove_file(name) {
                // The file is complete at `to`; the stray part goes with the staging directory.
                tracing::warn!(part = %from.join(name).display(), error = %e, "could not remove part after linking");
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(e) if links_unsupported(&e) => {
            tracing::debug!(target = %to.display(), error = %e, "hard links unsupported; using checked rename");
            match fs::symlink_metadata(to) {
                Ok(_) => Err(io::Error::from(io::ErrorKind::AlreadyExists)),
                Err(m) if m.kind() == io::ErrorKind::NotFound => from.rename_out(name, to),
                Err(m) => Err(m),
            }
        }
        Err(e) => Err(e),
    }
}

/// Asks the kernel to start writing `file`'s dirty pages to disk now, without waiting for
/// them. A receiver calls it every few megabytes so that the fsync at its next checkpoint finds
/// little left to flush: a 64 MiB checkpoint otherwise blocked the disk thread ≈ 25–30 ms, long
/// enough to stall the pipeline behind it. Linux only (`sync_file_range`); elsewhere, and on
/// file systems that refuse it, a no-op: the checkpoint's fsync still makes the data durable.
pub(crate) fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: a valid open descriptor; offset 0 and length 0 mean "the whole file", and
        // SYNC_FILE_RANGE_WRITE only starts write-out of pages that are dirty.
        let done =
            unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
        if done != 0 {
            tracing::debug!(
                "sync_file_range refused: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}
