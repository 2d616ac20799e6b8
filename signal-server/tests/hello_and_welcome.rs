//! A peer says hello and gets an identity: id, code, ICE servers, its nearby list.

mod common;

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{config, offer, start, Client};
use hmac::{Hmac, Mac};
use peerdrop_proto::code::{normalize_code, CODE_ALPHABET};
use peerdrop_proto::signal::{ClientMsg, DeviceKind, ErrorCode, ServerMsg, MAX_DEVICE_NAME_CHARS};
use peerdrop_proto::PROTOCOL_VERSION;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn hello_gets_welcome_with_uuid_code_and_empty_nearby() {
    let server = start(config()).await;
    let (_client, welcome) = Client::joined(&server, "Ana's laptop").await;

    assert_eq!(
        welcome.id.get_version_num(),
        4,
        "peer ids are random UUID v4"
    );
    let code = welcome.code.as_bytes();
    assert_eq!(welcome.code.len(), 7, "XXXX-XX: {}", welcome.code);
    assert_eq!(code[4], b'-');
    assert!(
        code.iter()
            .enumerate()
            .all(|(i, b)| i == 4 || CODE_ALPHABET.contains(b)),
        "{}",
        welcome.code
    );
    assert_eq!(
        normalize_code(&welcome.code).as_deref(),
        Some(welcome.code.as_str())
    );
    assert!(
        welcome.ice_servers.is_empty(),
        "nothing configured, nothing handed out"
    );
    assert!(welcome.nearby.is_empty());
}

#[tokio::test]
async fn ids_and_codes_are_unique() {
    let server = start(common::proxied_config()).await;
    let mut ids = HashSet::new();
    let mut codes = HashSet::new();
    let mut clients = Vec::new();
    for i in 0..8 {
        // Different public addresses keep nearby lists out of the way.
        let (client, welcome) =
            Client::joined_via_proxy(&server, &format!("198.18.1.{}", i + 1), "p").await;
        assert!(ids.insert(welcome.id));
        assert!(codes.insert(welcome.code));
        clients.push(client);
    }
}

#[tokio::test]
async fn names_are_cleaned_before_others_see_them() {
    let server = start(config()).await;
    let (mut watcher, _) = Client::joined(&server, "watcher").await;

    let (_evil, _) = Client::joined(&server, "  \u{1b}[2J\u{7}Ben\u{202e}txt  \r\n").await;
    let peers = watcher.expect_nearby().await;
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].name, "[2JBentxt");
    assert_eq!(peers[0].kind, DeviceKind::Cli);

    let (_long, _) = Client::joined(&server, &"x".repeat(500)).await;
    let peers = watcher.expect_nearby().await;
    assert_eq!(peers[1].name, "x".repeat(MAX_DEVICE_NAME_CHARS));

    let (_blank, _) = Client::joined(&server, " \t ").await;
    let peers = watcher.expect_nearby().await;
    assert_eq!(peers[2].name, "Unnamed device");
}

#[tokio::test]
async fn a_claimed_fingerprint_is_passed_on_only_when_it_looks_like_one() {
    let server = start(config()).await;
    let (mut watcher, watcher_w) = Client::joined(&server, "watcher").await;
    let sha256 = "AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:\
                  AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89";

    let mut honest = Client::connect(&server).await;
    let honest_w = honest.hello_with_fingerprint("honest", Some(sha256)).await;
    assert_eq!(
        honest_w.nearby[0].fingerprint, None,
        "the watcher claimed none"
    );
    let seen = watcher.expect_nearby().await;
    assert_eq!(seen[0].id, honest_w.id);
    assert_eq!(seen[0].fingerprint.as_deref(), Some(sha256));
    // The sender of a signal carries it too.
    honest.signal(watcher_w.id, offer("sdp")).await;
    match watcher.recv().await {
        ServerMsg::Signal { from, .. } => assert_eq!(from.fingerprint.as_deref(), Some(sha256)),
        other => panic!("expected signal, got {other:?}"),
    }

    let mut odd = Client::connect(&server).await;
    odd.hello_with_fingerprint("odd", Some("sha-256 \u{1b}[2J AB:CD"))
        .await;
    let seen = watcher.expect_nearby().await;
    assert_eq!(seen[1].name, "odd");
    assert_eq!(seen[1].fingerprint, None, "dropped, not refused");
    odd.assert_alive().await;

    let mut long = Client::connect(&server).await;
    long.hello_with_fingerprint("long", Some(&"A".repeat(129)))
        .await;
    assert_eq!(watcher.expect_nearby().await[2].fingerprint, None);

    // On the wire the field is present when passed on and absent otherwise, as old clients
    // expect.
    let (_plain, _) = Client::joined(&server, "plain").await;
    let peers = watcher.expect_nearby().await;
    let json = ServerMsg::Nearby { peers }.to_json();
    assert_eq!(json.matches("\"fingerprint\"").count(), 1, "{json}");
}

#[tokio::test]
async fn other_protocol_version_is_refused_and_closed() {
    let server = start(config()).await;
    let mut client = Client::connect(&server).await;
    client
        .send(&ClientMsg::Hello {
            v: PROTOCOL_VERSION + 1,
            name: "future".into(),
            kind: DeviceKind::Phone,
            fingerprint: None,
            max_packet: None,
        })
        .await;
    let message = client.expect_error(ErrorCode::VersionMismatch).await;
    assert!(message.contains(&PROTOCOL_VERSION.to_string()), "{message}");
    let frame = client.expect_closed().await.expect("close frame");
    assert_eq!(frame.code, CloseCode::Policy);
}

#[tokio::test]
async fn first_message_must_be_hello() {
    let server = start(config()).await;
    let mut client = Client::connect(&server).await;
    client
        .send(&ClientMsg::Resolve {
            code: "K7QM-2X".into(),
        })
        .await;
    client
        .expect_error_then_close(ErrorCode::HelloRequired)
        .await;
}

#[tokio::test]
async fn second_hello_is_refused_but_connection_stays() {
    let server = start(config()).await;
    let (mut client, _) = Client::joined(&server, "once").await;
    client
        .send(&ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            name: "twice".into(),
            kind: DeviceKind::Cli,
            fingerprint: None,
            max_packet: None,
        })
        .await;
    client.expect_error(ErrorCode::HelloRequired).await;
    client.assert_alive().await;
}

#[tokio::test]
async fn ping_gets_pong() {
    let server = start(config()).await;
    let (mut client, _) = Client::joined(&server, "pinger").await;
    for _ in 0..3 {
        client.send(&ClientMsg::Ping).await;
        assert_eq!(client.recv().await, ServerMsg::Pong);
    }
}

#[tokio::test]
async fn welcome_carries_stun_and_turn_rest_credentials() {
    let secret = "north-wind-secret";
    let mut cfg = config();
    cfg.stun_urls = vec!["stun:198.18.0.1:3478".into()];
    cfg.turn_urls = vec![
        "turn:198.18.0.1:3478?transport=udp".into(),
        "turn:198.18.0.1:3478?transport=tcp".into(),
    ];
    cfg.turn_secret = Some(secret.into());
    cfg.turn_ttl = Duration::from_secs(600);
    let server = start(cfg.clone()).await;
    let (_client, welcome) = Client::joined(&server, "ice").await;

    assert_eq!(welcome.ice_servers.len(), 2);
    let stun = &welcome.ice_servers[0];
    assert_eq!(stun.urls, cfg.stun_urls);
    assert_eq!(
        (stun.username.as_ref(), stun.credential.as_ref()),
        (None, None)
    );

    let turn = &welcome.ice_servers[1];
    assert_eq!(turn.urls, cfg.turn_urls);
    let username = turn.username.as_deref().expect("TURN username");
    let (expiry, peer) = username.split_once(':').expect("expiry:peerid");
    assert_eq!(peer, welcome.id.to_string());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().expect("unix expiry");
    assert!(
        (now + 590..=now + 610).contains(&expiry),
        "expiry {expiry} should be about now + 600"
    );

    // What coturn does with `use-auth-secret`: recompute the HMAC and compare.
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(username.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(turn.credential.as_deref(), Some(expected.as_str()));
}

#[tokio::test]
async fn turn_urls_without_stun_urls_derive_stun() {
    let mut cfg = config();
    cfg.turn_urls = vec!["turn:203.0.113.5:3478?transport=udp".into()];
    cfg.turn_secret = Some("s3cret".into());
    let server = start(cfg).await;
    let (_client, welcome) = Client::joined(&server, "ice").await;
    assert_eq!(
        welcome.ice_servers[0].urls,
        vec!["stun:203.0.113.5:3478".to_string()]
    );
    assert_eq!(welcome.ice_servers[0].username, None);
    assert_eq!(
        welcome.ice_servers[1].urls,
        vec!["turn:203.0.113.5:3478?transport=udp".to_string()]
    );
    assert!(welcome.ice_servers[1].credential.is_some());
}
