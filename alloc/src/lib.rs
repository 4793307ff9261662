//! ultra-alloc: a tracking global allocator that counts every byte and credits it to the
//! subsystem that allocated it, plus jemalloc control, lazy bump arenas and buffer pools.
//!
//! ```
//! use ultra_alloc::{scope, stats, Subsystem, TrackingAllocator};
//!
//! #[global_allocator]
//! static GLOBAL: TrackingAllocator<std::alloc::System> = TrackingAllocator::new(std::alloc::System);
//!
//! let before = stats();
//! let v = scope(Subsystem::Cache, || vec![0u8; 4096]);
//! let after = stats();
//! assert_eq!(after.live_bytes - before.live_bytes, 4096);
//! // `None` when built without the `attribution` feature.
//! if let (Some(a), Some(b)) = (after.subsystem(Subsystem::Cache), before.subsystem(Subsystem::Cache)) {
//!     assert_eq!(a.live_bytes - b.live_bytes, 4096);
//! }
//! drop(v);
//! assert_eq!(stats().live_bytes, before.live_bytes);
//! ```
//!
//! # What it counts, and how exactly
//!
//! Every successful `alloc`, `alloc_zeroed`, `realloc` and every `dealloc` through
//! [`TrackingAllocator`] moves process-wide counters ([`stats`] reads them all as one
//! [`AllocStats`], without allocating): live, peak, cumulative allocated and freed bytes,
//! allocation / deallocation / reallocation / failure counts, and a power-of-two size histogram.
//! Bytes are the sizes callers asked for (`Layout::size`), so allocating objects of known
//! layouts moves `live_bytes` by exactly the sum of their sizes. Once all threads are quiescent
//! the figures are exact; a reading taken while other threads allocate may miss only the
//! operations in flight during the read. Peaks are high-water marks with a documented bound
//! (see [`counters`](crate::FLUSH_THRESHOLD)): exact for one thread, within
//! `threads × 64 KiB` otherwise.
//!
//! Counting writes no shared cache line on the fast path: each thread owns a slot of
//! counters (see [`SLOTS`]) and a reader sums them.
//!
//! # Attribution
//!
//! [`scope`] (or [`Subsystem::enter`]) names the [`Subsystem`] a thread is allocating for.
//! Bytes allocated in a scope are credited to it and debited from it when freed — on another
//! thread, in another scope or in none. A reallocated block stays with the subsystem that first
//! allocated it (feature `attribution`, on by default). Over [`Jemalloc`] no byte is added to
//! any block: each scoped subsystem has its own jemalloc arena over an address range of its own,
//! and a free finds the subsystem from the address ([`arenas`]). Over any other allocator a
//! header of 16 bytes per allocation (`align` bytes for alignments above 16) records it.
//! Measured figures are in the repository's `benches/README.md`.
//!
//! # Crate features
//!
//! - `jemalloc` (default): re-exports [`Jemalloc`] (tikv-jemallocator with `stats`) and enables
//!   [`jemalloc`] introspection, [`trim`] and decay control, and attribution by address range
//!   ([`arenas`]). Without it those answer [`JemallocError::NotAvailable`].
//! - `attribution` (default): per-subsystem figures. Without it `AllocStats::subsystems` is
//!   `None`.
//! - `profiling`: jemalloc's sampling heap profiler, compiled in and started inactive;
//!   [`profile::heap_profile`] returns symbolized pprof (`ULTRA_HEAP_PROFILE=1` or
//!   [`profile::set_active`] switch sampling on). Implies `jemalloc`.
//! - `dlopen`: builds jemalloc with `disable_initial_exec_tls`, required in a library that is
//!   loaded with `dlopen` (the Node addon turns it on); binaries leave it off, since every
//!   jemalloc TLS access then becomes a `__tls_get_addr` call.
//!
//! | artifact | features |
//! |---|---|
//! | Node addon (`ultra-node`) | `jemalloc`, `attribution`, `dlopen`, `profiling` |
//! | `ultra-exporter` binary | `jemalloc`, `attribution`, `profiling` |
//! | a Rust program | `jemalloc`, `attribution` (the defaults) |
//!
//! Cargo unifies features of crates built in one invocation: `cargo build --workspace` builds
//! the exporter with the addon's `dlopen` too; `cargo build -p ultra-exporter` does not.
//!
//! # Also here
//!
//! - [`Arena`]: a bumpalo arena that reserves nothing until first used, with a byte limit.
//! - [`BufferPool`]: byte buffers by size class, with `ULTRA_POOL_*` sizing.
//! - [`Config`]: every `ULTRA_*` variable, parsed strictly from one table ([`config`]).
//! - [`resident`]: what the OS and glibc say is resident (RSS by kind, thread stacks, a
//!   module's code pages, `mallinfo2`, `malloc_trim`), read without allocating.

mod arena;
pub mod config;
mod counters;
pub mod jemalloc;
mod pool;
pub mod profile;
pub mod resident;
mod subsystem;
mod tracking;

pub use arena::{arenas_total, Arena, ArenaConfig, ArenaError, ArenaStats};
pub use config::{
    apply_jemalloc, parse_addr, parse_size, Config, ConfigBuilder, ConfigError, Value, Variable,
    DEFAULT_EXPORTER_PORT, VARIABLES,
};
pub use counters::{
    flush_current_thread, histogram_bucket_le, reset_peaks, stats, AllocStats, SubsystemStats,
    FLUSH_THRESHOLD, HISTOGRAM_BUCKETS, SLOTS,
};
pub use jemalloc::{trim, JemallocError, JemallocStats};

#[cfg(all(feature = "jemalloc", feature = "attribution"))]
#[allow(unsafe_code)]
pub mod arenas;
pub use pool::{pools_total, BufferPool, PoolBuf, PoolConfig, PoolStats};
pub use subsystem::{scope, ScopeGuard, Subsystem};
pub use tracking::TrackingAllocator;

// The root README's Rust examples, compiled and run as doctests so they cannot rot.
#[cfg(all(doctest, feature = "jemalloc", feature = "attribution"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// jemalloc as a `GlobalAlloc` (prefixed symbols), to wrap in [`TrackingAllocator`].
#[cfg(feature = "jemalloc")]
pub use tikv_jemallocator::Jemalloc;

/// Starts a thread that calls [`trim`] every `interval`, until the returned handle is dropped.
///
/// Used for `ULTRA_TRIM_INTERVAL_MS`; nothing is spawned unless this is called.
pub fn spawn_periodic_trim(interval: std::time::Duration) -> std::io::Result<PeriodicTrim> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("ultra-trim".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                // Nothing to do without jemalloc; a failure now will fail again next time.
                let _ = trim();
            }
        })?;
    Ok(PeriodicTrim {
        stop: Some(tx),
        handle: Some(handle),
    })
}

/// Handle of the periodic trim thread; dropping it stops and joins the thread.
#[derive(Debug)]
pub struct PeriodicTrim {
    stop: Option<std::sync::mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for PeriodicTrim {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
