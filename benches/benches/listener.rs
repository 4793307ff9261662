//! The `/metrics` listener under load and under attack, out of process, so that the listener
//! measured can be today's or another build's (`--exporter PATH`, e.g. one built from an
//! older commit) and its threads and RSS are its own.
//!
//! ```text
//! cargo build --release -p ultra-exporter
//! cargo bench -p ultra-benches --bench listener -- [--exporter PATH] [--seconds 15]
//! ```
//!
//! Scenarios (all on loopback, bounded in count and time):
//! - `steady`: 8 keep-alive scrapers for `--seconds`: scrapes/s, p50/p99/max, failures;
//! - `idle-1000`: 1 000 connections each holding a partial request, then 8 scrapers for a
//!   third of `--seconds`: failures, p99, the server's threads and RSS, and a scrape after;
//! - `pipeline-1000`: one client pipelines 1 000 GETs and never reads, while 8 scrapers run
//!   for 5 s: failures, p99;
//! - `fd-256`: the server runs with `ulimit -n 256`; 400 connections are opened and held for
//!   2 s, then closed: time until a scrape succeeds again (10 s at most).
//!
//! A failed scrape is one without a `200` and a complete body within 5 s. Prints a Markdown
//! table; `benches/README.md` has the numbers and how they were taken.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCRAPERS: usize = 8;
const TIMEOUT: Duration = Duration::from_secs(5);

struct Args {
    exporter: String,
    seconds: u64,
}

fn args() -> Args {
    let mut exporter = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/release/ultra-exporter"
    )
    .to_owned();
    let mut seconds = 15;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--exporter" => exporter = it.next().expect("--exporter PATH"),
            "--seconds" => seconds = it.next().and_then(|s| s.parse().ok()).expect("--seconds N"),
            _ => {} // cargo bench passes --bench
        }
    }
    Args { exporter, seconds }
}

/// The exporter binary, serving only (`--rate 0`), killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(exporter: &str, nofile: Option<u32>) -> Server {
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" --rate 0 --quiet"))
                    .arg(exporter);
                c
            }
            None => {
                let mut c = Command::new(exporter);
                c.args(["--rate", "0", "--quiet"]);
                c
            }
        };
        let mut child = cmd
            .env("ULTRA_EXPORTER_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {exporter} ({e}): cargo build --release -p ultra-exporter")
            });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the exporter printed its address")
                .expect("line");
            if let Some(url) = line.strip_prefix("serving metrics on http://") {
                break url.trim_end_matches("/metrics").parse().expect("address");
            }
        };
        // Keep reading stdout so that the exporter never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id())).map_or(0, |d| d.count())
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A keep-alive HTTP/1.1 client for `GET /metrics`, reconnecting after any failure.
struct Scraper {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

impl Scraper {
    fn new(addr: SocketAddr) -> Scraper {
        Scraper { addr, conn: None }
    }

    fn scrape(&mut self) -> bool {
        let ok = self.try_scrape().unwrap_or(false);
        if !ok {
            self.conn = None;
        }
        ok
    }

    fn try_scrape(&mut self) -> std::io::Result<bool> {
        if self.conn.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, TIMEOUT)?;
            s.set_read_timeout(Some(TIMEOUT))?;
            s.set_write_timeout(Some(TIMEOUT))?;
            s.set_nodelay(true)?;
            self.conn = Some(BufReader::new(s));
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(false);
        };
        conn.get_mut()
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")?;
        let mut line = String::new();
        conn.read_line(&mut line)?;
        let ok = line.starts_with("HTTP/1.1 200");
        let mut len = None;
        let mut close = false;
        loop {
            line.clear();
            if conn.read_line(&mut line)? == 0 {
                return Ok(false);
            }
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                len = v.trim().parse::<usize>().ok();
            }
            if l == "connection: close" {
                close = true;
            }
        }
        let Some(len) = len else { return Ok(false) };
        let mut body = vec![0; len];
        conn.read_exact(&mut body)?;
        if close {
            self.conn = None;
        }
        Ok(ok)
    }
}

#[derive(Default)]
struct Run {
    latencies: Vec<Duration>,
    failures: usize,
    elapsed: Duration,
}

impl Run {
    fn pct(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort_unstable();
        v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    }

    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn summary(&self) -> String {
        format!(
            "{:.0} scrapes/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms, {} failed",
            self.rate(),
            self.pct(0.50).as_secs_f64() * 1e3,
            self.pct(0.99).as_secs_f64() * 1e3,
            self.pct(1.0).as_secs_f64() * 1e3,
            self.failures
        )
    }
}

/// `SCRAPERS` keep-alive scrapers for `d`.
fn scrape_for(addr: SocketAddr, d: Duration) -> Run {
    let start = Instant::now();
    let handles: Vec<_> = (0..SCRAPERS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = Scraper::new(addr);
                let mut run = Run::default();
                while start.elapsed() < d {
                    let t = Instant::now();
                    if s.scrape() {
                        run.latencies.push(t.elapsed());
                    } else {
                        run.failures += 1;
                    }
                }
                run
            })
        })
        .collect();
    let mut all = Run::default();
    for h in handles {
        let r = h.join().expect("scraper");
        all.latencies.extend(r.latencies);
        all.failures += r.failures;
    }
    all.elapsed = start.elapsed();
    all
}

fn raise_nofile() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: lim.maximum.map(|m| m.min(8192)).or(Some(8192)),
            maximum: lim.maximum,
        },
    );
}

fn partial(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n");
            Some(s)
        })
        .collect()
}

fn main() {
    let a = args();
    raise_nofile();
    let secs = Duration::from_secs(a.seconds);
    println!("exporter: {}\n", a.exporter);
    println!("| scenario | result |\n|---|---|");

    let server = Server::start(&a.exporter, None);
    let run = scrape_for(server.addr, secs);
    println!(
        "| steady: {SCRAPERS} keep-alive scrapers, {}s | {} |",
        a.seconds,
        run.summary()
    );
    drop(server);

    let server = Server::start(&a.exporter, None);
    let idle_threads = server.threads();
    let held = partial(server.addr, 1000);
    let run = scrape_for(server.addr, secs / 3);
    let (threads, rss) = (server.threads(), server.rss_mib());
    let after = Scraper::new(server.addr).scrape();
    println!(
        "| idle-1000: {} partial requests held, {SCRAPERS} scrapers | {}; server threads {idle_threads} -> {threads}, RSS {rss:.0} MiB; scrape after: {} |",
        held.len(),
        run.summary(),
        if after { "ok" } else { "FAILED" }
    );
    drop(held);
    drop(server);

    let server = Server::start(&a.exporter, None);
    let stop = Arc::new(AtomicBool::new(false));
    let hog = {
        let addr = server.addr;
        let stop = stop.clone();
        std::thread::spawn(move || {
            let Ok(mut s) = TcpStream::connect(addr) else {
                return;
            };
            let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
            let one = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
            let mut sent = 0;
            while sent < 1000 && !stop.load(Relaxed) {
                match s.write_all(one) {
                    Ok(()) => sent += 1,
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            while !stop.load(Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let run = scrape_for(server.addr, Duration::from_secs(5));
    stop.store(true, Relaxed);
    let _ = hog.join();
    println!(
        "| pipeline-1000: one client pipelines 1000 GETs, never reads; {SCRAPERS} scrapers 5s | {} |",
        run.summary()
    );
    drop(server);

    let server = Server::start(&a.exporter, Some(256));
    let held = partial(server.addr, 400);
    std::thread::sleep(Duration::from_secs(2));
    let n = held.len();
    drop(held);
    let ended = Instant::now();
    let mut s = Scraper::new(server.addr);
    let recovered = loop {
        if s.scrape() {
            break Some(ended.elapsed());
        }
        if ended.elapsed() > Duration::from_secs(10) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    println!(
        "| fd-256: {n} connections held 2 s under `ulimit -n 256`, then closed | {} |",
        recovered.map_or("no scrape succeeded within 10 s".to_owned(), |d| format!(
            "scrapes again after {:.0} ms",
            d.as_secs_f64() * 1e3
        ))
    );
}
