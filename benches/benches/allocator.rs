//! What the tracking allocator costs: raw System and raw jemalloc against `TrackingAllocator`
//! over each, outside any scope and inside a `Subsystem::Cache` scope, on three workloads:
//!
//! - `mixed`: 4096 alloc/free pairs of mixed sizes (8 B – 16 KiB, mostly small) through a ring
//!   of 256 live blocks, touching each block;
//! - `realloc`: 32 "string builders" per iteration, each grown from 64 B to 8 KiB in 64-byte
//!   `realloc` steps (127 reallocs each, some in place, some moving), then freed;
//! - `mixed_2t`: `mixed` on two threads at once (each with its own ring), which is where shared
//!   counters would show contention.
//!
//! The allocators are called directly as `GlobalAlloc` values (this binary's own global
//! allocator is the default one and is not measured), so every variant runs the identical
//! instruction stream apart from the allocator under test, all in the same run.
//!
//! Counting only (no attribution header) cannot be measured here: attribution is a cargo
//! feature of `ultra-alloc`, and the workspace builds it on. The counting-only figure comes from
//! `cargo bench -p ultra-alloc --no-default-features --features jemalloc --bench overhead`.
//!
//! After criterion's groups, an interleaved pass runs every variant in turn, round after round,
//! and prints the median time of each and its ratio to raw jemalloc and raw System: on a shared
//! machine this is the figure to trust, since load changes hit all variants alike. It is also
//! written to `benches/results/allocator.json`. It is skipped under `--test`/`--list` (CI
//! smoke runs) and when `ULTRA_BENCH_INTERLEAVED=0`.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use ultra_alloc::{scope, Jemalloc, Subsystem, TrackingAllocator};

/// Sizes cycled through by `mixed`: mostly small, some medium, a few large.
const SIZES: [usize; 16] = [
    16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 40, 80, 2048, 8, 4096, 16384,
];
/// Live blocks kept in flight by `mixed`, so frees are not strictly LIFO.
const RING: usize = 256;
/// Alloc/free pairs per `mixed` iteration.
const OPS: usize = 4096;
/// Builders per `realloc` iteration.
const BUILDERS: usize = 32;
/// First size, growth step and final size of a builder.
const GROW: (usize, usize, usize) = (64, 64, 8192);
/// Allocator calls per `realloc` iteration: one alloc, the reallocs, one free per builder.
const REALLOC_OPS: usize = BUILDERS * (2 + (GROW.2 - GROW.0) / GROW.1);

/// One `mixed` iteration.
fn mixed<A: GlobalAlloc>(a: &A, ring: &mut [(usize, usize); RING]) {
    for i in 0..OPS {
        let size = SIZES[i % SIZES.len()];
        let slot = &mut ring[i % RING];
        if slot.0 != 0 {
            // SAFETY: allocated below by `a` with this size and alignment 8.
            unsafe {
                a.dealloc(
                    slot.0 as *mut u8,
                    Layout::from_size_align_unchecked(slot.1, 8),
                )
            };
        }
        // SAFETY: non-zero size, alignment 8 (a power of two).
        let p = unsafe { a.alloc(Layout::from_size_align_unchecked(size, 8)) };
        assert!(!p.is_null(), "allocation failed");
        // SAFETY: the block has at least one byte.
        unsafe { p.write_volatile(i as u8) };
        *slot = (p as usize, size);
    }
    black_box(&ring);
}

/// Frees what `mixed` left in the ring.
fn drain<A: GlobalAlloc>(a: &A, ring: &mut [(usize, usize); RING]) {
    for slot in ring.iter_mut() {
        if slot.0 != 0 {
            // SAFETY: allocated by `mixed` with this size and alignment 8.
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

/// One `realloc` iteration: builders grown side by side, so neighbours compete for the space
/// after each block and some reallocs must move.
fn realloc_heavy<A: GlobalAlloc>(a: &A) {
    let (first, step, last) = GROW;
    let mut blocks = [std::ptr::null_mut::<u8>(); BUILDERS];
    for b in blocks.iter_mut() {
        // SAFETY: non-zero size, alignment 8.
        *b = unsafe { a.alloc(Layout::from_size_align_unchecked(first, 8)) };
        assert!(!b.is_null(), "allocation failed");
    }
    let mut size = first;
    while size < last {
        for b in blocks.iter_mut() {
            // SAFETY: `*b` was allocated by `a` with `size` bytes and alignment 8; the new size
            // is non-zero and does not overflow.
            *b = unsafe { a.realloc(*b, Layout::from_size_align_unchecked(size, 8), size + step) };
            assert!(!b.is_null(), "reallocation failed");
            // SAFETY: the block now has `size + step` bytes.
            unsafe { b.add(size).write_volatile(size as u8) };
        }
        size += step;
    }
    for b in blocks {
        // SAFETY: allocated by `a` with `last` bytes and alignment 8.
        unsafe { a.dealloc(b, Layout::from_size_align_unchecked(last, 8)) };
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    Mixed,
    Realloc,
    Mixed2t,
}

impl Workload {
    const ALL: [Workload; 3] = [Workload::Mixed, Workload::Realloc, Workload::Mixed2t];

    fn name(self) -> &'static str {
        match self {
            Workload::Mixed => "mixed",
            Workload::Realloc => "realloc",
            Workload::Mixed2t => "mixed_2t",
        }
    }

    fn threads(self) -> usize {
        if self == Workload::Mixed2t {
            2
        } else {
            1
        }
    }

    /// Allocator calls per iteration, all threads together.
    fn ops(self) -> u64 {
        match self {
            Workload::Mixed => 2 * OPS as u64,
            Workload::Realloc => REALLOC_OPS as u64,
            Workload::Mixed2t => 4 * OPS as u64,
        }
    }
}

/// Runs `iters` iterations of `w` on its threads (in `sub`'s scope if given); the wall time.
fn timed<A: GlobalAlloc + Sync>(
    a: &A,
    w: Workload,
    iters: u64,
    sub: Option<Subsystem>,
) -> Duration {
    let body = || {
        let run = || match w {
            Workload::Realloc => {
                for _ in 0..iters {
                    realloc_heavy(a);
                }
            }
            Workload::Mixed | Workload::Mixed2t => {
                let mut ring = [(0usize, 0usize); RING];
                for _ in 0..iters {
                    mixed(a, &mut ring);
                }
                drain(a, &mut ring);
            }
        };
        match sub {
            Some(sub) => scope(sub, run),
            None => run(),
        }
    };
    let threads = w.threads();
    if threads == 1 {
        let start = Instant::now();
        body();
        return start.elapsed();
    }
    // Each thread stamps its own start after the barrier: the wall time runs from the first
    // start to the last end.
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    body();
                    (start, Instant::now())
                })
            })
            .collect();
        let spans: Vec<(Instant, Instant)> = handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .collect();
        let start = spans.iter().map(|s| s.0).min();
        let end = spans.iter().map(|s| s.1).max();
        match (start, end) {
            (Some(start), Some(end)) => end - start,
            _ => Duration::ZERO,
        }
    })
}

static RAW_SYS: System = System;
static TRACKED_SYS: TrackingAllocator<System> = TrackingAllocator::new(System);
static RAW_JE: Jemalloc = Jemalloc;
static TRACKED_JE: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

/// Every variant, in the order tables show them.
const VARIANTS: [&str; 6] = [
    "raw_system",
    "tracked_system",
    "tracked_system_scoped",
    "raw_jemalloc",
    "tracked_jemalloc",
    "tracked_jemalloc_scoped",
];

fn run_variant(variant: &str, w: Workload, iters: u64) -> Duration {
    let cache = Some(Subsystem::Cache);
    match variant {
        "raw_system" => timed(&RAW_SYS, w, iters, None),
        "tracked_system" => timed(&TRACKED_SYS, w, iters, None),
        "tracked_system_scoped" => timed(&TRACKED_SYS, w, iters, cache),
        "raw_jemalloc" => timed(&RAW_JE, w, iters, None),
        "tracked_jemalloc" => timed(&TRACKED_JE, w, iters, None),
        "tracked_jemalloc_scoped" => timed(&TRACKED_JE, w, iters, cache),
        other => unreachable!("unknown variant {other}"),
    }
}

fn criterion_groups(c: &mut Criterion) {
    for w in Workload::ALL {
        let mut g = c.benchmark_group(format!("alloc/{}", w.name()));
        g.throughput(Throughput::Elements(w.ops()));
        for v in VARIANTS {
            g.bench_function(v, |b| b.iter_custom(|n| run_variant(v, w, n)));
        }
        g.finish();
    }
}

/// Median of `xs` (sorted in place).
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Every variant in turn, `ROUNDS` times, the order rotated each round; prints and saves the
/// medians and ratios.
fn interleaved() {
    const ROUNDS: usize = 21;
    const TARGET: Duration = Duration::from_millis(40);
    let mut json = String::from("{\n  \"suite\": \"allocator\",\n  \"unit\": \"ns per allocator call\",\n  \"rounds\": 21,\n  \"workloads\": {\n");
    println!("\ninterleaved: {ROUNDS} rounds, every variant once per round, median ns per allocator call");
    for (wi, w) in Workload::ALL.into_iter().enumerate() {
        // Iterations per sample: enough for ~TARGET on raw jemalloc.
        let probe = run_variant("raw_jemalloc", w, 10).as_secs_f64() / 10.0;
        let iters = ((TARGET.as_secs_f64() / probe.max(1e-9)) as u64).clamp(1, 1_000_000);
        let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); VARIANTS.len()];
        for _ in 0..2 {
            for v in VARIANTS {
                run_variant(v, w, iters.div_ceil(4)); // warm-up
            }
        }
        for round in 0..ROUNDS {
            for k in 0..VARIANTS.len() {
                let i = (k + round) % VARIANTS.len();
                let t = run_variant(VARIANTS[i], w, iters);
                samples[i].push(t.as_nanos() as f64 / (iters * w.ops()) as f64);
            }
        }
        let medians: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();
        let je = medians[3];
        let sys = medians[0];
        println!(
            "\n{:<10} {:<26} {:>10} {:>10} {:>10}",
            w.name(),
            "variant",
            "ns/call",
            "vs je",
            "vs sys"
        );
        json.push_str(&format!("    \"{}\": {{", w.name()));
        for (i, v) in VARIANTS.iter().enumerate() {
            println!(
                "{:<10} {:<26} {:>10.2} {:>9.3}x {:>9.3}x",
                "",
                v,
                medians[i],
                medians[i] / je,
                medians[i] / sys
            );
            json.push_str(&format!(
                "{}\n      \"{v}\": {{ \"ns_per_call\": {:.3}, \"vs_raw_jemalloc\": {:.4}, \"vs_raw_system\": {:.4} }}",
                if i == 0 { "" } else { "," },
                medians[i],
                medians[i] / je,
                medians[i] / sys
            ));
        }
        json.push_str(&format!(
            "\n    }}{}\n",
            if wi + 1 == Workload::ALL.len() {
                ""
            } else {
                ","
            }
        ));
    }
    json.push_str("  }\n}\n");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/allocator.json");
    match std::fs::write(&path, json) {
        Ok(()) => println!("\nwrote {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    criterion_groups(&mut c);
    c.final_summary();
    let args: Vec<String> = std::env::args().collect();
    let smoke = args
        .iter()
        .any(|a| a == "--test" || a == "--list" || a == "--profile-time");
    let off = std::env::var("ULTRA_BENCH_INTERLEAVED").is_ok_and(|v| v == "0");
    if !smoke && !off {
        interleaved();
    }
}
