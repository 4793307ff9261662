//! The listener's limits, each with small values so that it shows quickly: request limits,
//! timeouts, the connection cap, hostile clients (idle partial requests, a pipelining client
//! that never reads), gzip, graceful shutdown and stale file_sd targets.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use common::{agent, files_in, poll, sample};
use ultra_alloc::{Jemalloc, TrackingAllocator};
use ultra_exporter::{Exporter, Limits};

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

const DEADLINE: Duration = Duration::from_secs(20);

fn loopback0() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn limits() -> Limits {
    Limits::default()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s
}

/// Sends `request` on a new connection and reads until the server closes it (or times out).
fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn status_of(response: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(response.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.parse().ok()
}

/// Reads until the peer closes the connection; true if it did within [`DEADLINE`].
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn metric(exporter: &Exporter, series: &str) -> f64 {
    sample(&exporter.render(), series).unwrap_or_else(|| panic!("{series} is rendered"))
}

const GET: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[test]
fn request_limits_answer_431_414_400_404_405() {
    let exporter = Exporter::new();
    let server = exporter.serve_with(loopback0(), limits()).expect("serve");
    let addr = server.local_addr();
    // A 20 KiB header is over the 16 KiB default.
    let big = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    assert_eq!(status_of(&exchange(addr, big.as_bytes())), Some(431));
    let long = format!(
        "GET /metrics?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "q".repeat(3 * 1024)
    );
    assert_eq!(status_of(&exchange(addr, long.as_bytes())), Some(414));
    assert_eq!(status_of(&exchange(addr, b"NONSENSE\r\n\r\n")), Some(400));
    assert_eq!(
        status_of(&exchange(
            addr,
            b"GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )),
        Some(404)
    );
    let r = exchange(
        addr,
        b"DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status_of(&r), Some(405));
    assert!(String::from_utf8_lossy(&r).contains("allow: GET, HEAD"));
    assert_eq!(status_of(&exchange(addr, GET)), Some(200));
    for code in ["200", "400", "404", "405", "414", "431"] {
        let n = metric(
            &exporter,
            &format!("ultra_exporter_requests_total{{code=\"{code}\"}}"),
        );
        assert_eq!(n, 1.0, "code {code}");
    }
    assert_eq!(
        metric(&exporter, "ultra_exporter_requests_total{code=\"503\"}"),
        0.0
    );
    let (status, printed) = common::promtool_check(&exporter.render());
    assert!(status.success() && printed.is_empty(), "{printed}");
}

#[test]
fn a_client_that_half_closes_after_its_request_still_gets_the_answer() {
    let exporter = Exporter::new();
    let server = exporter.serve_with(loopback0(), limits()).expect("serve");
    for (request, status) in [
        (
            &b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
            200,
        ),
        (
            &b"POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
            405,
        ),
    ] {
        // Repeated: without half-close support the answer is lost only when the EOF is read
        // before the response is written, a race.
        for _ in 0..20 {
            let mut s = connect(server.local_addr());
            s.write_all(request).expect("write");
            s.shutdown(std::net::Shutdown::Write).expect("half-close");
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            assert_eq!(status_of(&out), Some(status));
        }
    }
}

#[test]
fn the_heap_profile_route_serves_pprof_while_sampling_and_404_otherwise() {
    // This crate's tests build with the `cli` feature, which compiles the profiler in.
    assert!(ultra_alloc::profile::compiled() && ultra_alloc::profile::enabled());
    let exporter = Exporter::new();
    let server = exporter.serve_with(loopback0(), limits()).expect("serve");
    let get = b"GET /debug/pprof/heap HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let off = exchange(server.local_addr(), get);
    assert_eq!(status_of(&off), Some(404));
    assert!(String::from_utf8_lossy(&off).contains("heap profiling is off"));

    ultra_alloc::profile::set_active(true).expect("sampling on");
    let kept: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 1 << 16]).collect();
    let on = exchange(server.local_addr(), get);
    ultra_alloc::profile::set_active(false).expect("sampling off");
    drop(kept);
    assert_eq!(status_of(&on), Some(200));
    let text = String::from_utf8_lossy(&on);
    assert!(
        text.contains("content-type: application/octet-stream"),
        "{text:.200}"
    );
    let body = &on[on
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers")
        + 4..];
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzipped pprof body");
}

#[test]
fn a_slow_header_and_a_silent_connection_are_closed_after_the_header_timeout() {
    let exporter = Exporter::new();
    let server = exporter
        .serve_with(
            loopback0(),
            Limits {
                header_read_timeout: Duration::from_millis(200),
                idle_timeout: Duration::from_secs(60),
                write_timeout: Duration::from_secs(60),
                ..limits()
            },
        )
        .expect("serve");
    let mut silent = connect(server.local_addr());
    let mut slow = connect(server.local_addr());
    // Closed within 10 times the header timeout (the other timeouts are 60 s).
    for s in [&silent, &slow] {
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
    }
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHo")
        .expect("write");
    assert!(closed_by_server(&mut silent));
    assert!(closed_by_server(&mut slow));
    let dropped = poll(DEADLINE, || {
        let n = metric(
            &exporter,
            "ultra_exporter_connections_dropped_total{reason=\"header_timeout\"}",
        );
        (n == 2.0).then_some(n)
    });
    assert_eq!(dropped, Some(2.0));
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let exporter = Exporter::new();
    let server = exporter
        .serve_with(
            loopback0(),
            Limits {
                idle_timeout: Duration::from_millis(300),
                header_read_timeout: Duration::from_secs(60),
                write_timeout: Duration::from_secs(60),
                ..limits()
            },
        )
        .expect("serve");
    let mut s = connect(server.local_addr());
    // Closed within 10 times the idle timeout (the other timeouts are 60 s).
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    // The response, then the close.
    assert!(closed_by_server(&mut s));
    let n = poll(DEADLINE, || {
        let n = metric(
            &exporter,
            "ultra_exporter_connections_dropped_total{reason=\"idle_timeout\"}",
        );
        (n == 1.0).then_some(n)
    });
    assert_eq!(n, Some(1.0));
    assert_eq!(
        metric(&exporter, "ultra_exporter_requests_total{code=\"200\"}"),
        1.0
    );
}

#[test]
fn a_pipelining_client_that_never_reads_is_cut_off_without_delaying_others() {
    let exporter = Exporter::new();
    let server = exporter
        .serve_with(
            loopback0(),
            Limits {
                write_timeout: Duration::from_millis(500),
                // Long enough that only the write timeout can cut the client in time.
                header_read_timeout: Duration::from_secs(60),
                idle_timeout: Duration::from_secs(60),
                ..limits()
            },
        )
        .expect("serve");
    let addr = server.local_addr();
    // A small receive buffer, so that the responses it does not read fill it soon.
    let hog =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    hog.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    hog.connect(&addr.into()).expect("connect");
    let hog: TcpStream = hog.into();
    let writer = {
        let mut hog = hog.try_clone().expect("clone");
        std::thread::spawn(move || {
            let one = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
            for _ in 0..1000 {
                if hog.write_all(one).is_err() {
                    break; // cut off
                }
            }
        })
    };
    // Others are served meanwhile.
    let a = agent();
    for _ in 0..20 {
        assert_eq!(a.get(server.url()).call().expect("scrape").status(), 200);
    }
    // Within 10 times its write timeout (the other timeouts are 60 s).
    let cut = poll(Duration::from_secs(5), || {
        let n = metric(
            &exporter,
            "ultra_exporter_connections_dropped_total{reason=\"write_timeout\"}",
        );
        (n == 1.0).then_some(n)
    });
    assert_eq!(cut, Some(1.0), "the non-reading client is cut off");
    writer.join().expect("writer");
    assert_eq!(a.get(server.url()).call().expect("scrape").status(), 200);
}

#[test]
fn at_the_cap_unproven_connections_are_evicted_first_then_the_longest_idle() {
    let exporter = Exporter::new();
    let server = exporter
        .serve_with(
            loopback0(),
            Limits {
                max_connections: 3,
                ..limits()
            },
        )
        .expect("serve");
    let addr = server.local_addr();
    // Three connections that send nothing fill the cap…
    let mut idle: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
    let open = poll(DEADLINE, || {
        (metric(&exporter, "ultra_exporter_connections_open") == 3.0).then_some(())
    });
    assert!(open.is_some());
    // …yet a scrape gets in, evicting the oldest of them.
    assert_eq!(status_of(&exchange(addr, GET)), Some(200));
    assert!(closed_by_server(&mut idle[0]));
    assert_eq!(
        metric(
            &exporter,
            "ultra_exporter_connections_dropped_total{reason=\"evicted\"}"
        ),
        1.0
    );
    drop(idle);
    // Three kept-alive connections that each made a request: a fourth connection gets in,
    // and the one idle the longest is closed for it.
    let a = agent();
    let mut kept = Vec::new();
    for _ in 0..3 {
        let mut s = connect(addr);
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut buf = [0u8; 64];
        s.read_exact(&mut buf).expect("response starts");
        kept.push(s);
    }
    let full = poll(DEADLINE, || {
        (metric(&exporter, "ultra_exporter_connections_open") == 3.0).then_some(())
    });
    assert!(full.is_some());
    assert_eq!(status_of(&exchange(addr, GET)), Some(200));
    assert!(closed_by_server(&mut kept[0]));
    assert_eq!(
        metric(
            &exporter,
            "ultra_exporter_connections_dropped_total{reason=\"evicted\"}"
        ),
        2.0
    );
    // (Rejection, when every connection is being answered, is the unit test of the table.)
    assert_eq!(
        metric(&exporter, "ultra_exporter_connections_rejected_total"),
        0.0
    );
    drop(kept);
    let back = poll(DEADLINE, || {
        a.get(server.url())
            .call()
            .ok()
            .filter(|r| r.status() == 200)
    });
    assert!(back.is_some(), "serves again once connections close");
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[test]
fn a_thousand_idle_partial_requests_lock_no_scraper_out_and_add_no_threads() {
    // 1 000 client sockets plus the server's: raise the soft open-files limit if needed.
    let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    if lim.current.is_some_and(|c| c < 2048) {
        let want = lim.maximum.map_or(4096, |m| m.min(4096));
        assert!(
            want >= 1500,
            "this test holds 1 000 sockets and needs an open-files hard limit of at least 1500 \
             (ulimit -Hn is {want})"
        );
        rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: Some(want),
                maximum: lim.maximum,
            },
        )
        .expect("raise the soft open-files limit");
    }
    let exporter = Exporter::new();
    let server = exporter.serve_with(loopback0(), limits()).expect("serve");
    let addr = server.local_addr();
    let before = threads();
    let mut attackers = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let Ok(mut s) = TcpStream::connect(addr) else {
            continue;
        };
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n");
        attackers.push(s);
    }
    assert!(attackers.len() >= 900, "{} connections", attackers.len());
    let failures = Arc::new(AtomicU64::new(0));
    let scrapers: Vec<_> = (0..8)
        .map(|_| {
            let url = server.url();
            let failures = failures.clone();
            std::thread::spawn(move || {
                let a = agent();
                for _ in 0..10 {
                    let ok = a.get(&url).call().is_ok_and(|mut r| {
                        r.status() == 200 && r.body_mut().read_to_string().is_ok()
                    });
                    if !ok {
                        failures.fetch_add(1, Relaxed);
                    }
                }
            })
        })
        .collect();
    for s in scrapers {
        s.join().expect("scraper");
    }
    let during = threads();
    assert_eq!(failures.load(Relaxed), 0, "failed scrapes");
    // The listener's threads are fixed: the 8 scraper threads are the only ones added.
    assert!(during <= before + 8, "threads {before} -> {during}");
    assert!(metric(&exporter, "ultra_exporter_connections_open") <= 64.0 + 8.0);
    assert!(
        metric(
            &exporter,
            "ultra_exporter_connections_dropped_total{reason=\"evicted\"}"
        ) >= 900.0
    );
    drop(attackers);
    assert_eq!(
        agent().get(server.url()).call().expect("after").status(),
        200
    );
}

#[test]
fn gzip_is_served_when_accepted_and_round_trips() {
    let server = Exporter::new().serve(loopback0()).expect("serve");
    let addr = server.local_addr();
    let get = |accept: &str| {
        let req = format!(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept-Encoding: {accept}\r\n\r\n"
        );
        let raw = exchange(addr, req.as_bytes());
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        (head, raw[split + 4..].to_vec())
    };
    let (head, body) = get("br, gzip;q=0.8");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("vary: accept-encoding"), "{head}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .expect("gunzip");
    assert!(text.contains("# TYPE ultra_build_info gauge"), "{text}");
    let (status, printed) = common::promtool_check(&text);
    assert!(status.success() && printed.is_empty(), "{printed}");
    assert!(
        body.len() * 3 < text.len(),
        "compressed {} of {}",
        body.len(),
        text.len()
    );
    for plain in ["identity", "gzip;q=0", "deflate"] {
        let (head, body) = get(plain);
        assert!(!head.contains("content-encoding"), "{plain}: {head}");
        assert!(String::from_utf8_lossy(&body).contains("ultra_build_info"));
    }
}

#[test]
fn shutdown_closes_idle_connections_and_finishes_in_flight_responses() {
    let exporter = Exporter::new();
    let mut server = exporter
        .serve_with(
            loopback0(),
            Limits {
                shutdown_timeout: Duration::from_secs(60),
                ..limits()
            },
        )
        .expect("serve");
    let addr = server.local_addr();
    // An idle kept-alive connection, after one request.
    let mut idle = connect(addr);
    idle.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).expect("response");
    // Scrapers busy on kept-alive connections while the server closes.
    let complete = Arc::new(AtomicU64::new(0));
    let scrapers: Vec<_> = (0..4)
        .map(|_| {
            let url = server.url();
            let complete = complete.clone();
            std::thread::spawn(move || {
                let a = agent();
                // Ends at the first failure: the server has closed.
                while let Ok(mut r) = a.get(&url).call() {
                    let body = r
                        .body_mut()
                        .read_to_string()
                        .expect("a started response is complete");
                    assert!(body.contains("ultra_build_info"));
                    complete.fetch_add(1, Relaxed);
                }
            })
        })
        .collect();
    let busy = poll(DEADLINE, || (complete.load(Relaxed) >= 20).then_some(()));
    assert!(busy.is_some());
    // With a 60 s bound, close returns at once only if idle connections are closed and
    // in-flight responses finish by themselves: nothing is cut.
    server.close();
    for s in scrapers {
        s.join().expect("no scraper saw a truncated response");
    }
    assert!(closed_by_server(&mut idle));
    assert_eq!(
        metric(
            &exporter,
            "ultra_exporter_connections_dropped_total{reason=\"shutdown\"}"
        ),
        0.0
    );
    assert_eq!(metric(&exporter, "ultra_exporter_connections_open"), 0.0);
    let answered = metric(&exporter, "ultra_exporter_requests_total{code=\"200\"}");
    assert_eq!(
        answered,
        complete.load(Relaxed) as f64 + 1.0,
        "every answer was received"
    );
    assert!(common::refuses_soon(addr), "port closed");
}

#[test]
fn shutdown_cuts_a_stuck_response_at_its_bound() {
    let exporter = Exporter::new();
    let mut server = exporter
        .serve_with(
            loopback0(),
            Limits {
                shutdown_timeout: Duration::from_millis(300),
                ..limits()
            },
        )
        .expect("serve");
    // Pipelined requests never read: the responses fill the socket buffers and stall.
    let mut hog = connect(server.local_addr());
    let many = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(300);
    hog.write_all(&many).expect("write");
    // Stuck: responses were sent, and no more are (polled 100 ms apart).
    let mut last = -1.0;
    let stuck = poll(DEADLINE, || {
        let now = metric(&exporter, "ultra_exporter_requests_total{code=\"200\"}");
        let stalled = now > 0.0 && now == last;
        last = now;
        stalled.then_some(())
    });
    assert!(stuck.is_some());
    server.close();
    assert_eq!(
        metric(
            &exporter,
            "ultra_exporter_connections_dropped_total{reason=\"shutdown\"}"
        ),
        1.0
    );
    assert!(closed_by_server(&mut hog));
}

#[test]
fn registering_removes_dead_processes_targets_and_keeps_live_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A pid that ran and has been reaped: dead for sure (pid reuse within the test is
    // possible in theory only).
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let dead = child.id();
    child.wait().expect("wait");
    let dead_file = format!("ultra-{dead}-9100.json");
    let dead_tmp = format!(".ultra-{dead}-9100.json.tmp");
    let live_file = "ultra-1-9101.json".to_owned(); // pid 1 always runs
    let other = "someone-else.json".to_owned();
    for f in [&dead_file, &dead_tmp, &live_file, &other] {
        std::fs::write(dir.path().join(f), "[]").expect("write");
    }
    let mut server = Exporter::new().serve(loopback0()).expect("serve");
    let mine = server
        .register_file_sd(dir.path())
        .expect("register")
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_owned();
    let mut want = vec![live_file, mine, other];
    want.sort();
    assert_eq!(files_in(dir.path()), want);
}
