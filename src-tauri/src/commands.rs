//! The Tauri commands the UI calls — thin wrappers; the work happens in [`crate::node`],
//! [`crate::transfer`], [`crate::pick`] and [`crate::settings`]. Every command the UI may call
//! is also listed in `build.rs` and granted in the window's capability in `tauri.conf.json`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use peerdrop_app_ipc::{LaunchRequest, NodeUpdate, Picked, SendTarget, Settings, SettingsView};
use peerdrop_proto::events::TransferEvent;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_opener::OpenerExt;

use crate::error::{AppError, AppResult};
use crate::pick::{self, PickKind};
use crate::server::preferred_builtin_url;
use crate::{node, transfer, Shared};

async fn settings_view(shared: &Shared) -> SettingsView {
    let builtin = shared
        .builtin
        .url()
        .await
        .unwrap_or_else(preferred_builtin_url);
    shared.settings.view(&builtin)
}

/// Current settings, with defaults filled in.
#[tauri::command]
pub async fn get_settings(shared: State<'_, Arc<Shared>>) -> AppResult<SettingsView> {
    Ok(settings_view(&shared).await)
}

/// Validates and stores settings; reconnects when the server or the name changed.
#[tauri::command]
pub async fn save_settings(
    settings: Settings,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<SettingsView> {
    if shared.settings.save(settings)? {
        tracing::info!("settings changed: reconnecting");
        shared.restart.notify_one();
    }
    Ok(settings_view(&shared).await)
}

/// Attaches the UI's channel and starts the node supervisor (once per app run).
#[tauri::command]
pub async fn start_node(
    on_update: Channel<NodeUpdate>,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<()> {
    shared.hub.attach(on_update);
    if !shared.started.swap(true, Ordering::SeqCst) {
        tauri::async_runtime::spawn(node::supervise(Arc::clone(&shared)));
    }
    Ok(())
}

/// Accepts or declines the offer shown in the dialog.
#[tauri::command]
pub async fn respond_incoming(accept: bool, shared: State<'_, Arc<Shared>>) -> AppResult<()> {
    let answer = shared.pending_answer.lock().expect("answer lock").take();
    let answer = answer.ok_or(AppError::NoPendingOffer)?;
    tracing::info!(accept, "user answered the offer");
    answer.send(accept).map_err(|_| AppError::NoPendingOffer)
}

/// Answers the running send's "identity changed" warning: `send_anyway` goes on, anything
/// else ends the send with nothing sent.
#[tauri::command]
pub async fn answer_changed_identity(
    send_anyway: bool,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<()> {
    let answer = shared
        .changed_identity_answer
        .lock()
        .expect("answer lock")
        .take()
        .ok_or(AppError::NoChangedIdentityQuestion)?;
    tracing::info!(send_anyway, "user answered the changed-identity warning");
    answer
        .send(send_anyway)
        .map_err(|_| AppError::NoChangedIdentityQuestion)
}

/// Cancels the running receive (the sender is told).
#[tauri::command]
pub async fn cancel_receive(shared: State<'_, Arc<Shared>>) -> AppResult<()> {
    if let Some(cancel) = shared.receive_cancel.lock().expect("receive lock").as_ref() {
        cancel.cancel();
    }
    Ok(())
}

/// Native dialog: files to send.
#[tauri::command]
pub async fn pick_files(app: AppHandle) -> AppResult<Picked> {
    pick::describe(pick::dialog(&app, PickKind::Files).await?).await
}

/// Native dialog: a folder to send.
#[tauri::command]
pub async fn pick_folder(app: AppHandle) -> AppResult<Picked> {
    pick::describe(pick::dialog(&app, PickKind::Folder).await?).await
}

/// Native dialog: the download folder; `None` when dismissed.
#[tauri::command]
pub async fn pick_download_dir(app: AppHandle) -> AppResult<Option<String>> {
    let picked = pick::dialog(&app, PickKind::DownloadDir).await?;
    Ok(picked.into_iter().next().map(|p| p.display().to_string()))
}

/// Summarises paths dropped on the window.
#[tauri::command]
pub async fn describe_paths(paths: Vec<String>) -> AppResult<Picked> {
    pick::describe(paths.into_iter().map(PathBuf::from).collect()).await
}

/// Sends files; progress and outcome arrive on `on_event`.
#[tauri::command]
pub async fn send_files(
    target: SendTarget,
    paths: Vec<String>,
    on_event: Channel<TransferEvent>,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<()> {
    transfer::send(Arc::clone(&shared), target, paths, on_event).await
}

/// Cancels the running send (the receiver is told).
#[tauri::command]
pub async fn cancel_send(shared: State<'_, Arc<Shared>>) -> AppResult<()> {
    if let Some(cancel) = shared.send_cancel.lock().expect("send lock").as_ref() {
        cancel.cancel();
    }
    Ok(())
}

/// Opens `path` (or the download folder) in the file manager. Only folders are opened — never
/// a received file.
#[tauri::command]
pub async fn open_folder(
    path: Option<String>,
    app: AppHandle,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<()> {
    let dir = match path.map(PathBuf::from) {
        Some(p) if p.is_dir() => p,
        _ => shared.settings.download_dir()?,
    };
    app.opener()
        .open_path(dir.display().to_string(), None::<&str>)
        .map_err(|e| AppError::Platform(format!("could not open {}: {e}", dir.display())))
}

/// Files and links handed to the app from outside its window (command line, second launch,
/// share sheet) since the last call, oldest first. The UI calls it when it starts and on every
/// `peerdrop-launch` event.
#[tauri::command]
pub async fn take_launch_requests(shared: State<'_, Arc<Shared>>) -> AppResult<Vec<LaunchRequest>> {
    Ok(shared.launches.take())
}
