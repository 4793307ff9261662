//! Scenario: an inner allocator that fails on demand. Failed allocations are counted and no
//! other figure moves. (`harness = false`: runs on one thread, as bumpalo's try_alloc test.)

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};
use ultra_alloc::{stats, AllocStats, TrackingAllocator};

/// `System`, except that it refuses every request while `FAIL` is set.
struct Failing;

static FAIL: AtomicBool = AtomicBool::new(false);

// SAFETY: forwards to `System` unchanged, or returns null, which `GlobalAlloc` permits.
unsafe impl GlobalAlloc for Failing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if FAIL.load(Ordering::SeqCst) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if FAIL.load(Ordering::SeqCst) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if FAIL.load(Ordering::SeqCst) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: TrackingAllocator<Failing> = TrackingAllocator::new(Failing);

fn unchanged_but_failures(a: &AllocStats, b: &AllocStats, failures: u64) {
    assert_eq!(b.failed_allocations - a.failed_allocations, failures);
    let mut b2 = *b;
    b2.failed_allocations = a.failed_allocations;
    b2.peak_bytes = a.peak_bytes;
    assert_eq!(&b2, a, "only the failure count may move");
}

fn main() {
    let layout = Layout::from_size_align(4096, 8).unwrap();
    // SAFETY: non-zero size; the block is freed below.
    let block = unsafe { std::alloc::alloc(layout) };
    assert!(!block.is_null());

    let before = stats();
    FAIL.store(true, Ordering::SeqCst);
    // SAFETY: non-zero sizes; nulls are expected and never dereferenced; `block` stays valid
    // when realloc fails.
    let (p, z, r) = unsafe {
        (
            std::alloc::alloc(Layout::from_size_align(100, 8).unwrap()),
            std::alloc::alloc_zeroed(Layout::from_size_align(1 << 20, 64).unwrap()),
            std::alloc::realloc(block, layout, 1 << 16),
        )
    };
    FAIL.store(false, Ordering::SeqCst);
    let after = stats();
    assert!(p.is_null() && z.is_null() && r.is_null());
    unchanged_but_failures(&before, &after, 3);
    println!("test failed_allocations_are_counted_and_nothing_else_moves ... ok");

    // A size so large that adding the header overflows: refused before reaching the inner
    // allocator, counted as a failure.
    let before = stats();
    let huge = Layout::from_size_align(isize::MAX as usize - 8, 8).unwrap();
    // SAFETY: non-zero size; null expected.
    let h = unsafe { std::alloc::alloc(huge) };
    assert!(h.is_null());
    unchanged_but_failures(&before, &stats(), 1);
    println!("test header_overflow_is_a_counted_failure ... ok");

    // SAFETY: allocated above with `layout`.
    unsafe { std::alloc::dealloc(block, layout) };
    println!("\ntest result: ok. 2 passed; 0 failed; 0 ignored");
}
