//! Measurements of one transfer by one tool, and the per-case tables (medians over runs,
//! ratios to the TCP baseline of the same run).

use crate::watch::{PairResult, Usage};
use std::fmt::Write as _;
use std::time::Duration;

/// One transfer by one tool.
#[derive(Clone, Debug)]
pub struct ToolRun {
    /// `tcp`, `peerdrop` or `wormhole`.
    pub tool: &'static str,
    /// Payload bytes moved.
    pub bytes: u64,
    /// Sender launch until both peers exited with the data verified on disk.
    pub wall: Duration,
    /// Sender launch until the first payload byte was on the receiver's disk (end-to-end
    /// connect time: process start, signaling, ICE, DTLS, offer/accept).
    pub first_byte: Option<Duration>,
    /// The engine's own connect figure (PeerDrop's `connected` event), ms.
    pub engine_connect_ms: Option<u64>,
    /// The sending peer.
    pub sender: Usage,
    /// The receiving peer.
    pub receiver: Usage,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A rate with enough digits to compare small ones (0.12 MB/s) without noise on big ones.
pub fn rate(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

impl ToolRun {
    /// Builds a run from what [`crate::watch::Pair::wait`] measured.
    pub fn new(
        tool: &'static str,
        bytes: u64,
        pair: PairResult,
        engine_connect_ms: Option<u64>,
    ) -> ToolRun {
        ToolRun {
            tool,
            bytes,
            wall: pair.wall,
            first_byte: pair.first_byte,
            engine_connect_ms,
            sender: pair.sender,
            receiver: pair.receiver,
        }
    }

    /// End to end: bytes over (launch → done), 10^6 bytes/s.
    pub fn mb_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.wall.as_secs_f64()
    }

    /// Data phase only: bytes over (first byte → done); what a link's utilisation is judged on.
    pub fn data_mb_s(&self) -> f64 {
        let data = self.wall - self.first_byte.unwrap_or_default().min(self.wall);
        self.bytes as f64 / 1e6 / data.as_secs_f64().max(1e-6)
    }

    /// One line for the live log.
    pub fn line(&self, run: usize, tcp: Option<&ToolRun>) -> String {
        let ratio = tcp.map_or(String::new(), |t| {
            format!(" ({:.0}% of tcp)", 100.0 * self.mb_s() / t.mb_s())
        });
        format!(
            "run {run} {:<9} {:>7} MB/s{ratio} | data {} MB/s | first byte {} | engine connect {} | CPU s {:.2}/{:.2} | peak RSS {:.1}/{:.1} MiB",
            self.tool,
            rate(self.mb_s()),
            rate(self.data_mb_s()),
            self.first_byte
                .map_or("-".into(), |d| format!("{} ms", d.as_millis())),
            self.engine_connect_ms
                .map_or("-".into(), |ms| format!("{ms} ms")),
            self.sender.cpu_s,
            self.receiver.cpu_s,
            mib(self.sender.peak_rss),
            mib(self.receiver.peak_rss),
        )
    }
}

/// Median of `values` (0 when empty).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// One case: every run's transfers by every tool.
#[derive(Default)]
pub struct CaseReport {
    /// Short name (`single`, `many-small`, ...).
    pub name: String,
    /// What was sent, for the table header.
    pub what: String,
    /// Link rate when shaped (for utilisation).
    pub link_mbit: Option<u32>,
    /// `runs[i]` = the transfers of run `i`, baseline first.
    pub runs: Vec<Vec<ToolRun>>,
    /// Remarks printed under the table (skipped tools, how the baseline works, ...).
    pub notes: Vec<String>,
}

/// Medians of one tool in one case.
#[derive(Clone, Debug)]
pub struct ToolSummary {
    /// Tool name.
    pub tool: &'static str,
    /// Median end-to-end MB/s.
    pub mb_s: f64,
    /// Median of the per-run ratio to the TCP baseline of the same run.
    pub ratio: Option<f64>,
    /// Median data-phase MB/s.
    pub data_mb_s: f64,
    /// Median first-byte time, ms.
    pub first_byte_ms: Option<f64>,
    /// Median engine connect time, ms.
    pub engine_connect_ms: Option<f64>,
    /// Median CPU seconds, sender and receiver.
    pub cpu: (f64, f64),
    /// Largest peak RSS over the runs, sender and receiver, bytes.
    pub peak_rss: (u64, u64),
    /// Median utilisation of the shaped link (data phase), fraction.
    pub utilization: Option<f64>,
}

impl CaseReport {
    /// Tools in the order they first appear.
    fn tools(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for t in self.runs.iter().flatten() {
            if !out.contains(&t.tool) {
                out.push(t.tool);
            }
        }
        out
    }

    /// Medians per tool.
    pub fn summaries(&self) -> Vec<ToolSummary> {
        self.tools()
            .into_iter()
            .map(|tool| {
                let mine: Vec<&ToolRun> = self
                    .runs
                    .iter()
                    .flatten()
                    .filter(|t| t.tool == tool)
                    .collect();
                let ratios: Vec<f64> = self
                    .runs
                    .iter()
                    .filter_map(|run| {
                        let tcp = run.iter().find(|t| t.tool == "tcp")?;
                        let me = run.iter().find(|t| t.tool == tool)?;
                        Some(me.mb_s() / tcp.mb_s())
                    })
                    .collect();
                let opt_median = |v: Vec<f64>| (!v.is_empty()).then(|| median(v));
                let data = median(mine.iter().map(|t| t.data_mb_s()).collect());
                ToolSummary {
                    tool,
                    mb_s: median(mine.iter().map(|t| t.mb_s()).collect()),
                    ratio: opt_median(ratios),
                    data_mb_s: data,
                    first_byte_ms: opt_median(
                        mine.iter()
                            .filter_map(|t| t.first_byte)
                            .map(|d| d.as_secs_f64() * 1e3)
                            .collect(),
                    ),
                    engine_connect_ms: opt_median(
                        mine.iter()
                            .filter_map(|t| t.engine_connect_ms)
                            .map(|ms| ms as f64)
                            .collect(),
                    ),
                    cpu: (
                        median(mine.iter().map(|t| t.sender.cpu_s).collect()),
                        median(mine.iter().map(|t| t.receiver.cpu_s).collect()),
                    ),
                    peak_rss: (
                        mine.iter().map(|t| t.sender.peak_rss).max().unwrap_or(0),
                        mine.iter().map(|t| t.receiver.peak_rss).max().unwrap_or(0),
                    ),
                    utilization: self.link_mbit.map(|mbit| data * 8.0 / f64::from(mbit)),
                }
            })
            .collect()
    }

    /// The Markdown table of medians, with notes.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\n### {} — {} (median of {} runs)\n",
            self.name,
            self.what,
            self.runs.len()
        );
        let util = self.link_mbit.is_some();
        let _ = writeln!(
            s,
            "| tool | MB/s | vs TCP | data MB/s | first byte ms | engine connect ms | CPU s send / recv | peak RSS MiB send / recv |{}",
            if util { " link use |" } else { "" }
        );
        let _ = writeln!(
            s,
            "|---|---|---|---|---|---|---|---|{}",
            if util { "---|" } else { "" }
        );
        for t in self.summaries() {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {:.2} / {:.2} | {:.1} / {:.1} |{}",
                t.tool,
                rate(t.mb_s),
                t.ratio.map_or("–".into(), |r| format!("{:.0}%", r * 100.0)),
                rate(t.data_mb_s),
                t.first_byte_ms.map_or("–".into(), |v| format!("{v:.0}")),
                t.engine_connect_ms
                    .map_or("–".into(), |v| format!("{v:.0}")),
                t.cpu.0,
                t.cpu.1,
                mib(t.peak_rss.0),
                mib(t.peak_rss.1),
                t.utilization
                    .map_or(String::new(), |u| format!(" {:.0}% |", u * 100.0)),
            );
        }
        for note in &self.notes {
            let _ = writeln!(s, "\n{note}");
        }
        s
    }
}

/// Resident memory of a series at a few points of its run, in MiB, for "does RSS stay flat".
pub fn rss_profile(series: &[(f64, u64)]) -> String {
    let Some(&(end, _)) = series.last() else {
        return "no samples".into();
    };
    let at = |frac: f64| {
        series
            .iter()
            .find(|(t, _)| *t >= end * frac)
            .map_or(0.0, |(_, b)| mib(*b))
    };
    let max = series.iter().map(|(_, b)| *b).max().unwrap_or(0);
    format!(
        "RSS MiB at 10/25/50/75/100% of the run: {:.1} / {:.1} / {:.1} / {:.1} / {:.1} (max {:.1})",
        at(0.1),
        at(0.25),
        at(0.5),
        at(0.75),
        at(1.0),
        mib(max)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tool: &'static str, bytes: u64, secs: f64, rss: u64) -> ToolRun {
        ToolRun {
            tool,
            bytes,
            wall: Duration::from_secs_f64(secs),
            first_byte: Some(Duration::from_secs_f64(secs / 4.0)),
            engine_connect_ms: None,
            sender: Usage {
                cpu_s: 1.0,
                peak_rss: rss,
                rss_series: vec![],
            },
            receiver: Usage::default(),
        }
    }

    #[test]
    fn ratios_are_per_run_and_medians_odd_and_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        // Run 1: tcp 100 MB/s, peerdrop 50 MB/s; run 2: tcp 50, peerdrop 40; run 3: tcp 80,
        // peerdrop 60. Per-run ratios 0.5, 0.8, 0.75 → median 0.75 (not 50/80).
        let case = CaseReport {
            name: "t".into(),
            link_mbit: Some(400),
            runs: vec![
                vec![
                    run("tcp", 100_000_000, 1.0, 1),
                    run("peerdrop", 100_000_000, 2.0, 7),
                ],
                vec![
                    run("tcp", 100_000_000, 2.0, 1),
                    run("peerdrop", 100_000_000, 2.5, 9),
                ],
                vec![
                    run("tcp", 80_000_000, 1.0, 1),
                    run("peerdrop", 60_000_000, 1.0, 8),
                ],
            ],
            ..CaseReport::default()
        };
        let s = case.summaries();
        assert_eq!(s[0].tool, "tcp");
        let pd = &s[1];
        assert!((pd.ratio.unwrap() - 0.75).abs() < 1e-9);
        assert!((pd.mb_s - 50.0).abs() < 1e-9);
        assert_eq!(pd.peak_rss.0, 9);
        // Data phase excludes the first quarter: 50 MB/s end to end → 66.7 MB/s of data,
        // 533 Mbit/s of a 400 Mbit/s link would be > 100%, so check the arithmetic only.
        assert!((pd.data_mb_s - 66.666).abs() < 0.01);
        assert!((pd.utilization.unwrap() - 66.666 * 8.0 / 400.0).abs() < 0.01);
        assert!(case.table().contains("| peerdrop | 50.0 | 75% |"));
    }

    #[test]
    fn rss_profile_reads_points() {
        let series: Vec<(f64, u64)> = (0..=10).map(|i| (i as f64, (i as u64 + 1) << 20)).collect();
        let p = rss_profile(&series);
        assert!(p.contains("2.0 / 3.5") || p.contains("2.0 / 4.0"), "{p}");
        assert!(p.contains("(max 11.0)"), "{p}");
    }
}
