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

use anyhow::Result;
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
        let pd = peerdrop_run::run(
            &ctx.bin_dir,
            source,
            &digest,
            &dest,
            &peerdrop_run::Where::Loopback,
        )?;
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
