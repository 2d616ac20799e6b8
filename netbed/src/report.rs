//! The results table the test bed prints.

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// Case name.
    pub case: String,
    /// Path both peers reported (`direct`, `relayed`, `fallback`).
    pub path: String,
    /// Selected ICE candidate pair as `local/remote` types, when there is one.
    pub pair: Option<String>,
    /// File size in MiB.
    pub mib: usize,
    /// Goodput in MB/s (10^6 bytes), as the sender measured it from accept to last hash ok.
    pub mb_per_s: f64,
    /// Whether the received file's BLAKE3 equals the sent one's.
    pub hash_ok: bool,
    /// Goodput divided by the shaped link rate, for shaped cases.
    pub utilization: Option<f64>,
    /// Bytes the signaling server carried (recorded cases).
    pub server_saw: Option<usize>,
    /// Wall-clock seconds of the whole case (bed up, transfer, bed down).
    pub wall_secs: f64,
}

/// A result: a row, or a failure with its reason.
pub type CaseResult = (String, Result<Row, String>);

/// Formats the table (one header, one line per case).
pub fn table(results: &[CaseResult]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<16} {:<9} {:<12} {:>5} {:>8} {:<7} {:<32}\n",
        "case", "path", "pair", "MiB", "MB/s", "hash", "notes"
    ));
    out.push_str(&format!("{}\n", "-".repeat(94)));
    for (name, result) in results {
        match result {
            Ok(row) => {
                let mut notes = Vec::new();
                if let Some(u) = row.utilization {
                    notes.push(format!("link utilization {:.0}%", u * 100.0));
                }
                if let Some(bytes) = row.server_saw {
                    notes.push(format!(
                        "server carried {:.1} MB, no plaintext",
                        bytes as f64 / 1e6
                    ));
                }
                notes.push(format!("{:.0}s", row.wall_secs));
                out.push_str(&format!(
                    "{:<16} {:<9} {:<12} {:>5} {:>8.1} {:<7} {:<32}\n",
                    row.case,
                    row.path,
                    row.pair.as_deref().unwrap_or("-"),
                    row.mib,
                    row.mb_per_s,
                    if row.hash_ok { "ok" } else { "BAD" },
                    notes.join(", ")
                ));
            }
            Err(e) => {
                let first = e.lines().next().unwrap_or("");
                out.push_str(&format!(
                    "{:<16} {:<9} {:<12} {:>5} {:>8} {:<7} FAILED: {}\n",
                    name, "-", "-", "-", "-", "-", first
                ));
            }
        }
    }
    out
}
