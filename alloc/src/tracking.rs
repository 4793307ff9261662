//! The tracking `GlobalAlloc` wrapper.

use std::alloc::{GlobalAlloc, Layout};

use crate::counters::{record_alloc, record_dealloc, record_failure, record_realloc};
#[cfg(all(feature = "attribution", feature = "jemalloc"))]
use crate::counters::{record_alloc_at, thread_state};

/// A [`GlobalAlloc`] that counts every byte that passes through it and forwards to `A`.
///
/// ```
/// use ultra_alloc::TrackingAllocator;
/// use std::alloc::System;
///
/// #[global_allocator]
/// static GLOBAL: TrackingAllocator<System> = TrackingAllocator::new(System);
/// # fn main() {}
/// ```
///
/// Counters are process-wide (see [`crate::stats`]): install one tracking allocator per
/// process. Figures count requested sizes (`Layout::size`), never the inner allocator's
/// rounding or the attribution header.
///
/// With the `attribution` feature a free is debited from the subsystem that allocated the
/// block, whatever thread or scope frees it. How the block's subsystem is found depends on `A`:
///
/// - over [`crate::Jemalloc`] (feature `jemalloc`): **by address**, with no byte added to any
///   block. Each scoped subsystem allocates from its own jemalloc arena whose memory comes
///   from an address range reserved for it, so `dealloc` finds the subsystem with one
///   subtraction and compare (see the `arenas` module); unscoped allocations take jemalloc's
///   default path untouched.
/// - over any other allocator (`System`, a test allocator): **by header**. Each block is
///   preceded by `max(16, align)` bytes whose last byte holds the subsystem id, at an offset
///   derived from the alignment only, so even a free with a wrong size finds it. The header
///   moves blocks into larger size classes; nothing better exists without control of the
///   inner allocator's address space.
#[derive(Debug, Default, Clone, Copy)]
pub struct TrackingAllocator<A> {
    inner: A,
}

impl<A> TrackingAllocator<A> {
    /// Wraps `inner`.
    pub const fn new(inner: A) -> Self {
        TrackingAllocator { inner }
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

/// Header size for a given alignment (attribution on).
#[cfg(feature = "attribution")]
#[inline(always)]
const fn header(align: usize) -> usize {
    if align > 16 {
        align
    } else {
        16
    }
}

/// The layout asked of the inner allocator for a user layout, or `None` on overflow.
#[cfg(feature = "attribution")]
#[inline(always)]
fn outer(layout: Layout) -> Option<Layout> {
    let h = header(layout.align());
    let size = layout.size().checked_add(h)?;
    Layout::from_size_align(size, h).ok()
}

/// Whether `A` is jemalloc, whose blocks are attributed by address range instead of a header.
/// Both sides are constants after monomorphisation, so the branch costs nothing.
#[cfg(feature = "attribution")]
#[inline(always)]
fn by_range<A: 'static>() -> bool {
    #[cfg(feature = "jemalloc")]
    {
        std::any::TypeId::of::<A>() == std::any::TypeId::of::<crate::Jemalloc>()
    }
    #[cfg(not(feature = "jemalloc"))]
    {
        false
    }
}

/// Attribution by address range (inner allocator jemalloc): see the `arenas` module.
#[cfg(all(feature = "attribution", feature = "jemalloc"))]
#[allow(unsafe_code)]
impl<A: GlobalAlloc> TrackingAllocator<A> {
    /// # Safety
    ///
    /// `GlobalAlloc::alloc`'s contract; `A` is jemalloc.
    #[inline(always)]
    unsafe fn ranged_alloc(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        let (idx, sub) = thread_state();
        if sub != 0 {
            if let Some(flags) = crate::arenas::arena_flags(sub) {
                // SAFETY: the caller's contract.
                return unsafe { scoped_alloc(idx, sub, layout, flags, zeroed) };
            }
            // The subsystem has no arena (counted in `arenas::fallbacks`): credited to Other.
        }
        let p = if zeroed {
            // SAFETY: forwarded unchanged.
            unsafe { self.inner.alloc_zeroed(layout) }
        } else {
            // SAFETY: forwarded unchanged.
            unsafe { self.inner.alloc(layout) }
        };
        if p.is_null() {
            record_failure();
        } else {
            record_alloc_at(idx, 0, layout.size());
        }
        p
    }

    /// # Safety
    ///
    /// `GlobalAlloc::dealloc`'s contract; `A` is jemalloc.
    #[inline(always)]
    unsafe fn ranged_dealloc(&self, ptr: *mut u8, layout: Layout) {
        let sub = crate::arenas::subsystem_of(ptr);
        if sub != 0 {
            // SAFETY: only `arenas::alloc`/`realloc` hand out addresses in a subsystem range.
            return unsafe { scoped_dealloc(sub, ptr, layout) };
        }
        record_dealloc(layout.size(), 0);
        // SAFETY: forwarded unchanged: the block came from `A`.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    /// # Safety
    ///
    /// `GlobalAlloc::realloc`'s contract; `A` is jemalloc.
    #[inline(always)]
    unsafe fn ranged_realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let sub = crate::arenas::subsystem_of(ptr);
        // A block in a range was made by its subsystem's arena, which therefore exists.
        let p = match (sub != 0)
            .then(|| crate::arenas::arena_flags(sub))
            .flatten()
        {
            // SAFETY: the caller's contract; the block is in `sub`'s arena, and stays there.
            Some(flags) => unsafe { crate::arenas::realloc(sub, ptr, layout, new_size, flags) },
            // SAFETY: forwarded unchanged: the block came from `A`.
            None => unsafe { self.inner.realloc(ptr, layout, new_size) },
        };
        if p.is_null() {
            record_failure();
        } else {
            record_realloc(layout.size(), new_size, sub);
        }
        p
    }
}

/// A scoped allocation in `sub`'s arena, out of line so that the unscoped path stays short.
///
/// # Safety
///
/// `GlobalAlloc::alloc`'s contract; `flags` come from `arenas::arena_flags(sub)`.
#[cfg(all(feature = "attribution", feature = "jemalloc"))]
#[allow(unsafe_code)]
#[inline(never)]
unsafe fn scoped_alloc(idx: usize, sub: u8, layout: Layout, flags: i32, zeroed: bool) -> *mut u8 {
    // SAFETY: the caller's contract (non-zero size, an arena's flags).
    let p = unsafe { crate::arenas::alloc(sub, layout, flags, zeroed) };
    if p.is_null() {
        record_failure();
    } else {
        record_alloc_at(idx, sub, layout.size());
    }
    p
}

/// Frees a block of `sub`'s range, out of line like [`scoped_alloc`].
///
/// # Safety
///
/// `GlobalAlloc::dealloc`'s contract; `ptr` lies in `sub`'s range.
#[cfg(all(feature = "attribution", feature = "jemalloc"))]
#[allow(unsafe_code)]
#[inline(never)]
unsafe fn scoped_dealloc(sub: u8, ptr: *mut u8, layout: Layout) {
    record_dealloc(layout.size(), sub);
    // SAFETY: the caller's contract.
    unsafe { crate::arenas::dealloc(sub, ptr, layout) }
}

#[cfg(feature = "attribution")]
#[allow(unsafe_code)]
// SAFETY: over jemalloc (`by_range`), scoped blocks come from `mallocx` in their subsystem's
// arena and go back through `sdallocx`/`rallocx` of the same jemalloc, found by address; other
// blocks are forwarded to `A` unchanged. Otherwise every method forwards to `A`'s
// implementation with a layout that has the same alignment as the caller's (or larger) and a
// size enlarged by the header; the pointer returned to the caller is the inner block's start
// plus `header(align)`, a multiple of the caller's alignment, so it is aligned and has
// `layout.size()` usable bytes after it. The reverse translation in `dealloc`/`realloc` uses
// the same header size, derived from the alignment that the caller must pass unchanged, so the
// inner allocator always sees the pointer and layout it handed out.
unsafe impl<A: GlobalAlloc + 'static> GlobalAlloc for TrackingAllocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        #[cfg(feature = "jemalloc")]
        if by_range::<A>() {
            // SAFETY: the caller's contract; `A` is jemalloc.
            return unsafe { self.ranged_alloc(layout, false) };
        }
        let Some(outer) = outer(layout) else {
            record_failure();
            return std::ptr::null_mut();
        };
        // SAFETY: `outer` has non-zero size (it includes the header).
        let base = unsafe { self.inner.alloc(outer) };
        if base.is_null() {
            record_failure();
            return base;
        }
        let h = header(layout.align());
        let sub = record_alloc(layout.size());
        // SAFETY: the block is `layout.size() + h` bytes long, so `base + h` is in bounds
        // and `base + h - 1` is the last header byte.
        unsafe {
            let user = base.add(h);
            user.sub(1).write(sub);
            user
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        #[cfg(feature = "jemalloc")]
        if by_range::<A>() {
            // SAFETY: the caller's contract; `A` is jemalloc.
            return unsafe { self.ranged_alloc(layout, true) };
        }
        let Some(outer) = outer(layout) else {
            record_failure();
            return std::ptr::null_mut();
        };
        // SAFETY: `outer` has non-zero size.
        let base = unsafe { self.inner.alloc_zeroed(outer) };
        if base.is_null() {
            record_failure();
            return base;
        }
        let h = header(layout.align());
        let sub = record_alloc(layout.size());
        // SAFETY: as in `alloc`.
        unsafe {
            let user = base.add(h);
            user.sub(1).write(sub);
            user
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        #[cfg(feature = "jemalloc")]
        if by_range::<A>() {
            // SAFETY: the caller's contract; `A` is jemalloc.
            return unsafe { self.ranged_dealloc(ptr, layout) };
        }
        let h = header(layout.align());
        // SAFETY: `ptr` came from `alloc`/`realloc` with this alignment, so the block starts
        // `h` bytes before it and its header byte is readable.
        unsafe {
            let base = ptr.sub(h);
            let sub = ptr.sub(1).read();
            record_dealloc(layout.size(), sub);
            // `outer` cannot fail here: it succeeded when the block was allocated.
            let outer = Layout::from_size_align_unchecked(layout.size() + h, h);
            self.inner.dealloc(base, outer);
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        #[cfg(feature = "jemalloc")]
        if by_range::<A>() {
            // SAFETY: the caller's contract; `A` is jemalloc.
            return unsafe { self.ranged_realloc(ptr, layout, new_size) };
        }
        let h = header(layout.align());
        let Some(new_outer) = new_size.checked_add(h) else {
            record_failure();
            return std::ptr::null_mut();
        };
        if Layout::from_size_align(new_outer, h).is_err() {
            record_failure();
            return std::ptr::null_mut();
        }
        // SAFETY: as in `dealloc`, the block starts `h` bytes before `ptr`; the inner realloc
        // preserves the header bytes since the new block is at least `h` bytes long.
        unsafe {
            let base = ptr.sub(h);
            let sub = ptr.sub(1).read();
            let outer = Layout::from_size_align_unchecked(layout.size() + h, h);
            let new_base = self.inner.realloc(base, outer, new_outer);
            if new_base.is_null() {
                record_failure();
                return new_base;
            }
            record_realloc(layout.size(), new_size, sub);
            new_base.add(h)
        }
    }
}

#[cfg(not(feature = "attribution"))]
#[allow(unsafe_code)]
// SAFETY: every method forwards its arguments unchanged to `A`, which upholds the contract;
// this wrapper only records figures after the inner call returns.
unsafe impl<A: GlobalAlloc> GlobalAlloc for TrackingAllocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { self.inner.alloc(layout) };
        if p.is_null() {
            record_failure();
        } else {
            record_alloc(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if p.is_null() {
            record_failure();
        } else {
            record_alloc(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record_dealloc(layout.size(), 0);
        // SAFETY: forwarded unchanged.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if p.is_null() {
            record_failure();
        } else {
            record_realloc(layout.size(), new_size, 0);
        }
        p
    }
}
