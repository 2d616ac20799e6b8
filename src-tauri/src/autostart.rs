//! "Start at login": an XDG autostart entry, `$XDG_CONFIG_HOME/autostart/peerdrop.desktop`
//! (`~/.config/autostart/peerdrop.desktop` when `XDG_CONFIG_HOME` is unset), written when the
//! setting is turned on and removed when it is turned off. The entry starts the app with
//! [`HIDDEN_ARG`], so a login does not open a window: the app starts in the tray when "Receive
//! in background" is on (see [`crate::background`]), else it shows its window as usual.
//!
//! A small module rather than `tauri-plugin-autostart`: that plugin (through `auto-launch`
//! 0.6) writes to `~/.config/autostart` even when `XDG_CONFIG_HOME` says otherwise, leaves the
//! program path in `Exec=` unquoted (a path with a space breaks the entry), names the entry
//! after the app name it also shows to the person, and pulls in three more crates for what is
//! one small file. Other platforms have no entry yet: turning the setting on there says so.

use std::path::{Path, PathBuf};

use crate::error::{AppError, AppResult};

/// The argument the autostart entry starts the app with: start without showing the window.
pub const HIDDEN_ARG: &str = "--hidden";

/// The entry's file name.
const ENTRY_NAME: &str = "peerdrop.desktop";

/// Where the entry goes, from the environment (`XDG_CONFIG_HOME`, else `HOME/.config`);
/// `None` without either.
pub fn entry_path(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let nonempty = |name: &str| env(name).filter(|v| !v.is_empty());
    let config = nonempty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| nonempty("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some(config.join("autostart").join(ENTRY_NAME))
}

/// The desktop entry that starts `program` hidden at login.
pub fn entry_text(program: &Path) -> String {
    format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=PeerDrop\n\
         Comment=Receive files from nearby devices in the background\n\
         Exec={} {HIDDEN_ARG}\n\
         Icon=peerdrop\n\
         Terminal=false\n\
         StartupNotify=false\n\
         X-GNOME-Autostart-enabled=true\n",
        exec_quote(&program.display().to_string())
    )
}

/// Quotes one `Exec=` argument as the Desktop Entry spec asks: in double quotes when it has a
/// reserved character, with `"`, `` ` ``, `$` and `\` escaped, and the backslashes of that
/// escaping doubled again for the key's string value.
fn exec_quote(arg: &str) -> String {
    const RESERVED: &[char] = &[
        ' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(',
        ')', '`', '%',
    ];
    if !arg.contains(RESERVED) {
        return arg.to_string();
    }
    let mut quoted = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' => {
                quoted.push_str("\\\\");
                quoted.push(c);
            }
            '\\' => quoted.push_str("\\\\\\\\"),
            '%' => quoted.push_str("%%"),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Writes (`on`) or removes the entry at `path` for `program`.
pub fn apply_at(path: &Path, program: &Path, on: bool) -> AppResult<()> {
    if on {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| AppError::io("cannot create the autostart folder", e))?;
        }
        let tmp = path.with_extension("desktop.tmp");
        std::fs::write(&tmp, entry_text(program))
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| AppError::io("cannot write the autostart entry", e))?;
        tracing::info!(entry = %path.display(), "start at login: on");
    } else {
        match std::fs::remove_file(path) {
            Ok(()) => tracing::info!(entry = %path.display(), "start at login: off"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(AppError::io("cannot remove the autostart entry", e)),
        }
    }
    Ok(())
}

/// Writes or removes this user's entry for the running program (the AppImage when started as
/// one).
#[cfg(target_os = "linux")]
pub fn apply(on: bool) -> AppResult<()> {
    let env = |name: &str| std::env::var(name).ok();
    let path = entry_path(env)
        .ok_or_else(|| AppError::Platform("no home folder: cannot set up start at login".into()))?;
    let program = match env("APPIMAGE").filter(|p| Path::new(p).is_absolute()) {
        Some(appimage) => PathBuf::from(appimage),
        None => std::env::current_exe()
            .map_err(|e| AppError::io("cannot find the PeerDrop program", e))?,
    };
    apply_at(&path, &program, on)
}

/// Not there yet on this platform: turning it on says so, turning it off does nothing.
#[cfg(not(target_os = "linux"))]
pub fn apply(on: bool) -> AppResult<()> {
    if on {
        return Err(AppError::Platform(
            "start at login is not available on this platform yet".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_lives_in_the_xdg_config_folder() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            entry_path(env(&[("HOME", "/home/ana")])),
            Some(PathBuf::from(
                "/home/ana/.config/autostart/peerdrop.desktop"
            ))
        );
        assert_eq!(
            entry_path(env(&[("HOME", "/home/ana"), ("XDG_CONFIG_HOME", "/cfg")])),
            Some(PathBuf::from("/cfg/autostart/peerdrop.desktop"))
        );
        // A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
        assert_eq!(
            entry_path(env(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "rel")])),
            Some(PathBuf::from("/h/.config/autostart/peerdrop.desktop"))
        );
        assert_eq!(entry_path(env(&[])), None);
    }

    #[test]
    fn the_entry_starts_the_program_hidden_and_quotes_odd_paths() {
        let text = entry_text(Path::new("/usr/bin/peerdrop-app"));
        assert!(text.starts_with("[Desktop Entry]\n"));
        assert!(
            text.contains("\nExec=/usr/bin/peerdrop-app --hidden\n"),
            "{text}"
        );
        assert!(text.contains("\nName=PeerDrop\n"));
        let odd = entry_text(Path::new("/opt/My Apps/$peer\"drop"));
        assert!(
            odd.contains("\nExec=\"/opt/My Apps/\\\\$peer\\\\\"drop\" --hidden\n"),
            "{odd}"
        );
    }

    #[test]
    fn turning_it_on_and_off_writes_and_removes_the_file() {
        let home = tempfile::tempdir().unwrap();
        let home_str = home.path().display().to_string();
        let path = entry_path(|name| (name == "HOME").then(|| home_str.clone())).unwrap();
        assert_eq!(path, home.path().join(".config/autostart/peerdrop.desktop"));
        let program = Path::new("/usr/bin/peerdrop-app");
        apply_at(&path, program, true).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written, entry_text(program));
        apply_at(&path, program, true).unwrap();
        apply_at(&path, program, false).unwrap();
        assert!(!path.exists(), "the entry is still there");
        apply_at(&path, program, false).expect("off twice is fine");
    }
}
