//! `Explanation::take` in a process like the `ultra-exporter` binary (jemalloc under the
//! tracking allocator, no V8): the owners add up to the RSS of the same reading exactly, none is
//! negative, and bytes put in an ultra cache or on a thread's stack move the right owners.

use ultra_alloc::{Jemalloc, Subsystem, TrackingAllocator};
use ultra_core::{Cache, CacheOptions, ExplainOptions, Explanation, Owner};

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

fn total(e: &Explanation) -> i128 {
    e.owners
        .iter()
        .flatten()
        .map(|&b| i128::from(b))
        .sum::<i128>()
        + i128::from(e.unattributed_bytes)
}

fn take() -> Explanation {
    let e = Explanation::take(&ExplainOptions::default()).expect("Linux /proc");
    assert_eq!(total(&e), i128::from(e.rss_bytes), "{e:?}");
    e
}

/// One test function, so no other test thread allocates between readings.
#[test]
fn explain() {
    owners_sum_to_rss_and_follow_the_workload();
    a_blocked_threads_stack_is_counted();
}

fn owners_sum_to_rss_and_follow_the_workload() {
    // Reading allocates nothing through the tracking allocator (this thread's counters are
    // flushed by `take`, and no other thread allocates in this test binary).
    let _ = take();
    let a = ultra_alloc::stats();
    let before = take();
    let b = ultra_alloc::stats();
    assert_eq!(
        (a.allocations, a.deallocations, a.live_bytes),
        (b.allocations, b.deallocations, b.live_bytes),
        "explain allocated"
    );
    // Without V8 and without a module address, those owners are unknown, not zero.
    assert_eq!(before.owner(Owner::V8Heap), None);
    assert_eq!(before.owner(Owner::AddonCode), None);
    for owner in [
        Owner::Code,
        Owner::Ultra,
        Owner::AllocatorOverhead,
        Owner::Malloc,
        Owner::MallocFree,
        Owner::Stacks,
    ] {
        assert!(before.owner(owner).is_some(), "{owner:?} in {before:?}");
    }
    assert!(before.owner(Owner::Code).unwrap() > 0);
    assert!(before.owner(Owner::Stacks).unwrap() > 0);
    let (threads, _unlocated) = before.threads.unwrap();
    assert!(threads >= 1);

    // ~40 MB in an ultra cache.
    let mut cache = Cache::new(CacheOptions {
        max_entries: Some(100_000),
        ..Default::default()
    })
    .unwrap();
    let value = "v".repeat(4000);
    for i in 0..10_000 {
        cache
            .set(&format!("key-{i}"), value.as_str(), None)
            .unwrap();
    }
    let put = 10_000 * 4000u64;
    let after = take();
    let grew = |o: Owner| after.owner(o).unwrap() as i128 - before.owner(o).unwrap() as i128;
    assert!(
        grew(Owner::Ultra) >= put as i128 * 9 / 10,
        "{before:?}\n{after:?}"
    );
    let cache_before = before.ultra_subsystems.unwrap()[Subsystem::Cache.index()];
    let cache_after = after.ultra_subsystems.unwrap()[Subsystem::Cache.index()];
    assert!(cache_after - cache_before >= put * 9 / 10);
    // The RSS grew by as much, and the owners explain it: the remainder moved by far less.
    assert!(after.rss_bytes >= before.rss_bytes + put * 9 / 10);
    let drift = (after.unattributed_bytes - before.unattributed_bytes).unsigned_abs();
    assert!(drift < put / 10, "{before:?}\n{after:?}");
    drop(cache);
}

fn a_blocked_threads_stack_is_counted() {
    let before = take().owner(Owner::Stacks).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let mut big = [1u8; 512 * 1024];
        std::hint::black_box(&mut big);
        ready_tx.send(()).unwrap();
        rx.recv().unwrap();
        std::hint::black_box(&big);
    });
    ready_rx.recv().unwrap();
    // The thread blocks in `recv` right after `send`; poll with a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut now = take().owner(Owner::Stacks).unwrap();
    while now < before + 512 * 1024 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
        now = take().owner(Owner::Stacks).unwrap();
    }
    tx.send(()).unwrap();
    t.join().unwrap();
    assert!(now >= before + 512 * 1024, "{before} -> {now}");
}
