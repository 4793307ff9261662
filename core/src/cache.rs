//! An LRU cache with TTL over the [`lru`] crate, whose every byte is credited to
//! [`Subsystem::Cache`].
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
//! # Semantics (those of the `lru-cache` npm package where the issue is silent)
//!
//! - **Bounds.** [`CacheOptions`] has three bounds — entries, bytes, default TTL — and at least
//!   one is required. As in `lru-cache`, `0` means "no bound" for each of them.
//! - **Weight.** An entry weighs `key bytes + value bytes + ENTRY_OVERHEAD` (see
//!   [`ENTRY_OVERHEAD`]); [`Cache::bytes`] is the sum of the weights and tracks the allocator's
//!   `Cache` live bytes within a documented bound.
//! - **Eviction.** After an insert or update, entries are evicted from the least recently used
//!   end until both bounds hold. Each eviction is counted under one [`EvictionReason`]: `expired`
//!   if the victim's TTL had already run out, else `capacity` if the entry bound was exceeded,
//!   else `size`. An entry heavier than `max_bytes` or [`CacheOptions::max_entry_bytes`] is
//!   not stored and evicts nothing: `set` returns [`CacheError::EntryTooLarge`] and removes any
//!   previous value of that key (as `lru-cache` does), so the cache never serves a value the
//!   caller meant to replace.
//! - **TTL.** An entry set at time `t` with a TTL of `d` ms is live while `now <= t + d` (as in
//!   `lru-cache`, stale once its age exceeds its TTL). A TTL of
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
//! - **Accounting.** All of the above is [`Accounting::Memory`], the default. The Node API
//!   keeps the `lru-cache` package's figures instead, [`Accounting::LruCache`]: weights
//!   without the overhead, only `get` counting hits and misses, and a refused entry counted as
//!   a `size` eviction. Everything else (eviction order, TTLs, bounds) is the same.
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

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use lru::LruCache;
use parking_lot::Mutex;
use ultra_alloc::{Config, Subsystem};

/// Fixed bytes added to every entry's weight, on top of its key and value bytes.
///
/// It stands for what the cache allocates per entry besides the key and value themselves: the
/// `lru` list node that holds the key, the value and the entry's TTL state ([`NODE_BYTES`],
/// 72 on 64-bit targets), plus one entry's share of the hash index. The index is a hashbrown
/// table of 16-byte slots and one control byte per slot, whose power-of-two slot count is
/// filled to between 7/16 and 7/8 once it has grown: 19.4 to 38.9 bytes per entry. 29, the
/// middle of that range, keeps the error within ±10 bytes per entry:
/// `ENTRY_OVERHEAD = NODE_BYTES + 29` (101 on 64-bit targets).
///
/// Bounds, with `live` the allocator's `Cache` live bytes minus those of the empty cache
/// (checked by `tests/cache_memory.rs` under the tracking allocator):
///
/// - for a cache whose entries were only added (or updated):
///   `|live − bytes()| ≤ 10 × len + 64` — the constant covers the table's 16 trailing control
///   bytes and its minimum of 4 slots;
/// - after removals, the table keeps its size until the entry count falls to a quarter of its
///   high-water mark (when that mark is at least 64), then it is rebuilt for the entries left.
///   So `−(10 × len + 64) ≤ live − bytes() ≤ 130 × len + 2304` (a table 4× larger than needed,
///   or one of 128 slots);
/// - [`Cache::clear`] frees the table: `live` is back to exactly 0.
pub const ENTRY_OVERHEAD: usize = NODE_BYTES + 29;

/// Bytes of one `lru` list node of a [`Cache`] (key box, value, TTL state, two links).
pub const NODE_BYTES: usize = 2 * std::mem::size_of::<usize>()
    + std::mem::size_of::<Box<[u8]>>()
    + std::mem::size_of::<Entry>();

/// The weight of an entry with a key of `key_len` bytes and a value of `value_len` bytes
/// under [`Accounting::Memory`] (see [`Accounting::weight`] for the other accountings).
pub const fn entry_weight(key_len: usize, value_len: usize) -> usize {
    key_len
        .saturating_add(value_len)
        .saturating_add(ENTRY_OVERHEAD)
}

/// What a cache's figures count: how entries are weighed for `max_bytes` and
/// [`Cache::bytes`], and which look-ups count as hits and misses.
///
/// ```
/// use ultra_core::cache::{Accounting, Cache, CacheOptions, ENTRY_OVERHEAD};
///
/// let mut cache = Cache::new(CacheOptions {
///     max_bytes: Some(20),
///     accounting: Accounting::LruCache,
///     ..CacheOptions::default()
/// })?;
/// cache.set("k1", "12345678", None)?; // 2 + 8 bytes
/// assert_eq!(cache.bytes(), 10);
/// cache.peek("k1"); // counts nothing under LruCache
/// assert!(cache.set("k2", "x".repeat(30).as_str(), None).is_err()); // refused...
/// assert_eq!(cache.stats().evictions_size, 1); // ...and counted as a size eviction
/// assert_eq!((cache.stats().hits, cache.stats().misses), (0, 0));
/// assert_eq!(Accounting::Memory.weight(2, 8), 10 + ENTRY_OVERHEAD);
/// # Ok::<(), ultra_core::cache::CacheError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Accounting {
    /// ultra's own figures: an entry weighs `key + value + ENTRY_OVERHEAD` bytes, so that
    /// [`Cache::bytes`] tracks the memory the cache holds; `get`, `peek` and `has` count hits
    /// and misses; an entry refused for `max_bytes` is not an eviction.
    #[default]
    Memory,
    /// The behaviour of the `lru-cache` npm package, which the Node API keeps:
    ///
    /// - an entry weighs its key and value bytes, at least 1 (lru-cache's
    ///   `sizeCalculation`), so `max_bytes` may be as low as 1;
    /// - only `get` counts hits and misses (`peek` and `has` count nothing);
    /// - only `get`, `set` and [`Cache::purge_expired`] remove an expired entry (counted as an
    ///   `expired` eviction): `peek`, `has` and `remaining_ttl` answer "absent" and leave it,
    ///   and `delete` removes it without counting an eviction and answers `true`;
    /// - an entry refused for `max_bytes` counts as one `size` eviction (the key's previous
    ///   value, if any, is removed without being counted);
    /// - a cache bounded by TTL alone purges its expired entries during `set` whenever its
    ///   length doubled since the last purge (at least 64 entries), so that it stays within
    ///   twice its live entries, as lru-cache's `ttlAutopurge` keeps it bounded.
    LruCache,
}

impl Accounting {
    /// The weight of an entry with a key of `key_len` bytes and a value of `value_len` bytes.
    pub const fn weight(self, key_len: usize, value_len: usize) -> usize {
        match self {
            Accounting::Memory => entry_weight(key_len, value_len),
            Accounting::LruCache => {
                let w = key_len.saturating_add(value_len);
                if w == 0 {
                    1
                } else {
                    w
                }
            }
        }
    }

    /// The smallest `max_bytes` under which an entry can be stored.
    pub const fn min_max_bytes(self) -> usize {
        match self {
            Accounting::Memory => ENTRY_OVERHEAD,
            Accounting::LruCache => 1,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// What a [`Value`]'s bytes stand for, so that the Node side gives back the type it stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValueKind {
    /// UTF-8 text (a JS string).
    Str = 0,
    /// Opaque bytes (a JS `Buffer` or `Uint8Array`).
    Bytes = 1,
}

/// A cached value: bytes plus the [`ValueKind`] they were stored as.
///
/// The cache does not check that a `Str` value holds valid UTF-8; [`Value::as_str`] does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Value {
    /// What the bytes stand for.
    pub kind: ValueKind,
    /// The bytes.
    pub data: Box<[u8]>,
}

impl Value {
    /// A `Str` value holding a copy of `s`.
    pub fn str(s: &str) -> Value {
        Value {
            kind: ValueKind::Str,
            data: s.as_bytes().into(),
        }
    }

    /// A `Bytes` value holding a copy of `b`.
    pub fn bytes(b: &[u8]) -> Value {
        Value {
            kind: ValueKind::Bytes,
            data: b.into(),
        }
    }

    /// The text of a `Str` value, or `None` for `Bytes` or invalid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self.kind {
            ValueKind::Str => std::str::from_utf8(&self.data).ok(),
            ValueKind::Bytes => None,
        }
    }

    /// A borrowed view of this value.
    pub fn as_ref(&self) -> ValueRef<'_> {
        ValueRef {
            kind: self.kind,
            data: &self.data,
        }
    }
}

/// A borrowed value, what [`Cache::set`] copies from. `&str`, `&[u8]` and `&Value` convert
/// into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValueRef<'a> {
    /// What the bytes stand for.
    pub kind: ValueKind,
    /// The bytes.
    pub data: &'a [u8],
}

impl<'a> ValueRef<'a> {
    /// A `Str` view of `s`.
    pub fn str(s: &'a str) -> ValueRef<'a> {
        ValueRef {
            kind: ValueKind::Str,
            data: s.as_bytes(),
        }
    }

    /// A `Bytes` view of `b`.
    pub fn bytes(b: &'a [u8]) -> ValueRef<'a> {
        ValueRef {
            kind: ValueKind::Bytes,
            data: b,
        }
    }

    /// An owned copy, allocated in the current scope.
    pub fn to_value(self) -> Value {
        Value {
            kind: self.kind,
            data: self.data.into(),
        }
    }
}

impl<'a> From<&'a str> for ValueRef<'a> {
    fn from(s: &'a str) -> Self {
        ValueRef::str(s)
    }
}

impl<'a> From<&'a [u8]> for ValueRef<'a> {
    fn from(b: &'a [u8]) -> Self {
        ValueRef::bytes(b)
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(v: &'a Value) -> Self {
        v.as_ref()
    }
}

// ---------------------------------------------------------------------------------------------
// Clocks

/// The time source of a cache's TTLs. Implementations must be monotonic: a clock that goes
/// back only makes entries live longer.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Time elapsed since a fixed origin of this clock's choosing.
    fn now(&self) -> Duration;
}

/// The default clock: [`Instant`]-based, its origin at creation.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock reading zero now.
    pub fn new() -> Self {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only when told to, for tests.
///
/// ```
/// use std::sync::Arc;
/// use ultra_core::cache::{Cache, CacheOptions, ManualClock};
///
/// let clock = Arc::new(ManualClock::new());
/// let mut cache = Cache::with_clock(
///     CacheOptions { ttl_ms: Some(100.0), ..CacheOptions::default() },
///     clock.clone(),
/// )?;
/// cache.set("k", "v", None)?;
/// clock.advance_ms(100);
/// assert!(cache.has("k")); // stale once its age exceeds its TTL, as in lru-cache
/// clock.advance_ms(1);
/// assert!(!cache.has("k"));
/// # Ok::<(), ultra_core::cache::CacheError>(())
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock reading zero.
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// Moves the clock forward by `d` (saturating).
    pub fn advance(&self, d: Duration) {
        let d = duration_ns(d);
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .nanos
            .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_add(d)));
    }

    /// Moves the clock forward by `ms` milliseconds.
    pub fn advance_ms(&self, ms: u64) {
        self.advance(Duration::from_millis(ms));
    }

    /// Sets the clock's reading.
    pub fn set(&self, now: Duration) {
        self.nanos.store(duration_ns(now), Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Relaxed))
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Options and errors

/// How a [`Cache`] is bounded. At least one bound must be set; `0` means "no bound" for each
/// (as in `lru-cache`).
///
/// ```
/// use ultra_core::cache::CacheOptions;
/// use ultra_core::cache::Cache;
/// let options = CacheOptions {
///     max_entries: Some(10_000),
///     ttl_ms: Some(60_000.0),
///     ..Default::default()
/// };
/// assert!(Cache::new(options).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CacheOptions {
    /// Maximum number of entries; beyond it the least recently used are evicted (`capacity`).
    pub max_entries: Option<usize>,
    /// Maximum total weight in bytes (see [`ENTRY_OVERHEAD`]); beyond it the least recently
    /// used are evicted (`size`). Must be at least [`ENTRY_OVERHEAD`] when set.
    pub max_bytes: Option<usize>,
    /// Default time to live of entries, in milliseconds: finite and `>= 0`. Fractions are kept
    /// to the nanosecond, rounded up.
    pub ttl_ms: Option<f64>,
    /// Whether a hit ([`Cache::get`]) restarts the entry's TTL.
    pub update_age_on_get: bool,
    /// Whether look-ups without options of their own hand out a stale entry's value
    /// ([`ReadOptions::allow_stale`]).
    pub allow_stale: bool,
    /// Whether `get`s without options of their own leave a stale entry in place
    /// ([`ReadOptions::keep_stale`]).
    pub keep_stale: bool,
    /// Largest weight of one entry; a heavier entry is refused as one heavier than
    /// `max_bytes` is, and evicts nothing. `None` or `0`: only `max_bytes` bounds an entry.
    pub max_entry_bytes: Option<usize>,
    /// What the cache's figures count (default [`Accounting::Memory`]).
    pub accounting: Accounting,
}

impl CacheOptions {
    /// The defaults of caches created without options: `ULTRA_CACHE_MAX_ENTRIES`,
    /// `ULTRA_CACHE_MAX_BYTES`, `ULTRA_CACHE_TTL_MS`.
    pub fn from_config(config: &Config) -> CacheOptions {
        CacheOptions {
            max_entries: config.cache_max_entries,
            max_bytes: config.cache_max_bytes,
            // Exact for every TTL below 2^53 ms (285 000 years).
            ttl_ms: config.cache_ttl_ms.map(|ms| ms as f64),
            update_age_on_get: false,
            allow_stale: false,
            keep_stale: false,
            max_entry_bytes: None,
            accounting: Accounting::Memory,
        }
    }

    /// The [`ReadOptions`] of look-ups that give none of their own.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            allow_stale: self.allow_stale,
            update_age: self.update_age_on_get,
            keep_stale: self.keep_stale,
        }
    }

    /// The same options with every `0` written as `None`.
    pub fn normalized(self) -> CacheOptions {
        CacheOptions {
            max_entries: self.max_entries.filter(|&n| n != 0),
            max_bytes: self.max_bytes.filter(|&n| n != 0),
            ttl_ms: self.ttl_ms.filter(|&t| t != 0.0),
            update_age_on_get: self.update_age_on_get,
            allow_stale: self.allow_stale,
            keep_stale: self.keep_stale,
            max_entry_bytes: self.max_entry_bytes.filter(|&n| n != 0),
            accounting: self.accounting,
        }
    }
}

/// Why a cache operation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// No bound was given: the cache could grow without limit.
    #[error(
        "a cache needs at least one bound: set max_entries, max_bytes or ttl_ms to a non-zero \
         value (defaults come from ULTRA_CACHE_MAX_ENTRIES, ULTRA_CACHE_MAX_BYTES, \
         ULTRA_CACHE_TTL_MS)"
    )]
    NoBound,
    /// A TTL that is NaN, infinite or negative.
    #[error(
        "invalid {option} {value}: expected a finite number of milliseconds >= 0 \
         (0 = no expiry)"
    )]
    InvalidTtl {
        /// Which TTL: `ttl_ms` (the option) or `per-entry ttl_ms` (of `set`).
        option: &'static str,
        /// The value given.
        value: f64,
    },
    /// `max_bytes` is below the weight of the smallest possible entry.
    #[error(
        "max_bytes {max_bytes} is below the per-entry overhead of {overhead} bytes: no entry \
         could be stored (use 0 for no byte bound)"
    )]
    MaxBytesTooSmall {
        /// The value given.
        max_bytes: usize,
        /// The smallest weight of an entry ([`Accounting::min_max_bytes`]).
        overhead: usize,
    },
    /// `max_entry_bytes` is below the weight of the smallest possible entry.
    #[error(
        "max_entry_bytes {max_entry_bytes} is below the per-entry overhead of {overhead} bytes: \
         no entry could be stored (use 0 for no entry bound)"
    )]
    MaxEntryBytesTooSmall {
        /// The value given.
        max_entry_bytes: usize,
        /// The smallest weight of an entry ([`Accounting::min_max_bytes`]).
        overhead: usize,
    },
    /// An entry heavier than `max_bytes` or `max_entry_bytes`; it was not stored, nothing was
    /// evicted, and any previous value of its key was removed.
    #[error(
        "entry of {weight} bytes (key + value + {overhead} overhead) exceeds {max_bytes}, the \
         largest entry that max_bytes and max_entry_bytes allow: not stored"
    )]
    EntryTooLarge {
        /// The entry's weight (see [`entry_weight`]).
        weight: usize,
        /// The bound it exceeds: the lower of `max_bytes` and `max_entry_bytes`.
        max_bytes: usize,
        /// The per-entry overhead in the weight: [`ENTRY_OVERHEAD`], or 0 under
        /// [`Accounting::LruCache`].
        overhead: usize,
    },
    /// [`SharedCache::named`] with an empty name.
    #[error("a named cache needs a non-empty name")]
    EmptyName,
    /// [`SharedCache::named`] with the name of a live cache that has other options.
    #[error(
        "cache {name:?} already exists with other options ({existing:?}); open it with the same \
         options or use another name"
    )]
    OptionsMismatch {
        /// The name.
        name: String,
        /// The existing cache's (normalized) options.
        existing: Box<CacheOptions>,
    },
}

/// Converts a TTL in ms to ns; 0 = no expiry.
fn ttl_ns(option: &'static str, ms: f64) -> Result<u64, CacheError> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(CacheError::InvalidTtl { option, value: ms });
    }
    if ms == 0.0 {
        return Ok(0);
    }
    let ns = (ms * 1e6).ceil();
    // `as` saturates; a positive TTL never rounds down to "no expiry".
    Ok((ns as u64).max(1))
}

/// Validated bounds; `usize::MAX` / 0 stand for "none".
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_entries: usize,
    max_bytes: usize,
    /// The lower of `max_bytes` and `max_entry_bytes`.
    max_entry: usize,
    default_ttl_ns: u64,
    accounting: Accounting,
}

impl Limits {
    fn new(options: &CacheOptions) -> Result<Limits, CacheError> {
        let o = options.normalized();
        let default_ttl_ns = match o.ttl_ms {
            Some(ms) => ttl_ns("ttl_ms", ms)?,
            None => 0,
        };
        let min = o.accounting.min_max_bytes();
        if let Some(max_entry_bytes) = o.max_entry_bytes.filter(|&n| n < min) {
            return Err(CacheError::MaxEntryBytesTooSmall {
                max_entry_bytes,
                overhead: min,
            });
        }
        if let Some(max_bytes) = o.max_bytes {
            if max_bytes < min {
                return Err(CacheError::MaxBytesTooSmall {
                    max_bytes,
                    overhead: min,
                });
            }
        }
        if o.max_entries.is_none() && o.max_bytes.is_none() && default_ttl_ns == 0 {
            return Err(CacheError::NoBound);
        }
        Ok(Limits {
            max_entries: o.max_entries.unwrap_or(usize::MAX),
            max_bytes: o.max_bytes.unwrap_or(usize::MAX),
            max_entry: o
                .max_bytes
                .unwrap_or(usize::MAX)
                .min(o.max_entry_bytes.unwrap_or(usize::MAX)),
            default_ttl_ns,
            accounting: o.accounting,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Stats

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
    /// Sum of the entries' weights ([`entry_weight`]).
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

struct Totals {
    caches: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    updates: AtomicU64,
    evictions: [AtomicU64; 3],
    entries: AtomicI64,
    bytes: AtomicI64,
}

static TOTALS: Totals = Totals {
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
struct Book {
    bytes: usize,
    hits: u64,
    misses: u64,
    inserts: u64,
    updates: u64,
    evictions: [u64; 3],
}

impl Book {
    fn hit(&mut self) {
        self.hits += 1;
        TOTALS.hits.fetch_add(1, Relaxed);
    }

    fn miss(&mut self) {
        self.misses += 1;
        TOTALS.misses.fetch_add(1, Relaxed);
    }

    fn inserted(&mut self, weight: usize) {
        self.inserts += 1;
        self.bytes += weight;
        TOTALS.inserts.fetch_add(1, Relaxed);
        TOTALS.entries.fetch_add(1, Relaxed);
        TOTALS.bytes.fetch_add(weight as i64, Relaxed);
    }

    fn updated(&mut self, old: usize, new: usize) {
        self.updates += 1;
        self.bytes = self.bytes - old + new;
        TOTALS.updates.fetch_add(1, Relaxed);
        TOTALS.bytes.fetch_add(new as i64 - old as i64, Relaxed);
    }

    /// An entry refused for `max_bytes` ([`Accounting::LruCache`]): one `size` eviction.
    fn refused(&mut self) {
        let size = EvictionReason::Size.index();
        self.evictions[size] += 1;
        TOTALS.evictions[size].fetch_add(1, Relaxed);
    }

    /// `n` entries weighing `weight` together left; `reason` is `None` for delete and clear.
    fn removed(&mut self, n: usize, weight: usize, reason: Option<EvictionReason>) {
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

// ---------------------------------------------------------------------------------------------
// The cache

/// What the `lru` node holds besides the key.
#[derive(Debug)]
struct Entry {
    value: Value,
    /// The entry's TTL in ns; 0 = never expires.
    ttl_ns: u64,
    /// Clock reading (ns) after which the entry is expired; `u64::MAX` = never.
    expires_at: u64,
}

impl Entry {
    fn expired(&self, now: u64) -> bool {
        now > self.expires_at
    }

    fn weight(&self, key: &[u8], accounting: Accounting) -> usize {
        accounting.weight(key.len(), self.value.data.len())
    }
}

fn expiry(now: u64, ttl_ns: u64) -> u64 {
    if ttl_ns == 0 {
        u64::MAX
    } else {
        now.saturating_add(ttl_ns)
    }
}

/// What [`Cache::set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetOutcome {
    /// The key was absent (or expired) and was added.
    Inserted,
    /// The key was live and its value was replaced.
    Updated,
}

/// How a look-up treats an entry whose TTL has run out (a *stale* entry), and whether a hit
/// restarts the TTL. A cache's defaults come from [`CacheOptions::read_options`]; the
/// `*_with_options` methods take them per call.
///
/// ```
/// use std::sync::Arc;
/// use ultra_core::cache::{Cache, CacheOptions, ManualClock, ReadOptions, Value};
///
/// let clock = Arc::new(ManualClock::new());
/// let mut cache = Cache::with_clock(
///     CacheOptions { ttl_ms: Some(10.0), ..CacheOptions::default() },
///     clock.clone(),
/// )?;
/// cache.set("k", "v", None)?;
/// clock.advance_ms(11); // stale: its age exceeds its TTL
/// let keep = ReadOptions { allow_stale: true, keep_stale: true, ..ReadOptions::default() };
/// assert_eq!(cache.get_with_options("k", keep, Value::clone), Some(Value::str("v")));
/// assert_eq!(cache.len(), 1); // kept
/// let once = ReadOptions { allow_stale: true, ..ReadOptions::default() };
/// assert_eq!(cache.get_with_options("k", once, Value::clone), Some(Value::str("v")));
/// assert_eq!(cache.get("k"), None); // served once, then removed
/// # Ok::<(), ultra_core::cache::CacheError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReadOptions {
    /// Hand a stale entry's value to the caller (it still counts as a miss).
    pub allow_stale: bool,
    /// Restart the TTL of a live entry that is found.
    pub update_age: bool,
    /// Leave a stale entry in place (and in its place in the recency order) instead of
    /// removing it.
    pub keep_stale: bool,
}

/// One entry as [`Cache::entries`] shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryInfo<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a Value,
    /// The entry's TTL; `None`: it never expires.
    pub ttl: Option<Duration>,
    /// Time since its TTL started (its `set`, or the last hit that restarted it); zero
    /// without TTL.
    pub age: Duration,
    /// Whether its TTL has run out.
    pub stale: bool,
}

/// The time an entry has left, from [`Cache::remaining_ttl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemainingTtl {
    /// The entry has no TTL.
    NoExpiry,
    /// The entry expires after this long (zero at an age of exactly its TTL: still live).
    Expires(Duration),
}

impl RemainingTtl {
    /// Milliseconds left, `f64::INFINITY` for [`RemainingTtl::NoExpiry`] (what
    /// `lru-cache`'s `getRemainingTTL` answers).
    pub fn as_ms_f64(self) -> f64 {
        match self {
            RemainingTtl::NoExpiry => f64::INFINITY,
            RemainingTtl::Expires(d) => d.as_secs_f64() * 1e3,
        }
    }
}

/// Least-recently-used cache with byte and entry bounds and TTLs; see the [module](self) docs.
pub struct Cache {
    lru: LruCache<Box<[u8]>, Entry>,
    limits: Limits,
    options: CacheOptions,
    /// How look-ups without options of their own treat expired entries.
    read: ReadOptions,
    clock: Arc<dyn Clock>,
    book: Book,
    /// Most entries held since the hash index was last rebuilt.
    high_water: usize,
    /// Length at which a TTL-only cache under [`Accounting::LruCache`] purges next.
    purge_at: usize,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("len", &self.lru.len())
            .field("bytes", &self.book.bytes)
            .field("options", &self.options)
            .field("clock", &self.clock)
            .finish()
    }
}

/// Length from which a TTL-only cache under [`Accounting::LruCache`] purges expired entries.
const PURGE_MIN: usize = 64;

/// Entries below which the hash index is never rebuilt smaller.
const SHRINK_MIN: usize = 64;

impl Cache {
    /// A cache with the given bounds and the [`MonotonicClock`].
    pub fn new(options: CacheOptions) -> Result<Cache, CacheError> {
        let clock: Arc<dyn Clock> =
            ultra_alloc::scope(Subsystem::Cache, || Arc::new(MonotonicClock::new()));
        Cache::with_clock(options, clock)
    }

    /// A cache with the given bounds, reading time from `clock`.
    pub fn with_clock(options: CacheOptions, clock: Arc<dyn Clock>) -> Result<Cache, CacheError> {
        let limits = Limits::new(&options)?;
        let lru = ultra_alloc::scope(Subsystem::Cache, LruCache::unbounded);
        TOTALS.caches.fetch_add(1, Relaxed);
        Ok(Cache {
            lru,
            limits,
            read: options.read_options(),
            options: options.normalized(),
            clock,
            book: Book::default(),
            high_water: 0,
            purge_at: PURGE_MIN,
        })
    }

    /// The options, normalized (`0` written as `None`).
    pub fn options(&self) -> CacheOptions {
        self.options
    }

    fn now(&self) -> u64 {
        duration_ns(self.clock.now())
    }

    /// Looks `key` up; `f` sees the value of a live entry, outside the `Cache` scope.
    ///
    /// A hit makes the entry the most recent and, with `update_age_on_get`, restarts its TTL.
    /// Use this to copy the value straight where it goes (e.g. into a JS string) without an
    /// intermediate copy. An expired entry is treated as [`CacheOptions::read_options`] say
    /// (by default: a miss, and removed).
    pub fn get_with<R>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        let read = self.read;
        self.get_with_options(key, read, f)
    }

    /// [`Cache::get_with`] with per-call [`ReadOptions`] instead of the cache's.
    ///
    /// A live entry becomes the most recent (and with `update_age` its TTL restarts). An
    /// expired entry counts a miss and keeps its place; `f` sees its value only with
    /// `allow_stale`; it is removed (an `expired` eviction) unless `keep_stale`.
    pub fn get_with_options<R>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        read: ReadOptions,
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        let key = key.as_ref();
        // No scope: a look-up allocates nothing, and a free is debited from the block's own
        // subsystem wherever it happens. The clock is read only for an entry that expires.
        // An entry that may stay in place while expired is looked up without promoting it.
        let clock = &self.clock;
        let found = if read.keep_stale {
            self.lru.peek_mut(key)
        } else {
            self.lru.get_mut(key)
        };
        let Some(e) = found else {
            self.book.miss();
            return None;
        };
        if e.ttl_ns != 0 {
            let now = duration_ns(clock.now());
            if e.expired(now) {
                let r = read.allow_stale.then(|| f(&e.value));
                if !read.keep_stale {
                    self.remove_expired(key);
                }
                self.book.miss();
                return r;
            }
            if read.update_age {
                e.expires_at = expiry(now, e.ttl_ns);
            }
        }
        let r = f(&e.value);
        if read.keep_stale {
            self.lru.promote(key);
        }
        self.book.hit();
        Some(r)
    }

    /// A copy of the live value of `key` (allocated in the caller's scope); see
    /// [`Cache::get_with`].
    pub fn get(&mut self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<Value> {
        self.get_with(key, Value::clone)
    }

    /// Like [`Cache::get_with`], but leaves recency and age alone (and, under
    /// [`Accounting::LruCache`], counts no hit or miss).
    pub fn peek_with<R>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        let read = self.read;
        self.peek_with_options(key, read, f)
    }

    /// [`Cache::peek_with`] with per-call [`ReadOptions`]: `f` sees an expired entry's value
    /// with `allow_stale`. Under [`Accounting::Memory`] an expired entry is removed unless
    /// `keep_stale`; under [`Accounting::LruCache`] `peek` never removes one. `update_age` is
    /// not used.
    pub fn peek_with_options<R>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        read: ReadOptions,
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        let key = key.as_ref();
        // No scope and no clock read without a TTL, as in `get_with`.
        let counts = self.limits.accounting == Accounting::Memory;
        let clock = &self.clock;
        let (r, live) = match self.lru.peek(key) {
            None => (None, false),
            Some(e) if e.ttl_ns == 0 || !e.expired(duration_ns(clock.now())) => {
                (Some(f(&e.value)), true)
            }
            Some(e) => {
                let r = read.allow_stale.then(|| f(&e.value));
                if counts && !read.keep_stale {
                    self.remove_expired(key);
                }
                (r, false)
            }
        };
        if counts {
            if live {
                self.book.hit();
            } else {
                self.book.miss();
            }
        }
        r
    }

    /// A copy of the live value of `key`, leaving recency and age alone.
    pub fn peek(&mut self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<Value> {
        self.peek_with(key, Value::clone)
    }

    /// Whether `key` has a live entry; counts a hit or a miss (not under
    /// [`Accounting::LruCache`]), leaves recency alone.
    pub fn has(&mut self, key: &(impl AsRef<[u8]> + ?Sized)) -> bool {
        self.has_with_options(key, false)
    }

    /// [`Cache::has`]; with `update_age`, a live entry's TTL restarts. An expired entry is
    /// never "had", whatever the [`ReadOptions`] of the cache.
    pub fn has_with_options(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        update_age: bool,
    ) -> bool {
        let key = key.as_ref();
        let read = ReadOptions {
            allow_stale: false,
            ..self.read
        };
        if !update_age {
            return self.peek_with_options(key, read, |_| ()).is_some();
        }
        let now = self.now();
        let found = self.peek_with_options(key, read, |_| ()).is_some();
        if found {
            if let Some(e) = self.lru.peek_mut(key) {
                e.expires_at = expiry(now, e.ttl_ns);
            }
        }
        found
    }

    /// Removes the expired entry of `key` (known to be there).
    fn remove_expired(&mut self, key: &[u8]) {
        // Shrinking the index reallocates it: in the Cache scope.
        let _guard = Subsystem::Cache.enter();
        if let Some(e) = self.lru.pop(key) {
            self.book.removed(
                1,
                e.weight(key, self.limits.accounting),
                Some(EvictionReason::Expired),
            );
            drop(e);
            self.maybe_shrink();
        }
    }

    /// Stores a copy of `value` under `key`, the most recent entry, then evicts from the least
    /// recent end until the bounds hold.
    ///
    /// `ttl_ms`: `None` uses the cache's default TTL, `Some(0.0)` means no expiry, anything
    /// else must be finite and positive. Errors: [`CacheError::InvalidTtl`] (nothing changes),
    /// [`CacheError::EntryTooLarge`] (not stored, and any previous value of `key` removed).
    pub fn set<'v>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        value: impl Into<ValueRef<'v>>,
        ttl_ms: Option<f64>,
    ) -> Result<SetOutcome, CacheError> {
        self.set_aged(key, value, ttl_ms, Duration::ZERO)
    }

    /// [`Cache::set`] of an entry whose TTL started `age` ago (to restore one that
    /// [`Cache::entries`] showed, e.g. after a restart): it expires after `ttl - age`, and is
    /// stored even when already expired (stale). Without TTL, `age` is not used.
    pub fn set_aged<'v>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        value: impl Into<ValueRef<'v>>,
        ttl_ms: Option<f64>,
        age: Duration,
    ) -> Result<SetOutcome, CacheError> {
        let key = key.as_ref();
        let value = value.into();
        let ttl_ns = match ttl_ms {
            None => self.limits.default_ttl_ns,
            Some(ms) => ttl_ns("per-entry ttl_ms", ms)?,
        };
        let _guard = Subsystem::Cache.enter();
        let now = self.now();
        let accounting = self.limits.accounting;
        let weight = accounting.weight(key.len(), value.data.len());
        if weight > self.limits.max_entry {
            if let Some(e) = self.lru.pop(key) {
                let reason = match accounting {
                    Accounting::Memory => e.expired(now).then_some(EvictionReason::Expired),
                    Accounting::LruCache => None,
                };
                self.book.removed(1, e.weight(key, accounting), reason);
                drop(e);
                self.maybe_shrink();
            }
            if accounting == Accounting::LruCache {
                self.book.refused();
            }
            return Err(CacheError::EntryTooLarge {
                weight,
                max_bytes: self.limits.max_entry,
                overhead: match accounting {
                    Accounting::Memory => ENTRY_OVERHEAD,
                    Accounting::LruCache => 0,
                },
            });
        }
        let expires_at = match expiry(now, ttl_ns) {
            u64::MAX => u64::MAX,
            at => at.saturating_sub(duration_ns(age)),
        };
        let outcome = match self.lru.get_mut(key) {
            Some(e) => {
                let old = e.weight(key, self.limits.accounting);
                let was_expired = e.expired(now);
                e.value = value.to_value();
                e.ttl_ns = ttl_ns;
                e.expires_at = expires_at;
                if was_expired {
                    self.book.removed(1, old, Some(EvictionReason::Expired));
                    self.book.inserted(weight);
                    SetOutcome::Inserted
                } else {
                    self.book.updated(old, weight);
                    SetOutcome::Updated
                }
            }
            None => {
                let entry = Entry {
                    value: value.to_value(),
                    ttl_ns,
                    expires_at,
                };
                self.lru.push(Box::from(key), entry);
                self.book.inserted(weight);
                self.high_water = self.high_water.max(self.lru.len());
                SetOutcome::Inserted
            }
        };
        self.evict_to_fit(now);
        self.autopurge();
        self.maybe_shrink();
        Ok(outcome)
    }

    /// Keeps a TTL-only cache under [`Accounting::LruCache`] within twice its live entries
    /// (amortised O(1) per `set`).
    fn autopurge(&mut self) {
        let l = &self.limits;
        let ttl_only = l.max_entries == usize::MAX && l.max_bytes == usize::MAX;
        if l.accounting != Accounting::LruCache || !ttl_only || self.lru.len() < self.purge_at {
            return;
        }
        self.purge_expired();
        self.purge_at = self.lru.len().saturating_mul(2).max(PURGE_MIN);
    }

    fn evict_to_fit(&mut self, now: u64) {
        loop {
            let over_entries = self.lru.len() > self.limits.max_entries;
            if !over_entries && self.book.bytes <= self.limits.max_bytes {
                return;
            }
            let Some((key, e)) = self.lru.pop_lru() else {
                return;
            };
            let reason = if e.expired(now) {
                EvictionReason::Expired
            } else if over_entries {
                EvictionReason::Capacity
            } else {
                EvictionReason::Size
            };
            self.book
                .removed(1, e.weight(&key, self.limits.accounting), Some(reason));
        }
    }

    /// Removes `key`. Under [`Accounting::Memory`], returns whether it had a live entry (an
    /// expired one is removed too, counted as an `expired` eviction, and `false` is returned).
    /// Under [`Accounting::LruCache`], returns whether it had an entry, expired or not (not
    /// counted as an eviction), as `lru-cache`'s `delete`.
    pub fn delete(&mut self, key: &(impl AsRef<[u8]> + ?Sized)) -> bool {
        let key = key.as_ref();
        let _guard = Subsystem::Cache.enter();
        let now = self.now();
        let Some(e) = self.lru.pop(key) else {
            return false;
        };
        let live = !e.expired(now);
        let counts = self.limits.accounting == Accounting::Memory;
        let reason = (!live && counts).then_some(EvictionReason::Expired);
        self.book
            .removed(1, e.weight(key, self.limits.accounting), reason);
        drop(e);
        self.maybe_shrink();
        live || !counts
    }

    /// Removes every entry and frees the hash index (not counted as evictions).
    pub fn clear(&mut self) {
        let _guard = Subsystem::Cache.enter();
        let old = std::mem::replace(&mut self.lru, LruCache::unbounded());
        let bytes = self.book.bytes;
        self.book.removed(old.len(), bytes, None);
        self.high_water = 0;
        drop(old);
    }

    /// Removes every expired entry; returns how many (each an `expired` eviction).
    pub fn purge_expired(&mut self) -> usize {
        let _guard = Subsystem::Cache.enter();
        let now = self.now();
        let (mut n, mut weight) = (0, 0);
        let accounting = self.limits.accounting;
        self.lru.retain(|k, e| {
            let expired = e.expired(now);
            if expired {
                n += 1;
                weight += e.weight(k, accounting);
            }
            !expired
        });
        self.book.removed(n, weight, Some(EvictionReason::Expired));
        self.maybe_shrink();
        n
    }

    /// The time `key` has left: `None` if absent or expired (an expired entry is removed,
    /// counted as an `expired` eviction, except under [`Accounting::LruCache`], where it is
    /// left). Counts no hit or miss, leaves recency alone.
    pub fn remaining_ttl(&mut self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<RemainingTtl> {
        let key = key.as_ref();
        let _guard = Subsystem::Cache.enter();
        let now = self.now();
        let e = self.lru.peek(key)?;
        if e.expired(now) {
            if self.limits.accounting == Accounting::Memory {
                self.remove_expired(key);
            }
            return None;
        }
        Some(if e.ttl_ns == 0 || e.expires_at == u64::MAX {
            RemainingTtl::NoExpiry
        } else {
            RemainingTtl::Expires(Duration::from_nanos(e.expires_at - now))
        })
    }

    /// The entries, most recent first, stale ones only with `include_stale`; with their TTL and
    /// age, from which [`Cache::set_aged`] restores them. Counts nothing, changes nothing.
    pub fn entries(&self, include_stale: bool) -> impl Iterator<Item = EntryInfo<'_>> + '_ {
        let now = self.now();
        self.lru.iter().filter_map(move |(k, e)| {
            let stale = e.expired(now);
            if stale && !include_stale {
                return None;
            }
            let (ttl, age) = if e.ttl_ns == 0 {
                (None, Duration::ZERO)
            } else {
                let start = e.expires_at.saturating_sub(e.ttl_ns);
                (
                    Some(Duration::from_nanos(e.ttl_ns)),
                    Duration::from_nanos(now.saturating_sub(start)),
                )
            };
            Some(EntryInfo {
                key: k,
                value: &e.value,
                ttl,
                age,
                stale,
            })
        })
    }

    /// Keys of the live entries, most recent first. Counts nothing, changes nothing.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let now = self.now();
        self.lru
            .iter()
            .filter(move |(_, e)| !e.expired(now))
            .map(|(k, _)| &**k)
    }

    /// Entries held, including expired ones not yet removed.
    pub fn len(&self) -> usize {
        self.lru.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.lru.is_empty()
    }

    /// Sum of the entries' weights (see [`ENTRY_OVERHEAD`]), expired ones not yet removed
    /// included.
    pub fn bytes(&self) -> usize {
        self.book.bytes
    }

    /// This cache's figures.
    pub fn stats(&self) -> CacheStats {
        let b = &self.book;
        CacheStats {
            caches: 1,
            hits: b.hits,
            misses: b.misses,
            inserts: b.inserts,
            updates: b.updates,
            evictions_capacity: b.evictions[0],
            evictions_size: b.evictions[1],
            evictions_expired: b.evictions[2],
            entries: self.lru.len() as u64,
            bytes: b.bytes as u64,
        }
    }

    /// Rebuilds the hash index smaller once the entries fall to a quarter of their high-water
    /// mark (amortized O(1): at least 3/4 of the entries left since the last rebuild).
    fn maybe_shrink(&mut self) {
        let len = self.lru.len();
        if self.high_water >= SHRINK_MIN && len.saturating_mul(4) <= self.high_water {
            // `LruCache` exposes its map's `shrink_to_fit` only through `resize`, which does
            // nothing when the capacity is unchanged. The bounds are ours, so the lru's own
            // capacity is only ever one of these two unreachable values.
            let cap = if self.lru.cap().get() == usize::MAX {
                usize::MAX - 1
            } else {
                usize::MAX
            };
            if let Some(cap) = std::num::NonZeroUsize::new(cap) {
                self.lru.resize(cap);
            }
            self.high_water = len;
        }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        TOTALS.caches.fetch_sub(1, Relaxed);
        TOTALS.entries.fetch_sub(self.lru.len() as i64, Relaxed);
        TOTALS.bytes.fetch_sub(self.book.bytes as i64, Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// Shared and named caches

/// A [`Cache`] behind one mutex, for use from several threads (exporter, Node workers).
///
/// One lock rather than shards: with shards the bounds would have to be split, so a cache of
/// 10 entries over 8 shards would evict at 2 entries in a shard and reject values above
/// `max_bytes / 8`, and recency would be per shard. One lock keeps exactly the semantics of
/// [`Cache`] (which the differential test checks) and exact stats. The critical sections are
/// a hash look-up plus one copy of the value; the callers are a handful of Node workers, each
/// of which pays far more to cross the napi boundary. Closures passed to
/// [`SharedCache::get_with`] run under the lock: keep them short.
#[derive(Debug)]
pub struct SharedCache {
    name: Option<Box<str>>,
    inner: Mutex<Cache>,
}

static REGISTRY: Mutex<Vec<(Box<str>, Weak<SharedCache>)>> = Mutex::new(Vec::new());

impl SharedCache {
    /// A shared cache with the given bounds.
    pub fn new(options: CacheOptions) -> Result<SharedCache, CacheError> {
        Ok(SharedCache::from_cache(Cache::new(options)?))
    }

    /// A shared cache with the given bounds and clock.
    pub fn with_clock(
        options: CacheOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<SharedCache, CacheError> {
        Ok(SharedCache::from_cache(Cache::with_clock(options, clock)?))
    }

    /// Wraps an existing cache.
    pub fn from_cache(cache: Cache) -> SharedCache {
        SharedCache {
            name: None,
            inner: Mutex::new(cache),
        }
    }

    /// The process-wide cache called `name`, created with `options` if no live cache has that
    /// name. The registry holds caches weakly: once every `Arc` is dropped the cache is freed
    /// and the name can be reused with any options.
    ///
    /// If a live cache has that name, it is returned when its options equal `options` (after
    /// [normalization](CacheOptions::normalized)); otherwise the answer is
    /// [`CacheError::OptionsMismatch`] — two parts of a program disagreeing about a shared
    /// cache's bounds is a bug better seen than hidden. Invalid options are an error even when
    /// the name exists. Use [`SharedCache::find_named`] to attach without knowing the options.
    pub fn named(name: &str, options: CacheOptions) -> Result<Arc<SharedCache>, CacheError> {
        if name.is_empty() {
            return Err(CacheError::EmptyName);
        }
        Limits::new(&options)?;
        let wanted = options.normalized();
        ultra_alloc::scope(Subsystem::Cache, || {
            let mut reg = REGISTRY.lock();
            reg.retain(|(_, w)| w.strong_count() > 0);
            if let Some(existing) = reg
                .iter()
                .find(|(n, _)| &**n == name)
                .and_then(|(_, w)| w.upgrade())
            {
                let existing_options = existing.options();
                return if existing_options == wanted {
                    Ok(existing)
                } else {
                    Err(CacheError::OptionsMismatch {
                        name: name.to_owned(),
                        existing: Box::new(existing_options),
                    })
                };
            }
            let cache = Arc::new(SharedCache {
                name: Some(name.into()),
                inner: Mutex::new(Cache::new(options)?),
            });
            reg.push((name.into(), Arc::downgrade(&cache)));
            Ok(cache)
        })
    }

    /// The live cache called `name`, if any.
    pub fn find_named(name: &str) -> Option<Arc<SharedCache>> {
        let reg = REGISTRY.lock();
        reg.iter()
            .find(|(n, _)| &**n == name)
            .and_then(|(_, w)| w.upgrade())
    }

    /// Every live named cache (for exporting per-cache figures).
    pub fn named_caches() -> Vec<Arc<SharedCache>> {
        let reg = REGISTRY.lock();
        reg.iter().filter_map(|(_, w)| w.upgrade()).collect()
    }

    /// The name given to [`SharedCache::named`], if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Runs `f` on the cache under the lock (for several operations in one critical section).
    pub fn with<R>(&self, f: impl FnOnce(&mut Cache) -> R) -> R {
        f(&mut self.inner.lock())
    }

    /// See [`Cache::get_with`]; `f` runs under the lock.
    pub fn get_with<R>(
        &self,
        key: &(impl AsRef<[u8]> + ?Sized),
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        self.inner.lock().get_with(key, f)
    }

    /// See [`Cache::get`].
    pub fn get(&self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<Value> {
        self.inner.lock().get(key)
    }

    /// See [`Cache::peek_with`]; `f` runs under the lock.
    pub fn peek_with<R>(
        &self,
        key: &(impl AsRef<[u8]> + ?Sized),
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        self.inner.lock().peek_with(key, f)
    }

    /// See [`Cache::peek`].
    pub fn peek(&self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<Value> {
        self.inner.lock().peek(key)
    }

    /// See [`Cache::has`].
    pub fn has(&self, key: &(impl AsRef<[u8]> + ?Sized)) -> bool {
        self.inner.lock().has(key)
    }

    /// See [`Cache::set`].
    pub fn set<'v>(
        &self,
        key: &(impl AsRef<[u8]> + ?Sized),
        value: impl Into<ValueRef<'v>>,
        ttl_ms: Option<f64>,
    ) -> Result<SetOutcome, CacheError> {
        self.inner.lock().set(key, value, ttl_ms)
    }

    /// See [`Cache::delete`].
    pub fn delete(&self, key: &(impl AsRef<[u8]> + ?Sized)) -> bool {
        self.inner.lock().delete(key)
    }

    /// See [`Cache::clear`].
    pub fn clear(&self) {
        self.inner.lock().clear()
    }

    /// See [`Cache::purge_expired`].
    pub fn purge_expired(&self) -> usize {
        self.inner.lock().purge_expired()
    }

    /// See [`Cache::remaining_ttl`].
    pub fn remaining_ttl(&self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<RemainingTtl> {
        self.inner.lock().remaining_ttl(key)
    }

    /// Copies of the live keys, most recent first (allocated in the caller's scope).
    pub fn keys(&self) -> Vec<Box<[u8]>> {
        self.inner.lock().keys().map(Box::from).collect()
    }

    /// See [`Cache::len`].
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    /// See [`Cache::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.inner.lock().is_empty()
    }

    /// See [`Cache::bytes`].
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes()
    }

    /// See [`Cache::stats`].
    pub fn stats(&self) -> CacheStats {
        self.inner.lock().stats()
    }

    /// See [`Cache::options`].
    pub fn options(&self) -> CacheOptions {
        self.inner.lock().options()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(
        max_entries: Option<usize>,
        max_bytes: Option<usize>,
        ttl: Option<f64>,
    ) -> CacheOptions {
        CacheOptions {
            max_entries,
            max_bytes,
            ttl_ms: ttl,
            ..CacheOptions::default()
        }
    }

    #[test]
    fn construction_errors_name_the_option() {
        for o in [
            opts(None, None, None),
            opts(Some(0), Some(0), None),
            opts(Some(0), Some(0), Some(0.0)),
            opts(None, None, Some(-0.0)),
        ] {
            let e = Cache::new(o).unwrap_err();
            assert_eq!(e, CacheError::NoBound);
            let msg = e.to_string();
            assert!(
                msg.contains("max_entries") && msg.contains("ULTRA_CACHE_TTL_MS"),
                "{msg}"
            );
        }
        for bad in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY, -1e-9] {
            let e = Cache::new(opts(Some(10), None, Some(bad))).unwrap_err();
            assert!(
                matches!(
                    e,
                    CacheError::InvalidTtl {
                        option: "ttl_ms",
                        ..
                    }
                ),
                "{e:?}"
            );
            let msg = e.to_string();
            assert!(msg.starts_with("invalid ttl_ms "), "{msg}");
        }
        let e = Cache::new(opts(None, Some(ENTRY_OVERHEAD - 1), None)).unwrap_err();
        assert!(e.to_string().starts_with("max_bytes "), "{e}");
        assert!(Cache::new(opts(None, Some(ENTRY_OVERHEAD), None)).is_ok());
        assert!(Cache::new(opts(Some(1), None, None)).is_ok());
        assert!(Cache::new(opts(None, None, Some(0.5))).is_ok());
        // Messages are lowercase sentences.
        for e in [
            CacheError::NoBound,
            CacheError::EmptyName,
            Cache::new(opts(Some(1), None, Some(f64::NAN))).unwrap_err(),
        ] {
            let msg = e.to_string();
            assert!(
                msg.chars().next().is_some_and(|c| c.is_lowercase()),
                "{msg}"
            );
        }
    }

    #[test]
    fn errors_stay_small() {
        // Returned by every `set`: keep it to a few words.
        assert!(std::mem::size_of::<CacheError>() <= 32);
        assert!(std::mem::size_of::<Result<SetOutcome, CacheError>>() <= 32);
    }

    #[test]
    fn from_config_reads_cache_defaults() {
        let c = Config::from_lookup(|v| match v {
            "ULTRA_CACHE_MAX_ENTRIES" => Some("100".into()),
            "ULTRA_CACHE_TTL_MS" => Some("250".into()),
            _ => None,
        })
        .unwrap();
        let o = CacheOptions::from_config(&c);
        assert_eq!(o, opts(Some(100), None, Some(250.0)));
        assert!(Cache::new(o).is_ok());
        assert_eq!(
            Cache::new(CacheOptions::from_config(&Config::default())).unwrap_err(),
            CacheError::NoBound
        );
    }

    #[test]
    fn set_rejects_bad_ttl_and_heavy_entries() {
        let mut c = Cache::new(opts(None, Some(ENTRY_OVERHEAD + 10), None)).unwrap();
        for bad in [f64::NAN, -5.0, f64::INFINITY] {
            let e = c.set("k", "v", Some(bad)).unwrap_err();
            assert!(e.to_string().starts_with("invalid per-entry ttl_ms"), "{e}");
        }
        assert!(c.is_empty());
        assert_eq!(c.set("k", "123456789", None), Ok(SetOutcome::Inserted));
        assert_eq!(c.bytes(), ENTRY_OVERHEAD + 10);
        let e = c.set("k", "1234567890", None).unwrap_err();
        assert_eq!(
            e,
            CacheError::EntryTooLarge {
                weight: ENTRY_OVERHEAD + 11,
                max_bytes: ENTRY_OVERHEAD + 10,
                overhead: ENTRY_OVERHEAD
            }
        );
        assert!(e.to_string().starts_with("entry of "), "{e}");
        // The old value of the key is gone: never serve what the caller meant to replace.
        assert!(!c.has("k"));
        assert_eq!((c.len(), c.bytes()), (0, 0));
        // A huge finite TTL saturates to "never".
        c.set("k", "v", Some(f64::MAX)).unwrap();
        assert_eq!(c.remaining_ttl("k"), Some(RemainingTtl::NoExpiry));
    }

    #[test]
    fn ttl_semantics() {
        let clock = Arc::new(ManualClock::new());
        let mut c = Cache::with_clock(
            CacheOptions {
                ttl_ms: Some(100.0),
                update_age_on_get: true,
                ..Default::default()
            },
            clock.clone(),
        )
        .unwrap();
        c.set("a", "1", None).unwrap();
        c.set("forever", "2", Some(0.0)).unwrap();
        c.set("short", &b"3"[..], Some(0.25)).unwrap();
        assert_eq!(
            c.remaining_ttl("a"),
            Some(RemainingTtl::Expires(Duration::from_millis(100)))
        );
        assert_eq!(c.remaining_ttl("forever"), Some(RemainingTtl::NoExpiry));
        assert_eq!(
            c.remaining_ttl("forever").unwrap().as_ms_f64(),
            f64::INFINITY
        );
        clock.advance_ms(60);
        assert!(c.remaining_ttl("short").is_none());
        assert_eq!(c.stats().evictions_expired, 1);
        assert_eq!(c.get("a"), Some(Value::str("1"))); // restarts the TTL
        clock.advance_ms(60);
        assert!(c.peek("a").is_some());
        clock.advance_ms(40);
        // As in lru-cache, an entry is stale once its age exceeds its TTL, not when it meets it.
        assert!(c.peek("a").is_some(), "live at an age of exactly its TTL");
        assert_eq!(
            c.remaining_ttl("a"),
            Some(RemainingTtl::Expires(Duration::ZERO))
        );
        clock.advance(Duration::from_nanos(1));
        assert!(c.peek("a").is_none());
        assert_eq!(c.keys().collect::<Vec<_>>(), [b"forever"]);
        assert_eq!(
            c.get("forever")
                .and_then(|v| v.as_str().map(str::to_owned))
                .as_deref(),
            Some("2")
        );
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.evictions_expired), (4, 1, 2));
        assert_eq!(c.purge_expired(), 0);
    }

    #[test]
    fn lru_cache_accounting_keeps_the_figures_of_lru_cache() {
        let clock = Arc::new(ManualClock::new());
        let lru = |o: CacheOptions| CacheOptions {
            accounting: Accounting::LruCache,
            ..o
        };
        // Weights without overhead (at least 1), a byte bound as low as 1, refusals counted.
        let mut c = Cache::with_clock(lru(opts(None, Some(20), None)), clock.clone()).unwrap();
        c.set("k1", "12345678", None).unwrap();
        c.set("k2", &[0u8; 8][..], None).unwrap();
        assert_eq!(c.bytes(), 20);
        c.set("k3", "x", None).unwrap(); // evicts k1 for size
        assert_eq!((c.bytes(), c.stats().evictions_size), (13, 1));
        assert!(matches!(
            c.set("k2", "é".repeat(20).as_str(), None),
            Err(CacheError::EntryTooLarge { overhead: 0, .. })
        ));
        assert_eq!((c.bytes(), c.stats().evictions_size), (3, 2));
        c.set("", "", None).unwrap();
        assert_eq!(c.bytes(), 4, "an empty entry weighs 1");
        assert!(Cache::new(lru(opts(None, Some(1), None))).is_ok());
        // Only `get` counts; peek, has and remaining_ttl leave an expired entry in place.
        let mut c =
            Cache::with_clock(lru(opts(Some(10), None, Some(10.0))), clock.clone()).unwrap();
        c.set("a", "1", None).unwrap();
        c.set("b", "2", None).unwrap();
        c.set("c", "3", None).unwrap();
        assert!(c.peek("a").is_some() && c.has("a") && !c.has("zz"));
        assert_eq!((c.stats().hits, c.stats().misses), (0, 0));
        clock.advance_ms(10);
        assert!(
            c.has("a"),
            "live at an age of exactly its TTL, as in lru-cache"
        );
        clock.advance_ms(1);
        assert!(!c.has("a") && c.peek("a").is_none() && c.remaining_ttl("a").is_none());
        assert_eq!((c.len(), c.stats().evictions_expired), (3, 0));
        assert!(c.delete("b"), "an expired entry is there, as in lru-cache");
        assert_eq!(
            (c.len(), c.stats().evictions_expired),
            (2, 0),
            "deleted, not counted"
        );
        assert!(c.get("a").is_none());
        assert_eq!((c.stats().misses, c.stats().evictions_expired), (1, 1));
        assert_eq!(c.purge_expired(), 1);
        // A TTL-only cache purges expired entries as it grows.
        let mut c = Cache::with_clock(lru(opts(None, None, Some(5.0))), clock.clone()).unwrap();
        for i in 0..1000 {
            c.set(&format!("k{i}"), "v", None).unwrap();
            clock.advance_ms(1);
        }
        assert!(c.len() <= 2 * PURGE_MIN.max(10), "len {}", c.len());
        assert_eq!(c.stats().evictions_expired as usize + c.len(), 1000);
    }

    #[test]
    fn totals_follow_every_change_and_drop() {
        // Other tests run concurrently: the exact totals are checked in tests/cache_memory.rs.
        let mut a = Cache::new(opts(Some(2), None, None)).unwrap();
        let mut b = Cache::new(opts(None, Some(10_000), None)).unwrap();
        a.set("x", "1", None).unwrap();
        a.set("y", "2", None).unwrap();
        a.set("z", "3", None).unwrap();
        b.set("x", "12345", None).unwrap();
        let (sa, sb) = (a.stats(), b.stats());
        assert_eq!(sa.evictions_capacity, 1);
        assert_eq!(sa.entries + sb.entries, 3);
        assert_eq!(sb.bytes as usize, entry_weight(1, 5));
        let t = caches_total();
        assert!(t.caches >= 2 && t.entries >= 3 && t.bytes >= sa.bytes + sb.bytes);
    }

    #[test]
    fn named_caches_are_shared_and_checked() {
        let o = opts(Some(16), None, None);
        let a = SharedCache::named("tests/named", o).unwrap();
        let b = SharedCache::named("tests/named", opts(Some(16), Some(0), Some(0.0))).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.name(), Some("tests/named"));
        a.set("k", "v", None).unwrap();
        assert_eq!(b.get("k"), Some(Value::str("v")));
        let e = SharedCache::named("tests/named", opts(Some(17), None, None)).unwrap_err();
        assert!(matches!(e, CacheError::OptionsMismatch { .. }));
        assert!(
            e.to_string()
                .starts_with("cache \"tests/named\" already exists"),
            "{e}"
        );
        assert_eq!(
            SharedCache::named("", o).unwrap_err(),
            CacheError::EmptyName
        );
        assert!(SharedCache::named("tests/bad", opts(None, None, None)).is_err());
        assert!(SharedCache::find_named("tests/named").is_some());
        assert!(SharedCache::named_caches()
            .iter()
            .any(|c| Arc::ptr_eq(c, &a)));
        drop((a, b));
        // Freed with its last Arc: the name is free for other options.
        assert!(SharedCache::find_named("tests/named").is_none());
        let c = SharedCache::named("tests/named", opts(Some(17), None, None)).unwrap();
        assert!(c.is_empty());
    }

    #[test]
    fn shared_cache_under_four_threads() {
        const THREADS: usize = 4;
        const KEYS: usize = 64;
        const ROUNDS: usize = 2_000;
        let cache = Arc::new(SharedCache::new(opts(Some(KEYS), None, None)).unwrap());
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    let (mut hits, mut deleted) = (0u64, 0u64);
                    for i in 0..ROUNDS {
                        let key = format!("t{t}-k{}", i % KEYS);
                        let value = format!("{t}:{i}");
                        cache.set(&key, value.as_str(), None).unwrap();
                        // Each thread touches only its own keys, so a value read back is the
                        // one just written (or absent, evicted by another thread meanwhile).
                        if let Some(v) = cache.get(&key) {
                            assert_eq!(v.as_str(), Some(value.as_str()));
                            hits += 1;
                        }
                        if i % 7 == 0 && cache.delete(&key) {
                            deleted += 1;
                        }
                    }
                    (hits, deleted)
                })
            })
            .collect();
        let (mut hits, mut deleted) = (0, 0);
        for h in handles {
            let (h, d) = h.join().unwrap();
            hits += h;
            deleted += d;
        }
        let s = cache.stats();
        assert_eq!(s.hits, hits);
        assert_eq!(s.hits + s.misses, (THREADS * ROUNDS) as u64);
        assert_eq!(s.inserts + s.updates, (THREADS * ROUNDS) as u64);
        assert!(s.entries as usize <= KEYS);
        assert_eq!(s.entries as usize, cache.len());
        assert_eq!(cache.keys().len(), cache.len());
        // Every insert is still here, was evicted, or was deleted.
        assert_eq!(s.inserts, s.entries + s.evictions_capacity + deleted);
        let weight: usize = cache.with(|c| c.keys().map(|k| k.len()).sum::<usize>());
        assert!(cache.bytes() > weight);
    }
}
