//! One big file on loopback (the "1 GiB single file"): TCP baseline, PeerDrop and
//! magic-wormhole on the same file in every run.

use anyhow::Result;

use super::{loopback_runs, Ctx, Others};
use crate::payload;
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
