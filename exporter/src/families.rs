//! Every metric family the exporter can emit: name, HELP text, type and label names.
//!
//! The `ultra_config_*` families come from the configuration table (`ultra_alloc::VARIABLES`,
//! one gauge per variable that has a metric). This table is the single source of the HELP texts (the recorder is described from it) and the
//! list a host registers when it merges ultra's families into its own registry (prom-client).

use std::fmt;
use std::sync::OnceLock;

/// The Prometheus type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A value that only grows (name ends in `_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative `_bucket{le}` series with `_sum` and `_count`.
    Histogram,
}

impl Kind {
    /// The word used on the `# TYPE` line (`counter`, `gauge`, `histogram`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metric family: what [`crate::Exporter::render`] writes on its `# HELP` and `# TYPE`
/// lines, plus the label names its samples carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FamilyInfo {
    /// Full family name, e.g. `ultra_allocator_live_bytes`.
    pub name: &'static str,
    /// The HELP text, exactly as rendered.
    pub help: &'static str,
    /// The family's type.
    pub kind: Kind,
    /// Label names of its samples (besides `le` of a histogram's buckets).
    pub labels: &'static [&'static str],
    /// When the family is left out of the output (`None`: always present).
    pub absent_when: Option<&'static str>,
}

/// Every family [`crate::Exporter::render`] can emit, in output order of the table in the crate
/// docs. Some are absent in some builds or states (see [`FamilyInfo::absent_when`]); none is
/// ever emitted with a name that is not listed here.
pub fn families() -> &'static [FamilyInfo] {
    static ALL: OnceLock<Vec<FamilyInfo>> = OnceLock::new();
    ALL.get_or_init(|| {
        let config = ultra_alloc::VARIABLES.iter().filter_map(|v| {
            v.metric.map(|m| FamilyInfo {
                name: m.name,
                help: m.help,
                kind: Kind::Gauge,
                labels: NONE,
                absent_when: if v.optional { UNSET } else { None },
            })
        });
        FAMILIES_BEFORE_CONFIG
            .iter()
            .copied()
            .chain(config)
            .chain(FAMILIES_AFTER_CONFIG.iter().copied())
            .collect()
    })
}

/// Looks a family up by name.
pub fn family(name: &str) -> Option<&'static FamilyInfo> {
    families().iter().find(|f| f.name == name)
}

/// Family names, used by the renderer (one constant per family so a typo cannot compile).
pub(crate) mod name {
    pub const BUILD_INFO: &str = "ultra_build_info";
    pub const ALLOC_LIVE: &str = "ultra_allocator_live_bytes";
    pub const ALLOC_PEAK: &str = "ultra_allocator_peak_bytes";
    pub const ALLOC_ALLOCATED: &str = "ultra_allocator_allocated_bytes_total";
    pub const ALLOC_FREED: &str = "ultra_allocator_freed_bytes_total";
    pub const ALLOC_ALLOCATIONS: &str = "ultra_allocator_allocations_total";
    pub const ALLOC_DEALLOCATIONS: &str = "ultra_allocator_deallocations_total";
    pub const ALLOC_REALLOCATIONS: &str = "ultra_allocator_reallocations_total";
    pub const ALLOC_FAILED: &str = "ultra_allocator_failed_allocations_total";
    pub const ALLOC_THREAD_SLOTS: &str = "ultra_allocator_thread_slots";
    pub const ALLOCATION_SIZE: &str = "ultra_allocation_size_bytes";
    pub const SUB_LIVE: &str = "ultra_subsystem_live_bytes";
    pub const SUB_PEAK: &str = "ultra_subsystem_peak_bytes";
    pub const SUB_ALLOCATED: &str = "ultra_subsystem_allocated_bytes_total";
    pub const SUB_FREED: &str = "ultra_subsystem_freed_bytes_total";
    pub const JE_ALLOCATED: &str = "ultra_jemalloc_allocated_bytes";
    pub const JE_ACTIVE: &str = "ultra_jemalloc_active_bytes";
    pub const JE_RESIDENT: &str = "ultra_jemalloc_resident_bytes";
    pub const JE_MAPPED: &str = "ultra_jemalloc_mapped_bytes";
    pub const JE_RETAINED: &str = "ultra_jemalloc_retained_bytes";
    pub const JE_METADATA: &str = "ultra_jemalloc_metadata_bytes";
    pub const ARENAS: &str = "ultra_arenas";
    pub const ARENA_RESERVED: &str = "ultra_arena_reserved_bytes";
    pub const ARENA_USED: &str = "ultra_arena_used_bytes";
    pub const ARENA_CHUNKS: &str = "ultra_arena_chunks";
    pub const POOLS: &str = "ultra_pools";
    pub const POOL_BUFFERS: &str = "ultra_pool_buffers";
    pub const POOL_HITS: &str = "ultra_pool_hits_total";
    pub const POOL_MISSES: &str = "ultra_pool_misses_total";
    pub const POOL_HELD: &str = "ultra_pool_held_bytes";
    pub const CACHES: &str = "ultra_caches";
    pub const CACHE_HITS: &str = "ultra_cache_hits_total";
    pub const CACHE_MISSES: &str = "ultra_cache_misses_total";
    pub const CACHE_INSERTS: &str = "ultra_cache_inserts_total";
    pub const CACHE_UPDATES: &str = "ultra_cache_updates_total";
    pub const CACHE_EVICTIONS: &str = "ultra_cache_evictions_total";
    pub const CACHE_ENTRIES: &str = "ultra_cache_entries";
    pub const CACHE_BYTES: &str = "ultra_cache_bytes";
    pub const PROCESS_RSS_PEAK: &str = "ultra_process_resident_memory_peak_bytes";
    pub const RESIDENT: &str = "ultra_resident_bytes";
    pub const EXPORTER_SCRAPES: &str = "ultra_exporter_scrapes_total";
    pub const EXPORTER_RENDER_SECONDS: &str = "ultra_exporter_render_duration_seconds";
    pub const EXPORTER_CONNECTIONS_OPEN: &str = "ultra_exporter_connections_open";
    pub const EXPORTER_CONNECTIONS_ACCEPTED: &str = "ultra_exporter_connections_accepted_total";
    pub const EXPORTER_CONNECTIONS_REJECTED: &str = "ultra_exporter_connections_rejected_total";
    pub const EXPORTER_CONNECTIONS_DROPPED: &str = "ultra_exporter_connections_dropped_total";
    pub const EXPORTER_REQUESTS: &str = "ultra_exporter_requests_total";
    pub const EXPORTER_ACCEPT_ERRORS: &str = "ultra_exporter_accept_errors_total";
}

/// Prefix given to metrics-process, so that its families are `ultra_process_*`.
pub(crate) const PROCESS_PREFIX: &str = "ultra_";

const NONE: &[&str] = &[];
const SUBSYSTEM: &[&str] = &["subsystem"];

const JEMALLOC_ABSENT: Option<&str> = Some("jemalloc figures are not available");
const ATTRIBUTION_ABSENT: Option<&str> = Some("ultra-alloc is built without `attribution`");
const UNSET: Option<&str> = Some("the variable is unset");
const NO_PROC: Option<&str> = Some("the OS gives no such figure (no /proc)");
const NOT_SERVING: Option<&str> = Some("this exporter has not started a listener");

macro_rules! fam {
    ($name:expr, $kind:ident, $labels:expr, $absent:expr, $help:expr) => {
        FamilyInfo {
            name: $name,
            help: $help,
            kind: Kind::$kind,
            labels: $labels,
            absent_when: $absent,
        }
    };
    ($name:expr, $kind:ident, $help:expr) => {
        fam!($name, $kind, NONE, None, $help)
    };
}

use name::*;

/// The families before the `ultra_config_*` ones, which come from `ultra_alloc::VARIABLES`.
static FAMILIES_BEFORE_CONFIG: &[FamilyInfo] = &[
    fam!(
        BUILD_INFO,
        Gauge,
        &["version", "jemalloc", "attribution"],
        None,
        "Always 1; labels give the ultra version and whether jemalloc introspection and per-subsystem attribution are compiled in."
    ),
    // Allocator.
    fam!(
        ALLOC_LIVE,
        Gauge,
        "Bytes currently allocated through the tracking allocator (requested sizes)."
    ),
    fam!(
        ALLOC_PEAK,
        Gauge,
        "High-water mark of ultra_allocator_live_bytes since start (or since the last peak reset)."
    ),
    fam!(
        ALLOC_ALLOCATED,
        Counter,
        "Bytes allocated through the tracking allocator, including reallocation growth."
    ),
    fam!(
        ALLOC_FREED,
        Counter,
        "Bytes freed through the tracking allocator, including reallocation shrinkage."
    ),
    fam!(
        ALLOC_ALLOCATIONS,
        Counter,
        "Successful allocations (alloc and alloc_zeroed calls)."
    ),
    fam!(ALLOC_DEALLOCATIONS, Counter, "Deallocations (dealloc calls)."),
    fam!(ALLOC_REALLOCATIONS, Counter, "Successful reallocations."),
    fam!(
        ALLOC_FAILED,
        Counter,
        "Allocations and reallocations the underlying allocator refused."
    ),
    fam!(
        ALLOC_THREAD_SLOTS,
        Gauge,
        "Threads that have claimed a per-thread counter slot so far (high-water mark)."
    ),
    fam!(
        ALLOCATION_SIZE,
        Histogram,
        "Requested sizes of allocations through the tracking allocator, in power-of-two buckets (reallocations not counted)."
    ),
    // Per subsystem.
    fam!(
        SUB_LIVE,
        Gauge,
        SUBSYSTEM,
        ATTRIBUTION_ABSENT,
        "Bytes currently allocated and credited to a subsystem; sums to ultra_allocator_live_bytes."
    ),
    fam!(
        SUB_PEAK,
        Gauge,
        SUBSYSTEM,
        ATTRIBUTION_ABSENT,
        "High-water mark of a subsystem's live bytes."
    ),
    fam!(
        SUB_ALLOCATED,
        Counter,
        SUBSYSTEM,
        ATTRIBUTION_ABSENT,
        "Bytes allocated and credited to a subsystem, including reallocation growth."
    ),
    fam!(
        SUB_FREED,
        Counter,
        SUBSYSTEM,
        ATTRIBUTION_ABSENT,
        "Bytes freed and debited from a subsystem, including reallocation shrinkage."
    ),
    // jemalloc.
    fam!(
        JE_ALLOCATED,
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes allocated by the application as jemalloc counts them (stats.allocated), size-class rounding included."
    ),
    fam!(
        JE_ACTIVE,
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes in jemalloc's active pages (stats.active); active minus allocated is fragmentation."
    ),
    fam!(
        JE_RESIDENT,
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes in physically resident pages mapped by jemalloc (stats.resident), dirty pages included."
    ),
    fam!(
        JE_MAPPED,
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes in active extents mapped by jemalloc (stats.mapped)."
    ),
    fam!(
        JE_RETAINED,
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes of virtual memory jemalloc retains for reuse, not resident (stats.retained)."
    ),
    fam!(
        JE_METADATA,
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes of jemalloc metadata (stats.metadata)."
    ),
    // Arenas.
    fam!(ARENAS, Gauge, "Live bump arenas."),
    fam!(
        ARENA_RESERVED,
        Gauge,
        "Bytes reserved in arena chunks, all arenas together."
    ),
    fam!(
        ARENA_USED,
        Gauge,
        "Bytes handed out by arenas since their last reset, all arenas together."
    ),
    fam!(ARENA_CHUNKS, Gauge, "Chunks held by arenas, all arenas together."),
    // Pools.
    fam!(POOLS, Gauge, "Live buffer pools."),
    fam!(
        POOL_BUFFERS,
        Gauge,
        &["state"],
        None,
        "Pooled buffers by state: idle (held for reuse) or in_use (handed out)."
    ),
    fam!(
        POOL_HITS,
        Counter,
        "Buffer acquisitions served from an idle pooled buffer."
    ),
    fam!(
        POOL_MISSES,
        Counter,
        "Buffer acquisitions that had to allocate a new buffer."
    ),
    fam!(
        POOL_HELD,
        Gauge,
        "Capacity bytes of the idle buffers pools hold for reuse."
    ),
    // Caches.
    fam!(CACHES, Gauge, "Live caches."),
    fam!(
        CACHE_HITS,
        Counter,
        "Cache lookups (get, peek, has) that found a live entry, all caches together."
    ),
    fam!(
        CACHE_MISSES,
        Counter,
        "Cache lookups that found nothing or an expired entry, all caches together."
    ),
    fam!(
        CACHE_INSERTS,
        Counter,
        "Cache sets that added a key, all caches together."
    ),
    fam!(
        CACHE_UPDATES,
        Counter,
        "Cache sets that replaced the value of a live key, all caches together."
    ),
    fam!(
        CACHE_EVICTIONS,
        Counter,
        &["reason"],
        None,
        "Cache entries evicted, by reason: capacity (entry bound), size (byte bound) or expired (TTL)."
    ),
    fam!(
        CACHE_ENTRIES,
        Gauge,
        "Entries held by caches, expired ones not yet removed included."
    ),
    fam!(
        CACHE_BYTES,
        Gauge,
        "Weight of the entries held by caches: key and value bytes plus a fixed per-entry overhead."
    ),
];

/// The families after the `ultra_config_*` ones.
static FAMILIES_AFTER_CONFIG: &[FamilyInfo] = &[
    // Process (metrics-process, prefixed, plus the peak RSS from the snapshot).
    fam!(
        "ultra_process_cpu_seconds_total",
        Counter,
        NONE,
        NO_PROC,
        "Total user and system CPU time spent in seconds."
    ),
    fam!(
        "ultra_process_open_fds",
        Gauge,
        NONE,
        NO_PROC,
        "Number of open file descriptors."
    ),
    fam!(
        "ultra_process_max_fds",
        Gauge,
        NONE,
        NO_PROC,
        "Maximum number of open file descriptors."
    ),
    fam!(
        "ultra_process_virtual_memory_bytes",
        Gauge,
        NONE,
        NO_PROC,
        "Virtual memory size in bytes."
    ),
    fam!(
        "ultra_process_virtual_memory_max_bytes",
        Gauge,
        NONE,
        NO_PROC,
        "Maximum amount of virtual memory available in bytes."
    ),
    fam!(
        "ultra_process_resident_memory_bytes",
        Gauge,
        NONE,
        NO_PROC,
        "Resident memory size in bytes."
    ),
    fam!(
        "ultra_process_start_time_seconds",
        Gauge,
        NONE,
        NO_PROC,
        "Start time of the process since unix epoch in seconds."
    ),
    fam!(
        "ultra_process_threads",
        Gauge,
        NONE,
        NO_PROC,
        "Number of OS threads in the process."
    ),
    fam!(
        PROCESS_RSS_PEAK,
        Gauge,
        NONE,
        NO_PROC,
        "Peak resident set size of the process (VmHWM) in bytes."
    ),
    // Who holds the RSS.
    fam!(
        RESIDENT,
        Gauge,
        &["owner"],
        NO_PROC,
        "Resident bytes of the process by owner (code, addon_code, ultra, allocator_overhead, v8_heap, malloc, malloc_free, stacks; owners unknown here are absent) plus unattributed, the rest, negative when the owners over-state; the series of one scrape sum to the RSS of that reading."
    ),
    // The exporter itself.
    fam!(
        EXPORTER_SCRAPES,
        Counter,
        "Renders of the metrics text by this exporter, this one included."
    ),
    fam!(
        EXPORTER_RENDER_SECONDS,
        Histogram,
        "Time taken by this exporter's earlier renders of the metrics text (snapshot included), in seconds."
    ),
    fam!(
        EXPORTER_CONNECTIONS_OPEN,
        Gauge,
        NONE,
        NOT_SERVING,
        "Connections open on the exporter's /metrics listener."
    ),
    fam!(
        EXPORTER_CONNECTIONS_ACCEPTED,
        Counter,
        NONE,
        NOT_SERVING,
        "Connections the /metrics listener accepted and served."
    ),
    fam!(
        EXPORTER_CONNECTIONS_REJECTED,
        Counter,
        NONE,
        NOT_SERVING,
        "Connections closed at once because ULTRA_EXPORTER_MAX_CONNECTIONS were open, each with a request being answered."
    ),
    fam!(
        EXPORTER_CONNECTIONS_DROPPED,
        Counter,
        &["reason"],
        NOT_SERVING,
        "Connections the /metrics listener closed on its own, by reason: evicted (to make room under the connection cap), header_timeout, idle_timeout, write_timeout, shutdown."
    ),
    fam!(
        EXPORTER_REQUESTS,
        Counter,
        &["code"],
        NOT_SERVING,
        "Requests answered by the /metrics listener, by HTTP status code."
    ),
    fam!(
        EXPORTER_ACCEPT_ERRORS,
        Counter,
        NONE,
        NOT_SERVING,
        "Errors of accept() on the /metrics listener (such as EMFILE when out of file descriptors); it backs off and retries."
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_prefixed_and_typed_by_suffix() {
        let mut seen = HashSet::new();
        for f in families() {
            assert!(seen.insert(f.name), "duplicate {}", f.name);
            assert!(f.name.starts_with("ultra_"), "{}", f.name);
            assert!(!f.name.starts_with("ultra_nodejs_"), "{}", f.name);
            assert_eq!(
                f.name.ends_with("_total"),
                f.kind == Kind::Counter,
                "`_total` on counters only: {}",
                f.name
            );
            for bad in ["_bucket", "_sum", "_count"] {
                assert!(!f.name.ends_with(bad), "{}", f.name);
            }
            assert!(!f.help.is_empty() && !f.help.contains('\n'));
            assert_eq!(family(f.name), Some(f));
        }
        assert!(family("process_resident_memory_bytes").is_none());
    }
}
