//! How a cache is bounded: [`CacheOptions`], their validated form (`Limits`, with the
//! [`Policy`] resolved), [`ReadOptions`] and [`CacheError`].

use ultra_alloc::Config;

use super::clock::ttl_ns;
use super::policy::{Policy, Weigher};

/// How a [`Cache`](super::Cache) is bounded. At least one bound must be set; `0` means "no bound" for each
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
    /// Maximum total weight in bytes (see [`EntryWeight`](super::EntryWeight); by default
    /// key + value + [`ENTRY_OVERHEAD`](super::ENTRY_OVERHEAD) per entry); beyond it the least recently used are
    /// evicted (`size`). Must be at least the lightest entry's weight when set.
    pub max_bytes: Option<usize>,
    /// Default time to live of entries, in milliseconds: finite and `>= 0`. Fractions are kept
    /// to the nanosecond, rounded up.
    pub ttl_ms: Option<f64>,
    /// Whether a hit ([`Cache::get`](super::Cache::get)) restarts the entry's TTL.
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
    /// The choices beyond the bounds: how entries are weighed, what counts, what happens to
    /// expired entries (default [`Policy::DEFAULT`], ultra's own figures).
    pub policy: Policy,
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
            policy: Policy::DEFAULT,
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
            policy: self.policy,
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
        /// The smallest weight of an entry ([`EntryWeight::min_weight`](super::EntryWeight::min_weight)).
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
        /// The smallest weight of an entry ([`EntryWeight::min_weight`](super::EntryWeight::min_weight)).
        overhead: usize,
    },
    /// An entry heavier than `max_bytes` or `max_entry_bytes`; it was not stored, nothing was
    /// evicted, and any previous value of its key was removed.
    #[error(
        "entry of {weight} bytes (key + value + {overhead} overhead) exceeds {max_bytes}, the \
         largest entry that max_bytes and max_entry_bytes allow: not stored"
    )]
    EntryTooLarge {
        /// The entry's weight (see [`EntryWeight`](super::EntryWeight)).
        weight: usize,
        /// The bound it exceeds: the lower of `max_bytes` and `max_entry_bytes`.
        max_bytes: usize,
        /// The per-entry overhead in the weight: [`ENTRY_OVERHEAD`](super::ENTRY_OVERHEAD), or 0 for
        /// [`EntryWeight::Payload`](super::EntryWeight::Payload).
        overhead: usize,
    },
    /// [`SharedCache::named`](super::SharedCache::named) with an empty name.
    #[error("a named cache needs a non-empty name")]
    EmptyName,
    /// [`SharedCache::named`](super::SharedCache::named) with the name of a live cache that has other options.
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

/// Validated bounds; `usize::MAX` / 0 stand for "none".
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) max_entries: usize,
    pub(super) max_bytes: usize,
    /// The lower of `max_bytes` and `max_entry_bytes`.
    pub(super) max_entry: usize,
    pub(super) default_ttl_ns: u64,
    /// The policy, as given.
    pub(super) policy: Policy,
    /// Its [`EntryWeight`](super::EntryWeight), resolved.
    pub(super) weigher: Weigher,
}

impl Limits {
    pub(super) fn new(options: &CacheOptions) -> Result<Limits, CacheError> {
        let o = options.normalized();
        let default_ttl_ns = match o.ttl_ms {
            Some(ms) => ttl_ns("ttl_ms", ms)?,
            None => 0,
        };
        let weigher = Weigher::of(o.policy.weight);
        let min = weigher.weight(0, 0);
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
            policy: o.policy,
            weigher,
        })
    }
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
/// clock.advance_ms(10);
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
