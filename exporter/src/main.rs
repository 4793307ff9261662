//! `ultra-exporter`: drives a gateway-like workload through ultra's core, serves its metrics on
//! `/metrics`, prints a summary line per second and a final report.
//!
//! ```text
//! cargo run --release -p ultra-exporter -- --duration 30s --rate 2000
//! ```

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use ultra_alloc::{Config, Jemalloc, Subsystem, TrackingAllocator};
use ultra_core::{ExplainOptions, Explanation, Snapshot};
use ultra_exporter::workload::{Gateway, GatewayOptions, GatewayStats, Workload};
use ultra_exporter::Exporter;

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

/// Runs a gateway-like workload through ultra's core (JSON validation and pointers, BLAKE3
/// and XXH3 hashing, a TTL cache, pooled buffers, per-request arenas) and serves its memory
/// metrics for Prometheus.
#[derive(Debug, Parser)]
#[command(name = "ultra-exporter", version, after_help = after_help())]
struct Cli {
    /// How long to run, e.g. 30s, 5m, 1h 30m [default: until Ctrl-C or SIGTERM]
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    duration: Option<Duration>,

    /// Gateway requests per second (0: no workload, only serve metrics)
    #[arg(long, default_value_t = 2000, value_name = "N")]
    rate: u64,

    /// Threads driving the workload
    #[arg(long, default_value_t = 2, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,

    /// Print no per-second summary line (the address and the final report are still printed)
    #[arg(long, short)]
    quiet: bool,
}

fn after_help() -> String {
    let mut s = String::from("Environment (invalid values are an error naming the variable):\n");
    for var in ultra_alloc::VARIABLES {
        let (name, default) = (var.name, var.default_text());
        s.push_str(&format!("  {name:<34} {} (default {default})\n", var.help));
    }
    s
}

/// Writes a line to stdout; a closed stdout (a pipe whose reader left) is not an error here.
macro_rules! say {
    ($($t:tt)*) => {{
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($t)*);
        let _ = out.flush();
    }};
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => {
            ultra_core::json::configure_pool(&c);
            c
        }
        Err(e) => {
            eprintln!("ultra-exporter: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&cli, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ultra-exporter: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli, config: Config) -> Result<(), Box<dyn std::error::Error>> {
    ultra_alloc::apply_jemalloc(&config)
        .map_err(|e| format!("cannot apply the ULTRA_JEMALLOC_* settings: {e}"))?;
    let _trim = match config.trim_interval_ms {
        0 => None,
        ms => Some(
            ultra_alloc::spawn_periodic_trim(Duration::from_millis(ms))
                .map_err(|e| format!("cannot start the ULTRA_TRIM_INTERVAL_MS thread: {e}"))?,
        ),
    };

    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .map_err(|e| format!("cannot install the Ctrl-C/SIGTERM handler: {e}"))?;

    let exporter = Exporter::with_config(config.clone());
    let mut server = exporter.serve(config.exporter_addr)?;
    if let Some(dir) = &config.exporter_sd_dir {
        let path = server.register_file_sd(dir)?;
        say!("registered file_sd target {}", path.display());
    }
    say!("serving metrics on {}", server.url());

    let gateway = Arc::new(Gateway::new(GatewayOptions::from_config(&config))?);
    let workload = match cli.rate {
        0 => None,
        rate => Some(Workload::start(
            gateway.clone(),
            rate,
            usize::from(cli.threads),
        )?),
    };

    let start = Instant::now();
    // A duration too long to represent is as good as none.
    let deadline = cli.duration.and_then(|d| start.checked_add(d));
    let mut last = (start, gateway.stats());
    let mut next_tick = start + Duration::from_secs(1);
    let reason = loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break "duration reached";
        }
        let wake = deadline.map_or(next_tick, |d| d.min(next_tick));
        match stop_rx.recv_timeout(wake.saturating_duration_since(now)) {
            Ok(()) => break "interrupted",
            Err(RecvTimeoutError::Disconnected) => break "signal handler gone",
            Err(RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick += Duration::from_secs(1);
            let stats = gateway.stats();
            if !cli.quiet {
                say!("{}", summary_line(start, &last, now, &stats));
            }
            last = (now, stats);
        }
    };
    if let Some(w) = workload {
        w.stop();
    }
    let elapsed = start.elapsed();
    server.close();
    say!(
        "{}",
        final_report(reason, elapsed, &gateway.stats(), &exporter)
    );
    Ok(())
}

/// `1536` → `1.5 KiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `-1536` → `-1.5 KiB`.
fn signed_bytes(n: i64) -> String {
    match n {
        0.. => bytes(n.unsigned_abs()),
        _ => format!("-{}", bytes(n.unsigned_abs())),
    }
}

/// `rss 120.0 MiB = code 40.0 MiB + ultra 30.0 MiB + … + unattributed 1.0 MiB`, known owners
/// only, in report order.
fn owners(e: &Explanation) -> String {
    let mut s = format!("rss {} =", bytes(e.rss_bytes));
    for (owner, b) in e.iter() {
        if let Some(b) = b {
            s.push_str(&format!(" {} {} +", owner.label(), bytes(b)));
        }
    }
    s.push_str(&format!(
        " unattributed {}",
        signed_bytes(e.unattributed_bytes)
    ));
    s
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

fn summary_line(
    start: Instant,
    last: &(Instant, GatewayStats),
    now: Instant,
    stats: &GatewayStats,
) -> String {
    ultra_alloc::scope(Subsystem::Exporter, || {
        let snap = Snapshot::take();
        let secs = now.duration_since(last.0).as_secs_f64().max(1e-9);
        let ops = (stats.requests - last.1.requests) as f64 / secs;
        let window = GatewayStats {
            hits: stats.hits - last.1.hits,
            misses: stats.misses - last.1.misses,
            ..GatewayStats::default()
        };
        let mut line = format!(
            "[{:>4}s] {ops:>7.0} ops/s | live",
            now.duration_since(start).as_secs()
        );
        match snap.alloc.subsystems {
            Some(subs) => {
                for s in Subsystem::ALL {
                    line.push_str(&format!(
                        " {} {}",
                        s.name(),
                        bytes(subs[s.index()].live_bytes)
                    ));
                }
            }
            None => line.push_str(&format!(" {}", bytes(snap.alloc.live_bytes))),
        }
        match snap.jemalloc {
            Ok(je) => line.push_str(&format!(" | jemalloc resident {}", bytes(je.resident))),
            Err(_) => line.push_str(" | jemalloc n/a"),
        }
        match Explanation::read(&snap, &ExplainOptions::default()) {
            Some(e) => line.push_str(&format!(" | {}", owners(&e))),
            None => line.push_str(" | rss n/a"),
        }
        line.push_str(&format!(" | cache hit {}", ratio(window.hit_ratio())));
        line
    })
}

fn final_report(
    reason: &str,
    elapsed: Duration,
    stats: &GatewayStats,
    exporter: &Exporter,
) -> String {
    ultra_alloc::scope(Subsystem::Exporter, || {
        let snap = Snapshot::take();
        let secs = elapsed.as_secs_f64().max(1e-9);
        let a = &snap.alloc;
        let mut r = format!(
            "ultra-exporter: stopped ({reason}) after {:.1}s\n",
            elapsed.as_secs_f64()
        );
        r.push_str(&format!(
            "  requests    {} ({:.0}/s), rejected {}, duplicates {}, in {}, out {}\n",
            stats.requests,
            stats.requests as f64 / secs,
            stats.rejected,
            stats.duplicates,
            bytes(stats.bytes_in),
            bytes(stats.bytes_out),
        ));
        let c = &snap.caches;
        r.push_str(&format!(
            "  caches      response hit ratio {}, {} entries, {}; evictions capacity {} size {} expired {}\n",
            ratio(stats.hit_ratio()),
            c.entries,
            bytes(c.bytes),
            c.evictions_capacity,
            c.evictions_size,
            c.evictions_expired,
        ));
        r.push_str(&format!(
            "  allocator   live {}, peak {}, {} allocated in {} allocations\n",
            bytes(a.live_bytes),
            bytes(a.peak_bytes),
            bytes(a.allocated_bytes),
            a.allocations,
        ));
        if let Some(subs) = a.subsystems {
            r.push_str("  subsystems  live/peak:");
            for s in Subsystem::ALL {
                let st = subs[s.index()];
                r.push_str(&format!(
                    " {} {}/{}",
                    s.name(),
                    bytes(st.live_bytes),
                    bytes(st.peak_bytes)
                ));
            }
            r.push('\n');
        }
        if let Ok(je) = snap.jemalloc {
            r.push_str(&format!(
                "  jemalloc    allocated {}, active {}, resident {}, metadata {}, retained {}\n",
                bytes(je.allocated),
                bytes(je.active),
                bytes(je.resident),
                bytes(je.metadata),
                bytes(je.retained),
            ));
        }
        let p = &snap.pools;
        let ar = &snap.arenas;
        r.push_str(&format!(
            "  pools       {} idle, {} in use, hits {}, misses {}, held {}; arenas {} reserved {}\n",
            p.idle,
            p.in_use,
            p.hits,
            p.misses,
            bytes(p.bytes_held),
            ar.arenas,
            bytes(ar.reserved_bytes),
        ));
        if let Some(pm) = snap.process {
            r.push_str(&format!(
                "  process     rss {}, peak rss {}\n",
                bytes(pm.rss_bytes),
                bytes(pm.rss_peak_bytes)
            ));
        }
        if let Some(e) = Explanation::read(&snap, &ExplainOptions::default()) {
            r.push_str(&format!("  resident    {}", owners(&e)));
            if let Some((threads, unlocated)) = e.threads {
                r.push_str(&format!(
                    " ({threads} threads, {unlocated} stacks not located)"
                ));
            }
            r.push('\n');
        }
        r.push_str(&format!(
            "  exporter    {} scrapes served",
            exporter.scrapes()
        ));
        r
    })
}
