//! Android: PeerDrop in the share sheet, and multicast for LAN discovery.
//!
//! The manifest in `src-tauri/gen/android` declares `SEND` and `SEND_MULTIPLE` (any type) and
//! `VIEW` for `peerdrop:` links on the main activity. The small Kotlin plugin there
//! (`org.peerdrop.share.ShareIntentPlugin`) reads each intent — the one that started the app and
//! every later one (`onNewIntent`) — and hands the content URIs (with their display names) and
//! any link to Rust over a channel that [`plugin`] registers.
//!
//! The engine sends files by path, so each shared `content://` item is copied into the app's
//! cache folder through `tauri-plugin-fs` (which opens content URIs with Android's content
//! resolver) and the copy is selected. Copies of earlier shares are removed when the app
//! starts. The app must also register `tauri_plugin_fs::init()` (re-exported here as
//! [`tauri_plugin_fs`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::plugin::{Builder, TauriPlugin};
use tauri::{AppHandle, Manager, Runtime};
pub use tauri_plugin_fs;
use tauri_plugin_fs::{FilePath, FsExt, OpenOptions};

use crate::{is_shareable_uri, parse_link, safe_file_name, shared_text, Launch};

/// Kotlin package of the share plugin in `gen/android`.
pub const PLUGIN_PACKAGE: &str = "org.peerdrop.share";
/// Kotlin class of the share plugin.
pub const PLUGIN_CLASS: &str = "ShareIntentPlugin";
/// Kotlin class that holds Wi-Fi's `MulticastLock` while the app runs: without it Android drops
/// incoming multicast and no device on the LAN is ever discovered (mDNS).
pub const LAN_MULTICAST_CLASS: &str = "LanMulticastPlugin";
/// Folder (under the app's cache folder) holding copies of shared content.
pub const SHARED_DIR: &str = "shared";

/// What the Kotlin plugin sends for one intent.
#[derive(Deserialize, Debug, Default)]
struct SharedIntent {
    #[serde(default)]
    items: Vec<SharedItem>,
    #[serde(default)]
    link: Option<String>,
    /// A shared text (`EXTRA_TEXT` of a `SEND` without a stream).
    #[serde(default)]
    text: Option<String>,
}

/// One shared item: a `content://` (or `file://`) URI and the name the provider gave it.
#[derive(Deserialize, Debug)]
struct SharedItem {
    uri: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Serialize)]
struct SetShareHandler {
    handler: Channel,
}

/// The Tauri plugin that connects the Kotlin share plugin to `on_launch`, which gets one
/// [`Launch`] per intent (files already copied, so `paths` are ordinary paths).
pub fn plugin<R, F>(on_launch: F) -> TauriPlugin<R>
where
    R: Runtime,
    F: Fn(&AppHandle<R>, Launch) + Send + Sync + 'static,
{
    let on_launch = Arc::new(on_launch);
    Builder::new("peerdrop-share")
        .setup(move |app, api| {
            if let Ok(cache) = app.path().app_cache_dir() {
                let _ = std::fs::remove_dir_all(cache.join(SHARED_DIR));
            }
            // Loading the class takes the multicast lock (see its file in gen/android).
            api.register_android_plugin(PLUGIN_PACKAGE, LAN_MULTICAST_CLASS)?;
            let handle = api.register_android_plugin(PLUGIN_PACKAGE, PLUGIN_CLASS)?;
            let app = app.clone();
            let on_launch = Arc::clone(&on_launch);
            let handler = Channel::new(move |body| {
                let intent: SharedIntent = match body {
                    InvokeResponseBody::Json(json) => serde_json::from_str(&json)?,
                    InvokeResponseBody::Raw(_) => return Ok(()),
                };
                let (app, on_launch) = (app.clone(), Arc::clone(&on_launch));
                // Copying a large video takes a while: never on the thread that delivered it.
                std::thread::spawn(move || {
                    let launch = receive(&app, intent);
                    if !launch.is_empty() {
                        on_launch(&app, launch);
                    }
                });
                Ok(())
            });
            handle.run_mobile_plugin::<serde_json::Value>(
                "setShareHandler",
                SetShareHandler { handler },
            )?;
            Ok(())
        })
        .build()
}

/// Turns one intent into a [`Launch`], copying shared content into the cache folder.
fn receive<R: Runtime>(app: &AppHandle<R>, intent: SharedIntent) -> Launch {
    let mut launch = Launch::default();
    if let Some(link) = intent.link {
        match parse_link(&link) {
            Ok(link) => launch.link = Some(link),
            Err(problem) => launch.problems.push(problem),
        }
    }
    if let Some(text) = intent.text {
        match shared_text(&text) {
            Ok(text) => launch.text = text,
            Err(problem) => launch.problems.push(problem),
        }
    }
    if intent.items.is_empty() {
        return launch;
    }
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = match app.path().app_cache_dir() {
        Ok(cache) => cache.join(SHARED_DIR).join(stamp.to_string()),
        Err(e) => {
            launch
                .problems
                .push(format!("Shared files cannot be read here: {e}"));
            return launch;
        }
    };
    for (index, item) in intent.items.iter().enumerate() {
        if !is_shareable_uri(&item.uri) {
            tracing::warn!(uri = %item.uri, "refused a shared item that is not content://");
            launch.problems.push(format!(
                "Refused {}: only content shared by an app can be sent, not a file path",
                safe_file_name(item.name.as_deref(), index)
            ));
            continue;
        }
        match copy_in(app, item, &dir, index) {
            Ok(path) => launch.paths.push(path),
            Err(e) => {
                tracing::warn!(uri = %item.uri, error = %e, "shared item unreadable");
                launch.problems.push(format!(
                    "Could not read {}: {e}",
                    safe_file_name(item.name.as_deref(), index)
                ));
            }
        }
    }
    launch
}

/// Copies one shared item to `dir/<index>/<safe name>` and returns the copy's path.
fn copy_in<R: Runtime>(
    app: &AppHandle<R>,
    item: &SharedItem,
    dir: &Path,
    index: usize,
) -> std::io::Result<PathBuf> {
    let url = url::Url::parse(&item.uri).map_err(std::io::Error::other)?;
    let mut options = OpenOptions::new();
    options.read(true);
    let mut source = app.fs().open(FilePath::Url(url), options)?;
    let folder = dir.join(index.to_string());
    std::fs::create_dir_all(&folder)?;
    let path = folder.join(safe_file_name(item.name.as_deref(), index));
    let mut copy = std::fs::File::create_new(&path)?;
    std::io::copy(&mut source, &mut copy)?;
    copy.sync_all()?;
    Ok(path)
}
