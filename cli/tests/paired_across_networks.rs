//! Pairing across networks (issue 19, item 6): two devices that verified each other once find
//! each other later through the server from different networks, without a code, and `send
//! --to NAME` reaches the other; a device that is not paired does not see them, and one that
//! computes their tag (it knows both fingerprints) is not listed by them.
//!
//! The same across two nodes of a cluster (one real `redis-server`): tags span nodes.
//!
//! "Different networks" on loopback: the server trusts 127.0.0.1 as a reverse proxy, and each
//! device reaches it through its own small proxy that adds `X-Forwarded-For` with a public
//! test address, so the server's nearby groups keep them apart (docs/protocol.md, *Nearby*).

mod common;
// The Redis and cluster-node harness of the server's own tests (std only).
#[path = "../../signal-server/tests/common/redis.rs"]
mod redis_harness;

use common::*;
use futures_util::{SinkExt, StreamExt};
use peerdrop_core::identity::pairing::pairing_tag;
use peerdrop_proto::signal::{ClientMsg, DeviceKind, ServerMsg};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A proxy on an ephemeral loopback port in front of `upstream` that marks every connection
/// as coming from `public` (`X-Forwarded-For`). Returns the URL to give `peerdrop`.
fn network(upstream: &str, public: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let upstream = upstream.to_string();
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let upstream = upstream.clone();
            std::thread::spawn(move || forward(client, &upstream, public));
        }
    });
    url
}

/// Copies one connection through, inserting the header after the request line.
fn forward(mut client: TcpStream, upstream: &str, public: &str) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let Some((request_line, rest)) = text.split_once("\r\n") else {
        return;
    };
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    let head = format!("{request_line}\r\nX-Forwarded-For: {public}\r\n{rest}");
    if server.write_all(head.as_bytes()).is_err() {
        return;
    }
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut s2, &mut c2);
        let _ = c2.shutdown(std::net::Shutdown::Both);
    });
    let _ = std::io::copy(&mut client, &mut server);
    let _ = server.shutdown(std::net::Shutdown::Both);
}

/// `peerdrop peers --json` of the device in `home`, through `server`.
fn peers(signal: &Signal, server: &str, home: &Path) -> Vec<serde_json::Value> {
    let child = peerdrop(signal)
        .env("PEERDROP_SERVER", server)
        .env("PEERDROP_HOME", home)
        .args(["peers", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn peerdrop peers");
    let out = finish_child(child, Duration::from_secs(30));
    assert_success(&out, "peerdrop peers");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

/// `peerdrop send --json --name NAME --to TO FILE` from `home` through `server`.
fn send_from(
    signal: &Signal,
    server: &str,
    home: &Path,
    name: &str,
    to: &str,
    file: &Path,
) -> Output {
    let child = peerdrop(signal)
        .env("PEERDROP_SERVER", server)
        .env("PEERDROP_HOME", home)
        .args(["send", "--json", "--name", name, "--to", to])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn peerdrop send");
    finish_child(child, Duration::from_secs(90))
}

/// A receiver in `home` reached through `server`, named [`B_NAME`], with `extra` flags.
fn receive(signal: &Signal, server: &str, home: &Path, dest: &Path, extra: &[&str]) -> Receiver {
    Receiver::spawn_with(
        signal,
        dest,
        &[&["--yes"], extra].concat(),
        &[
            ("PEERDROP_SERVER", server.as_ref()),
            ("PEERDROP_HOME", home.as_os_str()),
        ],
    )
}

/// The name [`Receiver`] gives the receiving device.
const B_NAME: &str = "test receiver";

/// The `verify` event's fingerprint of the other side in a `--json` output.
fn peer_fingerprint(stdout: &[u8]) -> String {
    let events = json_events(&String::from_utf8_lossy(stdout));
    let verify = events_of(&events, "verify");
    verify
        .first()
        .and_then(|v| v["fingerprint"].as_str())
        .expect("a verify event with the peer's fingerprint")
        .to_string()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw signaling client claiming `fingerprint` that watches `tags` through `server`;
/// returns the names on the paired list the server sends it, and the open connection.
async fn watcher(server: &str, fingerprint: &str, tags: Vec<String>) -> (Vec<String>, Ws) {
    let (mut ws, _) = tokio_tungstenite::connect_async(server).await.unwrap();
    let hello = ClientMsg::Hello {
        v: peerdrop_proto::PROTOCOL_VERSION,
        name: "Watcher".into(),
        kind: DeviceKind::Cli,
        fingerprint: Some(fingerprint.into()),
        max_packet: None,
    };
    ws.send(Message::text(hello.to_json())).await.unwrap();
    ws.send(Message::text(ClientMsg::Watch { tags }.to_json()))
        .await
        .unwrap();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the server answers a watch")
            .expect("open")
            .unwrap();
        if let Message::Text(text) = frame {
            if let Ok(ServerMsg::Paired { peers }) = ServerMsg::from_json(&text) {
                return (peers.into_iter().map(|p| p.name).collect(), ws);
            }
        }
    }
}

#[test]
fn devices_that_verified_each_other_find_each_other_across_networks() {
    let signal = Signal::start_with(&["--trusted-proxy", "127.0.0.1"]);
    let net_a = network(&signal.addr, "198.18.0.10");
    let net_b = network(&signal.addr, "203.0.113.20");
    let net_c = network(&signal.addr, "203.0.113.30");
    let (home_a, home_b, home_c) = (test_home(), test_home(), test_home());
    let src = tempfile::tempdir().unwrap();
    let first = src.path().join("first.bin");
    let later = src.path().join("later.bin");
    random_file(&first, 50_000, 1);
    random_file(&later, 3_000_000, 2);

    // 0. Strangers on two networks: neither lists the other.
    let dest0 = tempfile::tempdir().unwrap();
    let mut b0 = receive(&signal, &net_b, &home_b, dest0.path(), &["--keep"]);
    assert!(
        peers(&signal, &net_a, &home_a).is_empty(),
        "another network's device is not listed before pairing"
    );

    // 1. One verified transfer by code: both sides pin each other (the product's own path).
    let sent = send_from(&signal, &net_a, &home_a, "Ann laptop", &b0.code, &first);
    assert_success(&sent, "the first send, by code");
    let fp_b = peer_fingerprint(&sent.stdout);
    b0.wait_for(r#""event":"done""#, Duration::from_secs(30));
    assert_eq!(
        hash_tree(dest0.path())["first.bin"],
        hash_tree(src.path())["first.bin"]
    );
    //    B is still running: having pinned A during this run, it watches their tag at once.
    let listed = peers(&signal, &net_a, &home_a);
    assert_eq!(
        listed
            .iter()
            .map(|d| (&d["name"], &d["via"]))
            .collect::<Vec<_>>(),
        [(&serde_json::json!(B_NAME), &serde_json::json!("paired"))],
        "the running receiver is paired right after the pin"
    );
    drop(b0);

    // 2. Later, new processes on the same two networks: B receives, A lists it as paired.
    let dest = tempfile::tempdir().unwrap();
    let b = receive(&signal, &net_b, &home_b, dest.path(), &[]);
    let listed = peers(&signal, &net_a, &home_a);
    let bee: Vec<_> = listed.iter().filter(|d| d["name"] == B_NAME).collect();
    assert_eq!(bee.len(), 1, "B is listed once: {listed:?}");
    assert_eq!(bee[0]["via"], "paired", "{listed:?}");
    assert_eq!(bee[0]["fingerprint"].as_str(), Some(fp_b.as_str()));
    assert!(
        listed.iter().all(|d| d["via"] != "server"),
        "the server does not group them as nearby: {listed:?}"
    );

    // 3. A third device on a third network, pinned by neither, sees neither of them.
    assert!(peers(&signal, &net_c, &home_c).is_empty());

    // 4. A device that knows both fingerprints and watches the tags it would have with each
    //    (as if it had pinned them) is paired with neither: a tag needs both sides' pins.
    let fp_a = {
        // A's fingerprint as B pinned it.
        let known = std::fs::read_to_string(home_b.join("known_devices.json")).unwrap();
        let pins: Vec<serde_json::Value> = serde_json::from_str(&known).unwrap();
        assert_eq!(pins.len(), 1, "B pinned A: {known}");
        pins[0]["fingerprint"].as_str().unwrap().to_string()
    };
    let fp_x = vec!["5a"; 32].join(":");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (one_sided, _one_sided_ws) = runtime.block_on(watcher(
        &net_c,
        &fp_x,
        vec![
            pairing_tag(&fp_x, &fp_a).unwrap(),
            pairing_tag(&fp_x, &fp_b).unwrap(),
        ],
    ));
    assert!(
        one_sided.is_empty(),
        "pins on one side find nobody: {one_sided:?}"
    );
    //    The accepted leak (docs/security.md, *Paired devices*): whoever knows both
    //    fingerprints can compute their tag and see that B is online...
    let (leak, _leak_ws) = runtime.block_on(watcher(
        &net_c,
        &fp_x,
        vec![pairing_tag(&fp_a, &fp_b).unwrap()],
    ));
    assert_eq!(leak, vec![B_NAME.to_string()]);
    //    ...but A does not list it: its claimed fingerprint is not one A pinned.
    let listed = peers(&signal, &net_a, &home_a);
    assert!(
        listed.iter().all(|d| d["name"] != "Watcher"),
        "a device holding the tag under another fingerprint is not listed: {listed:?}"
    );

    // 5. `send --to NAME` reaches the paired device across networks; the hash is checked.
    let sent = send_from(
        &signal,
        &net_a,
        &home_a,
        "Ann laptop",
        "Test Receiver",
        &later,
    );
    assert_success(&sent, "the send by name to the paired device");
    assert_eq!(peer_fingerprint(&sent.stdout), fp_b, "it reached B itself");
    let (ok, stderr, lines) = b.finish_lines(Duration::from_secs(60));
    let out = lines.join("\n");
    assert!(ok, "paired receive: {stderr}\n{out}");
    assert_eq!(
        hash_tree(dest.path())["later.bin"],
        hash_tree(src.path())["later.bin"]
    );
    let events = json_events(&out);
    let verify = events_of(&events, "verify");
    assert_eq!(verify[0]["known"], true, "B recognises A as pinned: {out}");
}

#[test]
fn paired_devices_find_each_other_through_two_cluster_nodes() {
    let redis = redis_harness::Redis::start();
    let bin = signal_bin();
    let proxy = ["--trusted-proxy", "127.0.0.1"];
    let node_a = redis_harness::Node::start(&bin, &redis, 5, &proxy);
    let node_b = redis_harness::Node::start(&bin, &redis, 5, &proxy);
    let signal = Signal::external(&node_a.addr.to_string());
    let net_a = network(&node_a.addr.to_string(), "198.18.0.10");
    let net_b = network(&node_b.addr.to_string(), "203.0.113.20");
    let (home_a, home_b) = (test_home(), test_home());
    let src = tempfile::tempdir().unwrap();
    let first = src.path().join("first.bin");
    let later = src.path().join("later.bin");
    random_file(&first, 20_000, 3);
    random_file(&later, 1_000_000, 4);

    // Paired once by code, A on node A and B on node B.
    let dest0 = tempfile::tempdir().unwrap();
    let b0 = receive(&signal, &net_b, &home_b, dest0.path(), &[]);
    let sent = send_from(&signal, &net_a, &home_a, "Ann laptop", &b0.code, &first);
    assert_success(&sent, "the first send, by code, across nodes");
    let fp_b = peer_fingerprint(&sent.stdout);
    let (ok, out) = b0.finish(Duration::from_secs(30));
    assert!(ok, "first receive: {out}");

    // Later: B on node B, A on node A, different networks: paired, and reached by name.
    let dest = tempfile::tempdir().unwrap();
    let b = receive(&signal, &net_b, &home_b, dest.path(), &[]);
    let listed = peers(&signal, &net_a, &home_a);
    assert_eq!(
        listed
            .iter()
            .map(|d| (
                d["name"].as_str(),
                d["via"].as_str(),
                d["fingerprint"].as_str()
            ))
            .collect::<Vec<_>>(),
        [(Some(B_NAME), Some("paired"), Some(fp_b.as_str()))],
        "B is listed as paired from the other node"
    );
    let sent = send_from(&signal, &net_a, &home_a, "Ann laptop", B_NAME, &later);
    assert_success(&sent, "the send by name across nodes");
    let (ok, out) = b.finish(Duration::from_secs(60));
    assert!(ok, "paired receive: {out}");
    assert_eq!(
        hash_tree(dest.path())["later.bin"],
        hash_tree(src.path())["later.bin"]
    );
}
