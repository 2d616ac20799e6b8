//! [`Grants`]: the files and folders the person handed to the app, by opaque handle.
//!
//! The web view is the least trusted part of the app: it renders text other devices chose
//! (names, file names) and a bug there must not become "read any file" or "write anywhere".
//! So the UI never hands the Rust side a path. Paths enter only where the person acts
//! outside the page:
//!
//! - the native dialogs the Rust side opens (`pick_files`, `pick_folder`; `pick_download_dir`
//!   sets the download folder directly and grants nothing),
//! - a drop on the window, taken from the window's own drag-and-drop event on the Rust side
//!   (`tauri::WindowEvent::DragDrop`), not from the page,
//! - a launch from outside the window (command line, second launch, "Open with", "Send to",
//!   the Android share sheet).
//!
//! Each such path is registered here under a random [`ItemHandle`] (UUID v4); the UI gets
//! the handle with a display name, size and kind, and sends handles back. A handle that was
//! never given out — a path typed into a handle's place, a guess, a handle from an earlier run
//! — is [`AppError::UnknownItem`], and nothing is opened.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use peerdrop_app_ipc::ItemHandle;

use crate::error::{AppError, AppResult};

/// Registered paths, both ways (a path picked twice keeps its handle, so the UI's selection
/// does not list it twice).
#[derive(Default)]
pub struct Grants {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_handle: HashMap<ItemHandle, PathBuf>,
    by_path: HashMap<PathBuf, ItemHandle>,
}

impl Grants {
    /// Registers `path` (as given by a dialog, a drop or a launch) and returns its handle; the
    /// same handle as before when it was registered already.
    pub fn grant(&self, path: &Path) -> ItemHandle {
        let mut inner = self.inner.lock().expect("grants lock");
        if let Some(handle) = inner.by_path.get(path) {
            return handle.clone();
        }
        let handle = ItemHandle(uuid::Uuid::new_v4().hyphenated().to_string());
        inner.by_handle.insert(handle.clone(), path.to_path_buf());
        inner.by_path.insert(path.to_path_buf(), handle.clone());
        handle
    }

    /// The paths behind `handles`, in order; the first handle that was never given out fails
    /// the whole call (nothing is half-resolved).
    pub fn resolve(&self, handles: &[ItemHandle]) -> AppResult<Vec<PathBuf>> {
        let inner = self.inner.lock().expect("grants lock");
        handles
            .iter()
            .map(|h| {
                inner
                    .by_handle
                    .get(h)
                    .cloned()
                    .ok_or_else(|| AppError::UnknownItem {
                        handle: shorten(h.as_str()),
                    })
            })
            .collect()
    }

    /// How many paths are registered.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("grants lock").by_handle.len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What an error message shows of a refused handle: enough to tell it apart, never a whole
/// (possibly long, possibly path-like) string the web view made up.
fn shorten(handle: &str) -> String {
    const SHOWN: usize = 40;
    let mut shown: String = handle
        .chars()
        .take(SHOWN)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if handle.chars().count() > SHOWN {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granted_paths_resolve_and_nothing_else_does() {
        let grants = Grants::default();
        let a = grants.grant(Path::new("/home/ana/photos"));
        let b = grants.grant(Path::new("/home/ana/notes.txt"));
        assert_ne!(a, b);
        assert_eq!(
            grants.grant(Path::new("/home/ana/photos")),
            a,
            "same path, same handle"
        );
        assert_eq!(
            grants.resolve(&[b.clone(), a.clone()]).unwrap(),
            [
                PathBuf::from("/home/ana/notes.txt"),
                PathBuf::from("/home/ana/photos")
            ]
        );
        assert_eq!(grants.len(), 2);
        // A path in a handle's place, a fresh UUID, an empty string: none was given out.
        for made_up in ["/home/ana/photos", &uuid::Uuid::new_v4().to_string(), ""] {
            let err = grants
                .resolve(&[a.clone(), ItemHandle(made_up.to_string())])
                .unwrap_err();
            assert!(matches!(err, AppError::UnknownItem { .. }), "{err:?}");
        }
    }

    #[test]
    fn a_refused_handle_is_shown_short_and_printable() {
        let grants = Grants::default();
        let long = format!("/etc/{}\n", "x".repeat(200));
        let err = grants.resolve(&[ItemHandle(long)]).unwrap_err().to_string();
        assert!(err.contains('…') && !err.contains('\n'), "{err}");
        assert!(err.len() < 200, "{err}");
    }
}
