//! `peerdrop-bench`: how fast does PeerDrop move a file, compared with the best a plain TCP
//! socket does on the same machine in the same run?
//!
//! For each run it (1) copies the file disk → TCP socket → disk (fsync at the end, as PeerDrop
//! does before a file appears) and (2) sends it with the real `peerdrop-signal`, `peerdrop
//! receive` and `peerdrop send` release binaries over loopback WebRTC, sampling both peers'
//! peak RSS. It prints MB/s for both, their ratio and peak RSS, per run and as medians, and
//! checks the received file's BLAKE3. Run it with `cargo run --release -p peerdrop-bench`.

mod peerdrop_run;
mod report;
mod tcp_baseline;

use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "PeerDrop vs raw TCP, file to file on loopback")]
struct Args {
    /// File size in MiB.
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
    /// Number of runs (medians are reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Scratch folder (default: a new folder under the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Folder holding the release `peerdrop` and `peerdrop-signal` binaries (default: next to
    /// this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let scratch = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("peerdrop-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let bin_dir = match args.bin_dir {
        Some(d) => d,
        None => std::env::current_exe()?
            .parent()
            .context("binary has a folder")?
            .to_path_buf(),
    };
    let source = scratch.join("source.bin");
    let bytes = args.size_mib * 1024 * 1024;
    eprintln!(
        "writing {} MiB of random data to {}",
        args.size_mib,
        source.display()
    );
    let expected = tcp_baseline::write_random_file(&source, bytes)?;

    let mut runs = Vec::new();
    for run in 1..=args.runs {
        eprintln!("run {run}/{}: raw TCP baseline", args.runs);
        let tcp = tcp_baseline::copy_over_tcp(&source, &scratch.join("tcp-copy.bin"))?;
        eprintln!("run {run}/{}: peerdrop", args.runs);
        let pd = peerdrop_run::send_through_peerdrop(
            &bin_dir,
            &source,
            &scratch.join("received"),
            &expected,
        )?;
        let row = report::Run {
            bytes,
            tcp,
            peerdrop: pd,
        };
        println!("{}", row.line(run));
        runs.push(row);
    }
    println!("{}", report::summary(&runs));
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
