//! One reading of every memory figure ultra can give, taken at one instant.
//!
//! The split of the whole process's RSS into owners, computed from a snapshot and a few more
//! readings, is [`crate::Explanation`] (module `explain`, beside this one).

use ultra_alloc::{AllocStats, ArenaStats, JemallocError, JemallocStats, PoolStats};

use crate::cache::CacheStats;

/// Memory of the whole process as the OS sees it (Linux `/proc/self/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcessMemory {
    /// Resident set size (`VmRSS`), bytes.
    pub rss_bytes: u64,
    /// Peak resident set size (`VmHWM`), bytes.
    pub rss_peak_bytes: u64,
    /// Virtual memory size (`VmSize`), bytes.
    pub virtual_bytes: u64,
}

/// Reads `/proc/self/status` (through `ultra_alloc::resident::status`, into a stack buffer);
/// `None` where it cannot be read (not Linux). Never allocates.
pub fn process_memory() -> Option<ProcessMemory> {
    ultra_alloc::resident::status().map(|s| ProcessMemory {
        rss_bytes: s.rss_bytes,
        rss_peak_bytes: s.rss_peak_bytes,
        virtual_bytes: s.virtual_bytes,
    })
}

/// Every figure the allocator, jemalloc, arenas, pools and caches can give, plus the process's
/// RSS, read at one instant.
///
/// [`Snapshot::take`] never allocates, so reading it does not disturb what it reports: the
/// allocator's counters are the same before and after a read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Milliseconds since the Unix epoch when the snapshot was taken.
    pub unix_ms: u64,
    /// The tracking allocator's counters (zero if it is not the global allocator).
    pub alloc: AllocStats,
    /// jemalloc's own view, or why it is not available.
    pub jemalloc: Result<JemallocStats, JemallocUnavailable>,
    /// All live arenas together.
    pub arenas: ArenaStats,
    /// All live buffer pools together.
    pub pools: PoolStats,
    /// All live caches together.
    pub caches: CacheStats,
    /// The process as the OS sees it; `None` where `/proc` is not available.
    pub process: Option<ProcessMemory>,
}

/// Why jemalloc figures are missing from a [`Snapshot`] (a `Copy` summary of
/// [`JemallocError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JemallocUnavailable {
    /// Built without the `jemalloc` feature.
    NotCompiledIn,
    /// jemalloc answered an error to a stats read.
    ReadFailed,
}

impl Snapshot {
    /// Reads everything now. Never allocates.
    pub fn take() -> Snapshot {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let jemalloc = ultra_alloc::jemalloc::stats().map_err(|e| match e {
            JemallocError::NotAvailable => JemallocUnavailable::NotCompiledIn,
            JemallocError::Ctl { .. } => JemallocUnavailable::ReadFailed,
        });
        Snapshot {
            unix_ms,
            alloc: ultra_alloc::stats(),
            jemalloc,
            arenas: ultra_alloc::arenas_total(),
            pools: ultra_alloc::pools_total(),
            caches: crate::cache::caches_total(),
            process: process_memory(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_memory_reads_proc() {
        let p = process_memory().expect("/proc/self/status on Linux");
        assert!(p.rss_bytes > 0);
        assert!(p.rss_peak_bytes >= p.rss_bytes);
        assert!(p.virtual_bytes >= p.rss_bytes);
    }
}
