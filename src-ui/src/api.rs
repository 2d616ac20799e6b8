//! Typed calls to the app's Rust commands (see `src-tauri/src/commands.rs`).
//!
//! Each function is one command; argument names are the camelCase forms Tauri maps onto the
//! command's snake_case parameters.
//!
//! No call carries a path: files are named by the handles the Rust side gave out
//! ([`ItemHandle`]), and the download folder changes only through its native dialog.

use peerdrop_app_ipc::{
    FolderToOpen, HistoryEntry, ItemHandle, LaunchRequest, NodeUpdate, Picked, SendTarget,
    SettingsUpdate, SettingsView, Toggle, TrustedDevice,
};
use peerdrop_proto::events::TransferEvent;
use serde::Serialize;

use crate::tauri::{arg, call, call_with_channel, Channel};

#[derive(Serialize)]
struct NoArgs {}

/// Current settings with their defaults.
pub async fn get_settings() -> Result<SettingsView, String> {
    call("get_settings", &NoArgs {}).await
}

/// Stores the server and the name, and reconnects the node if either changed.
pub async fn save_settings(settings: &SettingsUpdate) -> Result<SettingsView, String> {
    #[derive(Serialize)]
    struct Args<'a> {
        settings: &'a SettingsUpdate,
    }
    call("save_settings", &Args { settings }).await
}

/// Turns one on/off setting on or off right away; returns the settings as stored.
pub async fn set_toggle(toggle: Toggle, on: bool) -> Result<SettingsView, String> {
    #[derive(Serialize)]
    struct Args {
        toggle: Toggle,
        on: bool,
    }
    call("set_toggle", &Args { toggle, on }).await
}

/// Registers this device on the signaling server (or re-attaches after a reload); status,
/// code, nearby devices and incoming transfers then arrive on `on_update`.
pub async fn start_node(on_update: impl FnMut(NodeUpdate) + 'static) -> Result<(), String> {
    let channel = Channel::new(on_update)?;
    call_with_channel("start_node", &[("onUpdate", channel.js().clone())]).await
}

/// Answers the pending incoming offer; `always` also trusts the sender from now on.
pub async fn respond_incoming(accept: bool, always: bool) -> Result<(), String> {
    #[derive(Serialize)]
    struct Args {
        accept: bool,
        always: bool,
    }
    call("respond_incoming", &Args { accept, always }).await
}

/// The devices whose offers are accepted without asking.
pub async fn trusted_devices() -> Result<Vec<TrustedDevice>, String> {
    call("trusted_devices", &NoArgs {}).await
}

/// Stops trusting the device with `fingerprint`; returns the list left.
pub async fn forget_trusted_device(fingerprint: &str) -> Result<Vec<TrustedDevice>, String> {
    #[derive(Serialize)]
    struct Args<'a> {
        fingerprint: &'a str,
    }
    call("forget_trusted_device", &Args { fingerprint }).await
}

/// Stops the running receive.
pub async fn cancel_receive() -> Result<(), String> {
    call("cancel_receive", &NoArgs {}).await
}

/// Opens the native file picker (several files).
pub async fn pick_files() -> Result<Picked, String> {
    call("pick_files", &NoArgs {}).await
}

/// Opens the native folder picker.
pub async fn pick_folder() -> Result<Picked, String> {
    call("pick_folder", &NoArgs {}).await
}

/// Opens the native folder picker for the download folder; the Rust side stores the choice
/// and returns the updated settings, `None` when dismissed.
pub async fn pick_download_dir() -> Result<Option<SettingsView>, String> {
    call("pick_download_dir", &NoArgs {}).await
}

/// Sends the picked items (by handle) to `target`; resolves when the transfer ended (its
/// outcome arrives as events).
pub async fn send_files(
    target: &SendTarget,
    items: &[ItemHandle],
    on_event: impl FnMut(TransferEvent) + 'static,
) -> Result<(), String> {
    let channel = Channel::new(on_event)?;
    call_with_channel(
        "send_files",
        &[
            ("target", arg(target)?),
            ("items", arg(&items)?),
            ("onEvent", channel.js().clone()),
        ],
    )
    .await
}

/// Sends `text` to `target`, streaming the transfer's events to `on_event`.
pub async fn send_text(
    target: &SendTarget,
    text: &str,
    on_event: impl FnMut(TransferEvent) + 'static,
) -> Result<(), String> {
    let channel = Channel::new(on_event)?;
    call_with_channel(
        "send_text",
        &[
            ("target", arg(target)?),
            ("text", arg(&text)?),
            ("onEvent", channel.js().clone()),
        ],
    )
    .await
}

/// Answers the running send's "identity changed" warning (`true`: send anyway).
pub async fn answer_changed_identity(send_anyway: bool) -> Result<(), String> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Args {
        send_anyway: bool,
    }
    call("answer_changed_identity", &Args { send_anyway }).await
}

/// Cancels the running send.
pub async fn cancel_send() -> Result<(), String> {
    call("cancel_send", &NoArgs {}).await
}

/// Opens `folder` (the download folder, or where the last receive saved) in the system file
/// manager.
pub async fn open_folder(folder: FolderToOpen) -> Result<(), String> {
    #[derive(Serialize)]
    struct Args {
        folder: FolderToOpen,
    }
    call("open_folder", &Args { folder }).await
}

/// Opens a received web link in the browser (the app checks it is one).
pub async fn open_link(link: &str) -> Result<(), String> {
    #[derive(Serialize)]
    struct Args<'a> {
        link: &'a str,
    }
    call("open_link", &Args { link }).await
}

/// Files and links handed to the app from outside the window since the last call (command
/// line, a second launch, "Open with", the share sheet, `peerdrop://` links).
pub async fn take_launch_requests() -> Result<Vec<LaunchRequest>, String> {
    call("take_launch_requests", &NoArgs {}).await
}

/// The transfer history, newest first.
pub async fn history() -> Result<Vec<HistoryEntry>, String> {
    call("history", &NoArgs {}).await
}

/// Forgets the whole history.
pub async fn clear_history() -> Result<(), String> {
    call("clear_history", &NoArgs {}).await
}

/// Shows what history entry `id` saved, selected in the file manager.
pub async fn open_history_item(id: u64) -> Result<(), String> {
    #[derive(Serialize)]
    struct Args {
        id: u64,
    }
    call("open_history_item", &Args { id }).await
}
