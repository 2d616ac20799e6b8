//! Human-readable sizes, speeds and durations for the progress displays.
//!
//! Sizes use decimal units (1 MB = 1,000,000 bytes), as file managers on most platforms do, so
//! the numbers match what the user sees elsewhere.

/// Formats a byte count: `0 B`, `999 B`, `1.2 kB`, `34.5 MB`, `1.02 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.digits$} {}", UNITS[unit])
}

/// Formats a throughput: `512 B/s`, `12.4 MB/s`; `—` when unknown.
pub fn speed(bytes_per_sec: f64) -> String {
    if !bytes_per_sec.is_finite() || bytes_per_sec <= 0.0 {
        return "—".to_string();
    }
    format!("{}/s", bytes(bytes_per_sec.round() as u64))
}

/// Formats a remaining time: `4 s`, `2 min 05 s`, `1 h 04 min`; `—` when unknown.
pub fn eta(secs: Option<f64>) -> String {
    let Some(secs) = secs.filter(|s| s.is_finite() && *s >= 0.0) else {
        return "—".to_string();
    };
    let s = secs.ceil() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// Formats an elapsed time in seconds: `under 0.1 s`, `0.4 s`, `12 s`, `3 min 10 s`.
pub fn duration(secs: f64) -> String {
    if secs < 0.05 {
        "under 0.1 s".to_string()
    } else if secs < 10.0 {
        format!("{secs:.1} s")
    } else {
        eta(Some(secs))
    }
}

/// Percentage of `done` over `total` (0–100), 100 for an empty transfer.
pub fn percent(done: u64, total: u64) -> f64 {
    if total == 0 {
        100.0
    } else {
        (done as f64 * 100.0 / total as f64).clamp(0.0, 100.0)
    }
}

/// "1 file", "3 files".
pub fn files(n: u64) -> String {
    if n == 1 {
        "1 file".to_string()
    } else {
        format!("{n} files")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1000), "1.00 kB");
        assert_eq!(bytes(1_234_567), "1.23 MB");
        assert_eq!(bytes(34_500_000), "34.5 MB");
        assert_eq!(bytes(999_999), "1.00 MB");
        assert_eq!(bytes(512_000_000), "512 MB");
        assert_eq!(bytes(2_000_000_000_000), "2.00 TB");
    }

    #[test]
    fn speeds_and_times() {
        assert_eq!(speed(0.0), "—");
        assert_eq!(speed(f64::NAN), "—");
        assert_eq!(speed(12_400_000.0), "12.4 MB/s");
        assert_eq!(eta(None), "—");
        assert_eq!(eta(Some(3.2)), "4 s");
        assert_eq!(eta(Some(125.0)), "2 min 05 s");
        assert_eq!(eta(Some(3840.0)), "1 h 04 min");
        assert_eq!(duration(0.42), "0.4 s");
        assert_eq!(duration(0.003), "under 0.1 s");
    }

    #[test]
    fn percentages() {
        assert_eq!(percent(0, 0), 100.0);
        assert_eq!(percent(50, 200), 25.0);
        assert_eq!(percent(300, 200), 100.0);
        assert_eq!(files(1), "1 file");
        assert_eq!(files(2), "2 files");
    }
}
