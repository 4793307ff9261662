//! Scenario: attribution on, over jemalloc: blocks move between threads and scopes and every
//! subsystem's live bytes come back exactly.

mod common;

use std::sync::mpsc;
use ultra_alloc::{scope, stats, Jemalloc, Subsystem, TrackingAllocator};

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

/// Four producer threads allocate in rotating scopes and send the blocks to a consumer that
/// frees them inside yet another scope; per-subsystem figures are exact at every quiescent
/// point and sum to the total.
fn cross_thread_handoff_is_exact() {
    let before = stats();
    let (tx, rx) = mpsc::channel::<(Subsystem, Vec<u8>)>();
    let consumer = std::thread::spawn(move || {
        let mut freed = [0u64; Subsystem::COUNT];
        scope(Subsystem::Exporter, || {
            for (sub, block) in rx {
                freed[sub.index()] += block.capacity() as u64;
                drop(block);
            }
        });
        freed
    });
    let producers: Vec<_> = (0..4)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut sent = [0u64; Subsystem::COUNT];
                for i in 0..2000usize {
                    let sub = Subsystem::ALL[(t + i) % Subsystem::COUNT];
                    let size = (i * 7919 + t * 31) % 70_000 + 1;
                    let block = scope(sub, || vec![t as u8; size]);
                    sent[sub.index()] += block.capacity() as u64;
                    tx.send((sub, block)).unwrap();
                }
                sent
            })
        })
        .collect();
    drop(tx);
    let mut sent = [0u64; Subsystem::COUNT];
    for p in producers {
        for (s, v) in sent.iter_mut().zip(p.join().unwrap()) {
            *s += v;
        }
    }
    let freed = consumer.join().unwrap();
    assert_eq!(sent, freed);
    let after = stats();
    let (b, a) = (before.subsystems.unwrap(), after.subsystems.unwrap());
    for s in Subsystem::ALL {
        assert_eq!(a[s.index()].live_bytes, b[s.index()].live_bytes, "{s}");
        let credited = a[s.index()].allocated_bytes - b[s.index()].allocated_bytes;
        assert!(
            credited >= sent[s.index()],
            "{s}: credited {credited} < sent {}",
            sent[s.index()]
        );
    }
    assert_eq!(after.live_bytes, before.live_bytes);
    assert_eq!(
        a.iter().map(|x| x.live_bytes).sum::<u64>(),
        after.live_bytes
    );
}

/// A block allocated in a scope and still alive shows under that subsystem on every reading,
/// whichever thread reads.
fn live_blocks_stay_credited() {
    let before = stats();
    let kept = scope(Subsystem::Pool, || vec![0u8; 1 << 16]);
    let seen = std::thread::spawn(|| stats().subsystem(Subsystem::Pool).unwrap().live_bytes)
        .join()
        .unwrap();
    assert_eq!(
        seen - before.subsystem(Subsystem::Pool).unwrap().live_bytes,
        1 << 16
    );
    drop(kept);
}

fn main() {
    let mut checks = common::ALL.to_vec();
    checks.push((
        "cross_thread_handoff_is_exact",
        cross_thread_handoff_is_exact,
    ));
    checks.push(("live_blocks_stay_credited", live_blocks_stay_credited));
    common::run(&checks);
}
