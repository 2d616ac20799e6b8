//! `peerdrop-bench`: how fast does PeerDrop move files, compared with the best a plain TCP
//! socket does on the same machine in the same run, and with magic-wormhole?
//!
//! Cases (`--case`, repeatable): `single` (one big file, loopback), `single-defaults` (the
//! same between two processes with the CLI's defaults), `many-small` (a folder of
//! many small files), `shaped` (a `tbf`-shaped link between network namespaces, via
//! `peerdrop-netbed`; root), `big-memory` (a 4 GiB file: is RSS flat?), `veth-lan` (two
//! namespaces on a bridge, the CLI as a person runs it; root), `wan-check`, `wan-40ms-clean`,
//! `wan-40ms`, `wan-100ms` (a user-space WAN emulator between namespaces, TCP CUBIC and BBR
//! alternating with PeerDrop; root), `home-nats`, `turn-relay`, `fallback-relay` (the NAT
//! bed's direct, TURN and encrypted-relay paths; root), `all`. Every case runs
//! `--runs` times; each run measures every tool on the same payload, so ratios compare like
//! with like. Each transfer is two real processes, measured from outside: MB/s from the
//! sender's launch until both exited with the copy verified (BLAKE3 of every file), time to the
//! first byte on the receiver's disk, CPU seconds and peak RSS of each peer (`wait4`).
//! It prints a line per transfer, a Markdown table of medians per case, whether the issue's
//! targets are met, and writes an SVG chart. Build with `--release`; see docs/BENCHMARKS.md.

mod cases;
mod chart;
mod payload;
mod peerdrop_run;
mod report;
mod tcp_baseline;
mod watch;
mod wormhole;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

use cases::Ctx;
use report::CaseReport;

/// Which case(s) to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Case {
    /// One big file on loopback (`--size-mib`).
    Single,
    /// The same between two processes on this host with the CLI's defaults (no
    /// `PEERDROP_BIND`: a real network's packet size; `--size-mib`).
    #[value(name = "single-defaults")]
    SingleDefaults,
    /// A folder of many small files on loopback (`--files`, `--file-kib`).
    ManySmall,
    /// A shaped link between network namespaces (`--shaped-mib`, `--link-mbit`; root).
    Shaped,
    /// A very big file, RSS over time (`--big-mib`).
    BigMemory,
    /// Two namespaces on the netbed's LAN bridge (veth, MTU 1500), CLI defaults (`--lan-mib`;
    /// root).
    VethLan,
    /// The WAN stage validated: ping RTT/loss, TCP through it unimpaired (root).
    #[value(name = "wan-check")]
    WanCheck,
    /// 100 Mbit/s, 40 ms RTT, no loss, through the WAN stage (`--wan-clean-mib`; root).
    #[value(name = "wan-40ms-clean")]
    Wan40msClean,
    /// 100 Mbit/s, 40 ms RTT, 0.5% loss (`--wan40-mib`; root).
    #[value(name = "wan-40ms")]
    Wan40ms,
    /// 100 Mbit/s, 100 ms RTT, 1% loss (`--wan100-mib`; root).
    #[value(name = "wan-100ms")]
    Wan100ms,
    /// Two cone NATs, direct, unshaped (`--nat-mib`; root).
    HomeNats,
    /// Relayed by coturn between two symmetric NATs (`--turn-mib`; root).
    TurnRelay,
    /// The encrypted fallback relay, UDP blocked in both homes (`--fallback-mib`; root).
    FallbackRelay,
    /// All of the above.
    All,
}

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "PeerDrop vs raw TCP vs magic-wormhole, file to file")]
struct Args {
    /// Case to run (repeatable).
    #[arg(long = "case", value_enum, default_values_t = [Case::Single])]
    cases: Vec<Case>,
    /// `single`: file size in MiB.
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
    /// `many-small`: number of files.
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// `many-small`: size of each file in KiB.
    #[arg(long, default_value_t = 4)]
    file_kib: usize,
    /// `shaped`: file size in MiB.
    #[arg(long, default_value_t = 64)]
    shaped_mib: u64,
    /// `shaped`: link rate in Mbit/s.
    #[arg(long, default_value_t = 100)]
    link_mbit: u32,
    /// `veth-lan`: file size in MiB.
    #[arg(long, default_value_t = 512)]
    lan_mib: u64,
    /// `wan-40ms-clean`: file size in MiB.
    #[arg(long, default_value_t = 64)]
    wan_clean_mib: u64,
    /// `wan-40ms`: file size in MiB.
    #[arg(long, default_value_t = 32)]
    wan40_mib: u64,
    /// `wan-100ms`: file size in MiB.
    #[arg(long, default_value_t = 16)]
    wan100_mib: u64,
    /// `wan-check`: MiB per unimpaired TCP blast.
    #[arg(long, default_value_t = 1024)]
    check_mib: u64,
    /// `home-nats`: file size in MiB.
    #[arg(long, default_value_t = 256)]
    nat_mib: u64,
    /// `turn-relay`: file size in MiB.
    #[arg(long, default_value_t = 64)]
    turn_mib: u64,
    /// `fallback-relay`: file size in MiB.
    #[arg(long, default_value_t = 32)]
    fallback_mib: u64,
    /// `big-memory`: file size in MiB.
    #[arg(long, default_value_t = 4096)]
    big_mib: u64,
    /// Runs per case (medians are reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Do not run magic-wormhole even when installed.
    #[arg(long)]
    no_wormhole: bool,
    /// Where to write the MB/s chart (SVG); the memory chart goes next to it (`*-rss.svg`).
    #[arg(long, default_value = "bench.svg")]
    svg: PathBuf,
    /// Scratch folder (default: a new folder under the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Folder holding the release `peerdrop` and `peerdrop-signal` binaries (default: next to
    /// this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    #[command(subcommand)]
    helper: Option<Helper>,
}

/// The TCP baseline's two peers (run by the bench itself, as child processes).
#[derive(Subcommand, Debug)]
enum Helper {
    /// Stream a file or folder to a `tcp-recv`.
    #[command(hide = true)]
    TcpSend {
        /// `HOST:PORT` of the receiver.
        #[arg(long)]
        to: String,
        /// Congestion control for the connection (`TCP_CONGESTION`), e.g. `bbr`.
        #[arg(long)]
        cc: Option<String>,
        /// File or folder to send.
        path: PathBuf,
    },
    /// Receive one stream into a folder.
    #[command(hide = true)]
    TcpRecv {
        /// Address to listen on.
        #[arg(long)]
        listen: String,
        /// Folder to write into.
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() -> Result<()> {
    let args = Args::parse();
    match &args.helper {
        Some(Helper::TcpSend { to, cc, path }) => {
            return tcp_baseline::send(to, path, cc.as_deref())
        }
        Some(Helper::TcpRecv { listen, dir }) => return tcp_baseline::receive(listen, dir),
        None => {}
    }
    let scratch = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("peerdrop-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary has a folder")?
            .to_path_buf(),
    };
    // Private copies of every binary the suite runs: other builds in the same target folder
    // during a 45-minute suite must neither change the peers between runs nor delete them.
    let bin_dir = {
        let own = scratch.join("bin");
        std::fs::create_dir_all(&own)?;
        for name in ["peerdrop", "peerdrop-signal"] {
            std::fs::copy(bin_dir.join(name), own.join(name))
                .with_context(|| format!("copying {name} from {}", bin_dir.display()))?;
        }
        let me = own.join("peerdrop-bench");
        std::fs::copy(std::env::current_exe()?, &me).context("copying peerdrop-bench")?;
        tcp_baseline::use_helper(me);
        own
    };
    let want = |c: Case| args.cases.contains(&c) || args.cases.contains(&Case::All);
    let loopback_wormhole = want(Case::Single) || want(Case::ManySmall);
    let (wormhole, wormhole_note) = if args.no_wormhole {
        (None, Some("--no-wormhole".to_string()))
    } else if !loopback_wormhole {
        (None, None)
    } else if let Some(why) = wormhole::missing() {
        eprintln!("NOTE: magic-wormhole skipped: {why}");
        (None, Some(why))
    } else {
        let wh = wormhole::Wormhole::start(&scratch.join("wormhole"))?;
        (Some(wh), None)
    };
    let mut ctx = Ctx {
        bin_dir,
        scratch: scratch.clone(),
        runs: args.runs,
        wormhole,
        wormhole_note,
    };

    // A failing case is reported and the others still run (a long suite should not lose
    // an hour of measurements to one broken case); the exit status still says it failed.
    let mut reports: Vec<CaseReport> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut record = |name: &str, result: Result<CaseReport>| match result {
        Ok(r) => reports.push(r),
        Err(e) => {
            eprintln!("{name}: FAILED: {e:#}");
            failures.push(format!("{name}: {e:#}"));
        }
    };
    if want(Case::Single) {
        record("single", cases::single::run(&mut ctx, args.size_mib));
    }
    if want(Case::SingleDefaults) {
        record(
            "single-defaults",
            cases::single::run_defaults(&mut ctx, args.size_mib),
        );
    }
    if want(Case::ManySmall) {
        record(
            "many-small",
            cases::many_small::run(&mut ctx, args.files, args.file_kib),
        );
    }
    if want(Case::Shaped) {
        record(
            "shaped",
            cases::shaped::run(&mut ctx, args.shaped_mib, args.link_mbit),
        );
    }
    if want(Case::VethLan) {
        record("veth-lan", cases::veth_lan::run(&mut ctx, args.lan_mib));
    }
    if want(Case::WanCheck) {
        record("wan-check", cases::wan::check(args.check_mib));
    }
    for (case, path, mib) in [
        (Case::Wan40msClean, cases::wan::CLEAN_40, args.wan_clean_mib),
        (Case::Wan40ms, cases::wan::LOSSY_40, args.wan40_mib),
        (Case::Wan100ms, cases::wan::LOSSY_100, args.wan100_mib),
    ] {
        if want(case) {
            record(path.name, cases::wan::run(&mut ctx, path, mib));
        }
    }
    for (case, path, mib) in [
        (Case::HomeNats, cases::nat_paths::HOME_NATS, args.nat_mib),
        (Case::TurnRelay, cases::nat_paths::TURN_RELAY, args.turn_mib),
        (
            Case::FallbackRelay,
            cases::nat_paths::FALLBACK_RELAY,
            args.fallback_mib,
        ),
    ] {
        if want(case) {
            record(path.name, cases::nat_paths::run(&mut ctx, path, mib));
        }
    }
    if want(Case::BigMemory) {
        record("big-memory", cases::big_memory::run(&mut ctx, args.big_mib));
    }
    drop(ctx);
    let _ = std::fs::remove_dir_all(&scratch);
    for r in &reports {
        println!("{}", r.table());
    }
    println!("{}", targets(&reports));
    chart::throughput(&reports, &args.svg)
        .with_context(|| format!("writing {}", args.svg.display()))?;
    println!("chart: {}", args.svg.display());
    if let Some(big) = reports.iter().find(|r| r.name == "big-memory") {
        if let Some(pd) = big
            .runs
            .last()
            .and_then(|run| run.iter().find(|t| t.tool == "peerdrop"))
        {
            let path = args.svg.with_file_name(format!(
                "{}-rss.svg",
                args.svg.file_stem().unwrap_or_default().to_string_lossy()
            ));
            chart::memory(
                &[
                    ("PeerDrop sender".into(), pd.sender.rss_series.clone()),
                    ("PeerDrop receiver".into(), pd.receiver.rss_series.clone()),
                ],
                &format!("Resident memory, {}", big.what),
                &path,
            )
            .with_context(|| format!("writing {}", path.display()))?;
            println!("memory chart: {}", path.display());
        }
    }
    if !failures.is_empty() {
        anyhow::bail!(
            "{} case(s) failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

/// The judged targets, met or not, from the medians.
fn targets(reports: &[CaseReport]) -> String {
    let mut out = vec!["\nTargets (issue 6):".to_string()];
    let find = |case: &str, tool: &str| {
        reports
            .iter()
            .find(|r| r.name == case)
            .and_then(|r| r.summaries().into_iter().find(|s| s.tool == tool))
    };
    let mark = |ok: bool| if ok { "MET" } else { "NOT MET" };
    if let Some(pd) = find("single", "peerdrop") {
        let ratio = pd.ratio.unwrap_or(0.0);
        out.push(format!(
            "- single file: PeerDrop {:.0}% of raw TCP (target ≥ 60%): {}",
            ratio * 100.0,
            mark(ratio >= 0.6)
        ));
        match find("single", "wormhole") {
            Some(wh) => {
                let x = pd.mb_s / wh.mb_s;
                out.push(format!(
                    "- single file: PeerDrop {x:.2}× magic-wormhole (target ≥ 2×): {}",
                    mark(x >= 2.0)
                ));
            }
            None => out.push("- single file: vs magic-wormhole: not measured".into()),
        }
    }
    if let Some(pd) = find("shaped", "peerdrop") {
        let u = pd.utilization.unwrap_or(0.0);
        out.push(format!(
            "- shaped link: PeerDrop uses {:.0}% of it (target ≥ 90%): {}",
            u * 100.0,
            mark(u >= 0.9)
        ));
    }
    if let Some(pd) = find("big-memory", "peerdrop") {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let worst = pd.peak_rss.0.max(pd.peak_rss.1);
        out.push(format!(
            "- big file: peak RSS sender {:.1} MiB, receiver {:.1} MiB (target < 64 MiB each): {}",
            mib(pd.peak_rss.0),
            mib(pd.peak_rss.1),
            mark(worst < 64 << 20)
        ));
    }
    out.join("\n")
}
