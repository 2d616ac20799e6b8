//! Device endpoint mode: a device's own LAN signaling endpoint serves its owner, and lets
//! everyone else talk to the owner only — never to each other.

mod common;

use common::{offer, start, Client, Event};
use peerdrop_proto::signal::{ClientMsg, ErrorCode, ServerMsg, SignalData};
use peerdrop_signal::{RunningServer, ServerConfig};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;

/// A device endpoint on loopback (a real device binds `0.0.0.0`; tests stay on loopback).
async fn endpoint() -> RunningServer {
    start(ServerConfig::device_endpoint(
        "127.0.0.1:0".parse().unwrap(),
    ))
    .await
}

/// The path and query of the owner URL, e.g. `/ws?owner=…`.
fn owner_path(server: &RunningServer) -> String {
    let url = server
        .owner_url()
        .expect("a device endpoint has an owner URL");
    let prefix = format!("ws://{}", server.local_addr());
    url.strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url} is reached over loopback at {prefix}"))
        .to_string()
}

/// Connects from 127.0.0.1 with `path` and says hello.
async fn join_with_path(
    server: &RunningServer,
    path: &str,
    name: &str,
) -> (Client, common::Welcome) {
    let mut client = Client::try_connect(server.local_addr(), path, "127.0.0.1", &[])
        .await
        .expect("websocket connects");
    let welcome = client.hello(name).await;
    (client, welcome)
}

async fn join_owner(server: &RunningServer) -> (Client, common::Welcome) {
    join_with_path(server, &owner_path(server), "my laptop").await
}

#[tokio::test]
async fn owner_url_is_loopback_with_the_token_and_only_on_an_endpoint() {
    let server = endpoint().await;
    let url = server.owner_url().unwrap();
    let port = server.local_addr().port();
    let token = url
        .strip_prefix(&format!("ws://127.0.0.1:{port}/ws?owner="))
        .unwrap_or_else(|| panic!("{url}"));
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{url}");
    assert_eq!(
        common::start(common::config()).await.owner_url(),
        None,
        "an ordinary server has no owner"
    );
}

#[tokio::test]
async fn the_owner_is_welcomed_and_guests_see_only_the_owner() {
    let server = endpoint().await;
    let (mut owner, owner_w) = join_owner(&server).await;
    assert!(
        owner_w.ice_servers.is_empty(),
        "no ICE servers on a LAN endpoint"
    );
    assert!(owner_w.nearby.is_empty());

    // A LAN client: no token.
    let (mut guest, guest_w) = Client::joined(&server, "phone").await;
    assert_eq!(
        guest_w
            .nearby
            .iter()
            .map(|p| (p.id, p.name.as_str()))
            .collect::<Vec<_>>(),
        vec![(owner_w.id, "my laptop")]
    );
    assert!(guest_w.ice_servers.is_empty());
    // Another one, from another address: it too sees just the owner, and the first guest
    // never hears of it; the owner's list stays empty.
    let (_other, other_w) = Client::joined_from(&server, "127.0.0.2", "tablet").await;
    assert_eq!(
        other_w.nearby.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![owner_w.id]
    );
    guest.expect_silence().await;
    owner.expect_silence().await;

    // The owner leaves: the guests' lists empty; it comes back: they show it again.
    owner.close().await;
    assert!(guest.expect_nearby().await.is_empty());
    let (_owner, owner2_w) = join_owner(&server).await;
    assert_eq!(
        guest
            .expect_nearby()
            .await
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![owner2_w.id]
    );
}

#[tokio::test]
async fn a_guest_signals_the_owner_and_the_owner_answers() {
    let server = endpoint().await;
    let (mut owner, owner_w) = join_owner(&server).await;
    let (mut guest, guest_w) = Client::joined(&server, "phone").await;

    let session = Uuid::new_v4();
    let sent = SignalData::Offer {
        session,
        sdp: "offer-sdp".into(),
    };
    guest.signal(owner_w.id, sent.clone()).await;
    match owner.recv().await {
        ServerMsg::Signal { from, data } => {
            assert_eq!((from.id, from.name.as_str()), (guest_w.id, "phone"));
            assert_eq!(data, sent);
        }
        other => panic!("expected the offer, got {other:?}"),
    }
    let answer = SignalData::Answer {
        session,
        sdp: "answer-sdp".into(),
    };
    owner.signal(guest_w.id, answer.clone()).await;
    match guest.recv().await {
        ServerMsg::Signal { from, data } => {
            assert_eq!(from.id, owner_w.id);
            assert_eq!(data, answer);
        }
        other => panic!("expected the answer, got {other:?}"),
    }

    // The encrypted fallback relay works the same way, both directions.
    guest
        .send(&ClientMsg::Relay {
            to: owner_w.id,
            session,
            data: "AQI=".into(),
        })
        .await;
    assert_eq!(
        owner.recv().await,
        ServerMsg::Relay {
            from: guest_w.id,
            session,
            data: "AQI=".into()
        }
    );
    owner
        .send(&ClientMsg::Relay {
            to: guest_w.id,
            session,
            data: "AwQ=".into(),
        })
        .await;
    assert!(matches!(guest.recv().await, ServerMsg::Relay { from, .. } if from == owner_w.id));

    // The owner's code resolves; peer_gone as on any server.
    guest
        .send(&ClientMsg::Resolve {
            code: owner_w.code.clone(),
        })
        .await;
    assert!(
        matches!(guest.recv().await, ServerMsg::Resolved { peer, .. } if peer.id == owner_w.id)
    );
    guest.close().await;
    assert_eq!(owner.recv().await, ServerMsg::PeerGone { id: guest_w.id });
}

#[tokio::test]
async fn guests_neither_see_nor_reach_each_other() {
    let server = endpoint().await;
    let (mut owner, owner_w) = join_owner(&server).await;
    let (mut a, _) = Client::joined(&server, "a").await;
    let (mut b, b_w) = Client::joined(&server, "b").await;
    assert_eq!(b_w.nearby.len(), 1, "b sees the owner only, not a");

    a.signal(b_w.id, offer("sdp")).await;
    a.expect_error(ErrorCode::UnknownPeer).await;
    a.send(&ClientMsg::Relay {
        to: b_w.id,
        session: Uuid::new_v4(),
        data: "AQI=".into(),
    })
    .await;
    a.expect_error(ErrorCode::UnknownPeer).await;
    // A guest's code does not resolve, not even for someone who knows it.
    a.send(&ClientMsg::Resolve {
        code: b_w.code.clone(),
    })
    .await;
    a.expect_error(ErrorCode::UnknownCode).await;
    b.expect_silence().await;

    // Nor can the owner address a guest that never signalled it.
    owner.signal(b_w.id, offer("sdp")).await;
    owner.expect_error(ErrorCode::UnknownPeer).await;
    b.expect_silence().await;

    // Talking with the owner opens no path between guests either.
    b.signal(owner_w.id, offer("sdp")).await;
    assert!(matches!(owner.recv().await, ServerMsg::Signal { from, .. } if from.id == b_w.id));
    owner.signal(b_w.id, offer("answer")).await;
    assert!(matches!(b.recv().await, ServerMsg::Signal { from, .. } if from.id == owner_w.id));
    a.signal(b_w.id, offer("sdp")).await;
    a.expect_error(ErrorCode::UnknownPeer).await;
    b.expect_silence().await;
}

#[tokio::test]
async fn a_wrong_token_makes_an_ordinary_guest() {
    let server = endpoint().await;
    let right = owner_path(&server);
    // Same length, last digit changed; and one digit longer.
    let flipped = if right.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{flipped}", &right[..right.len() - 1]);
    let longer = format!("{right}0");
    for path in [
        wrong.as_str(),
        longer.as_str(),
        "/ws?owner=",
        "/ws?owner=0000000000000000000000000000000000000000000000000000000000000000",
        "/ws",
    ] {
        let (imposter, imposter_w) = join_with_path(&server, path, "imposter").await;
        assert!(
            imposter_w.nearby.is_empty(),
            "{path}: a guest, and no owner yet"
        );
        imposter.close().await;
    }
    // With an imposter online, the real owner still joins, and the imposter is shown it.
    let (mut imposter, _) = join_with_path(&server, &wrong, "imposter").await;
    let (_owner, owner_w) = join_owner(&server).await;
    assert_eq!(imposter.expect_nearby().await[0].id, owner_w.id);
}

#[tokio::test]
async fn a_second_owner_is_refused() {
    let server = endpoint().await;
    let (mut owner, owner_w) = join_owner(&server).await;
    let mut second =
        Client::try_connect(server.local_addr(), &owner_path(&server), "127.0.0.1", &[])
            .await
            .unwrap();
    second
        .send(&ClientMsg::Hello {
            v: peerdrop_proto::PROTOCOL_VERSION,
            name: "usurper".into(),
            kind: peerdrop_proto::signal::DeviceKind::Desktop,
            fingerprint: None,
            max_packet: None,
        })
        .await;
    let message = second.expect_error(ErrorCode::TooManyConnections).await;
    assert!(message.contains("owner"), "{message}");
    assert_eq!(
        second.expect_closed().await.expect("close frame").code,
        CloseCode::Policy
    );
    // The first owner is untouched.
    owner.assert_alive().await;
    let (_guest, guest_w) = Client::joined(&server, "guest").await;
    assert_eq!(guest_w.nearby[0].id, owner_w.id);
}

#[tokio::test]
async fn limits_hold_on_an_endpoint() {
    let server = endpoint().await;
    let (_owner, _) = join_owner(&server).await;
    let (mut guest, _) = Client::joined(&server, "guest").await;
    // Oversized: too_large, as on any server; the connection stays.
    let big = format!(
        r#"{{"type":"resolve","code":"{}"}}"#,
        "A".repeat(peerdrop_proto::signal::MAX_SIGNAL_MESSAGE_BYTES)
    );
    guest.send_text(&big).await;
    guest.expect_error(ErrorCode::TooLarge).await;
    guest.assert_alive().await;

    // The small per-address cap of an endpoint (8).
    let limits = peerdrop_signal::Limits::device_endpoint();
    let mut kept = Vec::new();
    for _ in 0..limits.max_connections_per_ip {
        kept.push(Client::connect_from(&server, "127.0.0.3", &[]).await);
    }
    let mut extra = Client::connect_from(&server, "127.0.0.3", &[]).await;
    match extra.next_event().await {
        Event::Msg(ServerMsg::Error { code, .. }) => {
            assert_eq!(code, ErrorCode::TooManyConnections)
        }
        other => panic!("expected too_many_connections, got {other:?}"),
    }
}
