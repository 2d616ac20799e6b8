//! The headline figure (issue 17): two hosts on one LAN, as two machines on a gigabit switch
//! would be. The netbed's LAN bed ([`peerdrop_netbed::lan_bed`]) joins namespaces `pdnb-la` and
//! `pdnb-lb` through a bridge (veth → bridge → veth, MTU 1500), with `peerdrop-signal` on the
//! switch's own address. PeerDrop runs as a person runs it: the release CLI with its defaults
//! (a server URL, no `PEERDROP_BIND`, so the 1191-byte packets every non-loopback path uses);
//! the baseline is the bench's raw TCP copy (1 MiB read/write blocks, kernel-tuned socket
//! buffers) over the same two veths, alternating with PeerDrop run by run.

use anyhow::Result;

use peerdrop_netbed::lan_bed::{lan_ip, lan_ns, LanBed, LanLayout, LAN_ROUTER_IP};
use peerdrop_netbed::procs::{self, Signal};

use super::{Ctx, NetnsRuns};
use crate::payload;
use crate::report::CaseReport;
use crate::{peerdrop_run, tcp_baseline};

/// Runs the case: one `mib` MiB file from host B to host A, `ctx.runs` times each tool.
pub fn run(ctx: &mut Ctx, mib: u64) -> Result<CaseReport> {
    let mut report = CaseReport {
        name: "veth-lan".into(),
        what: format!("one {mib} MiB file between two namespaces on a bridge (veth, MTU 1500)"),
        ..CaseReport::default()
    };
    if let Some(why) = peerdrop_netbed::prerequisites_missing() {
        eprintln!("veth-lan: SKIPPED: {why}");
        report.notes.push(format!("skipped: {why}."));
        return Ok(report);
    }
    procs::use_binaries(ctx.bin_dir.clone());
    let source = ctx.scratch.join("veth-lan.bin");
    payload::write_random_file(&source, mib << 20)?;
    let digest = payload::digest(&source)?;
    let dest = ctx.scratch.join("received");

    eprintln!("veth-lan: building the LAN bed");
    let mut lan = LanBed::build(LanLayout {
        default_route: true,
    });
    let signal = Signal::start_in(lan_ns::SWITCH, LAN_ROUTER_IP, None);
    let url = signal.url();
    let tcp_place = tcp_baseline::Placement {
        sender_ns: Some(lan_ns::B.into()),
        receiver_ns: Some(lan_ns::A.into()),
        listen: format!("{}:0", lan_ip(lan_ns::A)),
        congestion: None,
    };
    let runs = NetnsRuns {
        name: "veth-lan",
        tcp: vec![tcp_place],
        peerdrop: peerdrop_run::Where::Netns {
            server_url: &url,
            sender_ns: lan_ns::B,
            receiver_ns: lan_ns::A,
            path: "direct",
        },
    };
    let outcome = runs.run(ctx, &source, &digest, &dest, &mut report);
    drop(signal);
    lan.teardown();
    std::fs::remove_file(&source)?;
    outcome?;
    report.notes.push(
        "Path: pdnb-lb (198.18.7.11) → bridge in pdnb-sw → pdnb-la (198.18.7.10), veths at \
         MTU 1500, no shaping. PeerDrop: release CLI defaults (`PEERDROP_SERVER` of the bed's \
         signaling server on 198.18.7.1, no `PEERDROP_BIND`); TCP: `peerdrop-bench tcp-send` \
         → `tcp-recv`, one connection, 1 MiB blocks, fsync at the end as PeerDrop."
            .into(),
    );
    Ok(report)
}
