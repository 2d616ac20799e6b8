//! Choosing what to send and where to save: native dialogs (`tauri-plugin-dialog`, opened from
//! Rust so the web view needs no dialog permission), summaries of picked, dropped or launched
//! paths — each registered in [`Grants`] so the UI only ever holds a handle — and the test
//! seam for end-to-end tests.
//!
//! **Test seam (debug builds only).** WebDriver cannot drive native dialogs. In a debug build
//! (`cfg(debug_assertions)`, what `scripts/app-e2e.sh` tests), when `PEERDROP_TEST_PICK` is set
//! (absolute paths separated by the platform's path-list separator, `:` on Unix) the file and
//! folder pickers return those paths instead of opening a dialog, and `PEERDROP_TEST_PICK_DIR`
//! (one absolute path) stands in for the download-folder dialog. The seam replaces only the
//! dialog itself: what it returns goes through the same registration ([`describe`], handles)
//! and the same download-folder check as a real choice, and the real buttons and commands run.
//! Release builds do not contain it: the variables are never read there. The app logs a
//! warning at start when the seam is active.

use std::path::{Path, PathBuf};

use peerdrop_app_ipc::{Picked, PickedItem};
use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::DialogExt;
use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};
use crate::grants::Grants;

/// Environment variable of the file/folder test seam (debug builds only).
pub const TEST_PICK_ENV: &str = "PEERDROP_TEST_PICK";

/// Environment variable of the download-folder test seam (debug builds only).
pub const TEST_PICK_DIR_ENV: &str = "PEERDROP_TEST_PICK_DIR";

/// Paths the test seam returns for `kind`, if it is active (never in a release build).
pub fn test_pick(kind: PickKind) -> Option<Vec<PathBuf>> {
    #[cfg(debug_assertions)]
    {
        let var = match kind {
            PickKind::Files | PickKind::Folder => TEST_PICK_ENV,
            PickKind::DownloadDir => TEST_PICK_DIR_ENV,
        };
        let value = std::env::var_os(var)?;
        let paths: Vec<PathBuf> = std::env::split_paths(&value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        (!paths.is_empty()).then_some(paths)
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = kind;
        None
    }
}

/// What a dialog should pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PickKind {
    /// One or more files to send.
    Files,
    /// One folder to send.
    Folder,
    /// The download folder.
    DownloadDir,
}

/// Opens the native dialog and waits for the person's choice (empty when dismissed).
pub async fn dialog<R: Runtime>(app: &AppHandle<R>, kind: PickKind) -> AppResult<Vec<PathBuf>> {
    if let Some(paths) = test_pick(kind) {
        tracing::warn!(
            ?kind,
            "test seam: returning {} path(s) instead of a dialog",
            paths.len()
        );
        return Ok(paths);
    }
    let (tx, rx) = oneshot::channel();
    let builder = app.dialog().file();
    match kind {
        PickKind::Files => builder
            .set_title("Choose files to send")
            .pick_files(move |picked| {
                let _ = tx.send(picked.unwrap_or_default());
            }),
        PickKind::Folder => {
            builder
                .set_title("Choose a folder to send")
                .pick_folder(move |picked| {
                    let _ = tx.send(picked.into_iter().collect());
                })
        }
        PickKind::DownloadDir => {
            builder
                .set_title("Save received files in")
                .pick_folder(move |picked| {
                    let _ = tx.send(picked.into_iter().collect());
                })
        }
    }
    let picked = rx
        .await
        .map_err(|_| AppError::Platform("the dialog closed unexpectedly".into()))?;
    picked
        .into_iter()
        .map(|p| {
            p.into_path()
                .map_err(|e| AppError::Platform(format!("unusable path: {e}")))
        })
        .collect()
}

/// Summarises each path (name, file count, total size) and registers it in `grants`: the
/// answer carries handles, never paths. Walking runs on a blocking thread because a large
/// folder takes a while. Fails on the first path that cannot be read.
pub async fn describe(grants: &Grants, paths: Vec<PathBuf>) -> AppResult<Picked> {
    let summaries = tokio::task::spawn_blocking(move || {
        paths
            .iter()
            .map(|p| summarise(p))
            .collect::<AppResult<Vec<_>>>()
    })
    .await
    .map_err(|e| AppError::Platform(format!("could not read the selection: {e}")))??;
    let items = summaries
        .into_iter()
        .map(|s| PickedItem {
            handle: grants.grant(&s.path),
            name: s.name,
            is_dir: s.is_dir,
            files: s.files,
            size: s.size,
        })
        .collect();
    Ok(Picked { items })
}

/// [`describe`] for each path on its own, so one unreadable path does not lose the others:
/// the items that could be read (a path given twice is listed once), and one line per path
/// that could not. For drops and launches, where nothing was chosen in a dialog of ours.
pub async fn describe_each(grants: &Grants, paths: Vec<PathBuf>) -> (Vec<PickedItem>, Vec<String>) {
    let mut items: Vec<PickedItem> = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match describe(grants, vec![path]).await {
            Ok(picked) => {
                for item in picked.items {
                    if !items.iter().any(|i| i.handle == item.handle) {
                        items.push(item);
                    }
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    (items, problems)
}

/// One path, summarised, before it is registered.
struct Summary {
    path: PathBuf,
    name: String,
    is_dir: bool,
    files: u64,
    size: u64,
}

fn summarise(path: &Path) -> AppResult<Summary> {
    let meta = std::fs::metadata(path)
        .map_err(|e| AppError::io(format!("cannot read {}", path.display()), e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let (files, size) = if meta.is_dir() {
        walk(path)
    } else {
        (1, meta.len())
    };
    Ok(Summary {
        path: path.to_path_buf(),
        name,
        is_dir: meta.is_dir(),
        files,
        size,
    })
}

/// Counts regular files and bytes under `dir`, not following symbolic links (the engine does
/// not send them either). Unreadable entries are skipped here; the send reports them.
fn walk(dir: &Path) -> (u64, u64) {
    let mut stack = vec![dir.to_path_buf()];
    let (mut files, mut bytes) = (0, 0);
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    (files, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn describes_files_and_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a.txt");
        std::fs::write(&file, b"hello").unwrap();
        let dir = tmp.path().join("photos");
        std::fs::create_dir_all(dir.join("2024")).unwrap();
        std::fs::write(dir.join("x.jpg"), vec![0u8; 100]).unwrap();
        std::fs::write(dir.join("2024/y.jpg"), vec![0u8; 50]).unwrap();
        let grants = Grants::default();
        let picked = describe(&grants, vec![file.clone(), dir.clone()])
            .await
            .unwrap();
        assert_eq!(picked.items[0].name, "a.txt");
        assert_eq!((picked.items[0].files, picked.items[0].size), (1, 5));
        assert!(picked.items[1].is_dir);
        assert_eq!((picked.items[1].files, picked.items[1].size), (2, 150));
        let handles: Vec<_> = picked.items.iter().map(|i| i.handle.clone()).collect();
        assert_eq!(grants.resolve(&handles).unwrap(), [file, dir]);
        // What the UI sees names no path.
        let json = serde_json::to_string(&picked).unwrap();
        assert!(!json.contains(&tmp.path().display().to_string()), "{json}");
    }

    #[tokio::test]
    async fn missing_path_is_a_clear_error() {
        let grants = Grants::default();
        let err = describe(&grants, vec![PathBuf::from("/definitely/not/here")])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here"), "{err}");
        assert!(grants.is_empty(), "nothing registered for a failed pick");
    }
}
