//! The benchmark cases, one module each, sharing [`Ctx`] (where the binaries are, scratch
//! space, how many runs, the optional magic-wormhole setup) and [`loopback_runs`] (every tool on
//! the same payload, run after run, so ratios compare like with like).

pub mod big_memory;
pub mod many_small;
pub mod nat_paths;
pub mod shaped;
pub mod single;
pub mod veth_lan;
pub mod wan;

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

use crate::report::{CaseReport, ToolRun};
use crate::wormhole::Wormhole;
use crate::{payload, peerdrop_run, tcp_baseline};

/// What every case needs.
pub struct Ctx {
    /// Folder with the release `peerdrop` and `peerdrop-signal`.
    pub bin_dir: PathBuf,
    /// Scratch folder (payloads, received copies, logs).
    pub scratch: PathBuf,
    /// Runs per case (medians are reported).
    pub runs: usize,
    /// magic-wormhole on loopback, when installed and wanted.
    pub wormhole: Option<Wormhole>,
    /// Why wormhole is not measured, when it is not.
    pub wormhole_note: Option<String>,
}

/// Which tools a loopback case runs besides the TCP baseline and PeerDrop.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Others {
    /// magic-wormhole too, when available.
    WithWormhole,
    /// Only TCP and PeerDrop.
    None,
}

/// Runs the TCP baseline, PeerDrop and (optionally) magic-wormhole on `source`, `ctx.runs`
/// times, printing each transfer as it completes.
pub fn loopback_runs(
    ctx: &mut Ctx,
    report: &mut CaseReport,
    source: &Path,
    others: Others,
) -> Result<()> {
    local_runs(ctx, report, source, others, &peerdrop_run::Where::Loopback)
}

/// [`loopback_runs`] with PeerDrop placed as `place` (loopback-bound, or the CLI's defaults).
pub fn local_runs(
    ctx: &mut Ctx,
    report: &mut CaseReport,
    source: &Path,
    others: Others,
    place: &peerdrop_run::Where,
) -> Result<()> {
    eprintln!("{}: hashing the payload", report.name);
    let digest = payload::digest(source)?;
    let dest = ctx.scratch.join("received");
    for run in 1..=ctx.runs {
        let mut row: Vec<ToolRun> = Vec::new();
        eprintln!("{} run {run}/{}: tcp", report.name, ctx.runs);
        let tcp = tcp_baseline::run(source, &digest, &dest, &tcp_baseline::Placement::loopback())?;
        println!("[{}] {}", report.name, tcp.line(run, None));
        row.push(tcp);
        eprintln!("{} run {run}/{}: peerdrop", report.name, ctx.runs);
        let pd = peerdrop_run::run(&ctx.bin_dir, source, &digest, &dest, place)?;
        println!("[{}] {}", report.name, pd.line(run, row.first()));
        row.push(pd);
        if others == Others::WithWormhole {
            if let Some(wh) = ctx.wormhole.as_mut() {
                eprintln!("{} run {run}/{}: magic-wormhole", report.name, ctx.runs);
                let w = wh.run(source, &digest, &dest)?;
                println!("[{}] {}", report.name, w.line(run, row.first()));
                row.push(w);
            }
        }
        report.runs.push(row);
    }
    if others == Others::WithWormhole {
        if let Some(why) = &ctx.wormhole_note {
            report.notes.push(format!("magic-wormhole skipped: {why}."));
        }
    }
    Ok(())
}

/// A path between two namespaces measured the same way in every netns case: each run copies
/// the payload with raw TCP (once per placement, e.g. CUBIC then BBR) and then with PeerDrop,
/// alternating on the same path, so a run's ratio compares like with like.
pub struct NetnsRuns<'a> {
    /// The case's name, prefixed to every line.
    pub name: &'a str,
    /// Where TCP runs (one copy per entry, in order); the first is the ratios' baseline.
    pub tcp: Vec<tcp_baseline::Placement>,
    /// Where PeerDrop runs.
    pub peerdrop: peerdrop_run::Where<'a>,
}

impl NetnsRuns<'_> {
    /// Runs `ctx.runs` rounds on `source` (BLAKE3 `digest`), each copy into `dest`, adding a
    /// row per round to `report`.
    pub fn run(
        &self,
        ctx: &Ctx,
        source: &Path,
        digest: &str,
        dest: &Path,
        report: &mut CaseReport,
    ) -> Result<()> {
        let name = self.name;
        for run in 1..=ctx.runs {
            let mut row: Vec<ToolRun> = Vec::new();
            for place in &self.tcp {
                let cc = place.congestion.unwrap_or("default");
                eprintln!("{name} run {run}/{}: tcp {cc}", ctx.runs);
                let tcp = tcp_baseline::run(source, digest, dest, place)
                    .with_context(|| format!("tcp ({cc}) on {name}"))?;
                println!("[{name}] {}", tcp.line(run, row.first()));
                row.push(tcp);
            }
            eprintln!("{name} run {run}/{}: peerdrop", ctx.runs);
            let pd = peerdrop_run::run(&ctx.bin_dir, source, digest, dest, &self.peerdrop)
                .with_context(|| format!("peerdrop on {name}"))?;
            println!("[{name}] {}", pd.line(run, row.first()));
            row.push(pd);
            report.runs.push(row);
        }
        Ok(())
    }
}
