//! Tuning the C allocator for bulk transfers, once, at process start.
//!
//! A transfer allocates and frees a steady stream of 64 KiB messages (in `webrtc`'s SCTP
//! reassembly and send paths) and 1 MiB read blocks. With glibc's defaults the heap's free top
//! is handed back to the kernel whenever it passes the trim threshold (≈ 2× a dynamically
//! raised mmap threshold, a few MiB), and grown again moments later: every regrowth faults in
//! fresh pages the kernel must zero. Profiles of a 1 GiB loopback transfer showed `clear_page`
//! at ≈ 5% of each peer's CPU. Keeping up to [`TRIM_THRESHOLD`] bytes of free heap instead cut
//! CPU per GiB by ≈ 15–20% on both sides, for a few MiB more peak RSS (docs/BENCHMARKS.md).
//!
//! Only glibc has these knobs; elsewhere [`tune_for_transfers`] does nothing.

/// Free heap kept, bytes, before glibc returns memory to the kernel: enough for the store
/// window's 16 MiB in flight plus the receive queues, below the 64 MiB memory budget.
pub const TRIM_THRESHOLD: usize = 32 * 1024 * 1024;

/// Allocations at or above this size get their own `mmap`. Setting the trim threshold turns
/// glibc's dynamic mmap threshold off, so it is set explicitly, above the 1 MiB read blocks
/// (which would otherwise be mapped and unmapped, and zeroed, one by one).
pub const MMAP_THRESHOLD: usize = 4 * 1024 * 1024;

/// Applies [`TRIM_THRESHOLD`] and [`MMAP_THRESHOLD`]; call first thing in `main`, before
/// threads start. Best effort: a refusal only costs speed, and is logged at debug level.
pub fn tune_for_transfers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        for (param, value, name) in [
            (libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD, "M_TRIM_THRESHOLD"),
            (libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD, "M_MMAP_THRESHOLD"),
        ] {
            let value = libc::c_int::try_from(value).unwrap_or(libc::c_int::MAX);
            // SAFETY: mallopt only sets allocator parameters; both values are in range.
            if unsafe { libc::mallopt(param, value) } != 1 {
                tracing::debug!("mallopt({name}) refused");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_fit_the_budget_and_the_blocks() {
        const { assert!(MMAP_THRESHOLD > crate::store::outgoing::BLOCK_SIZE) };
        const { assert!(TRIM_THRESHOLD < 64 * 1024 * 1024) };
        // Applying twice is harmless, and allocation works afterwards.
        tune_for_transfers();
        tune_for_transfers();
        let block = vec![7u8; crate::store::outgoing::BLOCK_SIZE];
        assert_eq!(block.iter().map(|&b| b as usize).sum::<usize>(), 7 << 20);
    }
}
