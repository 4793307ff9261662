//! What the cache stores per entry, and what an entry weighs.

use std::time::Duration;

use super::policy::Weigher;
use super::{Value, ValueKind, ValueRef};

/// Fixed bytes added to every entry's weight, on top of its key and value bytes.
///
/// It stands for what the cache allocates per entry besides the key and value themselves: the
/// `lru` list node that holds the key, the value and the entry's TTL state ([`NODE_BYTES`],
/// 64 on 64-bit targets, a jemalloc size class of its own), plus one entry's share of the hash index, counted at its largest so
/// that `max_bytes` is a bound on what the cache really holds, never an average of it.
///
/// The index is a hashbrown table of 16-byte slots and one control byte per slot, of a
/// power-of-two slot count. A table that only grew is filled to between 7/16 and 7/8: 19.4 to
/// 38.9 bytes per entry. A cache that evicts (or deletes) as it inserts leaves tombstones, and
/// when they use up the table's room it is rebuilt twice as large if more than half full, so a
/// churning cache's table is filled to between 7/32 and 7/16: 38.9 to 77.7 bytes per entry
/// (measured: a 1 MiB cache of 10-byte entries held 1.27 MiB with a share of 29).
/// `ENTRY_OVERHEAD = NODE_BYTES + 78` (142 on 64-bit targets).
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
    super::EntryWeight::Footprint.weight(key_len, value_len)
}

/// What the `lru` node holds besides the key: 32 bytes on 64-bit targets, so that a node
/// (with the key box and the two links) is 64 bytes, one jemalloc size class below the 80 that
/// a [`Value`] (24 bytes, 7 of them padding after its kind) plus two `u64`s would make it.
#[derive(Debug)]
pub(super) struct Entry {
    /// The value's bytes.
    data: Box<[u8]>,
    /// The entry's TTL in ns (0 = never expires) in the low 63 bits, the value's
    /// [`ValueKind`] in the top bit.
    ttl_kind: u64,
    /// Clock reading (ns) after which the entry is expired; `u64::MAX` = never.
    pub(super) expires_at: u64,
}

/// The top bit of [`Entry::ttl_kind`]: set for [`ValueKind::Bytes`].
const KIND_BIT: u64 = 1 << 63;
/// The largest TTL an entry keeps (about 292 years); a longer one is kept as this and read
/// back as `u64::MAX`, "saturated", which [`expiry`](super::clock::expiry) turns into "never".
const TTL_SATURATED: u64 = KIND_BIT - 1;

impl Entry {
    /// An entry holding a copy of `value` (allocated in the current scope).
    pub(super) fn new(value: ValueRef<'_>, ttl_ns: u64, expires_at: u64) -> Entry {
        Entry {
            data: value.data.into(),
            ttl_kind: Entry::pack(value.kind, ttl_ns),
            expires_at,
        }
    }

    fn pack(kind: ValueKind, ttl_ns: u64) -> u64 {
        let kind = match kind {
            ValueKind::Str => 0,
            ValueKind::Bytes => KIND_BIT,
        };
        kind | ttl_ns.min(TTL_SATURATED)
    }

    /// Replaces the value (a copy of `value`, in the current scope) and its TTL state.
    pub(super) fn replace(&mut self, value: ValueRef<'_>, ttl_ns: u64, expires_at: u64) {
        *self = Entry::new(value, ttl_ns, expires_at);
    }

    /// The entry's TTL in ns; 0 = never expires, `u64::MAX` = saturated (never, too).
    #[inline]
    pub(super) fn ttl_ns(&self) -> u64 {
        match self.ttl_kind & !KIND_BIT {
            TTL_SATURATED => u64::MAX,
            ns => ns,
        }
    }

    #[inline]
    pub(super) fn kind(&self) -> ValueKind {
        if self.ttl_kind & KIND_BIT == 0 {
            ValueKind::Str
        } else {
            ValueKind::Bytes
        }
    }

    /// A borrowed view of the value.
    #[inline]
    pub(super) fn value(&self) -> ValueRef<'_> {
        ValueRef {
            kind: self.kind(),
            data: &self.data,
        }
    }

    /// Calls `f` with the value as a [`Value`], without copying it: its bytes move into a
    /// `Value` for the call and back afterwards (also if `f` unwinds). Moving a box allocates
    /// nothing, and the empty box left behind meanwhile is no allocation either.
    #[inline]
    pub(super) fn lend<R>(&mut self, f: impl FnOnce(&Value) -> R) -> R {
        /// Puts the bytes back into the entry when dropped.
        struct Lent<'a> {
            slot: &'a mut Box<[u8]>,
            value: Value,
        }
        impl Drop for Lent<'_> {
            #[inline]
            fn drop(&mut self) {
                *self.slot = std::mem::take(&mut self.value.data);
            }
        }
        let value = Value {
            kind: self.kind(),
            data: std::mem::take(&mut self.data),
        };
        let lent = Lent {
            slot: &mut self.data,
            value,
        };
        f(&lent.value)
    }

    #[inline]
    pub(super) fn expired(&self, now: u64) -> bool {
        now > self.expires_at
    }

    pub(super) fn weight(&self, key: &[u8], weigher: Weigher) -> usize {
        weigher.weight(key.len(), self.data.len())
    }
}

/// One entry as [`Cache::entries`](super::Cache::entries) shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo<'a> {
    /// The key.
    pub key: &'a [u8],
    /// A copy of the value, allocated in the caller's scope.
    pub value: Value,
    /// The entry's TTL; `None`: it never expires.
    pub ttl: Option<Duration>,
    /// Time since its TTL started (its `set`, or the last hit that restarted it); zero
    /// without TTL.
    pub age: Duration,
    /// Whether its TTL has run out.
    pub stale: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_keeps_kind_value_and_ttl_in_32_bytes() {
        #[cfg(target_pointer_width = "64")]
        assert_eq!((std::mem::size_of::<Entry>(), NODE_BYTES), (32, 64));
        for kind in [ValueKind::Str, ValueKind::Bytes] {
            for ttl in [0, 1, 100_000_000, TTL_SATURATED - 1] {
                let value = ValueRef { kind, data: b"v1" };
                let mut e = Entry::new(value, ttl, 7);
                assert_eq!((e.kind(), e.ttl_ns(), e.expires_at), (kind, ttl, 7));
                assert_eq!(e.value(), value);
                assert_eq!(e.lend(|v| v.clone()), value.to_value());
                let other = ValueRef {
                    kind: if kind == ValueKind::Str {
                        ValueKind::Bytes
                    } else {
                        ValueKind::Str
                    },
                    data: b"longer value",
                };
                e.replace(other, ttl / 2, 9);
                assert_eq!((e.value(), e.ttl_ns(), e.expires_at), (other, ttl / 2, 9));
            }
        }
    }

    #[test]
    fn a_ttl_past_63_bits_reads_back_saturated() {
        for ttl in [TTL_SATURATED, KIND_BIT, u64::MAX] {
            for kind in [ValueKind::Str, ValueKind::Bytes] {
                let e = Entry::new(ValueRef { kind, data: b"" }, ttl, u64::MAX);
                assert_eq!((e.ttl_ns(), e.kind()), (u64::MAX, kind), "ttl {ttl}");
                // What expiry makes of it: never.
                assert_eq!(
                    super::super::clock::expiry(u64::MAX / 2, e.ttl_ns()),
                    u64::MAX
                );
            }
        }
    }

    #[test]
    fn a_lent_value_goes_back_even_if_the_borrower_panics() {
        let mut e = Entry::new(ValueRef::bytes(b"kept"), 0, u64::MAX);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            e.lend(|v| {
                assert_eq!(&v.data[..], b"kept");
                panic!("borrower fails")
            })
        }));
        assert!(r.is_err());
        assert_eq!(e.value(), ValueRef::bytes(b"kept"));
    }
}
