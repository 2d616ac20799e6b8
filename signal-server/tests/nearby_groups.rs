//! "Nearby" = same public address, kept live on join and leave; never a global list.

mod common;

use common::{config, start, Client};

#[tokio::test]
async fn nearby_lists_update_live_on_join_and_leave() {
    let server = start(config()).await;
    let (mut ana, ana_w) = Client::joined(&server, "Ana").await;
    assert!(ana_w.nearby.is_empty());

    let (mut ben, ben_w) = Client::joined(&server, "Ben").await;
    assert_eq!(
        ben_w.nearby.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![ana_w.id]
    );
    assert_eq!(ben_w.nearby[0].name, "Ana");
    let seen_by_ana = ana.expect_nearby().await;
    assert_eq!(
        seen_by_ana
            .iter()
            .map(|p| (p.id, p.name.as_str()))
            .collect::<Vec<_>>(),
        vec![(ben_w.id, "Ben")]
    );

    let (cat, cat_w) = Client::joined(&server, "Cat").await;
    assert_eq!(
        cat_w.nearby.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![ana_w.id, ben_w.id]
    );
    assert_eq!(
        ana.expect_nearby()
            .await
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![ben_w.id, cat_w.id]
    );
    assert_eq!(
        ben.expect_nearby()
            .await
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![ana_w.id, cat_w.id]
    );

    cat.close().await;
    assert_eq!(
        ana.expect_nearby()
            .await
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![ben_w.id]
    );
    assert_eq!(
        ben.expect_nearby()
            .await
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![ana_w.id]
    );

    drop(ben); // abrupt: no close handshake
    assert!(ana.expect_nearby().await.is_empty());
    ana.expect_silence().await;
}

#[tokio::test]
async fn peers_behind_other_addresses_are_not_nearby() {
    let server = start(config()).await;
    let (mut home, _) = Client::joined_from(&server, "127.0.0.1", "home").await;
    let (mut away, away_w) = Client::joined_from(&server, "127.0.0.2", "away").await;
    assert!(
        away_w.nearby.is_empty(),
        "no global list of everyone online"
    );
    home.expect_silence().await;

    let (_home2, home2_w) = Client::joined_from(&server, "127.0.0.1", "home 2").await;
    assert_eq!(home2_w.nearby.len(), 1);
    assert_eq!(home.expect_nearby().await[0].id, home2_w.id);
    away.expect_silence().await;
}

#[tokio::test]
async fn trusted_proxy_groups_by_forwarded_address() {
    let mut cfg = config();
    cfg.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let server = start(cfg).await;

    let mut a = Client::connect_with_headers(&server, &[("X-Forwarded-For", "198.18.0.1")]).await;
    let a_w = a.hello("A").await;
    let mut b = Client::connect_with_headers(&server, &[("X-Forwarded-For", "198.18.0.1")]).await;
    let b_w = b.hello("B").await;
    assert_eq!(
        b_w.nearby.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![a_w.id]
    );
    assert_eq!(a.expect_nearby().await[0].id, b_w.id);

    let mut c = Client::connect_with_headers(&server, &[("X-Forwarded-For", "198.18.0.2")]).await;
    assert!(
        c.hello("C").await.nearby.is_empty(),
        "different forwarded address, different group"
    );
    a.expect_silence().await;
}

#[tokio::test]
async fn forged_forwarded_entry_does_not_join_a_strangers_group() {
    let mut cfg = config();
    cfg.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let server = start(cfg).await;
    let mut victim =
        Client::connect_with_headers(&server, &[("X-Forwarded-For", "198.18.0.1")]).await;
    victim.hello("victim").await;

    // The attacker puts the victim's address first; the proxy appended the real one.
    let mut attacker =
        Client::connect_with_headers(&server, &[("X-Forwarded-For", "198.18.0.1, 203.0.113.66")])
            .await;
    assert!(attacker.hello("attacker").await.nearby.is_empty());
    victim.expect_silence().await;
}

#[tokio::test]
async fn forwarded_header_from_untrusted_peer_is_ignored() {
    let server = start(config()).await; // no trusted proxies
    let mut a = Client::connect_with_headers(&server, &[("X-Forwarded-For", "198.18.0.1")]).await;
    let a_w = a.hello("A").await;
    let mut b = Client::connect_with_headers(&server, &[("X-Forwarded-For", "198.18.0.2")]).await;
    let b_w = b.hello("B").await;
    assert_eq!(
        b_w.nearby[0].id, a_w.id,
        "grouped by the real TCP address, 127.0.0.1"
    );
}
