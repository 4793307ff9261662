//! The workloads, one per process run: `real <threads> <scope|noscope>`, `blocks`, `micro <threads>`.
//!
//! - `real`: what a service does with memory — build ~20 MB of JSON records with serde_json,
//!   parse them back, index 200 000 of them in a `HashMap<String, Vec<String>>`, run a regex
//!   over every string, serialize the map — split over `threads` threads, each with its share.
//!   With `scope` (and the `attribution` build) everything runs in `scope(Subsystem::Cache, …)`.
//! - `blocks`: 3 × 60 000 live `Vec<u8>` of 64, 1024 and 4096 bytes, written, in a Cache scope.
//! - `micro`: each thread does 4 M malloc/free pairs of 8 B – 64 KiB through a ring of 256 live
//!   blocks, outside any scope.
//!
//! A last argument `prof` (feature `profiling`) switches jemalloc's heap profiler on, at its
//! default 512 KiB interval, before the workload starts.
//!
//! Prints one line: the workload's checksum and, on ultra builds, the peak live bytes ultra
//! reported, so that a run also shows the instrument's own view.

use std::collections::HashMap;
use std::hint::black_box;

#[cfg(any(feature = "raw", feature = "raw-stats"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(any(feature = "counting", feature = "attribution"))]
#[global_allocator]
static GLOBAL: ultra_alloc::TrackingAllocator<ultra_alloc::Jemalloc> =
    ultra_alloc::TrackingAllocator::new(ultra_alloc::Jemalloc);

/// Runs `f` in a Cache scope when asked and attribution is built in.
fn in_scope<R>(scoped: bool, f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "attribution")]
    if scoped {
        return ultra_alloc::scope(ultra_alloc::Subsystem::Cache, f);
    }
    let _ = scoped;
    f()
}

/// xorshift64*: deterministic inputs.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn word(&mut self) -> String {
        const SYL: [&str; 12] = [
            "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "xe", "zu", "pa", "do",
        ];
        let n = 1 + self.next() % 4;
        let mut w: String = (0..n).map(|_| SYL[(self.next() % 12) as usize]).collect();
        if self.next() % 3 == 0 {
            w.push_str(&(self.next() % 1000).to_string());
        }
        w
    }
}

fn real(records: usize, seed: u64) -> usize {
    let mut rng = Rng(seed | 1);
    let values: Vec<serde_json::Value> = (0..records)
        .map(|i| {
            let tags: Vec<String> = (0..2 + rng.next() % 5).map(|_| rng.word()).collect();
            let text: Vec<String> = (0..4 + rng.next() % 6).map(|_| rng.word()).collect();
            serde_json::json!({
                "id": i,
                "name": format!("{}-{i:07}", rng.word()),
                "tags": tags,
                "text": text.join(" "),
                "score": (rng.next() % 10_000) as f64 / 100.0,
            })
        })
        .collect();
    let text = serde_json::to_string(&values).expect("serializable");
    drop(values);
    let parsed: Vec<serde_json::Value> = serde_json::from_str(&text).expect("valid JSON");
    let mut index: HashMap<String, Vec<String>> = HashMap::new();
    for v in &parsed {
        let name = v["name"].as_str().unwrap_or_default().to_owned();
        let mut words: Vec<String> = v["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        words.extend(
            v["text"]
                .as_str()
                .unwrap_or_default()
                .split(' ')
                .map(str::to_owned),
        );
        index.insert(name, words);
    }
    drop(parsed);
    let re = regex::Regex::new(r"[a-z]+[0-9]{2,}").expect("valid regex");
    let matches: usize = index
        .iter()
        .map(|(k, v)| {
            re.find_iter(k).count() + v.iter().map(|s| re.find_iter(s).count()).sum::<usize>()
        })
        .sum();
    let out = serde_json::to_string(&index).expect("serializable");
    text.len() + out.len() + matches
}

fn blocks() -> usize {
    let v: Vec<Vec<u8>> = (0..60_000)
        .flat_map(|i| [64usize, 1024, 4096].map(|n| vec![i as u8; n]))
        .collect();
    black_box(&v);
    v.len()
}

fn micro() -> usize {
    const SIZES: [usize; 16] = [
        8, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 40, 4096, 16, 16384, 65536,
    ];
    let mut ring: Vec<Option<Vec<u8>>> = (0..256).map(|_| None).collect();
    let mut sum = 0usize;
    for i in 0..4_000_000usize {
        let size = SIZES[(i * 7) % SIZES.len()];
        let mut b = Vec::<u8>::with_capacity(size);
        b.push(i as u8);
        sum = sum.wrapping_add(b.as_ptr() as usize & 0xff);
        ring[i % 256] = Some(b);
    }
    black_box(sum)
}

fn on_threads(threads: usize, f: impl Fn(usize) -> usize + Sync) -> usize {
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || f(t))).collect();
        handles.into_iter().map(|h| h.join().expect("worker")).sum()
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let threads = arg(1).and_then(|t| t.parse().ok()).unwrap_or(1usize);
    let scoped = arg(2) == Some("scope");
    #[cfg(feature = "profiling")]
    if args.iter().any(|a| a == "prof") {
        ultra_alloc::profile::set_active(true).expect("the heap profiler");
    }
    let sum = match arg(0) {
        Some("real") => on_threads(threads, |t| {
            in_scope(scoped, || real(200_000 / threads, t as u64 + 7))
        }),
        Some("blocks") => in_scope(true, blocks),
        Some("micro") => on_threads(threads, |_| micro()),
        _ => {
            eprintln!(
                "usage: ultra-alloc-cost real <threads> <scope|noscope> | blocks | micro <threads>"
            );
            std::process::exit(2);
        }
    };
    #[cfg(any(feature = "counting", feature = "attribution"))]
    println!(
        "checksum {sum} ultra_peak_live_bytes {}",
        ultra_alloc::stats().peak_bytes
    );
    #[cfg(not(any(feature = "counting", feature = "attribution")))]
    println!("checksum {sum}");
}
