//! Paired devices: peers watching the same pairing tag find each other from any address and
//! may signal each other; a `watch` is bounded (256 tags, well-formed) and refused otherwise.

mod common;

use common::{offer, proxied_config, start, Client};
use peerdrop_proto::signal::{ClientMsg, ErrorCode, PeerId, ServerMsg, MAX_PAIRING_TAGS};

fn tag(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

async fn expect_paired(client: &mut Client) -> Vec<PeerId> {
    match client.recv_skipping_nearby().await {
        ServerMsg::Paired { peers } => peers.iter().map(|p| p.id).collect(),
        other => panic!("expected paired, got {other:?}"),
    }
}

#[tokio::test]
async fn peers_watching_one_tag_find_each_other_across_networks() {
    let server = start(proxied_config()).await;
    let (mut home, home_w) = Client::joined_via_proxy(&server, "198.18.0.1", "home").await;
    let (mut away, away_w) = Client::joined_via_proxy(&server, "203.0.113.7", "away").await;
    let (mut other, other_w) = Client::joined_via_proxy(&server, "203.0.113.9", "other").await;
    assert!(away_w.nearby.is_empty() && other_w.nearby.is_empty());

    // Before pairing, a stranger on another network cannot be signalled.
    away.signal(home_w.id, offer("sdp")).await;
    away.expect_error(ErrorCode::UnknownPeer).await;

    home.send(&ClientMsg::Watch {
        tags: vec![tag(1), tag(7)],
    })
    .await;
    assert_eq!(expect_paired(&mut home).await, Vec::<PeerId>::new());
    away.send(&ClientMsg::Watch {
        tags: vec![tag(1), tag(1)],
    })
    .await;
    assert_eq!(expect_paired(&mut away).await, vec![home_w.id]);
    assert_eq!(expect_paired(&mut home).await, vec![away_w.id]);
    // A peer watching other tags sees neither, and they do not see it.
    other.send(&ClientMsg::Watch { tags: vec![tag(2)] }).await;
    assert_eq!(expect_paired(&mut other).await, Vec::<PeerId>::new());
    home.expect_silence().await;

    // Paired peers signal each other without a code; the stranger still cannot.
    away.signal(home_w.id, offer("hi")).await;
    match home.recv_skipping_nearby().await {
        ServerMsg::Signal { from, .. } => assert_eq!(from.id, away_w.id),
        other => panic!("expected signal, got {other:?}"),
    }
    other.signal(home_w.id, offer("sdp")).await;
    other.expect_error(ErrorCode::UnknownPeer).await;

    // Leaving updates the list.
    away.close().await;
    assert_eq!(expect_paired(&mut home).await, Vec::<PeerId>::new());
}

#[tokio::test]
async fn a_watch_is_bounded_and_well_formed_or_refused() {
    let server = start(proxied_config()).await;
    let (mut ana, ana_w) = Client::joined_via_proxy(&server, "198.18.0.1", "ana").await;
    let (mut ben, _) = Client::joined_via_proxy(&server, "203.0.113.7", "ben").await;

    // Exactly the cap is accepted.
    let full: Vec<String> = (0..MAX_PAIRING_TAGS)
        .map(|i| format!("{:064x}", i + 1))
        .collect();
    ana.send(&ClientMsg::Watch { tags: full.clone() }).await;
    assert_eq!(expect_paired(&mut ana).await, Vec::<PeerId>::new());

    // One more is refused with too_large; the earlier tags stay in force.
    let mut over = full.clone();
    over.push(format!("{:064x}", 9999));
    ben.send(&ClientMsg::Watch { tags: over }).await;
    let message = ben.expect_error(ErrorCode::TooLarge).await;
    assert!(message.contains("at most 256"), "{message}");
    ben.assert_alive().await;

    // Malformed tags (upper case, short) are refused as a whole.
    for bad in [tag(0xab).to_uppercase(), "ab".into()] {
        ben.send(&ClientMsg::Watch {
            tags: vec![tag(3), bad],
        })
        .await;
        ben.expect_error(ErrorCode::BadMessage).await;
    }
    ana.expect_silence().await;

    // A well-formed watch sharing Ana's last tag pairs them.
    ben.send(&ClientMsg::Watch {
        tags: vec![full[MAX_PAIRING_TAGS - 1].clone()],
    })
    .await;
    assert_eq!(expect_paired(&mut ben).await, vec![ana_w.id]);
    assert_eq!(expect_paired(&mut ana).await.len(), 1);
}

#[tokio::test]
async fn watches_have_a_budget_per_connection() {
    let server = start(proxied_config()).await;
    let (mut ana, _) = Client::joined_via_proxy(&server, "198.18.0.1", "ana").await;
    for i in 0..8 {
        ana.send(&ClientMsg::Watch { tags: vec![tag(i)] }).await;
        assert_eq!(expect_paired(&mut ana).await, Vec::<PeerId>::new());
    }
    ana.send(&ClientMsg::Watch { tags: vec![tag(9)] }).await;
    let message = ana.expect_error(ErrorCode::RateLimited).await;
    assert!(message.contains("one every 10 s"), "{message}");
    ana.assert_alive().await;
}
