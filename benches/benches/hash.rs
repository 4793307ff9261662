//! Hash throughput by input size: BLAKE3 and XXH3-64/128 through `ultra_core::hash`.
//!
//! - `hash/<size>` for 64 B, 1 KiB, 64 KiB and 1 MiB: `blake3` (the one-shot, which switches
//!   to rayon from `BLAKE3_PARALLEL_THRESHOLD`, 8 MiB at the time of writing, so here it stays
//!   on one thread), `blake3_single` (always one thread), `xxh3_64`, `xxh3_128`.
//! - `blake3_mt/<size>` for 1, 4 and 16 MiB: one thread against `update_multi_threaded`.
//!
//! Throughput is in input bytes per second; inputs are pseudo-random bytes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ultra_alloc::{Jemalloc, TrackingAllocator};
use ultra_benches::random_bytes;
use ultra_core::hash::{self, Blake3Hasher};

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

fn label(size: usize) -> String {
    match size {
        s if s >= MIB => format!("{} MiB", s / MIB),
        s if s >= KIB => format!("{} KiB", s / KIB),
        s => format!("{s} B"),
    }
}

fn by_size(c: &mut Criterion) {
    for size in [64, KIB, 64 * KIB, MIB] {
        let data = random_bytes(size);
        let mut g = c.benchmark_group(format!("hash/{}", label(size)));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function("blake3", |b| b.iter(|| hash::blake3(black_box(&data))));
        g.bench_function("blake3_single", |b| {
            b.iter(|| {
                Blake3Hasher::new()
                    .update_single_threaded(black_box(&data))
                    .finalize()
            })
        });
        g.bench_function("xxh3_64", |b| b.iter(|| hash::xxh3_64(black_box(&data))));
        g.bench_function("xxh3_128", |b| b.iter(|| hash::xxh3_128(black_box(&data))));
        g.finish();
    }
}

fn multi_threaded(c: &mut Criterion) {
    let mut g = c.benchmark_group("blake3_mt");
    for size in [MIB, 4 * MIB, 16 * MIB] {
        let data = random_bytes(size);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("single", label(size)), &data, |b, d| {
            b.iter(|| Blake3Hasher::new().update_single_threaded(d).finalize())
        });
        g.bench_with_input(BenchmarkId::new("multi", label(size)), &data, |b, d| {
            b.iter(|| Blake3Hasher::new().update_multi_threaded(d).finalize())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = by_size, multi_threaded
}
criterion_main!(benches);
