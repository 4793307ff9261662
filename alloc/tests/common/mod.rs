//! Checks shared by the global-allocator scenario binaries.
//!
//! Each binary installs its own `#[global_allocator]` and runs these checks one after another
//! on a single thread (`harness = false`), so that process-wide figures are not disturbed by a
//! test harness allocating on other threads: every "exactly" below is an equality.

#![allow(dead_code, unsafe_code)]

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};
use std::panic::{catch_unwind, AssertUnwindSafe};

use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestRunner};
use ultra_alloc::{
    arenas_total, pools_total, scope, stats, AllocStats, Arena, ArenaConfig, ArenaError,
    BufferPool, PoolConfig, Subsystem,
};

/// A named check.
pub type Check = (&'static str, fn());

/// Runs every check, prints a libtest-style summary, exits non-zero on any failure.
pub fn run(checks: &[Check]) {
    let mut failed = Vec::new();
    for (name, f) in checks {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    let passed = checks.len() - failed.len();
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {} failed; 0 ignored",
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

fn sub_live(s: &AllocStats, sub: Subsystem) -> u64 {
    s.subsystem(sub).map_or(0, |x| x.live_bytes)
}

/// Allocating objects of known layouts moves live bytes by exactly their sizes.
pub fn live_bytes_are_exact() {
    let sizes = [
        1usize,
        7,
        16,
        17,
        100,
        4096,
        65536,
        1 << 20,
        (1 << 20) + 1,
        3 << 20,
    ];
    let before = stats();
    let mut blocks = Vec::with_capacity(sizes.len());
    let mid = stats();
    let list_bytes = mid.live_bytes - before.live_bytes;
    assert_eq!(
        list_bytes,
        (sizes.len() * std::mem::size_of::<(usize, usize)>()) as u64
    );
    for (i, &size) in sizes.iter().enumerate() {
        let layout = Layout::from_size_align(size, 1 << (i % 8)).unwrap();
        // SAFETY: non-zero size.
        let p = unsafe { alloc(layout) };
        assert!(!p.is_null());
        blocks.push((p as usize, size));
    }
    let after = stats();
    let total: u64 = sizes.iter().map(|&s| s as u64).sum();
    assert_eq!(after.live_bytes - mid.live_bytes, total);
    assert_eq!(after.allocations - mid.allocations, sizes.len() as u64);
    assert_eq!(after.allocated_bytes - mid.allocated_bytes, total);
    assert!(after.peak_bytes >= after.live_bytes);
    for (i, (p, size)) in blocks.iter().enumerate() {
        let layout = Layout::from_size_align(*size, 1 << (i % 8)).unwrap();
        // SAFETY: allocated above with this layout.
        unsafe { dealloc(*p as *mut u8, layout) };
    }
    let freed = stats();
    assert_eq!(freed.live_bytes, mid.live_bytes);
    assert_eq!(
        freed.deallocations - after.deallocations,
        sizes.len() as u64
    );
    assert_eq!(freed.freed_bytes - after.freed_bytes, total);
    drop(blocks);
    assert_eq!(stats().live_bytes, before.live_bytes);
}

/// The histogram counts each allocation once, in its power-of-two bucket.
pub fn histogram_buckets_are_exact() {
    let cases: [(usize, usize); 6] = [
        (1, 0),
        (16, 0),
        (17, 1),
        (1024, 6),
        (1 << 20, 16),
        ((1 << 20) + 1, 17),
    ];
    for (size, bucket) in cases {
        let before = stats();
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: non-zero size; freed right after.
        unsafe {
            let p = alloc(layout);
            assert!(!p.is_null());
            dealloc(p, layout);
        }
        let after = stats();
        for (i, (a, b)) in after.histogram.iter().zip(before.histogram).enumerate() {
            let expected = u64::from(i == bucket);
            assert_eq!(a - b, expected, "size {size}: bucket {i}");
        }
        assert_eq!(after.histogram_sum - before.histogram_sum, size as u64);
    }
}

/// Zeroed allocations are zeroed and counted like others; reallocs move live bytes by the
/// difference and keep contents.
pub fn zeroed_and_realloc_are_exact() {
    let before = stats();
    let layout = Layout::from_size_align(1000, 64).unwrap();
    // SAFETY: non-zero size; every pointer is used with the layout it was (re)allocated with.
    unsafe {
        let p = alloc_zeroed(layout);
        assert!(!p.is_null());
        assert!(std::slice::from_raw_parts(p, 1000).iter().all(|&b| b == 0));
        assert_eq!(p as usize % 64, 0);
        p.write_bytes(0xAB, 1000);
        assert_eq!(stats().live_bytes - before.live_bytes, 1000);
        let q = realloc(p, layout, 5000);
        assert!(!q.is_null());
        assert_eq!(q as usize % 64, 0);
        assert!(std::slice::from_raw_parts(q, 1000)
            .iter()
            .all(|&b| b == 0xAB));
        let mid = stats();
        assert_eq!(mid.live_bytes - before.live_bytes, 5000);
        assert_eq!(mid.reallocations - before.reallocations, 1);
        let r = realloc(q, Layout::from_size_align(5000, 64).unwrap(), 10);
        assert!(!r.is_null());
        assert!(std::slice::from_raw_parts(r, 10).iter().all(|&b| b == 0xAB));
        assert_eq!(stats().live_bytes - before.live_bytes, 10);
        dealloc(r, Layout::from_size_align(10, 64).unwrap());
    }
    assert_eq!(stats().live_bytes, before.live_bytes);
}

/// Bytes allocated in a scope are credited to it, and debited from it when freed on another
/// thread, in another scope, or with no scope.
pub fn attribution_follows_the_block() {
    let before = stats();
    if before.subsystems.is_none() {
        // Built without `attribution`: subsystem figures are absent, never made up.
        assert_eq!(before.subsystem(Subsystem::Cache), None);
        return;
    }
    let v = scope(Subsystem::Cache, || vec![1u8; 10_000]);
    let w = scope(Subsystem::Json, || vec![2u8; 3_000]);
    let mid = stats();
    assert_eq!(
        sub_live(&mid, Subsystem::Cache) - sub_live(&before, Subsystem::Cache),
        10_000
    );
    assert_eq!(
        sub_live(&mid, Subsystem::Json) - sub_live(&before, Subsystem::Json),
        3_000
    );
    // Freed on another thread, inside a different scope.
    std::thread::spawn(move || scope(Subsystem::Hash, || drop(v)))
        .join()
        .unwrap();
    // Freed with no scope.
    drop(w);
    let after = stats();
    assert_eq!(
        sub_live(&after, Subsystem::Cache),
        sub_live(&before, Subsystem::Cache)
    );
    assert_eq!(
        sub_live(&after, Subsystem::Json),
        sub_live(&before, Subsystem::Json)
    );
    assert_eq!(
        sub_live(&after, Subsystem::Hash),
        sub_live(&before, Subsystem::Hash)
    );
    // A realloc keeps the block with the subsystem that allocated it.
    let mut grow = scope(Subsystem::Exporter, || Vec::<u8>::with_capacity(100));
    grow.reserve_exact(10_000);
    let cap = grow.capacity() as u64;
    let s = stats();
    assert_eq!(
        sub_live(&s, Subsystem::Exporter) - sub_live(&before, Subsystem::Exporter),
        cap
    );
    drop(grow);
    assert_eq!(
        sub_live(&stats(), Subsystem::Exporter),
        sub_live(&before, Subsystem::Exporter)
    );
    // Subsystems add up to the total.
    let s = stats();
    if let Some(subs) = s.subsystems {
        assert_eq!(subs.iter().map(|x| x.live_bytes).sum::<u64>(), s.live_bytes);
    }
}

/// Peaks are exact for one thread and never below live.
pub fn peaks_track_one_thread_exactly() {
    ultra_alloc::reset_peaks();
    let base = stats();
    assert_eq!(base.peak_bytes, base.live_bytes);
    let big = scope(Subsystem::Hash, || vec![0u8; 4 << 20]);
    drop(big);
    let small = scope(Subsystem::Hash, || vec![0u8; 1024]);
    let s = stats();
    assert_eq!(s.peak_bytes, base.live_bytes + (4 << 20));
    if s.subsystems.is_some() {
        let hp = s.subsystem(Subsystem::Hash).unwrap().peak_bytes;
        assert_eq!(hp, sub_live(&base, Subsystem::Hash) + (4 << 20));
    }
    drop(small);
    ultra_alloc::reset_peaks();
    let s = stats();
    assert_eq!(s.peak_bytes, s.live_bytes);
}

/// A created-but-unused arena costs zero heap bytes; the first allocation reserves the first
/// chunk; the limit is enforced; reset keeps one chunk; drop frees everything.
pub fn arena_is_lazy_limited_and_resettable() {
    let before = stats();
    let totals_before = arenas_total();
    let mut arena = Arena::new(ArenaConfig {
        chunk_bytes: 64 * 1024,
        limit_bytes: 1 << 20,
    });
    let created = stats();
    assert_eq!(
        created.live_bytes, before.live_bytes,
        "an unused arena allocated"
    );
    assert_eq!(created.allocations, before.allocations);
    assert_eq!(arena.stats().reserved_bytes, 0);
    assert_eq!(arena.stats().chunks, 0);
    assert_eq!(arenas_total().arenas, totals_before.arenas + 1);

    let a = arena.alloc_copy(&[7u8; 100]).unwrap();
    assert_eq!(a, &[7u8; 100][..]);
    let st = arena.stats();
    assert_eq!(st.used_bytes, 100);
    assert_eq!(st.chunks, 1);
    assert!(st.reserved_bytes >= 64 * 1024, "{st:?}");
    let after_first = stats();
    assert_eq!(
        sub_live(&after_first, Subsystem::Arena) - sub_live(&before, Subsystem::Arena),
        if after_first.subsystems.is_some() {
            after_first.live_bytes - before.live_bytes
        } else {
            0
        }
    );
    // Fill past the first chunk.
    for _ in 0..30 {
        arena.alloc_zeroed(10_000).unwrap();
    }
    assert!(arena.stats().chunks >= 2);
    assert_eq!(arena.stats().used_bytes, 100 + 300_000);
    // Past the limit: an error, not an abort.
    let err = arena.alloc_zeroed(2 << 20).unwrap_err();
    assert!(
        matches!(err, ArenaError::LimitExceeded { limit, .. } if limit == 1 << 20),
        "{err}"
    );
    let mut filled = 0usize;
    let err = loop {
        match arena.alloc_zeroed(50_000) {
            Ok(_) => filled += 50_000,
            Err(e) => break e,
        }
        assert!(filled < 2 << 20, "limit not enforced");
    };
    assert!(matches!(err, ArenaError::LimitExceeded { .. }));
    assert!(arena.stats().reserved_bytes <= 1 << 20);
    let reserved_totals = arenas_total();
    assert_eq!(
        reserved_totals.reserved_bytes - totals_before.reserved_bytes,
        arena.stats().reserved_bytes
    );

    arena.reset();
    let st = arena.stats();
    assert_eq!((st.used_bytes, st.chunks), (0, 1));
    assert!(st.reserved_bytes > 0);
    arena.alloc_zeroed(10).unwrap();
    arena.release();
    assert_eq!(
        arena.stats(),
        ultra_alloc::ArenaStats {
            arenas: 1,
            ..Default::default()
        }
    );
    drop(arena);
    assert_eq!(stats().live_bytes, before.live_bytes);
    assert_eq!(arenas_total(), totals_before);
}

/// Pools: nothing up front by default, `initial` up front when asked, reuse, max idle, shrink.
pub fn pool_is_lazy_reuses_and_shrinks() {
    let before = stats();
    let totals_before = pools_total();
    let pool = BufferPool::new(PoolConfig {
        initial: 0,
        max_idle: 2,
        buffer_bytes: 4096,
    });
    assert_eq!(
        stats().live_bytes,
        before.live_bytes,
        "an empty pool allocated"
    );
    assert_eq!(pool.stats().idle, 0);

    let a = pool.take(3000);
    let b = pool.take(4096);
    let c = pool.take(4000);
    assert_eq!(a.capacity(), 4096);
    let s = pool.stats();
    assert_eq!((s.in_use, s.misses, s.hits), (3, 3, 0));
    let mid = stats();
    assert_eq!(
        sub_live(&mid, Subsystem::Pool) - sub_live(&before, Subsystem::Pool),
        if mid.subsystems.is_some() {
            3 * 4096
        } else {
            0
        }
    );
    assert!(pool.give_back(a));
    assert!(pool.give_back(b));
    assert!(
        !pool.give_back(c),
        "a third idle buffer exceeds max_idle = 2"
    );
    let s = pool.stats();
    assert_eq!((s.idle, s.in_use, s.bytes_held), (2, 0, 8192));
    {
        let mut d = pool.acquire(4000);
        assert_eq!(d.capacity(), 4096, "served from the 4 KiB class");
        assert!(d.is_empty(), "reused buffers come back empty");
        d.extend_from_slice(b"x");
    }
    let s = pool.stats();
    assert_eq!((s.hits, s.idle), (1, 2));
    let small = pool.acquire(10);
    assert_eq!(small.capacity(), 64);
    drop(small);
    assert_eq!(pool.stats().idle, 3);
    assert_eq!(pools_total().idle - totals_before.idle, 3);
    assert_eq!(pool.shrink(), 8192 + 64);
    assert_eq!(pool.stats().idle, 0);
    drop(pool);
    assert_eq!(stats().live_bytes, before.live_bytes);
    assert_eq!(pools_total().idle, totals_before.idle);

    // ULTRA_POOL_INITIAL: buffers created up front.
    let pool = BufferPool::new(PoolConfig {
        initial: 3,
        max_idle: 8,
        buffer_bytes: 16 * 1024,
    });
    let s = pool.stats();
    assert_eq!((s.idle, s.bytes_held), (3, 3 * 16 * 1024));
    let grew = stats().live_bytes - before.live_bytes;
    assert!(grew >= 3 * 16 * 1024);
    drop(pool);
    assert_eq!(stats().live_bytes, before.live_bytes);
}

#[derive(Debug, Clone)]
enum Op {
    Alloc {
        size: usize,
        align_log: u32,
        zeroed: bool,
    },
    Realloc {
        idx: usize,
        size: usize,
    },
    Free {
        idx: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..=(1 << 20), 0u32..=12, any::<bool>()).prop_map(|(size, align_log, zeroed)| Op::Alloc { size, align_log, zeroed }),
        3 => (any::<usize>(), 0usize..=(1 << 20)).prop_map(|(idx, size)| Op::Realloc { idx, size }),
        2 => any::<usize>().prop_map(|idx| Op::Free { idx }),
    ]
}

struct Block {
    ptr: *mut u8,
    layout: Layout,
    fill: u8,
}

fn check_fill(b: &Block, len: usize) {
    // SAFETY: the block holds at least `len` initialised bytes.
    let bytes = unsafe { std::slice::from_raw_parts(b.ptr, len) };
    assert!(bytes.iter().all(|&x| x == b.fill), "contents lost");
}

/// Runs a list of ops on this thread, verifying contents after every realloc, freeing all.
fn run_ops(ops: &[Op], sub: Subsystem, seed: u8) {
    let _scope = sub.enter();
    let mut blocks: Vec<Block> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let fill = seed.wrapping_add(n as u8);
        match *op {
            Op::Alloc {
                size,
                align_log,
                zeroed,
            } => {
                if size == 0 {
                    continue; // zero-sized requests never reach a GlobalAlloc
                }
                let layout = Layout::from_size_align(size, 1 << align_log).unwrap();
                // SAFETY: non-zero size.
                let ptr = unsafe {
                    if zeroed {
                        alloc_zeroed(layout)
                    } else {
                        alloc(layout)
                    }
                };
                assert!(!ptr.is_null());
                assert_eq!(ptr as usize % layout.align(), 0);
                if zeroed {
                    // SAFETY: fresh block of `size` bytes.
                    assert!(unsafe { std::slice::from_raw_parts(ptr, size) }
                        .iter()
                        .all(|&b| b == 0));
                }
                // SAFETY: fresh block of `size` bytes.
                unsafe { ptr.write_bytes(fill, size) };
                blocks.push(Block { ptr, layout, fill });
            }
            Op::Realloc { idx, size } if !blocks.is_empty() && size > 0 => {
                let i = idx % blocks.len();
                let b = &mut blocks[i];
                let keep = b.layout.size().min(size);
                // SAFETY: `b` was allocated with `b.layout`; `size` is non-zero.
                let p = unsafe { realloc(b.ptr, b.layout, size) };
                assert!(!p.is_null());
                assert_eq!(p as usize % b.layout.align(), 0);
                b.ptr = p;
                b.layout = Layout::from_size_align(size, b.layout.align()).unwrap();
                check_fill(b, keep);
                // SAFETY: the block now has `size` bytes.
                unsafe { p.write_bytes(b.fill, size) };
            }
            Op::Free { idx } if !blocks.is_empty() => {
                let b = blocks.swap_remove(idx % blocks.len());
                check_fill(&b, b.layout.size());
                // SAFETY: allocated with this layout.
                unsafe { dealloc(b.ptr, b.layout) };
            }
            _ => {}
        }
    }
    for b in blocks {
        check_fill(&b, b.layout.size());
        // SAFETY: allocated with this layout.
        unsafe { dealloc(b.ptr, b.layout) };
    }
}

/// Two threads (plus a third freeing on behalf of another) run random alloc / realloc / free
/// sequences with sizes 0–1 MiB and alignments 1–4096; after join, live bytes are back to the
/// starting value exactly, in total and per subsystem.
pub fn randomized_multithread_stress() {
    let mut runner = TestRunner::new(PtConfig {
        cases: 24,
        failure_persistence: None,
        ..PtConfig::default()
    });
    let strategy = (
        proptest::collection::vec(op(), 1..120),
        proptest::collection::vec(op(), 1..120),
        any::<u8>(),
    );
    runner
        .run(&strategy, |(a, b, seed)| {
            let before = stats();
            let (a, b) = (a.clone(), b.clone());
            let t1 = std::thread::spawn(move || run_ops(&a, Subsystem::Cache, seed));
            let t2 = std::thread::spawn(move || run_ops(&b, Subsystem::Json, seed ^ 0x5A));
            // A block allocated here and freed on another thread.
            let handoff = scope(Subsystem::Arena, || vec![3u8; 123_457]);
            let t3 = std::thread::spawn(move || drop(handoff));
            t1.join().unwrap();
            t2.join().unwrap();
            t3.join().unwrap();
            let after = stats();
            prop_assert_eq!(after.live_bytes, before.live_bytes);
            if let (Some(x), Some(y)) = (after.subsystems, before.subsystems) {
                for s in Subsystem::ALL {
                    prop_assert_eq!(
                        x[s.index()].live_bytes,
                        y[s.index()].live_bytes,
                        "subsystem {}",
                        s
                    );
                }
            }
            prop_assert_eq!(after.failed_allocations, before.failed_allocations);
            Ok(())
        })
        .unwrap();
}

/// Every check in this module, for the scenario binaries.
pub const ALL: &[Check] = &[
    ("live_bytes_are_exact", live_bytes_are_exact),
    ("histogram_buckets_are_exact", histogram_buckets_are_exact),
    ("zeroed_and_realloc_are_exact", zeroed_and_realloc_are_exact),
    (
        "attribution_follows_the_block",
        attribution_follows_the_block,
    ),
    (
        "peaks_track_one_thread_exactly",
        peaks_track_one_thread_exactly,
    ),
    (
        "arena_is_lazy_limited_and_resettable",
        arena_is_lazy_limited_and_resettable,
    ),
    (
        "pool_is_lazy_reuses_and_shrinks",
        pool_is_lazy_reuses_and_shrinks,
    ),
    (
        "randomized_multithread_stress",
        randomized_multithread_stress,
    ),
];
