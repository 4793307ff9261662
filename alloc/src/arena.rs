//! A lazy bump arena over bumpalo, attributed to [`Subsystem::Arena`].

use std::alloc::Layout;
use std::cell::{Cell, OnceCell};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use bumpalo::Bump;

use crate::subsystem::{scope, Subsystem};

/// Why an arena allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ArenaError {
    /// The allocation would take the arena's reserved bytes past its limit.
    #[error("arena limit of {limit} bytes reached: cannot allocate {requested} more bytes ({reserved} reserved)")]
    LimitExceeded {
        /// Bytes requested.
        requested: usize,
        /// Bytes the arena had reserved.
        reserved: usize,
        /// The arena's limit.
        limit: usize,
    },
    /// The size/alignment pair is not a valid layout.
    #[error("invalid arena allocation of {size} bytes aligned to {align}")]
    InvalidLayout {
        /// Requested size.
        size: usize,
        /// Requested alignment.
        align: usize,
    },
}

/// Sizing of one arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaConfig {
    /// Capacity of the first chunk, reserved at the first allocation, never at creation.
    pub chunk_bytes: usize,
    /// Cap on the bytes the arena reserves (all chunks together).
    pub limit_bytes: usize,
}

impl Default for ArenaConfig {
    fn default() -> Self {
        let c = crate::Config::default();
        ArenaConfig {
            chunk_bytes: c.arena_chunk_bytes,
            limit_bytes: c.arena_limit_bytes,
        }
    }
}

impl From<&crate::Config> for ArenaConfig {
    fn from(c: &crate::Config) -> Self {
        ArenaConfig {
            chunk_bytes: c.arena_chunk_bytes,
            limit_bytes: c.arena_limit_bytes,
        }
    }
}

/// Figures of one arena, or of all arenas together (see [`arenas_total`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArenaStats {
    /// Arenas counted (1 for a single arena's stats).
    pub arenas: u64,
    /// Bytes reserved in chunks (bumpalo's `allocated_bytes`).
    pub reserved_bytes: u64,
    /// Bytes handed out since the last reset (sum of requested sizes).
    pub used_bytes: u64,
    /// Chunks currently held.
    pub chunks: u64,
}

static TOTAL_ARENAS: AtomicU64 = AtomicU64::new(0);
static TOTAL_RESERVED: AtomicI64 = AtomicI64::new(0);
static TOTAL_USED: AtomicI64 = AtomicI64::new(0);
static TOTAL_CHUNKS: AtomicI64 = AtomicI64::new(0);

/// Figures summed over every live arena of the process. Never allocates.
pub fn arenas_total() -> ArenaStats {
    ArenaStats {
        arenas: TOTAL_ARENAS.load(Relaxed),
        reserved_bytes: TOTAL_RESERVED.load(Relaxed).max(0) as u64,
        used_bytes: TOTAL_USED.load(Relaxed).max(0) as u64,
        chunks: TOTAL_CHUNKS.load(Relaxed).max(0) as u64,
    }
}

/// A bump arena that reserves nothing until its first allocation.
///
/// Creating an `Arena` costs zero heap bytes. The first allocation reserves a chunk of
/// `chunk_bytes` (or more, if the allocation is larger); later chunks grow as bumpalo decides,
/// but the total reserved never passes `limit_bytes`: an allocation that would is an
/// [`ArenaError::LimitExceeded`]. [`Arena::reset`] makes every allocation invalid at once and
/// keeps only the last chunk for reuse; dropping the arena frees everything. All chunk memory
/// is credited to [`Subsystem::Arena`].
///
/// ```
/// use ultra_alloc::{Arena, ArenaConfig};
/// let mut arena = Arena::new(ArenaConfig { chunk_bytes: 4096, limit_bytes: 1 << 20 });
/// assert_eq!(arena.stats().reserved_bytes, 0);
/// let bytes = arena.alloc_copy(b"hello").unwrap();
/// assert_eq!(bytes, b"hello");
/// assert!(arena.stats().reserved_bytes >= 4096);
/// arena.reset();
/// assert_eq!(arena.stats().used_bytes, 0);
/// ```
#[derive(Debug)]
pub struct Arena {
    bump: OnceCell<Bump>,
    config: ArenaConfig,
    reserved: Cell<usize>,
    used: Cell<usize>,
    chunks: Cell<usize>,
}

impl Default for Arena {
    fn default() -> Self {
        Arena::new(ArenaConfig::default())
    }
}

impl Arena {
    /// An arena with the given sizing; reserves nothing.
    pub fn new(config: ArenaConfig) -> Arena {
        TOTAL_ARENAS.fetch_add(1, Relaxed);
        Arena {
            bump: OnceCell::new(),
            config,
            reserved: Cell::new(0),
            used: Cell::new(0),
            chunks: Cell::new(0),
        }
    }

    /// The arena's sizing.
    pub fn config(&self) -> ArenaConfig {
        self.config
    }

    /// The bump allocator, created with the first chunk on first use.
    fn bump(&self, layout: Layout) -> Result<&Bump, ArenaError> {
        let limit = self.config.limit_bytes;
        if layout.size() > limit {
            return Err(self.exceeded(layout.size()));
        }
        if let Some(b) = self.bump.get() {
            return Ok(b);
        }
        let first = self
            .config
            .chunk_bytes
            .max(layout.size().saturating_add(layout.align()))
            .min(limit);
        let b = scope(Subsystem::Arena, || Bump::try_with_capacity(first))
            .map_err(|_| self.exceeded(layout.size()))?;
        b.set_allocation_limit(Some(limit));
        Ok(self.bump.get_or_init(|| b))
    }

    fn exceeded(&self, requested: usize) -> ArenaError {
        ArenaError::LimitExceeded {
            requested,
            reserved: self.reserved.get(),
            limit: self.config.limit_bytes,
        }
    }

    /// Runs one bumpalo allocation of `layout` in the arena's scope and accounts for it.
    fn alloc_with<'a, T>(
        &'a self,
        layout: Layout,
        f: impl FnOnce(&'a Bump) -> Result<T, bumpalo::AllocErr>,
    ) -> Result<T, ArenaError> {
        let bump = self.bump(layout)?;
        let out = scope(Subsystem::Arena, || f(bump)).map_err(|_| self.exceeded(layout.size()))?;
        self.used.set(self.used.get() + layout.size());
        TOTAL_USED.fetch_add(layout.size() as i64, Relaxed);
        self.sync_reserved(bump);
        Ok(out)
    }

    /// Allocates `layout` and returns a pointer valid until the next [`Arena::reset`] or drop.
    pub fn alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>, ArenaError> {
        self.alloc_with(layout, |b| b.try_alloc_layout(layout))
    }

    /// Allocates `size` zeroed bytes.
    // Each call returns fresh memory no other reference points to, as bumpalo's own `alloc`.
    #[allow(clippy::mut_from_ref)]
    pub fn alloc_zeroed(&self, size: usize) -> Result<&mut [u8], ArenaError> {
        let layout = Layout::from_size_align(size, 1)
            .map_err(|_| ArenaError::InvalidLayout { size, align: 1 })?;
        self.alloc_with(layout, |b| b.try_alloc_slice_fill_copy(size, 0u8))
    }

    /// Copies `src` into the arena.
    #[allow(clippy::mut_from_ref)]
    pub fn alloc_copy(&self, src: &[u8]) -> Result<&mut [u8], ArenaError> {
        let layout =
            Layout::from_size_align(src.len(), 1).map_err(|_| ArenaError::InvalidLayout {
                size: src.len(),
                align: 1,
            })?;
        self.alloc_with(layout, |b| b.try_alloc_slice_copy(src))
    }

    /// Invalidates every allocation; keeps the last chunk for reuse, frees the others.
    pub fn reset(&mut self) {
        TOTAL_USED.fetch_sub(self.used.replace(0) as i64, Relaxed);
        if let Some(bump) = self.bump.get_mut() {
            scope(Subsystem::Arena, || bump.reset());
        }
        if let Some(bump) = self.bump.get() {
            // bumpalo keeps exactly one chunk after a reset.
            TOTAL_CHUNKS.fetch_sub(self.chunks.replace(0) as i64, Relaxed);
            TOTAL_RESERVED.fetch_sub(self.reserved.replace(0) as i64, Relaxed);
            self.sync_reserved(bump);
        }
    }

    /// Frees every chunk; the arena is as new (reserves nothing until the next allocation).
    pub fn release(&mut self) {
        TOTAL_USED.fetch_sub(self.used.replace(0) as i64, Relaxed);
        TOTAL_RESERVED.fetch_sub(self.reserved.replace(0) as i64, Relaxed);
        TOTAL_CHUNKS.fetch_sub(self.chunks.replace(0) as i64, Relaxed);
        if let Some(bump) = self.bump.take() {
            scope(Subsystem::Arena, || drop(bump));
        }
    }

    /// This arena's figures.
    pub fn stats(&self) -> ArenaStats {
        ArenaStats {
            arenas: 1,
            reserved_bytes: self.reserved.get() as u64,
            used_bytes: self.used.get() as u64,
            chunks: self.chunks.get() as u64,
        }
    }

    /// Brings `reserved` and `chunks` up to date after bumpalo may have added a chunk.
    fn sync_reserved(&self, bump: &Bump) {
        let now = bump.allocated_bytes();
        let before = self.reserved.get();
        if now != before {
            self.reserved.set(now);
            TOTAL_RESERVED.fetch_add(now as i64 - before as i64, Relaxed);
            // Chunks only ever get added between resets, one per change of `allocated_bytes`;
            // a reset keeps exactly one.
            let added = if before == 0 || now > before { 1 } else { 0 };
            self.chunks.set(self.chunks.get() + added);
            TOTAL_CHUNKS.fetch_add(added as i64, Relaxed);
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        self.release();
        TOTAL_ARENAS.fetch_sub(1, Relaxed);
    }
}
