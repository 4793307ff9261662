//! The one table of metric families: for each its name, HELP text, type, label names, when it
//! is absent, and how its samples are read from one scrape's [`Sources`] (a [`Snapshot`], the
//! RSS [`Explanation`], the configuration, the listener's counters, the process figures).
//!
//! [`crate::Exporter::render`] writes the text straight from this table, in its order;
//! [`crate::Exporter::samples`] gives the same samples as values. The `ultra_config_*` families
//! come from the configuration table (`ultra_alloc::VARIABLES`, one gauge per variable that has
//! a metric). Adding a family is one entry in [`FAMILIES_BEFORE_CONFIG`] or
//! [`FAMILIES_AFTER_CONFIG`] (its reader included) plus its test.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;

use ultra_alloc::{histogram_bucket_le, Config, Subsystem, Variable, HISTOGRAM_BUCKETS};
use ultra_core::cache::EvictionReason;
use ultra_core::CacheStats;
use ultra_core::{Explanation, Snapshot, UNATTRIBUTED_LABEL};

use crate::http::stats::{DropReason, DurationHistogram, ListenerStats, CODES, RENDER_BUCKETS};

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
/// lines, the label names its samples carry, and how they are read.
#[derive(Debug, Clone, Copy)]
pub struct FamilyInfo {
    /// Full family name, e.g. `ultra_allocator_live_bytes`.
    pub name: &'static str,
    /// The HELP text, as given (escaped when rendered).
    pub help: &'static str,
    /// The family's type.
    pub kind: Kind,
    /// Label names of its samples (besides `le` of a histogram's buckets).
    pub labels: &'static [&'static str],
    /// When the family is left out of the output (`None`: always present).
    pub absent_when: Option<&'static str>,
    /// How its samples are read.
    pub(crate) read: Read,
}

impl FamilyInfo {
    /// The base unit the name ends in (`bytes`, `seconds`), if any: OpenMetrics' `# UNIT`.
    pub fn unit(&self) -> Option<&'static str> {
        let base = self.name.strip_suffix("_total").unwrap_or(self.name);
        ["bytes", "seconds"]
            .into_iter()
            .find(|u| base.strip_suffix(u).is_some_and(|b| b.ends_with('_')))
    }
}

// Families are told apart by name (names are unique; the reader is not compared).
impl PartialEq for FamilyInfo {
    fn eq(&self, other: &FamilyInfo) -> bool {
        self.name == other.name
    }
}

impl Eq for FamilyInfo {}

impl std::hash::Hash for FamilyInfo {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// How a family's samples are read from a scrape's [`Sources`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Read {
    /// A reader of its own.
    With(fn(&Sources<'_>, &mut dyn Sink)),
    /// The `ultra_config_*` gauge of a configuration variable (absent while it is unset).
    Config(&'static Variable),
}

/// Everything one scrape reads its samples from.
pub(crate) struct Sources<'a> {
    pub(crate) snap: &'a Snapshot,
    pub(crate) explanation: Option<&'a Explanation>,
    pub(crate) config: &'a Config,
    pub(crate) listener: &'a ListenerStats,
    pub(crate) process: &'a metrics_process::collector::Metrics,
    /// Renders by this exporter, this one included.
    pub(crate) scrapes: u64,
    pub(crate) render_seconds: &'a DurationHistogram,
    /// The labelled named caches' figures, read before the snapshot's totals (see
    /// `ultra_core::SharedCache::named_stats`).
    pub(crate) named_caches: &'a [(Box<str>, CacheStats)],
}

/// A sample value: integers stay exact, whatever their size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value {
    U(u64),
    I(i64),
    F(f64),
}

impl Value {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Value::U(v) => v as f64,
            Value::I(v) => v as f64,
            Value::F(v) => v,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::U(v) => write!(f, "{v}"),
            Value::I(v) => write!(f, "{v}"),
            Value::F(v) if v == f64::INFINITY => f.write_str("+Inf"),
            Value::F(v) if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            Value::F(v) if v.is_nan() => f.write_str("NaN"),
            Value::F(v) => write!(f, "{v}"),
        }
    }
}

/// Where a family's reader puts its samples (the text writer, or a list of values).
pub(crate) trait Sink {
    /// One sample: `suffix` is `""`, or `_bucket`, `_sum`, `_count` for a histogram's series;
    /// `labels` are in the family's order (`le` last on a bucket).
    fn sample(&mut self, suffix: &'static str, labels: &[(&'static str, &str)], value: Value);
}

impl Read {
    pub(crate) fn read(self, src: &Sources<'_>, out: &mut dyn Sink) {
        match self {
            Read::With(read) => read(src, out),
            Read::Config(var) => {
                if let Some(v) = src.config.metric_value(var) {
                    out.sample("", &[], Value::F(v));
                }
            }
        }
    }
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
                read: Read::Config(v),
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

const NONE: &[&str] = &[];
const SUBSYSTEM: &[&str] = &["subsystem"];
const CACHE: &[&str] = &["cache"];

const JEMALLOC_ABSENT: Option<&str> = Some("jemalloc figures are not available");
const ATTRIBUTION_ABSENT: Option<&str> = Some("ultra-alloc is built without `attribution`");
const UNSET: Option<&str> = Some("the variable is unset");
const NO_PROC: Option<&str> = Some("the OS gives no such figure (no /proc)");
const NOT_SERVING: Option<&str> = Some("this exporter has not started a listener");

/// One table row: `fam!(name, Kind, [labels, absent,] help, |sources, sink| read)`.
macro_rules! fam {
    ($name:expr, $kind:ident, $labels:expr, $absent:expr, $help:expr, $read:expr) => {
        FamilyInfo {
            name: $name,
            help: $help,
            kind: Kind::$kind,
            labels: $labels,
            absent_when: $absent,
            read: Read::With($read),
        }
    };
    ($name:expr, $kind:ident, $help:expr, $read:expr) => {
        fam!($name, $kind, NONE, None, $help, $read)
    };
}

/// One unlabelled sample.
fn one(out: &mut dyn Sink, v: u64) {
    out.sample("", &[], Value::U(v));
}

/// A histogram's series from non-cumulative bucket counts, `(le, count)`, the `+Inf` bucket
/// last with `le = None`.
fn histogram(out: &mut dyn Sink, buckets: impl Iterator<Item = (Option<String>, u64)>, sum: Value) {
    let mut cumulative = 0u64;
    for (le, count) in buckets {
        cumulative = cumulative.wrapping_add(count);
        if let Some(le) = le {
            out.sample("_bucket", &[("le", &le)], Value::U(cumulative));
        }
    }
    out.sample("_bucket", &[("le", "+Inf")], Value::U(cumulative));
    out.sample("_sum", &[], sum);
    out.sample("_count", &[], Value::U(cumulative));
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// One sample per subsystem, when attribution is built in.
fn per_subsystem(
    src: &Sources<'_>,
    out: &mut dyn Sink,
    get: fn(&ultra_alloc::SubsystemStats) -> u64,
) {
    if let Some(subs) = &src.snap.alloc.subsystems {
        for s in Subsystem::ALL {
            let v = get(&subs[s.index()]);
            out.sample("", &[("subsystem", s.name())], Value::U(v));
        }
    }
}

/// One cache figure per `cache` label: `""` for every unnamed cache and every named cache
/// beyond the label bound together (the total minus the labelled caches), then each labelled
/// named cache under its name; with `reason`, a `reason` label after `cache`. The series of
/// one scrape sum to the process total.
fn per_cache(
    src: &Sources<'_>,
    out: &mut dyn Sink,
    reason: Option<&'static str>,
    get: impl Fn(&CacheStats) -> u64,
) {
    let mut emit = |cache: &str, v: u64| match reason {
        None => out.sample("", &[("cache", cache)], Value::U(v)),
        Some(r) => out.sample("", &[("cache", cache), ("reason", r)], Value::U(v)),
    };
    let named: u64 = src.named_caches.iter().map(|(_, s)| get(s)).sum();
    emit("", get(&src.snap.caches).saturating_sub(named));
    for (name, s) in src.named_caches {
        emit(name, get(s));
    }
}

/// One jemalloc figure, when jemalloc's figures could be read.
fn jemalloc(src: &Sources<'_>, out: &mut dyn Sink, get: fn(&ultra_alloc::JemallocStats) -> u64) {
    if let Ok(je) = &src.snap.jemalloc {
        one(out, get(je));
    }
}

/// One listener figure, once a listener was started.
fn listener(src: &Sources<'_>, out: &mut dyn Sink, get: fn(&ListenerStats) -> u64) {
    if src.listener.started.load(Relaxed) {
        one(out, get(src.listener));
    }
}

/// The families before the `ultra_config_*` ones, which come from `ultra_alloc::VARIABLES`.
static FAMILIES_BEFORE_CONFIG: &[FamilyInfo] = &[
    fam!(
        "ultra_build_info",
        Gauge,
        &["version", "jemalloc", "attribution"],
        None,
        "Always 1; labels give the ultra version and whether jemalloc introspection and per-subsystem attribution are compiled in.",
        |s, o| {
            let labels = [
                ("version", env!("CARGO_PKG_VERSION")),
                ("jemalloc", yes_no(ultra_alloc::jemalloc::available())),
                ("attribution", yes_no(s.snap.alloc.subsystems.is_some())),
            ];
            o.sample("", &labels, Value::U(1));
        }
    ),
    // Allocator.
    fam!(
        "ultra_allocator_live_bytes",
        Gauge,
        "Bytes currently allocated through the tracking allocator (requested sizes).",
        |s, o| one(o, s.snap.alloc.live_bytes)
    ),
    fam!(
        "ultra_allocator_peak_bytes",
        Gauge,
        "High-water mark of ultra_allocator_live_bytes since start (or since the last peak reset).",
        |s, o| one(o, s.snap.alloc.peak_bytes)
    ),
    fam!(
        "ultra_allocator_allocated_bytes_total",
        Counter,
        "Bytes allocated through the tracking allocator, including reallocation growth.",
        |s, o| one(o, s.snap.alloc.allocated_bytes)
    ),
    fam!(
        "ultra_allocator_freed_bytes_total",
        Counter,
        "Bytes freed through the tracking allocator, including reallocation shrinkage.",
        |s, o| one(o, s.snap.alloc.freed_bytes)
    ),
    fam!(
        "ultra_allocator_allocations_total",
        Counter,
        "Successful allocations (alloc and alloc_zeroed calls).",
        |s, o| one(o, s.snap.alloc.allocations)
    ),
    fam!(
        "ultra_allocator_deallocations_total",
        Counter,
        "Deallocations (dealloc calls).",
        |s, o| one(o, s.snap.alloc.deallocations)
    ),
    fam!(
        "ultra_allocator_reallocations_total",
        Counter,
        "Successful reallocations.",
        |s, o| one(o, s.snap.alloc.reallocations)
    ),
    fam!(
        "ultra_allocator_failed_allocations_total",
        Counter,
        "Allocations and reallocations the underlying allocator refused.",
        |s, o| one(o, s.snap.alloc.failed_allocations)
    ),
    fam!(
        "ultra_allocator_thread_slots",
        Gauge,
        "Threads that have claimed a per-thread counter slot so far (high-water mark).",
        |s, o| one(o, s.snap.alloc.thread_slots)
    ),
    fam!(
        "ultra_allocation_size_bytes",
        Histogram,
        "Requested sizes of allocations through the tracking allocator, in power-of-two buckets (reallocations not counted).",
        |s, o| {
            let a = &s.snap.alloc;
            let buckets = a
                .histogram
                .iter()
                .take(HISTOGRAM_BUCKETS)
                .enumerate()
                .map(|(i, n)| (histogram_bucket_le(i).map(|le| le.to_string()), *n));
            histogram(o, buckets, Value::U(a.histogram_sum));
        }
    ),
    // Per subsystem.
    fam!(
        "ultra_subsystem_live_bytes",
        Gauge,
        SUBSYSTEM,
        ATTRIBUTION_ABSENT,
        "Bytes currently allocated and credited to a subsystem; sums to ultra_allocator_live_bytes.",
        |s, o| per_subsystem(s, o, |st| st.live_bytes)
    ),
    fam!(
        "ultra_subsystem_peak_bytes",
        Gauge,
        SUBSYSTEM,
        ATTRIBUTION_ABSENT,
        "High-water mark of a subsystem's live bytes.",
        |s, o| per_subsystem(s, o, |st| st.peak_bytes)
    ),
    fam!(
        "ultra_subsystem_allocated_bytes_total",
        Counter,
        SUBSYSTEM,
        ATTRIBUTION_ABSENT,
        "Bytes allocated and credited to a subsystem, including reallocation growth.",
        |s, o| per_subsystem(s, o, |st| st.allocated_bytes)
    ),
    fam!(
        "ultra_subsystem_freed_bytes_total",
        Counter,
        SUBSYSTEM,
        ATTRIBUTION_ABSENT,
        "Bytes freed and debited from a subsystem, including reallocation shrinkage.",
        |s, o| per_subsystem(s, o, |st| st.freed_bytes)
    ),
    // jemalloc.
    fam!(
        "ultra_jemalloc_allocated_bytes",
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes allocated by the application as jemalloc counts them (stats.allocated), size-class rounding included.",
        |s, o| jemalloc(s, o, |je| je.allocated)
    ),
    fam!(
        "ultra_jemalloc_active_bytes",
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes in jemalloc's active pages (stats.active); active minus allocated is fragmentation.",
        |s, o| jemalloc(s, o, |je| je.active)
    ),
    fam!(
        "ultra_jemalloc_resident_bytes",
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes in physically resident pages mapped by jemalloc (stats.resident), dirty pages included.",
        |s, o| jemalloc(s, o, |je| je.resident)
    ),
    fam!(
        "ultra_jemalloc_mapped_bytes",
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes in active extents mapped by jemalloc (stats.mapped).",
        |s, o| jemalloc(s, o, |je| je.mapped)
    ),
    fam!(
        "ultra_jemalloc_retained_bytes",
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes of virtual memory jemalloc retains for reuse, not resident (stats.retained).",
        |s, o| jemalloc(s, o, |je| je.retained)
    ),
    fam!(
        "ultra_jemalloc_metadata_bytes",
        Gauge,
        NONE,
        JEMALLOC_ABSENT,
        "Bytes of jemalloc metadata (stats.metadata).",
        |s, o| jemalloc(s, o, |je| je.metadata)
    ),
    // Arenas.
    fam!("ultra_arenas", Gauge, "Live bump arenas.", |s, o| one(
        o,
        s.snap.arenas.arenas
    )),
    fam!(
        "ultra_arena_reserved_bytes",
        Gauge,
        "Bytes reserved in arena chunks, all arenas together.",
        |s, o| one(o, s.snap.arenas.reserved_bytes)
    ),
    fam!(
        "ultra_arena_used_bytes",
        Gauge,
        "Bytes handed out by arenas since their last reset, all arenas together.",
        |s, o| one(o, s.snap.arenas.used_bytes)
    ),
    fam!(
        "ultra_arena_chunks",
        Gauge,
        "Chunks held by arenas, all arenas together.",
        |s, o| one(o, s.snap.arenas.chunks)
    ),
    // Pools.
    fam!("ultra_pools", Gauge, "Live buffer pools.", |s, o| one(
        o,
        s.snap.pools.pools
    )),
    fam!(
        "ultra_pool_buffers",
        Gauge,
        &["state"],
        None,
        "Pooled buffers by state: idle (held for reuse) or in_use (handed out).",
        |s, o| {
            o.sample("", &[("state", "idle")], Value::U(s.snap.pools.idle));
            o.sample("", &[("state", "in_use")], Value::U(s.snap.pools.in_use));
        }
    ),
    fam!(
        "ultra_pool_hits_total",
        Counter,
        "Buffer acquisitions served from an idle pooled buffer.",
        |s, o| one(o, s.snap.pools.hits)
    ),
    fam!(
        "ultra_pool_misses_total",
        Counter,
        "Buffer acquisitions that had to allocate a new buffer.",
        |s, o| one(o, s.snap.pools.misses)
    ),
    fam!(
        "ultra_pool_held_bytes",
        Gauge,
        "Capacity bytes of the idle buffers pools hold for reuse.",
        |s, o| one(o, s.snap.pools.bytes_held)
    ),
    // Caches.
    fam!("ultra_caches", Gauge, "Live caches.", |s, o| one(
        o,
        s.snap.caches.caches
    )),
    fam!(
        "ultra_cache_hits_total",
        Counter,
        CACHE,
        None,
        "Cache lookups (get, peek, has) that found a live entry, by cache: a named cache's name, or empty for all other caches together.",
        |s, o| per_cache(s, o, None, |c| c.hits)
    ),
    fam!(
        "ultra_cache_misses_total",
        Counter,
        CACHE,
        None,
        "Cache lookups that found nothing or an expired entry, by cache (as ultra_cache_hits_total).",
        |s, o| per_cache(s, o, None, |c| c.misses)
    ),
    fam!(
        "ultra_cache_inserts_total",
        Counter,
        CACHE,
        None,
        "Cache sets that added a key, by cache (as ultra_cache_hits_total).",
        |s, o| per_cache(s, o, None, |c| c.inserts)
    ),
    fam!(
        "ultra_cache_updates_total",
        Counter,
        CACHE,
        None,
        "Cache sets that replaced the value of a live key, by cache (as ultra_cache_hits_total).",
        |s, o| per_cache(s, o, None, |c| c.updates)
    ),
    fam!(
        "ultra_cache_evictions_total",
        Counter,
        &["cache", "reason"],
        None,
        "Cache entries evicted, by cache (as ultra_cache_hits_total) and reason: capacity (entry bound), size (byte bound) or expired (TTL).",
        |s, o| {
            for reason in EvictionReason::ALL {
                per_cache(s, o, Some(reason.name()), |c| c.evictions(reason));
            }
        }
    ),
    fam!(
        "ultra_cache_entries",
        Gauge,
        CACHE,
        None,
        "Entries held by caches, expired ones not yet removed included, by cache (as ultra_cache_hits_total).",
        |s, o| per_cache(s, o, None, |c| c.entries)
    ),
    fam!(
        "ultra_cache_bytes",
        Gauge,
        CACHE,
        None,
        "Weight of the entries held by caches (key and value bytes plus a fixed per-entry overhead), by cache (as ultra_cache_hits_total).",
        |s, o| per_cache(s, o, None, |c| c.bytes)
    ),
];

/// The families after the `ultra_config_*` ones.
static FAMILIES_AFTER_CONFIG: &[FamilyInfo] = &[
    // Process (the standard process collector's figures, from metrics-process, prefixed; plus
    // the peak RSS from the snapshot).
    fam!(
        "ultra_process_cpu_seconds_total",
        Counter,
        NONE,
        NO_PROC,
        "Total user and system CPU time spent in seconds.",
        |s, o| {
            if let Some(v) = s.process.cpu_seconds_total {
                o.sample("", &[], Value::F(v));
            }
        }
    ),
    fam!(
        "ultra_process_open_fds",
        Gauge,
        NONE,
        NO_PROC,
        "Number of open file descriptors.",
        |s, o| s.process.open_fds.into_iter().for_each(|v| one(o, v))
    ),
    fam!(
        "ultra_process_max_fds",
        Gauge,
        NONE,
        NO_PROC,
        "Maximum number of open file descriptors.",
        |s, o| s.process.max_fds.into_iter().for_each(|v| one(o, v))
    ),
    fam!(
        "ultra_process_virtual_memory_bytes",
        Gauge,
        NONE,
        NO_PROC,
        "Virtual memory size in bytes.",
        |s, o| s
            .process
            .virtual_memory_bytes
            .into_iter()
            .for_each(|v| one(o, v))
    ),
    fam!(
        "ultra_process_virtual_memory_max_bytes",
        Gauge,
        NONE,
        NO_PROC,
        "Maximum amount of virtual memory available in bytes.",
        |s, o| s
            .process
            .virtual_memory_max_bytes
            .into_iter()
            .for_each(|v| one(o, v))
    ),
    fam!(
        "ultra_process_resident_memory_bytes",
        Gauge,
        NONE,
        NO_PROC,
        "Resident memory size in bytes.",
        |s, o| s
            .process
            .resident_memory_bytes
            .into_iter()
            .for_each(|v| one(o, v))
    ),
    fam!(
        "ultra_process_start_time_seconds",
        Gauge,
        NONE,
        NO_PROC,
        "Start time of the process since unix epoch in seconds.",
        |s, o| s
            .process
            .start_time_seconds
            .into_iter()
            .for_each(|v| one(o, v))
    ),
    fam!(
        "ultra_process_threads",
        Gauge,
        NONE,
        NO_PROC,
        "Number of OS threads in the process.",
        |s, o| s.process.threads.into_iter().for_each(|v| one(o, v))
    ),
    fam!(
        "ultra_process_resident_memory_peak_bytes",
        Gauge,
        NONE,
        NO_PROC,
        "Peak resident set size of the process (VmHWM) in bytes.",
        |s, o| {
            if let Some(pm) = &s.snap.process {
                one(o, pm.rss_peak_bytes);
            }
        }
    ),
    // Who holds the RSS.
    fam!(
        "ultra_resident_bytes",
        Gauge,
        &["owner"],
        NO_PROC,
        "Resident bytes of the process by owner (code, addon_code, ultra, allocator_overhead, v8_heap, malloc, malloc_free, stacks; owners unknown here are absent) plus unattributed, the rest, negative when the owners over-state; the series of one scrape sum to the RSS of that reading.",
        |s, o| {
            let Some(e) = s.explanation else { return };
            for (owner, bytes) in e.iter() {
                if let Some(b) = bytes {
                    o.sample("", &[("owner", owner.label())], Value::U(b));
                }
            }
            let rest = Value::I(e.unattributed_bytes);
            o.sample("", &[("owner", UNATTRIBUTED_LABEL)], rest);
        }
    ),
    // The exporter itself.
    fam!(
        "ultra_exporter_scrapes_total",
        Counter,
        "Renders of the metrics text by this exporter, this one included.",
        |s, o| one(o, s.scrapes)
    ),
    fam!(
        "ultra_exporter_render_duration_seconds",
        Histogram,
        "Time taken by this exporter's earlier renders of the metrics text (snapshot included), in seconds.",
        |s, o| {
            let h = s.render_seconds;
            let bounds = RENDER_BUCKETS.iter().map(|le| Some(le.to_string()));
            let buckets = bounds
                .chain([None])
                .zip(h.counts.iter().map(|n| n.load(Relaxed)));
            let sum = h.sum_nanos.load(Relaxed) as f64 / 1e9;
            histogram(o, buckets, Value::F(sum));
        }
    ),
    fam!(
        "ultra_exporter_connections_open",
        Gauge,
        NONE,
        NOT_SERVING,
        "Connections open on the exporter's /metrics listener.",
        |s, o| listener(s, o, |l| l.open.load(Relaxed))
    ),
    fam!(
        "ultra_exporter_connections_accepted_total",
        Counter,
        NONE,
        NOT_SERVING,
        "Connections the /metrics listener accepted and served.",
        |s, o| listener(s, o, |l| l.accepted.load(Relaxed))
    ),
    fam!(
        "ultra_exporter_connections_rejected_total",
        Counter,
        NONE,
        NOT_SERVING,
        "Connections closed at once because ULTRA_EXPORTER_MAX_CONNECTIONS were open, each with a request being answered.",
        |s, o| listener(s, o, |l| l.rejected.load(Relaxed))
    ),
    fam!(
        "ultra_exporter_connections_dropped_total",
        Counter,
        &["reason"],
        NOT_SERVING,
        "Connections the /metrics listener closed on its own, by reason: evicted (to make room under the connection cap), header_timeout, idle_timeout, write_timeout, shutdown.",
        |s, o| {
            if s.listener.started.load(Relaxed) {
                for (reason, n) in DropReason::ALL.iter().zip(&s.listener.dropped) {
                    let n = Value::U(n.load(Relaxed));
                    o.sample("", &[("reason", reason.name())], n);
                }
            }
        }
    ),
    fam!(
        "ultra_exporter_requests_total",
        Counter,
        &["code"],
        NOT_SERVING,
        "Requests answered by the /metrics listener, by HTTP status code.",
        |s, o| {
            if s.listener.started.load(Relaxed) {
                for ((_, code), n) in CODES.iter().zip(&s.listener.requests) {
                    o.sample("", &[("code", code)], Value::U(n.load(Relaxed)));
                }
            }
        }
    ),
    fam!(
        "ultra_exporter_accept_errors_total",
        Counter,
        NONE,
        NOT_SERVING,
        "Errors of accept() on the /metrics listener (such as EMFILE when out of file descriptors); it backs off and retries.",
        |s, o| listener(s, o, |l| l.accept_errors.load(Relaxed))
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

    #[test]
    fn units_come_from_the_name() {
        let unit = |n: &str| family(n).and_then(FamilyInfo::unit);
        assert_eq!(unit("ultra_allocator_live_bytes"), Some("bytes"));
        assert_eq!(unit("ultra_allocator_freed_bytes_total"), Some("bytes"));
        assert_eq!(unit("ultra_process_cpu_seconds_total"), Some("seconds"));
        assert_eq!(unit("ultra_allocator_allocations_total"), None);
        assert_eq!(unit("ultra_caches"), None);
    }
}
