//! The `ultra-exporter` binary: errors, a timed run, signals, file_sd clean-up.

mod common;

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{agent, drain, files_in, sample, start_exporter};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ultra-exporter"));
    cmd.args(args)
        .env("ULTRA_EXPORTER_ADDR", "127.0.0.1:0")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run ultra-exporter")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let o = run(&["--bogus"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--bogus"), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "nothing served");
}

#[test]
fn bad_flag_values_name_the_flag() {
    for (args, flag) in [
        (&["--duration", "soon"][..], "--duration"),
        (&["--rate", "lots"][..], "--rate"),
        (&["--threads", "0"][..], "--threads"),
    ] {
        let o = run(args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_bad_variable_is_named_and_exits_2() {
    for (var, value) in [
        ("ULTRA_POOL_MAX", "many"),
        ("ULTRA_EXPORTER_ADDR", "localhost:abc"),
        ("ULTRA_CACHE_TTL_MS", "5s"),
        ("ULTRA_EXPORTER_MAX_CONNECTIONS", "0"),
    ] {
        let o = run(&["--duration", "1s"], &[(var, value)]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{var}: {err}");
        assert!(err.contains(var) && err.contains(value), "{var}: {err}");
        assert!(o.stdout.is_empty(), "{var}: started anyway");
    }
}

#[test]
fn localhost_is_loopback_and_other_addresses_get_a_one_line_warning() {
    let o = run(
        &["--duration", "300ms", "--quiet", "--rate", "0"],
        &[("ULTRA_EXPORTER_ADDR", "localhost:0")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("serving metrics on http://127.0.0.1:"),
        "{out}"
    );
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    let o = run(
        &["--duration", "300ms", "--quiet", "--rate", "0"],
        &[("ULTRA_EXPORTER_ADDR", "0.0.0.0:0")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let warnings: Vec<String> = stderr(&o)
        .lines()
        .filter(|l| l.contains("warning"))
        .map(str::to_owned)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("0.0.0.0:") && warnings[0].contains("ULTRA_EXPORTER_ADDR"));
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = holder.local_addr().expect("addr").to_string();
    let o = run(&["--duration", "1s"], &[("ULTRA_EXPORTER_ADDR", &addr)]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&addr), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn help_lists_the_flags_and_variables() {
    let o = run(&["--help"], &[]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for word in [
        "--duration",
        "--rate",
        "--quiet",
        "ULTRA_EXPORTER_ADDR",
        "ULTRA_EXPORTER_SD_DIR",
    ] {
        assert!(out.contains(word), "{word} missing from --help:\n{out}");
    }
}

#[test]
fn a_timed_run_serves_summarises_and_reports() {
    let mut exp = start_exporter(&["--duration", "2500ms", "--rate", "300"], &[]);
    assert!(exp.addr.ip().is_loopback());
    let body = agent()
        .get(format!("http://{}/metrics", exp.addr))
        .call()
        .expect("scrape")
        .body_mut()
        .read_to_string()
        .expect("body");
    assert_eq!(sample(&body, "ultra_exporter_scrapes_total"), Some(1.0));
    let status = exp.guard.wait_exit(Duration::from_secs(20)).expect("exits");
    assert!(status.success(), "{status}");
    let lines = drain(&exp.lines, Duration::from_secs(5));
    let text = lines.join("\n");
    let summaries: Vec<&String> = lines.iter().filter(|l| l.contains("ops/s")).collect();
    assert!(summaries.len() >= 2, "one summary line per second:\n{text}");
    for s in &summaries {
        for part in [
            "live",
            "cache",
            "jemalloc resident",
            "rss",
            "code",
            "allocator_overhead",
            "stacks",
            "unattributed",
            "cache hit",
        ] {
            assert!(s.contains(part), "{part} missing in {s}");
        }
    }
    assert!(text.contains("stopped (duration reached)"), "{text}");
    assert!(text.contains("requests"), "{text}");
    assert!(text.contains("1 scrapes served"), "{text}");
    // The final report splits the RSS by owner.
    let resident = lines
        .iter()
        .find(|l| l.trim_start().starts_with("resident"))
        .unwrap_or_else(|| panic!("no resident line:\n{text}"));
    for part in [
        "rss",
        "code",
        "ultra",
        "malloc",
        "stacks",
        "unattributed",
        "threads",
    ] {
        assert!(resident.contains(part), "{part} missing in {resident}");
    }
}

#[test]
fn quiet_prints_no_summary_lines() {
    let mut exp = start_exporter(&["--duration", "1200ms", "--rate", "100", "--quiet"], &[]);
    let status = exp.guard.wait_exit(Duration::from_secs(20)).expect("exits");
    assert!(status.success());
    let lines = drain(&exp.lines, Duration::from_secs(5));
    assert!(!lines.iter().any(|l| l.contains("ops/s")), "{lines:?}");
    assert!(lines
        .iter()
        .any(|l| l.contains("stopped (duration reached)")));
}

/// SIGTERM and Ctrl-C (SIGINT) both end the run cleanly: exit 0, final report, no target file.
#[test]
fn signals_end_the_run_cleanly_and_remove_the_target_file() {
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let sd = dir.path().to_str().expect("utf-8 path");
        let mut exp = start_exporter(&["--rate", "200"], &[("ULTRA_EXPORTER_SD_DIR", sd)]);
        let port = exp.addr.port();
        let file = format!("ultra-{}-{port}.json", exp.guard.pid());
        assert_eq!(files_in(dir.path()), vec![file.clone()]);
        exp.guard.signal(signal);
        let status = exp.guard.wait_exit(Duration::from_secs(20)).expect("exits");
        assert!(status.success(), "SIG{signal}: {status}");
        let lines = drain(&exp.lines, Duration::from_secs(5));
        assert!(
            lines.iter().any(|l| l.contains("stopped (interrupted)")),
            "SIG{signal}: {lines:?}"
        );
        assert!(
            files_in(dir.path()).is_empty(),
            "SIG{signal}: target file left behind"
        );
    }
}

#[test]
fn the_ultra_variables_shape_the_run_and_show_as_config_gauges() {
    let mut exp = start_exporter(
        &["--duration", "20s", "--rate", "200", "--quiet"],
        &[
            ("ULTRA_TRIM_INTERVAL_MS", "100"),
            ("ULTRA_JEMALLOC_DIRTY_DECAY_MS", "0"),
            ("ULTRA_JEMALLOC_BACKGROUND_THREAD", "true"),
            ("ULTRA_CACHE_MAX_ENTRIES", "64"),
            ("ULTRA_CACHE_TTL_MS", "250"),
        ],
    );
    let url = format!("http://{}/metrics", exp.addr);
    let scrape = || -> Option<String> {
        agent()
            .get(&url)
            .call()
            .ok()?
            .body_mut()
            .read_to_string()
            .ok()
    };
    // The small, short-lived response cache soon evicts entries.
    let evicted = |body: &String| {
        ["capacity", "expired"].iter().any(|r| {
            let series = format!("ultra_cache_evictions_total{{cache=\"\",reason=\"{r}\"}}");
            sample(body, &series).unwrap_or(0.0) > 0.0
        })
    };
    let body = common::poll(Duration::from_secs(15), || scrape().filter(evicted))
        .expect("no eviction within 15 s");
    for (series, value) in [
        ("ultra_config_trim_interval_seconds", 0.1),
        ("ultra_config_jemalloc_dirty_decay_seconds", 0.0),
        ("ultra_config_jemalloc_background_thread", 1.0),
        ("ultra_config_cache_max_entries", 64.0),
        ("ultra_config_cache_ttl_seconds", 0.25),
    ] {
        assert_eq!(sample(&body, series), Some(value), "{series}");
    }
    exp.guard.signal("TERM");
    let status = exp.guard.wait_exit(Duration::from_secs(20)).expect("exits");
    assert!(status.success());
}
