//! Build script: validates `../tauri.conf.json` (the config lives at the repository root) and
//! generates the permission set of the app's own commands, so the window's capability can
//! grant exactly the commands the UI calls.
//!
//! The UI must be built into `src-ui/dist` first (`scripts/app-build.sh`). So that a plain
//! `cargo check --workspace` still works on a fresh clone, a placeholder page is written there
//! when it is missing; it only tells the user how to build the real UI.

use std::path::Path;

/// Commands the UI may call (each becomes an `allow-<name>` permission).
const COMMANDS: &[&str] = &[
    "get_settings",
    "save_settings",
    "set_toggle",
    "start_node",
    "respond_incoming",
    "cancel_receive",
    "pick_files",
    "pick_folder",
    "pick_download_dir",
    "send_files",
    "send_text",
    "open_link",
    "cancel_send",
    "answer_changed_identity",
    "open_folder",
    "take_launch_requests",
    "history",
    "clear_history",
    "open_history_item",
    "trusted_devices",
    "forget_trusted_device",
];

fn ensure_frontend_dist() {
    let dist = Path::new("../src-ui/dist");
    let index = dist.join("index.html");
    println!("cargo:rerun-if-changed=../src-ui/dist");
    if !index.exists() {
        std::fs::create_dir_all(dist).expect("create src-ui/dist");
        std::fs::write(
            &index,
            "<!doctype html><meta charset=utf-8><title>PeerDrop</title>\
             <body style=\"font-family:sans-serif;background:#2e3440;color:#eceff4;padding:2em\">\
             <h1>PeerDrop UI not built</h1><p>Run <code>scripts/app-build.sh</code>.</p>",
        )
        .expect("write placeholder index.html");
        println!("cargo:warning=src-ui/dist was missing: wrote a placeholder; run scripts/app-build.sh for the real UI");
    }
}

fn main() {
    ensure_frontend_dist();
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {e:#}");
    }
}
