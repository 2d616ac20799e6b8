//! Trusted devices: the senders whose offers are accepted without a prompt, kept in
//! `trusted.json` in the app's data folder.
//!
//! A device becomes trusted only when the person ticks "Always accept from …" and accepts
//! its offer; it is keyed by certificate fingerprint. [`TrustedDevices::accepts`] is the one
//! rule: the sender's certificate was pinned before (`known`), it is not a changed identity,
//! and its fingerprint is on the list. So a lookalike name, a reinstalled device and a
//! relay downgrade that hides the certificate all get the prompt.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use peerdrop_app_ipc::TrustedDevice;
use peerdrop_core::machine::receiver::trust::{without_asking, AcceptWithoutAsking, TrustVerdict};
use peerdrop_core::{Decision, Verification};

use crate::error::AppResult;
use crate::json_file;

/// File name inside the data folder.
const FILE_NAME: &str = "trusted.json";

/// The list of trusted devices and where it is kept.
pub struct TrustedDevices {
    /// `None`: kept in memory only (no data folder).
    path: Option<PathBuf>,
    devices: Mutex<Vec<TrustedDevice>>,
}

impl TrustedDevices {
    /// Loads `trusted.json` from `data_dir` (an unreadable file is set aside: nobody trusted).
    pub fn load(data_dir: &Path) -> Self {
        let path = data_dir.join(FILE_NAME);
        let devices = json_file::read_or_set_aside(&path, "trusted devices").unwrap_or_default();
        Self {
            path: Some(path),
            devices: Mutex::new(devices),
        }
    }

    /// An empty list kept in memory only.
    pub fn in_memory() -> Self {
        Self {
            path: None,
            devices: Mutex::new(Vec::new()),
        }
    }

    /// Whether an offer verified as `verification` is accepted without asking.
    pub fn accepts(&self, verification: Option<&Verification>) -> bool {
        let listed = verification.is_some_and(|v| {
            self.devices
                .lock()
                .expect("trust lock")
                .iter()
                .any(|d| d.fingerprint == v.fingerprint)
        });
        // The one trust rule (never a changed identity, only a pinned certificate).
        without_asking(verification, AcceptWithoutAsking::Listed { listed })
            == TrustVerdict::Decided(Decision::Accept)
    }

    /// Trusts the device that presented `verification` under `name`. Refuses (returns
    /// `false`, changes nothing) for a changed identity or one without a certificate.
    pub fn trust(&self, verification: &Verification, name: &str, now_ms: u64) -> AppResult<bool> {
        if verification.changed || verification.fingerprint.is_empty() {
            return Ok(false);
        }
        let mut devices = self.devices.lock().expect("trust lock");
        devices.retain(|d| d.fingerprint != verification.fingerprint);
        devices.push(TrustedDevice {
            fingerprint: verification.fingerprint.clone(),
            name: name.to_string(),
            since_ms: now_ms,
        });
        self.write(&devices)?;
        Ok(true)
    }

    /// Stops trusting the device with `fingerprint` (its offers are asked about again).
    pub fn forget(&self, fingerprint: &str) -> AppResult<()> {
        let mut devices = self.devices.lock().expect("trust lock");
        devices.retain(|d| d.fingerprint != fingerprint);
        self.write(&devices)
    }

    /// The trusted devices, in the order they were trusted.
    pub fn list(&self) -> Vec<TrustedDevice> {
        self.devices.lock().expect("trust lock").clone()
    }

    fn write(&self, devices: &Vec<TrustedDevice>) -> AppResult<()> {
        match &self.path {
            Some(path) => json_file::write_atomic(path, devices, "the trusted devices"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(fingerprint: &str, known: bool, changed: bool) -> Verification {
        Verification {
            phrase: "a b c d".into(),
            known,
            changed,
            fingerprint: fingerprint.into(),
        }
    }

    #[test]
    fn only_a_known_unchanged_certificate_on_the_list_is_accepted_without_asking() {
        let dir = tempfile::tempdir().unwrap();
        let trusted = TrustedDevices::load(dir.path());
        let ben = seen("aa:bb", true, false);
        assert!(!trusted.accepts(Some(&ben)), "nobody is trusted at first");
        assert!(trusted.trust(&ben, "Ben's phone", 1).unwrap());

        let reloaded = TrustedDevices::load(dir.path());
        assert!(reloaded.accepts(Some(&ben)), "kept across restarts");
        assert!(!reloaded.accepts(None), "no verification, no trust");
        assert!(
            !reloaded.accepts(Some(&seen("aa:bb", true, true))),
            "a changed identity is asked about"
        );
        assert!(
            !reloaded.accepts(Some(&seen("aa:bb", false, false))),
            "a certificate not pinned (e.g. over an unproven path) is asked about"
        );
        assert!(
            !reloaded.accepts(Some(&seen("cc:dd", true, false))),
            "another device under the same name is asked about"
        );

        reloaded.forget("aa:bb").unwrap();
        assert!(!TrustedDevices::load(dir.path()).accepts(Some(&ben)));
    }

    #[test]
    fn a_changed_identity_is_never_trusted() {
        let trusted = TrustedDevices::in_memory();
        assert!(!trusted.trust(&seen("aa:bb", true, true), "Ben", 1).unwrap());
        assert!(!trusted.trust(&seen("", false, false), "Ben", 1).unwrap());
        assert!(trusted.list().is_empty());
    }
}
