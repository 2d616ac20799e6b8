//! A folder of many small files on loopback (the "10,000 files of 4 KiB"): PeerDrop
//! sends the folder, the TCP baseline streams every file over one socket (fsync per file, as
//! PeerDrop), magic-wormhole sends the folder as its zip.

use anyhow::Result;

use super::{loopback_runs, Ctx, Others};
use crate::payload;
use crate::report::CaseReport;

/// Runs the case with `count` files of `kib` KiB each.
pub fn run(ctx: &mut Ctx, count: usize, kib: usize) -> Result<CaseReport> {
    let source = ctx.scratch.join("many");
    let _ = std::fs::remove_dir_all(&source);
    eprintln!("many-small: writing {count} files of {kib} KiB");
    payload::write_small_files(&source, count, kib * 1024)?;
    let mut report = CaseReport {
        name: "many-small".into(),
        what: format!("a folder of {count} files × {kib} KiB (100 per subfolder), loopback"),
        ..CaseReport::default()
    };
    let result = loopback_runs(ctx, &mut report, &source, Others::WithWormhole);
    std::fs::remove_dir_all(&source)?;
    result?;
    report.notes.push(
        "TCP baseline: every file's path, size and bytes streamed back to back over one \
         socket, each file fsynced by the receiver (PeerDrop's durability); magic-wormhole \
         zips the folder, sends one stream and unzips it (no fsync)."
            .into(),
    );
    Ok(report)
}
