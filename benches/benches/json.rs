//! JSON through `ultra_core::json` (simd-json) beside serde_json, on generated documents of
//! ~1 KiB (`small`) and ~1 MiB (`large`), pretty-printed records with strings, escapes,
//! numbers, booleans, nulls and nested objects (see `ultra_benches::json_document`).
//!
//! | ultra | serde_json peer |
//! |---|---|
//! | `validate` | `from_slice::<IgnoredAny>` (serde_json's cheapest full check) |
//! | `parse` (to a `serde_json::Value`) | `from_slice::<Value>` |
//! | `pointer` (one field of the middle record, minified bytes) | `from_slice::<Value>` then `Value::pointer` and `to_vec` |
//! | `minify` | `from_slice::<Value>` then `to_vec` (which also respells numbers) |
//!
//! Throughput is in input bytes per second. Every ultra call copies its input into a pooled
//! padded buffer first (simd-json rewrites its input in place); that copy is part of the figure.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::de::IgnoredAny;
use serde_json::Value;
use ultra_alloc::{Jemalloc, TrackingAllocator};
use ultra_benches::json_document;
use ultra_core::json;

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

fn json_benches(c: &mut Criterion) {
    for (name, size) in [("small", 1024), ("large", 1 << 20)] {
        let doc = json_document(size);
        let input = doc.bytes.as_slice();
        let ptr = doc.pointer.as_str();
        // Same answers from both sides before timing anything.
        assert_eq!(
            json::pointer(input, ptr).expect("valid"),
            serde_json::from_slice::<Value>(input).ok().and_then(|v| v
                .pointer(ptr)
                .map(|x| serde_json::to_vec(x).expect("serializes")))
        );
        assert_eq!(
            json::parse(input).expect("valid"),
            serde_json::from_slice::<Value>(input).expect("valid")
        );

        let mut g = c.benchmark_group(format!("json/{name}"));
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function("ultra_validate", |b| {
            b.iter(|| json::validate(black_box(input)))
        });
        g.bench_function("serde_ignored_any", |b| {
            b.iter(|| serde_json::from_slice::<IgnoredAny>(black_box(input)).is_ok())
        });
        g.bench_function("ultra_parse", |b| b.iter(|| json::parse(black_box(input))));
        g.bench_function("serde_value", |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(input)))
        });
        g.bench_function("ultra_pointer", |b| {
            b.iter(|| json::pointer(black_box(input), ptr))
        });
        g.bench_function("serde_value_pointer", |b| {
            b.iter(|| {
                serde_json::from_slice::<Value>(black_box(input))
                    .ok()
                    .and_then(|v| v.pointer(ptr).map(|x| serde_json::to_vec(x).ok()))
            })
        });
        g.bench_function("ultra_minify", |b| {
            b.iter(|| json::minify(black_box(input)))
        });
        g.bench_function("serde_value_to_vec", |b| {
            b.iter(|| {
                serde_json::from_slice::<Value>(black_box(input))
                    .ok()
                    .map(|v| serde_json::to_vec(&v).ok())
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = json_benches
}
criterion_main!(benches);
