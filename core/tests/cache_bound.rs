//! `max_bytes` as a bound on real memory: a cache filled several times over, with tiny entries
//! (where the per-entry overhead dominates) and with large ones, never holds more `Cache` live
//! bytes than `max_bytes` (plus the empty table's 64), and holds most of it.
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
use ultra_core::cache::{Cache, CacheOptions};

fn cache_live() -> Option<i64> {
    stats()
        .subsystem(Subsystem::Cache)
        .map(|s| s.live_bytes as i64)
}

#[test]
fn max_bytes_bounds_the_live_bytes_of_tiny_and_large_entries() {
    let Some(before) = cache_live() else {
        panic!("this test needs the attribution feature (on by default)");
    };
    const MAX_BYTES: usize = 1 << 20;
    for (label, value_bytes, sets) in [
        ("tiny", 1, 100_000),
        ("small", 100, 40_000),
        ("large", 16 << 10, 400),
    ] {
        let mut cache = Cache::new(CacheOptions {
            max_bytes: Some(MAX_BYTES),
            ..CacheOptions::default()
        })
        .unwrap();
        let empty = cache_live().unwrap();
        let value = vec![7u8; value_bytes];
        let (mut most, mut least_full) = (i64::MIN, i64::MAX);
        for i in 0..sets {
            cache.set(&format!("key:{i}"), &value[..], None).unwrap();
            let live = cache_live().unwrap() - empty;
            assert!(
                live <= MAX_BYTES as i64 + 64,
                "{label}: after {i} sets the cache holds {live} bytes, over max_bytes {MAX_BYTES}"
            );
            most = most.max(live);
            if i >= sets / 2 {
                least_full = least_full.min(live);
            }
        }
        let s = cache.stats();
        assert!(
            s.evictions_size as usize >= sets / 2,
            "{label}: filled over"
        );
        println!(
            "{label}: {} entries of {value_bytes}-byte values, live bytes at most {most} and at \
             least {least_full} once full (max_bytes {MAX_BYTES})",
            s.entries
        );
        // Full: the overhead counts the index's largest share, so at worst ~40% is unused.
        assert!(
            least_full >= MAX_BYTES as i64 / 2,
            "{label}: {least_full} live bytes in a full cache"
        );
        drop(cache);
        assert_eq!(cache_live().unwrap(), before);
    }
}
