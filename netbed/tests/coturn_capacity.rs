//! coturn as configured by the repo's `turnserver.conf` serves a crowd: 200 peers, each with
//! its own REST credentials (as `peerdrop-signal` mints them, one peer id each), hold TURN
//! allocations at the same time, and every one of them succeeds.
//!
//! Peers allocate during ICE gathering even when they end up connected directly, so the number
//! of simultaneous allocations is about the number of people with the app open in a transfer
//! dialog, not the number of relayed transfers. The old `bps-capacity=1000000000` with
//! `max-bps=16000000` made coturn reserve 16 MB/s per allocation and refuse new ones with
//! 486 "Allocation Bandwidth Quota Reached" once the capacity was reserved: a few dozen
//! allocations for a whole server (docs/network.md, "Sizing coturn").

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use libtest_mimic::{Arguments, Trial};
use peerdrop_netbed::bed::{ns, Home, Layout, Topology, SERVER_IP};
use peerdrop_netbed::procs::{random_secret, Coturn};
use peerdrop_netbed::proxy::enter_netns;
use peerdrop_netbed::turn_client::{rest_credentials, Reply, TurnClient};

/// Simultaneous allocations the committed configuration must grant.
const CROWD: usize = 200;
/// `user-quota` in the committed `turnserver.conf`.
const USER_QUOTA: usize = 4;
/// Client threads; each makes `CROWD / THREADS` allocations and keeps them.
const THREADS: usize = 8;

/// Allocates `count` relays from home 1 with distinct credentials (`crowd-<first+i>`), keeping
/// every client (and so its allocation) alive; returns the clients and every refusal.
fn allocate_many(
    secret: &str,
    server: SocketAddr,
    first: usize,
    count: usize,
) -> (Vec<TurnClient>, Vec<String>) {
    enter_netns(ns::H1);
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let mut held = Vec::with_capacity(count);
    let mut refused = Vec::new();
    for i in first..first + count {
        let user = format!("crowd-{i}");
        let (u, p) = rest_credentials(secret, &user, expiry);
        let socket = UdpSocket::bind("0.0.0.0:0").expect("bind client socket");
        let mut client = TurnClient::new(socket, server, &u, &p);
        match client.allocate() {
            Ok(Reply::Success) => held.push(client),
            Ok(Reply::Error(code, reason)) => {
                refused.push(format!("{user}: {code} {}", reason.trim_end_matches('\0')))
            }
            Err(e) => refused.push(format!("{user}: {e}")),
        }
    }
    (held, refused)
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
    let coturn = Arc::new(Coturn::start(work.path(), &random_secret()));
    let server: SocketAddr = format!("{SERVER_IP}:3478").parse().unwrap();
    let c = coturn.clone();
    let mut trials = vec![Trial::test(
        "two_hundred_concurrent_allocations_with_distinct_credentials_all_succeed",
        move || {
            let started = Instant::now();
            let per_thread = CROWD / THREADS;
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let secret = c.secret.clone();
                    std::thread::spawn(move || {
                        allocate_many(&secret, server, t * per_thread, per_thread)
                    })
                })
                .collect();
            let mut held = Vec::new();
            let mut refused = Vec::new();
            for w in workers {
                let (h, r) = w.join().map_err(|_| "allocation thread panicked")?;
                held.extend(h);
                refused.extend(r);
            }
            println!(
                "  {} of {CROWD} allocations granted and held at once ({} ms), {} refused",
                held.len(),
                started.elapsed().as_millis(),
                refused.len()
            );
            if !refused.is_empty() {
                let log = std::fs::read_to_string(&c.log).unwrap_or_default();
                let quota_lines: Vec<&str> = log
                    .lines()
                    .filter(|l| l.contains("uota") || l.contains("486"))
                    .take(5)
                    .collect();
                return Err(format!(
                    "{} of {CROWD} allocations refused, first: {:?}; coturn log: {quota_lines:?}",
                    refused.len(),
                    &refused[..refused.len().min(5)]
                )
                .into());
            }
            // Every allocation is still alive here (`held`); dropping the clients lets coturn
            // time them out with the bed.
            drop(held);
            Ok(())
        },
    )];
    let c = coturn.clone();
    trials.push(Trial::test(
        "one_credential_cannot_hold_more_than_user_quota_allocations",
        move || {
            // The bound that replaces the bandwidth reservation: one peer id (one credential)
            // holds at most `user-quota` (4) allocations, so the per-address credential budget
            // of peerdrop-signal bounds what one address can take from `total-quota`.
            let (held, refused) = std::thread::spawn(move || {
                enter_netns(ns::H1);
                let expiry = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
                    + 600;
                let (u, p) = rest_credentials(&c.secret, "one-greedy-peer", expiry);
                let mut held = Vec::new();
                let mut refused = Vec::new();
                // Ports whose 5-tuple still has an allocation of the crowd trial on coturn
                // (its clients are gone; coturn keeps their allocations until they expire): an
                // ephemeral port the OS hands out again gets 437 "allocation mismatch". Such a
                // socket is kept open, so the next bind gets another port, and the attempt
                // does not count.
                let mut collided = Vec::new();
                while held.len() + refused.len() < USER_QUOTA + 2 && collided.len() < 50 {
                    let socket = UdpSocket::bind("0.0.0.0:0").expect("bind client socket");
                    let mut client = TurnClient::new(socket, server, &u, &p);
                    match client.allocate() {
                        Ok(Reply::Success) => held.push(client),
                        Ok(Reply::Error(437, _)) => collided.push(client),
                        other => refused.push(format!("{other:?}")),
                    }
                }
                (held, refused)
            })
            .join()
            .map_err(|_| "allocation thread panicked")?;
            println!(
                "  one credential: {} allocations granted, refused: {refused:?}",
                held.len()
            );
            if held.len() != USER_QUOTA || !refused.iter().all(|r| r.contains("486")) {
                return Err(format!(
                    "one credential got {} allocations (want user-quota = {USER_QUOTA}), refusals {refused:?}",
                    held.len()
                )
                .into());
            }
            Ok(())
        },
    ));
    let conclusion = libtest_mimic::run(&args, trials);
    drop(coturn);
    topo.teardown();
    drop(work);
    conclusion.exit();
}
