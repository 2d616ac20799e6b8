//! Choosing what to send and where to save: native dialogs (`tauri-plugin-dialog`, opened from
//! Rust so the web view needs no dialog permission), summaries of picked or dropped paths, and
//! the test seam for end-to-end tests.
//!
//! **Test seam.** WebDriver cannot drive native dialogs. When `PEERDROP_TEST_PICK` is set
//! (absolute paths separated by the platform's path-list separator, `:` on Unix), the file and
//! folder pickers return those paths instead of opening a dialog. The real "Choose files"
//! button, the real summary code and the real send command still run. The app logs a warning
//! when the seam is active.

use std::path::{Path, PathBuf};

use peerdrop_app_ipc::{Picked, PickedItem};
use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;
use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};

/// Environment variable of the test seam.
pub const TEST_PICK_ENV: &str = "PEERDROP_TEST_PICK";

/// Paths the test seam returns, if it is active.
pub fn test_pick() -> Option<Vec<PathBuf>> {
    let value = std::env::var_os(TEST_PICK_ENV)?;
    let paths: Vec<PathBuf> = std::env::split_paths(&value)
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    (!paths.is_empty()).then_some(paths)
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
pub async fn dialog(app: &AppHandle, kind: PickKind) -> AppResult<Vec<PathBuf>> {
    if kind != PickKind::DownloadDir {
        if let Some(paths) = test_pick() {
            tracing::warn!(
                "{TEST_PICK_ENV} is set: returning {} path(s) instead of a dialog",
                paths.len()
            );
            return Ok(paths);
        }
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

/// Summarises each path (name, file count, total size). Runs on a blocking thread because a
/// large folder takes a while to walk.
pub async fn describe(paths: Vec<PathBuf>) -> AppResult<Picked> {
    tokio::task::spawn_blocking(move || {
        let items = paths
            .iter()
            .map(|p| describe_one(p))
            .collect::<AppResult<Vec<_>>>()?;
        Ok(Picked { items })
    })
    .await
    .map_err(|e| AppError::Platform(format!("could not read the selection: {e}")))?
}

fn describe_one(path: &Path) -> AppResult<PickedItem> {
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
    Ok(PickedItem {
        path: path.display().to_string(),
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
        let picked = describe(vec![file, dir]).await.unwrap();
        assert_eq!(picked.items[0].name, "a.txt");
        assert_eq!((picked.items[0].files, picked.items[0].size), (1, 5));
        assert!(picked.items[1].is_dir);
        assert_eq!((picked.items[1].files, picked.items[1].size), (2, 150));
    }

    #[tokio::test]
    async fn missing_path_is_a_clear_error() {
        let err = describe(vec![PathBuf::from("/definitely/not/here")])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here"), "{err}");
    }
}
