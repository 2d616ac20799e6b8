//! Formatting runs and medians.

use crate::peerdrop_run::PeerdropRun;
use std::time::Duration;

/// One run's measurements.
pub struct Run {
    /// File size in bytes.
    pub bytes: u64,
    /// Raw TCP wall time.
    pub tcp: Duration,
    /// PeerDrop measurements.
    pub peerdrop: PeerdropRun,
}

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl Run {
    fn tcp_rate(&self) -> f64 {
        mb_per_s(self.bytes, self.tcp)
    }

    fn pd_rate(&self) -> f64 {
        mb_per_s(self.bytes, self.peerdrop.wall)
    }

    /// One line per run.
    pub fn line(&self, n: usize) -> String {
        format!(
            "run {n}: tcp {:.0} MB/s | peerdrop {:.0} MB/s | ratio {:.0}% | connect {} ms | peak RSS sender {:.1} MiB, receiver {:.1} MiB | CPU s sender {:.1}, receiver {:.1}",
            self.tcp_rate(),
            self.pd_rate(),
            100.0 * self.pd_rate() / self.tcp_rate(),
            self.peerdrop.connect_ms,
            mib(self.peerdrop.sender_rss),
            mib(self.peerdrop.receiver_rss),
            self.peerdrop.sender_cpu,
            self.peerdrop.receiver_cpu
        )
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The medians over all runs, as a small Markdown table.
pub fn summary(runs: &[Run]) -> String {
    let tcp = median(runs.iter().map(Run::tcp_rate).collect());
    let pd = median(runs.iter().map(Run::pd_rate).collect());
    let ratio = median(runs.iter().map(|r| r.pd_rate() / r.tcp_rate()).collect());
    let connect = median(runs.iter().map(|r| r.peerdrop.connect_ms as f64).collect());
    let s_rss = runs
        .iter()
        .map(|r| r.peerdrop.sender_rss)
        .max()
        .unwrap_or(0);
    let r_rss = runs
        .iter()
        .map(|r| r.peerdrop.receiver_rss)
        .max()
        .unwrap_or(0);
    let size = runs.first().map_or(0, |r| r.bytes);
    format!(
        "\n| {:.0} MiB file, median of {} runs | MB/s | vs TCP |\n|---|---|---|\n| raw TCP disk→disk (baseline) | {tcp:.0} | 100% |\n| PeerDrop file→file (WebRTC, loopback) | {pd:.0} | {:.0}% |\n\nconnect (signal + ICE + DTLS + SCTP) median {connect:.0} ms; peak RSS (max over runs): sender {:.1} MiB, receiver {:.1} MiB",
        mib(size),
        runs.len(),
        100.0 * ratio,
        mib(s_rss),
        mib(r_rss)
    )
}
