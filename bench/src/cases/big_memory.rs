//! A file bigger than any buffer (the "4 GiB file for memory"): does each peer's
//! resident memory stay flat? TCP baseline and PeerDrop; RSS is sampled every 100 ms and
//! summarised at points of the run, and the last PeerDrop run's series is kept for the chart.

use anyhow::Result;

use super::{loopback_runs, Ctx, Others};
use crate::payload;
use crate::report::{rss_profile, CaseReport};

/// Runs the case with a file of `mib` MiB.
pub fn run(ctx: &mut Ctx, mib: u64) -> Result<CaseReport> {
    let source = ctx.scratch.join("big.bin");
    eprintln!("big-memory: writing {mib} MiB to {}", source.display());
    payload::write_random_file(&source, mib << 20)?;
    let mut report = CaseReport {
        name: "big-memory".into(),
        what: format!("one {mib} MiB file, loopback, memory over time"),
        ..CaseReport::default()
    };
    let result = loopback_runs(ctx, &mut report, &source, Others::None);
    std::fs::remove_file(&source)?;
    result?;
    let mut notes = Vec::new();
    for (i, run) in report.runs.iter().enumerate() {
        for t in run.iter().filter(|t| t.tool == "peerdrop") {
            notes.push(format!(
                "run {}: PeerDrop sender {}; receiver {}.",
                i + 1,
                rss_profile(&t.sender.rss_series),
                rss_profile(&t.receiver.rss_series)
            ));
        }
    }
    report.notes.extend(notes);
    Ok(report)
}
