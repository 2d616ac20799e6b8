//! One port: `GET /health`, the WebSocket at `/ws`, 404 elsewhere; graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{config, http, start, Client};
use peerdrop_proto::signal::ErrorCode;
use peerdrop_signal::SignalServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn health_is_200_with_peer_count() {
    let server = start(config()).await;
    let (status, body) = http(&server, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(json["status"], "ok");
    assert_eq!(json["peers"], 0);

    let (_client, _) = Client::joined(&server, "counted").await;
    let (_, body) = http(&server, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["peers"], 1);
    assert_eq!(json["v"], peerdrop_proto::PROTOCOL_VERSION);
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let server = start(config()).await;
    let (status, _) = http(&server, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, _) = http(&server, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    // A WebSocket upgrade anywhere but /ws is refused too.
    let err = Client::try_connect(server.local_addr(), "/socket", "127.0.0.1", &[])
        .await
        .err()
        .expect("refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(response) => assert_eq!(response.status(), 404),
        other => panic!("expected an HTTP 404, got {other:?}"),
    }
}

#[tokio::test]
async fn ws_path_without_upgrade_and_wrong_methods_are_refused() {
    let server = start(config()).await;
    let (status, _) = http(&server, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 426 Upgrade Required");
    let (status, _) = http(
        &server,
        "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let (status, _) = http(&server, "this is not http\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
}

#[tokio::test]
async fn silent_tcp_connection_does_not_block_others() {
    let mut cfg = config();
    cfg.limits.handshake_timeout = Duration::from_millis(300);
    let server = start(cfg).await;
    let mut idle = TcpStream::connect(server.local_addr()).await.unwrap();
    idle.write_all(b"GET /ws HTTP/1.1\r\n").await.unwrap(); // ...and never finishes
    let (_client, _) = Client::joined(&server, "meanwhile").await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut buf))
        .await
        .expect("dropped in time");
    assert!(matches!(n, Ok(0) | Err(_)), "slow request head is dropped");
}

#[tokio::test]
async fn shutdown_tells_clients_and_frees_the_port() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let (mut client, _) = Client::joined(&server, "leaving").await;
    // A connection still in its HTTP handshake must not hold shutdown up either.
    let mut half_open = TcpStream::connect(addr).await.unwrap();
    half_open.write_all(b"GET /ws HTTP/1.1\r\n").await.unwrap();

    let started = Instant::now();
    let stopping = tokio::spawn(server.shutdown());
    client.expect_error(ErrorCode::Unavailable).await;
    assert_eq!(
        client.expect_closed().await.expect("close frame").code,
        CloseCode::Restart
    );
    stopping.await.unwrap().unwrap();
    // Well under the 3 s grace period: nobody had to be dropped.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn run_with_a_shutdown_future_and_local_addr() {
    let server = SignalServer::bind(config()).await.unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    assert_eq!(server.ws_url(), format!("ws://{addr}/ws"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("stops in time")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn binding_a_busy_port_is_a_clear_error() {
    let first = SignalServer::bind(config()).await.unwrap();
    let mut cfg = config();
    cfg.listen = first.local_addr();
    let err = SignalServer::bind(cfg).await.err().expect("port is taken");
    assert!(
        err.to_string().contains(&first.local_addr().to_string()),
        "{err}"
    );
}
