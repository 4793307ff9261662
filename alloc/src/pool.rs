//! A thread-safe pool of byte buffers by power-of-two size class, attributed to
//! [`Subsystem::Pool`].

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::subsystem::{scope, Subsystem};

/// Smallest size class (bytes).
pub const MIN_CLASS: usize = 64;
/// Number of size classes: 64 B, 128 B, … 64 MiB. Larger buffers are never kept.
pub const CLASSES: usize = 21;
/// Largest pooled buffer (bytes).
pub const MAX_CLASS: usize = MIN_CLASS << (CLASSES - 1);

/// Sizing of one pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Buffers of `buffer_bytes` created up front (default 0: nothing until first use).
    pub initial: usize,
    /// Idle buffers kept per size class; beyond it released buffers are freed.
    pub max_idle: usize,
    /// Default buffer size (used by `initial` and by callers that have no size of their own).
    pub buffer_bytes: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig::from(&crate::Config::default())
    }
}

impl From<&crate::Config> for PoolConfig {
    fn from(c: &crate::Config) -> Self {
        PoolConfig {
            initial: c.pool_initial,
            max_idle: c.pool_max,
            buffer_bytes: c.pool_buffer_bytes,
        }
    }
}

/// Figures of one pool, or of all pools together (see [`pools_total`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Pools counted (1 for a single pool's stats).
    pub pools: u64,
    /// Idle buffers held for reuse.
    pub idle: u64,
    /// Buffers handed out and not yet given back.
    pub in_use: u64,
    /// Acquisitions served from an idle buffer.
    pub hits: u64,
    /// Acquisitions that had to allocate.
    pub misses: u64,
    /// Capacity bytes of the idle buffers.
    pub bytes_held: u64,
}

static TOTAL_POOLS: AtomicU64 = AtomicU64::new(0);
static TOTAL_IDLE: AtomicI64 = AtomicI64::new(0);
static TOTAL_IN_USE: AtomicI64 = AtomicI64::new(0);
static TOTAL_HITS: AtomicU64 = AtomicU64::new(0);
static TOTAL_MISSES: AtomicU64 = AtomicU64::new(0);
static TOTAL_HELD: AtomicI64 = AtomicI64::new(0);

/// Figures summed over every live pool of the process. Never allocates.
pub fn pools_total() -> PoolStats {
    PoolStats {
        pools: TOTAL_POOLS.load(Relaxed),
        idle: TOTAL_IDLE.load(Relaxed).max(0) as u64,
        in_use: TOTAL_IN_USE.load(Relaxed).max(0) as u64,
        hits: TOTAL_HITS.load(Relaxed),
        misses: TOTAL_MISSES.load(Relaxed),
        bytes_held: TOTAL_HELD.load(Relaxed).max(0) as u64,
    }
}

/// The size class index for a request of `size` bytes, or `None` above [`MAX_CLASS`].
pub fn class_of(size: usize) -> Option<usize> {
    if size > MAX_CLASS {
        return None;
    }
    let cap = size.max(MIN_CLASS).next_power_of_two();
    Some((cap.trailing_zeros() - MIN_CLASS.trailing_zeros()) as usize)
}

/// Capacity of size class `class`.
pub const fn class_bytes(class: usize) -> usize {
    MIN_CLASS << class
}

/// Hands out `Vec<u8>` buffers by power-of-two size class and keeps released ones for reuse.
///
/// A new pool holds nothing unless `initial > 0`. [`BufferPool::acquire`] returns a guard that
/// gives the buffer back when dropped; [`BufferPool::take`] / [`BufferPool::give_back`] are the
/// manual pair for owners that track buffers themselves (the Node addon). At most `max_idle`
/// idle buffers are kept per class; the rest are freed on release. [`BufferPool::shrink`] frees
/// all idle buffers. Buffers are credited to [`Subsystem::Pool`] for as long as they live.
///
/// ```
/// use ultra_alloc::{BufferPool, PoolConfig};
/// let pool = BufferPool::new(PoolConfig { initial: 0, max_idle: 4, buffer_bytes: 1024 });
/// {
///     let mut buf = pool.acquire(1000);
///     buf.extend_from_slice(b"payload");
/// } // given back here
/// let s = pool.stats();
/// assert_eq!((s.idle, s.in_use, s.misses), (1, 0, 1));
/// let again = pool.acquire(700); // same 1 KiB class: a hit, and empty
/// assert!(again.is_empty() && again.capacity() >= 700);
/// assert_eq!(pool.stats().hits, 1);
/// ```
#[derive(Debug)]
pub struct BufferPool {
    config: PoolConfig,
    classes: [Mutex<Vec<Vec<u8>>>; CLASSES],
    in_use: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Default for BufferPool {
    fn default() -> Self {
        BufferPool::new(PoolConfig::default())
    }
}

impl BufferPool {
    /// A pool with the given sizing; allocates `initial` buffers of `buffer_bytes` now.
    pub fn new(config: PoolConfig) -> BufferPool {
        TOTAL_POOLS.fetch_add(1, Relaxed);
        let pool = BufferPool {
            config,
            classes: std::array::from_fn(|_| Mutex::new(Vec::new())),
            in_use: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        };
        if let Some(class) = class_of(config.buffer_bytes) {
            let mut idle = pool.lock(class);
            scope(Subsystem::Pool, || {
                idle.reserve_exact(config.initial);
                for _ in 0..config.initial {
                    idle.push(Vec::with_capacity(class_bytes(class)));
                }
            });
            TOTAL_IDLE.fetch_add(config.initial as i64, Relaxed);
            TOTAL_HELD.fetch_add((config.initial * class_bytes(class)) as i64, Relaxed);
        }
        pool
    }

    /// The pool's sizing.
    pub fn config(&self) -> PoolConfig {
        self.config
    }

    fn lock(&self, class: usize) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // A poisoned class list is still a valid list of buffers.
        self.classes[class]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Takes an empty buffer with capacity for at least `size` bytes. The caller must hand it
    /// back with [`BufferPool::give_back`] (or drop it, which frees it and leaves `in_use` one
    /// too high).
    pub fn take(&self, size: usize) -> Vec<u8> {
        let class = class_of(size);
        let reused = class.and_then(|c| self.lock(c).pop());
        let buf = match reused {
            Some(buf) => {
                self.hits.fetch_add(1, Relaxed);
                TOTAL_HITS.fetch_add(1, Relaxed);
                TOTAL_IDLE.fetch_sub(1, Relaxed);
                TOTAL_HELD.fetch_sub(buf.capacity() as i64, Relaxed);
                buf
            }
            None => {
                self.misses.fetch_add(1, Relaxed);
                TOTAL_MISSES.fetch_add(1, Relaxed);
                let cap = class.map_or(size, class_bytes);
                scope(Subsystem::Pool, || Vec::with_capacity(cap))
            }
        };
        self.in_use.fetch_add(1, Relaxed);
        TOTAL_IN_USE.fetch_add(1, Relaxed);
        buf
    }

    /// Gives back a buffer obtained from [`BufferPool::take`]. It is cleared and kept if its
    /// class has room, freed otherwise. Returns whether it was kept.
    pub fn give_back(&self, mut buf: Vec<u8>) -> bool {
        let cap = buf.capacity();
        self.in_use.fetch_sub(1, Relaxed);
        TOTAL_IN_USE.fetch_sub(1, Relaxed);
        let class = class_of(cap).filter(|&c| class_bytes(c) == cap);
        if let Some(class) = class {
            let mut idle = self.lock(class);
            if idle.len() < self.config.max_idle {
                buf.clear();
                scope(Subsystem::Pool, || idle.push(buf));
                TOTAL_IDLE.fetch_add(1, Relaxed);
                TOTAL_HELD.fetch_add(cap as i64, Relaxed);
                return true;
            }
        }
        scope(Subsystem::Pool, || drop(buf));
        false
    }

    /// Takes a buffer that goes back to the pool when the guard drops.
    pub fn acquire(&self, size: usize) -> PoolBuf<'_> {
        PoolBuf {
            pool: self,
            buf: self.take(size),
        }
    }

    /// Frees every idle buffer; returns the capacity bytes freed.
    pub fn shrink(&self) -> usize {
        let mut freed = 0;
        for class in 0..CLASSES {
            let idle = std::mem::take(&mut *self.lock(class));
            let n = idle.len();
            let bytes: usize = idle.iter().map(Vec::capacity).sum();
            scope(Subsystem::Pool, || drop(idle));
            TOTAL_IDLE.fetch_sub(n as i64, Relaxed);
            TOTAL_HELD.fetch_sub(bytes as i64, Relaxed);
            freed += bytes;
        }
        freed
    }

    /// This pool's figures.
    pub fn stats(&self) -> PoolStats {
        let mut idle = 0;
        let mut held = 0;
        for class in 0..CLASSES {
            let list = self.lock(class);
            idle += list.len() as u64;
            held += list.iter().map(|b| b.capacity() as u64).sum::<u64>();
        }
        PoolStats {
            pools: 1,
            idle,
            in_use: self.in_use.load(Relaxed),
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            bytes_held: held,
        }
    }
}

impl Drop for BufferPool {
    fn drop(&mut self) {
        self.shrink();
        TOTAL_IN_USE.fetch_sub(*self.in_use.get_mut() as i64, Relaxed);
        TOTAL_POOLS.fetch_sub(1, Relaxed);
    }
}

/// A pooled buffer; goes back to its pool when dropped. Derefs to `Vec<u8>`.
#[derive(Debug)]
pub struct PoolBuf<'a> {
    pool: &'a BufferPool,
    buf: Vec<u8>,
}

impl PoolBuf<'_> {
    /// Keeps the buffer for good: it leaves the pool's accounting and is freed normally.
    pub fn into_vec(mut self) -> Vec<u8> {
        let buf = std::mem::take(&mut self.buf);
        self.pool.in_use.fetch_sub(1, Relaxed);
        TOTAL_IN_USE.fetch_sub(1, Relaxed);
        std::mem::forget(self);
        buf
    }
}

impl std::ops::Deref for PoolBuf<'_> {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl std::ops::DerefMut for PoolBuf<'_> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl Drop for PoolBuf<'_> {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}
