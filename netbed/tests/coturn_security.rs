//! coturn as configured by the repo's `turnserver.conf` (plus only the test bed's
//! `allowed-peer-ip` for its own documentation range): expired or forged credentials are
//! refused, and relaying to loopback, private, CGNAT, link-local/metadata, unspecified
//! (CVE-2020-26262), IPv4-mapped IPv6 and multicast addresses is refused.
//!
//! The client runs in home 1 (behind its NAT) and uses a hand-rolled STUN/TURN client:
//! CreatePermission is decided by coturn locally, so no packet is ever sent to those addresses.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use libtest_mimic::{Arguments, Failed, Trial};
use peerdrop_netbed::bed::{ns, Home, Layout, Topology, R2_WAN, SERVER_IP};
use peerdrop_netbed::procs::{random_secret, Coturn};
use peerdrop_netbed::proxy::enter_netns;
use peerdrop_netbed::turn_client::{rest_credentials, Reply, TurnClient};

struct Env {
    secret: String,
    server: SocketAddr,
}

fn socket_in(ns: &'static str) -> UdpSocket {
    std::thread::spawn(move || {
        enter_netns(ns);
        UdpSocket::bind("0.0.0.0:0").expect("bind client socket")
    })
    .join()
    .expect("socket thread")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Env {
    fn client(&self, username: &str, password: &str) -> TurnClient {
        TurnClient::new(socket_in(ns::H1), self.server, username, password)
    }

    /// A client holding valid credentials and an allocation. Each gets its own peer id, as
    /// each connection to peerdrop-signal does: coturn's `user-quota` counts per peer id.
    fn allocated(&self) -> Result<TurnClient, Failed> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let user = format!("security-test-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let (u, p) = rest_credentials(&self.secret, &user, now() + 600);
        let mut c = self.client(&u, &p);
        match c.allocate()? {
            Reply::Success => Ok(c),
            other => Err(format!("valid credentials refused: {other:?}").into()),
        }
    }
}

fn expect_refused(env: &Env, peers: &[&str]) -> Result<(), Failed> {
    let mut c = env.allocated()?;
    for peer in peers {
        let addr: SocketAddr = peer.parse().unwrap();
        match c.create_permission(addr)? {
            Reply::Success => {
                return Err(format!("coturn ALLOWED relaying to {peer}").into());
            }
            Reply::Error(code, reason) => {
                println!("  {peer:<28} refused: {code} {reason}");
            }
        }
    }
    Ok(())
}

fn main() {
    let mut args = Arguments::from_args();
    if !peerdrop_netbed::ready_or_fail() {
        return;
    }
    args.test_threads = Some(1);
    let mut topo = Topology::build(Layout {
        home1: Home::cone(),
        home2: Home::cone(),
    });
    let work = tempfile::Builder::new().prefix("pdnb-").tempdir().unwrap();
    let coturn = Coturn::start(work.path(), &random_secret());
    let env = Arc::new(Env {
        secret: coturn.secret.clone(),
        server: format!("{SERVER_IP}:3478").parse().unwrap(),
    });
    let e = env.clone();
    let mut trials = vec![Trial::test(
        "valid_credentials_allocate_and_reach_a_public_peer",
        move || {
            // Positive control: the refusals below are about the address, not the client.
            // 203.0.113.12 is the bed's own peer (allowed by the bed's flag); 1.2.3.4 is an
            // ordinary public address that the production rules must allow. A permission
            // sends nothing, and the bed's internet has no route out anyway.
            let mut c = e.allocated()?;
            for peer in [format!("{R2_WAN}:40000"), "1.2.3.4:40000".to_string()] {
                match c.create_permission(peer.parse().unwrap())? {
                    Reply::Success => {}
                    other => return Err(format!("permission to {peer} refused: {other:?}").into()),
                }
            }
            Ok(())
        },
    )];
    let e = env.clone();
    trials.push(Trial::test("expired_credentials_are_refused", move || {
        let (u, p) = rest_credentials(&e.secret, "security-test", now() - 60);
        match e.client(&u, &p).allocate()? {
            Reply::Error(401, _) => Ok(()),
            other => Err(format!("expired credentials got {other:?}, want 401").into()),
        }
    }));
    let e = env.clone();
    trials.push(Trial::test("forged_credentials_are_refused", move || {
        let (u, p) = rest_credentials("not-the-secret", "security-test", now() + 600);
        match e.client(&u, &p).allocate()? {
            Reply::Error(401, _) => Ok(()),
            other => Err(format!("forged credentials got {other:?}, want 401").into()),
        }
    }));
    for (name, peers) in [
        (
            "relay_to_loopback_is_refused",
            &["127.0.0.1:22", "127.1.2.3:80"][..],
        ),
        (
            "relay_to_private_and_cgnat_is_refused",
            &[
                "10.1.2.3:80",
                "172.16.0.1:80",
                "192.168.1.1:80",
                "100.64.0.1:80",
            ][..],
        ),
        (
            "relay_to_metadata_169_254_169_254_is_refused",
            &["169.254.169.254:80"][..],
        ),
        (
            "relay_to_unspecified_is_refused_cve_2020_26262",
            &["0.0.0.0:22", "0.1.2.3:22"][..],
        ),
        (
            "relay_to_ipv4_mapped_and_ipv6_special_is_refused",
            &[
                "[::ffff:127.0.0.1]:22",
                "[::1]:22",
                "[::]:22",
                "[fe80::1]:22",
                "[fc00::1]:22",
            ][..],
        ),
        (
            "relay_to_multicast_and_reserved_is_refused",
            &[
                "224.0.0.1:5353",
                "239.255.255.250:1900",
                "255.255.255.255:9",
            ][..],
        ),
    ] {
        let e = env.clone();
        trials.push(Trial::test(name, move || expect_refused(&e, peers)));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    drop(coturn);
    topo.teardown();
    drop(work);
    conclusion.exit();
}
