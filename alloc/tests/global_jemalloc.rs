//! Scenario: `TrackingAllocator<Jemalloc>` as the global allocator, plus jemalloc control.

mod common;

use ultra_alloc::{jemalloc, stats, Jemalloc, TrackingAllocator};

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

/// jemalloc's figures move with ours: 64 MiB allocated shows in `allocated`, `active` and
/// `resident`; freeing then trimming releases resident memory and says how much.
fn jemalloc_stats_and_trim() {
    jemalloc::set_dirty_decay_ms(-1).unwrap(); // keep dirty pages until we purge them
    let j0 = jemalloc::stats().unwrap();
    let blocks: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 1 << 20]).collect();
    let j1 = jemalloc::stats().unwrap();
    // Other blocks may have been freed in between: allow 1 MiB of slack on jemalloc's side.
    assert!(
        j1.allocated + (1 << 20) >= j0.allocated + (64 << 20),
        "{j0:?} -> {j1:?}"
    );
    assert!(j1.active >= j1.allocated);
    assert!(j1.resident >= j1.active);
    assert!(j1.mapped >= j1.active);
    assert!(j1.metadata > 0);
    drop(blocks);
    let j2 = jemalloc::stats().unwrap();
    assert!(j2.allocated + (60 << 20) <= j1.allocated);
    let released = ultra_alloc::trim().unwrap();
    let j3 = jemalloc::stats().unwrap();
    assert!(released >= 60 << 20, "trim released only {released} bytes");
    assert_eq!(released, j2.resident.saturating_sub(j3.resident));
    jemalloc::set_dirty_decay_ms(10_000).unwrap();
}

/// The tracker counts requested bytes; jemalloc sees them plus headers and size classes.
fn tracked_bytes_are_at_most_jemalloc_allocated() {
    let ours = stats().live_bytes;
    let theirs = jemalloc::stats().unwrap().allocated;
    assert!(ours <= theirs, "ours {ours} > jemalloc {theirs}");
}

fn background_thread_can_be_switched() {
    jemalloc::set_background_thread(true).unwrap();
    jemalloc::set_background_thread(false).unwrap();
}

fn main() {
    let mut checks = common::ALL.to_vec();
    checks.push(("jemalloc_stats_and_trim", jemalloc_stats_and_trim));
    checks.push((
        "tracked_bytes_are_at_most_jemalloc_allocated",
        tracked_bytes_are_at_most_jemalloc_allocated,
    ));
    checks.push((
        "background_thread_can_be_switched",
        background_thread_can_be_switched,
    ));
    common::run(&checks);
}
