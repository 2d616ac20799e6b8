//! Two real `peerdrop` processes on different nodes of one `peerdrop-signal` cluster: the
//! receiver registers with node A, the sender with node B, and the file crosses by code — the
//! resolve, offer, answer and ICE candidates all relayed from node to node through a real
//! `redis-server` (Debian's package, on a free loopback port, nothing persisted).

mod common;
// The Redis and cluster-node harness of the server's own tests (std only).
#[path = "../../signal-server/tests/common/redis.rs"]
mod redis_harness;

use std::time::Duration;

use common::*;
use redis_harness::{Node, Redis};

fn node_id(node: &Node) -> String {
    let (status, body) = node.health().expect("health answers");
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    health["cluster"]["node"].as_str().unwrap().to_string()
}

#[test]
fn a_file_sent_through_node_b_arrives_at_a_receiver_on_node_a() {
    let redis = Redis::start();
    let bin = signal_bin();
    let a = Node::start(&bin, &redis, 5, &[]);
    let b = Node::start(&bin, &redis, 5, &[]);
    let (node_a, node_b) = (
        Signal::external(&a.addr.to_string()),
        Signal::external(&b.addr.to_string()),
    );

    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("across.bin");
    random_file(&file, 3 * 1024 * 1024 + 17, 20);
    let dest = tempfile::tempdir().unwrap();
    let receiver = Receiver::spawn(&node_a, dest.path(), &["--yes"]);

    // The code is held by node A, cluster-wide: node B only finds it through Redis.
    let record = redis
        .get(&format!("peerdrop:code:{}", receiver.code))
        .expect("the receiver's code is in Redis");
    assert!(record.contains(&node_id(&a)), "held by node A: {record}");
    assert!(!record.contains(&node_id(&b)));

    let sent = send(&node_b, &receiver.code, &[&file], &["--json"]);
    assert_success(&sent, "peerdrop send through node B");
    let (ok, stderr) = receiver.finish(Duration::from_secs(60));
    assert!(ok, "receiver on node A failed: {stderr}");
    assert_eq!(hash_tree(dest.path()), hash_tree(src.path()));
}

#[test]
fn a_waiting_receiver_reconnects_when_its_node_restarts() {
    let redis = Redis::start();
    let bin = signal_bin();
    let mut a = Node::start(&bin, &redis, 5, &[]);
    let b = Node::start(&bin, &redis, 5, &[]);
    let listen = a.addr.to_string();
    let (node_a, node_b) = (
        Signal::external(&listen),
        Signal::external(&b.addr.to_string()),
    );
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::spawn(&node_a, dest.path(), &["--yes"]);
    let first_code = receiver.code.clone();

    // A rolling restart of node A: SIGTERM (clients told 1012 "service restart"), then the
    // same service back on the same address, as systemd's restart does.
    a.signal(15);
    let status = a
        .wait_exit(Duration::from_secs(5))
        .expect("node A stops in time");
    assert!(status.success());
    let _a_again = Node::start_on(&bin, &listen, &redis, 5, &[]);

    // The receiver registers again and says so with a new code event...
    let line = receiver.wait_for(r#""event":"code""#, Duration::from_secs(20));
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    let code = event["code"].as_str().unwrap().to_string();
    assert!(
        receiver.child.try_wait().unwrap().is_none(),
        "still running"
    );
    assert!(redis.get(&format!("peerdrop:code:{code}")).is_some());
    assert!(
        code == first_code || redis.get(&format!("peerdrop:code:{first_code}")).is_none(),
        "the old code is not held by anyone anymore"
    );

    // ...and a sender on node B reaches it under that code.
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("after-restart.bin");
    random_file(&file, 700_000, 21);
    let sent = send(&node_b, &code, &[&file], &["--json"]);
    assert_success(&sent, "peerdrop send after node A restarted");
    let (ok, stderr) = receiver.finish(Duration::from_secs(60));
    assert!(ok, "receiver failed: {stderr}");
    assert_eq!(hash_tree(dest.path()), hash_tree(src.path()));
}
