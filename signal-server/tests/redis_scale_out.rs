//! Several `peerdrop-signal` nodes on one real Redis: codes, signals and relay frames across
//! nodes, nearby groups and paired lists spanning them, a node's death, Redis restarting.
//!
//! Everything is real: `redis-server` (Debian's package) on a free loopback port with no
//! persistence, the server binary as separate processes, WebSocket clients speaking the
//! protocol. Clients come "from" public test addresses through the trusted proxy 127.0.0.1.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::redis::{Node, Redis};
use common::{offer, Client, Event};
use peerdrop_proto::signal::{ClientMsg, ErrorCode, PeerId, PeerInfo, ServerMsg, SignalData};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_peerdrop-signal");
/// Presence TTL of the nodes of these tests (the shortest allowed).
const TTL_SECS: u64 = 1;

/// A node of the cluster on `redis`, trusting 127.0.0.1 as its reverse proxy.
fn node(redis: &Redis) -> Node {
    Node::start(
        Path::new(BIN),
        redis,
        TTL_SECS,
        &["--trusted-proxy", "127.0.0.1"],
    )
}

async fn join(node: &Node, address: &str, name: &str) -> (Client, common::Welcome) {
    Client::joined_at(node.addr, address, name).await
}

/// Reads messages until a `nearby` list whose ids are exactly `want` arrives (other messages
/// in between are ignored); panics after `within`.
async fn wait_nearby(client: &mut Client, want: &[PeerId], within: Duration) -> Vec<PeerInfo> {
    let want: HashSet<PeerId> = want.iter().copied().collect();
    let deadline = Instant::now() + within;
    let mut last = None;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match client.next_event_within(left).await {
            Some(Event::Msg(ServerMsg::Nearby { peers })) => {
                if peers.iter().map(|p| p.id).collect::<HashSet<_>>() == want {
                    return peers;
                }
                last = Some(peers);
            }
            Some(Event::Msg(_)) => {}
            Some(Event::Closed(frame)) => panic!("closed while waiting for nearby: {frame:?}"),
            None => break,
        }
    }
    panic!("no nearby list {want:?} within {within:?}; last {last:?}");
}

/// Reads messages until one that is not a `nearby` list arrives, within `within`.
async fn next_non_nearby(client: &mut Client, within: Duration) -> ServerMsg {
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match client.next_event_within(left).await {
            Some(Event::Msg(ServerMsg::Nearby { .. })) => continue,
            Some(Event::Msg(msg)) => return msg,
            Some(Event::Closed(frame)) => panic!("closed unexpectedly: {frame:?}"),
            None => break,
        }
    }
    panic!("nothing but nearby lists within {within:?}");
}

/// `resolve` from `client`: the peer found, or the error code.
async fn resolve(client: &mut Client, code: &str) -> Result<PeerInfo, ErrorCode> {
    client.send(&ClientMsg::Resolve { code: code.into() }).await;
    match next_non_nearby(client, Duration::from_secs(3)).await {
        ServerMsg::Resolved { peer, .. } => Ok(peer),
        ServerMsg::Error { code, .. } => Err(code),
        other => panic!("expected resolved or error, got {other:?}"),
    }
}

/// Resolves `target`'s code from `from`, sends an offer, and checks it arrives stamped with
/// the sender's identity; then an answer the other way. Proves the relay in both directions.
async fn offer_and_answer(
    from: &mut Client,
    from_id: PeerId,
    target: &mut Client,
    target_welcome: &common::Welcome,
) {
    let found = resolve(from, &target_welcome.code)
        .await
        .expect("code resolves");
    assert_eq!(found.id, target_welcome.id);
    let data = offer("v=0 across nodes");
    from.signal(target_welcome.id, data.clone()).await;
    match next_non_nearby(target, Duration::from_secs(3)).await {
        ServerMsg::Signal {
            from: sender,
            data: got,
        } => {
            assert_eq!(sender.id, from_id);
            assert_eq!(got, data);
        }
        other => panic!("expected the offer, got {other:?}"),
    }
    let answer = SignalData::Answer {
        session: Uuid::new_v4(),
        sdp: "v=0 answer".into(),
    };
    target.signal(from_id, answer.clone()).await;
    match next_non_nearby(from, Duration::from_secs(3)).await {
        ServerMsg::Signal { from: sender, data } => {
            assert_eq!(sender.id, target_welcome.id);
            assert_eq!(data, answer);
        }
        other => panic!("expected the answer, got {other:?}"),
    }
}

fn health(node: &Node) -> serde_json::Value {
    let (_, body) = node.health().expect("health answers");
    serde_json::from_str(&body).expect("health is JSON")
}

#[tokio::test]
async fn a_code_held_on_one_node_is_reached_from_another() {
    let redis = Redis::start();
    let (a, b) = (node(&redis), node(&redis));
    let (mut ana, ana_w) = join(&a, "198.18.0.1", "Ana").await;
    let (mut ben, ben_w) = join(&b, "198.18.0.2", "Ben").await;

    offer_and_answer(&mut ben, ben_w.id, &mut ana, &ana_w).await;

    // The encrypted fallback relay crosses nodes too, both ways.
    let session = Uuid::new_v4();
    ben.send(&ClientMsg::Relay {
        to: ana_w.id,
        session,
        data: "AQIDBA==".into(),
    })
    .await;
    assert_eq!(
        next_non_nearby(&mut ana, Duration::from_secs(3)).await,
        ServerMsg::Relay {
            from: ben_w.id,
            session,
            data: "AQIDBA==".into()
        }
    );
    ana.send(&ClientMsg::Relay {
        to: ben_w.id,
        session,
        data: "BQY=".into(),
    })
    .await;
    assert_eq!(
        next_non_nearby(&mut ben, Duration::from_secs(3)).await,
        ServerMsg::Relay {
            from: ana_w.id,
            session,
            data: "BQY=".into()
        }
    );

    // A stranger on node A who resolved nothing cannot signal Ben on node B.
    let (mut eve, _) = join(&a, "198.18.0.3", "Eve").await;
    eve.signal(ben_w.id, offer("nope")).await;
    eve.expect_error(ErrorCode::UnknownPeer).await;

    // Ben leaves node B: his partner on node A hears `peer_gone` at once.
    ben.close().await;
    assert_eq!(
        next_non_nearby(&mut ana, Duration::from_secs(3)).await,
        ServerMsg::PeerGone { id: ben_w.id }
    );
    // ...and his code is free: it resolves nowhere.
    assert_eq!(
        resolve(&mut ana, &ben_w.code).await,
        Err(ErrorCode::UnknownCode)
    );
}

#[tokio::test]
async fn codes_are_unique_across_nodes_and_resolve_everywhere() {
    let redis = Redis::start();
    let nodes = [node(&redis), node(&redis), node(&redis)];
    let mut peers = Vec::new();
    for i in 0..60 {
        let at = &nodes[i % 3];
        peers.push(join(at, &format!("198.18.1.{}", i + 1), &format!("p{i}")).await);
    }
    let codes: HashSet<&str> = peers.iter().map(|(_, w)| w.code.as_str()).collect();
    assert_eq!(codes.len(), peers.len(), "no code handed out twice");
    // Every code is held in Redis by the peer that got it.
    for (_, w) in &peers {
        let reply = redis
            .command(&format!("EXISTS peerdrop:code:{}", w.code))
            .unwrap();
        assert_eq!(reply.trim(), ":1", "code {} is in Redis", w.code);
    }
    // A peer on one node resolves codes held on each of the others.
    let (mut asker, _) = join(&nodes[0], "198.18.2.1", "asker").await;
    for (_, w) in peers.iter().skip(1).take(2) {
        assert_eq!(resolve(&mut asker, &w.code).await.unwrap().id, w.id);
    }
}

#[tokio::test]
async fn nearby_groups_span_nodes() {
    let redis = Redis::start();
    let (a, b) = (node(&redis), node(&redis));
    let within = Duration::from_secs(3);
    let (mut ana, ana_w) = join(&a, "203.0.113.7", "Ana").await;
    let (mut ben, ben_w) = join(&b, "203.0.113.7", "Ben").await;
    let (mut cat, _) = join(&b, "203.0.113.8", "Cat").await;

    let seen = wait_nearby(&mut ana, &[ben_w.id], within).await;
    assert_eq!(seen[0].name, "Ben");
    wait_nearby(&mut ben, &[ana_w.id], within).await;

    // Same group: Ana signals Ben with no code, straight across nodes.
    let data = offer("v=0 nearby");
    ana.signal(ben_w.id, data.clone()).await;
    match next_non_nearby(&mut ben, within).await {
        ServerMsg::Signal { from, data: got } => {
            assert_eq!((from.id, got), (ana_w.id, data));
        }
        other => panic!("expected the offer, got {other:?}"),
    }
    // Cat, behind another address, sees nobody and cannot signal Ana.
    cat.expect_silence().await;
    cat.signal(ana_w.id, offer("nope")).await;
    cat.expect_error(ErrorCode::UnknownPeer).await;

    // A third member on node A shows up on node B as well; Ben leaving empties Ana's list of
    // him.
    let (_dan, dan_w) = join(&a, "203.0.113.7", "Dan").await;
    wait_nearby(&mut ben, &[ana_w.id, dan_w.id], within).await;
    ben.close().await;
    wait_nearby(&mut ana, &[dan_w.id], within).await;
}

/// Reads messages until a `paired` list whose ids are exactly `want` arrives; panics after
/// `within`.
async fn wait_paired(client: &mut Client, want: &[PeerId], within: Duration) {
    let want: HashSet<PeerId> = want.iter().copied().collect();
    let deadline = Instant::now() + within;
    let mut last = None;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match client.next_event_within(left).await {
            Some(Event::Msg(ServerMsg::Paired { peers })) => {
                if peers.iter().map(|p| p.id).collect::<HashSet<_>>() == want {
                    return;
                }
                last = Some(peers);
            }
            Some(Event::Msg(_)) => {}
            Some(Event::Closed(frame)) => panic!("closed while waiting for paired: {frame:?}"),
            None => break,
        }
    }
    panic!("no paired list {want:?} within {within:?}; last {last:?}");
}

#[tokio::test]
async fn paired_lists_span_nodes() {
    let redis = Redis::start();
    let (a, b) = (node(&redis), node(&redis));
    let within = Duration::from_secs(3);
    let tag = "c3".repeat(32);
    let watch = ClientMsg::Watch {
        tags: vec![tag.clone()],
    };
    // Two networks, two nodes: only the tag brings them together.
    let (mut ana, ana_w) = join(&a, "198.18.0.7", "Ana").await;
    let (mut ben, ben_w) = join(&b, "203.0.113.7", "Ben").await;
    let (mut cat, _) = join(&b, "203.0.113.8", "Cat").await;
    ana.send(&watch).await;
    wait_paired(&mut ana, &[], within).await;
    ben.send(&watch).await;
    wait_paired(&mut ben, &[ana_w.id], within).await;
    wait_paired(&mut ana, &[ben_w.id], within).await;

    // Paired across nodes: Ben signals Ana with no code; Cat, who holds no tag, cannot.
    let data = offer("v=0 paired");
    ben.signal(ana_w.id, data.clone()).await;
    match next_non_nearby(&mut ana, within).await {
        ServerMsg::Signal { from, data: got } => assert_eq!((from.id, got), (ben_w.id, data)),
        other => panic!("expected the offer, got {other:?}"),
    }
    cat.signal(ana_w.id, offer("nope")).await;
    cat.expect_error(ErrorCode::UnknownPeer).await;

    // Watching other tags, or leaving, takes a holder off the other node's list.
    ben.send(&ClientMsg::Watch {
        tags: vec!["d4".repeat(32)],
    })
    .await;
    wait_paired(&mut ana, &[], within).await;
    ben.send(&watch).await;
    wait_paired(&mut ana, &[ben_w.id], within).await;
    ben.close().await;
    wait_paired(&mut ana, &[], within).await;
}

#[tokio::test]
async fn a_killed_nodes_peers_vanish_from_the_others_within_the_ttl() {
    let redis = Redis::start();
    let (a, mut b) = (node(&redis), node(&redis));
    let (mut ana, _) = join(&a, "203.0.113.20", "Ana").await;
    let (_ben, ben_w) = join(&b, "203.0.113.20", "Ben").await;
    let (_cy, cy_w) = join(&b, "198.18.5.5", "Cy").await;
    wait_nearby(&mut ana, &[ben_w.id], Duration::from_secs(3)).await;
    // Ana and Cy become partners (resolved by code, offer sent).
    assert_eq!(resolve(&mut ana, &cy_w.code).await.unwrap().id, cy_w.id);
    ana.signal(cy_w.id, offer("v=0")).await;

    b.kill();
    let killed = Instant::now();
    // Presence expires after the TTL; node A checks every third of it.
    let bound = Duration::from_secs(TTL_SECS) * 2 + Duration::from_secs(2);
    let mut emptied = None;
    let mut cy_gone = None;
    while emptied.is_none() || cy_gone.is_none() {
        let left = (killed + bound)
            .checked_duration_since(Instant::now())
            .expect("node B's peers vanished from node A in time");
        match ana.next_event_within(left).await {
            Some(Event::Msg(ServerMsg::Nearby { peers })) if peers.is_empty() => {
                emptied = Some(killed.elapsed());
            }
            Some(Event::Msg(ServerMsg::PeerGone { id })) if id == cy_w.id => {
                cy_gone = Some(killed.elapsed());
            }
            Some(Event::Msg(_)) => {}
            Some(Event::Closed(frame)) => panic!("closed: {frame:?}"),
            None => {
                panic!("within {bound:?}: nearby emptied {emptied:?}, peer_gone for Cy {cy_gone:?}")
            }
        }
    }
    // Not before the TTL: until then node B could have been merely slow.
    assert!(emptied.unwrap() >= Duration::from_millis(TTL_SECS * 1000 / 2));
    assert_eq!(
        resolve(&mut ana, &ben_w.code).await,
        Err(ErrorCode::UnknownCode),
        "the dead node's codes are free"
    );
    // Node A and its own peers are unharmed.
    let (_eve, eve_w) = join(&a, "198.18.5.6", "Eve").await;
    assert_eq!(resolve(&mut ana, &eve_w.code).await.unwrap().id, eve_w.id);
    assert_eq!(health(&a)["cluster"]["redis"], "up");
}

/// Joins a peer and reports how the server answered: `Ok` with the welcome, or the error
/// code and close code it was turned away with.
async fn try_join(addr: SocketAddr, address: &str) -> Result<(), (ErrorCode, CloseCode)> {
    let mut client = Client::try_connect(addr, "/ws", "127.0.0.1", &[("X-Forwarded-For", address)])
        .await
        .expect("websocket connects");
    client
        .send(&ClientMsg::Hello {
            v: peerdrop_proto::PROTOCOL_VERSION,
            name: "late".into(),
            kind: peerdrop_proto::signal::DeviceKind::Cli,
            fingerprint: None,
            max_packet: None,
        })
        .await;
    match client.recv().await {
        ServerMsg::Welcome { .. } => Ok(()),
        ServerMsg::Error { code, .. } => {
            let frame = client.expect_closed().await.expect("close frame");
            Err((code, frame.code))
        }
        other => panic!("expected welcome or error, got {other:?}"),
    }
}

#[tokio::test]
async fn nodes_survive_a_redis_restart() {
    let mut redis = Redis::start();
    let (a, b) = (node(&redis), node(&redis));
    // Peers from before the outage, on node B.
    let (mut zed, zed_w) = join(&b, "198.18.9.1", "Zed").await;
    let (mut ana, ana_w) = join(&a, "198.18.9.2", "Ana").await;

    redis.kill();
    let waited = a.wait_health(503, Duration::from_secs(5));
    let h = health(&a);
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["cluster"]["redis"], "down", "{h}");
    assert!(h["cluster"]["error"].is_string(), "{h}");
    b.wait_health(503, Duration::from_secs(5));
    // While Redis is gone, new peers are turned away (try again later)...
    assert_eq!(
        try_join(a.addr, "198.18.9.3").await,
        Err((ErrorCode::Unavailable, CloseCode::Again))
    );
    // ...and the ones connected stay.
    ana.assert_alive().await;
    zed.assert_alive().await;

    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restart();
    // Back within the backoff's cap (5 s) plus a round trip.
    a.wait_health(200, Duration::from_secs(8));
    b.wait_health(200, Duration::from_secs(8));
    assert_eq!(health(&a)["status"], "ok");

    // Redis came back empty: the nodes wrote their peers again, so Zed, connected to node B
    // all along, is reached by code from node A...
    let found = resolve(&mut ana, &zed_w.code)
        .await
        .expect("Zed's code is back");
    assert_eq!(found.id, zed_w.id);
    offer_and_answer(&mut ana, ana_w.id, &mut zed, &zed_w).await;
    // ...and new peers join and reach each other across nodes.
    let (mut kim, kim_w) = join(&b, "198.18.9.4", "Kim").await;
    let (mut lou, lou_w) = join(&a, "198.18.9.5", "Lou").await;
    offer_and_answer(&mut lou, lou_w.id, &mut kim, &kim_w).await;
    assert!(waited < Duration::from_secs(5));
}

#[tokio::test]
async fn sigterm_drains_a_node_with_close_1012_and_its_peers_vanish_at_once() {
    let redis = Redis::start();
    // A long TTL: whatever vanishes quickly below was removed by the drain, not expired.
    let ttl = 30;
    let grace = Duration::from_secs(2);
    let extra = ["--trusted-proxy", "127.0.0.1", "--shutdown-grace", "2"];
    let mut a = Node::start(Path::new(BIN), &redis, ttl, &extra);
    let b = Node::start(Path::new(BIN), &redis, ttl, &extra);
    let (mut ana, ana_w) = join(&a, "203.0.113.30", "Ana").await;
    let (mut ben, ben_w) = join(&b, "203.0.113.30", "Ben").await;
    wait_nearby(&mut ben, &[ana_w.id], Duration::from_secs(3)).await;
    wait_nearby(&mut ana, &[ben_w.id], Duration::from_secs(3)).await;
    // A client that never reads again must not hold the drain up past the grace.
    let (_deaf, _) = join(&a, "198.18.7.7", "deaf").await;

    a.signal(15); // SIGTERM
    let sent = Instant::now();
    ana.expect_error(ErrorCode::Unavailable).await;
    let frame = ana.expect_closed().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Restart, "1012: reconnect elsewhere");
    let status = a
        .wait_exit(grace + Duration::from_secs(2))
        .expect("node A exits within the grace period");
    assert!(status.success(), "exit status {status:?}");
    assert!(sent.elapsed() < grace + Duration::from_secs(2));

    // Ana is gone from node B long before her 30 s TTL, and her code is free.
    wait_nearby(&mut ben, &[], Duration::from_secs(3)).await;
    assert_eq!(
        resolve(&mut ben, &ana_w.code).await,
        Err(ErrorCode::UnknownCode)
    );
    assert!(redis.get(&format!("peerdrop:peer:{}", ana_w.id)).is_none());
}
