//! Files and folders dropped on the window.
//!
//! The paths come from the window's own drag-and-drop event (`tauri::WindowEvent::DragDrop`,
//! which the OS delivers to the Rust side), not from the page: each one is summarised and
//! registered in [`crate::grants::Grants`] here, and the page is told with
//! [`DROP_EVENT`] — names, sizes and handles, no paths. The page still gets Tauri's
//! `tauri://drag-enter`/`drag-leave` for its overlay.

use std::path::PathBuf;
use std::sync::Arc;

use peerdrop_app_ipc::{Dropped, DROP_EVENT};
use tauri::{DragDropEvent, Emitter, Manager, Runtime, Window, WindowEvent};

use crate::{pick, Shared};

/// The app's window-event hook: registers what is dropped on the main window.
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    let WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event else {
        return;
    };
    if window.label() != "main" || paths.is_empty() {
        return;
    }
    let Some(shared) = window.try_state::<Arc<Shared>>() else {
        return;
    };
    let shared = Arc::clone(&shared);
    let window = window.clone();
    let paths = paths.clone();
    tracing::info!(paths = paths.len(), "dropped on the window");
    tauri::async_runtime::spawn(async move {
        let dropped = register(&shared, paths).await;
        if let Err(e) = window.emit(DROP_EVENT, dropped) {
            tracing::warn!(error = %e, "could not tell the UI about a drop");
        }
    });
}

/// Summarises and registers dropped `paths`: what the page is sent.
pub async fn register(shared: &Shared, paths: Vec<PathBuf>) -> Dropped {
    let (items, problems) = pick::describe_each(&shared.grants, paths).await;
    Dropped { items, problems }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Defaults, SettingsStore};

    #[tokio::test]
    async fn a_drop_registers_its_paths_and_reports_the_unreadable_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = Shared::new(
            SettingsStore::load(
                tmp.path(),
                Defaults {
                    device_name: "Ana".into(),
                    download_dir: tmp.path().join("Downloads"),
                    env_server: None,
                },
            ),
            None,
        );
        let file = tmp.path().join("dropped.txt");
        std::fs::write(&file, b"drop").unwrap();
        let missing = tmp.path().join("gone.txt");
        let dropped = register(&shared, vec![file.clone(), missing, file.clone()]).await;
        assert_eq!(dropped.items.len(), 1);
        assert_eq!(dropped.items[0].name, "dropped.txt");
        assert_eq!(dropped.problems.len(), 1);
        assert!(dropped.problems[0].contains("gone.txt"));
        assert_eq!(
            shared
                .grants
                .resolve(&[dropped.items[0].handle.clone()])
                .unwrap(),
            [file]
        );
    }
}
