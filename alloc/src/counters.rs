//! Process-wide allocation counters, kept per thread and summed on read.
//!
//! Each thread that allocates claims one cache-line-aligned [`Slot`] out of a static table and
//! is its only writer: recording an allocation is a handful of relaxed load/store pairs on lines
//! no other thread writes. A reader sums every slot. Threads beyond the table's size, and
//! allocations made while a thread is being torn down, go to a shared overflow slot updated with
//! atomic read-modify-write instructions.
//!
//! Live and peak figures: live bytes are `allocated − freed` summed over all slots, exact once
//! writers are quiescent. The peak is a high-water mark kept in shared atomics that each thread
//! updates only when its own net change since its last flush exceeds [`FLUSH_THRESHOLD`] (and at
//! every [`stats`] read and thread exit). With `n` threads allocating concurrently it may differ
//! from the true instantaneous peak by less than `n × FLUSH_THRESHOLD` bytes; with one thread it
//! is exact.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::subsystem::Subsystem;

/// Number of per-thread slots; further threads share the overflow slot.
pub const SLOTS: usize = 256;

/// Net bytes a thread may drift from the shared live figure before it flushes its drift.
pub const FLUSH_THRESHOLD: i64 = 64 * 1024;

/// Number of buckets in the size histogram: `≤16 B, ≤32 B, … ≤1 MiB`, then `> 1 MiB`.
pub const HISTOGRAM_BUCKETS: usize = 18;

/// Upper bound (inclusive) of histogram bucket `i`; the last bucket has no bound.
pub const fn histogram_bucket_le(i: usize) -> Option<u64> {
    if i + 1 < HISTOGRAM_BUCKETS {
        Some(16u64 << i)
    } else {
        None
    }
}

#[inline]
fn bucket_of(size: usize) -> usize {
    if size <= 16 {
        0
    } else {
        let bits = (usize::BITS - (size - 1).leading_zeros()) as usize;
        (bits - 4).min(HISTOGRAM_BUCKETS - 1)
    }
}

const N_SUB: usize = Subsystem::COUNT;

/// Counters of one slot. Cumulative counters only grow; drifts are signed.
struct Counters {
    allocs: AtomicU64,
    deallocs: AtomicU64,
    reallocs: AtomicU64,
    failed: AtomicU64,
    allocated: AtomicU64,
    freed: AtomicU64,
    histogram: [AtomicU64; HISTOGRAM_BUCKETS],
    histogram_sum: AtomicU64,
    sub_allocated: [AtomicU64; N_SUB],
    sub_freed: [AtomicU64; N_SUB],
    drift: AtomicI64,
    sub_drift: [AtomicI64; N_SUB],
}

#[repr(align(128))]
struct Slot {
    owned: AtomicBool,
    c: Counters,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            owned: AtomicBool::new(false),
            c: Counters {
                allocs: AtomicU64::new(0),
                deallocs: AtomicU64::new(0),
                reallocs: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                allocated: AtomicU64::new(0),
                freed: AtomicU64::new(0),
                histogram: [const { AtomicU64::new(0) }; HISTOGRAM_BUCKETS],
                histogram_sum: AtomicU64::new(0),
                sub_allocated: [const { AtomicU64::new(0) }; N_SUB],
                sub_freed: [const { AtomicU64::new(0) }; N_SUB],
                drift: AtomicI64::new(0),
                sub_drift: [const { AtomicI64::new(0) }; N_SUB],
            },
        }
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];
static OVERFLOW: Slot = Slot::new();
/// One past the highest slot index ever claimed: readers sum only `TABLE[..HIGH_WATER]`.
static HIGH_WATER: AtomicUsize = AtomicUsize::new(0);

/// Shared live figures, moved by flushed drifts; only used to maintain the peaks.
static FLUSHED: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static SUB_FLUSHED: [AtomicI64; N_SUB] = [const { AtomicI64::new(0) }; N_SUB];
static SUB_PEAK: [AtomicU64; N_SUB] = [const { AtomicU64::new(0) }; N_SUB];

const UNCLAIMED: usize = usize::MAX;
const OVERFLOW_IDX: usize = usize::MAX - 1;

thread_local! {
    // Index of this thread's slot. `const`, no destructor: always readable, never allocates.
    static SLOT: Cell<usize> = const { Cell::new(UNCLAIMED) };
    // Has a destructor, so first touching it registers the thread-exit hook. Touched only
    // while SLOT reads OVERFLOW_IDX, so any allocation made by that registration is recorded
    // in the overflow slot instead of recursing.
    static RELEASER: SlotReleaser = const { SlotReleaser { idx: Cell::new(UNCLAIMED) } };
}

struct SlotReleaser {
    idx: Cell<usize>,
}

impl Drop for SlotReleaser {
    fn drop(&mut self) {
        let idx = self.idx.get();
        if idx < SLOTS {
            // Later allocations of this thread (other TLS destructors) use the overflow slot.
            SLOT.with(|s| s.set(OVERFLOW_IDX));
            let slot = &TABLE[idx];
            flush(&slot.c, false);
            slot.owned.store(false, std::sync::atomic::Ordering::Release);
        }
    }
}

/// Returns this thread's slot and whether it is shared (must use atomic RMW).
#[inline]
fn slot() -> (&'static Counters, bool) {
    let idx = SLOT.with(Cell::get);
    if idx < SLOTS {
        (&TABLE[idx].c, false)
    } else if idx == UNCLAIMED {
        claim()
    } else {
        (&OVERFLOW.c, true)
    }
}

#[cold]
fn claim() -> (&'static Counters, bool) {
    SLOT.with(|s| s.set(OVERFLOW_IDX));
    let Some(idx) = (0..SLOTS).find(|&i| {
        TABLE[i]
            .owned
            .compare_exchange(false, true, std::sync::atomic::Ordering::Acquire, Relaxed)
            .is_ok()
    }) else {
        return (&OVERFLOW.c, true);
    };
    // Registering the destructor may allocate; SLOT still reads OVERFLOW_IDX meanwhile.
    let registered = RELEASER.try_with(|r| r.idx.set(idx)).is_ok();
    if !registered {
        TABLE[idx].owned.store(false, std::sync::atomic::Ordering::Release);
        return (&OVERFLOW.c, true);
    }
    HIGH_WATER.fetch_max(idx + 1, Relaxed);
    SLOT.with(|s| s.set(idx));
    (&TABLE[idx].c, false)
}

#[inline(always)]
fn add(a: &AtomicU64, v: u64, shared: bool) {
    if shared {
        a.fetch_add(v, Relaxed);
    } else {
        a.store(a.load(Relaxed).wrapping_add(v), Relaxed);
    }
}

/// Adds `v` to a drift; returns true when the drift has passed the flush threshold.
#[inline(always)]
fn drift(a: &AtomicI64, v: i64, shared: bool) -> bool {
    if shared {
        a.fetch_add(v, Relaxed);
        true
    } else {
        let d = a.load(Relaxed).wrapping_add(v);
        a.store(d, Relaxed);
        !(-FLUSH_THRESHOLD..FLUSH_THRESHOLD).contains(&d)
    }
}

/// Moves a slot's drifts into the shared live figures and raises the peaks.
#[cold]
fn flush(c: &Counters, shared: bool) {
    let d = if shared {
        c.drift.swap(0, Relaxed)
    } else {
        let d = c.drift.load(Relaxed);
        c.drift.store(0, Relaxed);
        d
    };
    if d != 0 {
        let now = FLUSHED.fetch_add(d, Relaxed).wrapping_add(d);
        PEAK.fetch_max(now.max(0) as u64, Relaxed);
    }
    for s in 0..N_SUB {
        let a = &c.sub_drift[s];
        let d = if shared {
            a.swap(0, Relaxed)
        } else {
            let d = a.load(Relaxed);
            a.store(0, Relaxed);
            d
        };
        if d != 0 {
            let now = SUB_FLUSHED[s].fetch_add(d, Relaxed).wrapping_add(d);
            SUB_PEAK[s].fetch_max(now.max(0) as u64, Relaxed);
        }
    }
}

/// Records a successful allocation of `size` bytes credited to subsystem `sub`.
#[inline]
pub(crate) fn record_alloc(size: usize, sub: u8) {
    let (c, shared) = slot();
    let s = sub as usize % N_SUB;
    add(&c.allocs, 1, shared);
    add(&c.allocated, size as u64, shared);
    add(&c.histogram[bucket_of(size)], 1, shared);
    add(&c.histogram_sum, size as u64, shared);
    if cfg!(feature = "attribution") {
        add(&c.sub_allocated[s], size as u64, shared);
    }
    let a = drift(&c.drift, size as i64, shared);
    let b = cfg!(feature = "attribution") && drift(&c.sub_drift[s], size as i64, shared);
    if a || b {
        flush(c, shared);
    }
}

/// Records a deallocation of `size` bytes that had been credited to subsystem `sub`.
#[inline]
pub(crate) fn record_dealloc(size: usize, sub: u8) {
    let (c, shared) = slot();
    let s = sub as usize % N_SUB;
    add(&c.deallocs, 1, shared);
    add(&c.freed, size as u64, shared);
    if cfg!(feature = "attribution") {
        add(&c.sub_freed[s], size as u64, shared);
    }
    let a = drift(&c.drift, -(size as i64), shared);
    let b = cfg!(feature = "attribution") && drift(&c.sub_drift[s], -(size as i64), shared);
    if a || b {
        flush(c, shared);
    }
}

/// Records a successful reallocation from `old` to `new` bytes of a block credited to `sub`.
#[inline]
pub(crate) fn record_realloc(old: usize, new: usize, sub: u8) {
    let (c, shared) = slot();
    let s = sub as usize % N_SUB;
    add(&c.reallocs, 1, shared);
    let delta = new as i64 - old as i64;
    if new >= old {
        add(&c.allocated, (new - old) as u64, shared);
        if cfg!(feature = "attribution") {
            add(&c.sub_allocated[s], (new - old) as u64, shared);
        }
    } else {
        add(&c.freed, (old - new) as u64, shared);
        if cfg!(feature = "attribution") {
            add(&c.sub_freed[s], (old - new) as u64, shared);
        }
    }
    let a = drift(&c.drift, delta, shared);
    let b = cfg!(feature = "attribution") && drift(&c.sub_drift[s], delta, shared);
    if a || b {
        flush(c, shared);
    }
}

/// Records an allocation or reallocation the inner allocator refused.
#[inline]
pub(crate) fn record_failure() {
    let (c, shared) = slot();
    add(&c.failed, 1, shared);
}

/// Live and peak bytes of one subsystem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubsystemStats {
    /// Bytes currently allocated and credited to the subsystem.
    pub live_bytes: u64,
    /// High-water mark of `live_bytes` (see the module docs for its precision).
    pub peak_bytes: u64,
    /// Cumulative bytes credited (allocations and realloc growth).
    pub allocated_bytes: u64,
    /// Cumulative bytes debited (frees and realloc shrinkage).
    pub freed_bytes: u64,
}

/// One reading of every allocator counter. `Copy`; reading it never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocStats {
    /// Bytes currently allocated through the tracking allocator (requested sizes).
    pub live_bytes: u64,
    /// High-water mark of `live_bytes` (see the module docs for its precision).
    pub peak_bytes: u64,
    /// Cumulative bytes allocated, including realloc growth.
    pub allocated_bytes: u64,
    /// Cumulative bytes freed, including realloc shrinkage.
    pub freed_bytes: u64,
    /// Successful `alloc`/`alloc_zeroed` calls.
    pub allocations: u64,
    /// `dealloc` calls.
    pub deallocations: u64,
    /// Successful `realloc` calls.
    pub reallocations: u64,
    /// `alloc`, `alloc_zeroed` and `realloc` calls the inner allocator refused.
    pub failed_allocations: u64,
    /// Allocation counts per size bucket; bucket `i` holds sizes `≤ 16 << i`
    /// (see [`histogram_bucket_le`]), the last one sizes above 1 MiB.
    pub histogram: [u64; HISTOGRAM_BUCKETS],
    /// Sum of the sizes counted in `histogram`.
    pub histogram_sum: u64,
    /// Per-subsystem figures, indexed by [`Subsystem::index`]; `None` without the
    /// `attribution` feature.
    pub subsystems: Option<[SubsystemStats; Subsystem::COUNT]>,
    /// Threads that have claimed a counter slot so far (high-water mark).
    pub thread_slots: u64,
}

impl AllocStats {
    /// The figures of one subsystem, or `None` without the `attribution` feature.
    pub fn subsystem(&self, s: Subsystem) -> Option<SubsystemStats> {
        self.subsystems.map(|a| a[s.index()])
    }
}

fn sum(c: &Counters, acc: &mut AllocStats, sub: &mut [SubsystemStats; N_SUB]) {
    acc.allocations = acc.allocations.wrapping_add(c.allocs.load(Relaxed));
    acc.deallocations = acc.deallocations.wrapping_add(c.deallocs.load(Relaxed));
    acc.reallocations = acc.reallocations.wrapping_add(c.reallocs.load(Relaxed));
    acc.failed_allocations = acc.failed_allocations.wrapping_add(c.failed.load(Relaxed));
    acc.allocated_bytes = acc.allocated_bytes.wrapping_add(c.allocated.load(Relaxed));
    acc.freed_bytes = acc.freed_bytes.wrapping_add(c.freed.load(Relaxed));
    for (h, a) in acc.histogram.iter_mut().zip(&c.histogram) {
        *h = h.wrapping_add(a.load(Relaxed));
    }
    acc.histogram_sum = acc.histogram_sum.wrapping_add(c.histogram_sum.load(Relaxed));
    for (s, st) in sub.iter_mut().enumerate() {
        st.allocated_bytes = st
            .allocated_bytes
            .wrapping_add(c.sub_allocated[s].load(Relaxed));
        st.freed_bytes = st.freed_bytes.wrapping_add(c.sub_freed[s].load(Relaxed));
    }
}

/// Reads every counter. Exact when no other thread is allocating; otherwise each figure
/// lags by at most the allocations in flight during the read. Never allocates.
pub fn stats() -> AllocStats {
    let mut acc = AllocStats {
        live_bytes: 0,
        peak_bytes: 0,
        allocated_bytes: 0,
        freed_bytes: 0,
        allocations: 0,
        deallocations: 0,
        reallocations: 0,
        failed_allocations: 0,
        histogram: [0; HISTOGRAM_BUCKETS],
        histogram_sum: 0,
        subsystems: None,
        thread_slots: 0,
    };
    let mut sub = [SubsystemStats::default(); N_SUB];
    let high = HIGH_WATER.load(Relaxed).min(SLOTS);
    for slot in &TABLE[..high] {
        sum(&slot.c, &mut acc, &mut sub);
    }
    sum(&OVERFLOW.c, &mut acc, &mut sub);
    acc.thread_slots = high as u64;

    // A free seen before the matching allocation on another thread can make a running
    // reading transiently negative: clamp at zero.
    acc.live_bytes = acc.allocated_bytes.saturating_sub(acc.freed_bytes);
    acc.peak_bytes = PEAK.fetch_max(acc.live_bytes, Relaxed).max(acc.live_bytes);
    if cfg!(feature = "attribution") {
        for (s, st) in sub.iter_mut().enumerate() {
            st.live_bytes = st.allocated_bytes.saturating_sub(st.freed_bytes);
            st.peak_bytes = SUB_PEAK[s].fetch_max(st.live_bytes, Relaxed).max(st.live_bytes);
        }
        acc.subsystems = Some(sub);
    }
    acc
}

/// Flushes the calling thread's drift so the peaks include its latest allocations.
pub fn flush_current_thread() {
    let (c, shared) = slot();
    flush(c, shared);
}

/// Lowers every peak to the current live figure (for measuring one phase of a program).
pub fn reset_peaks() {
    flush_current_thread();
    let now = stats();
    PEAK.store(now.live_bytes, Relaxed);
    if let Some(sub) = now.subsystems {
        for (p, st) in SUB_PEAK.iter().zip(sub) {
            p.store(st.live_bytes, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two() {
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(16), 0);
        assert_eq!(bucket_of(17), 1);
        assert_eq!(bucket_of(32), 1);
        assert_eq!(bucket_of(33), 2);
        assert_eq!(bucket_of(1 << 20), 16);
        assert_eq!(bucket_of((1 << 20) + 1), 17);
        assert_eq!(bucket_of(usize::MAX), 17);
        assert_eq!(histogram_bucket_le(0), Some(16));
        assert_eq!(histogram_bucket_le(16), Some(1 << 20));
        assert_eq!(histogram_bucket_le(17), None);
    }

    #[test]
    fn slot_is_cache_line_aligned() {
        assert_eq!(std::mem::align_of::<Slot>(), 128);
        assert_eq!(std::mem::size_of::<Slot>() % 128, 0);
    }
}
