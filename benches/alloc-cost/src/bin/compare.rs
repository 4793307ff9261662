//! Runs the workload binaries of every variant in turn, round after round, and prints each
//! figure's median and its median ratio to raw jemalloc (ratios are taken within a round, so
//! machine drift hits both sides alike). CPU is user + system time and peak RSS is `ru_maxrss`,
//! both from the kernel's accounting of the finished child (`wait4`).
//!
//! `compare <target-root> <rounds> <json-out> [group]`:
//! `<target-root>/<variant>/release/ultra-alloc-cost` must exist for every variant (`run.sh`
//! builds them); with `group`, only the groups whose name contains it run.

use std::fmt::Write as _;
use std::process::{Command, Stdio};

/// A workload and the variants it is run under; the first is the baseline.
struct Group {
    name: &'static str,
    args: &'static [&'static str],
    variants: &'static [Variant],
}

/// A label, the variant built, and the workload's extra arguments.
type Variant = (&'static str, &'static str, &'static [&'static str]);

/// The real program's variants, on 1 thread and on 2.
const REAL: &[Variant] = &[
    ("raw jemalloc", "raw", &["noscope"]),
    ("ultra counting only", "counting", &["noscope"]),
    (
        "ultra attribution, outside a scope",
        "attribution",
        &["noscope"],
    ),
    (
        "ultra attribution, inside a Cache scope",
        "attribution",
        &["scope"],
    ),
];

const GROUPS: &[Group] = &[
    Group {
        name: "real program, 1 thread",
        args: &["real", "1"],
        variants: REAL,
    },
    Group {
        name: "real program, 2 threads",
        args: &["real", "2"],
        variants: REAL,
    },
    Group {
        name: "3 × 60 000 live blocks of 64/1024/4096 B (Cache scope)",
        args: &["blocks"],
        variants: &[
            ("raw jemalloc", "raw", &[]),
            ("ultra counting only", "counting", &[]),
            ("ultra attribution", "attribution", &[]),
        ],
    },
    Group {
        name: "2 threads × 4 M malloc/free of 8 B – 64 KiB, outside scopes",
        args: &["micro", "2"],
        variants: &[
            ("raw jemalloc (tikv defaults)", "raw", &[]),
            ("raw jemalloc + stats", "raw-stats", &[]),
            ("ultra counting only", "counting", &[]),
            ("ultra attribution", "attribution", &[]),
        ],
    },
    Group {
        name: "real program, 2 threads, outside a scope: heap profiling",
        args: &["real", "2", "noscope"],
        variants: &[
            ("ultra attribution (no profiler)", "attribution", &[]),
            ("profiler compiled in, inactive", "profiling", &[]),
            ("profiler active, 512 KiB", "profiling", &["prof"]),
        ],
    },
    Group {
        name: "real program, 2 threads, inside a Cache scope: heap profiling",
        args: &["real", "2", "scope"],
        variants: &[
            ("ultra attribution (no profiler)", "attribution", &[]),
            ("profiler compiled in, inactive", "profiling", &[]),
            ("profiler active, 512 KiB", "profiling", &["prof"]),
        ],
    },
    Group {
        name: "2 threads × 4 M malloc/free, outside scopes: heap profiling",
        args: &["micro", "2"],
        variants: &[
            ("ultra attribution (no profiler)", "attribution", &[]),
            ("profiler compiled in, inactive", "profiling", &[]),
            ("profiler active, 512 KiB", "profiling", &["prof"]),
        ],
    },
];

/// CPU seconds and peak RSS bytes of one run.
fn run(bin: &str, args: &[&str]) -> (f64, f64) {
    let child = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e} (run run.sh, which builds every variant)"));
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `child.id()` is our own child, not yet reaped; both out-pointers are valid.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(
        pid > 0 && status == 0,
        "{bin} {args:?} failed (status {status})"
    );
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        secs(usage.ru_utime) + secs(usage.ru_stime),
        usage.ru_maxrss as f64 * 1024.0,
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = args.first().map(String::as_str).unwrap_or("target");
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5);
    let out = args.get(2).map(String::as_str);
    let only = args.get(3).map(String::as_str).unwrap_or("");
    let groups: Vec<&Group> = GROUPS.iter().filter(|g| g.name.contains(only)).collect();
    // figures[group][variant] = per-round (cpu, rss)
    let mut figures: Vec<Vec<Vec<(f64, f64)>>> = groups
        .iter()
        .map(|g| vec![Vec::new(); g.variants.len()])
        .collect();
    for round in 0..=rounds {
        for (g, group) in groups.iter().enumerate() {
            for (v, (_, variant, extra)) in group.variants.iter().enumerate() {
                let bin = format!("{root}/{variant}/release/ultra-alloc-cost");
                let all: Vec<&str> = group.args.iter().chain(extra.iter()).copied().collect();
                let f = run(&bin, &all);
                if round > 0 {
                    // Round 0 warms the page cache and the CPU; it is not counted.
                    figures[g][v].push(f);
                }
            }
        }
        eprintln!("round {round}/{rounds} done");
    }
    let mut md = String::new();
    let mut json = String::from("[\n");
    for (g, group) in groups.iter().enumerate() {
        let _ = writeln!(md, "\n{} ({rounds} rounds, medians)\n", group.name);
        let _ = writeln!(
            md,
            "| variant | CPU s | CPU ratio | peak RSS MiB | peak RSS ratio |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|");
        let base = &figures[g][0];
        for (v, (label, variant, _)) in group.variants.iter().enumerate() {
            let runs = &figures[g][v];
            let cpu = median(runs.iter().map(|r| r.0).collect());
            let rss = median(runs.iter().map(|r| r.1).collect());
            let cpu_ratio = median(runs.iter().zip(base).map(|(r, b)| r.0 / b.0).collect());
            let rss_ratio = median(runs.iter().zip(base).map(|(r, b)| r.1 / b.1).collect());
            let _ = writeln!(
                md,
                "| {label} | {cpu:.3} | ×{cpu_ratio:.3} | {:.1} | ×{rss_ratio:.3} |",
                rss / 1048576.0
            );
            let _ = writeln!(
                json,
                "  {{\"group\": \"{}\", \"variant\": \"{variant}\", \"label\": \"{label}\", \"rounds\": {rounds}, \"cpu_seconds\": {cpu:.4}, \"cpu_ratio\": {cpu_ratio:.4}, \"peak_rss_bytes\": {rss:.0}, \"peak_rss_ratio\": {rss_ratio:.4}}},",
                group.name
            );
        }
    }
    json.pop();
    json.pop();
    json.push_str("\n]\n");
    print!("{md}");
    if let Some(path) = out {
        std::fs::write(path, json).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}
