//! What the cache's TTL and byte accounting cost: `ultra_core::Cache` and `SharedCache` beside
//! the `lru` crate they wrap, used directly, and a plain `HashMap` (std SipHash, and the
//! foldhash hasher that `lru` uses) with the same keys and values.
//!
//! Every structure holds `N` = 10 000 entries of gateway-like keys (~35 bytes) and 100-byte
//! values. Operations:
//!
//! - `get_hit`: look up a present key (ultra: `get_with`, which reads the value in place like
//!   `lru::get`; and `get`, which returns a copy, as the Node addon must);
//! - `get_miss`: look up an absent key;
//! - `set_evict`: insert a new key into a full structure, which evicts the least recently used
//!   entry (`HashMap`: removes the key inserted `N` sets earlier, a FIFO bound);
//! - `mixed_ttl`: 90 % gets / 10 % sets over 1.25 × `N` keys (so some gets miss and some sets
//!   evict), ultra with a 60 s TTL, ultra without TTL, and `lru`.
//!
//! The process runs on `TrackingAllocator<Jemalloc>`, as the Node addon does, so every
//! variant pays the same allocator.

use std::collections::HashMap;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use lru::LruCache;
use ultra_alloc::{Jemalloc, TrackingAllocator};
use ultra_benches::{cache_keys, value_bytes, Rng};
use ultra_core::cache::{Cache, CacheOptions, SharedCache};

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

const N: usize = 10_000;
const VALUE_LEN: usize = 100;
const TTL_MS: f64 = 60_000.0;

type StdMap = HashMap<Box<str>, Box<[u8]>>;
type FoldMap = HashMap<Box<str>, Box<[u8]>, lru::DefaultHasher>;
type Lru = LruCache<Box<str>, Box<[u8]>>;

struct Inputs {
    /// `2 × N` keys: the first `N` are inserted, the rest are misses / new keys.
    keys: Vec<String>,
    value: Vec<u8>,
    /// `mixed_ttl` operations: (is_set, key index).
    mixed: Vec<(bool, usize)>,
}

fn inputs() -> Inputs {
    let mut rng = Rng::new(42);
    let span = N + N / 4;
    Inputs {
        keys: cache_keys(2 * N),
        value: value_bytes(VALUE_LEN, 7),
        mixed: (0..65_536)
            .map(|_| (rng.below(10) == 0, rng.below(span as u64) as usize))
            .collect(),
    }
}

fn ultra(ttl: bool) -> Cache {
    let options = CacheOptions {
        max_entries: Some(N),
        ttl_ms: ttl.then_some(TTL_MS),
        ..CacheOptions::default()
    };
    Cache::new(options).expect("valid options")
}

fn shared(ttl: bool) -> SharedCache {
    SharedCache::from_cache(ultra(ttl))
}

fn lru_cache() -> Lru {
    LruCache::new(NonZeroUsize::new(N).expect("N > 0"))
}

/// A structure filled with the first `N` keys.
fn filled<T>(mut t: T, inp: &Inputs, mut put: impl FnMut(&mut T, &str, &[u8])) -> T {
    for k in &inp.keys[..N] {
        put(&mut t, k, &inp.value);
    }
    t
}

fn put_std(m: &mut StdMap, k: &str, v: &[u8]) {
    m.insert(Box::from(k), Box::from(v));
}
fn put_fold(m: &mut FoldMap, k: &str, v: &[u8]) {
    m.insert(Box::from(k), Box::from(v));
}
fn put_lru(m: &mut Lru, k: &str, v: &[u8]) {
    m.push(Box::from(k), Box::from(v));
}
fn put_ultra(m: &mut Cache, k: &str, v: &[u8]) {
    m.set(k, v, None).expect("fits");
}
fn put_shared(m: &mut SharedCache, k: &str, v: &[u8]) {
    m.set(k, v, None).expect("fits");
}

/// Benchmarks `op(structure, key index)` with the key index cycling through `range`.
fn bench_cycle<T>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut t: T,
    range: std::ops::Range<usize>,
    mut op: impl FnMut(&mut T, usize) -> usize,
) {
    let mut i = range.start;
    g.bench_function(name, |b| {
        b.iter(|| {
            i += 1;
            if i == range.end {
                i = range.start;
            }
            black_box(op(&mut t, i))
        })
    });
}

fn cache(c: &mut Criterion) {
    let inp = inputs();
    let keys = &inp.keys;
    let ks = |i: usize| keys[i].as_str();

    for (group, range) in [("cache/get_hit", 0..N), ("cache/get_miss", N..2 * N)] {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(1));
        let std_map = filled(StdMap::default(), &inp, put_std);
        bench_cycle(&mut g, "hashmap_std", std_map, range.clone(), |m, i| {
            m.get(ks(i)).map_or(0, |v| v.len())
        });
        let fold_map = filled(FoldMap::default(), &inp, put_fold);
        bench_cycle(
            &mut g,
            "hashmap_foldhash",
            fold_map,
            range.clone(),
            |m, i| m.get(ks(i)).map_or(0, |v| v.len()),
        );
        bench_cycle(
            &mut g,
            "lru",
            filled(lru_cache(), &inp, put_lru),
            range.clone(),
            |m, i| m.get(ks(i)).map_or(0, |v| v.len()),
        );
        for ttl in [false, true] {
            let name = if ttl {
                "ultra_cache_ttl"
            } else {
                "ultra_cache"
            };
            bench_cycle(
                &mut g,
                name,
                filled(ultra(ttl), &inp, put_ultra),
                range.clone(),
                |m, i| m.get_with(ks(i), |v| v.data.len()).unwrap_or(0),
            );
        }
        bench_cycle(
            &mut g,
            "ultra_cache_ttl_get_copy",
            filled(ultra(true), &inp, put_ultra),
            range.clone(),
            |m, i| m.get(ks(i)).map_or(0, |v| v.data.len()),
        );
        bench_cycle(
            &mut g,
            "ultra_shared_ttl",
            filled(shared(true), &inp, put_shared),
            range.clone(),
            |m, i| m.get_with(ks(i), |v| v.data.len()).unwrap_or(0),
        );
        g.finish();
    }

    {
        // Keys cycle through all 2N; the structure holds N, so every set inserts and evicts.
        let mut g = c.benchmark_group("cache/set_evict");
        g.throughput(Throughput::Elements(1));
        let v = inp.value.as_slice();
        let back = |i: usize| (i + N) % (2 * N); // the key set N steps earlier
        bench_cycle(
            &mut g,
            "hashmap_std",
            filled(StdMap::default(), &inp, put_std),
            0..2 * N,
            |m, i| {
                let j = (i + N) % (2 * N);
                m.remove(ks(back(j)));
                put_std(m, ks(j), v);
                m.len()
            },
        );
        bench_cycle(
            &mut g,
            "hashmap_foldhash",
            filled(FoldMap::default(), &inp, put_fold),
            0..2 * N,
            |m, i| {
                let j = (i + N) % (2 * N);
                m.remove(ks(back(j)));
                put_fold(m, ks(j), v);
                m.len()
            },
        );
        bench_cycle(
            &mut g,
            "lru",
            filled(lru_cache(), &inp, put_lru),
            0..2 * N,
            |m, i| {
                put_lru(m, ks((i + N) % (2 * N)), v);
                m.len()
            },
        );
        for ttl in [false, true] {
            let name = if ttl {
                "ultra_cache_ttl"
            } else {
                "ultra_cache"
            };
            bench_cycle(
                &mut g,
                name,
                filled(ultra(ttl), &inp, put_ultra),
                0..2 * N,
                |m, i| {
                    put_ultra(m, ks((i + N) % (2 * N)), v);
                    m.len()
                },
            );
        }
        bench_cycle(
            &mut g,
            "ultra_shared_ttl",
            filled(shared(true), &inp, put_shared),
            0..2 * N,
            |m, i| {
                put_shared(m, ks((i + N) % (2 * N)), v);
                m.len()
            },
        );
        g.finish();
    }

    {
        let mut g = c.benchmark_group("cache/mixed_ttl");
        g.throughput(Throughput::Elements(1));
        let ops = &inp.mixed;
        let v = inp.value.as_slice();
        let len = ops.len();
        bench_cycle(
            &mut g,
            "lru",
            filled(lru_cache(), &inp, put_lru),
            0..len,
            |m, i| {
                let (set, k) = ops[i];
                if set {
                    put_lru(m, ks(k), v);
                    0
                } else {
                    m.get(ks(k)).map_or(0, |v| v.len())
                }
            },
        );
        for ttl in [false, true] {
            let name = if ttl {
                "ultra_cache_ttl"
            } else {
                "ultra_cache"
            };
            bench_cycle(
                &mut g,
                name,
                filled(ultra(ttl), &inp, put_ultra),
                0..len,
                |m, i| {
                    let (set, k) = ops[i];
                    if set {
                        put_ultra(m, ks(k), v);
                        0
                    } else {
                        m.get_with(ks(k), |v| v.data.len()).unwrap_or(0)
                    }
                },
            );
        }
        bench_cycle(
            &mut g,
            "ultra_shared_ttl",
            filled(shared(true), &inp, put_shared),
            0..len,
            |m, i| {
                let (set, k) = ops[i];
                if set {
                    put_shared(m, ks(k), v);
                    0
                } else {
                    m.get_with(ks(k), |v| v.data.len()).unwrap_or(0)
                }
            },
        );
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = cache
}
criterion_main!(benches);
