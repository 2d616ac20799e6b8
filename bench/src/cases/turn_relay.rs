//! One transfer through the TURN relay (issue 17): the netbed's two homes behind symmetric
//! NATs (`MASQUERADE --random-fully`), where hole punching fails and ICE must relay through
//! coturn, started from the committed `turnserver.conf` (its `max-bps` / `bps-capacity`
//! included). PeerDrop runs with its CLI defaults from h1 to h2 and must report the `relayed`
//! path. For scale, the raw TCP copy goes h1 → router 1 → a listener on the relay's own
//! host (the "internet" namespace): what the path to the relay carries, not a relayed TCP.

use anyhow::{Context, Result};

use peerdrop_netbed::bed::{ns, Home, Layout, Topology, SERVER_IP};
use peerdrop_netbed::procs::{self, Coturn, Signal};

use super::Ctx;
use crate::payload;
use crate::report::{CaseReport, ToolRun};
use crate::{peerdrop_run, tcp_baseline};

/// Runs the case with a `mib` MiB file.
pub fn run(ctx: &mut Ctx, mib: u64) -> Result<CaseReport> {
    let mut report = CaseReport {
        name: "turn-relay".into(),
        what: format!("one {mib} MiB file relayed by coturn between two symmetric NATs"),
        ..CaseReport::default()
    };
    if let Some(why) = peerdrop_netbed::prerequisites_missing() {
        eprintln!("turn-relay: SKIPPED: {why}");
        report.notes.push(format!("skipped: {why}."));
        return Ok(report);
    }
    procs::use_binaries(ctx.bin_dir.clone());
    let source = ctx.scratch.join("turn.bin");
    payload::write_random_file(&source, mib << 20)?;
    let digest = payload::digest(&source)?;
    let dest = ctx.scratch.join("received");
    let work = ctx.scratch.join("turn-bed");
    std::fs::create_dir_all(&work)?;

    eprintln!("turn-relay: building the bed (two symmetric NATs)");
    let mut topo = Topology::build(Layout {
        home1: Home::symmetric(),
        home2: Home::symmetric(),
    });
    let coturn = Coturn::start(&work, &procs::random_secret());
    let signal = Signal::start(Some(&coturn));
    let url = signal.url();
    let tcp_place = tcp_baseline::Placement {
        sender_ns: Some(ns::H1.into()),
        receiver_ns: Some(ns::INET.into()),
        listen: format!("{SERVER_IP}:0"),
        congestion: None,
    };
    let outcome = (|| -> Result<()> {
        for run in 1..=ctx.runs {
            let mut row: Vec<ToolRun> = Vec::new();
            eprintln!(
                "turn-relay run {run}/{}: tcp (to the relay's host)",
                ctx.runs
            );
            let tcp = tcp_baseline::run(&source, &digest, &dest, &tcp_place)
                .context("tcp to the relay's host")?;
            println!("[turn-relay] {}", tcp.line(run, None));
            row.push(tcp);
            eprintln!("turn-relay run {run}/{}: peerdrop", ctx.runs);
            let pd = peerdrop_run::run(
                &ctx.bin_dir,
                &source,
                &digest,
                &dest,
                &peerdrop_run::Where::Netns {
                    server_url: &url,
                    sender_ns: ns::H1,
                    receiver_ns: ns::H2,
                    path: "relayed",
                },
            )
            .context("peerdrop through the TURN relay")?;
            println!("[turn-relay] {}", pd.line(run, row.first()));
            row.push(pd);
            report.runs.push(row);
        }
        Ok(())
    })();
    drop(signal);
    drop(coturn);
    topo.teardown();
    std::fs::remove_file(&source)?;
    let _ = std::fs::remove_dir_all(&work);
    outcome?;
    report.notes.push(
        "Path: h1 → symmetric NAT r1 → coturn on 203.0.113.1 (the repo's `turnserver.conf`, \
         UDP relay) → symmetric NAT r2 → h2; PeerDrop must report `relayed`. `tcp` is not \
         relayed: h1 → r1 → a listener on coturn's host, the capacity of one leg for scale."
            .into(),
    );
    Ok(report)
}
