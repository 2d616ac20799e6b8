//! Codes, relaying SDP/ICE to exactly the addressed peer, and `peer_gone`.

mod common;

use std::time::{Duration, Instant};

use common::{config, offer, proxied_config, start, Client};
use peerdrop_proto::signal::{ClientMsg, DeviceKind, ErrorCode, PeerInfo, ServerMsg, SignalData};
use uuid::Uuid;

#[tokio::test]
async fn resolve_finds_the_peer_holding_a_code() {
    let server = start(proxied_config()).await;
    let (_ana, ana_w) = Client::joined_via_proxy(&server, "198.18.0.1", "Ana").await;
    let (mut ben, _) = Client::joined_via_proxy(&server, "198.18.0.2", "Ben").await;

    // Typed sloppily: lower case, no dash, spaces.
    let typed = format!(" {} ", ana_w.code.replace('-', "").to_lowercase());
    ben.send(&ClientMsg::Resolve { code: typed }).await;
    let expected = PeerInfo {
        id: ana_w.id,
        name: "Ana".into(),
        kind: DeviceKind::Cli,
        fingerprint: None,
        max_packet: None,
    };
    assert_eq!(
        ben.recv().await,
        ServerMsg::Resolved {
            code: ana_w.code.clone(),
            peer: expected
        }
    );
}

#[tokio::test]
async fn unknown_and_malformed_codes_are_unknown_code() {
    let server = start(config()).await;
    let (mut ben, ben_w) = Client::joined(&server, "Ben").await;
    // A well-formed code nobody holds (astronomically unlikely to be Ben's own).
    let unused = if ben_w.code == "2222-22" {
        "3333-33"
    } else {
        "2222-22"
    };
    ben.send(&ClientMsg::Resolve {
        code: unused.into(),
    })
    .await;
    let message = ben.expect_error(ErrorCode::UnknownCode).await;
    assert!(message.contains(unused), "{message}");
    ben.send(&ClientMsg::Resolve {
        code: "O0IL-11".into(),
    })
    .await;
    ben.expect_error(ErrorCode::UnknownCode).await;
    ben.assert_alive().await;
}

#[tokio::test]
async fn offer_reaches_only_the_addressee() {
    let server = start(config()).await;
    let (mut ana, ana_w) = Client::joined(&server, "Ana").await;
    let (mut ben, ben_w) = Client::joined(&server, "Ben").await;
    let (mut cat, _) = Client::joined(&server, "Cat").await;
    ana.expect_nearby().await; // Ben joined
    ana.expect_nearby().await; // Cat joined
    ben.expect_nearby().await; // Cat joined

    let data = offer("v=0 o=- 1 1 IN IP4 0.0.0.0 (sdp body)");
    ana.signal(ben_w.id, data.clone()).await;
    let from = PeerInfo {
        id: ana_w.id,
        name: "Ana".into(),
        kind: DeviceKind::Cli,
        fingerprint: None,
        max_packet: None,
    };
    assert_eq!(ben.recv().await, ServerMsg::Signal { from, data });

    cat.expect_silence().await;
    ana.expect_silence().await;
}

#[tokio::test]
async fn signal_to_unreachable_or_unknown_peer_is_refused() {
    let server = start(proxied_config()).await;
    let (mut ana, _) = Client::joined_via_proxy(&server, "198.18.0.1", "Ana").await;
    let (mut ben, ben_w) = Client::joined_via_proxy(&server, "203.0.113.2", "Ben").await;

    // Ben is online but neither nearby nor resolved by Ana: knowing his id is not enough.
    ana.signal(ben_w.id, offer("sdp")).await;
    let message = ana.expect_error(ErrorCode::UnknownPeer).await;
    assert!(message.contains(&ben_w.id.to_string()), "{message}");
    ben.expect_silence().await;

    ana.signal(Uuid::new_v4(), offer("sdp")).await;
    ana.expect_error(ErrorCode::UnknownPeer).await;
    ana.assert_alive().await;
}

#[tokio::test]
async fn code_resolution_opens_a_two_way_channel() {
    let server = start(proxied_config()).await;
    let (mut ana, ana_w) = Client::joined_via_proxy(&server, "198.18.0.1", "Ana").await;
    let (mut ben, ben_w) = Client::joined_via_proxy(&server, "198.18.0.2", "Ben").await;

    ben.send(&ClientMsg::Resolve {
        code: ana_w.code.clone(),
    })
    .await;
    assert!(matches!(ben.recv().await, ServerMsg::Resolved { .. }));
    let session = Uuid::new_v4();
    let offer = SignalData::Offer {
        session,
        sdp: "offer-sdp".into(),
    };
    ben.signal(ana_w.id, offer.clone()).await;
    match ana.recv().await {
        ServerMsg::Signal { from, data } => {
            assert_eq!((from.id, from.name.as_str()), (ben_w.id, "Ben"));
            assert_eq!(data, offer);
        }
        other => panic!("expected signal, got {other:?}"),
    }

    // Ana never resolved Ben, but may answer whoever signalled her.
    let answer = SignalData::Answer {
        session,
        sdp: "answer-sdp".into(),
    };
    ana.signal(ben_w.id, answer.clone()).await;
    let candidate = SignalData::Candidate {
        session,
        candidate: "candidate:1 1 udp 2122260223 198.18.0.2 50000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    };
    ana.signal(ben_w.id, candidate.clone()).await;
    let from_ana = PeerInfo {
        id: ana_w.id,
        name: "Ana".into(),
        kind: DeviceKind::Cli,
        fingerprint: None,
        max_packet: None,
    };
    assert_eq!(
        ben.recv().await,
        ServerMsg::Signal {
            from: from_ana.clone(),
            data: answer
        }
    );
    assert_eq!(
        ben.recv().await,
        ServerMsg::Signal {
            from: from_ana,
            data: candidate
        }
    );
}

#[tokio::test]
async fn partner_gets_peer_gone_when_the_other_side_disconnects() {
    let server = start(proxied_config()).await;
    let (mut ana, ana_w) = Client::joined_via_proxy(&server, "198.18.0.1", "Ana").await;
    let (mut ben, _) = Client::joined_via_proxy(&server, "198.18.0.2", "Ben").await;
    let (mut bystander, _) = Client::joined_via_proxy(&server, "198.18.0.3", "Bystander").await;

    ben.send(&ClientMsg::Resolve {
        code: ana_w.code.clone(),
    })
    .await;
    ben.recv().await;
    ben.signal(ana_w.id, offer("sdp")).await;
    ana.recv().await;

    ana.close().await;
    assert_eq!(ben.recv().await, ServerMsg::PeerGone { id: ana_w.id });
    bystander.expect_silence().await;

    // Once gone, the id is no longer reachable and the code is free.
    ben.signal(ana_w.id, offer("sdp")).await;
    ben.expect_error(ErrorCode::UnknownPeer).await;
    ben.send(&ClientMsg::Resolve {
        code: ana_w.code.clone(),
    })
    .await;
    ben.expect_error(ErrorCode::UnknownCode).await;
}

#[tokio::test]
async fn killed_receiver_is_noticed_fast() {
    let server = start(proxied_config()).await;
    let (receiver, receiver_w) = Client::joined_via_proxy(&server, "198.18.0.1", "receiver").await;
    let (mut sender, _) = Client::joined_via_proxy(&server, "198.18.0.2", "sender").await;
    sender
        .send(&ClientMsg::Resolve {
            code: receiver_w.code.clone(),
        })
        .await;
    sender.recv().await;
    sender.signal(receiver_w.id, offer("sdp")).await;

    let started = Instant::now();
    drop(receiver); // like a killed process: the socket just goes away
    assert_eq!(
        sender.recv().await,
        ServerMsg::PeerGone { id: receiver_w.id }
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_peer_cannot_signal_itself() {
    let server = start(config()).await;
    let (mut ana, ana_w) = Client::joined(&server, "Ana").await;
    ana.signal(ana_w.id, offer("sdp")).await;
    ana.expect_error(ErrorCode::UnknownPeer).await;
}
