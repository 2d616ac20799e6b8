//! The Tauri commands the UI calls — thin wrappers; the work happens in [`crate::node`],
//! [`crate::transfer`], [`crate::pick`] and [`crate::settings`]. Every command the UI may call
//! is also listed in `build.rs` and granted in the window's capability in `tauri.conf.json`.
//!
//! No command takes a path from the web view. Files to send are named by the handles
//! [`crate::grants::Grants`] gave out for what the person picked, dropped or launched the app
//! with; the download folder changes only through [`pick_download_dir`]'s native dialog; and
//! [`open_folder`] names a kind of folder, not a path.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use peerdrop_app_ipc::{
    FolderToOpen, HistoryEntry, ItemHandle, LaunchRequest, NodeUpdate, Picked, SendTarget,
    SettingsUpdate, SettingsView, Toggle, TrustedDevice,
};
use peerdrop_proto::events::TransferEvent;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_opener::OpenerExt;

use crate::error::{AppError, AppResult};
use crate::pick::{self, PickKind};
use crate::server::preferred_builtin_url;
use crate::{node, transfer, OfferAnswer, Shared};

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

/// Validates and stores the server and the device name; reconnects when either changed. The
/// download folder is not part of [`SettingsUpdate`] (see [`pick_download_dir`]).
#[tauri::command]
pub async fn save_settings(
    settings: SettingsUpdate,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<SettingsView> {
    if shared.settings.save(settings)? {
        tracing::info!("settings changed: reconnecting");
        shared.restart.notify_one();
    }
    Ok(settings_view(&shared).await)
}

/// Turns one on/off setting on or off, right away, and does what it means: "Start at login"
/// writes or removes the login entry (and stays off if that fails), "Receive in background"
/// ticks the tray menu's item too; "Notifications" is read before each notification.
#[tauri::command]
pub async fn set_toggle(
    toggle: Toggle,
    on: bool,
    #[cfg_attr(mobile, allow(unused_variables))] app: AppHandle,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<SettingsView> {
    match toggle {
        Toggle::StartAtLogin => crate::autostart::apply(on)?,
        #[cfg(desktop)]
        Toggle::ReceiveInBackground => crate::background::mirror_in_tray(&app, on),
        #[cfg(mobile)]
        Toggle::ReceiveInBackground => {}
        Toggle::Notifications => {}
    }
    shared.settings.set_toggle(toggle, on)?;
    tracing::info!(?toggle, on, "setting changed");
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

/// Accepts or declines the offer shown in the dialog; `always` (with accept: "Always accept
/// from …" was ticked) trusts the sender's certificate from now on (never a changed one).
#[tauri::command]
pub async fn respond_incoming(
    accept: bool,
    always: Option<bool>,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<()> {
    let answer = shared.pending_answer.lock().expect("answer lock").take();
    let answer = answer.ok_or(AppError::NoPendingOffer)?;
    let always = accept && always.unwrap_or(false);
    tracing::info!(accept, always, "user answered the offer");
    answer
        .send(OfferAnswer { accept, always })
        .map_err(|_| AppError::NoPendingOffer)
}

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

/// Native dialog: files to send, registered and returned by handle.
#[tauri::command]
pub async fn pick_files(app: AppHandle, shared: State<'_, Arc<Shared>>) -> AppResult<Picked> {
    pick::describe(&shared.grants, pick::dialog(&app, PickKind::Files).await?).await
}

/// Native dialog: a folder to send, registered and returned by handle.
#[tauri::command]
pub async fn pick_folder(app: AppHandle, shared: State<'_, Arc<Shared>>) -> AppResult<Picked> {
    pick::describe(&shared.grants, pick::dialog(&app, PickKind::Folder).await?).await
}

/// Native dialog: the download folder. The folder the person chose is stored right here, on
/// the Rust side — the only way the download folder changes. Returns the updated settings, or
/// `None` when the dialog was dismissed.
#[tauri::command]
pub async fn pick_download_dir(
    app: AppHandle,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<Option<SettingsView>> {
    let picked = pick::dialog(&app, PickKind::DownloadDir).await?;
    let Some(dir) = picked.into_iter().next() else {
        return Ok(None);
    };
    shared.settings.set_download_dir(&dir)?;
    tracing::info!(dir = %dir.display(), "download folder chosen in the dialog");
    Ok(Some(settings_view(&shared).await))
}

/// Sends the items behind `items` (handles from a pick, a drop or a launch); progress and
/// outcome arrive on `on_event`. A handle the app never gave out fails the command with
/// [`AppError::UnknownItem`] before anything is read.
#[tauri::command]
pub async fn send_files(
    target: SendTarget,
    items: Vec<ItemHandle>,
    on_event: Channel<TransferEvent>,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<()> {
    transfer::send(Arc::clone(&shared), target, items, on_event).await
}

/// Sends a text (or link) to `target`; events arrive on `on_event` as for [`send_files`].
#[tauri::command]
pub async fn send_text(
    target: SendTarget,
    text: String,
    on_event: Channel<TransferEvent>,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<()> {
    transfer::send_text(Arc::clone(&shared), target, text, on_event).await
}

/// Cancels the running send (the receiver is told).
#[tauri::command]
pub async fn cancel_send(shared: State<'_, Arc<Shared>>) -> AppResult<()> {
    if let Some(cancel) = shared.send_cancel.lock().expect("send lock").as_ref() {
        cancel.cancel();
    }
    Ok(())
}

/// Opens a received web link in the default browser. The page's word is not taken: the text
/// must be exactly one `http(s)://` link ([`peerdrop_proto::web_link::web_link`]), so a hostile
/// text (`file:`, `javascript:`, a user name before the host) is never opened.
#[tauri::command]
pub async fn open_link(link: String, app: AppHandle) -> AppResult<()> {
    let url = peerdrop_proto::web_link::web_link(&link)
        .ok_or_else(|| AppError::Invalid("only a web link (http or https) can be opened".into()))?;
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(|e| AppError::Platform(format!("could not open the link: {e}")))
}

/// Opens the download folder, or where the last receive saved its files, in the file manager.
/// Only folders the Rust side chose are opened — never a received file, never a path from the
/// page.
#[tauri::command]
pub async fn open_folder(
    folder: FolderToOpen,
    app: AppHandle,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<()> {
    let dir = folder_to_open(&shared, folder)?;
    app.opener()
        .open_path(dir.display().to_string(), None::<&str>)
        .map_err(|e| AppError::Platform(format!("could not open {}: {e}", dir.display())))
}

/// The folder [`open_folder`] shows: the last receive's (while it is still a folder), else
/// the download folder.
pub fn folder_to_open(shared: &Shared, folder: FolderToOpen) -> AppResult<std::path::PathBuf> {
    if folder == FolderToOpen::LastReceived {
        let last = shared.last_received.lock().expect("received lock").clone();
        if let Some(dir) = last.filter(|d| d.is_dir()) {
            return Ok(dir);
        }
    }
    shared.settings.download_dir()
}

/// Files and links handed to the app from outside its window (command line, second launch,
/// share sheet) since the last call, oldest first. The UI calls it when it starts and on every
/// `peerdrop-launch` event.
#[tauri::command]
pub async fn take_launch_requests(shared: State<'_, Arc<Shared>>) -> AppResult<Vec<LaunchRequest>> {
    Ok(shared.launches.take())
}

/// The devices whose offers are accepted without asking (Settings lists them).
#[tauri::command]
pub async fn trusted_devices(shared: State<'_, Arc<Shared>>) -> AppResult<Vec<TrustedDevice>> {
    Ok(shared.trusted.list())
}

/// Stops accepting the device with `fingerprint` without asking.
#[tauri::command]
pub async fn forget_trusted_device(
    fingerprint: String,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<Vec<TrustedDevice>> {
    tracing::info!(%fingerprint, "device no longer trusted");
    shared.trusted.forget(&fingerprint)?;
    Ok(shared.trusted.list())
}

/// The transfer history, newest first.
#[tauri::command]
pub async fn history(shared: State<'_, Arc<Shared>>) -> AppResult<Vec<HistoryEntry>> {
    Ok(shared.history.list())
}

/// Forgets the whole history (the person pressed "Clear history" and confirmed).
#[tauri::command]
pub async fn clear_history(shared: State<'_, Arc<Shared>>) -> AppResult<()> {
    tracing::info!("history cleared");
    shared.history.clear()
}

/// Shows what a received history entry saved, selected in the file manager. The page names
/// the entry, not a path. It is shown rather than opened on purpose: opening a received file
/// runs whatever its sender named it as (a `.desktop` launcher, a script).
#[tauri::command]
pub async fn open_history_item(
    id: u64,
    app: AppHandle,
    shared: State<'_, Arc<Shared>>,
) -> AppResult<()> {
    let entry = shared
        .history
        .get(id)
        .ok_or_else(|| AppError::Invalid("that transfer is no longer in the history".into()))?;
    let location = crate::history::saved_location(&entry)?;
    let opened = if location.is_dir() && entry.saved_item.is_none() {
        app.opener()
            .open_path(location.display().to_string(), None::<&str>)
    } else {
        app.opener().reveal_item_in_dir(&location)
    };
    opened.map_err(|e| AppError::Platform(format!("could not show {}: {e}", location.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Defaults, SettingsStore};

    fn defaults(dir: &std::path::Path) -> Defaults {
        Defaults {
            device_name: "Ana's laptop".into(),
            download_dir: dir.join("Downloads"),
            env_server: None,
        }
    }

    #[test]
    fn a_webview_cannot_move_the_download_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("config");
        let shared = Shared::new(SettingsStore::load(&config, defaults(tmp.path())), None);
        // The person chose a folder in the dialog (what `pick_download_dir` stores).
        let chosen = tmp.path().join("Received");
        std::fs::create_dir(&chosen).unwrap();
        shared.settings.set_download_dir(&chosen).unwrap();

        // A compromised page calls `save_settings` naming a folder of its own. Tauri decodes
        // the `settings` argument as the command's parameter type: it is refused outright.
        let autostart = tmp.path().join(".config").join("autostart");
        let args = serde_json::json!({ "settings": {
            "server_url": "",
            "device_name": "Mallory",
            "download_dir": autostart.display().to_string(),
        }});
        let refused = serde_json::from_value::<SettingsUpdate>(args["settings"].clone());
        assert!(
            refused.is_err(),
            "a download_dir from the page was accepted"
        );

        // Whatever the page does send is saved without touching the folder.
        shared
            .settings
            .save(SettingsUpdate {
                device_name: "Mallory".into(),
                ..SettingsUpdate::default()
            })
            .unwrap();
        let expected = chosen.canonicalize().unwrap();
        assert_eq!(shared.settings.download_dir().unwrap(), expected);
        let reloaded = SettingsStore::load(&config, defaults(tmp.path()));
        assert_eq!(reloaded.download_dir().unwrap(), expected, "on disk too");
        assert_eq!(reloaded.effective().device_name, "Mallory");
        assert!(!autostart.exists(), "the page's folder was created");

        // Nor can "Open folder" be pointed anywhere: it takes a kind of folder, not a path.
        assert!(serde_json::from_value::<FolderToOpen>(serde_json::json!("/home")).is_err());
        assert_eq!(
            folder_to_open(&shared, FolderToOpen::LastReceived).unwrap(),
            expected
        );
        let received = tmp.path().join("Received").join("album");
        std::fs::create_dir_all(&received).unwrap();
        *shared.last_received.lock().unwrap() = Some(received.clone());
        assert_eq!(
            folder_to_open(&shared, FolderToOpen::LastReceived).unwrap(),
            received
        );
        assert_eq!(
            folder_to_open(&shared, FolderToOpen::Downloads).unwrap(),
            expected
        );
    }
}
