//! What the cache stores per entry, and what an entry weighs.

use std::time::Duration;

use super::policy::Weigher;
use super::Value;

/// Fixed bytes added to every entry's weight, on top of its key and value bytes.
///
/// It stands for what the cache allocates per entry besides the key and value themselves: the
/// `lru` list node that holds the key, the value and the entry's TTL state ([`NODE_BYTES`],
/// 72 on 64-bit targets), plus one entry's share of the hash index, counted at its largest so
/// that `max_bytes` is a bound on what the cache really holds, never an average of it.
///
/// The index is a hashbrown table of 16-byte slots and one control byte per slot, of a
/// power-of-two slot count. A table that only grew is filled to between 7/16 and 7/8: 19.4 to
/// 38.9 bytes per entry. A cache that evicts (or deletes) as it inserts leaves tombstones, and
/// when they use up the table's room it is rebuilt twice as large if more than half full, so a
/// churning cache's table is filled to between 7/32 and 7/16: 38.9 to 77.7 bytes per entry
/// (measured: a 1 MiB cache of 10-byte entries held 1.27 MiB with a share of 29).
/// `ENTRY_OVERHEAD = NODE_BYTES + 78` (150 on 64-bit targets).
///
/// Bounds, with `live` the allocator's `Cache` live bytes minus those of the empty cache
/// (checked by `tests/cache_memory.rs` and `tests/cache_bound.rs` under the tracking
/// allocator):
///
/// - while entries are added, updated or evicted: `live ≤ bytes() + 64` (the table's 16
///   trailing control bytes and its minimum of 4 slots), and `live ≥ bytes() − 59 × len − 64`
///   (a table 7/8 full): so a cache bounded by `max_bytes` holds at most `max_bytes + 64`;
/// - after deletes, the table keeps its size until the entry count falls to a quarter of its
///   high-water mark (when that mark is at least 64), then it is rebuilt for the entries left.
///   So `live − bytes() ≤ 233 × len + 2304` (a table 4× larger than needed, or one of 128
///   slots);
/// - [`Cache::clear`](super::Cache::clear) frees the table: `live` is back to exactly 0.
pub const ENTRY_OVERHEAD: usize = NODE_BYTES + 78;

// The one figure the configuration and the Node fallback know it by.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(ENTRY_OVERHEAD as i64 == ultra_alloc::config::CACHE_ENTRY_OVERHEAD);

/// Bytes of one `lru` list node of a [`Cache`](super::Cache) (key box, value, TTL state, two
/// links).
pub const NODE_BYTES: usize = 2 * std::mem::size_of::<usize>()
    + std::mem::size_of::<Box<[u8]>>()
    + std::mem::size_of::<Entry>();

/// The weight of an entry with a key of `key_len` bytes and a value of `value_len` bytes
/// under [`EntryWeight::Footprint`](super::EntryWeight::Footprint), the default (see
/// [`EntryWeight::weight`](super::EntryWeight::weight) for the other weights).
pub const fn entry_weight(key_len: usize, value_len: usize) -> usize {
    key_len
        .saturating_add(value_len)
        .saturating_add(ENTRY_OVERHEAD)
}

/// What the `lru` node holds besides the key.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) value: Value,
    /// The entry's TTL in ns; 0 = never expires.
    pub(super) ttl_ns: u64,
    /// Clock reading (ns) after which the entry is expired; `u64::MAX` = never.
    pub(super) expires_at: u64,
}

impl Entry {
    pub(super) fn expired(&self, now: u64) -> bool {
        now > self.expires_at
    }

    pub(super) fn weight(&self, key: &[u8], weigher: Weigher) -> usize {
        weigher.weight(key.len(), self.value.data.len())
    }
}

/// One entry as [`Cache::entries`](super::Cache::entries) shows it.
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
