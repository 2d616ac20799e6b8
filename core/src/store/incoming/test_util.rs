//! Helpers shared by the incoming store's unit tests.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::store::names::{sanitize_relative_path, Platform, SafePath};

use super::IncomingTransfer;

pub(super) fn safe(raw: &str) -> SafePath {
    sanitize_relative_path(raw, Platform::current()).unwrap()
}

/// Every path under `root`, relative, `/`-joined, without following links.
pub(super) fn tree(root: &Path) -> BTreeSet<String> {
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

pub(super) fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Receives `data` as file `index` and finalizes it as `path`.
pub(super) fn receive(t: &mut IncomingTransfer, index: u32, path: &str, data: &[u8]) -> PathBuf {
    if data.is_empty() {
        t.create_empty(index).unwrap();
    } else {
        t.write_at(index, 0, data).unwrap();
    }
    assert_eq!(t.hash_part(index).unwrap(), blake3::hash(data));
    t.finalize(index, &safe(path)).unwrap()
}

/// A temp dir with `dest/` and `outside/` (what must never be touched).
#[cfg(unix)]
pub(super) fn sandbox() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    let outside = dir.path().join("outside");
    fs::create_dir(&dest).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("keep.txt"), b"precious").unwrap();
    (dir, dest, outside)
}

/// Fails unless `outside` still holds only `keep.txt`, unchanged.
#[cfg(unix)]
pub(super) fn assert_outside_untouched(outside: &Path) {
    assert_eq!(tree(outside), set(&["keep.txt"]));
    assert_eq!(fs::read(outside.join("keep.txt")).unwrap(), b"precious");
}

/// Sets the modification time of `path` 90 days back.
pub(super) fn make_old(path: &Path) {
    let old = SystemTime::now() - Duration::from_secs(90 * 24 * 3600);
    File::open(path).unwrap().set_modified(old).unwrap();
}
