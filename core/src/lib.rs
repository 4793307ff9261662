//! ultra-core: an LRU+TTL cache, BLAKE3/XXH3 hashing and simd-json, built on the
//! [`ultra_alloc`] tracking allocator so that every byte they hold is credited to their
//! subsystem (`Cache`, `Hash`, `Json`), and a [`Snapshot`] of every memory figure at once.
//!
//! ```
//! use ultra_core::{cache::{Cache, CacheOptions}, hash, json, Snapshot};
//!
//! let mut cache = Cache::new(CacheOptions { max_entries: Some(1000), ttl_ms: Some(60_000.0), ..Default::default() })?;
//! cache.set("greeting", "hello", None)?;
//! assert_eq!(cache.get("greeting").unwrap().as_str(), Some("hello"));
//!
//! assert_eq!(hash::to_hex(&hash::blake3(b"")), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
//! json::validate(br#"{"a":[1,2,3]}"#)?;
//! assert_eq!(json::pointer(br#"{"a":[1,2,3]}"#, "/a/1")?.as_deref(), Some(&b"2"[..]));
//!
//! let snap = Snapshot::take();
//! assert!(snap.caches.entries >= 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! - [`cache`]: `Cache` (single-threaded) and `SharedCache` (locked, named registry shared by
//!   every thread of the process), bounded by entries, bytes and TTL, with eviction reasons.
//! - [`hash`]: BLAKE3 (hash, keyed, derive-key, extended output, streaming, multi-threaded for
//!   large inputs) and XXH3 (64/128-bit, seeded, streaming); hex, bytes and integer outputs.
//! - [`json`]: validation with byte offsets, parsing, minification and RFC 6901 pointers over
//!   simd-json, with depth and size limits; never mutates the caller's bytes.
//! - [`Snapshot`]: allocator, jemalloc, arena, pool and cache figures plus process RSS, read
//!   without allocating.
//! - [`Explanation`]: the process's RSS split into owners (`code`, `ultra`,
//!   `allocator_overhead`, `v8_heap`, `malloc`, `stacks`, …) that add up to it exactly, with
//!   the rest `unattributed`.
//!
//! # Crate features
//!
//! - `jemalloc` (default), `attribution` (default): forwarded to `ultra-alloc`.
//!
//! Nothing here panics on bad input: every fallible operation returns an error value.

pub mod cache;
mod explain;
pub mod hash;
pub mod json;
mod snapshot;

pub use cache::{Cache, CacheError, CacheOptions, CacheStats, Policy, SharedCache};
pub use explain::{Backing, ExplainOptions, Explanation, Owner, Parts, UNATTRIBUTED_LABEL};
pub use hash::HashError;
pub use json::JsonError;
pub use snapshot::{process_memory, JemallocUnavailable, ProcessMemory, Snapshot};
pub use ultra_alloc;
