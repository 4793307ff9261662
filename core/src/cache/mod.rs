//! An LRU cache with TTL over the [`lru`] crate, whose every byte is credited to
//! [`Subsystem::Cache`](ultra_alloc::Subsystem::Cache).
//!
//! ```
//! use ultra_core::cache::{Cache, CacheOptions, SetOutcome, Value};
//!
//! let mut cache = Cache::new(CacheOptions {
//!     max_entries: Some(2),
//!     ..CacheOptions::default()
//! })?;
//! assert_eq!(cache.set("a", "alpha", None)?, SetOutcome::Inserted);
//! cache.set("b", &b"\x00\x01"[..], None)?;
//! assert_eq!(cache.get("a"), Some(Value::str("alpha"))); // "a" is now the most recent
//! cache.set("c", "gamma", None)?; // evicts "b", the least recently used
//! assert!(!cache.has("b"));
//! assert_eq!(cache.stats().evictions_capacity, 1);
//! # Ok::<(), ultra_core::cache::CacheError>(())
//! ```
//!
//! # Semantics (the defaults of [`Policy`]; `lru-cache`'s where nothing else decides)
//!
//! - **Bounds.** [`CacheOptions`] has three bounds — entries, bytes, default TTL — and at least
//!   one is required. As in `lru-cache`, `0` means "no bound" for each of them.
//! - **Weight.** An entry weighs `key bytes + value bytes + ENTRY_OVERHEAD` (see
//!   [`ENTRY_OVERHEAD`]); [`Cache::bytes`] is the sum of the weights and tracks the allocator's
//!   `Cache` live bytes within a documented bound, so `max_bytes` bounds what the cache
//!   really holds.
//! - **Eviction.** After an insert or update, entries are evicted from the least recently used
//!   end until both bounds hold. Each eviction is counted under one [`EvictionReason`]: `expired`
//!   if the victim's TTL had already run out, else `capacity` if the entry bound was exceeded,
//!   else `size`. An entry heavier than `max_bytes` or [`CacheOptions::max_entry_bytes`] is
//!   not stored and evicts nothing: `set` returns [`CacheError::EntryTooLarge`] and removes any
//!   previous value of that key (as `lru-cache` does), so the cache never serves a value the
//!   caller meant to replace.
//! - **TTL.** An entry set at time `t` with a TTL of `d` ms is live while `now < t + d`. A TTL of
//!   `0` means "never expires" (per entry it overrides a default TTL). An expired (*stale*)
//!   entry is a miss: lookups treat it as absent and remove it on the spot, counted as an
//!   `expired` eviction, unless [`ReadOptions`] (the cache's, or per call) say to hand out its
//!   value (`allow_stale`) or to keep it (`keep_stale`), `lru-cache`'s stale-while-revalidate.
//!   Until something removes it or [`Cache::purge_expired`] runs, it still counts in
//!   [`Cache::len`] and [`Cache::bytes`] (like `lru-cache`'s `size`).
//! - **Recency.** [`Cache::get`] and [`Cache::set`] make the entry the most recent;
//!   [`Cache::peek`], [`Cache::has`] and [`Cache::remaining_ttl`] do not. With
//!   [`CacheOptions::update_age_on_get`], a hit also restarts the entry's TTL.
//! - **Stats.** `get`, `peek` and `has` count a hit or a miss; `remaining_ttl` and `keys` count
//!   nothing. [`caches_total`] sums every cache of the process without allocating.
//! - **Policy.** [`CacheOptions::policy`] changes these choices one by one, each named for
//!   what it does ([`Policy`]): how an entry is weighed ([`EntryWeight`]), whether `peek` and
//!   `has` count, whether they (and `remaining_ttl`) remove an expired entry, how `delete`
//!   treats one, whether a refused entry counts as a `size` eviction, and whether a TTL-only
//!   cache purges itself. They are resolved once, when the cache is built. Everything else
//!   (eviction order, TTLs, bounds) is the same under every policy. The Node API picks the
//!   choices that add up to the `lru-cache` package's behaviour.
//!
//! # Memory attribution
//!
//! Every operation that can allocate runs inside `scope(Subsystem::Cache, ..)`: keys, values,
//! list nodes and the hash index are credited to `Cache`. Values handed back to callers
//! ([`Cache::get`], the closures of [`Cache::get_with`]) are produced outside that scope, in
//! the caller's, so `Cache` shows what the cache holds, not what callers keep. Values are
//! copied in exactly once (from a borrowed [`ValueRef`]) so that they are credited to `Cache`
//! whoever allocated the caller's buffer.
//!
//! # Threads
//!
//! [`Cache`] is `Send` and is used through `&mut self`. [`SharedCache`] wraps one in a mutex for
//! use from several threads, and [`SharedCache::named`] gives every thread (every Node worker)
//! the same cache by name.

mod clock;
mod entry;
mod options;
mod policy;
mod shared;
mod stats;
mod store;
mod value;

pub use clock::{Clock, ManualClock, MonotonicClock, RemainingTtl};
pub use entry::{entry_weight, EntryInfo, ENTRY_OVERHEAD, NODE_BYTES};
pub use options::{CacheError, CacheOptions, ReadOptions};
pub use policy::{EntryWeight, Policy};
pub use shared::SharedCache;
pub use stats::{caches_total, CacheStats, EvictionReason};
pub use store::{Cache, SetOutcome};
pub use value::{Value, ValueKind, ValueRef};

#[cfg(test)]
mod tests;
