//! Helpers shared by the exporter's integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// The `ultra_resident_bytes` owners the exporter emits without V8 (a Rust process), plus the
/// remainder's series.
pub const BINARY_OWNERS: &[&str] = &[
    "code",
    "ultra",
    "allocator_overhead",
    "malloc",
    "malloc_free",
    "stacks",
    "unattributed",
];

/// Runs `promtool check metrics` on `text`; panics with install instructions if promtool is
/// missing. Returns its exit status and everything it printed.
pub fn promtool_check(text: &str) -> (ExitStatus, String) {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot run `promtool` ({e}): install Debian's `prometheus` package \
             (apt-get install prometheus), which ships promtool"
        ),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool output");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, printed)
}

/// Panics unless `prometheus` is on PATH, naming the package to install.
pub fn require_prometheus() {
    let ok = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "cannot run `prometheus`: install Debian's `prometheus` package (apt-get install prometheus)"
    );
}

/// Family name → (TYPE, HELP) for every family of an exposition text; panics on a second
/// HELP or TYPE line for one family.
pub fn families_in(text: &str) -> BTreeMap<String, (String, String)> {
    let mut types = BTreeMap::new();
    let mut helps = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE line");
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "second TYPE for {name}"
            );
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP line");
            assert!(
                helps.insert(name.to_owned(), help.to_owned()).is_none(),
                "second HELP for {name}"
            );
        }
    }
    assert_eq!(
        types.keys().collect::<Vec<_>>(),
        helps.keys().collect::<Vec<_>>(),
        "every family has both HELP and TYPE"
    );
    types
        .into_iter()
        .map(|(name, kind)| {
            let help = helps.remove(&name).unwrap_or_default();
            (name, (kind, help))
        })
        .collect()
}

/// The value of the sample `series` (name plus labels exactly as rendered, e.g.
/// `ultra_pool_buffers{state="idle"}`), if present.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        let value = rest.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// An HTTP agent that reports 4xx/5xx as responses, not errors, with a short timeout.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// A free loopback port (bound then released; good enough on a test machine).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Whether `addr` refuses connections within 5 s. A closed listener refuses at once in a
/// process of its own; but tests spawn `promtool`, and a child forked while the listener was
/// open holds a duplicate of its descriptor until it execs (close-on-exec), during which the
/// kernel still completes handshakes. So the check polls, with a deadline.
pub fn refuses_soon(addr: SocketAddr) -> bool {
    poll(Duration::from_secs(5), || {
        std::net::TcpStream::connect(addr).is_err().then_some(())
    })
    .is_some()
}

/// Compares `generated` with the repository file `file` (a path from the repository root) or,
/// with `markers`, with what stands between its `start` and `end` markers; with
/// `UPDATE_GENERATED=1` rewrites it instead of failing.
pub fn check_generated(file: &str, markers: Option<(&str, &str)>, generated: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let wanted = match markers {
        None => generated.to_owned(),
        Some((start, end)) => {
            let (head, rest) = current
                .split_once(start)
                .unwrap_or_else(|| panic!("{file}: no marker {start:?}"));
            let (_, tail) = rest
                .split_once(end)
                .unwrap_or_else(|| panic!("{file}: no marker {end:?}"));
            format!("{head}{start}{generated}{end}{tail}")
        }
    };
    if current == wanted {
        return;
    }
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(&path, wanted).unwrap_or_else(|e| panic!("write {file}: {e}"));
        return;
    }
    panic!(
        "{file} is not what the families table generates: run \
         `UPDATE_GENERATED=1 cargo test -p ultra-exporter --test render`"
    );
}

/// Polls `f` every 100 ms until it returns `Some` or `deadline` passes.
pub fn poll<T>(deadline: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child process killed (and reaped) when dropped, so a failing test leaves nothing behind.
pub struct ChildGuard {
    pub child: Child,
    pub name: &'static str,
}

impl ChildGuard {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. "TERM", "INT") with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// Waits up to `deadline` for the child to exit.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<ExitStatus> {
        poll(deadline, || self.child.try_wait().ok().flatten())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A running `ultra-exporter` binary and the lines it printed (read on a thread so that the
/// pipe never fills).
pub struct Exporter {
    pub guard: ChildGuard,
    pub addr: SocketAddr,
    pub lines: Receiver<String>,
}

/// Starts the binary with `args` and extra `env`, waits (≤ 20 s) for its
/// `serving metrics on http://ADDR/metrics` line and returns the bound address.
pub fn start_exporter(args: &[&str], env: &[(&str, &str)]) -> Exporter {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ultra-exporter"));
    cmd.args(args)
        .env("ULTRA_EXPORTER_ADDR", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn ultra-exporter");
    let stdout = child.stdout.take().expect("stdout");
    let guard = ChildGuard {
        child,
        name: "ultra-exporter",
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("ultra-exporter printed no `serving metrics on` line within 20 s");
        if let Some(url) = line.strip_prefix("serving metrics on http://") {
            let addr = url
                .strip_suffix("/metrics")
                .expect("url ends in /metrics")
                .parse()
                .expect("socket address");
            return Exporter {
                guard,
                addr,
                lines: rx,
            };
        }
    }
}

/// Every line the exporter printed until it closed stdout (it has exited) or `deadline`.
pub fn drain(lines: &Receiver<String>, deadline: Duration) -> Vec<String> {
    let end = Instant::now() + deadline;
    let mut out = Vec::new();
    while let Ok(line) = lines.recv_timeout(end.saturating_duration_since(Instant::now())) {
        out.push(line);
    }
    out
}

/// Files in `dir` (names only, sorted).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The Grafana dashboard model shipped in `grafana/`.
pub fn dashboard() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana/ultra-dashboard.json");
    let text = std::fs::read_to_string(&path).expect("read dashboard");
    serde_json::from_str(&text).expect("dashboard is JSON")
}

/// Every PromQL query of a dashboard model: panel target `expr`s and templating definitions.
pub fn dashboard_queries(v: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                match (k.as_str(), val) {
                    ("expr", Value::String(s)) => out.push(s.clone()),
                    ("definition", Value::String(s)) if !s.is_empty() => out.push(s.clone()),
                    _ => dashboard_queries(val, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| dashboard_queries(i, out)),
        _ => {}
    }
}
