//! `Snapshot::take` reads every figure without disturbing them, and its parts agree with the
//! components they come from.

use ultra_alloc::{
    Arena, ArenaConfig, BufferPool, Jemalloc, PoolConfig, Subsystem, TrackingAllocator,
};
use ultra_core::{Cache, CacheOptions, Snapshot};

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

/// One test function, so no other test thread allocates while figures are compared exactly.
#[test]
fn snapshot_is_complete_and_does_not_disturb_figures() {
    let mut cache = Cache::new(CacheOptions {
        max_entries: Some(100),
        ..Default::default()
    })
    .unwrap();
    cache.set("k", "v", None).unwrap();
    let arena = Arena::new(ArenaConfig {
        chunk_bytes: 4096,
        limit_bytes: 1 << 20,
    });
    arena.alloc_copy(b"abc").unwrap();
    let pool = BufferPool::new(PoolConfig {
        initial: 2,
        max_idle: 4,
        buffer_bytes: 1024,
    });

    let first = Snapshot::take();
    let second = Snapshot::take();
    // Reading allocated nothing: every allocator counter is unchanged between the two reads.
    assert_eq!(first.alloc.allocations, second.alloc.allocations);
    assert_eq!(first.alloc.deallocations, second.alloc.deallocations);
    assert_eq!(first.alloc.live_bytes, second.alloc.live_bytes);
    assert_eq!(first.alloc.subsystems, second.alloc.subsystems);

    let s = second;
    assert!(s.unix_ms > 1_600_000_000_000);
    assert_eq!(s.caches.caches, 1);
    assert_eq!(s.caches.entries, 1);
    assert_eq!(s.caches.bytes, cache.bytes() as u64);
    assert_eq!(s.arenas.arenas, 1);
    assert_eq!(s.arenas.used_bytes, 3);
    assert_eq!(s.arenas.reserved_bytes, arena.stats().reserved_bytes);
    assert_eq!(s.pools.pools, 1);
    assert_eq!(s.pools.idle, 2);
    assert_eq!(s.pools.bytes_held, 2048);
    let j = s.jemalloc.expect("jemalloc feature is on");
    assert!(
        j.allocated >= s.alloc.live_bytes,
        "jemalloc sees headers and rounding on top"
    );
    let p = s.process.expect("Linux /proc");
    assert!(p.rss_bytes >= j.resident / 2);
    let pool_live = s.alloc.subsystem(Subsystem::Pool).unwrap().live_bytes;
    assert_eq!(
        pool_live,
        2 * 1024 + 2 * std::mem::size_of::<Vec<u8>>() as u64
    );

    drop((cache, arena, pool));
    let after = Snapshot::take();
    assert_eq!(
        (after.caches.caches, after.arenas.arenas, after.pools.pools),
        (0, 0, 0)
    );
    assert_eq!(
        after.alloc.subsystem(Subsystem::Pool).unwrap().live_bytes,
        0
    );
    assert_eq!(
        after.alloc.subsystem(Subsystem::Arena).unwrap().live_bytes,
        0
    );
}
