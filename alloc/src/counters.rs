//! Process-wide allocation counters, kept per thread and summed on read.
//!
//! Each thread that allocates claims one cache-line-aligned [`Slot`] out of a static table and
//! is its only writer: recording an allocation is a handful of relaxed load/store pairs on lines
//! no other thread writes. A reader sums every slot. Threads beyond the table's size, and
//! allocations made while a thread is being torn down, go to a shared overflow slot updated with
//! atomic read-modify-write instructions.
//!
//! Live and peak figures: live bytes are `allocated − freed` summed over all slots, exact once
//! writers are quiescent. Peaks are high-water marks kept in shared atomics that a thread
//! updates only when its net change in one subsystem since its last flush passes
//! [`FLUSH_THRESHOLD`] (and at every [`stats`] read and thread exit). So a subsystem's peak may
//! miss a short-lived high by less than `FLUSH_THRESHOLD` per running thread, and the total
//! peak by less than `Subsystem::COUNT × FLUSH_THRESHOLD` per running thread; a single large
//! allocation (≥ 64 KiB) is always reflected at once.

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
///
/// Totals are derived on read so the hot path writes as little as possible: allocations are
/// the sum of the histogram, allocated/freed bytes the sums over subsystems (without the
/// `attribution` feature everything lands in subsystem 0).
struct Counters {
    histogram: [AtomicU64; HISTOGRAM_BUCKETS],
    deallocs: AtomicU64,
    reallocs: AtomicU64,
    failed: AtomicU64,
    /// Bytes added by growing reallocs (so that the histogram's sum can be derived).
    realloc_grown: AtomicU64,
    sub_allocated: [AtomicU64; N_SUB],
    sub_freed: [AtomicU64; N_SUB],
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
                histogram: [const { AtomicU64::new(0) }; HISTOGRAM_BUCKETS],
                deallocs: AtomicU64::new(0),
                reallocs: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                realloc_grown: AtomicU64::new(0),
                sub_allocated: [const { AtomicU64::new(0) }; N_SUB],
                sub_freed: [const { AtomicU64::new(0) }; N_SUB],
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

/// Per-thread hot state, in one thread-local so the allocator pays one TLS look-up (which in a
/// `dlopen`ed library is a call to `__tls_get_addr`).
pub(crate) struct ThreadState {
    /// Index of this thread's slot, or `UNCLAIMED` / `OVERFLOW_IDX`.
    slot: Cell<usize>,
    /// Id of the subsystem this thread is allocating for.
    pub(crate) current: Cell<u8>,
    /// This thread's explicit jemalloc thread cache per subsystem (see `arenas`): 0 not made
    /// yet, `u16::MAX` none (use no thread cache), otherwise the tcache id plus one.
    #[cfg(all(feature = "jemalloc", feature = "attribution"))]
    pub(crate) tcaches: [Cell<u16>; N_SUB],
}

impl ThreadState {
    /// Whether this thread owns a slot, and so has a destructor that runs at its exit.
    #[cfg(all(feature = "jemalloc", feature = "attribution"))]
    pub(crate) fn has_exit_hook(&self) -> bool {
        self.slot.get() < SLOTS
    }
}

thread_local! {
    // `const`, no destructor: always readable, even during thread teardown; never allocates.
    pub(crate) static STATE: ThreadState = const {
        ThreadState {
            slot: Cell::new(UNCLAIMED),
            current: Cell::new(0),
            #[cfg(all(feature = "jemalloc", feature = "attribution"))]
            tcaches: [const { Cell::new(0) }; N_SUB],
        }
    };
    // Has a destructor, so first touching it registers the thread-exit hook. Touched only
    // while the slot reads OVERFLOW_IDX, so any allocation made by that registration is recorded
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
            // Later allocations of this thread (other TLS destructors) use the overflow slot,
            // and no thread cache of their own.
            STATE.with(|s| s.slot.set(OVERFLOW_IDX));
            #[cfg(all(feature = "jemalloc", feature = "attribution"))]
            crate::arenas::destroy_thread_caches();
            let slot = &TABLE[idx];
            flush(&slot.c, false);
            slot.owned
                .store(false, std::sync::atomic::Ordering::Release);
        }
    }
}

/// Returns this thread's slot and whether it is shared (must use atomic RMW).
#[inline]
fn slot() -> (&'static Counters, bool) {
    slot_at(STATE.with(|s| s.slot.get()))
}

#[inline(always)]
fn slot_at(idx: usize) -> (&'static Counters, bool) {
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
    STATE.with(|s| s.slot.set(OVERFLOW_IDX));
    let Some(idx) = (0..SLOTS).find(|&i| {
        TABLE[i]
            .owned
            .compare_exchange(false, true, std::sync::atomic::Ordering::Acquire, Relaxed)
            .is_ok()
    }) else {
        return (&OVERFLOW.c, true);
    };
    // Registering the destructor may allocate; the slot still reads OVERFLOW_IDX meanwhile.
    let registered = RELEASER.try_with(|r| r.idx.set(idx)).is_ok();
    if !registered {
        TABLE[idx]
            .owned
            .store(false, std::sync::atomic::Ordering::Release);
        return (&OVERFLOW.c, true);
    }
    HIGH_WATER.fetch_max(idx + 1, Relaxed);
    STATE.with(|s| s.slot.set(idx));
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
#[inline(never)]
fn flush(c: &Counters, shared: bool) {
    let mut total = 0i64;
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
            total = total.wrapping_add(d);
            let now = SUB_FLUSHED[s].fetch_add(d, Relaxed).wrapping_add(d);
            SUB_PEAK[s].fetch_max(now.max(0) as u64, Relaxed);
        }
    }
    if total != 0 {
        let now = FLUSHED.fetch_add(total, Relaxed).wrapping_add(total);
        PEAK.fetch_max(now.max(0) as u64, Relaxed);
    }
}

/// The counter index of subsystem id `sub`: itself with attribution, 0 without.
#[inline(always)]
fn sub_index(sub: u8) -> usize {
    if cfg!(feature = "attribution") {
        sub as usize % N_SUB
    } else {
        0
    }
}

/// This thread's slot index and current subsystem id, in one thread-local read.
#[inline(always)]
pub(crate) fn thread_state() -> (usize, u8) {
    STATE.with(|s| (s.slot.get(), s.current.get()))
}

/// Records a successful allocation of `size` bytes, credited to this thread's current
/// subsystem, which it returns (to be stored in the block's header).
#[inline]
pub(crate) fn record_alloc(size: usize) -> u8 {
    let (idx, sub) = thread_state();
    record_alloc_at(idx, sub, size);
    sub
}

/// Records a successful allocation of `size` bytes credited to subsystem `sub`, on the slot
/// `idx` read by [`thread_state`].
#[inline(always)]
pub(crate) fn record_alloc_at(idx: usize, sub: u8, size: usize) {
    let (c, shared) = slot_at(idx);
    if shared {
        on_shared(|| alloc_body(c, sub_index(sub), size, true));
    } else {
        alloc_body(c, sub_index(sub), size, false);
    }
}

/// Records a deallocation of `size` bytes that had been credited to subsystem `sub`.
#[inline(always)]
pub(crate) fn record_dealloc(size: usize, sub: u8) {
    let (c, shared) = slot();
    if shared {
        on_shared(|| dealloc_body(c, sub_index(sub), size, true));
    } else {
        dealloc_body(c, sub_index(sub), size, false);
    }
}

/// Records a successful reallocation from `old` to `new` bytes of a block credited to `sub`.
#[inline]
pub(crate) fn record_realloc(old: usize, new: usize, sub: u8) {
    let (c, shared) = slot();
    if shared {
        on_shared(|| realloc_body(c, sub_index(sub), old, new, true));
    } else {
        realloc_body(c, sub_index(sub), old, new, false);
    }
}

/// Runs the shared-slot (atomic read-modify-write) variant of a record out of line, so that
/// the common path of a thread that owns its slot carries none of it.
#[cold]
#[inline(never)]
fn on_shared(f: impl FnOnce()) {
    f()
}

#[inline(always)]
fn alloc_body(c: &Counters, s: usize, size: usize, shared: bool) {
    add(&c.histogram[bucket_of(size)], 1, shared);
    add(&c.sub_allocated[s], size as u64, shared);
    if drift(&c.sub_drift[s], size as i64, shared) {
        flush(c, shared);
    }
}

#[inline(always)]
fn dealloc_body(c: &Counters, s: usize, size: usize, shared: bool) {
    add(&c.deallocs, 1, shared);
    add(&c.sub_freed[s], size as u64, shared);
    if drift(&c.sub_drift[s], -(size as i64), shared) {
        flush(c, shared);
    }
}

#[inline(always)]
fn realloc_body(c: &Counters, s: usize, old: usize, new: usize, shared: bool) {
    add(&c.reallocs, 1, shared);
    if new >= old {
        add(&c.sub_allocated[s], (new - old) as u64, shared);
        add(&c.realloc_grown, (new - old) as u64, shared);
    } else {
        add(&c.sub_freed[s], (old - new) as u64, shared);
    }
    if drift(&c.sub_drift[s], new as i64 - old as i64, shared) {
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

/// Running sums over slots (wrapping: each slot's counters only grow).
#[derive(Default)]
struct Sums {
    histogram: [u64; HISTOGRAM_BUCKETS],
    deallocs: u64,
    reallocs: u64,
    failed: u64,
    realloc_grown: u64,
    sub_allocated: [u64; N_SUB],
    sub_freed: [u64; N_SUB],
}

fn sum(c: &Counters, acc: &mut Sums) {
    for (h, a) in acc.histogram.iter_mut().zip(&c.histogram) {
        *h = h.wrapping_add(a.load(Relaxed));
    }
    acc.deallocs = acc.deallocs.wrapping_add(c.deallocs.load(Relaxed));
    acc.reallocs = acc.reallocs.wrapping_add(c.reallocs.load(Relaxed));
    acc.failed = acc.failed.wrapping_add(c.failed.load(Relaxed));
    acc.realloc_grown = acc
        .realloc_grown
        .wrapping_add(c.realloc_grown.load(Relaxed));
    for s in 0..N_SUB {
        acc.sub_allocated[s] = acc.sub_allocated[s].wrapping_add(c.sub_allocated[s].load(Relaxed));
        acc.sub_freed[s] = acc.sub_freed[s].wrapping_add(c.sub_freed[s].load(Relaxed));
    }
}

/// Reads every counter. Exact when no other thread is allocating; otherwise each figure
/// lags by at most the allocations in flight during the read. Never allocates.
pub fn stats() -> AllocStats {
    let mut acc = Sums::default();
    let high = HIGH_WATER.load(Relaxed).min(SLOTS);
    for slot in &TABLE[..high] {
        sum(&slot.c, &mut acc);
    }
    sum(&OVERFLOW.c, &mut acc);

    let allocated_bytes = acc
        .sub_allocated
        .iter()
        .fold(0u64, |a, &b| a.wrapping_add(b));
    let freed_bytes = acc.sub_freed.iter().fold(0u64, |a, &b| a.wrapping_add(b));
    // A free seen before the matching allocation on another thread can make a running
    // reading transiently negative: clamp at zero.
    let live_bytes = allocated_bytes.saturating_sub(freed_bytes);
    let subsystems = cfg!(feature = "attribution").then(|| {
        std::array::from_fn(|s| {
            let live = acc.sub_allocated[s].saturating_sub(acc.sub_freed[s]);
            SubsystemStats {
                live_bytes: live,
                peak_bytes: SUB_PEAK[s].fetch_max(live, Relaxed).max(live),
                allocated_bytes: acc.sub_allocated[s],
                freed_bytes: acc.sub_freed[s],
            }
        })
    });
    AllocStats {
        live_bytes,
        peak_bytes: PEAK.fetch_max(live_bytes, Relaxed).max(live_bytes),
        allocated_bytes,
        freed_bytes,
        allocations: acc.histogram.iter().fold(0u64, |a, &b| a.wrapping_add(b)),
        deallocations: acc.deallocs,
        reallocations: acc.reallocs,
        failed_allocations: acc.failed,
        histogram: acc.histogram,
        histogram_sum: allocated_bytes.wrapping_sub(acc.realloc_grown),
        subsystems,
        thread_slots: high as u64,
    }
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
