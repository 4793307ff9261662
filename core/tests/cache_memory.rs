//! `Cache::bytes()` against the allocator's `Cache` live bytes, under the tracking allocator.
//!
//! One test in its own binary: the figures compared are process-wide, so nothing else may
//! allocate under `Subsystem::Cache` meanwhile.

#[cfg(feature = "jemalloc")]
#[global_allocator]
static A: ultra_alloc::TrackingAllocator<ultra_alloc::Jemalloc> =
    ultra_alloc::TrackingAllocator::new(ultra_alloc::Jemalloc);

#[cfg(not(feature = "jemalloc"))]
#[global_allocator]
static A: ultra_alloc::TrackingAllocator<std::alloc::System> =
    ultra_alloc::TrackingAllocator::new(std::alloc::System);

use ultra_alloc::{stats, Subsystem};
use ultra_core::cache::{caches_total, Cache, CacheOptions, CacheStats, ENTRY_OVERHEAD};

/// Per-entry part of the documented lower bound (`ENTRY_OVERHEAD` counts the index's largest
/// share; a table 7/8 full takes 59 bytes less per entry).
const PER_ENTRY: i64 = 59;
/// Fixed part: the table's trailing control group and its minimum of 4 slots.
const FIXED: i64 = 64;
/// Upper bound after removals: a table at most 4× what `len` needs, or of 128 slots.
const PER_ENTRY_AFTER_REMOVALS: i64 = 233;
const FIXED_AFTER_REMOVALS: i64 = 2304;

fn cache_live() -> Option<i64> {
    stats()
        .subsystem(Subsystem::Cache)
        .map(|s| s.live_bytes as i64)
}

fn key(i: usize) -> String {
    // Keys of 1 to 40 bytes.
    let mut k = format!("k{i}");
    k.extend(std::iter::repeat_n('x', i % 33));
    k
}

fn value(i: usize) -> Vec<u8> {
    // Values of 0 to 300 bytes, some empty (no allocation at all).
    vec![(i % 251) as u8; (i * 37) % 301]
}

#[test]
fn bytes_agree_with_the_allocator() {
    #[cfg(target_pointer_width = "64")]
    assert_eq!((ultra_core::cache::NODE_BYTES, ENTRY_OVERHEAD), (64, 142));
    let Some(before) = cache_live() else {
        eprintln!("attribution feature off: nothing to compare");
        return;
    };
    let totals_before = caches_total();
    let mut cache = Cache::new(CacheOptions {
        max_entries: Some(1 << 20),
        ..CacheOptions::default()
    })
    .unwrap();
    let empty = cache_live().unwrap();
    println!(
        "ENTRY_OVERHEAD = {ENTRY_OVERHEAD}; empty cache = {} bytes",
        empty - before
    );

    const N: usize = 20_000;
    let (mut worst_low, mut worst_high) = (0i64, 0i64);
    let mut report = Vec::new();
    for i in 1..=N {
        let (k, v) = (key(i), value(i));
        cache.set(&k, &v[..], None).unwrap();
        let live = cache_live().unwrap() - empty;
        let diff = live - cache.bytes() as i64;
        let len = cache.len() as i64;
        assert!(
            diff <= FIXED && diff >= -(len * PER_ENTRY + FIXED),
            "after {i} inserts: allocator {live}, bytes() {}, diff {diff}",
            cache.bytes()
        );
        worst_low = worst_low.min(diff);
        worst_high = worst_high.max(diff);
        if i.is_power_of_two() || i == N || (i + 1).is_power_of_two() {
            report.push((i, live, cache.bytes(), diff));
        }
    }
    println!(
        "{:>7} {:>10} {:>10} {:>7} {:>9}",
        "entries", "allocator", "bytes()", "diff", "diff/len"
    );
    for (n, live, bytes, diff) in report {
        println!(
            "{n:>7} {live:>10} {bytes:>10} {diff:>7} {:>9.2}",
            diff as f64 / n as f64
        );
    }
    println!("growing: diff in [{worst_low}, {worst_high}]");

    // Updates with other value sizes keep the agreement.
    for i in (1..=N).step_by(3) {
        cache.set(&key(i), &value(i + 1)[..], None).unwrap();
    }
    let live = cache_live().unwrap() - empty;
    let diff = live - cache.bytes() as i64;
    println!("after updates: diff {diff}");
    assert!(diff <= FIXED && diff >= -(N as i64 * PER_ENTRY + FIXED));

    // Removals: the index shrinks once a quarter of the high-water mark is left.
    let mut worst = 0i64;
    for i in 1..=N {
        assert!(cache.delete(&key(i)));
        let live = cache_live().unwrap() - empty;
        let diff = live - cache.bytes() as i64;
        let len = cache.len() as i64;
        assert!(
            diff >= -(len * PER_ENTRY + FIXED)
                && diff <= len * PER_ENTRY_AFTER_REMOVALS + FIXED_AFTER_REMOVALS,
            "after {i} deletes: allocator {live}, bytes() {}, diff {diff}",
            cache.bytes()
        );
        worst = worst.max(diff - len * PER_ENTRY);
    }
    println!("removing: worst excess over len x {PER_ENTRY} = {worst}");

    // clear() gives back everything but the empty cache itself; so does drop.
    for i in 0..1000 {
        cache.set(&key(i), &value(i)[..], None).unwrap();
    }
    let t = caches_total();
    assert_eq!(t.caches, totals_before.caches + 1);
    assert_eq!(t.entries, totals_before.entries + 1000);
    assert_eq!(t.bytes, totals_before.bytes + cache.bytes() as u64);
    cache.clear();
    assert_eq!(cache_live().unwrap(), empty);

    // Worst case of the upper bound: a high-water mark just below the rebuild threshold.
    for i in 0..63 {
        cache.set(&key(i), &value(i)[..], None).unwrap();
    }
    for i in 0..63 {
        cache.delete(&key(i));
    }
    let left = cache_live().unwrap() - empty;
    println!("63 entries added then deleted: {left} bytes of index left");
    assert!(left <= FIXED_AFTER_REMOVALS);
    cache.clear();
    assert_eq!(cache_live().unwrap(), empty);
    assert_eq!((cache.len(), cache.bytes()), (0, 0));
    drop(cache);
    assert_eq!(cache_live().unwrap(), before);
    let after = caches_total();
    assert_eq!(
        CacheStats {
            hits: 0,
            misses: 0,
            inserts: 0,
            updates: 0,
            evictions_capacity: 0,
            evictions_size: 0,
            evictions_expired: 0,
            ..after
        },
        CacheStats {
            hits: 0,
            misses: 0,
            inserts: 0,
            updates: 0,
            evictions_capacity: 0,
            evictions_size: 0,
            evictions_expired: 0,
            ..totals_before
        }
    );
    assert_eq!(after.inserts, totals_before.inserts + N as u64 + 1000 + 63);
}
