//! Settings persistence: `settings.json` in the app's config directory
//! (`~/.config/org.peerdrop.PeerDrop/` on Linux), written atomically.
//!
//! Empty fields mean "default": the device name falls back to the host name, the download
//! folder to the system's Downloads folder, and the server to `PEERDROP_SERVER` or, without it,
//! the built-in server (see [`crate::server`]).
//!
//! The page saves only the server and the name ([`SettingsUpdate`]); the download folder is
//! set by [`SettingsStore::set_download_dir`], which only the folder dialog's command calls,
//! so the web view can never choose where received files are written. The on/off settings
//! (notifications, receive in background, start at login) change one at a time with
//! [`SettingsStore::set_toggle`], from the page or the tray menu.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use peerdrop_app_ipc::{Settings, SettingsUpdate, SettingsView, Toggle};
use peerdrop_proto::signal::MAX_DEVICE_NAME_CHARS;

use crate::error::{AppError, AppResult};

/// File name inside the config directory.
const FILE_NAME: &str = "settings.json";

/// Values used when a setting is left empty.
#[derive(Clone, Debug)]
pub struct Defaults {
    /// Device name (the host name).
    pub device_name: String,
    /// Download folder.
    pub download_dir: PathBuf,
    /// `PEERDROP_SERVER`, when set: the server used when the setting is empty.
    pub env_server: Option<String>,
}

impl Defaults {
    /// Reads the host name and `PEERDROP_SERVER`; `downloads` is the platform's Downloads dir.
    pub fn detect(downloads: Option<PathBuf>, home: Option<PathBuf>) -> Self {
        let host = gethostname::gethostname()
            .to_string_lossy()
            .trim()
            .to_string();
        let device_name = if host.is_empty() || host == "localhost" {
            "PeerDrop device".to_string()
        } else {
            host
        };
        let download_dir = downloads
            .or_else(|| home.map(|h| h.join("Downloads")))
            .unwrap_or_else(|| std::env::temp_dir().join("PeerDrop"));
        let env_server = std::env::var("PEERDROP_SERVER")
            .ok()
            .filter(|s| !s.trim().is_empty());
        Self {
            device_name,
            download_dir,
            env_server,
        }
    }
}

/// The settings file and its current contents.
pub struct SettingsStore {
    path: PathBuf,
    defaults: Defaults,
    current: Mutex<Settings>,
}

impl SettingsStore {
    /// Loads `settings.json` from `config_dir`; a missing or unreadable file means defaults
    /// (a broken file is logged and left alone until the next save).
    pub fn load(config_dir: &Path, defaults: Defaults) -> Self {
        let path = config_dir.join(FILE_NAME);
        let stored = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str::<Settings>(&text).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable settings");
                Settings::default()
            }),
            Err(_) => Settings::default(),
        };
        Self {
            path,
            defaults,
            current: Mutex::new(stored),
        }
    }

    /// The settings with empty fields replaced by their defaults (server stays as stored).
    pub fn effective(&self) -> Settings {
        let stored = self.current.lock().expect("settings lock").clone();
        fill_defaults(stored, &self.defaults)
    }

    /// The server to use: the stored one, else `PEERDROP_SERVER`; `None` means built-in.
    pub fn configured_server(&self) -> Option<String> {
        let stored = self
            .current
            .lock()
            .expect("settings lock")
            .server_url
            .clone();
        Some(stored)
            .filter(|s| !s.is_empty())
            .or_else(|| self.defaults.env_server.clone())
    }

    /// What the Settings page shows.
    pub fn view(&self, builtin_url: &str) -> SettingsView {
        SettingsView {
            settings: self.effective(),
            default_server: self
                .defaults
                .env_server
                .clone()
                .unwrap_or_else(|| format!("built-in server ({builtin_url})")),
            config_path: self.path.display().to_string(),
        }
    }

    /// Validates and stores the server and name from the Settings page, keeping the download
    /// folder as it is; returns whether the node must reconnect (server or name changed).
    pub fn save(&self, update: SettingsUpdate) -> AppResult<bool> {
        let mut current = self.current.lock().expect("settings lock");
        let new = Settings {
            server_url: update.server_url,
            device_name: update.device_name,
            ..current.clone()
        };
        self.store(&mut current, new)
    }

    /// Makes `dir` the download folder. Only the folder dialog's command calls this (the
    /// person chose `dir` in a native dialog); the web view has no way to name a folder.
    pub fn set_download_dir(&self, dir: &Path) -> AppResult<()> {
        let mut current = self.current.lock().expect("settings lock");
        let new = Settings {
            download_dir: dir.display().to_string(),
            ..current.clone()
        };
        self.store(&mut current, new).map(|_| ())
    }

    /// Turns `toggle` on or off and stores it (the caller applies what it does: see
    /// [`crate::background`] and [`crate::autostart`]).
    pub fn set_toggle(&self, toggle: Toggle, on: bool) -> AppResult<()> {
        let mut current = self.current.lock().expect("settings lock");
        let mut new = current.clone();
        *toggle_field(&mut new, toggle) = on;
        self.store(&mut current, new).map(|_| ())
    }

    /// Whether `toggle` is on now.
    pub fn toggle(&self, toggle: Toggle) -> bool {
        *toggle_field(&mut self.current.lock().expect("settings lock"), toggle)
    }

    /// Validates `new`, writes it atomically and makes it current (`current` is the locked
    /// value, so two saves never interleave); returns whether server or name changed.
    fn store(&self, current: &mut Settings, new: Settings) -> AppResult<bool> {
        let new = validate(new, &self.defaults)?;
        let before = fill_defaults(current.clone(), &self.defaults);
        let after = fill_defaults(new.clone(), &self.defaults);
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| AppError::io("cannot create the settings folder", e))?;
        }
        let json = serde_json::to_string_pretty(&new).expect("settings serialise");
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, json).map_err(|e| AppError::io("cannot write settings", e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| AppError::io("cannot write settings", e))?;
        *current = new;
        Ok(before.server_url != after.server_url || before.device_name != after.device_name)
    }

    /// The download folder, created if needed.
    pub fn download_dir(&self) -> AppResult<PathBuf> {
        let dir = PathBuf::from(self.effective().download_dir);
        std::fs::create_dir_all(&dir).map_err(|e| {
            AppError::io(
                format!("cannot create the download folder {}", dir.display()),
                e,
            )
        })?;
        std::fs::canonicalize(&dir).map_err(|e| {
            AppError::io(
                format!("cannot open the download folder {}", dir.display()),
                e,
            )
        })
    }
}

fn toggle_field(s: &mut Settings, toggle: Toggle) -> &mut bool {
    match toggle {
        Toggle::Notifications => &mut s.notifications,
        Toggle::ReceiveInBackground => &mut s.receive_in_background,
        Toggle::StartAtLogin => &mut s.start_at_login,
    }
}

fn fill_defaults(mut s: Settings, defaults: &Defaults) -> Settings {
    if s.device_name.is_empty() {
        s.device_name = defaults.device_name.clone();
    }
    if s.download_dir.is_empty() {
        s.download_dir = defaults.download_dir.display().to_string();
    }
    s
}

/// Trims and checks user input; empty values stay empty (= default).
pub fn validate(mut s: Settings, defaults: &Defaults) -> AppResult<Settings> {
    s.server_url = s.server_url.trim().to_string();
    s.device_name = s.device_name.trim().to_string();
    s.download_dir = s.download_dir.trim().to_string();
    let ws = s.server_url.starts_with("ws://") || s.server_url.starts_with("wss://");
    if !s.server_url.is_empty() && !ws {
        return Err(AppError::Invalid(
            "the server address must start with ws:// or wss:// (e.g. ws://192.168.1.10:8787/ws)"
                .into(),
        ));
    }
    if s.device_name.chars().count() > MAX_DEVICE_NAME_CHARS {
        return Err(AppError::Invalid(format!(
            "the device name can have at most {MAX_DEVICE_NAME_CHARS} characters"
        )));
    }
    if s.device_name.chars().any(char::is_control) {
        return Err(AppError::Invalid(
            "the device name cannot contain control characters".into(),
        ));
    }
    if !s.download_dir.is_empty() && !Path::new(&s.download_dir).is_absolute() {
        return Err(AppError::Invalid(
            "the download folder must be a full path".into(),
        ));
    }
    // Storing a default verbatim would pin it; keep it empty instead.
    if s.device_name == defaults.device_name {
        s.device_name.clear();
    }
    if Path::new(&s.download_dir) == defaults.download_dir {
        s.download_dir.clear();
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults(dir: &Path) -> Defaults {
        Defaults {
            device_name: "host".into(),
            download_dir: dir.join("Downloads"),
            env_server: None,
        }
    }

    #[test]
    fn saves_and_reloads() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SettingsStore::load(tmp.path(), defaults(tmp.path()));
        assert_eq!(store.effective().device_name, "host");
        assert_eq!(store.configured_server(), None);
        let changed = store
            .save(SettingsUpdate {
                server_url: " ws://127.0.0.1:9/ws ".into(),
                device_name: "Ana's laptop".into(),
            })
            .unwrap();
        assert!(changed);
        store.set_download_dir(&tmp.path().join("in")).unwrap();
        let again = SettingsStore::load(tmp.path(), defaults(tmp.path()));
        assert_eq!(again.effective().device_name, "Ana's laptop");
        assert_eq!(
            again.configured_server().as_deref(),
            Some("ws://127.0.0.1:9/ws")
        );
        assert!(again.download_dir().unwrap().ends_with("in"));
    }

    #[test]
    fn saving_the_page_keeps_the_chosen_download_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SettingsStore::load(tmp.path(), defaults(tmp.path()));
        let chosen = tmp.path().join("chosen");
        store.set_download_dir(&chosen).unwrap();
        store
            .save(SettingsUpdate {
                device_name: "Ana".into(),
                ..SettingsUpdate::default()
            })
            .unwrap();
        assert_eq!(
            store.download_dir().unwrap(),
            chosen.canonicalize().unwrap()
        );
        // Choosing the default folder stores "default", not a pinned path.
        store
            .set_download_dir(&tmp.path().join("Downloads"))
            .unwrap();
        assert!(store.current.lock().unwrap().download_dir.is_empty());
        assert!(store.set_download_dir(Path::new("relative")).is_err());
    }

    #[test]
    fn rejects_bad_input() {
        let tmp = tempfile::tempdir().unwrap();
        let d = defaults(tmp.path());
        let bad_url = Settings {
            server_url: "http://x".into(),
            ..Settings::default()
        };
        assert!(validate(bad_url, &d).is_err());
        let relative = Settings {
            download_dir: "Downloads".into(),
            ..Settings::default()
        };
        assert!(validate(relative, &d).is_err());
        let long = Settings {
            device_name: "x".repeat(65),
            ..Settings::default()
        };
        assert!(validate(long, &d).is_err());
    }

    #[test]
    fn name_change_only_when_different() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SettingsStore::load(tmp.path(), defaults(tmp.path()));
        let same = SettingsUpdate {
            device_name: "host".into(),
            ..SettingsUpdate::default()
        };
        assert!(!store.save(same).unwrap());
        store.set_download_dir(&tmp.path().join("x")).unwrap();
        assert!(!store.save(SettingsUpdate::default()).unwrap());
    }

    #[test]
    fn toggles_persist_and_survive_saving_the_page() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SettingsStore::load(tmp.path(), defaults(tmp.path()));
        assert!(
            store.toggle(Toggle::Notifications),
            "notifications start on"
        );
        assert!(!store.toggle(Toggle::ReceiveInBackground));
        assert!(!store.toggle(Toggle::StartAtLogin));
        store.set_toggle(Toggle::Notifications, false).unwrap();
        store.set_toggle(Toggle::ReceiveInBackground, true).unwrap();
        store
            .save(SettingsUpdate {
                device_name: "Ana".into(),
                ..SettingsUpdate::default()
            })
            .unwrap();
        let again = SettingsStore::load(tmp.path(), defaults(tmp.path()));
        assert!(!again.toggle(Toggle::Notifications));
        assert!(again.toggle(Toggle::ReceiveInBackground));
        assert!(!again.toggle(Toggle::StartAtLogin));
        // A settings file from before the toggles existed keeps notifications on.
        std::fs::write(tmp.path().join(FILE_NAME), r#"{"device_name":"Ana"}"#).unwrap();
        let old = SettingsStore::load(tmp.path(), defaults(tmp.path()));
        assert!(old.toggle(Toggle::Notifications));
        assert!(!old.toggle(Toggle::ReceiveInBackground));
    }

    #[test]
    fn broken_file_means_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(FILE_NAME), "{not json").unwrap();
        let store = SettingsStore::load(tmp.path(), defaults(tmp.path()));
        assert_eq!(store.effective().device_name, "host");
    }
}
