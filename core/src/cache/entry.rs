//! What the cache stores per entry, and what an entry weighs.

use std::time::Duration;

use super::policy::Weigher;
use super::Value;

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
/// - [`Cache::clear`](super::Cache::clear) frees the table: `live` is back to exactly 0.
pub const ENTRY_OVERHEAD: usize = NODE_BYTES + 29;

/// Bytes of one `lru` list node of a [`Cache`](super::Cache) (key box, value, TTL state, two links).
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
    /// Clock reading (ns) from which the entry is expired; `u64::MAX` = never.
    pub(super) expires_at: u64,
}

impl Entry {
    pub(super) fn expired(&self, now: u64) -> bool {
        now >= self.expires_at
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
