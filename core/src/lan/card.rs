//! What a device says about itself on the LAN: the DNS-SD TXT record of a PeerDrop service.
//!
//! Everything here arrives from anyone on the network, so it is parsed as hostile input:
//! bounded, normalised, and refused with a typed reason when it does not fit. The card only
//! helps a person pick a device; who they are really talking to is proven later by the
//! verification phrase and the pinned certificate, exactly as over a server.

use peerdrop_proto::code::normalize_code;
use peerdrop_proto::signal::DeviceKind;

/// The DNS-SD service type every PeerDrop device advertises.
pub const SERVICE_TYPE: &str = "_peerdrop._tcp.local.";

/// TXT `v`: the card format this build writes and understands.
pub const CARD_VERSION: &str = "1";

/// One TXT string holds at most 255 bytes (`key=value`); names are cut to fit.
const MAX_TXT_STRING_BYTES: usize = 255;

/// Longest certificate fingerprint accepted (SHA-256 as `AB:CD:…` is 95 characters).
const MAX_FINGERPRINT_CHARS: usize = 128;

/// Why a card is not usable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CardError {
    /// A required TXT key is missing.
    #[error("the TXT record has no `{0}`")]
    Missing(&'static str),
    /// The card was written by a newer or foreign format.
    #[error("card version {0:?} is not understood")]
    Version(String),
    /// The code is not a PeerDrop code.
    #[error("{0:?} is not a PeerDrop code")]
    Code(String),
    /// The device kind is unknown.
    #[error("{0:?} is not a device kind")]
    Kind(String),
    /// The fingerprint is not a certificate fingerprint.
    #[error("the fingerprint is malformed")]
    Fingerprint,
}

/// What a service instance is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A device that can be sent to.
    Device,
    /// A short-lived record a device publishes to see whether its own multicast comes back
    /// (see [`crate::lan::discovery`]); never listed.
    Probe,
}

/// A device as the LAN sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCard {
    /// Device name, cleaned as the server cleans names.
    pub name: String,
    /// Device kind, for the icon.
    pub kind: DeviceKind,
    /// The short code the device shows (its server code when it uses one, else its LAN code).
    pub code: String,
    /// The device's certificate fingerprint, as claimed (de-duplication and display only).
    pub fingerprint: String,
    /// Device or probe.
    pub role: Role,
}

impl DeviceCard {
    /// The TXT properties for this card, every one within the 255-byte TXT string limit.
    pub fn to_txt(&self) -> Vec<(String, String)> {
        let name = cut_to_bytes(
            &peerdrop_signal::names::sanitize_name(&self.name),
            MAX_TXT_STRING_BYTES - "name=".len(),
        );
        let role = match self.role {
            Role::Device => "device",
            Role::Probe => "probe",
        };
        vec![
            ("v".into(), CARD_VERSION.into()),
            ("role".into(), role.into()),
            ("name".into(), name),
            ("kind".into(), kind_str(self.kind).into()),
            ("code".into(), self.code.clone()),
            ("fp".into(), self.fingerprint.clone()),
        ]
    }

    /// Reads a card from TXT properties (`get(key)` returns the value as text).
    pub fn from_txt<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<DeviceCard, CardError> {
        let version = get("v").ok_or(CardError::Missing("v"))?;
        if version != CARD_VERSION {
            return Err(CardError::Version(cut_to_bytes(version, 16)));
        }
        let role = match get("role") {
            Some("probe") => Role::Probe,
            _ => Role::Device,
        };
        let raw_code = get("code").ok_or(CardError::Missing("code"))?;
        let code =
            normalize_code(raw_code).ok_or_else(|| CardError::Code(cut_to_bytes(raw_code, 16)))?;
        let raw_kind = get("kind").ok_or(CardError::Missing("kind"))?;
        let kind =
            parse_kind(raw_kind).ok_or_else(|| CardError::Kind(cut_to_bytes(raw_kind, 16)))?;
        let fingerprint = get("fp").ok_or(CardError::Missing("fp"))?;
        if fingerprint.is_empty()
            || fingerprint.len() > MAX_FINGERPRINT_CHARS
            || !fingerprint
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':')
        {
            return Err(CardError::Fingerprint);
        }
        let name =
            peerdrop_signal::names::sanitize_name(get("name").ok_or(CardError::Missing("name"))?);
        Ok(DeviceCard {
            name,
            kind,
            code,
            fingerprint: fingerprint.to_ascii_uppercase(),
            role,
        })
    }
}

fn kind_str(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Desktop => "desktop",
        DeviceKind::Phone => "phone",
        DeviceKind::Cli => "cli",
    }
}

fn parse_kind(raw: &str) -> Option<DeviceKind> {
    match raw {
        "desktop" => Some(DeviceKind::Desktop),
        "phone" => Some(DeviceKind::Phone),
        "cli" => Some(DeviceKind::Cli),
        _ => None,
    }
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut_to_bytes(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const FP: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

    fn card(name: &str) -> DeviceCard {
        DeviceCard {
            name: name.into(),
            kind: DeviceKind::Cli,
            code: "K7QM-2X".into(),
            fingerprint: FP.into(),
            role: Role::Device,
        }
    }

    fn read(txt: &[(String, String)]) -> Result<DeviceCard, CardError> {
        let map: HashMap<&str, &str> = txt.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        DeviceCard::from_txt(|k| map.get(k).copied())
    }

    #[test]
    fn a_card_survives_its_txt_record() {
        let original = card("Laptop A");
        assert_eq!(read(&original.to_txt()), Ok(original));
    }

    #[test]
    fn every_txt_string_fits_in_255_bytes_even_for_long_wide_names() {
        let long = "名".repeat(200);
        let txt = card(&long).to_txt();
        for (k, v) in &txt {
            assert!(k.len() + 1 + v.len() <= 255, "{k} is {} bytes", v.len());
        }
        let back = read(&txt).unwrap();
        assert!(back.name.starts_with('名'));
    }

    #[test]
    fn hostile_cards_are_refused_with_a_reason() {
        let mut txt = card("A").to_txt();
        txt.retain(|(k, _)| k != "code");
        assert_eq!(read(&txt), Err(CardError::Missing("code")));

        let mut txt = card("A").to_txt();
        txt[4].1 = "DROP TABLE".into();
        assert!(matches!(read(&txt), Err(CardError::Code(_))));

        let mut txt = card("A").to_txt();
        txt[5].1 = "<script>".into();
        assert_eq!(read(&txt), Err(CardError::Fingerprint));

        let mut txt = card("A").to_txt();
        txt[0].1 = "9".into();
        assert!(matches!(read(&txt), Err(CardError::Version(_))));

        let mut txt = card("A").to_txt();
        txt[3].1 = "toaster".into();
        assert!(matches!(read(&txt), Err(CardError::Kind(_))));
    }

    #[test]
    fn control_characters_never_reach_a_name() {
        let back = read(&card("Evil\u{1b}[2J\u{0}Name").to_txt()).unwrap();
        assert!(!back.name.chars().any(char::is_control), "{:?}", back.name);
    }

    #[test]
    fn codes_are_normalised_and_fingerprints_upper_cased() {
        let mut txt = card("A").to_txt();
        txt[4].1 = "k7qm2x".into();
        txt[5].1 = FP.to_ascii_lowercase();
        let back = read(&txt).unwrap();
        assert_eq!(back.code, "K7QM-2X");
        assert_eq!(back.fingerprint, FP);
    }
}
