//! Devices this one has met and trusted before (trust on first use, then pinned).
//!
//! Kept as JSON in `<home>/known_devices.json`. A pin *is* a certificate fingerprint: a device
//! is recognised by its fingerprint whatever it calls itself now, and a pin is only ever
//! added, never replaced — a new certificate under a known name is a second pin that the
//! person confirmed, not a silent overwrite of the first.
//!
//! Names are chosen by their owners and prove nothing, but they are what people read, so they
//! are compared as people read them ([`peerdrop_proto::device_name::looks_like`]: case,
//! invisible characters, NFKC and confusable letters do not make two names different). That
//! gives the two warnings:
//! - an *unknown* fingerprint under a name that looks like a pinned device's name is what an
//!   impersonator looks like (or a reinstall): [`Recognition::Changed`], a loud warning that
//!   no `--yes` waves through;
//! - a *pinned* fingerprint under another name is that device renamed:
//!   [`Recognition::Renamed`], shown under the name it was pinned with, so a device trusted
//!   once as "Stranger" cannot pass for "Laptop-A" by renaming itself.

use peerdrop_proto::device_name::{display_form, looks_like};
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
    /// Certificate fingerprint (canonical SDP form): what the pin is.
    pub fingerprint: String,
    /// The name it had when it was pinned (display form); kept, so a renamed device is
    /// still shown as what the person trusted.
    pub name: String,
    /// Unix seconds when it was first pinned.
    pub first_seen: u64,
}

/// What the pinned list says about a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recognition {
    /// This fingerprint was trusted before under a name that looks like the one it uses now.
    Known,
    /// This fingerprint was trusted before, under another name: it is that device, renamed.
    Renamed {
        /// The name it was pinned with, the one to show.
        pinned_as: String,
    },
    /// Never seen.
    New,
    /// A device with a name like this one was trusted before with another fingerprint.
    Changed {
        /// The fingerprint pinned for that name.
        previous: String,
        /// The name that pin was made under.
        pinned_as: String,
    },
}

impl Recognition {
    /// Whether the certificate itself was trusted before.
    pub fn is_pinned(&self) -> bool {
        matches!(self, Recognition::Known | Recognition::Renamed { .. })
    }
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
        if let Some(pinned) = self.devices.iter().find(|d| d.fingerprint == fingerprint) {
            return if looks_like(&pinned.name, name) {
                Recognition::Known
            } else {
                Recognition::Renamed {
                    pinned_as: pinned.name.clone(),
                }
            };
        }
        self.recognise_unproved(name)
    }

    /// What is known about a device called `name` whose fingerprint nobody proved (or that
    /// no pin holds): it cannot be shown as any pinned device, so a name like a pinned one is
    /// `Changed`.
    pub fn recognise_unproved(&self, name: &str) -> Recognition {
        match self
            .devices
            .iter()
            .rev()
            .find(|d| looks_like(&d.name, name))
        {
            Some(d) => Recognition::Changed {
                previous: d.fingerprint.clone(),
                pinned_as: d.name.clone(),
            },
            None => Recognition::New,
        }
    }

    /// Pins `fingerprint` under `name`, unless it is pinned already (its first name stays).
    /// Pins of other fingerprints are never touched: the person confirming a changed
    /// identity adds a pin, it does not take the old device's away.
    pub fn remember(&mut self, name: &str, fingerprint: &str) -> Result<(), IdentityError> {
        if self.devices.iter().any(|d| d.fingerprint == fingerprint) {
            return Ok(());
        }
        let first_seen = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.devices.push(KnownDevice {
            fingerprint: fingerprint.to_owned(),
            name: display_form(name),
            first_seen,
        });
        if self.devices.len() > MAX_KNOWN {
            let excess = self.devices.len() - MAX_KNOWN;
            self.devices.drain(..excess);
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
            reloaded.recognise("Ana", "fp-evil"),
            Recognition::Changed {
                previous: "fp-a".into(),
                pinned_as: "Ana".into()
            }
        );
        assert_eq!(reloaded.recognise("Ben", "fp-b"), Recognition::New);
    }

    #[test]
    fn a_confirmed_change_adds_a_pin_and_never_replaces_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut known = KnownDevices::load(dir.path()).unwrap();
        known.remember("Ana", "fp-a").unwrap();
        known.remember("Ana", "fp-new").unwrap();
        let reloaded = KnownDevices::load(dir.path()).unwrap();
        assert_eq!(reloaded.recognise("Ana", "fp-new"), Recognition::Known);
        assert_eq!(
            reloaded.recognise("Ana", "fp-a"),
            Recognition::Known,
            "the device trusted first is still trusted"
        );
        assert_eq!(reloaded.devices().len(), 2);
    }

    #[test]
    fn a_lookalike_name_with_a_new_certificate_is_a_changed_identity() {
        let mut known = KnownDevices::in_memory();
        known.remember("Laptop-A", "fp-a").unwrap();
        for lookalike in [
            "laptop-a",
            "Laptop\u{200B}-A",
            "L\u{0430}ptop-A",
            " LAPTOP-A",
        ] {
            assert_eq!(
                known.recognise(lookalike, "fp-evil"),
                Recognition::Changed {
                    previous: "fp-a".into(),
                    pinned_as: "Laptop-A".into()
                },
                "{lookalike:?}"
            );
        }
        assert_eq!(known.recognise("Laptop-B", "fp-evil"), Recognition::New);
    }

    #[test]
    fn a_device_pinned_as_a_stranger_cannot_rename_itself_into_a_known_device() {
        let mut known = KnownDevices::in_memory();
        known.remember("Laptop-A", "fp-a").unwrap();
        known.remember("Stranger", "fp-s").unwrap();
        assert_eq!(
            known.recognise("Laptop-A", "fp-s"),
            Recognition::Renamed {
                pinned_as: "Stranger".into()
            },
            "shown as the device it was pinned as, not as Known under the new name"
        );
        known.remember("Laptop-A", "fp-s").unwrap();
        assert_eq!(
            known.recognise("Laptop-A", "fp-s"),
            Recognition::Renamed {
                pinned_as: "Stranger".into()
            },
            "remembering again does not adopt the new name"
        );
        assert_eq!(known.recognise("stranger", "fp-s"), Recognition::Known);
    }

    #[test]
    fn pins_are_stored_under_the_name_as_shown() {
        let mut known = KnownDevices::in_memory();
        known
            .remember("Ana\u{202E}\u{200B} laptop", "fp-a")
            .unwrap();
        assert_eq!(known.devices()[0].name, "Ana laptop");
    }

    #[test]
    fn a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KNOWN_DEVICES_FILE), "{{{").unwrap();
        assert!(KnownDevices::load(dir.path()).is_err());
    }
}
