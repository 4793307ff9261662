//! Turning one [`Snapshot`] into Prometheus text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use metrics::{counter, gauge};
use metrics_exporter_prometheus::PrometheusBuilder;
use ultra_alloc::{histogram_bucket_le, Config, Subsystem, HISTOGRAM_BUCKETS};
use ultra_core::cache::EvictionReason;
use ultra_core::{ExplainOptions, Explanation, Snapshot, UNATTRIBUTED_LABEL};

use crate::families::{families, name, Kind, PROCESS_PREFIX};
use crate::http::stats::{DropReason, DurationHistogram, ListenerStats, CODES, RENDER_BUCKETS};

/// Renders ultra's metrics; cheap to clone (clones share the scrape counter).
///
/// Every [`render`](Exporter::render) takes one fresh [`Snapshot`], records it into a
/// recorder built for that render alone ([`metrics::with_local_recorder`]), renders and drops
/// the recorder. So the output always describes one instant, families that are not available
/// at that instant are absent rather than stale, concurrent renders never mix their values,
/// and nothing accumulates between scrapes: when nobody scrapes, the exporter holds no memory
/// beyond this handle.
#[derive(Debug, Clone)]
pub struct Exporter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    explain: ExplainOptions,
    scrapes: AtomicU64,
    process: metrics_process::Collector,
    render_seconds: DurationHistogram,
    listener: ListenerStats,
}

impl Default for Exporter {
    fn default() -> Self {
        Exporter::new()
    }
}

impl Exporter {
    /// An exporter whose `ultra_config_*` families show [`Config::from_env`].
    ///
    /// If the environment does not parse, the defaults are shown: report that error where the
    /// rest of the configuration is read (the `ultra-exporter` binary exits with it), or pass
    /// the configuration in use to [`Exporter::with_config`].
    pub fn new() -> Exporter {
        Exporter::with_config(Config::from_env().unwrap_or_default())
    }

    /// An exporter whose `ultra_config_*` families show `config`.
    pub fn with_config(config: Config) -> Exporter {
        Exporter::with_explain(config, ExplainOptions::default())
    }

    /// An exporter whose `ultra_resident_bytes` family is read with `explain` (what backs
    /// ultra's allocator, the module whose code is `addon_code`). `explain.v8_heap_bytes` is
    /// ignored: a host with V8 passes it to each [`render_with_v8`](Exporter::render_with_v8).
    pub fn with_explain(config: Config, explain: ExplainOptions) -> Exporter {
        ultra_alloc::scope(Subsystem::Exporter, || Exporter {
            inner: Arc::new(Inner {
                config,
                explain: ExplainOptions {
                    v8_heap_bytes: None,
                    ..explain
                },
                scrapes: AtomicU64::new(0),
                process: metrics_process::Collector::new(PROCESS_PREFIX),
                render_seconds: DurationHistogram::default(),
                listener: ListenerStats::default(),
            }),
        })
    }

    /// The configuration shown by the `ultra_config_*` families.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Scrapes so far on this exporter and its clones: calls of [`render`](Exporter::render),
    /// [`render_snapshot`](Exporter::render_snapshot) and [`samples`](Exporter::samples).
    pub fn scrapes(&self) -> u64 {
        self.inner.scrapes.load(Relaxed)
    }

    /// The metrics of this instant in the Prometheus text format (version 0.0.4).
    ///
    /// Runs inside `scope(Subsystem::Exporter, ..)`: every byte it allocates is credited to
    /// the exporter. The text passes `promtool check metrics` without a remark.
    pub fn render(&self) -> String {
        ultra_alloc::scope(Subsystem::Exporter, || {
            let snap = Snapshot::take();
            self.render_scoped(&snap, self.explain(&snap, None).as_ref())
        })
    }

    /// [`render`](Exporter::render) for a host with V8: `v8_heap_bytes` (the heap's physical
    /// size, read just before) is the `v8_heap` owner of `ultra_resident_bytes`.
    pub fn render_with_v8(&self, v8_heap_bytes: u64) -> String {
        ultra_alloc::scope(Subsystem::Exporter, || {
            let snap = Snapshot::take();
            let explanation = self.explain(&snap, Some(v8_heap_bytes));
            self.render_scoped(&snap, explanation.as_ref())
        })
    }

    /// Renders a snapshot and an explanation the caller already took. Counts as a scrape.
    /// `ultra_resident_bytes` shows `explanation` (absent if `None`).
    pub fn render_explained(
        &self,
        snapshot: &Snapshot,
        explanation: Option<&Explanation>,
    ) -> String {
        ultra_alloc::scope(Subsystem::Exporter, || {
            self.render_scoped(snapshot, explanation)
        })
    }

    /// The options this exporter explains the RSS with.
    pub fn explain_options(&self) -> &ExplainOptions {
        &self.inner.explain
    }

    /// Reads the RSS split right after `snap` (nothing without `/proc`).
    fn explain(&self, snap: &Snapshot, v8_heap_bytes: Option<u64>) -> Option<Explanation> {
        snap.process?;
        let options = ExplainOptions {
            v8_heap_bytes,
            ..self.inner.explain
        };
        Explanation::read(snap, &options)
    }

    /// Renders a snapshot the caller already took (so that, say, a stats call and the metrics
    /// show the same instant). Counts as a scrape. Families whose figures the snapshot lacks
    /// (no attribution, no jemalloc, no `/proc`) are left out, as in [`Exporter::render`].
    /// `ultra_resident_bytes` is read right after that snapshot (absent without `/proc`).
    pub fn render_snapshot(&self, snapshot: &Snapshot) -> String {
        ultra_alloc::scope(Subsystem::Exporter, || {
            self.render_scoped(snapshot, self.explain(snapshot, None).as_ref())
        })
    }

    /// The samples of one [`render`](Exporter::render), parsed: for hosts that build their
    /// own metric objects (prom-client's `get()`) instead of appending text.
    ///
    /// Histogram samples keep their series names (`…_bucket` with an `le` label, `…_sum`,
    /// `…_count`); [`Sample::family`] names the family either way.
    pub fn samples(&self) -> Vec<Sample> {
        ultra_alloc::scope(Subsystem::Exporter, || {
            let snap = Snapshot::take();
            let text = self.render_scoped(&snap, self.explain(&snap, None).as_ref());
            text.lines().filter_map(parse_sample).collect()
        })
    }

    /// The figures of the listeners started from this exporter and its clones.
    pub(crate) fn listener_stats(&self) -> &ListenerStats {
        &self.inner.listener
    }

    fn render_scoped(&self, snap: &Snapshot, explanation: Option<&Explanation>) -> String {
        let started = std::time::Instant::now();
        let scrapes = self.inner.scrapes.fetch_add(1, Relaxed) + 1;
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            record(snap, &self.inner.config, scrapes);
            if let Some(e) = explanation {
                record_resident(e);
            }
            record_listener(&self.inner.listener);
            self.inner.process.describe();
            self.inner.process.collect();
        });
        // Publishes the descriptions (HELP lines); there are no histograms in the recorder.
        handle.run_upkeep();
        let text = handle.render();
        let mut sizes = String::with_capacity(2048);
        write_size_histogram(&mut sizes, snap);
        let mut durations = String::with_capacity(1024);
        write_render_histogram(&mut durations, &self.inner.render_seconds);
        let out = in_table_order(
            &text,
            &[
                (name::ALLOCATION_SIZE, &sizes),
                (name::EXPORTER_RENDER_SECONDS, &durations),
            ],
        );
        self.inner.render_seconds.observe(started.elapsed());
        out
    }
}

/// One sample of the exposition text.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The family it belongs to (see [`crate::families`]).
    pub family: &'static str,
    /// The series name: the family's, or with `_bucket`, `_sum` or `_count` for a histogram.
    pub name: String,
    /// Label names and values, in rendered order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// Parses `name{a="x",b="y"} value`; `None` for comments, blank lines and series of no known
/// family.
fn parse_sample(line: &str) -> Option<Sample> {
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let family = crate::families::family(name)
        .or_else(|| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).and_then(crate::families::family))
                .filter(|f| f.kind == Kind::Histogram)
        })?
        .name;
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices();
        let mut key = String::new();
        loop {
            // label name up to `="`
            let (i, c) = chars.next()?;
            match c {
                '}' => {
                    rest = &body[i + 1..];
                    break;
                }
                ',' => continue,
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                other => key.push(other),
            }
        }
    }
    let value = match rest.trim() {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        family,
        name: name.to_owned(),
        labels,
        value,
    })
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
