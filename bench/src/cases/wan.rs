//! Long internet paths (issue 17): the netbed's WAN bed ([`peerdrop_netbed::wan_bed`]), two
//! hosts routed through a user-space stage that adds delay, random loss and a rate limit
//! (this kernel has no netem). On each path, run after run: a raw TCP copy with CUBIC, one with
//! BBR (when the kernel offers it), then PeerDrop with its CLI defaults — same path, same
//! payload, alternating. `wan-check` validates the stage itself: UDP ping round trips and loss
//! against the configuration, and what TCP gets through it with nothing configured.

use std::time::Duration;

use anyhow::Result;

use peerdrop_netbed::probe::{tcp_blast, udp_ping, EchoServer};
use peerdrop_netbed::procs::{self, Signal};
use peerdrop_netbed::wan_bed::{wan_ns, WanBed, A_IP, B_IP, ROUTER_A_IP};
use peerdrop_netbed::wan_stage::{Impairment, StageStats};

use super::{Ctx, NetnsRuns};
use crate::payload;
use crate::report::CaseReport;
use crate::{peerdrop_run, tcp_baseline};

/// One emulated path.
#[derive(Clone, Copy, Debug)]
pub struct Path {
    /// Case name (`wan-40ms`, ...).
    pub name: &'static str,
    /// Link rate, Mbit/s.
    pub mbit: u64,
    /// Round trip added by the stage.
    pub rtt: Duration,
    /// Random loss per packet and direction.
    pub loss: f64,
}

impl Path {
    fn impairment(&self) -> Impairment {
        Impairment::wan(self.rtt, self.loss, Some(self.mbit))
    }

    fn describe(&self) -> String {
        format!(
            "{} Mbit/s, {} ms RTT, {}% loss per direction",
            self.mbit,
            self.rtt.as_millis(),
            self.loss * 100.0
        )
    }
}

/// 100 Mbit/s, 40 ms, no loss.
pub const CLEAN_40: Path = Path {
    name: "wan-40ms-clean",
    mbit: 100,
    rtt: Duration::from_millis(40),
    loss: 0.0,
};
/// 100 Mbit/s, 40 ms, 0.5% loss.
pub const LOSSY_40: Path = Path {
    name: "wan-40ms",
    mbit: 100,
    rtt: Duration::from_millis(40),
    loss: 0.005,
};
/// 100 Mbit/s, 100 ms, 1% loss.
pub const LOSSY_100: Path = Path {
    name: "wan-100ms",
    mbit: 100,
    rtt: Duration::from_millis(100),
    loss: 0.01,
};

/// Whether the kernel offers BBR (`net.ipv4.tcp_available_congestion_control`).
fn bbr_available() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
        .is_ok_and(|s| s.split_whitespace().any(|cc| cc == "bbr"))
}

fn stats_note(stats: &StageStats) -> String {
    let d = |s: &peerdrop_netbed::wan_stage::DirectionStats| {
        format!(
            "{} packets, {} lost at random ({:.2}%), {} dropped at the full queue",
            s.received,
            s.lost,
            100.0 * s.lost as f64 / s.received.max(1) as f64,
            s.queue_drops
        )
    };
    format!(
        "Stage counters over the whole case (all tools): towards the receiver {}; towards the \
         sender {}.",
        d(&stats.to_b),
        d(&stats.to_a)
    )
}

/// Runs one path with a `mib` MiB file.
pub fn run(ctx: &mut Ctx, path: Path, mib: u64) -> Result<CaseReport> {
    let mut report = CaseReport {
        name: path.name.into(),
        what: format!("one {mib} MiB file, {}", path.describe()),
        link_mbit: Some(path.mbit as u32),
        ..CaseReport::default()
    };
    if let Some(why) = peerdrop_netbed::prerequisites_missing() {
        eprintln!("{}: SKIPPED: {why}", path.name);
        report.notes.push(format!("skipped: {why}."));
        return Ok(report);
    }
    procs::use_binaries(ctx.bin_dir.clone());
    let source = ctx.scratch.join("wan.bin");
    payload::write_random_file(&source, mib << 20)?;
    let digest = payload::digest(&source)?;
    let dest = ctx.scratch.join("received");
    let bbr = bbr_available();

    eprintln!("{}: building the WAN bed ({})", path.name, path.describe());
    let imp = path.impairment();
    let mut bed = WanBed::build(imp, imp, 0x5eed_0017);
    let signal = Signal::start_in(wan_ns::R, ROUTER_A_IP, None);
    let url = signal.url();
    let place = |congestion| tcp_baseline::Placement {
        sender_ns: Some(wan_ns::A.into()),
        receiver_ns: Some(wan_ns::B.into()),
        listen: format!("{B_IP}:0"),
        congestion,
    };
    let name = path.name;
    let mut tcp = vec![place(Some("cubic"))];
    if bbr {
        tcp.push(place(Some("bbr")));
    }
    let runs = NetnsRuns {
        name,
        tcp,
        peerdrop: peerdrop_run::Where::Netns {
            server_url: &url,
            sender_ns: wan_ns::A,
            receiver_ns: wan_ns::B,
            path: "direct",
        },
    };
    let outcome = runs.run(ctx, &source, &digest, &dest, &mut report);
    drop(signal);
    let stats = bed.teardown();
    std::fs::remove_file(&source)?;
    outcome?;
    let vs_bbr = per_run_ratio(&report, "peerdrop", "tcp-bbr");
    report.notes.push(format!(
        "Path: pdnb-wa ({A_IP}) → router pdnb-wr, user-space stage on TUN `wan0`: {} → pdnb-wb \
         ({B_IP}); {} ms one-way delay each direction, tail-drop queue {} KiB at the rate \
         limiter, loss RNG seeded. `tcp` = raw TCP copy with CUBIC (`TCP_CONGESTION`), \
         `tcp-bbr` = the same with BBR{}; \"vs TCP\" is against CUBIC. PeerDrop: release CLI \
         defaults, signaling on the router's 198.18.9.1 (not impaired). \"link use\" = data \
         MB/s × 8 / {} Mbit/s.{}",
        path.describe(),
        path.rtt.as_millis() / 2,
        imp.queue_bytes >> 10,
        if bbr {
            ""
        } else {
            " (not offered by this kernel: skipped)"
        },
        path.mbit,
        vs_bbr.map_or(String::new(), |r| format!(
            " PeerDrop vs BBR, median of per-run ratios: {:.0}%.",
            r * 100.0
        ))
    ));
    report.notes.push(stats_note(&stats));
    Ok(report)
}

/// Median over runs of `tool`'s MB/s over `base`'s in the same run.
fn per_run_ratio(report: &CaseReport, tool: &str, base: &str) -> Option<f64> {
    let ratios: Vec<f64> = report
        .runs
        .iter()
        .filter_map(|run| {
            let me = run.iter().find(|t| t.tool == tool)?;
            let b = run.iter().find(|t| t.tool == base)?;
            Some(me.mb_s() / b.mb_s())
        })
        .collect();
    (!ratios.is_empty()).then(|| crate::report::median(ratios))
}

/// Validates the stage: ping round trips and loss on the two lossy paths (2,000 probes each),
/// and memory-to-memory TCP through a stage with nothing configured (`clear_mib` MiB, 3
/// times). The findings are the report's notes (it has no transfers).
pub fn check(clear_mib: u64) -> Result<CaseReport> {
    let mut report = CaseReport {
        name: "wan-check".into(),
        what: "the WAN stage measured: ping and TCP through it".into(),
        ..CaseReport::default()
    };
    if let Some(why) = peerdrop_netbed::prerequisites_missing() {
        report.notes.push(format!("skipped: {why}."));
        return Ok(report);
    }
    for path in [LOSSY_40, LOSSY_100] {
        let imp = path.impairment();
        let mut bed = WanBed::build(imp, imp, 0x5eed_0017);
        let echo = EchoServer::start(wan_ns::B, B_IP)?;
        let ping = udp_ping(wan_ns::A, echo.addr, 2000, Duration::from_millis(2))?;
        drop(echo);
        let stats = bed.teardown();
        let expect_loss = 1.0 - (1.0 - path.loss).powi(2);
        let line = format!(
            "- {}: UDP ping, {} probes every 2 ms: RTT min / median / max {:.2} / {:.2} / {:.2} \
             ms (configured {} ms); round-trip loss {:.2}% (expected 1 − (1 − p)² = {:.2}%); \
             stage lost {} + {} packets",
            path.describe(),
            ping.sent,
            ping.min().as_secs_f64() * 1e3,
            ping.median().as_secs_f64() * 1e3,
            ping.max().as_secs_f64() * 1e3,
            path.rtt.as_millis(),
            ping.loss() * 100.0,
            expect_loss * 100.0,
            stats.to_b.lost,
            stats.to_a.lost
        );
        println!("[wan-check] {line}");
        report.notes.push(line);
    }
    let mut bed = WanBed::build(Impairment::clear(), Impairment::clear(), 1);
    let mut rates = Vec::new();
    for _ in 0..3 {
        let took = tcp_blast(wan_ns::A, wan_ns::B, B_IP, clear_mib << 20)?;
        rates.push((clear_mib << 20) as f64 * 8.0 / took.as_secs_f64() / 1e9);
    }
    // The same blast with the stage bypassed (plain kernel forwarding), for scale.
    peerdrop_netbed::bed::run_in(
        wan_ns::R,
        "ip",
        &["rule", "del", "iif", "va", "lookup", "100"],
    );
    peerdrop_netbed::bed::run_in(
        wan_ns::R,
        "ip",
        &["rule", "del", "iif", "vb", "lookup", "100"],
    );
    let took = tcp_blast(wan_ns::A, wan_ns::B, B_IP, clear_mib << 20)?;
    let direct = (clear_mib << 20) as f64 * 8.0 / took.as_secs_f64() / 1e9;
    bed.teardown();
    let line = format!(
        "- nothing configured: one TCP connection, {clear_mib} MiB memory to memory through \
         the stage: {} Gbit/s (3 runs); the same path with the stage bypassed (kernel \
         forwarding): {direct:.2} Gbit/s",
        rates
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    println!("[wan-check] {line}");
    report.notes.push(line);
    Ok(report)
}
