//! A `tbf`-shaped link between two network namespaces (the "100 Mbit/s shaped link"),
//! built with the `peerdrop-netbed` bed: two homes behind cone NATs whose routers shape their
//! WAN egress (`tbf rate N mbit burst 64kb latency 50ms`), signaling and coturn (STUN) on the
//! bed's "internet". PeerDrop goes h1 → router 1 → internet → router 2 → h2 (direct, hole
//! punched); the TCP baseline goes h1 → router 1 → a listener on the internet namespace (the
//! receiver's NAT would refuse an inbound connection). Both cross exactly one shaped egress in
//! the data direction. Utilisation = data-phase rate (first byte → done) over the link rate.

use anyhow::Result;

use peerdrop_netbed::bed::{ns, Home, Layout, Topology, SERVER_IP};
use peerdrop_netbed::procs::{self, Coturn, Signal};

use super::{Ctx, NetnsRuns};
use crate::payload;
use crate::report::CaseReport;
use crate::{peerdrop_run, tcp_baseline};

/// Runs the case: a `mib` MiB file over a `mbit` Mbit/s link.
pub fn run(ctx: &mut Ctx, mib: u64, mbit: u32) -> Result<CaseReport> {
    let mut report = CaseReport {
        name: "shaped".into(),
        what: format!("one {mib} MiB file over a tbf {mbit} Mbit/s link between namespaces"),
        link_mbit: Some(mbit),
        ..CaseReport::default()
    };
    if let Some(why) = peerdrop_netbed::prerequisites_missing() {
        eprintln!("shaped: SKIPPED: {why}");
        report.notes.push(format!("skipped: {why}."));
        return Ok(report);
    }
    procs::use_binaries(ctx.bin_dir.clone());
    let source = ctx.scratch.join("shaped.bin");
    payload::write_random_file(&source, mib << 20)?;
    let digest = payload::digest(&source)?;
    let dest = ctx.scratch.join("received");
    let work = ctx.scratch.join("shaped-bed");
    std::fs::create_dir_all(&work)?;

    let home = Home {
        shape_mbit: Some(mbit),
        ..Home::cone()
    };
    eprintln!("shaped: building the bed ({mbit} Mbit/s on both routers' WAN)");
    let mut topo = Topology::build(Layout {
        home1: home,
        home2: home,
    });
    let coturn = Coturn::start(&work, &procs::random_secret());
    let signal = Signal::start(Some(&coturn));
    let url = format!("ws://{}/ws", signal.addr);
    let tcp_place = tcp_baseline::Placement {
        sender_ns: Some(ns::H1.into()),
        receiver_ns: Some(ns::INET.into()),
        listen: format!("{SERVER_IP}:0"),
        congestion: None,
    };
    let runs = NetnsRuns {
        name: "shaped",
        tcp: vec![tcp_place],
        peerdrop: peerdrop_run::Where::Netns {
            server_url: &url,
            sender_ns: ns::H1,
            receiver_ns: ns::H2,
            path: "direct",
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
        "Link: `tc qdisc add dev wan root tbf rate {mbit}mbit burst 64kb latency 50ms` on both \
         routers (netbed). TCP: h1 → router 1 → listener in the internet namespace; PeerDrop: \
         h1 → router 1 → router 2 → h2 (direct, STUN via coturn). \"link use\" = data MB/s × 8 \
         / {mbit} Mbit/s."
    ));
    Ok(report)
}
