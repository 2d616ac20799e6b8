//! The ICE server list each peer receives in `welcome`.
//!
//! - every configured STUN URL becomes its own entry;
//! - with a TURN secret, all TURN URLs share one entry carrying credentials minted for this
//!   peer (see [`crate::turn`]);
//! - with TURN URLs but no STUN URLs, `stun:host:port` is derived from each `turn:` URL,
//!   since coturn answers STUN on its TURN port.
//!
//! Whether a peer gets the TURN entry at all is the connection's decision (a budget per client
//! address, [`crate::Limits::turn_credentials_per_ip`]); [`stun_servers`] is the list without it.

use std::time::SystemTime;

use peerdrop_proto::signal::{IceServer, PeerId};

use crate::config::ServerConfig;
use crate::turn::turn_credentials_at;

/// The ICE servers for `peer`, with TURN credentials valid from `now` for `config.turn_ttl`.
pub fn ice_servers(config: &ServerConfig, peer: PeerId, now: SystemTime) -> Vec<IceServer> {
    let mut servers = stun_servers(config);
    if let (Some(secret), true) = (&config.turn_secret, mints_turn(config)) {
        let creds = turn_credentials_at(secret, &peer.to_string(), now, config.turn_ttl);
        servers.push(IceServer {
            urls: config.turn_urls.clone(),
            username: Some(creds.username),
            credential: Some(creds.credential),
        });
    }
    servers
}

/// Whether [`ice_servers`] mints TURN credentials (a secret and at least one TURN URL).
pub fn mints_turn(config: &ServerConfig) -> bool {
    config.turn_secret.is_some() && !config.turn_urls.is_empty()
}

/// The STUN entries alone: what a peer gets when it may not have TURN credentials.
pub fn stun_servers(config: &ServerConfig) -> Vec<IceServer> {
    let stun = |url: String| IceServer {
        urls: vec![url],
        username: None,
        credential: None,
    };
    if config.stun_urls.is_empty() {
        let mut derived: Vec<String> = Vec::new();
        for url in config
            .turn_urls
            .iter()
            .filter_map(|u| stun_url_from_turn(u))
        {
            if !derived.contains(&url) {
                derived.push(url);
            }
        }
        derived.into_iter().map(stun).collect()
    } else {
        config.stun_urls.iter().cloned().map(stun).collect()
    }
}

/// `turn:host:port?transport=udp` → `stun:host:port`. `turns:` URLs (TLS) have no plain
/// STUN equivalent and give `None`.
pub fn stun_url_from_turn(turn_url: &str) -> Option<String> {
    let rest = turn_url.strip_prefix("turn:")?;
    let host_port = rest.split('?').next().unwrap_or("").trim();
    (!host_port.is_empty()).then(|| format!("stun:{host_port}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};
    use uuid::Uuid;

    fn config(stun: &[&str], turn: &[&str], secret: Option<&str>) -> ServerConfig {
        ServerConfig {
            stun_urls: stun.iter().map(|s| s.to_string()).collect(),
            turn_urls: turn.iter().map(|s| s.to_string()).collect(),
            turn_secret: secret.map(str::to_string),
            turn_ttl: Duration::from_secs(3600),
            ..ServerConfig::default()
        }
    }

    #[test]
    fn derives_stun_from_turn_urls() {
        assert_eq!(
            stun_url_from_turn("turn:198.18.0.1:3478?transport=udp").as_deref(),
            Some("stun:198.18.0.1:3478")
        );
        assert_eq!(
            stun_url_from_turn("turn:[2001:db8::1]:3478").as_deref(),
            Some("stun:[2001:db8::1]:3478")
        );
        assert_eq!(stun_url_from_turn("turns:example.org:5349"), None);
    }

    #[test]
    fn nothing_configured_means_no_servers() {
        assert!(ice_servers(&config(&[], &[], None), Uuid::nil(), SystemTime::now()).is_empty());
    }

    #[test]
    fn stun_urls_are_passed_through() {
        let servers = ice_servers(
            &config(&["stun:a:3478", "stun:b:3478"], &[], Some("s")),
            Uuid::nil(),
            SystemTime::now(),
        );
        assert_eq!(servers.len(), 2, "a secret without TURN URLs adds nothing");
        assert_eq!(servers[1].urls, vec!["stun:b:3478"]);
        assert!(servers
            .iter()
            .all(|s| s.username.is_none() && s.credential.is_none()));
    }

    #[test]
    fn turn_entry_carries_rest_credentials() {
        let cfg = config(
            &[],
            &["turn:t:3478?transport=udp", "turn:t:3478?transport=tcp"],
            Some("north-wind-secret"),
        );
        let peer: Uuid = "8f2c1a4e-0b7d-4c3e-9a51-2d6f0e8b7c10".parse().unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let servers = ice_servers(&cfg, peer, now);
        assert_eq!(
            servers.len(),
            2,
            "one derived STUN entry (deduplicated) + one TURN entry"
        );
        assert_eq!(servers[0].urls, vec!["stun:t:3478"]);
        assert_eq!(servers[1].urls, cfg.turn_urls);
        assert_eq!(
            servers[1].username.as_deref(),
            Some("1700003600:8f2c1a4e-0b7d-4c3e-9a51-2d6f0e8b7c10")
        );
        assert_eq!(
            servers[1].credential.as_deref(),
            Some("SWOg9jbHFeCha5PpiLRq+l0ESoc=")
        );
    }

    #[test]
    fn turn_without_secret_gives_only_stun() {
        let servers = ice_servers(
            &config(&[], &["turn:t:3478"], None),
            Uuid::nil(),
            SystemTime::now(),
        );
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].urls, vec!["stun:t:3478"]);
        assert!(!mints_turn(&config(&[], &["turn:t:3478"], None)));
    }

    #[test]
    fn stun_servers_are_the_list_without_turn() {
        let cfg = config(&[], &["turn:t:3478?transport=udp"], Some("s"));
        assert!(mints_turn(&cfg));
        let all = ice_servers(&cfg, Uuid::nil(), SystemTime::now());
        assert_eq!(stun_servers(&cfg), all[..1].to_vec());
        assert!(stun_servers(&cfg).iter().all(|s| s.username.is_none()));
    }
}
