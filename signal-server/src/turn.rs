//! TURN REST credentials in coturn's `use-auth-secret` scheme.
//!
//! The signaling server and coturn share a secret. For each peer the server mints
//! `username = "<unix expiry>:<peer id>"` and `credential = base64(HMAC-SHA1(secret, username))`.
//! coturn recomputes the HMAC and checks the expiry, so credentials cannot be forged, are
//! useless after `expiry`, and need no database. This is the scheme of
//! draft-uberti-behave-turn-rest-00 as implemented by coturn (`static-auth-secret`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// A minted TURN username/password pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnCredentials {
    /// `"<unix expiry>:<user>"`.
    pub username: String,
    /// `base64(HMAC-SHA1(secret, username))`.
    pub credential: String,
    /// Unix time (seconds) after which coturn refuses the credentials.
    pub expires_at: u64,
}

/// Mints credentials for `user` (the peer id) that expire at unix time `expires_at`.
pub fn turn_credentials(secret: &str, user: &str, expires_at: u64) -> TurnCredentials {
    let username = format!("{expires_at}:{user}");
    let credential = hmac_sha1_base64(secret.as_bytes(), username.as_bytes());
    TurnCredentials {
        username,
        credential,
        expires_at,
    }
}

/// Mints credentials for `user` valid for `ttl` from `now`.
pub fn turn_credentials_at(
    secret: &str,
    user: &str,
    now: SystemTime,
    ttl: Duration,
) -> TurnCredentials {
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    turn_credentials(secret, user, now_secs.saturating_add(ttl.as_secs()))
}

/// `base64(HMAC-SHA1(key, message))`, the password coturn expects.
pub fn hmac_sha1_base64(key: &[u8], message: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    BASE64.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vector computed independently of this code:
    /// ```text
    /// $ echo -n '1700003600:8f2c1a4e-0b7d-4c3e-9a51-2d6f0e8b7c10' \
    ///     | openssl dgst -sha1 -hmac 'north-wind-secret' -binary | base64
    /// SWOg9jbHFeCha5PpiLRq+l0ESoc=
    /// ```
    /// (python3: `base64.b64encode(hmac.new(b'north-wind-secret', u.encode(), hashlib.sha1).digest())`
    /// gives the same.)
    #[test]
    fn matches_independently_computed_vector() {
        let creds = turn_credentials(
            "north-wind-secret",
            "8f2c1a4e-0b7d-4c3e-9a51-2d6f0e8b7c10",
            1_700_003_600,
        );
        assert_eq!(
            creds.username,
            "1700003600:8f2c1a4e-0b7d-4c3e-9a51-2d6f0e8b7c10"
        );
        assert_eq!(creds.credential, "SWOg9jbHFeCha5PpiLRq+l0ESoc=");
        assert_eq!(creds.expires_at, 1_700_003_600);
    }

    /// RFC 2202, HMAC-SHA1 test case 2 (hex effcdf6ae5eb2fa2d27416d5f184df9c259a7c79).
    #[test]
    fn matches_rfc2202_case_2() {
        assert_eq!(
            hmac_sha1_base64(b"Jefe", b"what do ya want for nothing?"),
            "7/zfauXrL6LSdBbV8YTfnCWafHk="
        );
    }

    #[test]
    fn expiry_is_now_plus_ttl() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let creds = turn_credentials_at("s", "peer", now, Duration::from_secs(3600));
        assert_eq!(creds.expires_at, 1_700_003_600);
        assert!(creds.username.starts_with("1700003600:"));
    }
}
