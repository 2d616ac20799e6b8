//! The real `peerdrop-signal` with its default limits, under abuse from other addresses on
//! loopback (127.0.0.x), while two real `peerdrop` processes keep transferring files through
//! it. Every abuse gets its clear error (and, when it persists, a close); every legitimate
//! transfer completes with the right BLAKE3.
//!
//! Abuse, all at once and in bounded loops: thousands of idle connections that never say
//! hello, more connections from one address than allowed, oversized frames, invalid JSON,
//! a message flood, and code guessing (which never finds the receiver's code).

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use peerdrop_proto::signal::{ClientMsg, DeviceKind, ErrorCode, ServerMsg};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// What one abuser saw: error codes by name, and whether the server closed on it.
#[derive(Debug, Default)]
struct Seen {
    errors: HashMap<String, u32>,
    closed: bool,
    other: u32,
}

impl Seen {
    fn count(&self, code: ErrorCode) -> u32 {
        let name = serde_json::to_value(code).unwrap();
        self.errors
            .get(name.as_str().unwrap())
            .copied()
            .unwrap_or(0)
    }
}

async fn connect_from(server: SocketAddr, source: &str) -> Option<Ws> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(format!("{source}:0").parse().ok()?).ok()?;
    let tcp = tokio::time::timeout(Duration::from_secs(10), socket.connect(server))
        .await
        .ok()?
        .ok()?;
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(format!("ws://{server}/ws"), tcp),
    )
    .await
    .ok()?
    .ok()?;
    Some(ws)
}

/// Reads until the server closes or `limit` passes, tallying what it says.
async fn drain(ws: &mut Ws, seen: &mut Seen, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => match ServerMsg::from_json(&text) {
                Ok(ServerMsg::Error { code, .. }) => {
                    let name = serde_json::to_value(code).unwrap();
                    *seen
                        .errors
                        .entry(name.as_str().unwrap().to_string())
                        .or_default() += 1;
                }
                _ => seen.other += 1,
            },
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {
                seen.closed = true;
                return;
            }
            Ok(Some(Ok(_))) => {}
            Err(_) => return,
        }
    }
}

async fn hello(ws: &mut Ws, name: &str) -> String {
    let msg = ClientMsg::Hello {
        v: peerdrop_proto::PROTOCOL_VERSION,
        name: name.into(),
        kind: DeviceKind::Cli,
        fingerprint: None,
        max_packet: None,
    };
    ws.send(Message::text(msg.to_json())).await.unwrap();
    loop {
        if let Some(Ok(Message::Text(text))) = ws.next().await {
            if let Ok(ServerMsg::Welcome { code, .. }) = ServerMsg::from_json(&text) {
                return code;
            }
        }
    }
}

/// Raises the open-files soft limit to the hard limit (thousands of sockets); returns it.
fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, owned struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

#[derive(Debug)]
struct Abuse {
    idle_opened: usize,
    idle: Seen,
    crowd_accepted: usize,
    crowd_refused: Seen,
    oversized: Seen,
    garbage: Seen,
    flood: Seen,
    guesses: Seen,
    guessed_right: bool,
    target_refused: Seen,
    guessing_for: Duration,
}

async fn abuse(server: SocketAddr, idle_count: usize, target_code: String) -> Abuse {
    // 1. Thousands of idle connections from many addresses (under the per-address cap),
    //    never sending hello: the server closes each after its hello timeout.
    let idle = tokio::spawn(async move {
        let mut sockets = Vec::new();
        for i in 0..idle_count {
            let source = format!("127.0.{}.{}", 10 + i / 50, 1 + i % 50);
            if let Some(ws) = connect_from(server, &source).await {
                sockets.push(ws);
            }
        }
        let opened = sockets.len();
        let mut seen = Seen::default();
        let mut all = futures_util::stream::FuturesUnordered::new();
        for mut ws in sockets {
            all.push(async move {
                let mut s = Seen::default();
                drain(&mut ws, &mut s, Duration::from_secs(40)).await;
                s
            });
        }
        while let Some(s) = all.next().await {
            for (k, v) in s.errors {
                *seen.errors.entry(k).or_default() += v;
            }
            seen.closed |= s.closed;
            seen.other += u32::from(s.closed);
        }
        (opened, seen)
    });

    // 2. More connections from one address than it may have.
    let crowd = tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut refused = Seen::default();
        for _ in 0..100 {
            if let Some(mut ws) = connect_from(server, "127.0.9.1").await {
                let mut s = Seen::default();
                drain(&mut ws, &mut s, Duration::from_millis(100)).await;
                if s.count(ErrorCode::TooManyConnections) > 0 {
                    for (k, v) in s.errors {
                        *refused.errors.entry(k).or_default() += v;
                    }
                    refused.closed |= s.closed;
                } else {
                    kept.push(ws);
                }
            }
        }
        (kept.len(), refused)
    });

    // 3. Oversized frames: one just over the limit (error, stays open), then a huge one
    //    (cut off and closed).
    let oversized = tokio::spawn(async move {
        let mut ws = connect_from(server, "127.0.9.2").await.unwrap();
        hello(&mut ws, "big mouth").await;
        let mut seen = Seen::default();
        let pad = |n: usize| format!(r#"{{"type":"resolve","code":"{}"}}"#, "A".repeat(n));
        ws.send(Message::text(pad(70 * 1024))).await.unwrap();
        drain(&mut ws, &mut seen, Duration::from_millis(500)).await;
        let _ = ws.send(Message::text(pad(4 * 1024 * 1024))).await;
        drain(&mut ws, &mut seen, Duration::from_secs(5)).await;
        seen
    });

    // 4. Invalid JSON, over and over: errors, then the connection is closed.
    let garbage = tokio::spawn(async move {
        let mut ws = connect_from(server, "127.0.9.3").await.unwrap();
        hello(&mut ws, "garbage").await;
        for junk in ["{", "null", r#"{"type":"teleport"}"#, "\u{0}\u{1}", "[]"]
            .iter()
            .cycle()
            .take(50)
        {
            if ws.send(Message::text(*junk)).await.is_err() {
                break;
            }
        }
        let mut seen = Seen::default();
        drain(&mut ws, &mut seen, Duration::from_secs(5)).await;
        seen
    });

    // 5. A flood of pings from one connection: rate limited, then closed.
    let flood = tokio::spawn(async move {
        let mut ws = connect_from(server, "127.0.9.4").await.unwrap();
        hello(&mut ws, "flooder").await;
        for _ in 0..3000 {
            if ws
                .send(Message::text(ClientMsg::Ping.to_json()))
                .await
                .is_err()
            {
                break;
            }
        }
        let mut seen = Seen::default();
        drain(&mut ws, &mut seen, Duration::from_secs(5)).await;
        seen
    });

    // 6. Code guessing, across several connections from one address; afterwards even the
    //    right code is refused from that address.
    let guess = tokio::spawn(async move {
        let mut seen = Seen::default();
        let mut right = false;
        let alphabet = peerdrop_proto::code::CODE_ALPHABET;
        let began = Instant::now();
        let mut state = 0x9e3779b97f4a7c15u64;
        for conn in 0..5 {
            let mut ws = connect_from(server, "127.0.9.5").await.unwrap();
            hello(&mut ws, &format!("guesser {conn}")).await;
            for _ in 0..30 {
                let mut code = String::new();
                for i in 0..6 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    if i == 4 {
                        code.push('-');
                    }
                    code.push(alphabet[(state % alphabet.len() as u64) as usize] as char);
                }
                if ws
                    .send(Message::text(ClientMsg::Resolve { code }.to_json()))
                    .await
                    .is_err()
                {
                    break;
                }
                match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                    Ok(Some(Ok(Message::Text(text)))) => match ServerMsg::from_json(&text) {
                        Ok(ServerMsg::Error { code, .. }) => {
                            let name = serde_json::to_value(code).unwrap();
                            *seen
                                .errors
                                .entry(name.as_str().unwrap().to_string())
                                .or_default() += 1;
                        }
                        Ok(ServerMsg::Resolved { .. }) => right = true,
                        _ => seen.other += 1,
                    },
                    _ => break,
                }
            }
        }
        let mut ws = connect_from(server, "127.0.9.5").await.unwrap();
        hello(&mut ws, "guesser, finally").await;
        ws.send(Message::text(
            ClientMsg::Resolve { code: target_code }.to_json(),
        ))
        .await
        .unwrap();
        let mut target = Seen::default();
        drain(&mut ws, &mut target, Duration::from_secs(1)).await;
        (seen, right, target, began.elapsed())
    });

    let (idle_opened, idle) = idle.await.unwrap();
    let (crowd_accepted, crowd_refused) = crowd.await.unwrap();
    let (guesses, guessed_right, target_refused, guessing_for) = guess.await.unwrap();
    Abuse {
        idle_opened,
        idle,
        crowd_accepted,
        crowd_refused,
        oversized: oversized.await.unwrap(),
        garbage: garbage.await.unwrap(),
        flood: flood.await.unwrap(),
        guesses,
        guessed_right,
        target_refused,
        guessing_for,
    }
}

#[test]
fn abuse_is_limited_while_a_legitimate_transfer_succeeds() {
    let limit = raise_fd_limit();
    // Each idle connection costs a descriptor here and one in the server (a child, same limit).
    let idle_count = ((limit.saturating_sub(500)) as usize).min(2000);
    assert!(
        idle_count >= 1000,
        "need at least ~1500 open files for this test, have {limit}"
    );
    let signal = Signal::start();
    let server: SocketAddr = signal.addr.parse().unwrap();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("legit.bin");
    random_file(&file, 24 * 1024 * 1024, 8);
    let want = hash_tree(src.path());

    // The legitimate receiver is online before the abuse starts: its code is the target.
    let dest = tempfile::tempdir().unwrap();
    let receiver = Receiver::spawn(&signal, dest.path(), &["--yes", "--keep"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let attack = runtime.spawn(abuse(server, idle_count, receiver.code.clone()));

    // Transfers keep working meanwhile (three in a row from the same device, spread over
    // the attack).
    let sender_home = test_home();
    let mut durations = Vec::new();
    for round in 0..3 {
        std::thread::sleep(Duration::from_secs(2));
        let t = Instant::now();
        let out = send_with(
            &signal,
            &receiver.code,
            &[&file],
            &[],
            &[("PEERDROP_HOME", sender_home.as_os_str())],
        );
        assert_success(&out, &format!("legitimate send #{round} during the abuse"));
        durations.push(t.elapsed());
        let saved = if round == 0 {
            "legit.bin".to_string()
        } else {
            format!("legit ({round}).bin")
        };
        assert_eq!(
            hash_tree(dest.path()).get(&saved),
            want.get("legit.bin"),
            "round {round}: {saved} arrived intact"
        );
    }
    let report = runtime.block_on(attack).unwrap();
    eprintln!("legitimate transfers took {durations:?} during the abuse");
    eprintln!("abuse report after {:?}: {report:#?}", started.elapsed());
    drop(receiver);

    // Idle connections: all opened, each told it was idle too long and closed.
    assert!(report.idle_opened >= idle_count * 9 / 10, "{report:#?}");
    assert!(
        report.idle.count(ErrorCode::IdleTimeout) as usize >= report.idle_opened * 9 / 10,
        "idle connections get an idle_timeout error: {report:#?}"
    );
    // One address: capped at the default 64, the rest refused with a clear error.
    assert!(report.crowd_accepted <= 64, "{report:#?}");
    assert!(report.crowd_refused.count(ErrorCode::TooManyConnections) >= 30);
    // Oversized: too_large, and the huge frame closes the connection.
    assert!(report.oversized.count(ErrorCode::TooLarge) >= 1);
    assert!(report.oversized.closed);
    // Garbage: bad_message, then closed for repeating it.
    assert!(report.garbage.count(ErrorCode::BadMessage) >= 5);
    assert!(report.garbage.closed);
    // Flood: rate_limited, then closed.
    assert!(report.flood.count(ErrorCode::RateLimited) >= 5);
    assert!(report.flood.closed);
    // Guessing: at most the per-address budget of look-ups answered, never the right code,
    // and afterwards even the right code is refused.
    assert!(!report.guessed_right);
    // The default budget: 30 look-ups per minute per address, refilling at 0.5 per second.
    let budget = 30 + (report.guessing_for.as_secs_f64() / 2.0).ceil() as u32;
    assert!(
        report.guesses.count(ErrorCode::UnknownCode) <= budget,
        "{report:#?}"
    );
    assert!(
        report.guesses.count(ErrorCode::RateLimited) >= 20,
        "{report:#?}"
    );
    assert_eq!(report.target_refused.count(ErrorCode::RateLimited), 1);
}
