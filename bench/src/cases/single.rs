//! One big file on loopback (the "1 GiB single file"): TCP baseline, PeerDrop and
//! magic-wormhole on the same file in every run.

use anyhow::Result;

use super::{local_runs, loopback_runs, Ctx, Others};
use crate::payload;
use crate::peerdrop_run::Where;
use crate::report::CaseReport;

/// Runs the case with a file of `mib` MiB.
pub fn run(ctx: &mut Ctx, mib: u64) -> Result<CaseReport> {
    let source = ctx.scratch.join("single.bin");
    eprintln!("single: writing {mib} MiB to {}", source.display());
    payload::write_random_file(&source, mib << 20)?;
    let mut report = CaseReport {
        name: "single".into(),
        what: format!("one {mib} MiB file, loopback"),
        ..CaseReport::default()
    };
    let result = loopback_runs(ctx, &mut report, &source, Others::WithWormhole);
    std::fs::remove_file(&source)?;
    result?;
    Ok(report)
}

/// The same file between two processes on this host as a person runs them (no
/// `PEERDROP_BIND`): the packet size of a real network, next to TCP on loopback.
pub fn run_defaults(ctx: &mut Ctx, mib: u64) -> Result<CaseReport> {
    let source = ctx.scratch.join("single-defaults.bin");
    eprintln!("single-defaults: writing {mib} MiB to {}", source.display());
    payload::write_random_file(&source, mib << 20)?;
    let mut report = CaseReport {
        name: "single-defaults".into(),
        what: format!("one {mib} MiB file, two processes on this host, CLI defaults"),
        ..CaseReport::default()
    };
    let result = local_runs(
        ctx,
        &mut report,
        &source,
        Others::None,
        &Where::LocalDefaults,
    );
    std::fs::remove_file(&source)?;
    result?;
    Ok(report)
}
