//! The `/metrics` listener and file_sd registration, under the tracking allocator.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use common::{agent, files_in, promtool_check, refuses_soon, sample};
use ultra_alloc::{Config, Jemalloc, TrackingAllocator};
use ultra_exporter::file_sd::Registration;
use ultra_exporter::workload::{Gateway, GatewayOptions, Workload};
use ultra_exporter::{Exporter, ExporterError, CONTENT_TYPE};

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

fn loopback0() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn get_metrics_answers_200_with_the_exposition_content_type() {
    let server = Exporter::new().serve(loopback0()).expect("serve");
    assert!(server.local_addr().ip().is_loopback());
    assert_ne!(server.local_addr().port(), 0, "the bound port is reported");
    let mut resp = agent().get(&server.url()).call().expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ct, CONTENT_TYPE);
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    let body = resp.body_mut().read_to_string().expect("body");
    assert_eq!(sample(&body, "ultra_exporter_scrapes_total"), Some(1.0));
    let (status, printed) = promtool_check(&body);
    assert!(status.success() && printed.is_empty(), "{printed}");
    // A query string does not change the path.
    let resp = agent()
        .get(format!("{}?x=1", server.url()))
        .call()
        .expect("GET");
    assert_eq!(resp.status(), 200);
}

/// A scraper that asks for OpenMetrics (as Prometheus does first) gets it: the same families,
/// counters named without `_total` on their HELP/TYPE lines, `# UNIT` lines, `# EOF` last.
#[test]
fn openmetrics_is_served_when_the_accept_header_asks_for_it() {
    let exporter = Exporter::new();
    let server = exporter.serve(loopback0()).expect("serve");
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let mut resp = agent()
        .get(&server.url())
        .header("Accept", accept)
        .call()
        .expect("GET /metrics");
    let ct = resp.headers().get("content-type").cloned();
    assert_eq!(
        ct.as_ref().and_then(|v| v.to_str().ok()),
        Some(ultra_exporter::Format::OpenMetrics.content_type())
    );
    let body = resp.body_mut().read_to_string().expect("body");
    assert!(body.ends_with("\n# EOF\n"), "{body}");
    assert!(!body.contains("\n\n"), "no blank lines in OpenMetrics");
    assert!(body.contains("# TYPE ultra_allocator_allocations counter\n"));
    assert!(body.contains("\nultra_allocator_allocations_total "));
    assert!(body.contains("# UNIT ultra_allocator_live_bytes bytes\n"));
    assert!(body.contains("# UNIT ultra_process_cpu_seconds seconds\n"));
    // The same samples as the Prometheus text of the next scrape, family by family.
    let series = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.rsplit_once(' ').map_or(l, |(s, _)| s).to_owned())
            .collect()
    };
    let text = agent()
        .get(&server.url())
        .call()
        .expect("GET")
        .body_mut()
        .read_to_string()
        .expect("body");
    assert_eq!(series(&body), series(&text));
}

#[test]
fn other_paths_are_404_and_other_methods_405_with_allow() {
    let server = Exporter::new().serve(loopback0()).expect("serve");
    let base = format!("http://{}", server.local_addr());
    let a = agent();
    for path in [
        "/",
        "/metric",
        "/metrics/",
        "/favicon.ico",
        "/api/v1/targets",
    ] {
        let resp = a.get(format!("{base}{path}")).call().expect("GET");
        assert_eq!(resp.status(), 404, "{path}");
    }
    let url = server.url();
    let allow = |r: &ureq::http::Response<ureq::Body>| {
        r.headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let r = a.post(&url).send("x").expect("POST");
    assert_eq!(r.status(), 405);
    assert_eq!(allow(&r).as_deref(), Some("GET, HEAD"));
    let r = a.put(&url).send("x").expect("PUT");
    assert_eq!(r.status(), 405);
    let r = a.delete(&url).call().expect("DELETE");
    assert_eq!(r.status(), 405);
    assert_eq!(allow(&r).as_deref(), Some("GET, HEAD"));
    let r = a.head(&url).call().expect("HEAD");
    assert_eq!(r.status(), 200);
}

#[test]
fn a_taken_port_is_an_error_naming_the_address() {
    let holder = TcpListener::bind(loopback0()).expect("bind");
    let taken = holder.local_addr().expect("addr");
    let err = Exporter::new().serve(taken).expect_err("port is taken");
    assert!(matches!(err, ExporterError::Bind { addr, .. } if addr == taken));
    let msg = err.to_string();
    assert!(msg.contains(&taken.to_string()), "{msg}");
    assert!(msg.contains("ULTRA_EXPORTER_ADDR"), "{msg}");
}

#[test]
fn close_and_drop_stop_serving_and_free_the_port() {
    let mut server = Exporter::new().serve(loopback0()).expect("serve");
    let addr = server.local_addr();
    assert_eq!(
        agent().get(&server.url()).call().expect("GET").status(),
        200
    );
    server.close();
    assert!(server.is_closed());
    server.close(); // idempotent
    assert!(refuses_soon(addr), "closed server still accepts");
    // The port can be bound again at once.
    let again = Exporter::new().serve(addr).expect("rebind after close");
    assert_eq!(again.local_addr(), addr);
    drop(again);
    assert!(refuses_soon(addr), "dropped server still accepts");
}

#[test]
fn parallel_scrapers_during_a_workload_never_fail() {
    const SCRAPERS: usize = 8;
    const REQUESTS: usize = 50;
    let gateway = Arc::new(Gateway::new(GatewayOptions::from_config(&Config::default())).unwrap());
    let workload = Workload::start(gateway.clone(), 2000, 2).expect("workload");
    let exporter = Exporter::new();
    let server = exporter.serve(loopback0()).expect("serve");
    let url = server.url();
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..SCRAPERS)
        .map(|_| {
            let url = url.clone();
            let failures = failures.clone();
            std::thread::spawn(move || {
                let a = agent();
                for _ in 0..REQUESTS {
                    let ok = match a.get(&url).call() {
                        Ok(mut r) if r.status() == 200 => r
                            .body_mut()
                            .read_to_string()
                            .is_ok_and(|b| b.contains("ultra_build_info{")),
                        _ => false,
                    };
                    if !ok {
                        failures.fetch_add(1, Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("scraper thread");
    }
    let elapsed = started.elapsed();
    workload.stop();
    assert_eq!(failures.load(Relaxed), 0, "failed scrapes");
    assert_eq!(exporter.scrapes(), (SCRAPERS * REQUESTS) as u64);
    assert!(gateway.stats().requests > 0);
    eprintln!(
        "{} scrapes by {SCRAPERS} threads in {elapsed:?} during the workload",
        SCRAPERS * REQUESTS
    );
}

#[test]
fn registration_writes_the_target_atomically_and_removes_it_on_drop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sd = dir.path().join("sd"); // created on demand
    let addr: SocketAddr = "127.0.0.1:9477".parse().unwrap();
    let reg = Registration::create(&sd, addr).expect("register");
    let pid = std::process::id();
    let name = format!("ultra-{pid}-9477.json");
    assert_eq!(reg.path(), sd.join(&name));
    assert_eq!(files_in(&sd), vec![name], "no temporary file is left");
    let text = std::fs::read_to_string(reg.path()).expect("read");
    assert_eq!(
        text,
        format!(r#"[{{"targets":["127.0.0.1:9477"],"labels":{{"job":"ultra","pid":"{pid}"}}}}]"#)
    );
    let parsed: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(parsed[0]["targets"][0], "127.0.0.1:9477");
    drop(reg);
    assert!(files_in(&sd).is_empty(), "target file removed on drop");
}

#[test]
fn a_registration_error_names_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"").expect("write");
    let err = Registration::create(&file, "127.0.0.1:1".parse().unwrap()).expect_err("not a dir");
    assert!(matches!(err, ExporterError::FileSd { .. }));
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn a_server_registers_itself_and_unregisters_on_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Exporter::new().serve(loopback0()).expect("serve");
    let path = server
        .register_file_sd(dir.path())
        .expect("register")
        .to_owned();
    let port = server.local_addr().port();
    assert!(path.ends_with(format!("ultra-{}-{port}.json", std::process::id())));
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(&format!("\"127.0.0.1:{port}\"")), "{text}");
    // Registering again keeps exactly one file.
    server.register_file_sd(dir.path()).expect("register again");
    assert_eq!(files_in(dir.path()).len(), 1);
    server.close();
    assert!(files_in(dir.path()).is_empty());
    // And on drop.
    let mut server = Exporter::new().serve(loopback0()).expect("serve");
    server.register_file_sd(dir.path()).expect("register");
    assert_eq!(files_in(dir.path()).len(), 1);
    drop(server);
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn handles_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Exporter>();
    send_sync::<ultra_exporter::Server>();
    send_sync::<Registration>();
    send_sync::<ExporterError>();
}
