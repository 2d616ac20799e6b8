//! # peerdrop-app-ipc — what the PeerDrop app's Rust side and its wasm UI say to each other
//!
//! Transfer events themselves are [`peerdrop_proto::events::TransferEvent`] (the same values the
//! CLI prints with `--json`); this crate only adds the few app-level shapes around them:
//! settings, the node's connection status, send targets and picked files. It is serde-only so
//! it compiles both into the Tauri shell and into the `wasm32` UI, which keeps the two sides from
//! ever disagreeing about a field name.
//!
//! Nothing here carries file contents: the UI only ever sees names, sizes and progress numbers.

use peerdrop_proto::events::{FileSummary, TransferEvent};
use peerdrop_proto::signal::PeerInfo;
use serde::{Deserialize, Serialize};

/// User settings, persisted as JSON in the app's config directory, and shown by the Settings
/// page. The UI never sends this whole shape back: it saves a [`SettingsUpdate`], and the
/// download folder changes only through the `pick_download_dir` dialog.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct Settings {
    /// Signaling server (`ws://host:port/ws` or `wss://host/ws`); empty means "automatic" (the
    /// embedded server).
    pub server_url: String,
    /// Name other devices see.
    pub device_name: String,
    /// Folder received files are saved in.
    pub download_dir: String,
    /// Desktop notifications for offers and finished receives while the window is not in
    /// front. On by default: an offer waits for an answer, and without a notification nobody
    /// knows it is there.
    pub notifications: bool,
    /// Closing the window keeps PeerDrop running (in the tray) so others can still send to
    /// this device. Off by default: closing a window normally ends a program, and a device
    /// that stays reachable after its window is gone should be the person's choice, not a
    /// surprise (the tray icon's "Receive in background" and Settings turn it on).
    pub receive_in_background: bool,
    /// Start PeerDrop when the person logs in (an XDG autostart entry on Linux); started that
    /// way it opens hidden in the tray when `receive_in_background` is on. Off by default.
    pub start_at_login: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server_url: String::new(),
            device_name: String::new(),
            download_dir: String::new(),
            notifications: true,
            receive_in_background: false,
            start_at_login: false,
        }
    }
}

/// An on/off setting the Settings page (or the tray menu) changes on its own, right away,
/// with `set_toggle`: unlike the name and the server, a switch has nothing to type and
/// nothing to confirm.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Toggle {
    /// [`Settings::notifications`].
    Notifications,
    /// [`Settings::receive_in_background`].
    ReceiveInBackground,
    /// [`Settings::start_at_login`].
    StartAtLogin,
}

/// What the Settings page may change with `save_settings`: the server and the device name.
///
/// The download folder is not here on purpose: a web view that could name any folder could
/// make the app save received files into `~/.config/autostart` or `~/.ssh`. It changes only
/// through the native folder dialog the Rust side opens (`pick_download_dir`). Unknown fields
/// are refused, so an old or tampered UI that still sends `download_dir` gets an error rather
/// than a silent partial save.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsUpdate {
    /// Signaling server (`ws://host:port/ws` or `wss://host/ws`); empty means "automatic".
    pub server_url: String,
    /// Name other devices see; empty means the host name.
    pub device_name: String,
}

/// Settings as the Settings page shows them: the stored values plus what "empty" falls back to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SettingsView {
    /// The stored settings (with defaults filled in for name and folder).
    pub settings: Settings,
    /// Server used when `settings.server_url` is empty (`PEERDROP_SERVER` or the embedded one).
    pub default_server: String,
    /// Where the settings file lives, for the curious.
    pub config_path: String,
}

/// How the node's registration on the signaling server is doing.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Connecting (or reconnecting) to the signaling server.
    Connecting,
    /// Registered: the code is valid and nearby devices are listed.
    Online,
    /// Not registered; `message` says why and the node retries.
    Offline,
}

/// The node's connection status, sent whenever it changes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// Where the node stands.
    pub state: NodeState,
    /// Signaling server in use (or being tried).
    pub server: String,
    /// True when `server` is the signaling service the app started in-process.
    pub embedded: bool,
    /// True when `server` is the one set in Settings or `PEERDROP_SERVER` — a server chosen to
    /// be shared — rather than the built-in one or the automatic one on this computer
    /// (`ws://127.0.0.1:8787/ws`), which other devices cannot reach.
    #[serde(default)]
    pub configured: bool,
    /// One line for the user (why offline, or a note such as "configured server unreachable").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl NodeStatus {
    /// The server a link to this device (the Receive page's QR code) names, so another device
    /// finds the code where it is registered: the configured server while registered on it;
    /// `None` on the built-in or automatic local server (the link then carries the code only,
    /// and the other device looks it up on its own server).
    pub fn link_server(&self) -> Option<&str> {
        (self.configured && !self.embedded && self.state == NodeState::Online)
            .then_some(self.server.as_str())
    }

    /// The status line: where the node stands and, always, which server it uses.
    pub fn headline(&self) -> String {
        let server = if self.embedded {
            "built-in server".to_string()
        } else {
            server_label(&self.server)
        };
        match self.state {
            NodeState::Online => format!("Online · {server}"),
            NodeState::Connecting => format!("Connecting to {server}…"),
            NodeState::Offline => format!("Offline · {server}"),
        }
    }
}

/// A server URL as a short label for a narrow status line: `wss://peerdrop.example.org/ws` →
/// `peerdrop.example.org`, `ws://192.168.1.10:8787/ws` → `192.168.1.10:8787`; anything that
/// is not such a URL stays as it is.
pub fn server_label(url: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    if authority.is_empty() {
        url.to_string()
    } else {
        authority.to_string()
    }
}

/// One message on the node channel that `start_node` opens.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum NodeUpdate {
    /// The connection status changed.
    Status(NodeStatus),
    /// Something happened: this device's code, nearby devices, or an incoming transfer and its
    /// progress (receiving is driven by the other side, so its events arrive here).
    Event(TransferEvent),
    /// A transfer (either way) ended and was added to the history.
    History(HistoryEntry),
}

/// Whom to send to: a device from the nearby list, or a code typed by the user.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum SendTarget {
    /// A nearby device, as listed by the server.
    Peer {
        /// The device.
        peer: PeerInfo,
    },
    /// A code such as `K7QM-2X` (any case, dash optional).
    Code {
        /// What the user typed.
        code: String,
        /// The signaling server to look the code up on and send through, when a
        /// `peerdrop://send?to=CODE&server=URL` link named one; `None`: the app's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server: Option<String>,
    },
}

/// An opaque name for a file or folder the Rust side was handed by the person — through a
/// native dialog, a drop on the window, or a launch from outside (command line, "Open with",
/// share sheet) — and registered. The UI sends handles back (`send_files`), never paths: a
/// handle the Rust side did not give out is refused, so a compromised web view cannot make
/// the app read a file the person never chose.
///
/// A random UUID (v4) in its hyphenated text form; it means nothing outside this app run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(transparent)]
pub struct ItemHandle(pub String);

impl ItemHandle {
    /// The handle as text (what goes over IPC).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ItemHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file or folder the user picked (or dropped), summarised for display. Its path stays on
/// the Rust side; the UI refers to it by [`ItemHandle`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PickedItem {
    /// What to send back to the Rust side to mean this item.
    pub handle: ItemHandle,
    /// File or folder name.
    pub name: String,
    /// True for a folder.
    pub is_dir: bool,
    /// Number of regular files (1 for a file).
    pub files: u64,
    /// Total size in bytes.
    pub size: u64,
}

/// Answer of the pick commands: what was chosen, or nothing when the dialog was dismissed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Picked {
    /// The chosen items, in the order picked.
    pub items: Vec<PickedItem>,
}

/// Window event carrying what was dropped on the window ([`Dropped`]). The Rust side takes
/// drops from the window itself (not from the page), registers each path and sends this; the
/// page adds the items to its selection. (Tauri's own `tauri://drag-drop` still reaches the
/// page with the raw paths, but no command accepts a path, so they are of no use to it.)
pub const DROP_EVENT: &str = "peerdrop-drop";

/// Payload of [`DROP_EVENT`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Dropped {
    /// The dropped files and folders that could be read, by handle.
    pub items: Vec<PickedItem>,
    /// One line per dropped path that could not be read.
    pub problems: Vec<String>,
}

/// Which folder `open_folder` shows in the file manager. The UI names a kind of folder, never
/// a path: the Rust side knows where it saved the last transfer.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FolderToOpen {
    /// The download folder from Settings.
    Downloads,
    /// Where the last completed receive saved its files (the download folder when none did).
    LastReceived,
}

/// An incoming offer as the Receive page shows it (derived from the `incoming` event).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct OfferView {
    /// Sender's device name.
    pub from: String,
    /// Files on offer.
    pub files: Vec<FileSummary>,
    /// Sum of the sizes.
    pub total_size: u64,
}

/// A page of the app, as a link or a share names it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Page {
    /// Send.
    Send,
    /// Receive.
    Receive,
    /// Settings.
    Settings,
}

/// What the app was asked to do from outside its window — files opened with PeerDrop ("Open
/// with", "Send to", `peerdrop-app FILE...`, a second launch, the Android share sheet) or a
/// `peerdrop://` link — already checked and summarised on the Rust side. The UI shows `page`,
/// selects `items` and fills in `code` (and `server`); it never sends anything by itself.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct LaunchRequest {
    /// Page to show (Send whenever there are items).
    pub page: Option<Page>,
    /// Files and folders to select on the Send page.
    pub items: Vec<PickedItem>,
    /// Receiver's code to fill in on the Send page (normalised, e.g. `K7QM-2X`).
    pub code: Option<String>,
    /// The signaling server the link says the receiver is on (checked: `ws://`/`wss://`); the
    /// Send page shows it and sends by code through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// One line per argument that could not be used (a missing file, a bad link).
    pub problems: Vec<String>,
    /// A text shared with PeerDrop (the Android share sheet), for the Send page's text field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A device whose offers this app accepts without asking ("Always accept from …", ticked in
/// the incoming dialog). Keyed by its certificate, never by its name: a device that only
/// takes the name gets asked, and a changed identity is never trusted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TrustedDevice {
    /// Its certificate fingerprint (`sha-256`, lowercase hex with colons).
    pub fingerprint: String,
    /// The name it had when it was trusted (for display).
    pub name: String,
    /// When it was trusted, milliseconds since the Unix epoch.
    pub since_ms: u64,
}

/// Which way a transfer in the history went.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From this device.
    Sent,
    /// To this device.
    Received,
}

/// How a transfer in the history ended.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HistoryOutcome {
    /// Everything arrived and was verified.
    Done,
    /// It failed (the entry's `reason` says why).
    Failed,
    /// The receiver declined.
    Declined,
    /// One side cancelled.
    Cancelled,
}

/// One finished transfer as the History page lists it, kept (the last
/// [`HISTORY_LIMIT`]) in the app's data folder until the person clears it.
///
/// The UI names an entry by `id` to open or reveal what it saved; the path itself stays on
/// the Rust side (`saved_to` is for display only), as with every other path.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    /// Stable within this history (never reused): what `open_history_item` takes.
    pub id: u64,
    /// Sent or received.
    pub direction: Direction,
    /// The other device's name.
    pub peer: String,
    /// Whether the other device's identity had been verified before (pinned), so the entry
    /// can say "verified device".
    pub peer_verified: bool,
    /// What moved, in a few words: a file name, "holiday (12 files)", "a text".
    pub what: String,
    /// Files verified (0 for a text).
    pub files: u32,
    /// Bytes moved (the text's length for a text).
    pub bytes: u64,
    /// The text, when it was a text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// How it ended.
    pub outcome: HistoryOutcome,
    /// Why it did not end well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Received: the folder the files were saved in (shown, not sent back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_to: Option<String>,
    /// Received: the first thing saved, relative to `saved_to` — the file of a one-file
    /// transfer, the top folder of a folder — which "Show in folder" points at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_item: Option<String>,
    /// When it ended, milliseconds since the Unix epoch.
    pub finished_at_ms: u64,
    /// Seconds from accept to the end (0 when it never started).
    pub seconds: f64,
}

impl HistoryEntry {
    /// Average speed over the whole transfer, bytes per second, when it moved anything.
    pub fn average_bytes_per_sec(&self) -> Option<f64> {
        (self.outcome == HistoryOutcome::Done && self.seconds > 0.0 && self.bytes > 0)
            .then(|| self.bytes as f64 / self.seconds)
    }
}

/// How many finished transfers the history keeps (oldest dropped first).
pub const HISTORY_LIMIT: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;
    use peerdrop_proto::signal::DeviceKind;

    #[test]
    fn node_update_wraps_transfer_events_verbatim() {
        let up = NodeUpdate::Event(TransferEvent::Code {
            code: "K7QM-2X".into(),
            name: "Ana".into(),
            kind: None,
        });
        let json = serde_json::to_string(&up).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"event","data":{"event":"code","code":"K7QM-2X","name":"Ana"}}"#
        );
        assert_eq!(serde_json::from_str::<NodeUpdate>(&json).unwrap(), up);
    }

    #[test]
    fn send_target_shapes() {
        let t = SendTarget::Code {
            code: "k7qm2x".into(),
            server: None,
        };
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"by":"code","code":"k7qm2x"}"#
        );
        let via: SendTarget =
            serde_json::from_str(r#"{"by":"code","code":"k7qm2x","server":"wss://a.example/ws"}"#)
                .unwrap();
        assert_eq!(
            via,
            SendTarget::Code {
                code: "k7qm2x".into(),
                server: Some("wss://a.example/ws".into())
            }
        );
        let p = SendTarget::Peer {
            peer: PeerInfo {
                id: Default::default(),
                name: "Ben".into(),
                kind: DeviceKind::Cli,
                fingerprint: None,
                max_packet: None,
            },
        };
        let back: SendTarget = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn the_status_line_names_the_server_in_use() {
        let mut status = NodeStatus {
            state: NodeState::Online,
            server: "wss://peerdrop.example.org/ws".into(),
            embedded: false,
            configured: true,
            message: None,
        };
        assert_eq!(status.headline(), "Online · peerdrop.example.org");
        status.state = NodeState::Connecting;
        assert_eq!(status.headline(), "Connecting to peerdrop.example.org…");
        status.state = NodeState::Offline;
        status.server = "ws://192.168.1.10:8787/ws".into();
        assert_eq!(status.headline(), "Offline · 192.168.1.10:8787");
        status.state = NodeState::Online;
        status.server = "ws://127.0.0.1:8787/ws".into();
        status.embedded = true;
        assert_eq!(status.headline(), "Online · built-in server");
        assert_eq!(server_label("not a url"), "not a url");
        assert_eq!(
            server_label("wss://[2001:db8::1]:443/ws"),
            "[2001:db8::1]:443"
        );
    }

    #[test]
    fn links_name_only_a_configured_server_in_use() {
        let mut status = NodeStatus {
            state: NodeState::Online,
            server: "wss://peerdrop.example.org/ws".into(),
            embedded: false,
            configured: true,
            message: None,
        };
        assert_eq!(status.link_server(), Some("wss://peerdrop.example.org/ws"));
        status.state = NodeState::Connecting;
        assert_eq!(status.link_server(), None, "not registered there yet");
        status.state = NodeState::Online;
        status.configured = false;
        status.server = "ws://127.0.0.1:8787/ws".into();
        assert_eq!(status.link_server(), None, "the automatic local server");
        status.embedded = true;
        assert_eq!(status.link_server(), None, "the built-in server");
        // An older app's status (no `configured`) names no server.
        let old: NodeStatus = serde_json::from_str(
            r#"{"state":"online","server":"wss://peerdrop.example.org/ws","embedded":false}"#,
        )
        .unwrap();
        assert_eq!(old.link_server(), None);
    }

    #[test]
    fn a_settings_update_cannot_carry_a_download_folder() {
        let from_webview =
            r#"{"server_url":"","device_name":"Ana","download_dir":"/home/ana/.config/autostart"}"#;
        let err = serde_json::from_str::<SettingsUpdate>(from_webview).unwrap_err();
        assert!(err.to_string().contains("download_dir"), "{err}");
        let ok: SettingsUpdate = serde_json::from_str(r#"{"device_name":"Ana"}"#).unwrap();
        assert_eq!(ok.device_name, "Ana");
    }

    #[test]
    fn handles_and_folders_are_plain_json() {
        let h = ItemHandle("5f0c3c1e-2f7a-4a43-9d7e-0c8f0e4b7a11".into());
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            r#""5f0c3c1e-2f7a-4a43-9d7e-0c8f0e4b7a11""#
        );
        assert_eq!(
            serde_json::to_string(&FolderToOpen::LastReceived).unwrap(),
            r#""last_received""#
        );
    }

    #[test]
    fn settings_tolerate_missing_fields() {
        let s: Settings = serde_json::from_str(r#"{"device_name":"Ana"}"#).unwrap();
        assert_eq!(s.device_name, "Ana");
        assert!(s.server_url.is_empty());
    }
}
