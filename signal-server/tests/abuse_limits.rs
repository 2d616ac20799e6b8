//! Bad input and abuse get an error frame (and, if repeated, a close) — never a crash, and
//! everyone else keeps being served.

mod common;

use std::time::{Duration, Instant};

use common::{config, start, Client, Event};
use peerdrop_proto::signal::{ClientMsg, ErrorCode, ServerMsg, MAX_SIGNAL_MESSAGE_BYTES};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// A syntactically valid `resolve` padded to `len` bytes.
fn padded_message(len: usize) -> String {
    let head = r#"{"type":"resolve","code":""#;
    let tail = r#""}"#;
    format!("{head}{}{tail}", "A".repeat(len - head.len() - tail.len()))
}

#[tokio::test]
async fn malformed_json_is_bad_message_and_server_keeps_serving() {
    let server = start(config()).await;
    let (mut client, _) = Client::joined(&server, "sloppy").await;
    client.send_text("{not json").await;
    client.expect_error(ErrorCode::BadMessage).await;
    client.send_text(r#"{"type":"teleport","to":"mars"}"#).await;
    let message = client.expect_error(ErrorCode::BadMessage).await;
    assert!(
        message.contains("teleport"),
        "explains what was wrong: {message}"
    );
    client.assert_alive().await;

    let (_other, welcome) = Client::joined(&server, "other").await;
    assert_eq!(welcome.nearby.len(), 1);
}

#[tokio::test]
async fn malformed_first_message_is_bad_message_not_a_close() {
    let server = start(config()).await;
    let mut client = Client::connect(&server).await;
    client.send_text("hello?").await;
    client.expect_error(ErrorCode::BadMessage).await;
    client.hello("late but fine").await;
}

#[tokio::test]
async fn binary_frames_are_bad_messages() {
    let server = start(config()).await;
    let (mut client, _) = Client::joined(&server, "binary").await;
    client
        .send_frame(Message::binary(vec![0u8, 1, 2, 3]))
        .await
        .unwrap();
    let message = client.expect_error(ErrorCode::BadMessage).await;
    assert!(message.contains("binary"), "{message}");
    client.assert_alive().await;
}

#[tokio::test]
async fn repeated_bad_messages_close_the_connection() {
    let mut cfg = config();
    cfg.limits.max_strikes = 3;
    let server = start(cfg).await;
    let (mut client, _) = Client::joined(&server, "garbage").await;
    for _ in 0..3 {
        client.send_text("garbage").await;
    }
    client.expect_error(ErrorCode::BadMessage).await;
    client.expect_error(ErrorCode::BadMessage).await;
    let frame = client
        .expect_error_then_close(ErrorCode::BadMessage)
        .await
        .expect("close frame");
    assert_eq!(frame.code, CloseCode::Policy);

    let (_next, _) = Client::joined(&server, "next").await;
}

#[tokio::test]
async fn oversized_message_is_too_large_at_default_limit() {
    let server = start(config()).await;
    let (mut client, _) = Client::joined(&server, "big").await;
    client
        .send_text(&padded_message(MAX_SIGNAL_MESSAGE_BYTES + 1))
        .await;
    let message = client.expect_error(ErrorCode::TooLarge).await;
    assert!(
        message.contains(&MAX_SIGNAL_MESSAGE_BYTES.to_string()),
        "{message}"
    );
    client.assert_alive().await;

    // Exactly at the limit is fine (and is a well-formed resolve of a malformed code).
    client
        .send_text(&padded_message(MAX_SIGNAL_MESSAGE_BYTES))
        .await;
    client.expect_error(ErrorCode::UnknownCode).await;
}

#[tokio::test]
async fn huge_frame_is_cut_off_and_others_still_get_welcome() {
    let mut cfg = config();
    cfg.limits.max_message_bytes = 1024;
    let server = start(cfg).await;
    let (mut client, _) = Client::joined(&server, "huge").await;

    client.send_text(&padded_message(1500)).await;
    client.expect_error(ErrorCode::TooLarge).await;
    client.assert_alive().await;

    // Far beyond the hard cap: not even buffered; answered and closed.
    client.send_text(&padded_message(256 * 1024)).await;
    let frame = client
        .expect_error_then_close(ErrorCode::TooLarge)
        .await
        .expect("close frame");
    assert_eq!(frame.code, CloseCode::Size);

    let (_other, welcome) = Client::joined(&server, "other").await;
    assert!(welcome.nearby.is_empty(), "the cut-off peer is gone");
}

#[tokio::test]
async fn flood_is_rate_limited() {
    let mut cfg = config();
    cfg.limits.messages_per_sec = 5;
    cfg.limits.message_burst = 5;
    cfg.limits.max_strikes = 1000;
    let server = start(cfg).await;
    let (mut client, _) = Client::joined(&server, "flooder").await;
    for _ in 0..20 {
        client.send(&ClientMsg::Ping).await;
    }
    let (mut pongs, mut limited) = (0, 0);
    for _ in 0..20 {
        match client.recv().await {
            ServerMsg::Pong => pongs += 1,
            ServerMsg::Error {
                code: ErrorCode::RateLimited,
                ..
            } => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // The burst of 5 minus the token `hello` took, plus whatever refilled meanwhile.
    assert!((4..=7).contains(&pongs), "got {pongs} pongs");
    assert!(limited >= 13, "got {limited} rate-limit errors");
    assert_eq!(pongs + limited, 20);

    tokio::time::sleep(Duration::from_millis(450)).await;
    client.assert_alive().await; // the bucket refills
}

#[tokio::test]
async fn relentless_flood_is_disconnected() {
    let mut cfg = config();
    cfg.limits.messages_per_sec = 5;
    cfg.limits.message_burst = 5;
    cfg.limits.max_strikes = 5;
    let server = start(cfg).await;
    let (mut client, _) = Client::joined(&server, "flooder").await;
    for _ in 0..100 {
        if client
            .send_frame(Message::text(ClientMsg::Ping.to_json()))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut limited = 0;
    let close = loop {
        match client.next_event().await {
            Event::Msg(ServerMsg::Pong) => {}
            Event::Msg(ServerMsg::Error {
                code: ErrorCode::RateLimited,
                ..
            }) => limited += 1,
            Event::Msg(other) => panic!("unexpected {other:?}"),
            Event::Closed(frame) => break frame,
        }
        assert!(limited <= 20, "closed soon after max_strikes");
    };
    // Exactly max_strikes unless the bucket refilled a token mid-flood (which forgives one).
    assert!(limited >= 5, "{limited}");
    assert_eq!(close.expect("close frame").code, CloseCode::Policy);

    let (_other, _) = Client::joined(&server, "polite").await;
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let mut cfg = config();
    cfg.limits.max_connections_per_ip = 2;
    let server = start(cfg).await;
    let (first, _) = Client::joined(&server, "one").await;
    let _second = Client::connect(&server).await; // counts even before hello

    let mut third = Client::connect(&server).await;
    let message = third.expect_error(ErrorCode::TooManyConnections).await;
    assert!(message.contains('2'), "{message}");
    assert_eq!(
        third.expect_closed().await.expect("close frame").code,
        CloseCode::Again
    );

    let (_elsewhere, _) = Client::joined_from(&server, "127.0.0.2", "other address").await;

    // A freed slot can be reused (release is asynchronous: retry briefly).
    first.close().await;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut again = Client::connect(&server).await;
        again.send(&ClientMsg::Ping).await;
        match again.recv().await {
            ServerMsg::Error {
                code: ErrorCode::HelloRequired,
                ..
            } => break,
            ServerMsg::Error {
                code: ErrorCode::TooManyConnections,
                ..
            } if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn total_connections_are_capped() {
    let mut cfg = config();
    cfg.limits.max_connections = 1;
    let server = start(cfg).await;
    let (_only, _) = Client::joined(&server, "only").await;
    let mut late = Client::connect_from(&server, "127.0.0.2", &[]).await;
    late.expect_error_then_close(ErrorCode::Unavailable).await;
}

#[tokio::test]
async fn idle_connection_is_closed() {
    let mut cfg = config();
    cfg.limits.idle_timeout = Duration::from_millis(400);
    let server = start(cfg).await;
    let (mut client, _) = Client::joined(&server, "sleepy").await;
    let started = Instant::now();
    client.expect_error(ErrorCode::IdleTimeout).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    client.expect_closed().await;
}

#[tokio::test]
async fn pings_keep_a_connection_alive() {
    let mut cfg = config();
    cfg.limits.idle_timeout = Duration::from_millis(400);
    let server = start(cfg).await;
    let (mut json_pinger, _) = Client::joined_from(&server, "127.0.0.1", "json").await;
    let (mut frame_pinger, _) = Client::joined_from(&server, "127.0.0.2", "frames").await;
    json_pinger.expect_nearby().await; // loopback peers share the server's LAN group
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        json_pinger.assert_alive().await;
        frame_pinger
            .send_frame(Message::Ping(b"hi".to_vec().into()))
            .await
            .unwrap();
    }
    frame_pinger.assert_alive().await;
}

#[tokio::test]
async fn hello_must_come_in_time() {
    let mut cfg = config();
    cfg.limits.hello_timeout = Duration::from_millis(300);
    let server = start(cfg).await;
    let mut silent = Client::connect(&server).await;
    silent.expect_error_then_close(ErrorCode::IdleTimeout).await;
}

#[tokio::test]
async fn code_guessing_is_limited_per_connection() {
    let mut cfg = config();
    cfg.limits.resolve_per_minute = 3;
    let server = start(cfg).await;
    let (mut guesser, _) = Client::joined(&server, "guesser").await;
    // Malformed codes fail locally-fast and cost nothing.
    guesser
        .send(&ClientMsg::Resolve {
            code: "nope".into(),
        })
        .await;
    guesser.expect_error(ErrorCode::UnknownCode).await;
    for guess in ["2222-22", "2222-23", "2222-24"] {
        guesser
            .send(&ClientMsg::Resolve { code: guess.into() })
            .await;
        guesser.expect_error(ErrorCode::UnknownCode).await;
    }
    guesser
        .send(&ClientMsg::Resolve {
            code: "2222-25".into(),
        })
        .await;
    guesser.expect_error(ErrorCode::RateLimited).await;
    guesser.assert_alive().await;
}

#[tokio::test]
async fn code_guessing_is_limited_per_address_across_connections() {
    let mut cfg = config();
    cfg.limits.resolve_per_minute = 100;
    cfg.limits.resolve_per_minute_per_ip = 4;
    let server = start(cfg).await;
    let (_target, target_w) = Client::joined_from(&server, "127.0.0.9", "target").await;
    let (mut a, _) = Client::joined_from(&server, "127.0.0.1", "a").await;
    let (mut b, _) = Client::joined_from(&server, "127.0.0.1", "b").await;
    a.expect_nearby().await; // b joined
    for client in [&mut a, &mut b] {
        for guess in ["2222-22", "2222-23"] {
            client
                .send(&ClientMsg::Resolve { code: guess.into() })
                .await;
            client.expect_error(ErrorCode::UnknownCode).await;
        }
    }
    // Budget spent: even the right code is refused now, and reconnecting does not help.
    b.send(&ClientMsg::Resolve {
        code: target_w.code.clone(),
    })
    .await;
    b.expect_error(ErrorCode::RateLimited).await;
    drop(a);
    let (mut fresh, _) = Client::joined_from(&server, "127.0.0.1", "fresh").await;
    fresh
        .send(&ClientMsg::Resolve {
            code: target_w.code.clone(),
        })
        .await;
    // (All of them share the LAN nearby group, so `a` leaving may show up first.)
    assert!(matches!(
        fresh.recv_skipping_nearby().await,
        ServerMsg::Error {
            code: ErrorCode::RateLimited,
            ..
        }
    ));

    // Another address has its own budget, though it is in the same (LAN) nearby group.
    let (mut elsewhere, _) = Client::joined_from(&server, "127.0.0.2", "elsewhere").await;
    elsewhere
        .send(&ClientMsg::Resolve {
            code: target_w.code.clone(),
        })
        .await;
    assert!(
        matches!(elsewhere.recv_skipping_nearby().await, ServerMsg::Resolved { peer, .. } if peer.id == target_w.id)
    );
}

#[tokio::test]
async fn slowloris_connections_that_never_finish_their_handshake_are_capped() {
    use tokio::io::AsyncReadExt;
    let mut cfg = config();
    cfg.limits.max_handshakes_per_ip = 3;
    cfg.limits.handshake_timeout = Duration::from_secs(30);
    let server = start(cfg).await;
    let addr = server.local_addr();
    // Three silent TCP connections hold every handshake slot of this address…
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // … so a fourth is closed at once (end of stream), not held until the 30 s timeout.
    let mut fourth = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(3), fourth.read(&mut byte)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "a connection past the handshake cap is closed at once: {read:?}"
    );
    // Another address is not affected, and the slots come back when the silent ones leave.
    let (_elsewhere, _) = Client::joined_from(&server, "127.0.0.2", "other address").await;
    drop(silent);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match Client::try_connect(server.local_addr(), "/ws", "127.0.0.1", &[]).await {
            Ok(mut client) => {
                client.hello("back").await;
                break;
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the freed handshake slots were not reused: {e:?}"),
        }
    }
}

#[tokio::test]
async fn code_guessing_from_many_slash_64s_of_one_slash_48_shares_one_budget() {
    let mut cfg = common::proxied_config();
    cfg.limits.resolve_per_minute = 100;
    cfg.limits.resolve_per_minute_per_ip = 3;
    let server = start(cfg).await;
    // Three different /64s of 2001:db8:7::/48 spend one budget of 3 guesses…
    for (n, from) in ["2001:db8:7:1::1", "2001:db8:7:2::1", "2001:db8:7:3::1"]
        .iter()
        .enumerate()
    {
        let (mut guesser, _) = Client::joined_via_proxy(&server, from, "guesser").await;
        guesser
            .send(&ClientMsg::Resolve {
                code: format!("2222-2{}", n + 2),
            })
            .await;
        guesser.expect_error(ErrorCode::UnknownCode).await;
    }
    // … so a fourth /64 of it is refused, while another /48 still has its own.
    let (mut fourth, _) = Client::joined_via_proxy(&server, "2001:db8:7:4::1", "fourth").await;
    fourth
        .send(&ClientMsg::Resolve {
            code: "2222-26".into(),
        })
        .await;
    fourth.expect_error(ErrorCode::RateLimited).await;
    let (mut other, _) = Client::joined_via_proxy(&server, "2001:db8:8:1::1", "other").await;
    other
        .send(&ClientMsg::Resolve {
            code: "2222-27".into(),
        })
        .await;
    other.expect_error(ErrorCode::UnknownCode).await;
}
