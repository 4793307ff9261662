//! Figures: one cache's [`CacheStats`] and the process totals ([`caches_total`]).

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Why an entry left the cache other than by `delete` or `clear`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvictionReason {
    /// The entry bound (`max_entries`) was exceeded.
    Capacity,
    /// The byte bound (`max_bytes`) was exceeded.
    Size,
    /// The entry's TTL had run out.
    Expired,
}

impl EvictionReason {
    /// Every reason, in the order of [`EvictionReason::index`].
    pub const ALL: [EvictionReason; 3] = [
        EvictionReason::Capacity,
        EvictionReason::Size,
        EvictionReason::Expired,
    ];

    /// Lowercase name, the Prometheus `reason` label.
    pub const fn name(self) -> &'static str {
        match self {
            EvictionReason::Capacity => "capacity",
            EvictionReason::Size => "size",
            EvictionReason::Expired => "expired",
        }
    }

    /// Position in [`EvictionReason::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for EvictionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Figures of one cache, or of all caches of the process ([`caches_total`]).
///
/// `hits` … `evictions_expired` are counters; `caches`, `entries` and `bytes` are gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Caches counted (1 for one cache).
    pub caches: u64,
    /// Lookups (`get`, `peek`, `has`) that found a live entry.
    pub hits: u64,
    /// Lookups that found nothing or an expired entry.
    pub misses: u64,
    /// `set`s that added a key (including over an expired entry).
    pub inserts: u64,
    /// `set`s that replaced the value of a live key.
    pub updates: u64,
    /// Entries evicted for the entry bound.
    pub evictions_capacity: u64,
    /// Entries evicted for the byte bound.
    pub evictions_size: u64,
    /// Entries removed because their TTL had run out.
    pub evictions_expired: u64,
    /// Entries held (including expired ones not yet removed).
    pub entries: u64,
    /// Sum of the entries' weights ([`entry_weight`](super::entry_weight)).
    pub bytes: u64,
}

impl CacheStats {
    /// Evictions for one reason.
    pub fn evictions(&self, reason: EvictionReason) -> u64 {
        match reason {
            EvictionReason::Capacity => self.evictions_capacity,
            EvictionReason::Size => self.evictions_size,
            EvictionReason::Expired => self.evictions_expired,
        }
    }

    /// Evictions for every reason.
    pub fn evictions_total(&self) -> u64 {
        self.evictions_capacity + self.evictions_size + self.evictions_expired
    }
}

pub(super) struct Totals {
    pub(super) caches: AtomicU64,
    pub(super) hits: AtomicU64,
    pub(super) misses: AtomicU64,
    pub(super) inserts: AtomicU64,
    pub(super) updates: AtomicU64,
    pub(super) evictions: [AtomicU64; 3],
    pub(super) entries: AtomicI64,
    pub(super) bytes: AtomicI64,
}

pub(super) static TOTALS: Totals = Totals {
    caches: AtomicU64::new(0),
    hits: AtomicU64::new(0),
    misses: AtomicU64::new(0),
    inserts: AtomicU64::new(0),
    updates: AtomicU64::new(0),
    evictions: [const { AtomicU64::new(0) }; 3],
    entries: AtomicI64::new(0),
    bytes: AtomicI64::new(0),
};

/// Figures summed over the caches of the process. Never allocates.
///
/// `caches`, `entries` and `bytes` cover the caches alive now (a dropped cache subtracts its
/// own); the counters (`hits` … `evictions_expired`) count since the process started,
/// dropped caches included, so they never go down and can be exported as Prometheus counters.
/// Each figure is exact once no cache operation is in flight.
pub fn caches_total() -> CacheStats {
    let e = &TOTALS.evictions;
    CacheStats {
        caches: TOTALS.caches.load(Relaxed),
        hits: TOTALS.hits.load(Relaxed),
        misses: TOTALS.misses.load(Relaxed),
        inserts: TOTALS.inserts.load(Relaxed),
        updates: TOTALS.updates.load(Relaxed),
        evictions_capacity: e[0].load(Relaxed),
        evictions_size: e[1].load(Relaxed),
        evictions_expired: e[2].load(Relaxed),
        entries: TOTALS.entries.load(Relaxed).max(0) as u64,
        bytes: TOTALS.bytes.load(Relaxed).max(0) as u64,
    }
}

/// One cache's counters and weight; every change is mirrored into [`TOTALS`].
#[derive(Debug, Default)]
pub(super) struct Book {
    pub(super) bytes: usize,
    pub(super) hits: u64,
    pub(super) misses: u64,
    pub(super) inserts: u64,
    pub(super) updates: u64,
    pub(super) evictions: [u64; 3],
}

impl Book {
    pub(super) fn hit(&mut self) {
        self.hits += 1;
        TOTALS.hits.fetch_add(1, Relaxed);
    }

    pub(super) fn miss(&mut self) {
        self.misses += 1;
        TOTALS.misses.fetch_add(1, Relaxed);
    }

    pub(super) fn inserted(&mut self, weight: usize) {
        self.inserts += 1;
        self.bytes += weight;
        TOTALS.inserts.fetch_add(1, Relaxed);
        TOTALS.entries.fetch_add(1, Relaxed);
        TOTALS.bytes.fetch_add(weight as i64, Relaxed);
    }

    pub(super) fn updated(&mut self, old: usize, new: usize) {
        self.updates += 1;
        self.bytes = self.bytes - old + new;
        TOTALS.updates.fetch_add(1, Relaxed);
        TOTALS.bytes.fetch_add(new as i64 - old as i64, Relaxed);
    }

    /// An entry refused for `max_bytes` (with [`Policy::count_refusals`](super::Policy::count_refusals)): one `size` eviction.
    pub(super) fn refused(&mut self) {
        let size = EvictionReason::Size.index();
        self.evictions[size] += 1;
        TOTALS.evictions[size].fetch_add(1, Relaxed);
    }

    /// `n` entries weighing `weight` together left; `reason` is `None` for delete and clear.
    pub(super) fn removed(&mut self, n: usize, weight: usize, reason: Option<EvictionReason>) {
        if n == 0 {
            return;
        }
        self.bytes -= weight;
        TOTALS.entries.fetch_sub(n as i64, Relaxed);
        TOTALS.bytes.fetch_sub(weight as i64, Relaxed);
        if let Some(r) = reason {
            self.evictions[r.index()] += n as u64;
            TOTALS.evictions[r.index()].fetch_add(n as u64, Relaxed);
        }
    }
}
