//! Transfers between the netbed's two homes (issue 17), unshaped, with PeerDrop's CLI
//! defaults from h1 to h2, on the path each layout forces:
//!
//! - `home-nats`: two cone NATs, hole punched, `direct`;
//! - `turn-relay`: two symmetric NATs (`MASQUERADE --random-fully`), where hole punching fails
//!   and ICE relays through coturn, started from the committed `turnserver.conf` (its
//!   `max-bps` / `bps-capacity` included): `relayed`;
//! - `fallback-relay`: both routers drop all UDP, so WebRTC cannot connect and the encrypted
//!   relay through the signaling server carries the data: `fallback`.
//!
//! A run fails unless PeerDrop reports the path expected. For scale, the raw TCP copy goes
//! h1 → router 1 → a listener in the "internet" namespace (where coturn and the signaling
//! server run): what one leg carries, not a relayed TCP.

use anyhow::Result;

use peerdrop_netbed::bed::{ns, Home, Layout, Topology, SERVER_IP};
use peerdrop_netbed::procs::{self, Coturn, Signal};

use super::{Ctx, NetnsRuns};
use crate::payload;
use crate::report::CaseReport;
use crate::{peerdrop_run, tcp_baseline};

/// One of the layouts above.
#[derive(Clone, Copy, Debug)]
pub struct NatPath {
    /// Case name.
    pub name: &'static str,
    /// What the homes' routers do.
    pub layout: Layout,
    /// The path PeerDrop must report.
    pub path: &'static str,
    /// For the table header.
    pub what: &'static str,
}

/// Two cone NATs: direct.
pub const HOME_NATS: NatPath = NatPath {
    name: "home-nats",
    layout: Layout {
        home1: Home::cone(),
        home2: Home::cone(),
    },
    path: "direct",
    what: "direct between two cone NATs (hole punched)",
};
/// Two symmetric NATs: TURN.
pub const TURN_RELAY: NatPath = NatPath {
    name: "turn-relay",
    layout: Layout {
        home1: Home::symmetric(),
        home2: Home::symmetric(),
    },
    path: "relayed",
    what: "relayed by coturn between two symmetric NATs",
};
/// No UDP out of either home: the encrypted fallback relay.
pub const FALLBACK_RELAY: NatPath = NatPath {
    name: "fallback-relay",
    layout: Layout {
        home1: Home {
            block_udp: true,
            ..Home::cone()
        },
        home2: Home {
            block_udp: true,
            ..Home::cone()
        },
    },
    path: "fallback",
    what: "through the signaling server's encrypted fallback relay (UDP blocked in both homes)",
};

/// Runs `case` with a `mib` MiB file.
pub fn run(ctx: &mut Ctx, case: NatPath, mib: u64) -> Result<CaseReport> {
    let name = case.name;
    let mut report = CaseReport {
        name: name.into(),
        what: format!("one {mib} MiB file {}", case.what),
        ..CaseReport::default()
    };
    if let Some(why) = peerdrop_netbed::prerequisites_missing() {
        eprintln!("{name}: SKIPPED: {why}");
        report.notes.push(format!("skipped: {why}."));
        return Ok(report);
    }
    procs::use_binaries(ctx.bin_dir.clone());
    let source = ctx.scratch.join("nat.bin");
    payload::write_random_file(&source, mib << 20)?;
    let digest = payload::digest(&source)?;
    let dest = ctx.scratch.join("received");
    let work = ctx.scratch.join("nat-bed");
    std::fs::create_dir_all(&work)?;

    eprintln!("{name}: building the bed");
    let mut topo = Topology::build(case.layout);
    let coturn = Coturn::start(&work, &procs::random_secret());
    let signal = Signal::start(Some(&coturn));
    let url = signal.url();
    let tcp_place = tcp_baseline::Placement {
        sender_ns: Some(ns::H1.into()),
        receiver_ns: Some(ns::INET.into()),
        listen: format!("{SERVER_IP}:0"),
        congestion: None,
    };
    let runs = NetnsRuns {
        name,
        tcp: vec![tcp_place],
        peerdrop: peerdrop_run::Where::Netns {
            server_url: &url,
            sender_ns: ns::H1,
            receiver_ns: ns::H2,
            path: case.path,
        },
    };
    let outcome = runs.run(ctx, &source, &digest, &dest, &mut report);
    drop(signal);
    drop(coturn);
    topo.teardown();
    std::fs::remove_file(&source)?;
    let _ = std::fs::remove_dir_all(&work);
    outcome?;
    report.notes.push(format!(
        "Path: h1 → router r1 → \"internet\" (coturn from the repo's `turnserver.conf` and \
         the signaling server on 203.0.113.1) → router r2 → h2; PeerDrop must report \
         `{}`. `tcp` is not relayed: h1 → r1 → a listener on the servers' host, the capacity \
         of one leg for scale.",
        case.path
    ));
    Ok(report)
}
