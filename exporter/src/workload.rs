//! The gateway-like workload the `ultra-exporter` binary drives through the core.
//!
//! Each request is a JSON body of a mixed size (70 % under 1 KiB, 25 % 2–16 KiB, 5 %
//! 32–128 KiB; about 1 % is malformed), written into a buffer from a [`BufferPool`]. The
//! gateway validates it ([`json::validate`]), looks into it with JSON pointers
//! ([`json::pointer`]), hashes it — BLAKE3 for the response-cache key, XXH3-64 to spot
//! duplicates in a short window — and answers from a TTL [`SharedCache`]; on a miss it builds
//! the response in a per-request [`Arena`], caches it, and resets the arena. Request ids
//! follow a log-uniform law over [`GatewayOptions::distinct_bodies`] bodies, so a few are hot
//! and most are cold, which gives hits, misses and evictions of every kind.
//!
//! ```
//! use std::sync::Arc;
//! use ultra_alloc::Config;
//! use ultra_exporter::workload::{Gateway, GatewayOptions, Workload};
//!
//! let gateway = Arc::new(Gateway::new(GatewayOptions::from_config(&Config::default()))?);
//! let mut worker = gateway.worker(1);
//! for _ in 0..100 {
//!     worker.handle_one();
//! }
//! assert_eq!(gateway.stats().requests, 100);
//! let running = Workload::start(gateway.clone(), 1000, 1)?; // 1000 requests/s on one thread
//! running.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ultra_alloc::{Arena, ArenaConfig, BufferPool, Config, PoolConfig};
use ultra_core::cache::{CacheError, CacheOptions, SharedCache};
use ultra_core::{hash, json};

/// Sizing of a [`Gateway`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GatewayOptions {
    /// The response cache.
    pub cache: CacheOptions,
    /// The duplicate-detection window (a cache of XXH3 digests).
    pub dedupe: CacheOptions,
    /// Number of distinct request bodies.
    pub distinct_bodies: u64,
    /// Malformed bodies per thousand requests.
    pub invalid_per_mille: u64,
    /// Sizing of the buffer pool bodies are written into.
    pub pool: PoolConfig,
    /// Sizing of each worker's per-request arena.
    pub arena: ArenaConfig,
}

impl GatewayOptions {
    /// The gateway as the binary runs it: `ULTRA_CACHE_*`, `ULTRA_POOL_*` and `ULTRA_ARENA_*`
    /// where set, otherwise a response cache of 4096 entries, 8 MiB and a 5 s TTL.
    pub fn from_config(config: &Config) -> GatewayOptions {
        GatewayOptions {
            cache: CacheOptions {
                max_entries: Some(config.cache_max_entries.unwrap_or(4096)),
                max_bytes: Some(config.cache_max_bytes.unwrap_or(8 << 20)),
                ttl_ms: Some(config.cache_ttl_ms.map_or(5_000.0, |ms| ms as f64)),
                ..CacheOptions::default()
            },
            dedupe: CacheOptions {
                max_entries: Some(1024),
                max_bytes: None,
                ttl_ms: Some(1_000.0),
                ..CacheOptions::default()
            },
            distinct_bodies: 20_000,
            invalid_per_mille: 10,
            pool: PoolConfig::from(config),
            arena: ArenaConfig::from(config),
        }
    }
}

/// Counters of a [`Gateway`] (all cumulative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatewayStats {
    /// Requests handled.
    pub requests: u64,
    /// Requests whose body was not valid JSON.
    pub rejected: u64,
    /// Responses served from the cache.
    pub hits: u64,
    /// Responses built because the cache had none.
    pub misses: u64,
    /// Bodies seen before within the dedupe window.
    pub duplicates: u64,
    /// Responses that could not be cached (heavier than the cache's byte bound).
    pub uncacheable: u64,
    /// Body bytes received.
    pub bytes_in: u64,
    /// Response bytes sent.
    pub bytes_out: u64,
}

impl GatewayStats {
    /// `hits / (hits + misses)`, or `None` before any lookup.
    pub fn hit_ratio(&self) -> Option<f64> {
        let n = self.hits + self.misses;
        (n > 0).then(|| self.hits as f64 / n as f64)
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    rejected: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    duplicates: AtomicU64,
    uncacheable: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// The shared part of the gateway: caches, buffer pool, counters.
#[derive(Debug)]
pub struct Gateway {
    options: GatewayOptions,
    cache: SharedCache,
    dedupe: SharedCache,
    pool: BufferPool,
    counters: Counters,
}

impl Gateway {
    /// A gateway with empty caches and pool.
    ///
    /// # Errors
    ///
    /// A [`CacheError`] if the cache options are not acceptable (no bound, bad TTL, …).
    pub fn new(options: GatewayOptions) -> Result<Gateway, CacheError> {
        Ok(Gateway {
            cache: SharedCache::new(options.cache)?,
            dedupe: SharedCache::new(options.dedupe)?,
            pool: BufferPool::new(options.pool),
            counters: Counters::default(),
            options,
        })
    }

    /// The response cache.
    pub fn cache(&self) -> &SharedCache {
        &self.cache
    }

    /// The counters so far.
    pub fn stats(&self) -> GatewayStats {
        let c = &self.counters;
        GatewayStats {
            requests: c.requests.load(Relaxed),
            rejected: c.rejected.load(Relaxed),
            hits: c.hits.load(Relaxed),
            misses: c.misses.load(Relaxed),
            duplicates: c.duplicates.load(Relaxed),
            uncacheable: c.uncacheable.load(Relaxed),
            bytes_in: c.bytes_in.load(Relaxed),
            bytes_out: c.bytes_out.load(Relaxed),
        }
    }

    /// A worker with its own arena and request generator (`seed` picks the sequence).
    pub fn worker(&self, seed: u64) -> Worker<'_> {
        Worker {
            gateway: self,
            arena: Arena::new(self.options.arena),
            rng: splitmix(seed ^ SEED_MIX),
        }
    }
}

/// A constant mixed into worker seeds.
const SEED_MIX: u64 = 0x0075_6c74_7261_6777; // "ultragw"

/// One thread's share of the gateway: a request generator and a per-request arena.
#[derive(Debug)]
pub struct Worker<'g> {
    gateway: &'g Gateway,
    arena: Arena,
    rng: u64,
}

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The body was not valid JSON.
    Rejected,
    /// Answered from the cache.
    Hit,
    /// Answered with a freshly built response.
    Miss,
}

impl Worker<'_> {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Generates and handles one request.
    pub fn handle_one(&mut self) -> Outcome {
        let gw = self.gateway;
        let r = self.next();
        let unit = (r >> 11) as f64 / (1u64 << 53) as f64;
        // Log-uniform over 1..=distinct: id k is about 1/k as likely as id 1.
        let id = ((gw.options.distinct_bodies.max(1) as f64).powf(unit) as u64).max(1);
        let invalid = self.next() % 1000 < gw.options.invalid_per_mille;
        let (payload, items) = body_shape(id);
        let mut body = gw.pool.acquire(payload + items * 48 + 256);
        write_body(&mut body, id, payload, items);
        if invalid {
            // A request cut short: never valid JSON.
            let keep = body.len() / 2;
            body.truncate(keep);
        }
        let c = &gw.counters;
        c.requests.fetch_add(1, Relaxed);
        c.bytes_in.fetch_add(body.len() as u64, Relaxed);
        let outcome = self.handle(&body);
        self.arena.reset();
        outcome
    }

    fn handle(&mut self, body: &[u8]) -> Outcome {
        let gw = self.gateway;
        let c = &gw.counters;
        if json::validate(body).is_err() {
            c.rejected.fetch_add(1, Relaxed);
            return Outcome::Rejected;
        }
        // The body is valid: pointer look-ups cannot fail on it, and a missing field is None.
        let route = json::pointer(body, "/route").ok().flatten();
        let user = json::pointer(body, "/user/id").ok().flatten();

        let dedupe = hash::xxh3_64(body);
        let mut dedupe_hex = [0u8; 16];
        if let Ok(dkey) = hash::hex_into(&dedupe.to_be_bytes(), &mut dedupe_hex) {
            if gw.dedupe.has(dkey) {
                c.duplicates.fetch_add(1, Relaxed);
            } else {
                let _ = gw.dedupe.set(dkey, &b""[..], None);
            }
        }

        let digest = hash::blake3(body);
        let mut key_hex = [0u8; 2 * hash::BLAKE3_OUT_LEN];
        let Ok(key) = hash::hex_into(&digest, &mut key_hex) else {
            return Outcome::Miss;
        };
        if let Some(len) = gw.cache.get_with(key, |v| v.data.len()) {
            c.hits.fetch_add(1, Relaxed);
            c.bytes_out.fetch_add(len as u64, Relaxed);
            return Outcome::Hit;
        }
        c.misses.fetch_add(1, Relaxed);

        // Build the response in the request's arena: scratch copies, then the response.
        let arena = &self.arena;
        let route = route
            .as_deref()
            .and_then(|r| arena.alloc_copy(r).ok())
            .map_or(&b"null"[..], |r| &*r);
        let user = user
            .as_deref()
            .and_then(|u| arena.alloc_copy(u).ok())
            .map_or(&b"null"[..], |u| &*u);
        let extra = body.len() / 8;
        let Ok(out) = arena.alloc_zeroed(route.len() + user.len() + extra + 128) else {
            return Outcome::Miss;
        };
        let capacity = out.len();
        let mut cursor: &mut [u8] = out;
        let _ = cursor.write_all(b"{\"route\":");
        let _ = cursor.write_all(route);
        let _ = cursor.write_all(b",\"user\":");
        let _ = cursor.write_all(user);
        let _ = write!(cursor, ",\"dedupe\":\"{dedupe:016x}\",\"echo\":\"");
        let room = cursor.len().saturating_sub(2);
        for (i, slot) in cursor.iter_mut().take(room).enumerate() {
            *slot = b'a' + (i % 26) as u8;
        }
        let written = capacity - 2;
        out[written..].copy_from_slice(b"\"}");
        let response = &out[..];
        match gw.cache.set(key, response, None) {
            Ok(_) => {}
            Err(_) => {
                c.uncacheable.fetch_add(1, Relaxed);
            }
        }
        c.bytes_out.fetch_add(response.len() as u64, Relaxed);
        Outcome::Miss
    }
}

/// SplitMix64 finaliser: a well-mixed 64-bit function of `x`.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let x = x ^ (x >> 31);
    if x == 0 {
        1
    } else {
        x
    }
}

/// Payload bytes and item count of body `id` (a pure function of `id`, so a repeated id is a
/// repeated body).
fn body_shape(id: u64) -> (usize, usize) {
    let h = splitmix(id);
    let class = h % 100;
    let span = |lo: u64, hi: u64| (lo + (h >> 8) % (hi - lo)) as usize;
    let payload = if class < 70 {
        span(128, 768)
    } else if class < 95 {
        span(2 << 10, 16 << 10)
    } else {
        span(32 << 10, 128 << 10)
    };
    (payload, 1 + ((h >> 40) % 8) as usize)
}

fn write_body(out: &mut Vec<u8>, id: u64, payload: usize, items: usize) {
    let user = id % 997;
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "{{\"id\":{id},\"route\":\"/api/v1/items/{}\",\"user\":{{\"id\":{user},\"name\":\"user-{user}\",\"roles\":[\"reader\",\"writer\"]}},\"items\":[",
        id % 7
    );
    for i in 0..items {
        let sep = if i + 1 < items { "," } else { "" };
        let _ = write!(
            out,
            "{{\"sku\":\"sku-{}\",\"qty\":{},\"price\":{}.{:02}}}{sep}",
            (id + i as u64) % 1000,
            1 + i % 5,
            (id % 90) + 10,
            id % 100
        );
    }
    out.extend_from_slice(b"],\"payload\":\"");
    let start = out.len();
    out.resize(start + payload, 0);
    for (i, b) in out[start..].iter_mut().enumerate() {
        *b = b"0123456789abcdefghijklmnopqrstuvwxyz"[(i + id as usize) % 36];
    }
    out.extend_from_slice(b"\"}");
}

/// Threads driving a [`Gateway`] at a steady rate until stopped or dropped.
#[derive(Debug)]
pub struct Workload {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Workload {
    /// Starts `threads` threads that together handle `rate` requests per second.
    ///
    /// Each thread works in 10 ms ticks and sleeps between them, so a modest rate does not pin
    /// a core; a thread that falls more than a second behind skips ahead instead of bursting.
    ///
    /// # Errors
    ///
    /// The I/O error of a failed thread spawn (threads already started are stopped).
    pub fn start(gateway: Arc<Gateway>, rate: u64, threads: usize) -> std::io::Result<Workload> {
        let threads = threads.max(1);
        let mut workload = Workload {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::with_capacity(threads),
        };
        let per_thread = rate as f64 / threads as f64;
        for t in 0..threads {
            let gateway = gateway.clone();
            let stop = workload.stop.clone();
            let handle = std::thread::Builder::new()
                .name(format!("ultra-gateway-{t}"))
                .spawn(move || drive(&gateway, t as u64, per_thread, &stop))?;
            workload.threads.push(handle);
        }
        Ok(workload)
    }

    /// Stops the threads and waits for them.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Relaxed);
        for t in self.threads.drain(..) {
            // A panicked worker has nothing left to stop.
            let _ = t.join();
        }
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn drive(gateway: &Gateway, seed: u64, per_second: f64, stop: &AtomicBool) {
    const TICK: Duration = Duration::from_millis(10);
    let mut worker = gateway.worker(seed);
    let start = Instant::now();
    let mut done: u64 = 0;
    let max_lag = per_second.max(1.0) as u64;
    while !stop.load(Relaxed) {
        let due = (start.elapsed().as_secs_f64() * per_second) as u64;
        if due > done + max_lag {
            done = due - max_lag;
        }
        while done < due && !stop.load(Relaxed) {
            worker.handle_one();
            done += 1;
        }
        std::thread::sleep(TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_valid_json_with_the_fields_looked_up() {
        for id in [1, 2, 3, 97, 12_345] {
            let (payload, items) = body_shape(id);
            let mut body = Vec::new();
            write_body(&mut body, id, payload, items);
            assert!(json::validate(&body).is_ok(), "id {id}");
            assert!(json::pointer(&body, "/route").unwrap().is_some());
            assert!(json::pointer(&body, "/user/id").unwrap().is_some());
            assert!(body.len() >= payload && body.len() <= payload + items * 48 + 256);
        }
    }

    #[test]
    fn a_worker_hits_misses_and_rejects() {
        let gw = Gateway::new(GatewayOptions::from_config(&Config::default())).unwrap();
        let mut w = gw.worker(7);
        for _ in 0..3000 {
            w.handle_one();
        }
        let s = gw.stats();
        assert_eq!(s.requests, 3000);
        assert_eq!(s.rejected + s.hits + s.misses, 3000);
        assert!(s.hits > 0 && s.misses > 0 && s.rejected > 0, "{s:?}");
        assert!(s.hit_ratio().unwrap() > 0.2, "{s:?}");
    }
}
