//! Turning one [`Snapshot`] into text or samples, family by family from the one table
//! ([`crate::families`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use ultra_alloc::{Config, Subsystem};
use ultra_core::{ExplainOptions, Explanation, Snapshot};

use crate::exposition::{Format, TextSink};
use crate::families::{families, FamilyInfo, Sink, Sources, Value};
use crate::http::stats::{DurationHistogram, ListenerStats};

/// Renders ultra's metrics; cheap to clone (clones share the scrape counter).
///
/// Every [`render`](Exporter::render) takes one fresh [`Snapshot`] and writes the text
/// straight from it, family by family in table order. So the output always describes one instant, families that are not available
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
        self.render_as(Format::Prometheus)
    }

    /// [`render`](Exporter::render) in `format` (the `/metrics` listener answers OpenMetrics
    /// to a scraper whose `Accept` header asks for it).
    pub fn render_as(&self, format: Format) -> String {
        ultra_alloc::scope(Subsystem::Exporter, || {
            let named = named_caches();
            let snap = Snapshot::take();
            let explanation = self.explain(&snap, None);
            self.render_format(&snap, explanation.as_ref(), Some(named), format)
        })
    }

    /// [`render`](Exporter::render) for a host with V8: `v8_heap_bytes` (the heap's physical
    /// size, read just before) is the `v8_heap` owner of `ultra_resident_bytes`.
    pub fn render_with_v8(&self, v8_heap_bytes: u64) -> String {
        ultra_alloc::scope(Subsystem::Exporter, || {
            let named = named_caches();
            let snap = Snapshot::take();
            let explanation = self.explain(&snap, Some(v8_heap_bytes));
            self.render_format(&snap, explanation.as_ref(), Some(named), Format::Prometheus)
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
            self.render_format(snapshot, explanation, None, Format::Prometheus)
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
            let explanation = self.explain(snapshot, None);
            self.render_format(snapshot, explanation.as_ref(), None, Format::Prometheus)
        })
    }

    /// The samples of one [`render`](Exporter::render), as values (nothing is rendered or
    /// parsed): for hosts that build their own metric objects (prom-client's `get()`) instead
    /// of appending text. In table order, each family's samples in rendered order.
    ///
    /// Histogram samples keep their series names (`…_bucket` with an `le` label, `…_sum`,
    /// `…_count`); [`Sample::family`] names the family either way.
    pub fn samples(&self) -> Vec<Sample> {
        ultra_alloc::scope(Subsystem::Exporter, || {
            let named = named_caches();
            let snap = Snapshot::take();
            let explanation = self.explain(&snap, None);
            self.samples_of(&snap, explanation.as_ref(), Some(named))
        })
    }

    /// [`samples`](Exporter::samples) for a host with V8 (see
    /// [`render_with_v8`](Exporter::render_with_v8)).
    pub fn samples_with_v8(&self, v8_heap_bytes: u64) -> Vec<Sample> {
        ultra_alloc::scope(Subsystem::Exporter, || {
            let named = named_caches();
            let snap = Snapshot::take();
            let explanation = self.explain(&snap, Some(v8_heap_bytes));
            self.samples_of(&snap, explanation.as_ref(), Some(named))
        })
    }

    /// The samples of a snapshot and an explanation the caller already took, in table order.
    /// Counts as a scrape.
    pub fn samples_explained(
        &self,
        snapshot: &Snapshot,
        explanation: Option<&Explanation>,
    ) -> Vec<Sample> {
        ultra_alloc::scope(Subsystem::Exporter, || {
            self.samples_of(snapshot, explanation, None)
        })
    }

    fn samples_of(
        &self,
        snapshot: &Snapshot,
        explanation: Option<&Explanation>,
        named: Option<NamedCaches>,
    ) -> Vec<Sample> {
        {
            let mut out = Vec::with_capacity(256);
            self.read_all(snapshot, explanation, named, |family, src| {
                family.read.read(
                    src,
                    &mut Samples {
                        family,
                        out: &mut out,
                    },
                );
            });
            out
        }
    }

    /// The figures of the listeners started from this exporter and its clones.
    pub(crate) fn listener_stats(&self) -> &ListenerStats {
        &self.inner.listener
    }

    /// Renders in `format`; counts as a scrape and times the render.
    fn render_format(
        &self,
        snap: &Snapshot,
        explanation: Option<&Explanation>,
        named: Option<NamedCaches>,
        format: Format,
    ) -> String {
        let mut out = String::with_capacity(16 * 1024);
        self.read_all(snap, explanation, named, |family, src| {
            let mut sink = TextSink::new(&mut out, family, format);
            family.read.read(src, &mut sink);
            sink.finish();
        });
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        out
    }

    /// Counts a scrape, gathers its sources and hands every family of the table to `each`, in
    /// table order. `named`: the named caches' figures read before `snap` (`None`: read now,
    /// for a snapshot the caller took).
    fn read_all(
        &self,
        snap: &Snapshot,
        explanation: Option<&Explanation>,
        named: Option<NamedCaches>,
        mut each: impl FnMut(&'static FamilyInfo, &Sources<'_>),
    ) {
        let named = named.unwrap_or_else(named_caches);
        let started = std::time::Instant::now();
        let scrapes = self.inner.scrapes.fetch_add(1, Relaxed) + 1;
        let process = metrics_process::collector::collect();
        let src = Sources {
            snap,
            explanation,
            config: &self.inner.config,
            listener: &self.inner.listener,
            process: &process,
            scrapes,
            render_seconds: &self.inner.render_seconds,
            named_caches: &named,
        };
        for family in families() {
            each(family, &src);
        }
        self.inner.render_seconds.observe(started.elapsed());
    }
}

/// The labelled named caches' figures of one scrape.
type NamedCaches = Vec<(Box<str>, ultra_core::CacheStats)>;

/// Reads the figures of the named caches that get a `cache` label (the first
/// [`MAX_CACHE_LABELS`](ultra_alloc::config::MAX_CACHE_LABELS)); read before the snapshot, so
/// that the `cache=""` remainder of every counter never goes down between scrapes.
fn named_caches() -> NamedCaches {
    ultra_core::SharedCache::named_stats(ultra_alloc::config::MAX_CACHE_LABELS)
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

/// Collects a family's samples as values.
struct Samples<'a> {
    family: &'static FamilyInfo,
    out: &'a mut Vec<Sample>,
}

impl Sink for Samples<'_> {
    fn sample(&mut self, suffix: &'static str, labels: &[(&'static str, &str)], value: Value) {
        self.out.push(Sample {
            family: self.family.name,
            name: format!("{}{suffix}", self.family.name),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            value: value.as_f64(),
        });
    }
}
