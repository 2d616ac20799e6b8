//! What a person types in the "send to" field (`peerdrop send --to`, the app's code field): a
//! short code, a LAN endpoint's `HOST:PORT`, or a device name. One reading for the CLI, the
//! engine and the UI, so they never disagree on what a typed string means.

use std::net::SocketAddr;

use crate::code::normalize_code;

/// What a person typed after `--to` (or in the app's address field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendTo {
    /// A short code, normalised.
    Code(String),
    /// `HOST:PORT` of a LAN endpoint (IP literal or a host name to look up).
    Address(String),
    /// A device name.
    Name(String),
}

impl SendTo {
    /// Reads what was typed: an IP socket address or `host:port` is an address, something
    /// that normalises to a code is a code, anything else a name.
    pub fn parse(typed: &str) -> SendTo {
        let typed = typed.trim();
        if typed.parse::<SocketAddr>().is_ok() {
            return SendTo::Address(typed.to_string());
        }
        if let Some(code) = normalize_code(typed) {
            return SendTo::Code(code);
        }
        if let Some((host, port)) = typed.rsplit_once(':') {
            let hostlike = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
            if hostlike && port.parse::<u16>().is_ok_and(|p| p != 0) {
                return SendTo::Address(typed.to_string());
            }
        }
        SendTo::Name(typed.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_targets_are_told_apart() {
        assert_eq!(SendTo::parse("k7qm2x"), SendTo::Code("K7QM-2X".into()));
        assert_eq!(SendTo::parse(" K7QM-2X "), SendTo::Code("K7QM-2X".into()));
        assert_eq!(
            SendTo::parse("198.18.0.2:8788"),
            SendTo::Address("198.18.0.2:8788".into())
        );
        assert_eq!(
            SendTo::parse("[2001:db8::1]:8788"),
            SendTo::Address("[2001:db8::1]:8788".into())
        );
        assert_eq!(
            SendTo::parse("laptop.local:8788"),
            SendTo::Address("laptop.local:8788".into())
        );
        assert_eq!(
            SendTo::parse("Ana's laptop"),
            SendTo::Name("Ana's laptop".into())
        );
        assert_eq!(
            SendTo::parse("weird:name"),
            SendTo::Name("weird:name".into())
        );
    }
}
