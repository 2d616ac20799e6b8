//! # peerdrop-app — the Tauri 2 shell of PeerDrop
//!
//! A thin layer between the Sycamore UI (`src-ui`, wasm) and the engine (`peerdrop-core`):
//! commands in, [`peerdrop_proto::events::TransferEvent`]s out over `tauri::ipc::Channel`s.
//! Transfers, file reading and writing, and hashing all run here in Rust; the UI only ever
//! sees names, sizes and progress numbers.
//!
//! Modules:
//! - [`background`]: the tray icon, closing the window while receiving in the background,
//!   starting hidden.
//! - [`autostart`]: the "Start at login" entry.
//! - [`commands`]: the command surface the UI may call (granted one by one in the capability).
//! - [`node`]: keeps the device registered, forwards code/nearby, runs incoming transfers.
//! - [`transfer`]: outgoing transfers.
//! - [`server`]: server choice and the built-in signaling server.
//! - [`failover`]: when to stand in with the built-in server and when to go back (pure).
//! - [`settings`]: persisted settings.
//! - [`pick`]: native dialogs, path summaries and the `PEERDROP_TEST_PICK` test seam (debug
//!   builds only).
//! - [`grants`]: the paths the person handed over (dialog, drop, launch), by opaque handle;
//!   the UI never sends a path.
//! - [`dropped`]: files dropped on the window, taken from the window's own event.
//! - [`history`]: the persisted list of finished transfers, and the recorder that makes its
//!   entries from a transfer's events.
//! - [`hub`]: the node channel to the UI, with a replayable snapshot.
//! - [`launch`]: files and `peerdrop://` links handed over by the OS, a second launch or the
//!   Android share sheet.
//! - [`trust`]: the devices whose offers are accepted without asking.
//! - [`json_file`]: atomic writes of the app's small JSON files.
//! - [`error`]: [`error::AppError`], the one line a command reports.

pub mod autostart;
#[cfg(desktop)]
pub mod background;
pub mod commands;
pub mod dropped;
pub mod error;
pub mod failover;
pub mod grants;
pub mod history;
pub mod hub;
pub mod json_file;
pub mod launch;
pub mod local_owner;
pub mod node;
pub mod notify;
pub mod pick;
pub mod server;
pub mod settings;
pub mod transfer;
pub mod trust;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use peerdrop_app_ipc::Toggle;
use peerdrop_core::identity::Identity;
use peerdrop_core::{CancellationToken, ClientTls, LanRole, Node, RtcSettings};
use tauri::Manager;
use tokio::sync::{oneshot, Notify};

use crate::grants::Grants;
use crate::history::HistoryStore;
use crate::hub::Hub;
use crate::launch::Launches;
use crate::server::BuiltinServer;
use crate::settings::{Defaults, SettingsStore};
use crate::trust::TrustedDevices;

/// Everything the commands and background tasks share.
pub struct Shared {
    /// Persisted settings.
    pub settings: SettingsStore,
    /// This device's persistent certificate (kept in the app's data folder), so other devices
    /// recognise it next time; `None` lets the engine use its default location.
    pub identity: Option<Identity>,
    /// WebRTC tunables, from the `PEERDROP_*` knobs read once at start (tests bind loopback
    /// with `PEERDROP_BIND`); the identity is `identity`'s.
    pub rtc: RtcSettings,
    /// The certificate authorities `wss://` servers are checked against, read once at start.
    pub tls: ClientTls,
    /// What the node does on the LAN: discoverable (mDNS record + LAN endpoint) unless
    /// `PEERDROP_NO_LAN` is set (read once at start).
    pub lan: LanRole,
    /// Desktop notifications for offers and finished receives while the window is not focused.
    pub notifier: notify::Notifier,
    /// The built-in signaling server, once started.
    pub builtin: BuiltinServer,
    /// The node channel to the UI.
    pub hub: Hub,
    /// The current registration, while online.
    pub node: Mutex<Option<Arc<Node>>>,
    /// Wakes the supervisor to reconnect (settings changed).
    pub restart: Notify,
    /// Whether the supervisor runs.
    pub started: AtomicBool,
    /// The answer the open Accept/Decline dialog is waiting for.
    pub pending_answer: Mutex<Option<oneshot::Sender<OfferAnswer>>>,
    /// The answer the "identity changed" warning of the running send is waiting for.
    pub changed_identity_answer: Arc<Mutex<Option<oneshot::Sender<bool>>>>,
    /// Cancels the running receive.
    pub receive_cancel: Mutex<Option<CancellationToken>>,
    /// Cancels the running send.
    pub send_cancel: Mutex<Option<CancellationToken>>,
    /// Files and links from outside the window, waiting for the UI to take them.
    pub launches: Launches,
    /// Files and folders the person picked, dropped or launched the app with, by handle.
    pub grants: Grants,
    /// Where the last completed receive saved its files ("Open folder").
    pub last_received: Mutex<Option<PathBuf>>,
    /// Finished transfers, both ways (the History page).
    pub history: HistoryStore,
    /// Devices whose offers are accepted without asking.
    pub trusted: TrustedDevices,
}

/// The person's answer to an incoming offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferAnswer {
    /// Accept (or decline).
    pub accept: bool,
    /// "Always accept from this device" was ticked.
    pub always: bool,
}

impl Shared {
    /// Fresh state around `settings` and `identity`.
    pub fn new(settings: SettingsStore, identity: Option<Identity>) -> Self {
        Self {
            settings,
            identity,
            rtc: RtcSettings::default(),
            notifier: notify::Notifier::off(),
            tls: ClientTls::none(),
            lan: LanRole::Discoverable,
            builtin: BuiltinServer::default(),
            hub: Hub::default(),
            node: Mutex::new(None),
            restart: Notify::new(),
            started: AtomicBool::new(false),
            pending_answer: Mutex::new(None),
            changed_identity_answer: Arc::default(),
            receive_cancel: Mutex::new(None),
            send_cancel: Mutex::new(None),
            launches: Launches::default(),
            grants: Grants::default(),
            last_received: Mutex::new(None),
            history: HistoryStore::in_memory(),
            trusted: TrustedDevices::in_memory(),
        }
    }

    /// The same, keeping trusted devices in `trusted` (the app's data folder).
    pub fn with_trusted(mut self, trusted: TrustedDevices) -> Self {
        self.trusted = trusted;
        self
    }

    /// The same, keeping the history in `history` (the app's data folder) instead of memory.
    pub fn with_history(mut self, history: HistoryStore) -> Self {
        self.history = history;
        self
    }

    /// The same, notifying through `notifier`.
    pub fn with_notifier(mut self, notifier: notify::Notifier) -> Self {
        self.notifier = notifier;
        self
    }

    /// The same, connecting with `rtc` (its identity is ignored: the device's is used).
    pub fn with_rtc(mut self, rtc: RtcSettings) -> Self {
        self.rtc = rtc;
        self
    }

    /// The same, doing `lan` on the local network.
    pub fn with_lan(mut self, lan: LanRole) -> Self {
        self.lan = lan;
        self
    }

    /// The same, checking `wss://` servers against `tls` (without it, every `wss://` server
    /// is refused, saying that no authority was loaded).
    pub fn with_tls(mut self, tls: ClientTls) -> Self {
        self.tls = tls;
        self
    }
}

/// `PEERDROP_NO_LAN=1` (or `true`/`yes`) turns LAN discovery and the LAN endpoint off, as
/// `peerdrop --no-lan` does; tests on a shared host use it to keep multicast off its network.
fn lan_role_from_env() -> LanRole {
    match std::env::var("PEERDROP_NO_LAN") {
        Ok(v)
            if matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            ) =>
        {
            LanRole::Off
        }
        _ => LanRole::Discoverable,
    }
}

/// Notifications while they are on in Settings and the main window does not have the focus
/// (or cannot be found: hidden in the tray).
fn window_notifier(app: tauri::AppHandle) -> notify::Notifier {
    let settings_app = app.clone();
    notify::Notifier::desktop(
        move || {
            app.get_webview_window("main")
                .and_then(|w| Some(w.is_focused().ok()? && w.is_visible().ok()?))
                .unwrap_or(false)
        },
        move || {
            settings_app
                .try_state::<Arc<Shared>>()
                .is_some_and(|shared| shared.settings.toggle(Toggle::Notifications))
        },
    )
}

/// Default log filter: our info, and only errors from the chatty WebRTC stack.
const DEFAULT_LOG_FILTER: &str =
    "info,rtc=error,rtc_ice=error,rtc_dtls=error,rtc_sctp=error,webrtc=error,tao=warn,wry=warn";

/// Logs to stderr, without the dependencies' expected, harmless ERROR lines unless
/// `PEERDROP_LOG_NOISE=1` (see [`peerdrop_core::log_noise`]).
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("PEERDROP_LOG")
        .unwrap_or_else(|_| DEFAULT_LOG_FILTER.into());
    let show_noise = std::env::var("PEERDROP_LOG_NOISE").is_ok_and(|v| v == "1");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .finish()
        .with((!show_noise).then_some(peerdrop_core::log_noise::ExpectedNoise))
        .try_init();
}

/// Starts the app (desktop `main`, and the mobile entry point).
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    peerdrop_core::allocator::tune_for_transfers();
    init_logging();
    let builder = tauri::Builder::default();
    // First, so a second launch hands its command line to this process and exits before it
    // opens a window of its own.
    #[cfg(desktop)]
    let builder = builder.plugin(tauri_plugin_single_instance::init(|app, argv, cwd| {
        // The login entry starting PeerDrop while it already runs: nothing to show.
        if argv.iter().any(|a| a == autostart::HIDDEN_ARG) {
            tracing::info!("started hidden again while running: nothing to do");
            return;
        }
        let launch =
            peerdrop_app_launch::from_args(argv.iter().skip(1), std::path::Path::new(&cwd));
        launch::deliver(app, launch);
    }));
    #[cfg(target_os = "android")]
    let builder = builder
        .plugin(peerdrop_app_launch::android::tauri_plugin_fs::init())
        .plugin(peerdrop_app_launch::android::plugin(launch::deliver));
    // Closing the window while receiving in the background puts it away instead (desktop:
    // there is no tray on mobile).
    #[cfg(desktop)]
    let builder = builder.on_window_event(background::on_window_event);
    let result = builder
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .setup(|app| {
            let paths = app.path();
            let config_dir = paths.app_config_dir()?;
            let defaults = Defaults::detect(paths.download_dir().ok(), paths.home_dir().ok());
            let settings = SettingsStore::load(&config_dir, defaults);
            let data_dir = paths
                .app_data_dir()
                .inspect_err(|e| tracing::warn!(error = %e, "no app data folder"))
                .ok();
            // Configuration from the environment, read here once.
            let env = |name: &str| std::env::var(name).ok();
            // On a desktop the app is the same device as `peerdrop` on this machine: the
            // identity lives in the CLI's home (an app identity made earlier is kept and moved
            // there). Mobile apps keep it in their private data folder.
            let cli_home = peerdrop_core::identity::home_from_vars(&env).filter(|_| cfg!(desktop));
            let identity = match (cli_home, data_dir.as_deref()) {
                (Some(shared), Some(own)) => Identity::load_shared(&shared, own)
                    .inspect_err(|e| tracing::warn!(error = %e, "cannot share the device identity with the command line"))
                    .or_else(|_| Identity::load_or_create(own)),
                (None, Some(own)) => Identity::load_or_create(own),
                (Some(shared), None) => Identity::load_or_create(&shared),
                (None, None) => Err(peerdrop_core::identity::IdentityError::NoHome),
            }
            .inspect_err(|e| tracing::warn!(error = %e, "no device identity"))
            .ok();
            let rtc = RtcSettings::from_vars(&env);
            let history = data_dir
                .as_deref()
                .map_or_else(HistoryStore::in_memory, HistoryStore::load);
            let trusted = data_dir
                .as_deref()
                .map_or_else(TrustedDevices::in_memory, TrustedDevices::load);
            tracing::info!(config = %config_dir.display(), "PeerDrop starting");
            for kind in [pick::PickKind::Files, pick::PickKind::DownloadDir] {
                if pick::test_pick(kind).is_some() {
                    tracing::warn!(
                        ?kind,
                        "test seam ({} / {}): dialogs are replaced by fixed paths (debug build)",
                        pick::TEST_PICK_ENV,
                        pick::TEST_PICK_DIR_ENV
                    );
                }
            }
            // The OS trust store (or SSL_CERT_FILE / SSL_CERT_DIR), read once for every wss://.
            let tls = ClientTls::system();
            tracing::info!(authorities = tls.roots(), "trusted certificate authorities");
            let lan = lan_role_from_env();
            tracing::info!(?lan, "LAN discovery");
            app.manage(Arc::new(
                Shared::new(settings, identity)
                    .with_rtc(rtc)
                    .with_notifier(window_notifier(app.handle().clone()))
                    .with_tls(tls)
                    .with_lan(lan)
                    .with_history(history)
                    .with_trusted(trusted),
            ));
            // `peerdrop-app FILE...` and links the OS started us with.
            #[cfg(desktop)]
            {
                let cwd = std::env::current_dir().unwrap_or_default();
                let launch = peerdrop_app_launch::from_args(std::env::args_os().skip(1), &cwd);
                launch::deliver(app.handle(), launch);
            }
            #[cfg(desktop)]
            {
                let shared = app.state::<Arc<Shared>>();
                background::create_tray(
                    app.handle(),
                    shared.settings.toggle(Toggle::ReceiveInBackground),
                );
                // Keep the login entry pointing at this program (it may have moved).
                if shared.settings.toggle(Toggle::StartAtLogin) {
                    if let Err(e) = autostart::apply(true) {
                        tracing::warn!(error = %e, "cannot refresh the start-at-login entry");
                    }
                }
                if std::env::args_os().any(|a| a == autostart::HIDDEN_ARG) {
                    background::start_hidden(app.handle());
                }
            }
            Ok(())
        })
        // Drops are taken here, from the window, and registered: the page only hears handles.
        .on_window_event(dropped::on_window_event)
        .invoke_handler(tauri::generate_handler![
            commands::get_settings,
            commands::save_settings,
            commands::set_toggle,
            commands::start_node,
            commands::respond_incoming,
            commands::cancel_receive,
            commands::pick_files,
            commands::pick_folder,
            commands::pick_download_dir,
            commands::send_files,
            commands::send_text,
            commands::open_link,
            commands::cancel_send,
            commands::answer_changed_identity,
            commands::open_folder,
            commands::take_launch_requests,
            commands::history,
            commands::clear_history,
            commands::open_history_item,
            commands::trusted_devices,
            commands::forget_trusted_device,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"));
    if let Err(e) = result {
        tracing::error!(error = %e, "PeerDrop stopped with an error");
        std::process::exit(1);
    }
}
