//! Devices this one has met and trusted before (trust on first use, then pinned).
//!
//! Kept as JSON in `<home>/known_devices.json`. A device is recognised by its certificate
//! fingerprint, whatever it calls itself now. Device names are chosen by their owners and not
//! authenticated, so a name alone proves nothing; but a *known name* arriving with an
//! *unknown fingerprint* is exactly what an impersonator looks like (or a reinstall), so it is
//! reported as [`Recognition::Changed`] and shown as a loud warning.

use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{create_private_dir, write_private_file, IdentityError};

/// File name of the pinned devices inside the home folder.
pub const KNOWN_DEVICES_FILE: &str = "known_devices.json";

/// Most devices remembered; the oldest are forgotten first.
const MAX_KNOWN: usize = 1000;

/// One pinned device.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct KnownDevice {
    /// Certificate fingerprint (canonical SDP form).
    pub fingerprint: String,
    /// The name it had when it was pinned (or last seen).
    pub name: String,
    /// Unix seconds when it was first pinned.
    pub first_seen: u64,
}

/// What the pinned list says about a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recognition {
    /// This fingerprint was trusted before.
    Known,
    /// Never seen.
    New,
    /// A device by this name was trusted before with another fingerprint.
    Changed {
        /// The fingerprint pinned for that name.
        previous: String,
    },
}

/// The pinned devices of one home folder.
#[derive(Debug, Clone, Default)]
pub struct KnownDevices {
    path: Option<PathBuf>,
    devices: Vec<KnownDevice>,
}

impl KnownDevices {
    /// Loads `<home>/known_devices.json` (missing means none). A damaged file is an error:
    /// silently starting over would turn every changed identity into a "new" one.
    pub fn load(home: &Path) -> Result<KnownDevices, IdentityError> {
        let path = home.join(KNOWN_DEVICES_FILE);
        let devices = match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| IdentityError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(IdentityError::Io {
                    op: "could not read",
                    path,
                    source: e,
                })
            }
        };
        Ok(KnownDevices {
            path: Some(path),
            devices,
        })
    }

    /// An in-memory list that is never saved (ephemeral identities).
    pub fn in_memory() -> KnownDevices {
        KnownDevices::default()
    }

    /// What is known about a device called `name` presenting `fingerprint`.
    pub fn recognise(&self, name: &str, fingerprint: &str) -> Recognition {
        if self.devices.iter().any(|d| d.fingerprint == fingerprint) {
            return Recognition::Known;
        }
        match self.devices.iter().rev().find(|d| d.name == name) {
            Some(d) => Recognition::Changed {
                previous: d.fingerprint.clone(),
            },
            None => Recognition::New,
        }
    }

    /// Pins `fingerprint` under `name`. A device re-pinned under a name that had another
    /// fingerprint replaces that entry (the user accepted the change).
    pub fn remember(&mut self, name: &str, fingerprint: &str) -> Result<(), IdentityError> {
        if let Some(existing) = self
            .devices
            .iter_mut()
            .find(|d| d.fingerprint == fingerprint)
        {
            if existing.name == name {
                return Ok(());
            }
            existing.name = name.to_owned();
        } else {
            self.devices.retain(|d| d.name != name);
            let first_seen = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            self.devices.push(KnownDevice {
                fingerprint: fingerprint.to_owned(),
                name: name.to_owned(),
                first_seen,
            });
            if self.devices.len() > MAX_KNOWN {
                let excess = self.devices.len() - MAX_KNOWN;
                self.devices.drain(..excess);
            }
        }
        self.save()
    }

    /// The pinned devices.
    pub fn devices(&self) -> &[KnownDevice] {
        &self.devices
    }

    fn save(&self) -> Result<(), IdentityError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        let text = serde_json::to_string_pretty(&self.devices).expect("devices serialise");
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        let _ = fs::remove_file(&tmp);
        write_private_file(&tmp, text.as_bytes())?;
        fs::rename(&tmp, path).map_err(|e| IdentityError::Io {
            op: "could not save",
            path: path.clone(),
            source: e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_recognises_known_and_flags_changed() {
        let dir = tempfile::tempdir().unwrap();
        let mut known = KnownDevices::load(dir.path()).unwrap();
        assert_eq!(known.recognise("Ana", "fp-a"), Recognition::New);
        known.remember("Ana", "fp-a").unwrap();
        let reloaded = KnownDevices::load(dir.path()).unwrap();
        assert_eq!(reloaded.recognise("Ana", "fp-a"), Recognition::Known);
        assert_eq!(
            reloaded.recognise("Ana's laptop", "fp-a"),
            Recognition::Known,
            "renaming does not make a device unknown"
        );
        assert_eq!(
            reloaded.recognise("Ana", "fp-evil"),
            Recognition::Changed {
                previous: "fp-a".into()
            }
        );
        assert_eq!(reloaded.recognise("Ben", "fp-b"), Recognition::New);

        // Accepting the change replaces the pin for that name.
        let mut known = reloaded;
        known.remember("Ana", "fp-new").unwrap();
        let reloaded = KnownDevices::load(dir.path()).unwrap();
        assert_eq!(reloaded.recognise("Ana", "fp-new"), Recognition::Known);
        assert_eq!(
            reloaded.recognise("Ana", "fp-a"),
            Recognition::Changed {
                previous: "fp-new".into()
            },
            "the old identity is no longer trusted for that name"
        );
        assert_eq!(reloaded.devices().len(), 1);
    }

    #[test]
    fn a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KNOWN_DEVICES_FILE), "{{{").unwrap();
        assert!(KnownDevices::load(dir.path()).is_err());
    }
}
