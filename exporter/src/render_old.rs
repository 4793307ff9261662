//! TEMPORARY: the old renderer, for a byte comparison with the new one.
#![allow(missing_docs, dead_code)]
use crate::families::{families, Kind};
use crate::http::stats::{DropReason, DurationHistogram, ListenerStats, CODES, RENDER_BUCKETS};
use metrics::{counter, gauge};
use metrics_exporter_prometheus::PrometheusBuilder;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use ultra_alloc::{histogram_bucket_le, Config, Subsystem, HISTOGRAM_BUCKETS};
use ultra_core::cache::EvictionReason;
use ultra_core::{Explanation, Snapshot, UNATTRIBUTED_LABEL};
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

pub(crate) fn old_render(
    snap: &Snapshot,
    config: &Config,
    scrapes: u64,
    explanation: Option<&Explanation>,
    listener: &ListenerStats,
    rs: &DurationHistogram,
) -> String {
    let process = metrics_process::Collector::new(PROCESS_PREFIX);
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        describe();
        record(snap, config, scrapes);
        if let Some(e) = explanation {
            record_resident(e);
        }
        record_listener(listener);
        process.describe();
        process.collect();
    });
    handle.run_upkeep();
    let text = handle.render();
    let mut sizes = String::with_capacity(2048);
    write_size_histogram(&mut sizes, snap);
    let mut durations = String::with_capacity(1024);
    write_render_histogram(&mut durations, rs);
    in_table_order(
        &text,
        &[
            (name::ALLOCATION_SIZE, &sizes),
            (name::EXPORTER_RENDER_SECONDS, &durations),
        ],
    )
}
/// Describes every family the recorder renders (all but the hand-written histogram and the
/// process families, which metrics-process describes itself).
fn describe() {
    for f in families() {
        if f.name.starts_with("ultra_process_") && f.name != name::PROCESS_RSS_PEAK {
            continue;
        }
        match f.kind {
            Kind::Counter => metrics::describe_counter!(f.name, f.help),
            Kind::Gauge => metrics::describe_gauge!(f.name, f.help),
            Kind::Histogram => {}
        }
    }
}

/// `u64 → f64` for gauges; exact below 2^53 bytes.
fn f(v: u64) -> f64 {
    v as f64
}

fn record(snap: &Snapshot, config: &Config, scrapes: u64) {
    let yes_no = |b: bool| if b { "true" } else { "false" };
    gauge!(
        name::BUILD_INFO,
        "version" => env!("CARGO_PKG_VERSION"),
        "jemalloc" => yes_no(ultra_alloc::jemalloc::available()),
        "attribution" => yes_no(snap.alloc.subsystems.is_some())
    )
    .set(1.0);

    let a = &snap.alloc;
    gauge!(name::ALLOC_LIVE).set(f(a.live_bytes));
    gauge!(name::ALLOC_PEAK).set(f(a.peak_bytes));
    counter!(name::ALLOC_ALLOCATED).absolute(a.allocated_bytes);
    counter!(name::ALLOC_FREED).absolute(a.freed_bytes);
    counter!(name::ALLOC_ALLOCATIONS).absolute(a.allocations);
    counter!(name::ALLOC_DEALLOCATIONS).absolute(a.deallocations);
    counter!(name::ALLOC_REALLOCATIONS).absolute(a.reallocations);
    counter!(name::ALLOC_FAILED).absolute(a.failed_allocations);
    gauge!(name::ALLOC_THREAD_SLOTS).set(f(a.thread_slots));

    if let Some(subs) = &a.subsystems {
        for s in Subsystem::ALL {
            let st = subs[s.index()];
            let label = s.name();
            gauge!(name::SUB_LIVE, "subsystem" => label).set(f(st.live_bytes));
            gauge!(name::SUB_PEAK, "subsystem" => label).set(f(st.peak_bytes));
            counter!(name::SUB_ALLOCATED, "subsystem" => label).absolute(st.allocated_bytes);
            counter!(name::SUB_FREED, "subsystem" => label).absolute(st.freed_bytes);
        }
    }

    if let Ok(je) = &snap.jemalloc {
        gauge!(name::JE_ALLOCATED).set(f(je.allocated));
        gauge!(name::JE_ACTIVE).set(f(je.active));
        gauge!(name::JE_RESIDENT).set(f(je.resident));
        gauge!(name::JE_MAPPED).set(f(je.mapped));
        gauge!(name::JE_RETAINED).set(f(je.retained));
        gauge!(name::JE_METADATA).set(f(je.metadata));
    }

    let ar = &snap.arenas;
    gauge!(name::ARENAS).set(f(ar.arenas));
    gauge!(name::ARENA_RESERVED).set(f(ar.reserved_bytes));
    gauge!(name::ARENA_USED).set(f(ar.used_bytes));
    gauge!(name::ARENA_CHUNKS).set(f(ar.chunks));

    let p = &snap.pools;
    gauge!(name::POOLS).set(f(p.pools));
    gauge!(name::POOL_BUFFERS, "state" => "idle").set(f(p.idle));
    gauge!(name::POOL_BUFFERS, "state" => "in_use").set(f(p.in_use));
    counter!(name::POOL_HITS).absolute(p.hits);
    counter!(name::POOL_MISSES).absolute(p.misses);
    gauge!(name::POOL_HELD).set(f(p.bytes_held));

    let c = &snap.caches;
    gauge!(name::CACHES).set(f(c.caches));
    counter!(name::CACHE_HITS).absolute(c.hits);
    counter!(name::CACHE_MISSES).absolute(c.misses);
    counter!(name::CACHE_INSERTS).absolute(c.inserts);
    counter!(name::CACHE_UPDATES).absolute(c.updates);
    for reason in EvictionReason::ALL {
        counter!(name::CACHE_EVICTIONS, "reason" => reason.name()).absolute(c.evictions(reason));
    }
    gauge!(name::CACHE_ENTRIES).set(f(c.entries));
    gauge!(name::CACHE_BYTES).set(f(c.bytes));

    record_config(config);

    if let Some(pm) = &snap.process {
        gauge!(name::PROCESS_RSS_PEAK).set(f(pm.rss_peak_bytes));
    }
    counter!(name::EXPORTER_SCRAPES).absolute(scrapes);
}

fn record_listener(l: &ListenerStats) {
    if !l.started.load(Relaxed) {
        return;
    }
    gauge!(name::EXPORTER_CONNECTIONS_OPEN).set(f(l.open.load(Relaxed)));
    counter!(name::EXPORTER_CONNECTIONS_ACCEPTED).absolute(l.accepted.load(Relaxed));
    counter!(name::EXPORTER_CONNECTIONS_REJECTED).absolute(l.rejected.load(Relaxed));
    for (reason, n) in DropReason::ALL.iter().zip(&l.dropped) {
        counter!(name::EXPORTER_CONNECTIONS_DROPPED, "reason" => reason.name())
            .absolute(n.load(Relaxed));
    }
    for ((_, code), n) in CODES.iter().zip(&l.requests) {
        counter!(name::EXPORTER_REQUESTS, "code" => *code).absolute(n.load(Relaxed));
    }
    counter!(name::EXPORTER_ACCEPT_ERRORS).absolute(l.accept_errors.load(Relaxed));
}

/// `ultra_resident_bytes`: every known owner and the (signed) remainder.
fn record_resident(e: &Explanation) {
    for (owner, bytes) in e.iter() {
        if let Some(b) = bytes {
            gauge!(name::RESIDENT, "owner" => owner.label()).set(f(b));
        }
    }
    gauge!(name::RESIDENT, "owner" => UNATTRIBUTED_LABEL).set(e.unattributed_bytes as f64);
}

/// One `ultra_config_*` gauge per variable of the table that has one and is set.
fn record_config(c: &Config) {
    for var in ultra_alloc::VARIABLES {
        if let (Some(metric), Some(value)) = (var.metric, c.metric_value(var)) {
            gauge!(metric.name).set(value);
        }
    }
}

/// The recorder's families (which come out in hash-map order) in the order of [`families`],
/// samples sorted within each, with the hand-written families (`(name, text)`) in their
/// places. Lines of a family not in the table (there are none) keep their order, at the end.
fn in_table_order(text: &str, written: &[(&str, &String)]) -> String {
    let fams = families();
    let mut blocks: Vec<Vec<&str>> = vec![Vec::new(); fams.len() + 1];
    for line in text.lines().filter(|l| !l.is_empty()) {
        let name = match line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
        {
            Some(rest) => rest.split(' ').next(),
            None => line.split(['{', ' ']).next(),
        };
        let idx = name
            .and_then(|n| fams.iter().position(|f| f.name == n))
            .unwrap_or(fams.len());
        blocks[idx].push(line);
    }
    let extra: usize = written.iter().map(|(_, t)| t.len()).sum();
    let mut out = String::with_capacity(text.len() + extra + 64);
    for (i, block) in blocks.iter_mut().enumerate() {
        if let Some((_, t)) = fams
            .get(i)
            .and_then(|f| written.iter().find(|(n, _)| *n == f.name))
        {
            out.push_str(t);
            out.push('\n');
            continue;
        }
        if block.is_empty() {
            continue;
        }
        if i < fams.len() {
            // The recorder writes HELP and TYPE before the samples of a family.
            let header = block.iter().take_while(|l| l.starts_with('#')).count();
            block[header..].sort_unstable();
        }
        for line in block.iter() {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Writes `ultra_allocation_size_bytes` as a Prometheus histogram. The metrics crate cannot
/// set bucket counts, so this family is written by hand (its name never collides with the
/// recorder's families).
fn write_size_histogram(out: &mut String, snap: &Snapshot) {
    let a = &snap.alloc;
    let fam = crate::families::family(name::ALLOCATION_SIZE);
    let help = fam.map_or("", |f| f.help);
    let n = name::ALLOCATION_SIZE;
    // `write!` into a String cannot fail.
    let _ = writeln!(out, "# HELP {n} {help}");
    let _ = writeln!(out, "# TYPE {n} histogram");
    let mut cumulative = 0u64;
    for (i, count) in a.histogram.iter().enumerate().take(HISTOGRAM_BUCKETS) {
        cumulative = cumulative.wrapping_add(*count);
        // The last bucket has no bound: it is the `+Inf` line below.
        if let Some(le) = histogram_bucket_le(i) {
            let _ = writeln!(out, "{n}_bucket{{le=\"{le}\"}} {cumulative}");
        }
    }
    let _ = writeln!(out, "{n}_bucket{{le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(out, "{n}_sum {}", a.histogram_sum);
    let _ = writeln!(out, "{n}_count {cumulative}");
}

/// Writes `ultra_exporter_render_duration_seconds` from the exporter's histogram.
fn write_render_histogram(out: &mut String, h: &DurationHistogram) {
    let n = name::EXPORTER_RENDER_SECONDS;
    let help = crate::families::family(n).map_or("", |f| f.help);
    let _ = writeln!(out, "# HELP {n} {help}");
    let _ = writeln!(out, "# TYPE {n} histogram");
    let mut cumulative = 0u64;
    for (le, count) in RENDER_BUCKETS.iter().zip(&h.counts) {
        cumulative += count.load(Relaxed);
        let _ = writeln!(out, "{n}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    cumulative += h.counts[RENDER_BUCKETS.len()].load(Relaxed);
    let _ = writeln!(out, "{n}_bucket{{le=\"+Inf\"}} {cumulative}");
    let sum = h.sum_nanos.load(Relaxed) as f64 / 1e9;
    let _ = writeln!(out, "{n}_sum {sum}");
    let _ = writeln!(out, "{n}_count {cumulative}");
}
