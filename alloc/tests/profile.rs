//! Scenario: `TrackingAllocator<Jemalloc>` with jemalloc's heap profiler compiled in (feature
//! `profiling`): profiles taken after known allocation patterns, decoded with prost, attribute
//! the bytes to the function that allocated them, through the tracking allocator's frames.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ultra_alloc::profile::{self, ProfileError};
use ultra_alloc::{scope, stats, Config, Jemalloc, Subsystem, TrackingAllocator};

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

/// The part of pprof's `profile.proto` these checks read.
mod pprof {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        #[prost(int64, tag = "2")]
        pub line: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
        #[prost(int64, tag = "4")]
        pub filename: i64,
    }
}

/// One frame of a decoded stack: `(function, file, line)`.
type Frame = (String, String, i64);

/// A decoded profile: each sample as (bytes, the frames of its stack, innermost first).
struct Decoded {
    sample_type: (String, String),
    samples: Vec<(i64, Vec<Frame>)>,
}

fn decode(gz: &[u8]) -> Decoded {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut raw)
        .expect("a gzipped profile");
    let p: pprof::Profile = prost::Message::decode(raw.as_slice()).expect("a pprof Profile");
    let s = |i: i64| p.string_table[i as usize].clone();
    let functions: HashMap<u64, &pprof::Function> = p.function.iter().map(|f| (f.id, f)).collect();
    let locations: HashMap<u64, &pprof::Location> = p.location.iter().map(|l| (l.id, l)).collect();
    let samples = p
        .sample
        .iter()
        .map(|sample| {
            let frames = sample
                .location_id
                .iter()
                .flat_map(|id| locations[id].line.iter())
                .map(|line| {
                    let f = functions[&line.function_id];
                    (s(f.name), s(f.filename), line.line)
                })
                .collect();
            (sample.value[0], frames)
        })
        .collect();
    assert_eq!(p.sample_type.len(), 1);
    Decoded {
        sample_type: (s(p.sample_type[0].r#type), s(p.sample_type[0].unit)),
        samples,
    }
}

impl Decoded {
    fn total(&self) -> i64 {
        self.samples.iter().map(|(v, _)| v).sum()
    }

    /// Bytes of the samples with a frame whose function name contains `name` (cumulative).
    fn under(&self, name: &str) -> i64 {
        self.samples
            .iter()
            .filter(|(_, frames)| frames.iter().any(|(f, _, _)| f.contains(name)))
            .map(|(v, _)| v)
            .sum()
    }
}

const BLOCK: usize = 1024;
const BLOCKS: usize = 64 * 1024; // 64 MiB in all

/// The known allocation pattern: 64 MiB in 1 KiB blocks, in the Cache scope.
#[inline(never)]
fn fill_the_profiled_cache() -> Vec<Box<[u8]>> {
    scope(Subsystem::Cache, || {
        (0..BLOCKS)
            .map(|i| vec![i as u8; BLOCK].into_boxed_slice())
            .collect()
    })
}

/// Sampling starts off (`prof_active:false`): the API says so rather than return an empty
/// profile.
fn starts_inactive() {
    assert!(profile::enabled());
    assert!(!profile::active());
    assert_eq!(profile::heap_profile(), Err(ProfileError::Inactive));
}

/// 64 MiB allocated by a known function: the profile estimates the live heap within the
/// sampling error (64 KiB interval: ~1 000 samples, a few percent), attributes ≥ 90 % of it to
/// that function through the tracking allocator's frames, with file and line; attribution stays
/// exact while sampled.
fn attributes_the_bytes_to_the_allocating_function() {
    assert_eq!(profile::set_sample_interval(64 << 10), Ok(64 << 10));
    assert_eq!(profile::sample_interval(), Ok(64 << 10));
    profile::set_active(true).unwrap();
    let cache_before = stats().subsystem(Subsystem::Cache).unwrap().live_bytes;
    let blocks = fill_the_profiled_cache();
    let cache_after = stats().subsystem(Subsystem::Cache).unwrap().live_bytes;
    // Blocks plus the outer Vec of boxed slices, exactly.
    let requested = BLOCKS * BLOCK + BLOCKS * std::mem::size_of::<Box<[u8]>>();
    assert_eq!(cache_after - cache_before, requested as u64);

    let p = decode(&profile::heap_profile().unwrap());
    assert_eq!(
        p.sample_type,
        ("inuse_space".to_owned(), "bytes".to_owned())
    );
    let (total, ours) = (p.total(), p.under("fill_the_profiled_cache"));
    let want = requested as f64;
    assert!(
        (ours as f64 - want).abs() <= 0.2 * want,
        "fill_the_profiled_cache holds {ours} B, allocated {want} B (profile total {total})"
    );
    assert!(ours as f64 >= 0.9 * total as f64, "{ours} of {total}");
    // The stacks go through the tracking allocator to the caller, with files and lines.
    assert!(
        p.under("TrackingAllocator") > 0,
        "no frame of the tracking allocator"
    );
    let frame = p
        .samples
        .iter()
        .flat_map(|(_, f)| f)
        .find(|(f, _, _)| f.contains("fill_the_profiled_cache"))
        .unwrap();
    assert!(frame.1.ends_with("profile.rs") && frame.2 > 0, "{frame:?}");
    drop(blocks);

    // Freed blocks leave the profile.
    let after = decode(&profile::heap_profile().unwrap());
    assert!(
        after.under("fill_the_profiled_cache") < (requested / 10) as i64,
        "{} B still attributed after the free",
        after.under("fill_the_profiled_cache")
    );
    profile::set_active(false).unwrap();
}

/// Switching off discards the samples and the API says so; switching on starts afresh.
fn can_be_switched_off_and_on() {
    profile::set_active(true).unwrap();
    let kept = fill_the_profiled_cache();
    profile::set_active(false).unwrap();
    assert!(!profile::active());
    assert_eq!(profile::heap_profile(), Err(ProfileError::Inactive));
    profile::set_active(true).unwrap();
    let p = decode(&profile::heap_profile().unwrap());
    assert!(
        p.under("fill_the_profiled_cache") < (BLOCK * BLOCKS / 10) as i64,
        "samples from before the switch survived"
    );
    drop(kept);
    profile::set_active(false).unwrap();
}

/// Profiles read while two threads allocate and free (scoped and not): no deadlock, no crash,
/// every profile decodes, and the allocating threads go on.
fn profiles_while_other_threads_allocate() {
    profile::set_sample_interval(16 << 10).unwrap();
    profile::set_active(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|t| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut rounds = 0u64;
                let mut live: Vec<Vec<u8>> = Vec::new();
                while !stop.load(Ordering::Relaxed) || rounds == 0 {
                    let size = 64 << (rounds % 8);
                    let v = if t == 0 {
                        scope(Subsystem::Json, || vec![1u8; size])
                    } else {
                        vec![2u8; size]
                    };
                    live.push(v);
                    if live.len() > 256 {
                        live.drain(..128);
                    }
                    rounds += 1;
                }
                rounds
            })
        })
        .collect();
    for _ in 0..5 {
        let p = decode(&profile::heap_profile().unwrap());
        assert!(p.total() >= 0);
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        assert!(w.join().unwrap() > 0);
    }
    profile::set_active(false).unwrap();
}

/// `ULTRA_HEAP_PROFILE=1` and the interval, applied through the configuration.
fn configuration_switches_sampling_on() {
    let config = Config::from_lookup(|name| match name {
        "ULTRA_HEAP_PROFILE" => Some("1".to_owned()),
        "ULTRA_HEAP_PROFILE_SAMPLE_BYTES" => Some("100KiB".to_owned()),
        _ => None,
    })
    .unwrap();
    assert!(config.heap_profile);
    assert_eq!(config.heap_profile_sample_bytes, 100 << 10);
    ultra_alloc::apply_jemalloc(&config).unwrap();
    assert!(profile::active());
    assert_eq!(profile::sample_interval(), Ok(64 << 10)); // rounded down to a power of two
    profile::set_active(false).unwrap();
    ultra_alloc::apply_jemalloc(&Config::default()).unwrap();
    assert!(!profile::active());
    assert_eq!(profile::sample_interval(), Ok(512 << 10));
}

fn main() {
    let mut checks = common::ALL.to_vec();
    // Sampling-sensitive checks first, each leaving sampling off.
    checks.insert(0, ("starts_inactive", starts_inactive));
    checks.insert(
        1,
        (
            "attributes_the_bytes_to_the_allocating_function",
            attributes_the_bytes_to_the_allocating_function,
        ),
    );
    checks.insert(
        2,
        ("can_be_switched_off_and_on", can_be_switched_off_and_on),
    );
    checks.insert(
        3,
        (
            "profiles_while_other_threads_allocate",
            profiles_while_other_threads_allocate,
        ),
    );
    checks.insert(
        4,
        (
            "configuration_switches_sampling_on",
            configuration_switches_sampling_on,
        ),
    );
    common::run(&checks);
}
