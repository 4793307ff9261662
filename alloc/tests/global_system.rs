//! Scenario: `TrackingAllocator<System>` as the global allocator.

mod common;

use std::alloc::System;
use ultra_alloc::TrackingAllocator;

#[global_allocator]
static GLOBAL: TrackingAllocator<System> = TrackingAllocator::new(System);

fn jemalloc_reports_its_own_figures_or_not_available() {
    // With System as the global allocator, jemalloc (if compiled in) holds almost nothing, but
    // whatever it reports is its own truth; without the feature it says "not available".
    match ultra_alloc::jemalloc::stats() {
        Ok(s) => {
            assert!(ultra_alloc::jemalloc::available());
            assert!(s.allocated < 1 << 20, "{s:?}");
        }
        Err(e) => {
            assert!(!ultra_alloc::jemalloc::available());
            assert_eq!(e, ultra_alloc::JemallocError::NotAvailable);
            assert!(e.to_string().contains("not available"));
            assert!(ultra_alloc::trim().is_err());
        }
    }
}

fn main() {
    let mut checks = common::ALL.to_vec();
    checks.push((
        "jemalloc_reports_its_own_figures_or_not_available",
        jemalloc_reports_its_own_figures_or_not_available,
    ));
    common::run(&checks);
}
