//! The choices a cache makes beyond its bounds ([`Policy`]): how an entry is weighed, which
//! look-ups count, what happens to an expired entry met by a look-up or a `delete`, whether a
//! refused entry is an eviction, and whether a TTL-only cache purges itself.
//!
//! Each choice is named for what it does; the defaults ([`Policy::DEFAULT`]) are ultra's own
//! figures. A caller that keeps another library's semantics (the Node API keeps `lru-cache`'s)
//! picks the choices that add up to them. They are read once, at construction.

use super::entry::ENTRY_OVERHEAD;

/// How an entry is weighed for `max_bytes`, `max_entry_bytes` and
/// [`Cache::bytes`](super::Cache::bytes).
///
/// ```
/// use ultra_core::cache::{EntryWeight, ENTRY_OVERHEAD};
///
/// assert_eq!(EntryWeight::Footprint.weight(2, 8), 10 + ENTRY_OVERHEAD);
/// assert_eq!(EntryWeight::Payload.weight(2, 8), 10);
/// assert_eq!(EntryWeight::Payload.weight(0, 0), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EntryWeight {
    /// What the entry really holds: key + value + [`ENTRY_OVERHEAD`], so that `max_bytes`
    /// bounds the cache's `Cache` live bytes (within the bound documented on
    /// [`ENTRY_OVERHEAD`]). `max_bytes` must be at least [`ENTRY_OVERHEAD`].
    #[default]
    Footprint,
    /// The key and value bytes alone, at least 1 (a payload measure, as `lru-cache`'s
    /// `sizeCalculation` of a string's length): `max_bytes` may be as low as 1, and bounds
    /// what callers stored, not what the cache holds.
    Payload,
}

impl EntryWeight {
    /// The weight of an entry with a key of `key_len` bytes and a value of `value_len` bytes.
    pub const fn weight(self, key_len: usize, value_len: usize) -> usize {
        Weigher::of(self).weight(key_len, value_len)
    }

    /// The per-entry overhead in a weight: [`ENTRY_OVERHEAD`] or 0.
    pub const fn overhead(self) -> usize {
        Weigher::of(self).overhead
    }

    /// The lightest entry's weight: the smallest `max_bytes` under which an entry can be
    /// stored.
    pub const fn min_weight(self) -> usize {
        self.weight(0, 0)
    }
}

/// The choices of a cache beyond its bounds, each named for what it does and read once, when
/// the cache is built. [`Policy::DEFAULT`] is ultra's own figures; a caller that keeps another
/// library's semantics (the Node API keeps `lru-cache`'s) picks the choices that add up to
/// them.
///
/// ```
/// use ultra_core::cache::{Cache, CacheOptions, EntryWeight, Policy};
///
/// let mut cache = Cache::new(CacheOptions {
///     max_bytes: Some(20),
///     policy: Policy {
///         weight: EntryWeight::Payload,
///         count_peeks: false,
///         count_refusals: true,
///         ..Policy::DEFAULT
///     },
///     ..CacheOptions::default()
/// })?;
/// cache.set("k1", "12345678", None)?; // 2 + 8 bytes
/// assert_eq!(cache.bytes(), 10);
/// cache.peek("k1"); // counts nothing
/// assert!(cache.set("k2", "x".repeat(30).as_str(), None).is_err()); // refused...
/// assert_eq!(cache.stats().evictions_size, 1); // ...and counted as a size eviction
/// assert_eq!((cache.stats().hits, cache.stats().misses), (0, 0));
/// # Ok::<(), ultra_core::cache::CacheError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// How an entry is weighed (default [`EntryWeight::Footprint`]).
    pub weight: EntryWeight,
    /// Whether `peek` and `has` count hits and misses as `get` does (default `true`); when
    /// `false` only `get` counts.
    pub count_peeks: bool,
    /// Whether `peek`, `has` and `remaining_ttl` remove an expired entry they find, counted as
    /// an `expired` eviction (default `true`; `peek` keeps it with
    /// [`ReadOptions::keep_stale`](super::ReadOptions::keep_stale)). When `false` they answer
    /// "absent" and leave it, and only `get`, `set` and
    /// [`Cache::purge_expired`](super::Cache::purge_expired) remove it.
    pub peeks_remove_stale: bool,
    /// Whether `delete` of an expired entry counts as an `expired` eviction and answers
    /// `false`, the key having had no live entry (default `true`). When `false` the entry is
    /// removed uncounted and `delete` answers `true`: the key had an entry.
    pub delete_stale_is_eviction: bool,
    /// Whether an entry refused for `max_bytes` or `max_entry_bytes` counts as one `size`
    /// eviction, the key's previous value (if any) being removed uncounted (default `false`:
    /// a refusal counts nothing, and a previous value that had expired counts as an `expired`
    /// eviction).
    pub count_refusals: bool,
    /// Whether a cache bounded by TTL alone purges its expired entries during `set` whenever
    /// its length doubled since the last purge (from 64 entries on), so that it stays within
    /// twice its live entries (default `false`: expired entries stay until met or purged).
    pub ttl_autopurge: bool,
}

impl Policy {
    /// ultra's own figures: entries weighed by footprint, every look-up counted, an expired
    /// entry removed wherever it is met, refusals not counted, no autopurge.
    pub const DEFAULT: Policy = Policy {
        weight: EntryWeight::Footprint,
        count_peeks: true,
        peeks_remove_stale: true,
        delete_stale_is_eviction: true,
        count_refusals: false,
        ttl_autopurge: false,
    };
}

impl Default for Policy {
    fn default() -> Self {
        Policy::DEFAULT
    }
}

/// An [`EntryWeight`] resolved to arithmetic: `max(key + value + overhead, floor)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Weigher {
    /// Bytes added to every entry.
    pub(super) overhead: usize,
    /// The least an entry weighs.
    pub(super) floor: usize,
}

impl Weigher {
    pub(super) const fn of(weight: EntryWeight) -> Weigher {
        match weight {
            EntryWeight::Footprint => Weigher {
                overhead: ENTRY_OVERHEAD,
                floor: 0,
            },
            EntryWeight::Payload => Weigher {
                overhead: 0,
                floor: 1,
            },
        }
    }

    pub(super) const fn weight(self, key_len: usize, value_len: usize) -> usize {
        let w = key_len
            .saturating_add(value_len)
            .saturating_add(self.overhead);
        if w < self.floor {
            self.floor
        } else {
            w
        }
    }
}
