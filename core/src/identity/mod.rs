//! Who a device is: a persistent DTLS certificate, the verification phrase two devices
//! compare, and the devices this one has met before.
//!
//! - [`Identity`]: the device's own certificate (ECDSA P-256, self-signed), kept in
//!   `<home>/identity.pem` (0600; home is `$PEERDROP_HOME`, else the platform's config folder,
//!   see [`home_from_vars`]). Every peer connection presents it, so the other side sees the same
//!   fingerprint on every transfer.
//! - [`sas`]: the short authentication string. Both sides hash *both* DTLS fingerprints (their
//!   own, and the one the other side's DTLS handshake actually proved) together with two
//!   nonces from a commit–reveal handshake; a man in the middle terminates two DTLS sessions
//!   with its own certificate(s), so the two phrases differ. [`phrase`] is the plain
//!   two-fingerprint form for other carriers (e.g. the fallback relay).
//! - [`known`]: pinned devices (trust on first use): a device whose fingerprint was accepted
//!   before is recognised; a device *name* seen before with a different fingerprint is a loud
//!   warning.
//!
//! Fingerprints are written as the SDP `a=fingerprint` value: SHA-256 of the certificate's
//! DER, lowercase hex bytes joined with `:`.

pub mod known;
pub mod nonce;
pub mod pairing;
/// The verification phrase lives with the machines that run its handshake.
pub use peerdrop_machine::sas;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;
use webrtc::peer_connection::crypto::{default_provider, HashAlgorithm, SignatureScheme};
use webrtc::peer_connection::RTCCertificate;

pub use known::{KnownDevices, Recognition};
pub use peerdrop_machine::fingerprint::normalize_fingerprint;
pub mod proof;
pub use sas::phrase;

/// File name of the device certificate (with its private key) inside the home folder.
pub const IDENTITY_FILE: &str = "identity.pem";

/// Variable that overrides the home folder ([`home_from_vars`]).
pub const HOME_ENV: &str = "PEERDROP_HOME";

/// Why the identity could not be loaded or created.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// Reading or writing the home folder failed.
    #[error("{op} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The identity file exists but cannot be used. It is never replaced silently: a new
    /// certificate would make every pinned device warn that this device changed.
    #[error("device identity {} is unusable ({reason}); move it away to create a new identity (devices that know this one will then warn that it changed)", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Certificate generation or hashing failed.
    #[error("cannot create a device certificate: {0}")]
    Crypto(String),
    /// The peer's certificate could not be read from the DTLS handshake, or is not the one it
    /// announced.
    #[error("{0}")]
    PeerCertificate(String),
    /// No home folder was given, and none could be determined (no `PEERDROP_HOME`, no `HOME`).
    #[error("no folder to keep the device identity in: set PEERDROP_HOME")]
    NoHome,
}

/// This device's certificate and its fingerprint.
#[derive(Clone)]
pub struct Identity {
    certificate: RTCCertificate,
    fingerprint: String,
    home: Option<PathBuf>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the certificate itself: its Debug would include the private key.
        f.debug_struct("Identity")
            .field("fingerprint", &self.fingerprint)
            .field("home", &self.home)
            .finish()
    }
}

impl Identity {
    /// Loads `<home>/identity.pem`, or creates it (and `home`, 0700) on first use. Two
    /// processes starting at once agree on one identity: the file is published with a
    /// no-replace link, and the loser loads the winner's.
    pub fn load_or_create(home: &Path) -> Result<Identity, IdentityError> {
        let path = home.join(IDENTITY_FILE);
        match fs::read_to_string(&path) {
            Ok(pem) => return Self::from_pem(&pem, &path, home),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(IdentityError::Io {
                    op: "could not read",
                    path,
                    source: e,
                })
            }
        }
        create_private_dir(home)?;
        let fresh = generate_certificate()?;
        let pem = fresh
            .serialize_pem()
            .map_err(|e| IdentityError::Crypto(e.to_string()))?;
        let tmp = home.join(format!(".{IDENTITY_FILE}.{}.tmp", std::process::id()));
        write_private_file(&tmp, pem.as_bytes())?;
        let published = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match published {
            Ok(()) => {
                tracing::info!(path = %path.display(), "created a new device identity");
                Self::from_certificate(fresh, Some(home.to_owned()))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let pem = fs::read_to_string(&path).map_err(|e| IdentityError::Io {
                    op: "could not read",
                    path: path.clone(),
                    source: e,
                })?;
                Self::from_pem(&pem, &path, home)
            }
            Err(e) => Err(IdentityError::Io {
                op: "could not save",
                path,
                source: e,
            }),
        }
    }

    /// The identity an app shares with the CLI on the same machine: the one in `shared` (the
    /// CLI's home, [`home_from_vars`]), so both are one device to everyone else. An app that
    /// made an identity of its own earlier, in `own`, keeps it — devices that pinned the app
    /// must see no change: when `shared` has none yet, the app's (with its pinned devices) is
    /// copied there first; when both exist and differ, the app's own is used and the
    /// difference logged.
    pub fn load_shared(shared: &Path, own: &Path) -> Result<Identity, IdentityError> {
        let own_pem = own.join(IDENTITY_FILE);
        if !own_pem.exists() {
            return Self::load_or_create(shared);
        }
        if !shared.join(IDENTITY_FILE).exists() {
            create_private_dir(shared)?;
            copy_no_replace(&own_pem, &shared.join(IDENTITY_FILE))?;
            let own_known = own.join(known::KNOWN_DEVICES_FILE);
            if own_known.exists() {
                copy_no_replace(&own_known, &shared.join(known::KNOWN_DEVICES_FILE))?;
            }
            tracing::info!(from = %own.display(), to = %shared.display(), "device identity now shared with the command line");
        }
        let shared_identity = Self::load_or_create(shared)?;
        let own_identity = Self::load_or_create(own)?;
        if shared_identity.fingerprint() != own_identity.fingerprint() {
            tracing::warn!(
                app = %own.display(),
                cli = %shared.display(),
                "the app and the command line have different device identities; the app keeps its own (changing it would make every device that trusts it warn)"
            );
            return Ok(own_identity);
        }
        Ok(shared_identity)
    }

    /// A throw-away identity that lives only in memory (tests, or a device without storage).
    pub fn ephemeral() -> Result<Identity, IdentityError> {
        Self::from_certificate(generate_certificate()?, None)
    }

    fn from_pem(pem: &str, path: &Path, home: &Path) -> Result<Identity, IdentityError> {
        let provider = default_provider().map_err(|e| IdentityError::Crypto(e.to_string()))?;
        let certificate = RTCCertificate::from_pem(pem, provider.crypto()).map_err(|e| {
            IdentityError::Corrupt {
                path: path.to_owned(),
                reason: e.to_string(),
            }
        })?;
        if certificate.expires < std::time::SystemTime::now() {
            return Err(IdentityError::Corrupt {
                path: path.to_owned(),
                reason: "the certificate has expired".into(),
            });
        }
        Self::from_certificate(certificate, Some(home.to_owned()))
    }

    fn from_certificate(
        certificate: RTCCertificate,
        home: Option<PathBuf>,
    ) -> Result<Identity, IdentityError> {
        let der = certificate
            .dtls_certificate
            .certificate
            .first()
            .ok_or_else(|| IdentityError::Crypto("certificate without DER".into()))?;
        let fingerprint = fingerprint_of_der(der.as_ref())?;
        Ok(Identity {
            certificate,
            fingerprint,
            home,
        })
    }

    /// SHA-256 fingerprint of the certificate, as in SDP (`ab:cd:...`, lowercase).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The certificate to hand to every peer connection.
    pub fn certificate(&self) -> &RTCCertificate {
        &self.certificate
    }

    /// The folder the identity lives in (`None` for an ephemeral identity).
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }
}

fn generate_certificate() -> Result<RTCCertificate, IdentityError> {
    let provider = default_provider().map_err(|e| IdentityError::Crypto(e.to_string()))?;
    let params = rcgen::CertificateParams::new(vec!["peerdrop".to_owned()])
        .map_err(|e| IdentityError::Crypto(e.to_string()))?;
    RTCCertificate::generate(provider.crypto(), SignatureScheme::EcdsaP256Sha256, params)
        .map_err(|e| IdentityError::Crypto(e.to_string()))
}

/// A device's identity together with the devices it trusts: what a transfer needs to derive
/// the phrase and to recognise (and later remember) the other side.
#[derive(Debug)]
pub struct Trust {
    identity: Identity,
    known: std::sync::Mutex<KnownDevices>,
    /// Counts pins added while running, so a node can watch the new device's pairing tag at
    /// once ([`Trust::pins_changed`]).
    pins: tokio::sync::watch::Sender<u64>,
}

impl Trust {
    /// `identity` with the devices pinned in its home folder (none for an ephemeral identity).
    pub fn load(identity: Identity) -> Result<Trust, IdentityError> {
        let known = match identity.home() {
            Some(home) => KnownDevices::load(home)?,
            None => KnownDevices::in_memory(),
        };
        Ok(Trust {
            identity,
            known: std::sync::Mutex::new(known),
            pins: tokio::sync::watch::Sender::new(0),
        })
    }

    /// This device's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// What is known about a device called `name` presenting `fingerprint`, which is
    /// `proved` (DTLS, or the relay's identity proof) or only claimed. A claimed fingerprint is
    /// never a pinned device, and `Changed` if its name looks like one.
    pub fn recognise_peer(&self, name: &str, fingerprint: &str, proved: bool) -> Recognition {
        self.known
            .lock()
            .map(|k| {
                if proved {
                    k.recognise(name, fingerprint)
                } else {
                    k.recognise_unproved(name)
                }
            })
            .unwrap_or(Recognition::New)
    }

    /// Pins `fingerprint` for `name` (the person went ahead with this device). Failing to
    /// save is logged, not fatal: the transfer itself is fine.
    pub fn remember(&self, name: &str, fingerprint: &str) {
        let added = match self.known.lock() {
            Ok(mut known) => {
                let pinned_before = known.devices().iter().any(|d| d.fingerprint == fingerprint);
                if let Err(e) = known.remember(name, fingerprint) {
                    tracing::warn!("could not remember device {name:?}: {e}");
                }
                !pinned_before && known.devices().iter().any(|d| d.fingerprint == fingerprint)
            }
            Err(_) => false,
        };
        if added {
            self.pins.send_modify(|n| *n += 1);
        }
    }

    /// Changes whenever a device is pinned while running (see [`Trust::pairing_watches`]).
    pub fn pins_changed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.pins.subscribe()
    }

    /// What this device watches for on a server: one pairing tag per pinned device, the
    /// newest 256 (see [`pairing`]).
    pub fn pairing_watches(&self) -> Vec<pairing::PairingWatch> {
        self.known
            .lock()
            .map(|k| {
                pairing::pairing_watches(
                    self.identity.fingerprint(),
                    k.devices()
                        .iter()
                        .map(|d| (d.fingerprint.as_str(), d.name.as_str())),
                )
            })
            .unwrap_or_default()
    }

    /// The phrase and what is known about the peer, as the event front ends show.
    /// `binding` is `Some` on the encrypted relay (see [`sas::bound_transfer_phrase`]): the
    /// phrase then also binds that channel. `proved` says whether `remote_fp` was proved (by
    /// DTLS, or by the relay's identity proof); an unproved fingerprint never shows as
    /// `known`, and under a pinned device's name it shows as `changed`.
    pub fn verify_event(
        &self,
        peer: &str,
        remote_fp: &str,
        sender_nonce: &str,
        receiver_nonce: &str,
        binding: Option<&str>,
        proved: bool,
    ) -> peerdrop_proto::events::TransferEvent {
        let phrase = sas::bound_transfer_phrase(
            self.identity.fingerprint(),
            remote_fp,
            sender_nonce,
            receiver_nonce,
            binding,
        );
        let recognition = self.recognise_peer(peer, remote_fp, proved);
        if let Recognition::Changed {
            previous,
            pinned_as,
        } = &recognition
        {
            tracing::warn!(
                peer,
                pinned_as = %pinned_as,
                previous = %previous,
                now = %remote_fp,
                "the identity of a device you trusted before has CHANGED: compare the verification phrase before going on"
            );
        }
        let pinned_as = match &recognition {
            Recognition::Renamed { pinned_as } | Recognition::Changed { pinned_as, .. } => {
                Some(pinned_as.clone())
            }
            Recognition::Known | Recognition::New => None,
        };
        peerdrop_proto::events::TransferEvent::Verify {
            phrase,
            known: recognition.is_pinned(),
            peer: peerdrop_proto::device_name::display_form(peer),
            changed: matches!(recognition, Recognition::Changed { .. }),
            fingerprint: remote_fp.to_owned(),
            pinned_as,
        }
    }
}

/// Where the identity and the pinned devices live: `$PEERDROP_HOME`, else `%APPDATA%\peerdrop`
/// on Windows, `~/Library/Application Support/peerdrop` on macOS, and
/// `$XDG_CONFIG_HOME/peerdrop` or `~/.config/peerdrop` elsewhere. Mobile apps pass their own
/// app-private folder to [`Identity::load_or_create`] instead. `vars` is the environment,
/// read by the front end ([`crate::vars`]).
pub fn home_from_vars(vars: crate::vars::Vars<'_>) -> Option<PathBuf> {
    let env = |name: &str| vars(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(home) = env(HOME_ENV) {
        return Some(home);
    }
    if cfg!(windows) {
        return env("APPDATA").map(|d| d.join("peerdrop"));
    }
    if cfg!(target_os = "macos") {
        return env("HOME").map(|h| h.join("Library/Application Support/peerdrop"));
    }
    env("XDG_CONFIG_HOME")
        .map(|d| d.join("peerdrop"))
        .or_else(|| env("HOME").map(|h| h.join(".config").join("peerdrop")))
}

/// SHA-256 fingerprint of a DER certificate, in SDP form (lowercase hex, `:`-separated).
pub fn fingerprint_of_der(der: &[u8]) -> Result<String, IdentityError> {
    let provider = default_provider().map_err(|e| IdentityError::Crypto(e.to_string()))?;
    let digest = provider
        .crypto()
        .hash(HashAlgorithm::Sha256, der)
        .map_err(|e| IdentityError::Crypto(e.to_string()))?;
    Ok(hex_with_colons(&digest))
}

fn hex_with_colons(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The `sha-256` fingerprint(s) an SDP announces (`a=fingerprint:sha-256 AB:CD:...`), in
/// canonical form. The DTLS stack refuses a handshake whose certificate does not match, so
/// the fingerprint in the remote description is the one the remote side proved it holds.
pub fn sdp_fingerprints(sdp: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for line in sdp.lines() {
        let Some(rest) = line.trim().strip_prefix("a=fingerprint:") else {
            continue;
        };
        let mut it = rest.split_whitespace();
        let (Some(algo), Some(value)) = (it.next(), it.next()) else {
            continue;
        };
        if !algo.eq_ignore_ascii_case("sha-256") {
            continue;
        }
        if let Some(fp) = normalize_fingerprint(value) {
            if !found.contains(&fp) {
                found.push(fp);
            }
        }
    }
    found
}

/// Fingerprint of the certificate the remote side proved in `pc`'s DTLS handshake, checked
/// against the remote description's `a=fingerprint` (the DTLS stack already refuses a
/// mismatch; this makes sure the phrase is computed from what was actually authenticated).
pub async fn remote_fingerprint(
    pc: &dyn webrtc::peer_connection::PeerConnection,
) -> Result<String, IdentityError> {
    let unproved = |why: String| IdentityError::PeerCertificate(why);
    let sctp = pc
        .sctp()
        .await
        .ok_or_else(|| unproved("no SCTP transport to read the peer's certificate from".into()))?;
    let chain = sctp
        .transport()
        .get_remote_certificates()
        .await
        .map_err(|e| unproved(format!("reading the peer's certificate: {e}")))?;
    let der = chain
        .first()
        .ok_or_else(|| unproved("the peer presented no certificate".into()))?;
    let fingerprint = fingerprint_of_der(der)?;
    let announced = pc
        .remote_description()
        .await
        .map(|d| sdp_fingerprints(&d.sdp))
        .unwrap_or_default();
    if !announced.is_empty() && !announced.contains(&fingerprint) {
        return Err(unproved(
            "the peer's DTLS certificate does not match the fingerprint it announced".into(),
        ));
    }
    Ok(fingerprint)
}

/// Copies `from` to `to` privately, never replacing a `to` that appeared meanwhile (another
/// process published it first: that one stands).
fn copy_no_replace(from: &Path, to: &Path) -> Result<(), IdentityError> {
    let io_err = |op, path: &Path| {
        let path = path.to_owned();
        move |source| IdentityError::Io { op, path, source }
    };
    let bytes = fs::read(from).map_err(io_err("could not read", from))?;
    let name = to.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = to.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    write_private_file(&tmp, &bytes)?;
    let published = fs::hard_link(&tmp, to);
    let _ = fs::remove_file(&tmp);
    match published {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err("could not save", to)(e)),
    }
}

/// Creates `dir` (and parents) private to the owner (0700 on Unix).
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), IdentityError> {
    let io_err = |source| IdentityError::Io {
        op: "could not create folder",
        path: dir.to_owned(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir).map_err(io_err)
    }
}

/// Writes a new file readable only by the owner (0600 on Unix); fails if it exists.
pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), IdentityError> {
    let io_err = |source| IdentityError::Io {
        op: "could not write",
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_err)?;
    file.write_all(bytes).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_shares_the_command_lines_identity_and_keeps_one_it_already_had() {
        let root = tempfile::tempdir().unwrap();
        let (cli, app) = (root.path().join("cli"), root.path().join("app"));
        // A fresh machine: one identity for both, made in the CLI's home.
        let shared = Identity::load_shared(&cli, &app).unwrap();
        assert_eq!(shared.home(), Some(cli.as_path()));
        let by_cli = Identity::load_or_create(&cli).unwrap();
        assert_eq!(shared.fingerprint(), by_cli.fingerprint());
        assert!(!app.join(IDENTITY_FILE).exists());

        // An app that made its own identity before (and pinned a device) keeps both, now shared.
        let (cli2, app2) = (root.path().join("cli2"), root.path().join("app2"));
        let before = Identity::load_or_create(&app2).unwrap();
        fs::write(app2.join(known::KNOWN_DEVICES_FILE), b"[]").unwrap();
        let after = Identity::load_shared(&cli2, &app2).unwrap();
        assert_eq!(
            after.fingerprint(),
            before.fingerprint(),
            "peers see no change"
        );
        assert_eq!(
            Identity::load_or_create(&cli2).unwrap().fingerprint(),
            before.fingerprint(),
            "the CLI is now the same device"
        );
        assert!(cli2.join(known::KNOWN_DEVICES_FILE).exists());

        // Both had one of their own: the app keeps its own.
        let (cli3, app3) = (root.path().join("cli3"), root.path().join("app3"));
        let cli_own = Identity::load_or_create(&cli3).unwrap();
        let app_own = Identity::load_or_create(&app3).unwrap();
        let chosen = Identity::load_shared(&cli3, &app3).unwrap();
        assert_eq!(chosen.fingerprint(), app_own.fingerprint());
        assert_ne!(chosen.fingerprint(), cli_own.fingerprint());
    }

    #[test]
    fn the_home_folder_comes_from_the_variables_given() {
        let home = |pairs| home_from_vars(&crate::vars::from_pairs(pairs));
        assert_eq!(
            home(&[(HOME_ENV, "/srv/pd"), ("HOME", "/home/ann")]),
            Some(PathBuf::from("/srv/pd"))
        );
        assert_eq!(home(&[]), None);
        if cfg!(all(unix, not(target_os = "macos"))) {
            assert_eq!(
                home(&[(HOME_ENV, ""), ("HOME", "/home/ann")]),
                Some(PathBuf::from("/home/ann/.config/peerdrop")),
                "an empty override is no override"
            );
            assert_eq!(
                home(&[("XDG_CONFIG_HOME", "/cfg"), ("HOME", "/home/ann")]),
                Some(PathBuf::from("/cfg/peerdrop"))
            );
        }
    }

    #[test]
    fn identity_persists_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("nested").join("home");
        let first = Identity::load_or_create(&home).unwrap();
        let again = Identity::load_or_create(&home).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert_eq!(first.certificate(), again.certificate());
        assert!(normalize_fingerprint(first.fingerprint()).is_some());
        assert_eq!(again.home(), Some(home.as_path()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file_mode = fs::metadata(home.join(IDENTITY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                file_mode & 0o777,
                0o600,
                "private key readable by owner only"
            );
            let dir_mode = fs::metadata(&home).unwrap().permissions().mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }
        let other = Identity::ephemeral().unwrap();
        assert_ne!(other.fingerprint(), first.fingerprint());
        assert!(!format!("{first:?}").contains("PRIVATE"), "no key in Debug");
    }

    #[test]
    fn a_corrupt_identity_is_an_error_not_silently_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(IDENTITY_FILE), "garbage").unwrap();
        let err = Identity::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, IdentityError::Corrupt { .. }), "{err}");
        assert_eq!(
            fs::read_to_string(dir.path().join(IDENTITY_FILE)).unwrap(),
            "garbage"
        );
    }

    #[test]
    fn sdp_fingerprints_are_parsed_and_normalised() {
        let fp = (0..32)
            .map(|i| format!("{i:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        let sdp = format!(
            "v=0\r\na=fingerprint:sha-256 {fp}\r\nm=application 9\r\na=fingerprint:SHA-256 {fp}\r\na=fingerprint:sha-1 00:11\r\n"
        );
        assert_eq!(sdp_fingerprints(&sdp), vec![fp.to_ascii_lowercase()]);
        assert!(sdp_fingerprints("a=fingerprint:sha-256 zz").is_empty());
        assert_eq!(normalize_fingerprint("ab:cd"), None);
    }

    #[test]
    fn a_new_pin_changes_the_pairing_tags_and_says_so_once() {
        let dir = tempfile::tempdir().unwrap();
        let trust = Trust::load(Identity::load_or_create(dir.path()).unwrap()).unwrap();
        let mut changed = trust.pins_changed();
        assert!(trust.pairing_watches().is_empty());
        let peer_fp = Identity::ephemeral().unwrap().fingerprint().to_owned();
        trust.remember("Ana's laptop", &peer_fp);
        assert!(changed.has_changed().unwrap());
        changed.borrow_and_update();
        let own = trust.identity().fingerprint();
        let watches = trust.pairing_watches();
        assert_eq!(
            watches.iter().map(|w| &w.tag).collect::<Vec<_>>(),
            [&pairing::pairing_tag(own, &peer_fp).unwrap()]
        );
        assert_eq!(watches[0].pinned_as, "Ana's laptop");
        trust.remember("Ana's laptop", &peer_fp);
        assert!(!changed.has_changed().unwrap(), "no new pin, no news");
        // The pin is on disk: another process of this device watches the same tag.
        let again = Trust::load(Identity::load_or_create(dir.path()).unwrap()).unwrap();
        assert_eq!(again.pairing_watches(), trust.pairing_watches());
    }

    #[test]
    fn a_claimed_fingerprint_is_never_shown_as_known() {
        let dir = tempfile::tempdir().unwrap();
        let trust = Trust::load(Identity::load_or_create(dir.path()).unwrap()).unwrap();
        let peer_fp = Identity::ephemeral().unwrap().fingerprint().to_owned();
        trust.remember("Ana's laptop", &peer_fp);
        let (n1, n2) = (
            crate::identity::nonce::new_nonce(),
            crate::identity::nonce::new_nonce(),
        );
        let proved = trust.verify_event("Ana's laptop", &peer_fp, &n1, &n2, None, true);
        let claimed = trust.verify_event("Ana's laptop", &peer_fp, &n1, &n2, Some("ab12"), false);
        let relay_proved =
            trust.verify_event("Ana's laptop", &peer_fp, &n1, &n2, Some("ab12"), true);
        use peerdrop_proto::events::TransferEvent::Verify;
        let (
            Verify {
                known: k1,
                phrase: p1,
                ..
            },
            Verify {
                known: k2,
                changed: c2,
                phrase: p2,
                ..
            },
            Verify { known: k3, .. },
        ) = (proved, claimed, relay_proved)
        else {
            panic!("verify events expected");
        };
        assert!(k1, "a proved, pinned fingerprint is known");
        assert!(!k2, "an unproved fingerprint is never known");
        assert!(
            c2,
            "under a pinned device's name an unproved one is a changed identity"
        );
        assert!(k3, "a relay peer that proved its certificate is known");
        assert_ne!(p1, p2, "the relay's binding is part of the phrase");
    }

    #[test]
    fn der_fingerprint_matches_the_certificate_fingerprint() {
        let id = Identity::ephemeral().unwrap();
        let provider = default_provider().unwrap();
        let fps = id
            .certificate()
            .get_fingerprints(provider.crypto())
            .unwrap();
        assert_eq!(fps[0].value, id.fingerprint());
    }
}
