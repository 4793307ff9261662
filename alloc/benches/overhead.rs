//! What tracking costs: the same allocation-heavy workload through raw allocators and through
//! `TrackingAllocator` over each, side by side in one run, with one and with two threads.
//!
//! The allocators are called directly as `GlobalAlloc` values (the process's own global
//! allocator is untouched), so every variant runs the identical instruction stream apart from
//! the allocator under test. Tracking shares its counters process-wide, as in production.
//!
//! Run: `cargo bench -p ultra-alloc --bench overhead` and compare each `tracked_*` line with
//! the `raw_*` line of the same group.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use ultra_alloc::{scope, Jemalloc, Subsystem, TrackingAllocator};

/// Sizes cycled through by the workload: mostly small, some medium, a few large, like a
/// request-processing service.
const SIZES: [usize; 16] = [
    16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 40, 80, 2048, 8, 4096, 16384,
];
/// Live blocks kept in flight (a ring), so frees are not strictly LIFO.
const RING: usize = 256;
/// Operations per workload iteration.
const OPS: usize = 4096;

/// One iteration: `OPS` allocations, each freeing the block allocated `RING` steps earlier,
/// touching the first byte of every block; plus a grow-realloc every 8th step.
fn workload<A: GlobalAlloc>(a: &A, ring: &mut [(usize, usize); RING]) {
    for i in 0..OPS {
        let size = SIZES[i % SIZES.len()];
        let slot = &mut ring[i % RING];
        if slot.0 != 0 {
            // SAFETY: allocated below with this size and alignment 8.
            unsafe {
                a.dealloc(
                    slot.0 as *mut u8,
                    Layout::from_size_align_unchecked(slot.1, 8),
                )
            };
        }
        // SAFETY: non-zero size, alignment 8.
        let mut p = unsafe { a.alloc(Layout::from_size_align_unchecked(size, 8)) };
        assert!(!p.is_null());
        let mut len = size;
        if i % 8 == 0 {
            // SAFETY: `p` was just allocated with `size`, alignment 8.
            p = unsafe { a.realloc(p, Layout::from_size_align_unchecked(size, 8), size * 2) };
            assert!(!p.is_null());
            len = size * 2;
        }
        // SAFETY: the block has at least one byte.
        unsafe { p.write_volatile(i as u8) };
        *slot = (p as usize, len);
    }
    black_box(&ring);
}

fn drain<A: GlobalAlloc>(a: &A, ring: &mut [(usize, usize); RING]) {
    for slot in ring.iter_mut() {
        if slot.0 != 0 {
            // SAFETY: allocated by `workload` with this size and alignment 8.
            unsafe {
                a.dealloc(
                    slot.0 as *mut u8,
                    Layout::from_size_align_unchecked(slot.1, 8),
                )
            };
            *slot = (0, 0);
        }
    }
}

/// Runs `iters` workload iterations on `threads` threads at once; returns the wall time.
fn timed<A: GlobalAlloc + Sync>(
    a: &A,
    threads: usize,
    iters: u64,
    sub: Option<Subsystem>,
) -> Duration {
    let barrier = std::sync::Barrier::new(threads);
    let start = std::sync::OnceLock::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let run = || {
                        let mut ring = [(0usize, 0usize); RING];
                        barrier.wait();
                        let _ = start.get_or_init(Instant::now);
                        for _ in 0..iters {
                            workload(a, &mut ring);
                        }
                        drain(a, &mut ring);
                        Instant::now()
                    };
                    match sub {
                        Some(sub) => scope(sub, run),
                        None => run(),
                    }
                })
            })
            .collect();
        let end = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap();
        end - *start.get().unwrap()
    })
}

static RAW_JE: Jemalloc = Jemalloc;
static TRACKED_JE: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);
static RAW_SYS: System = System;
static TRACKED_SYS: TrackingAllocator<System> = TrackingAllocator::new(System);

fn overhead(c: &mut Criterion) {
    for threads in [1usize, 2] {
        let mut g = c.benchmark_group(format!("alloc_{threads}t"));
        g.throughput(criterion::Throughput::Elements((OPS * threads) as u64));
        g.bench_function("raw_jemalloc", |b| {
            b.iter_custom(|n| timed(&RAW_JE, threads, n, None))
        });
        g.bench_function("tracked_jemalloc", |b| {
            b.iter_custom(|n| timed(&TRACKED_JE, threads, n, None))
        });
        g.bench_function("tracked_jemalloc_in_scope", |b| {
            b.iter_custom(|n| timed(&TRACKED_JE, threads, n, Some(Subsystem::Cache)))
        });
        g.bench_function("raw_system", |b| {
            b.iter_custom(|n| timed(&RAW_SYS, threads, n, None))
        });
        g.bench_function("tracked_system", |b| {
            b.iter_custom(|n| timed(&TRACKED_SYS, threads, n, None))
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = overhead
}
criterion_main!(benches);
