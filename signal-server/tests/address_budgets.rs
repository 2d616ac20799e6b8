//! Memory, CPU and bandwidth attacks that spread over many connections of one address, or
//! come from a web page (issue 15): the fallback relay's per-address byte and frame budgets,
//! strikes for relaying to nobody, TURN credentials minted within a budget per address, and
//! the `Origin` check that keeps web pages off a local server.

mod common;

use std::time::{Duration, Instant};

use common::{config, http, proxied_config, start, Client, Event};
use peerdrop_proto::signal::{ClientMsg, ErrorCode, IceServer, ServerMsg};
use peerdrop_signal::RunningServer;
use tokio::time::timeout_at;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;

fn relay(to: Uuid, data: String) -> ClientMsg {
    ClientMsg::Relay {
        to,
        session: Uuid::nil(),
        data,
    }
}

/// Counts the relay payload bytes `sink` receives until `until`.
async fn count_relayed(mut sink: Client, until: tokio::time::Instant) -> usize {
    let mut bytes = 0;
    loop {
        match timeout_at(until, sink.recv()).await {
            Ok(ServerMsg::Relay { data, .. }) => bytes += data.len(),
            Ok(_) => {}
            Err(_) => return bytes,
        }
    }
}

/// Offers relay frames of `FRAME` characters to `to` at `OFFERED` bytes/s (more than any one
/// budget below allows) until `until`; a send waits while the server does not read.
fn blast(mut client: Client, to: Uuid, until: Instant) -> tokio::task::JoinHandle<Client> {
    tokio::spawn(async move {
        let payload = "A".repeat(FRAME);
        let every = Duration::from_secs_f64(FRAME as f64 / OFFERED);
        let mut next = tokio::time::Instant::now();
        while Instant::now() < until {
            client.send(&relay(to, payload.clone())).await;
            next += every;
            tokio::time::sleep_until(next).await;
        }
        client
    })
}

/// Relay frame size and offered rate per sender in the budget test.
const FRAME: usize = 10_000;
const OFFERED: f64 = 400_000.0;
/// Relay budget per connection and per address in the budget test.
const BUDGET: u64 = 250_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ip_with_many_connections_cannot_relay_past_its_budget() {
    const SENDERS: usize = 8;
    const WINDOW: Duration = Duration::from_secs(3);
    let mut cfg = proxied_config();
    cfg.limits.relay_bytes_per_sec = BUDGET;
    cfg.limits.relay_bytes_per_sec_per_ip = BUDGET;
    let server = start(cfg).await;

    // The attacker: a sink and eight senders on one address (one nearby group, so they may
    // relay to each other), each offering more than a connection's budget. Before, each
    // connection had a budget of its own.
    let (sink, sink_w) = Client::joined_via_proxy(&server, "198.18.0.66", "sink").await;
    let mut senders = Vec::new();
    for n in 0..SENDERS {
        let (c, _) = Client::joined_via_proxy(&server, "198.18.0.66", &format!("s{n}")).await;
        senders.push(c);
    }
    // An honest pair elsewhere, relaying at the same time.
    let (honest_rx, honest_rx_w) = Client::joined_via_proxy(&server, "198.18.0.7", "rx").await;
    let (honest_tx, _) = Client::joined_via_proxy(&server, "198.18.0.7", "tx").await;

    let until = Instant::now() + WINDOW;
    let deadline = tokio::time::Instant::from_std(until);
    let attacker = tokio::spawn(count_relayed(sink, deadline));
    let honest = tokio::spawn(count_relayed(honest_rx, deadline));
    let mut tasks: Vec<_> = senders
        .into_iter()
        .map(|c| blast(c, sink_w.id, until))
        .collect();
    tasks.push(blast(honest_tx, honest_rx_w.id, until));
    let attacker = attacker.await.unwrap();
    let honest = honest.await.unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    let secs = WINDOW.as_secs_f64();
    eprintln!(
        "{SENDERS} connections of one address (offering {:.1} MB/s) relayed {:.2} MB in {secs} s \
         ({:.2} MB/s, budget {:.2} MB/s); an honest pair elsewhere {:.2} MB ({:.2} MB/s)",
        SENDERS as f64 * OFFERED / 1e6,
        attacker as f64 / 1e6,
        attacker as f64 / 1e6 / secs,
        BUDGET as f64 / 1e6,
        honest as f64 / 1e6,
        honest as f64 / 1e6 / secs
    );
    // One address: one second of burst + the rate, plus at most a frame in flight per sender.
    let cap = BUDGET as f64 * (1.0 + secs) + (SENDERS * (FRAME + 100)) as f64;
    assert!(
        (attacker as f64) <= cap * 1.1,
        "one address relayed {attacker} bytes, its budget allows {cap}"
    );
    // The honest address keeps a budget of its own.
    assert!(
        (honest as f64) >= cap / 2.0,
        "the honest pair relayed only {honest} bytes"
    );
}

#[tokio::test]
async fn relaying_to_an_unknown_peer_earns_strikes_until_closed() {
    let mut cfg = proxied_config();
    cfg.limits.max_strikes = 3;
    let server = start(cfg).await;
    let (_ana, ana_w) = Client::joined_via_proxy(&server, "198.18.0.1", "Ana").await;
    let (mut eve, _) = Client::joined_via_proxy(&server, "198.18.0.3", "Eve").await;
    // A peer that does not exist, and one that exists but is not reachable from Eve.
    eve.send(&relay(Uuid::new_v4(), "AA==".into())).await;
    eve.expect_error(ErrorCode::UnknownPeer).await;
    eve.send(&relay(ana_w.id, "AA==".into())).await;
    eve.expect_error(ErrorCode::UnknownPeer).await;
    eve.send(&relay(Uuid::new_v4(), "AA==".into())).await;
    let close = eve
        .expect_error_then_close(ErrorCode::UnknownPeer)
        .await
        .expect("close frame");
    assert_eq!(close.code, CloseCode::Policy);
}

#[tokio::test]
async fn relay_frames_still_in_flight_to_a_partner_that_left_cost_no_strikes() {
    let mut cfg = proxied_config();
    cfg.limits.max_strikes = 3;
    let server = start(cfg).await;
    let (mut ana, ana_w) = Client::joined_via_proxy(&server, "198.18.0.1", "Ana").await;
    let (mut ben, ben_w) = Client::joined_via_proxy(&server, "198.18.0.2", "Ben").await;
    ben.send(&ClientMsg::Resolve {
        code: ana_w.code.clone(),
    })
    .await;
    assert!(matches!(ben.recv().await, ServerMsg::Resolved { .. }));
    ben.send(&relay(ana_w.id, "AQI=".into())).await;
    assert!(matches!(ana.recv().await, ServerMsg::Relay { .. }));
    // Ana's transfer is mid-window when Ben vanishes.
    ana.close().await;
    assert_eq!(ben.recv().await, ServerMsg::PeerGone { id: ana_w.id });
    for _ in 0..10 {
        ben.send(&relay(ana_w.id, "AQI=".into())).await;
        ben.expect_error(ErrorCode::UnknownPeer).await;
    }
    ben.assert_alive().await;
    let _ = ben_w;
}

#[tokio::test]
async fn a_flood_of_tiny_relay_frames_is_paced_by_its_frame_count() {
    let mut cfg = proxied_config();
    cfg.limits.relay_frames_per_sec = 50;
    let server = start(cfg).await;
    let (mut rx, rx_w) = Client::joined_via_proxy(&server, "198.18.0.1", "rx").await;
    let (mut tx, _) = Client::joined_via_proxy(&server, "198.18.0.1", "tx").await;
    rx.expect_nearby().await; // tx joined
                              // 150 frames of 4 bytes: nothing against 8 MB/s, but 100 past a burst of 50 frames/s.
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        for _ in 0..150 {
            tx.send(&relay(rx_w.id, "AQID".into())).await;
        }
        tx
    });
    for _ in 0..150 {
        match rx.recv().await {
            ServerMsg::Relay { data, .. } => assert_eq!(data, "AQID"),
            other => panic!("unexpected {other:?}"),
        }
    }
    let took = started.elapsed();
    let mut tx = sender.await.unwrap();
    eprintln!("150 tiny relay frames at 50 frames/s took {took:?}");
    assert!(took >= Duration::from_millis(1500), "paced: {took:?}");
    assert!(took < Duration::from_secs(5), "not stalled: {took:?}");
    tx.expect_silence().await; // nothing lost, nothing refused
}

fn with_turn(per_ip: u32) -> peerdrop_signal::ServerConfig {
    let mut cfg = proxied_config();
    cfg.turn_secret = Some("north-wind-secret".into());
    cfg.turn_urls = vec!["turn:198.18.0.1:3478?transport=udp".into()];
    cfg.limits.turn_credentials_per_ip = per_ip;
    cfg
}

fn has_turn(servers: &[IceServer]) -> bool {
    servers.iter().any(|s| s.username.is_some())
}

/// Says hello from `address` and returns whether the welcome carried TURN credentials; when it
/// did not, checks the notice that follows.
async fn hello_gets_turn(server: &RunningServer, address: &str) -> (Client, bool) {
    let (mut client, welcome) = Client::joined_via_proxy(server, address, "flooder").await;
    assert_eq!(
        welcome.ice_servers[0].urls,
        vec!["stun:198.18.0.1:3478".to_string()],
        "STUN is always handed out"
    );
    let turn = has_turn(&welcome.ice_servers);
    if !turn {
        assert_eq!(welcome.ice_servers.len(), 1);
        match client.recv_skipping_nearby().await {
            ServerMsg::Error {
                code: ErrorCode::Unavailable,
                message,
            } => assert!(message.contains("TURN"), "{message}"),
            other => panic!("expected the no-TURN notice, got {other:?}"),
        }
        // The notice is no close: the connection goes on, STUN only.
        client.send(&ClientMsg::Ping).await;
        assert_eq!(client.recv_skipping_nearby().await, ServerMsg::Pong);
    }
    (client, turn)
}

#[tokio::test]
async fn hello_floods_do_not_mint_unbounded_turn_credentials() {
    let server = start(with_turn(3)).await;
    // Twenty hellos from one address, each on a fresh connection (closed again): three
    // credentials, then STUN only.
    let mut minted = 0;
    for _ in 0..20 {
        let (client, turn) = hello_gets_turn(&server, "198.18.0.50").await;
        minted += usize::from(turn);
        client.close().await;
    }
    assert_eq!(minted, 3, "one address gets its budget, not one per hello");
    // Another address is not affected.
    assert!(hello_gets_turn(&server, "198.18.0.51").await.1);
    // The /64s of one IPv6 /48 share one budget; another /48 has its own.
    let mut v6 = 0;
    for net in 1..=5 {
        v6 += usize::from(
            hello_gets_turn(&server, &format!("2001:db8:5:{net}::1"))
                .await
                .1,
        );
    }
    assert_eq!(v6, 3);
    assert!(hello_gets_turn(&server, "2001:db8:6:1::1").await.1);
    // Per peer: one credential per connection; a second hello mints nothing.
    let (mut once, _) = hello_gets_turn(&server, "198.18.0.52").await;
    once.send(&ClientMsg::Hello {
        v: peerdrop_proto::PROTOCOL_VERSION,
        name: "again".into(),
        kind: peerdrop_proto::signal::DeviceKind::Cli,
        fingerprint: None,
        max_packet: None,
    })
    .await;
    once.expect_error(ErrorCode::HelloRequired).await;
    once.expect_silence().await;
}

#[tokio::test]
async fn turn_credentials_come_back_as_the_budget_refills() {
    let mut cfg = with_turn(2);
    cfg.turn_ttl = Duration::from_secs(2); // two per 2 s: one more each second
    let server = start(cfg).await;
    assert!(hello_gets_turn(&server, "198.18.0.60").await.1);
    assert!(hello_gets_turn(&server, "198.18.0.60").await.1);
    assert!(!hello_gets_turn(&server, "198.18.0.60").await.1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(hello_gets_turn(&server, "198.18.0.60").await.1);
}

/// The upgrade a browser page at `origin` would send; `Err` carries the refusal status.
async fn connect_with_origin(server: &RunningServer, origin: &str) -> Result<Client, u16> {
    Client::try_connect(
        server.local_addr(),
        "/ws",
        "127.0.0.1",
        &[("Origin", origin)],
    )
    .await
    .map_err(|e| match e {
        tokio_tungstenite::tungstenite::Error::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    })
}

#[tokio::test]
async fn a_web_page_origin_cannot_join_the_local_server() {
    let mut cfg = config();
    cfg.allowed_origins = vec!["https://app.example.org".into()];
    let server = start(cfg).await;
    let addr = server.local_addr();
    // A native device (no Origin) is online.
    let (mut device, _) = Client::joined(&server, "laptop").await;

    // Any web site the person visits: refused before the upgrade, so never listed.
    assert_eq!(
        connect_with_origin(&server, "https://evil.example")
            .await
            .err(),
        Some(403)
    );
    assert_eq!(connect_with_origin(&server, "null").await.err(), Some(403));
    // Another local page (another port on this host) is another origin.
    assert_eq!(
        connect_with_origin(&server, "http://127.0.0.1:9")
            .await
            .err(),
        Some(403)
    );
    // DNS rebinding: a hostile name pointed at us is "same host" as itself, and still refused.
    let rebound = Client::try_connect_url(
        addr,
        &format!("ws://rebind.evil.example:{}/ws", addr.port()),
        "127.0.0.1",
        &[(
            "Origin",
            &format!("http://rebind.evil.example:{}", addr.port()),
        )],
    )
    .await;
    assert!(
        matches!(&rebound, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 403)
    );
    device.expect_silence().await; // nobody new appeared nearby

    // The refusal says why, in plain text.
    let (status, body) = http(
        &server,
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Origin: https://evil.example\r\n\r\n",
    )
    .await;
    assert_eq!(status, "HTTP/1.1 403 Forbidden");
    assert!(
        body.contains("Origin: https://evil.example") && body.contains("--allow-origin"),
        "{body}"
    );

    // Allowed: a configured origin, and a page this server serves itself (by IP address).
    let mut allowed = connect_with_origin(&server, "https://app.example.org")
        .await
        .expect("a configured origin is allowed");
    allowed.hello("web app").await;
    let mut own = connect_with_origin(&server, &format!("http://{addr}"))
        .await
        .expect("the server's own origin is allowed");
    own.hello("own page").await;

    // Counted (and logged).
    let (_, health) = http(&server, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["refused_origins"], 5, "{health}");
    assert!(matches!(
        device.next_event().await,
        Event::Msg(ServerMsg::Nearby { .. })
    ));
}
