//! ultra-exporter: ultra's memory figures as Prometheus metrics.
//!
//! At each scrape the exporter takes one [`Snapshot`](ultra_core::Snapshot) — the
//! tracking allocator's counters, jemalloc's view, arenas, pools, caches, process RSS — and
//! writes it as Prometheus text straight from one table of families ([`families`]: name, type,
//! HELP, labels, and how each family's samples are read), in table order, histograms included;
//! the `ultra_process_*` figures come from `metrics-process`'s raw collector. The same table
//! gives a host its samples as values ([`Exporter::samples`]), never parsed back from text.
//! Nothing is recorded between scrapes and nothing in the allocator's hot path touches the
//! exporter, so a process nobody scrapes pays nothing. All exporter work runs in
//! `scope(Subsystem::Exporter, ..)`, so its own bytes show up as `subsystem="exporter"`.
//!
//! Adding a family is one entry in the table (`src/families.rs`) plus its test; the metrics
//! table below is checked against it, and the README's table and the Node fallback's
//! `node/lib/families.json` are generated from them (`UPDATE_GENERATED=1 cargo test -p
//! ultra-exporter --test render`).
//!
//! # Example
//!
//! ```
//! use ultra_exporter::Exporter;
//!
//! let exporter = Exporter::new(); // `ultra_config_*` from the ULTRA_* variables
//! // For a host that already serves /metrics (prom-client): append this text to its own.
//! let text = exporter.render();
//! assert!(text.contains("# TYPE ultra_allocator_live_bytes gauge"));
//!
//! // Or serve it: loopback, port 0 = any free port.
//! let mut server = exporter.serve("127.0.0.1:0".parse()?)?;
//! println!("serving metrics on {}", server.url());
//! // With ULTRA_EXPORTER_SD_DIR set, announce it to Prometheus' file-based discovery:
//! let dir = std::env::temp_dir().join(format!("ultra-doc-{}", std::process::id()));
//! let file = server.register_file_sd(&dir)?.to_owned();
//! assert!(file.exists());
//! server.close(); // also on drop: stops serving and removes the target file
//! assert!(!file.exists());
//! # std::fs::remove_dir(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A host that merges ultra's families into its own registry (prom-client) can list them with
//! [`families`] — name, HELP text, type and labels of every family [`Exporter::render`] can
//! emit — and read one scrape's values with [`Exporter::samples`].
//!
//! # Serving
//!
//! [`Exporter::serve`] (or [`serve`]) binds the address it is given — the binary uses
//! `ULTRA_EXPORTER_ADDR`, `127.0.0.1:9477` by default (`localhost`, `[::1]:port` and port `0`
//! are accepted, see [`ultra_alloc::parse_addr`]); port `0` picks a free port, reported by
//! [`Server::local_addr`]; a non-loopback address is served with a one-line warning on
//! stderr. `GET /metrics` answers `200` with
//! `Content-Type: text/plain; version=0.0.4; charset=utf-8`, or OpenMetrics 1.0 when the
//! request's `Accept` lists `application/openmetrics-text` ([`Format`]; gzip-compressed when
//! its `Accept-Encoding` allows it). `GET /debug/pprof/heap` answers `200` with the sampled live
//! heap as gzipped pprof (`ultra_alloc::profile::heap_profile`, for `go tool pprof` and
//! Pyroscope) while heap profiling samples, `404` saying why otherwise. Other paths `404`; other
//! methods `405` with `Allow: GET, HEAD`. A taken port is an [`ExporterError::Bind`] naming the
//! address.
//!
//! The listener is hyper's HTTP/1 server on a current-thread tokio runtime of its own,
//! started by `serve` (never when the library loads): one I/O thread and
//! [`Limits::render_threads`] render threads, whatever the number of connections. Everything
//! a client can hold is bounded by [`Limits`] (defaults in its docs; the connection cap is
//! `ULTRA_EXPORTER_MAX_CONNECTIONS`, default 64; [`Exporter::serve_with`] sets them all):
//! open connections (at the cap, the oldest connection that has not sent a complete request
//! is evicted, else the one waiting longest for its client; only if all are being answered is
//! the new one closed), renders in flight (`503`), header read, idle
//! and write timeouts, header size (`431`) and URL length (`414`); a malformed request is
//! answered `400` and closed. `accept` errors such as `EMFILE` are counted
//! (`ultra_exporter_accept_errors_total`), logged at most once per 10 s and retried after a
//! pause of at most 200 ms: the listener never stops by itself. [`Server::close`] (or drop)
//! closes the port, closes idle keep-alive connections at once and lets in-flight responses
//! finish within [`Limits::shutdown_timeout`]; [`Server::shutdown`] starts the same without
//! waiting (for callers that must not block, such as Node's event loop).
//!
//! [`file_sd::Registration`] writes `<dir>/ultra-<pid>-<port>.json` atomically for
//! Prometheus `file_sd_configs`, removes it on drop, and removes at creation the files of
//! processes that no longer run ([`file_sd::remove_stale`]).
//!
//! # The binary
//!
//! `cargo run --release -p ultra-exporter` runs a gateway-like [`workload`] through the core
//! (JSON bodies validated and looked into, BLAKE3 cache keys, XXH3 dedupe, a TTL response
//! cache, pooled buffers, a per-request arena), serves `/metrics`, prints a summary line per
//! second (ops/s, live bytes per subsystem, jemalloc resident, the RSS split by owner as in
//! `ultra_resident_bytes`, cache hit ratio) and a final report on exit, whose `resident` line
//! gives the owners, the threads and how many stacks were not located (`--duration 30s`,
//! `--rate N` requests per second, `--quiet`; Ctrl-C or SIGTERM end it cleanly). `grafana/` beside this crate holds a
//! dashboard and a `prometheus.yml` example.
//!
//! # Metrics
//!
//! Base units, `_total` on counters only, one HELP and TYPE per family. Never `process_*` or
//! `nodejs_*`: a Node host's prom-client owns those. `promtool check metrics` has nothing to
//! say about the output.
//!
//! | family | type | labels | meaning |
//! |---|---|---|---|
//! | `ultra_build_info` | gauge | `version`, `jemalloc`, `attribution` | always 1; what was compiled in |
//! | `ultra_allocator_live_bytes` | gauge | | bytes allocated through the tracking allocator now (requested sizes) |
//! | `ultra_allocator_peak_bytes` | gauge | | high-water mark of live bytes |
//! | `ultra_allocator_allocated_bytes_total` | counter | | bytes allocated, realloc growth included |
//! | `ultra_allocator_freed_bytes_total` | counter | | bytes freed, realloc shrinkage included |
//! | `ultra_allocator_allocations_total` | counter | | successful allocations |
//! | `ultra_allocator_deallocations_total` | counter | | deallocations |
//! | `ultra_allocator_reallocations_total` | counter | | successful reallocations |
//! | `ultra_allocator_failed_allocations_total` | counter | | allocations the inner allocator refused |
//! | `ultra_allocator_thread_slots` | gauge | | threads that claimed a counter slot (high-water mark) |
//! | `ultra_allocation_size_bytes` | histogram | `le` | requested allocation sizes, power-of-two buckets 16 B … 1 MiB, `+Inf` |
//! | `ultra_subsystem_live_bytes` | gauge | `subsystem` | live bytes credited to `other`, `cache`, `json`, `hash`, `arena`, `pool`, `exporter`; sums to the allocator's live bytes |
//! | `ultra_subsystem_peak_bytes` | gauge | `subsystem` | high-water mark per subsystem |
//! | `ultra_subsystem_allocated_bytes_total` | counter | `subsystem` | bytes allocated per subsystem |
//! | `ultra_subsystem_freed_bytes_total` | counter | `subsystem` | bytes freed per subsystem |
//! | `ultra_jemalloc_allocated_bytes` | gauge | | jemalloc `stats.allocated` (headers and size-class rounding included) |
//! | `ultra_jemalloc_active_bytes` | gauge | | `stats.active`; active − allocated = fragmentation |
//! | `ultra_jemalloc_resident_bytes` | gauge | | `stats.resident`; resident − active − metadata ≈ dirty pages |
//! | `ultra_jemalloc_mapped_bytes` | gauge | | `stats.mapped` |
//! | `ultra_jemalloc_retained_bytes` | gauge | | `stats.retained` (virtual, not resident) |
//! | `ultra_jemalloc_metadata_bytes` | gauge | | `stats.metadata` |
//! | `ultra_arenas` | gauge | | live bump arenas |
//! | `ultra_arena_reserved_bytes` | gauge | | bytes reserved in arena chunks |
//! | `ultra_arena_used_bytes` | gauge | | bytes handed out since the arenas' last reset |
//! | `ultra_arena_chunks` | gauge | | chunks held by arenas |
//! | `ultra_pools` | gauge | | live buffer pools |
//! | `ultra_pool_buffers` | gauge | `state` = `idle`, `in_use` | pooled buffers held for reuse / handed out |
//! | `ultra_pool_hits_total` | counter | | acquisitions served by an idle buffer |
//! | `ultra_pool_misses_total` | counter | | acquisitions that allocated |
//! | `ultra_pool_held_bytes` | gauge | | capacity of the idle buffers |
//! | `ultra_caches` | gauge | | live caches |
//! | `ultra_cache_hits_total` | counter | `cache` | lookups that found a live entry |
//! | `ultra_cache_misses_total` | counter | `cache` | lookups that found nothing or an expired entry |
//! | `ultra_cache_inserts_total` | counter | `cache` | sets that added a key |
//! | `ultra_cache_updates_total` | counter | `cache` | sets that replaced a live key's value |
//! | `ultra_cache_evictions_total` | counter | `cache`, `reason` = `capacity`, `size`, `expired` | entries evicted for the entry bound, the byte bound, or their TTL |
//! | `ultra_cache_entries` | gauge | `cache` | entries held (expired ones not yet removed included) |
//! | `ultra_cache_bytes` | gauge | `cache` | weight of the entries held |
//! | `ultra_config_*` | gauge | | one per configuration variable that has a gauge (see the configuration table), in base units; absent when the variable is unset |
//! | `ultra_process_cpu_seconds_total` | counter | | user + system CPU time (metrics-process) |
//! | `ultra_process_open_fds` | gauge | | open file descriptors |
//! | `ultra_process_max_fds` | gauge | | file descriptor limit |
//! | `ultra_process_virtual_memory_bytes` | gauge | | virtual memory size |
//! | `ultra_process_virtual_memory_max_bytes` | gauge | | address-space limit (0 = unlimited) |
//! | `ultra_process_resident_memory_bytes` | gauge | | resident set size (RSS) |
//! | `ultra_process_resident_memory_peak_bytes` | gauge | | peak RSS (`VmHWM`) |
//! | `ultra_process_start_time_seconds` | gauge | | process start, Unix time |
//! | `ultra_process_threads` | gauge | | OS threads |
//! | `ultra_resident_bytes` | gauge | `owner` = `code`, `addon_code`, `ultra`, `allocator_overhead`, `v8_heap`, `malloc`, `malloc_free`, `stacks`, `unattributed` | the RSS of one reading split by owner; the series sum to it exactly; `unattributed` is the rest, negative when owners over-state (see below) |
//! | `ultra_exporter_scrapes_total` | counter | | renders by this exporter, this one included |
//! | `ultra_exporter_render_duration_seconds` | histogram | `le` | time of this exporter's earlier renders (snapshot included), 1 ms … 1 s buckets |
//! | `ultra_exporter_connections_open` | gauge | | connections open on the `/metrics` listener (absent until a listener is started, as are the families below) |
//! | `ultra_exporter_connections_accepted_total` | counter | | connections accepted and served |
//! | `ultra_exporter_connections_rejected_total` | counter | | connections closed at once: `ULTRA_EXPORTER_MAX_CONNECTIONS` open, each with a request being answered |
//! | `ultra_exporter_connections_dropped_total` | counter | `reason` = `evicted`, `header_timeout`, `idle_timeout`, `write_timeout`, `shutdown` | connections the listener closed on its own |
//! | `ultra_exporter_requests_total` | counter | `code` = `200`, `400`, `404`, `405`, `414`, `431`, `500`, `503` | requests answered, by status code |
//! | `ultra_exporter_accept_errors_total` | counter | | `accept()` errors (e.g. `EMFILE`); the listener backs off and retries |
//!
//! Per cache: every `ultra_cache_*` family has a `cache` label — a named cache's name
//! (`SharedCache::named`, Node's `createCache({ name })`) for the first
//! [`MAX_CACHE_LABELS`](ultra_alloc::config::MAX_CACHE_LABELS) live named caches in the order
//! they were opened (the bound on label cardinality), and `cache=""` for
//! all unnamed caches and any further named ones together. The series of a family sum to the
//! process total (`sum by (reason) (...)` and `sum(...)` give the figures without the label), and
//! the `cache=""` counters never go down while the labelled named caches live (one that is
//! dropped folds its counts into `cache=""`; only then can a named cache beyond the bound take a
//! label, and its counts out of `cache=""`; the Node addon keeps named caches for the life of
//! the process).
//!
//! A scraper whose `Accept` header asks for OpenMetrics (`application/openmetrics-text`, as
//! Prometheus does first) gets OpenMetrics 1.0 text from the same table; others get text 0.0.4.
//!
//! `ultra_resident_bytes` answers "who holds the RSS": one reading (`ultra_core::Explanation`)
//! of `/proc/self/status`, jemalloc, glibc's `mallinfo2`, the thread stacks and — in Node — the
//! V8 heap, each owner from its own source and `unattributed` the exact remainder, so
//! `sum(ultra_resident_bytes)` is the RSS of that scrape. Owners a process does not have are
//! absent (`v8_heap` without V8, which includes the native listener's scrapes of a Node
//! process, which cannot reach V8; `addon_code` outside the Node addon). Some sources are
//! sizes, not residency (a malloced block never written, free malloc chunks after
//! `malloc_trim`): when the owners over-state, `unattributed` is negative rather than clamped.
//!
//! Absent rather than zero: the `ultra_subsystem_*` families when ultra-alloc is built without
//! `attribution`; the `ultra_jemalloc_*` families when jemalloc figures cannot be read; unset
//! configuration knobs; the `ultra_process_*` families where the OS gives no such figure.
//! Cache, pool and arena counters are process-wide sums over every instance, dropped ones
//! included, so they never go down.
//!
//! # Crate features
//!
//! - `cli` (default): the `ultra-exporter` binary (clap, humantime, ctrlc) with jemalloc under
//!   the tracking allocator. Library users such as the Node addon turn default features off.

mod error;
mod exposition;
mod families;
pub mod file_sd;
mod http;
mod render;
pub mod workload;

pub use error::ExporterError;
pub use exposition::Format;
pub use families::{families, family, FamilyInfo, Kind};
pub use http::{serve, Limits, Server, CONTENT_TYPE};
pub use render::{Exporter, Sample};
