//! The functions the N-API cost bench calls, built one of three ways (one cargo feature per
//! build, see `Cargo.toml`): raw N-API callbacks (`raw`, and `raw-registered`), napi-rs
//! `#[napi]` (`napi`), napi-rs compat mode (`compat`). Every variant exports the same JS API:
//!
//! | JS | what | kind |
//! |---|---|---|
//! | `noop()` | nothing: the call itself | hot |
//! | `xxh3(buffer)` | XXH3-64 of the bytes, as a bigint | hot |
//! | `xxh3Number(buffer)` | the top 53 bits of the same hash, as a number | hot |
//! | `createStore(n)` | a new `Store` instance with `n` short string entries (`k0`…) | cold (class instance) |
//! | `store.get(key)` | the entry's value as a string, or `undefined` | hot (a `cache.get`) |
//! | `store.getBuffer(key)` | a Buffer copy of the value, or `undefined` | hot |
//! | `store.stats()` | `{ entries, keyBytes, valueBytes }` | cold (a plain object) |
//! | `allocations()` | heap allocations made so far through the addon's allocator | the driver's probe |
//!
//! The logic lives here once ([`Store`], [`xxh3`]); the variant modules only convert arguments
//! and results. `bench.mjs` checks that every variant answers the same.

use std::collections::HashMap;

#[cfg(not(any(
    all(
        feature = "raw",
        not(feature = "raw-registered"),
        not(feature = "napi"),
        not(feature = "compat")
    ),
    all(
        feature = "raw-registered",
        not(feature = "raw"),
        not(feature = "napi"),
        not(feature = "compat")
    ),
    all(
        feature = "napi",
        not(feature = "raw"),
        not(feature = "raw-registered"),
        not(feature = "compat")
    ),
    all(
        feature = "compat",
        not(feature = "raw"),
        not(feature = "raw-registered"),
        not(feature = "napi")
    ),
)))]
compile_error!("build with exactly one of the features raw, raw-registered, napi, compat");

#[cfg(any(feature = "raw", feature = "raw-registered"))]
mod raw;

#[cfg(feature = "napi")]
mod bindgen;

#[cfg(feature = "compat")]
mod compat;

/// The addon's allocator, as in ultra-node.
#[global_allocator]
static GLOBAL: ultra_alloc::TrackingAllocator<ultra_alloc::Jemalloc> =
    ultra_alloc::TrackingAllocator::new(ultra_alloc::Jemalloc);

/// Heap allocations made so far through the addon's allocator (every thread).
pub fn allocations() -> f64 {
    ultra_alloc::stats().allocations as f64
}

/// XXH3-64 of `data`.
pub fn xxh3(data: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(data)
}

/// The top 53 bits of [`xxh3`], exact as a JS number.
pub fn xxh3_number(data: &[u8]) -> f64 {
    (xxh3(data) >> 11) as f64
}

/// A cache-like map of short string keys to short string values.
pub struct Store {
    map: HashMap<Vec<u8>, Vec<u8>>,
}

impl Store {
    /// `n` entries: `k<i>` → `value number <i>` (zero-padded to 6 digits).
    pub fn new(n: u32) -> Store {
        let map = (0..n)
            .map(|i| {
                (
                    format!("k{i}").into_bytes(),
                    format!("value number {i:06}").into_bytes(),
                )
            })
            .collect();
        Store { map }
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// Entries, bytes of keys, bytes of values.
    pub fn stats(&self) -> [f64; 3] {
        let keys: usize = self.map.keys().map(Vec::len).sum();
        let values: usize = self.map.values().map(Vec::len).sum();
        [self.map.len() as f64, keys as f64, values as f64]
    }
}
