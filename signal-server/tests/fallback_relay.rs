//! The encrypted fallback relay (`relay` frames): forwarded unread to reachable peers only,
//! exempt from the message-count budget, paced by the byte budget, and switchable off.

mod common;

use std::time::{Duration, Instant};

use common::{proxied_config as config, start, Client};
use peerdrop_proto::signal::{ClientMsg, ErrorCode, ServerMsg};
use uuid::Uuid;

fn relay(to: Uuid, session: Uuid, data: String) -> ClientMsg {
    ClientMsg::Relay { to, session, data }
}

/// Two peers behind different public addresses (through the trusted proxy of
/// [`common::proxied_config`]); Ben resolved Ana's code, so each may reach the other.
async fn pair(
    server: &peerdrop_signal::RunningServer,
) -> (Client, common::Welcome, Client, common::Welcome) {
    let (ana, ana_w) = Client::joined_via_proxy(server, "198.18.0.1", "Ana").await;
    let (mut ben, ben_w) = Client::joined_via_proxy(server, "198.18.0.2", "Ben").await;
    ben.send(&ClientMsg::Resolve {
        code: ana_w.code.clone(),
    })
    .await;
    assert!(matches!(ben.recv().await, ServerMsg::Resolved { .. }));
    (ana, ana_w, ben, ben_w)
}

#[tokio::test]
async fn relay_frames_reach_the_addressee_unchanged_with_the_sender_stamped() {
    let server = start(config()).await;
    let (mut ana, ana_w, mut ben, ben_w) = pair(&server).await;
    let session = Uuid::new_v4();
    ben.send(&relay(ana_w.id, session, "AQIDBA==".into())).await;
    assert_eq!(
        ana.recv().await,
        ServerMsg::Relay {
            from: ben_w.id,
            session,
            data: "AQIDBA==".into()
        }
    );
    // Ana may answer whoever relayed to her.
    ana.send(&relay(ben_w.id, session, "BQY=".into())).await;
    assert!(matches!(ben.recv().await, ServerMsg::Relay { from, .. } if from == ana_w.id));
}

#[tokio::test]
async fn relay_to_an_unreachable_peer_is_unknown_peer() {
    let server = start(config()).await;
    let (_ana, ana_w) = Client::joined_via_proxy(&server, "198.18.0.1", "Ana").await;
    let (mut eve, _) = Client::joined_via_proxy(&server, "198.18.0.3", "Eve").await;
    eve.send(&relay(ana_w.id, Uuid::new_v4(), "AA==".into()))
        .await;
    eve.expect_error(ErrorCode::UnknownPeer).await;
    eve.assert_alive().await;
}

#[tokio::test]
async fn relay_frames_are_not_limited_by_the_message_rate_but_paced_by_bytes() {
    let mut cfg = config();
    cfg.limits.messages_per_sec = 5;
    cfg.limits.message_burst = 5;
    cfg.limits.relay_bytes_per_sec = 2_000_000;
    let server = start(cfg).await;
    let (mut ana, ana_w, mut ben, _) = pair(&server).await;
    let session = Uuid::new_v4();
    // 100 frames of 40 000 characters: 4 MB, far above 5 messages/s, all delivered;
    // at 2 MB/s after a 2 MB burst this takes about one second.
    let payload = "A".repeat(40_000);
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        for _ in 0..100 {
            ben.send(&relay(ana_w.id, session, payload.clone())).await;
        }
        ben
    });
    let mut got = 0;
    while got < 100 {
        match ana.recv().await {
            ServerMsg::Relay { data, .. } => {
                assert_eq!(data.len(), 40_000);
                got += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let took = started.elapsed();
    let mut ben = sender.await.unwrap();
    assert!(took >= Duration::from_millis(700), "paced: {took:?}");
    assert!(took < Duration::from_secs(5), "not stalled: {took:?}");
    ben.expect_silence().await;
}

#[tokio::test]
async fn relay_can_be_disabled() {
    let mut cfg = config();
    cfg.limits.relay_bytes_per_sec = 0;
    let server = start(cfg).await;
    let (_ana, ana_w, mut ben, _) = pair(&server).await;
    ben.send(&relay(ana_w.id, Uuid::new_v4(), "AA==".into()))
        .await;
    ben.expect_error(ErrorCode::Unavailable).await;
}
