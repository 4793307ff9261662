//! Measures where multi-threaded BLAKE3 (`update_rayon`) starts to beat the single-threaded
//! one-shot hash on this machine; the result sets `hash::BLAKE3_PARALLEL_THRESHOLD`.
//!
//! Run with `cargo run --release -p ultra-core --example blake3_threshold` on an otherwise idle
//! machine. For each size, single-threaded `blake3::hash` and `Hasher::update_rayon` are timed
//! alternately, in two regimes:
//!
//! - "warm": calls back to back, so rayon's workers are awake (a burst of large hashes);
//! - "after idle": each call after 2 ms of sleep, so rayon's workers are asleep, as for a
//!   service that hashes a large input now and then.
//!
//! Figures are medians. The last column is the share of CPU time used by other processes
//! during the row (from `/proc/stat`, Linux only); rows with a high figure are not clean.

use std::time::{Duration, Instant};

/// Ticks (all CPUs) busy and total, and this process's own ticks.
fn ticks() -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = cpu.iter().sum();
    let idle = cpu.get(3)? + cpu.get(4)?;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the command name: utime and stime are the 12th and 13th
    let after = own.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let mine = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((total - idle, total, mine))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median time of `f` and `g`, timed alternately; `pause` before each call.
fn alternate(
    rounds: usize,
    pause: Duration,
    mut f: impl FnMut(),
    mut g: impl FnMut(),
) -> (Duration, Duration) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (times, h) in [(&mut a, &mut f as &mut dyn FnMut()), (&mut b, &mut g)] {
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
            let t = Instant::now();
            h();
            times.push(t.elapsed());
        }
    }
    (median(a), median(b))
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("cores: {threads}");
    println!("| input | single, warm | rayon, warm | speed-up | single, after idle | rayon, after idle | speed-up | others' CPU |");
    println!("|---|---|---|---|---|---|---|---|");
    // Start rayon's pool outside the measurements.
    let _ = blake3::Hasher::new()
        .update_rayon(&[0u8; 1 << 20])
        .finalize();
    for kib in [64usize, 128, 256, 512, 1024, 2048, 4096, 8192, 16384] {
        let data: Vec<u8> = (0..kib * 1024).map(|i| (i % 251) as u8).collect();
        let single = || {
            std::hint::black_box(blake3::hash(std::hint::black_box(&data)));
        };
        let multi = || {
            let mut h = blake3::Hasher::new();
            h.update_rayon(std::hint::black_box(&data));
            std::hint::black_box(h.finalize());
        };
        let before = ticks();
        let rounds = (200_000 / kib).clamp(21, 501);
        let (warm_s, warm_m) = alternate(rounds, Duration::ZERO, single, multi);
        let (cold_s, cold_m) = alternate(41, Duration::from_millis(2), single, multi);
        let others = match (before, ticks()) {
            (Some((b0, t0, m0)), Some((b1, t1, m1))) if t1 > t0 => {
                let others = (b1 - b0).saturating_sub(m1 - m0);
                format!("{:.0}%", 100.0 * others as f64 / (t1 - t0) as f64)
            }
            _ => "?".into(),
        };
        let ratio = |s: Duration, m: Duration| s.as_secs_f64() / m.as_secs_f64();
        println!(
            "| {kib} KiB | {warm_s:.1?} | {warm_m:.1?} | {:.2}× | {cold_s:.1?} | {cold_m:.1?} | {:.2}× | {others} |",
            ratio(warm_s, warm_m),
            ratio(cold_s, cold_m),
        );
    }
}
