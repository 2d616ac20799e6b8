//! TLS for `wss://` signaling servers: which certificate authorities this device trusts, and
//! what a refused certificate means in words.
//!
//! The trust roots are read once, by whoever starts the engine (the CLI's argument parsing,
//! the app's start-up), and handed down in [`crate::NodeConfig`]; nothing below reads the
//! environment. TLS is rustls with the `ring` provider (the same one WebRTC's DTLS uses).

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tracing::{debug, warn};

/// The certificate authorities this device trusts for `wss://` servers, as one rustls client
/// configuration shared by every connection.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    roots: usize,
    /// Why the store is empty, when it is: an empty store refuses every server, and the
    /// refusal then says why instead of "unknown issuer".
    empty_because: Option<String>,
}

impl ClientTls {
    /// The operating system's certificate store, read now. `SSL_CERT_FILE` / `SSL_CERT_DIR`,
    /// when set, replace it (rustls-native-certs reads only them then), which is how a private
    /// CA or a test CA is given.
    pub fn system() -> Self {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            warn!(%error, "while reading the trusted certificate authorities");
        }
        let found = loaded.certs.len();
        let tls = Self::build(loaded.certs);
        debug!(
            found,
            usable = tls.roots,
            "trusted certificate authorities loaded"
        );
        if tls.roots > 0 {
            return tls;
        }
        let why = match loaded.errors.first() {
            Some(error) => format!("none could be read: {error}"),
            None if found > 0 => format!("none of the {found} found is usable"),
            None => "none found (install ca-certificates, or set SSL_CERT_FILE)".to_string(),
        };
        tls.empty(why)
    }

    /// Exactly these authorities (DER), e.g. a private deployment's own CA.
    pub fn with_roots(roots: impl IntoIterator<Item = CertificateDer<'static>>) -> Self {
        let tls = Self::build(roots.into_iter().collect());
        if tls.roots == 0 {
            return tls.empty("none of the given ones is usable".to_string());
        }
        tls
    }

    /// No authorities at all, for a front end that only ever uses `ws://`: a `wss://` server
    /// is then refused, saying so.
    pub fn none() -> Self {
        Self::build(Vec::new()).empty("none were loaded".to_string())
    }

    /// How many authorities are trusted.
    pub fn roots(&self) -> usize {
        self.roots
    }

    /// The rustls configuration for a connection.
    pub fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// Why nothing is trusted, when nothing is.
    pub fn empty_because(&self) -> Option<&str> {
        self.empty_because.as_deref()
    }

    fn build(certs: Vec<CertificateDer<'static>>) -> Self {
        let mut store = RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(certs);
        if ignored > 0 {
            debug!(ignored, "unusable certificate authorities skipped");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(store)
            .with_no_client_auth();
        Self {
            config: Arc::new(config),
            roots: added,
            empty_because: None,
        }
    }

    fn empty(mut self, why: String) -> Self {
        self.empty_because = Some(why);
        self
    }
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("roots", &self.roots)
            .field("empty_because", &self.empty_because)
            .finish()
    }
}

/// Why a server's certificate was refused, in the words a person needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateProblem {
    /// Not signed by an authority this device trusts (self-signed, a private CA that is not
    /// installed, or someone in the middle).
    UnknownIssuer,
    /// Valid, but for other names than the host in the URL.
    NameMismatch {
        /// The host the URL names.
        host: String,
        /// The names the certificate is for.
        presented: Vec<String>,
    },
    /// Past its end date.
    Expired,
    /// Before its start date (or this device's clock is wrong).
    NotYetValid,
    /// Revoked by its issuer.
    Revoked,
    /// This device trusts no authority at all, so it can check nothing.
    NoTrustedAuthorities(String),
    /// Anything else the certificate check said.
    Other(String),
}

impl CertificateProblem {
    /// Classifies rustls' verdict on the certificate of `host`; `tls` tells an empty store.
    pub fn from_rustls(error: &CertificateError, host: &str, tls: &ClientTls) -> Self {
        match error {
            CertificateError::UnknownIssuer => match tls.empty_because() {
                Some(why) => Self::NoTrustedAuthorities(why.to_string()),
                None => Self::UnknownIssuer,
            },
            CertificateError::NotValidForName => Self::NameMismatch {
                host: host.to_string(),
                presented: Vec::new(),
            },
            CertificateError::NotValidForNameContext { presented, .. } => Self::NameMismatch {
                host: host.to_string(),
                presented: presented.clone(),
            },
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => Self::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Self::NotYetValid
            }
            CertificateError::Revoked => Self::Revoked,
            other => Self::Other(format!("{other:?}")),
        }
    }

    /// The one line for a refused certificate of `url`.
    pub fn describe(&self, url: &str) -> String {
        let untrusted = |why: &str| {
            format!("the server {url} presented a certificate this device does not trust ({why})")
        };
        match self {
            Self::UnknownIssuer => untrusted("unknown issuer"),
            Self::NameMismatch { host, presented } if presented.is_empty() => format!(
                "the server {url} presented a certificate that is not for {host} (name mismatch)"
            ),
            Self::NameMismatch { host, presented } => format!(
                "the server {url} presented a certificate for {}, not for {host} (name mismatch)",
                presented
                    .iter()
                    .map(|name| presentable_name(name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Expired => untrusted("expired"),
            Self::NotYetValid => untrusted("not valid yet; check this device's clock"),
            Self::Revoked => untrusted("revoked"),
            Self::NoTrustedAuthorities(why) => format!(
                "cannot check the certificate of {url}: this device trusts no certificate authority ({why})"
            ),
            Self::Other(why) => untrusted(why),
        }
    }
}

/// rustls lists names as `DnsName("host")` / `IpAddress(…)`; a person wants `host`.
fn presentable_name(name: &str) -> String {
    let inner = name
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or(name);
    inner.trim_matches('"').to_string()
}

/// Finds rustls' verdict inside an I/O error from a TLS handshake (tokio-rustls wraps it).
pub fn rustls_error(error: &std::io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusting_something() -> ClientTls {
        let cert = rcgen::generate_simple_self_signed(vec!["ca.test".to_string()]).unwrap();
        ClientTls::with_roots([cert.cert.der().clone()])
    }

    #[test]
    fn an_unknown_issuer_says_the_certificate_is_not_trusted() {
        let tls = trusting_something();
        assert_eq!(tls.roots(), 1);
        let problem =
            CertificateProblem::from_rustls(&CertificateError::UnknownIssuer, "example.org", &tls);
        assert_eq!(problem, CertificateProblem::UnknownIssuer);
        assert_eq!(
            problem.describe("wss://example.org/ws"),
            "the server wss://example.org/ws presented a certificate this device does not trust (unknown issuer)"
        );
    }

    #[test]
    fn a_name_mismatch_names_both_sides() {
        let tls = trusting_something();
        let error = CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("example.org")
                .unwrap()
                .to_owned(),
            presented: vec![
                "DnsName(\"other.test\")".to_string(),
                "IpAddress(127.0.0.1)".to_string(),
            ],
        };
        let problem = CertificateProblem::from_rustls(&error, "example.org", &tls);
        assert_eq!(
            problem.describe("wss://example.org/ws"),
            "the server wss://example.org/ws presented a certificate for other.test, 127.0.0.1, not for example.org (name mismatch)"
        );
    }

    #[test]
    fn an_empty_store_says_why_instead_of_unknown_issuer() {
        let tls = ClientTls::none();
        assert_eq!(tls.roots(), 0);
        let problem =
            CertificateProblem::from_rustls(&CertificateError::UnknownIssuer, "example.org", &tls);
        let line = problem.describe("wss://example.org/ws");
        assert!(
            line.contains("trusts no certificate authority (none were loaded)"),
            "{line}"
        );
    }

    #[test]
    fn garbage_roots_leave_an_empty_store_that_says_so() {
        let tls = ClientTls::with_roots([CertificateDer::from(vec![1u8, 2, 3])]);
        assert_eq!(tls.roots(), 0);
        assert_eq!(
            tls.empty_because(),
            Some("none of the given ones is usable")
        );
    }

    #[test]
    fn the_verdict_is_found_inside_an_io_error() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::Expired),
        );
        assert!(matches!(
            rustls_error(&io),
            Some(rustls::Error::InvalidCertificate(CertificateError::Expired))
        ));
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(rustls_error(&plain).is_none());
    }
}
