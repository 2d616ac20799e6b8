//! "Nearby" = same public address, or the server's own LAN (private, loopback, link-local
//! addresses), kept live on join and leave; never a global list.

mod common;

use common::{config, proxied_config, start, Client};

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
async fn peers_behind_other_public_addresses_are_not_nearby() {
    let server = start(proxied_config()).await;
    let (mut home, _) = Client::joined_via_proxy(&server, "198.18.0.1", "home").await;
    let (mut away, away_w) = Client::joined_via_proxy(&server, "203.0.113.7", "away").await;
    assert!(
        away_w.nearby.is_empty(),
        "no global list of everyone online"
    );
    home.expect_silence().await;

    let (_home2, home2_w) = Client::joined_via_proxy(&server, "198.18.0.1", "home 2").await;
    assert_eq!(home2_w.nearby.len(), 1);
    assert_eq!(home.expect_nearby().await[0].id, home2_w.id);
    away.expect_silence().await;
}

#[tokio::test]
async fn a_server_on_a_lan_groups_its_lan() {
    let server = start(proxied_config()).await;
    // Different private addresses (even different private ranges) and a loopback client.
    let (mut laptop, laptop_w) = Client::joined_via_proxy(&server, "192.168.1.10", "laptop").await;
    assert!(laptop_w.nearby.is_empty());
    let (mut phone, phone_w) = Client::joined_via_proxy(&server, "192.168.1.23", "phone").await;
    assert_eq!(
        phone_w.nearby.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![laptop_w.id]
    );
    assert_eq!(laptop.expect_nearby().await[0].id, phone_w.id);
    let (_nas, nas_w) = Client::joined_via_proxy(&server, "10.0.0.4", "nas").await;
    let (_v6, v6_w) = Client::joined_via_proxy(&server, "fd12:3456::9", "ula").await;
    let (_local, local_w) = Client::joined(&server, "on the server itself").await;
    assert_eq!(
        local_w.nearby.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![laptop_w.id, phone_w.id, nas_w.id, v6_w.id]
    );

    // Nearby peers may signal each other without a code.
    phone.signal(laptop_w.id, common::offer("sdp")).await;
    for _ in 0..3 {
        laptop.expect_nearby().await; // nas, ula, local joined
    }
    assert!(matches!(
        laptop.recv().await,
        peerdrop_proto::signal::ServerMsg::Signal { from, .. } if from.id == phone_w.id
    ));
}

#[tokio::test]
async fn lan_and_public_and_carrier_grade_nat_clients_are_strangers() {
    let server = start(proxied_config()).await;
    let (mut lan, _) = Client::joined_via_proxy(&server, "192.168.1.10", "lan").await;
    let (mut public, public_w) = Client::joined_via_proxy(&server, "198.18.0.1", "public").await;
    assert!(
        public_w.nearby.is_empty(),
        "a public client is not on the LAN"
    );
    lan.expect_silence().await;

    // Carrier-grade NAT: many unrelated subscribers, so not one LAN.
    let (mut cgnat_a, _) = Client::joined_via_proxy(&server, "100.64.0.1", "cgnat a").await;
    let (_cgnat_b, cgnat_b_w) = Client::joined_via_proxy(&server, "100.64.0.2", "cgnat b").await;
    assert!(cgnat_b_w.nearby.is_empty());
    cgnat_a.expect_silence().await;

    // And the LAN peer cannot signal the public one without its code.
    lan.signal(public_w.id, common::offer("sdp")).await;
    lan.expect_error(peerdrop_proto::signal::ErrorCode::UnknownPeer)
        .await;
    public.expect_silence().await;
}

#[tokio::test]
async fn the_lan_group_is_bounded() {
    let mut cfg = proxied_config();
    cfg.limits.max_lan_group = 2;
    let server = start(cfg).await;
    let (mut a, a_w) = Client::joined_via_proxy(&server, "192.168.1.10", "a").await;
    let (_b, b_w) = Client::joined_via_proxy(&server, "192.168.1.11", "b").await;
    assert_eq!(b_w.nearby[0].id, a_w.id);
    a.expect_nearby().await;
    // The group is full: a third LAN device is grouped by its own address.
    let (_c, c_w) = Client::joined_via_proxy(&server, "192.168.1.12", "c").await;
    assert!(c_w.nearby.is_empty());
    a.expect_silence().await;
    let (_d, d_w) = Client::joined_via_proxy(&server, "192.168.1.12", "d").await;
    assert_eq!(
        d_w.nearby.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![c_w.id]
    );
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
