//! End to end with a real Prometheus (Debian's `prometheus` package): the binary is scraped,
//! its families are queryable with sane values, and file-based discovery finds several
//! exporters. Everything runs on loopback and is killed on drop, also when a test fails.

mod common;

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{agent, files_in, free_port, poll, require_prometheus, start_exporter, ChildGuard};
use serde_json::Value;

/// How long Prometheus gets to discover, scrape and answer (its target updates run on a 5 s
/// tick, so the first sample is queryable after about 5–6 s).
const DEADLINE: Duration = Duration::from_secs(30);

/// A Prometheus on a free loopback port, with its config, data and log in a temporary folder.
/// Killed on drop; if the test is failing, its log is printed first.
struct Prometheus {
    guard: ChildGuard,
    base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(scrape_configs: &str) -> Prometheus {
        require_prometheus();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n{scrape_configs}"
            ),
        )
        .expect("write prometheus.yml");
        let log = dir.path().join("prometheus.log");
        let log_file = File::create(&log).expect("log file");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .expect("spawn prometheus");
        Prometheus {
            guard: ChildGuard {
                child,
                name: "prometheus",
            },
            base: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    fn get_json(&self, path: &str, query: Option<&str>) -> Option<Value> {
        let mut req = agent().get(format!("{}{path}", self.base));
        if let Some(q) = query {
            req = req.query("query", q);
        }
        let mut resp = req.call().ok()?;
        if resp.status() != 200 {
            return None;
        }
        let text = resp.body_mut().read_to_string().ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Active targets as (scrape URL, health, labels).
    fn targets(&self) -> Vec<(String, String, Value)> {
        let Some(v) = self.get_json("/api/v1/targets", None) else {
            return Vec::new();
        };
        v["data"]["activeTargets"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .map(|t| {
                        (
                            t["scrapeUrl"].as_str().unwrap_or_default().to_owned(),
                            t["health"].as_str().unwrap_or_default().to_owned(),
                            t["labels"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first sample of an instant query, with its labels.
    fn query(&self, expr: &str) -> Option<(f64, Value)> {
        let v = self.get_json("/api/v1/query", Some(expr))?;
        let first = v["data"]["result"].as_array()?.first()?.clone();
        let value = first["value"][1].as_str()?.parse().ok()?;
        Some((value, first["metric"].clone()))
    }

    fn wait_up(&self, addrs: &[SocketAddr]) -> Vec<(String, String, Value)> {
        poll(DEADLINE, || {
            let targets = self.targets();
            let all_up = addrs.iter().all(|a| {
                let url = format!("http://{a}/metrics");
                targets.iter().any(|(u, h, _)| *u == url && h == "up")
            });
            all_up.then_some(targets)
        })
        .unwrap_or_else(|| {
            panic!(
                "targets {addrs:?} not up within {DEADLINE:?}: {:?}",
                self.targets()
            )
        })
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!(
                "--- {} log (last lines) ---\n{}",
                self.guard.name,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

#[test]
fn prometheus_scrapes_the_binary_and_queries_sane_values() {
    let t0 = Instant::now();
    // `--duration` bounds the exporter even if this test process is killed before cleanup.
    let exporter = start_exporter(&["--rate", "300", "--duration", "120s", "--quiet"], &[]);
    let prom = Prometheus::start(&format!(
        "  - job_name: ultra\n    static_configs:\n      - targets: ['{}']\n",
        exporter.addr
    ));
    let targets = prom.wait_up(&[exporter.addr]);
    let up_after = t0.elapsed();
    assert_eq!(targets.len(), 1);

    let (info, labels) =
        poll(DEADLINE, || prom.query("ultra_build_info")).expect("ultra_build_info");
    assert_eq!(info, 1.0);
    assert_eq!(labels["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(labels["job"], "ultra");

    let (live, _) = prom
        .query("ultra_allocator_live_bytes")
        .expect("live bytes");
    assert!(live > 0.0, "live bytes {live}");
    let (cache_live, _) = prom
        .query("sum(ultra_subsystem_live_bytes)")
        .expect("subsystem live");
    assert!(cache_live > 0.0);
    let (rss, _) = prom
        .query("ultra_process_resident_memory_bytes")
        .expect("rss");
    assert!(rss >= live, "RSS {rss} below live bytes {live}");
    let (median, _) = prom
        .query("histogram_quantile(0.5, ultra_allocation_size_bytes_bucket)")
        .expect("histogram quantile");
    assert!(median > 0.0 && median <= 1048576.0, "median size {median}");

    // Hits grow from one scrape to the next.
    let (first, _) = prom.query("sum(ultra_cache_hits_total)").expect("hits");
    let (later, _) = poll(DEADLINE, || {
        prom.query("sum(ultra_cache_hits_total)")
            .filter(|(v, _)| *v > first)
    })
    .expect("ultra_cache_hits_total did not grow");
    assert!(later > first);

    // No scrape of the target failed.
    let (up, _) = prom.query("up").expect("up");
    assert_eq!(up, 1.0);

    // Every query of the Grafana dashboard runs and has data (two scrapes at least are in).
    let mut queries = Vec::new();
    common::dashboard_queries(&common::dashboard(), &mut queries);
    let mut empty = Vec::new();
    for q in queries.iter().filter(|q| !q.starts_with("label_values(")) {
        let expr = q
            .replace("$__rate_interval", "10s")
            .replace("$instance", ".*");
        let v = prom
            .get_json("/api/v1/query", Some(&expr))
            .unwrap_or_else(|| panic!("query failed: {expr}"));
        assert_eq!(v["status"], "success", "{expr}: {v}");
        if v["data"]["result"].as_array().is_none_or(|r| r.is_empty()) {
            empty.push(expr);
        }
    }
    assert!(
        empty.is_empty(),
        "dashboard queries without data: {empty:#?}"
    );
    eprintln!(
        "e2e: target up after {up_after:?}, checks done after {:?}",
        t0.elapsed()
    );
}

#[test]
fn file_sd_lets_prometheus_find_two_exporters() {
    let t0 = Instant::now();
    let sd = tempfile::tempdir().expect("tempdir");
    let sd_path = sd.path().to_str().expect("utf-8 path");
    let env = [("ULTRA_EXPORTER_SD_DIR", sd_path)];
    let args = ["--rate", "100", "--duration", "120s", "--quiet"];
    let a = start_exporter(&args, &env);
    let mut b = start_exporter(&args, &env);
    assert_ne!(a.addr, b.addr);
    assert_eq!(files_in(sd.path()).len(), 2, "one target file per process");

    let prom = Prometheus::start(&format!(
        "  - job_name: ultra-sd\n    file_sd_configs:\n      - files: ['{}']\n        refresh_interval: 1s\n",
        Path::new(sd_path).join("*.json").display()
    ));
    let targets = prom.wait_up(&[a.addr, b.addr]);
    let up_after = t0.elapsed();
    let pids: Vec<String> = targets
        .iter()
        .map(|(_, _, l)| l["pid"].as_str().unwrap_or_default().to_owned())
        .collect();
    for pid in [a.guard.pid(), b.guard.pid()] {
        assert!(pids.contains(&pid.to_string()), "pid {pid} not in {pids:?}");
    }
    for (_, _, labels) in &targets {
        assert_eq!(labels["job"], "ultra", "job label from the target file");
    }

    // A clean exit removes the process's target file.
    b.guard.signal("TERM");
    assert!(b
        .guard
        .wait_exit(Duration::from_secs(20))
        .expect("exits")
        .success());
    let left = files_in(sd.path());
    assert_eq!(
        left,
        vec![format!("ultra-{}-{}.json", a.guard.pid(), a.addr.port())]
    );
    eprintln!("e2e file_sd: both targets up after {up_after:?}");
}
