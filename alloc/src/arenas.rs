//! Attribution by address range: one jemalloc arena per scoped subsystem, each drawing its
//! memory from a virtual-address span reserved for that subsystem (features `jemalloc` and
//! `attribution`, inner allocator [`crate::Jemalloc`]).
//!
//! At the first scoped allocation the process reserves one range of
//! `(Subsystem::COUNT - 1) × SPAN` bytes of address space, `PROT_NONE` (no memory, no commit
//! charge). Subsystem `s ≥ 1` owns `[BASE + s·SPAN, BASE + (s+1)·SPAN)`, where `BASE` is the
//! reservation's start minus one span. Its arena is created lazily (`arenas.create`) with
//! extent hooks whose `alloc` bumps through that span and makes the pages read-write
//! (`mprotect`); jemalloc retains and reuses what it frees (the `dalloc` hook opts out), and
//! purges dirty pages through `madvise`, as its default hooks do.
//!
//! So a block's subsystem is a pure function of its address: `(ptr − BASE) >> SHIFT`, one
//! subtraction, one shift and one compare at every `dealloc`. No byte is added to any block
//! and no size class changes. Unscoped allocations (subsystem `Other`) keep jemalloc's default
//! arenas and thread caches untouched.
//!
//! Thread caches: jemalloc's automatic thread cache hands a freed block to any later caller of
//! the same size on that thread, which would move a block of one subsystem's range into another
//! subsystem's hands (or an unscoped caller's). So scoped allocations, and frees of blocks in a
//! range, use an explicit thread cache per thread and subsystem (`tcache.create`, made at the
//! thread's first use of that subsystem, destroyed at its exit), which only ever holds blocks of
//! that subsystem's arena. Threads without an exit hook (beyond the counter table's slots) or
//! past jemalloc's 4 093 explicit caches go without one (`MALLOCX_TCACHE_NONE`).
//!
//! If the reservation or an arena cannot be made (address space limited by `ulimit -v`, or
//! jemalloc refusing), scoped allocations of that subsystem fall back to the default arenas
//! and are credited to `Other`; [`fallbacks`] counts them.

use std::alloc::Layout;
use std::ffi::{c_int, c_uint, c_void};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tikv_jemalloc_sys as ffi;

use crate::subsystem::Subsystem;

/// log2 of the address span reserved per subsystem: 64 GiB.
pub(crate) const SHIFT: u32 = 36;
/// The address span reserved per subsystem.
pub const SPAN: usize = 1 << SHIFT;
/// Subsystems with a range of their own (all but `Other`).
const RANGED: usize = Subsystem::COUNT - 1;

/// Start of the reservation minus one span, so that `(ptr − BASE) >> SHIFT` is the subsystem
/// id. Until the reservation exists it holds `1 << 63`, above every user-space address, so
/// that every pointer maps to an id far above `Subsystem::COUNT` (that is, `Other`).
static BASE: AtomicUsize = AtomicUsize::new(NO_BASE);
const NO_BASE: usize = 1 << 63;

/// Per subsystem: the `MALLOCX_ARENA` flags of its arena, or one of the states below.
static FLAGS: [AtomicUsize; Subsystem::COUNT] =
    [const { AtomicUsize::new(UNSET) }; Subsystem::COUNT];
const UNSET: usize = 0;
const CREATING: usize = 1;
const FAILED: usize = 2;
/// jemalloc arena index per subsystem (`u32::MAX` when none), for per-arena statistics.
static ARENA_INDEX: [AtomicUsize; Subsystem::COUNT] =
    [const { AtomicUsize::new(usize::MAX) }; Subsystem::COUNT];

/// Bump pointer per subsystem span: the next unused address.
static BUMP: [AtomicUsize; Subsystem::COUNT] = [const { AtomicUsize::new(0) }; Subsystem::COUNT];

/// Reservation state: 0 none, 1 in progress, 2 done, 3 failed.
static RESERVED: AtomicUsize = AtomicUsize::new(0);

static FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// Scoped allocations that could not get their subsystem's arena and were credited to `Other`.
pub fn fallbacks() -> u64 {
    FALLBACKS.load(Ordering::Relaxed)
}

/// The subsystem id whose range holds `ptr`, or 0 (`Other`) for any other address.
#[inline(always)]
pub(crate) fn subsystem_of(ptr: *mut u8) -> u8 {
    let id = (ptr as usize).wrapping_sub(BASE.load(Ordering::Relaxed)) >> SHIFT;
    if id < Subsystem::COUNT {
        id as u8
    } else {
        0
    }
}

/// The subsystem whose address range holds `ptr`: the subsystem a block made by the tracking
/// allocator over jemalloc is credited to (`Other` for unscoped blocks and foreign addresses).
pub fn owner(ptr: *const u8) -> Subsystem {
    Subsystem::ALL[subsystem_of(ptr.cast_mut()) as usize]
}

/// The jemalloc arena index of `sub`'s arena, once it exists.
pub fn arena_index(sub: Subsystem) -> Option<u32> {
    let i = ARENA_INDEX[sub.index()].load(Ordering::Acquire);
    u32::try_from(i).ok()
}

/// jemalloc's flags for a layout: alignment only where `malloc` would not already give it
/// (the rule of tikv-jemallocator, so both paths agree on the size class).
#[inline(always)]
fn align_flags(layout: Layout) -> c_int {
    // 16 is `alignof(max_align_t)` on the 64-bit targets jemalloc supports here.
    if layout.align() <= 16 && layout.align() <= layout.size() {
        0
    } else {
        ffi::MALLOCX_ALIGN(layout.align())
    }
}

/// Flags that route an allocation to `sub`'s arena without a thread cache, or `None` when
/// `sub` has no arena (and cannot get one): the caller then uses the default path.
#[inline(always)]
pub(crate) fn arena_flags(sub: u8) -> Option<c_int> {
    let f = FLAGS[sub as usize % Subsystem::COUNT].load(Ordering::Acquire);
    if f > FAILED {
        Some(f as c_int)
    } else {
        arena_flags_slow(sub)
    }
}

#[cold]
fn arena_flags_slow(sub: u8) -> Option<c_int> {
    let slot = &FLAGS[sub as usize % Subsystem::COUNT];
    loop {
        match slot.compare_exchange(UNSET, CREATING, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => {
                let made = create(sub);
                slot.store(made.map_or(FAILED, |f| f as usize), Ordering::Release);
                return made;
            }
            Err(CREATING) => std::hint::spin_loop(),
            Err(FAILED) => {
                FALLBACKS.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Err(f) => return Some(f as c_int),
        }
    }
}

/// Reserves the ranges (once) and creates `sub`'s arena; returns its flags.
fn create(sub: u8) -> Option<c_int> {
    if sub == 0 || sub as usize >= Subsystem::COUNT || !reserve() {
        return None;
    }
    let hooks: *const ffi::extent_hooks_t = &HOOKS[sub as usize];
    let mut index: c_uint = 0;
    let mut len = std::mem::size_of::<c_uint>();
    // SAFETY: "arenas.create" reads an `extent_hooks_t *` and writes the new arena's index
    // (`unsigned`); both pointers point at values of those types and sizes. The hooks table
    // is a `static`, so it outlives the arena as jemalloc requires.
    let code = unsafe {
        ffi::mallctl(
            c"arenas.create".as_ptr(),
            (&raw mut index).cast(),
            &mut len,
            (&raw const hooks).cast_mut().cast(),
            std::mem::size_of::<*const ffi::extent_hooks_t>(),
        )
    };
    if code != 0 {
        FALLBACKS.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    ARENA_INDEX[sub as usize].store(index as usize, Ordering::Release);
    Some(ffi::MALLOCX_ARENA(index as usize))
}

/// `tcache` code meaning "no thread cache".
const NO_TCACHE: u16 = u16::MAX;

/// The thread-cache flag for a scoped operation on `sub` by this thread, making its cache the
/// first time.
#[inline(always)]
fn tcache_flags(sub: u8) -> c_int {
    let code = crate::counters::STATE
        .try_with(|s| {
            let cell = &s.tcaches[sub as usize % Subsystem::COUNT];
            match cell.get() {
                // Only a thread with an exit hook gets a cache (it must be destroyed). One that
                // has none yet (its first recorded operation claims it) asks again next time.
                0 if !s.has_exit_hook() => NO_TCACHE,
                0 => {
                    let code = make_tcache();
                    cell.set(code);
                    code
                }
                code => code,
            }
        })
        .unwrap_or(NO_TCACHE);
    if code == NO_TCACHE {
        ffi::MALLOCX_TCACHE_NONE
    } else {
        ffi::MALLOCX_TCACHE(code as usize - 1)
    }
}

/// This thread's explicit jemalloc thread cache for `sub`'s scoped operations, once made.
pub fn thread_cache(sub: Subsystem) -> Option<u32> {
    crate::counters::STATE
        .try_with(|s| match s.tcaches[sub.index()].get() {
            0 | NO_TCACHE => None,
            code => Some(u32::from(code - 1)),
        })
        .ok()
        .flatten()
}

/// Makes an explicit thread cache; its code (id + 1), or `NO_TCACHE` if jemalloc refuses.
#[cold]
fn make_tcache() -> u16 {
    let mut id: c_uint = 0;
    let mut len = std::mem::size_of::<c_uint>();
    // SAFETY: "tcache.create" writes the new cache's index, an `unsigned`, and reads nothing.
    let code = unsafe {
        ffi::mallctl(
            c"tcache.create".as_ptr(),
            (&raw mut id).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    match u16::try_from(id) {
        Ok(id) if code == 0 && id < NO_TCACHE - 1 => id + 1,
        _ => NO_TCACHE,
    }
}

/// Destroys this thread's explicit thread caches (flushing their blocks back to their arenas);
/// later scoped operations of the thread use none. Called from the thread's exit hook.
pub(crate) fn destroy_thread_caches() {
    let _ = crate::counters::STATE.try_with(|s| {
        for cell in &s.tcaches {
            let code = cell.replace(NO_TCACHE);
            if code != 0 && code != NO_TCACHE {
                let mut id: c_uint = c_uint::from(code - 1);
                // SAFETY: "tcache.destroy" reads an `unsigned` cache index, one this thread
                // made and no other thread uses; it is never used again (the cell says none).
                unsafe {
                    ffi::mallctl(
                        c"tcache.destroy".as_ptr(),
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        (&raw mut id).cast(),
                        std::mem::size_of::<c_uint>(),
                    );
                }
            }
        }
    });
}

/// Reserves the address ranges of every ranged subsystem; true once they exist.
fn reserve() -> bool {
    loop {
        match RESERVED.compare_exchange(0, 1, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => break,
            Err(1) => std::hint::spin_loop(),
            Err(state) => return state == 2,
        }
    }
    let len = RANGED * SPAN;
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches no
    // existing memory. PROT_NONE reserves address space only: no page, no commit charge.
    let start = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if start == libc::MAP_FAILED {
        RESERVED.store(3, Ordering::Release);
        return false;
    }
    let base = (start as usize) - SPAN;
    for (s, bump) in BUMP.iter().enumerate().skip(1) {
        bump.store(base + s * SPAN, Ordering::Relaxed);
    }
    BASE.store(base, Ordering::Release);
    RESERVED.store(2, Ordering::Release);
    true
}

/// Allocates `layout` in `sub`'s arena (`flags` from [`arena_flags`]).
///
/// # Safety
///
/// `layout.size()` is non-zero.
#[inline]
pub(crate) unsafe fn alloc(sub: u8, layout: Layout, flags: c_int, zeroed: bool) -> *mut u8 {
    let zero = if zeroed { ffi::MALLOCX_ZERO } else { 0 };
    let flags = flags | tcache_flags(sub) | align_flags(layout) | zero;
    // SAFETY: the size is non-zero (caller); the flags name an arena that exists and a thread
    // cache of this thread's.
    unsafe { ffi::mallocx(layout.size(), flags) }.cast()
}

/// Frees a block of `sub`'s range, into this thread's cache for `sub`.
///
/// # Safety
///
/// `ptr` was returned by [`alloc`] or [`realloc`] with `layout`, and lies in `sub`'s range.
#[inline]
pub(crate) unsafe fn dealloc(sub: u8, ptr: *mut u8, layout: Layout) {
    let flags = tcache_flags(sub) | align_flags(layout);
    // SAFETY: the caller's contract; sized deallocation with the size the block was made for.
    unsafe { ffi::sdallocx(ptr.cast(), layout.size(), flags) }
}

/// Reallocates a block of `sub`'s range within the same arena.
///
/// # Safety
///
/// `ptr` was returned by [`alloc`] or [`realloc`] with `layout`; `new_size` is non-zero and,
/// rounded up to `layout.align()`, does not overflow `isize`.
#[inline]
pub(crate) unsafe fn realloc(
    sub: u8,
    ptr: *mut u8,
    layout: Layout,
    new_size: usize,
    flags: c_int,
) -> *mut u8 {
    // SAFETY: `new_size` and `layout.align()` form a valid layout (caller).
    let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
    let flags = flags | tcache_flags(sub) | align_flags(new);
    // SAFETY: the caller's contract; the flags name the arena that owns the block and a thread
    // cache of this thread's for that subsystem.
    unsafe { ffi::rallocx(ptr.cast(), new_size, flags) }.cast()
}

// The extent hooks. Each receives the arena index; the span is found from the table entry's
// position, since each subsystem has its own table (jemalloc passes the table pointer back).

/// Which subsystem a hooks table belongs to.
fn sub_of_hooks(hooks: *mut ffi::extent_hooks_t) -> usize {
    (hooks as usize - HOOKS.as_ptr() as usize) / std::mem::size_of::<ffi::extent_hooks_t>()
}

/// `alloc`: bumps through the subsystem's span. jemalloc asks for whole pages aligned to
/// `alignment` (a power of two, at least a page); `new_addr` asks for a given address, which we
/// can give only if it is the bump pointer itself.
unsafe extern "C" fn hook_alloc(
    hooks: *mut ffi::extent_hooks_t,
    new_addr: *mut c_void,
    size: usize,
    alignment: usize,
    zero: *mut bool,
    commit: *mut bool,
    _arena: c_uint,
) -> *mut c_void {
    let s = sub_of_hooks(hooks);
    let base = BASE.load(Ordering::Acquire);
    let end = base + (s + 1) * SPAN;
    let bump = &BUMP[s];
    let mut cur = bump.load(Ordering::Relaxed);
    let start = loop {
        let start = if new_addr.is_null() {
            (cur + alignment - 1) & !(alignment - 1)
        } else {
            new_addr as usize
        };
        if start != cur && !new_addr.is_null() {
            return std::ptr::null_mut();
        }
        let Some(next) = start.checked_add(size).filter(|&n| n <= end) else {
            return std::ptr::null_mut();
        };
        match bump.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break start,
            Err(now) => cur = now,
        }
    };
    // SAFETY: `[start, start + size)` lies inside the reservation made by `reserve` (checked
    // against the span's end above) and was handed to no one before (the bump only grows).
    let ok = unsafe {
        libc::mprotect(
            start as *mut c_void,
            size,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    } == 0;
    if !ok {
        // The range stays reserved and unused; jemalloc sees an allocation failure.
        return std::ptr::null_mut();
    }
    // SAFETY: jemalloc passes valid pointers to its own flags.
    unsafe {
        // Fresh anonymous pages read as zero, and they are committed (read-write).
        *zero = true;
        *commit = true;
    }
    start as *mut c_void
}

/// `dalloc`: opt out (true), so jemalloc keeps the extent for reuse within this arena; the
/// address range is never handed to anything else.
unsafe extern "C" fn hook_dalloc(
    _hooks: *mut ffi::extent_hooks_t,
    _addr: *mut c_void,
    _size: usize,
    _committed: bool,
    _arena: c_uint,
) -> bool {
    true
}

/// `commit`: the span's pages are read-write from the moment they are handed out.
unsafe extern "C" fn hook_commit(
    _hooks: *mut ffi::extent_hooks_t,
    _addr: *mut c_void,
    _size: usize,
    _offset: usize,
    _length: usize,
    _arena: c_uint,
) -> bool {
    false
}

/// `decommit`: opt out; jemalloc purges instead.
unsafe extern "C" fn hook_decommit(
    _hooks: *mut ffi::extent_hooks_t,
    _addr: *mut c_void,
    _size: usize,
    _offset: usize,
    _length: usize,
    _arena: c_uint,
) -> bool {
    true
}

/// Shared body of the purge hooks: `madvise(addr + offset, length, advice)`; false on success.
///
/// # Safety
///
/// The range is part of an extent jemalloc no longer uses (its contract for purge hooks).
unsafe fn purge(addr: *mut c_void, offset: usize, length: usize, advice: c_int) -> bool {
    // SAFETY: the caller's contract: the pages hold no live data.
    unsafe { libc::madvise(addr.cast::<u8>().add(offset).cast(), length, advice) != 0 }
}

/// `purge_lazy`: `MADV_FREE`, as jemalloc's default hooks on Linux.
unsafe extern "C" fn hook_purge_lazy(
    _hooks: *mut ffi::extent_hooks_t,
    addr: *mut c_void,
    _size: usize,
    offset: usize,
    length: usize,
    _arena: c_uint,
) -> bool {
    // SAFETY: jemalloc purges only pages it no longer uses.
    unsafe { purge(addr, offset, length, libc::MADV_FREE) }
}

/// `purge_forced`: `MADV_DONTNEED`; the pages read as zero afterwards, as jemalloc expects.
unsafe extern "C" fn hook_purge_forced(
    _hooks: *mut ffi::extent_hooks_t,
    addr: *mut c_void,
    _size: usize,
    offset: usize,
    length: usize,
    _arena: c_uint,
) -> bool {
    // SAFETY: jemalloc purges only pages it no longer uses.
    unsafe { purge(addr, offset, length, libc::MADV_DONTNEED) }
}

/// `split`: always possible within one mapping.
unsafe extern "C" fn hook_split(
    _hooks: *mut ffi::extent_hooks_t,
    _addr: *mut c_void,
    _size: usize,
    _size_a: usize,
    _size_b: usize,
    _committed: bool,
    _arena: c_uint,
) -> bool {
    false
}

/// `merge`: adjacent extents of one span lie in one mapping, so they can always merge.
unsafe extern "C" fn hook_merge(
    _hooks: *mut ffi::extent_hooks_t,
    _addr_a: *mut c_void,
    _size_a: usize,
    _addr_b: *mut c_void,
    _size_b: usize,
    _committed: bool,
    _arena: c_uint,
) -> bool {
    false
}

const fn hooks() -> ffi::extent_hooks_t {
    ffi::extent_hooks_t {
        alloc: Some(hook_alloc),
        dalloc: Some(hook_dalloc),
        destroy: None,
        commit: Some(hook_commit),
        decommit: Some(hook_decommit),
        purge_lazy: Some(hook_purge_lazy),
        purge_forced: Some(hook_purge_forced),
        split: Some(hook_split),
        merge: Some(hook_merge),
    }
}

/// One hooks table per subsystem (index = subsystem id; entry 0 unused), so that a hook finds
/// its span from the table pointer jemalloc hands back.
static HOOKS: [ffi::extent_hooks_t; Subsystem::COUNT] = [const { hooks() }; Subsystem::COUNT];
