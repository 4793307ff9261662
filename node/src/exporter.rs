//! Prometheus metrics for JS, on `ultra_exporter`.
//!
//! - `metricsText()`: one render of every `ultra_*` family from a fresh snapshot, for hosts
//!   that already serve `/metrics`.
//! - `metricsSamples()`: the same scrape as values, family by family, packed (see the
//!   function), for the prom-client integration of `lib/exporter.js`: nothing is rendered as
//!   text and parsed back.
//! - `startExporter(host, port)`: the exporter's own loopback HTTP listener, on threads of its
//!   own, so a scrape is answered even while the JS event loop is busy. Returns
//!   `{ id, host, port }` (the bound address; port 0 picks a free port); defaults and
//!   `ultra_config_*` come from the effective configuration; with `ULTRA_EXPORTER_SD_DIR` set
//!   the listener also writes its Prometheus file_sd target there.
//!   `stopExporter(id)` removes the target file and starts closing, returning at once (it never
//!   blocks the JS thread, whatever the clients do); `exporterClosed(id)` tells when the port
//!   is free and every connection has ended (within the listener's shutdown bound), which
//!   `lib/exporter.js` polls to resolve `close()`.
//!
//! Servers are process-wide (a worker may stop a server another thread started); they are
//! kept in a table by id, so nothing native is tied to a JS object's lifetime.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use napi::Env;
use ultra_exporter::{Exporter, Server};

use crate::error::{range_error, type_error, Fail, R};
use crate::glue;
use crate::raw::{self, Kind, Val};

/// The exporter of the process, created at first use; its `ultra_config_*` families and default
/// address are the effective configuration (`memory::effective_config`), so a bad `ULTRA_*`
/// value is a RangeError naming it here too.
fn exporter() -> R<&'static Exporter> {
    static EXPORTER: OnceLock<Exporter> = OnceLock::new();
    if let Some(exporter) = EXPORTER.get() {
        return Ok(exporter);
    }
    let config = crate::memory::effective_config(&[])?;
    Ok(EXPORTER.get_or_init(|| {
        Exporter::with_explain(config.clone(), crate::memory::explain_options(None))
    }))
}

/// Running servers by id, and servers closing (after `stopExporter`) until they are done.
static SERVERS: Mutex<Vec<(u32, Server)>> = Mutex::new(Vec::new());
static CLOSING: Mutex<Vec<(u32, Server)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

fn servers() -> std::sync::MutexGuard<'static, Vec<(u32, Server)>> {
    table(&SERVERS)
}

fn table(
    t: &'static Mutex<Vec<(u32, Server)>>,
) -> std::sync::MutexGuard<'static, Vec<(u32, Server)>> {
    // A panic while the table was locked cannot leave it inconsistent (push/remove only).
    t.lock().unwrap_or_else(|e| e.into_inner())
}

/// `metricsText(v8HeapBytes?)`: Prometheus text exposition (format 0.0.4) of every `ultra_*`
/// family; `v8HeapBytes` (the V8 heap's physical size, read by the JS wrapper just before) is
/// the `v8_heap` owner of `ultra_resident_bytes`, absent when not a number.
pub fn metrics_text(env: Env, [v8]: [Val; 1]) -> R<Val> {
    let text = match raw::number(env, v8)? {
        Some(n) if n >= 0.0 && n.fract() == 0.0 => exporter()?.render_with_v8(n as u64),
        _ => exporter()?.render(),
    };
    raw::string_utf8(env, text.as_bytes())
}

/// `metricsSamples(v8HeapBytes?)`: the samples of one scrape, grouped by family in table
/// order, packed as `[strings, numbers]` (`lib/exporter.js` unpacks it; building one JS object
/// per sample through N-API cost ~1 µs each): `strings` holds each distinct text once, and
/// `numbers` (a Buffer of native-endian f64) is, per family, `name, help, type` (indexes into
/// `strings`) and its sample count, then per sample `metricName`, its label count, a `key,
/// value` index pair per label, and the value. Families without samples (absent in this build
/// or state) are left out. `v8HeapBytes` as for `metricsText`.
pub fn metrics_samples(env: Env, [v8]: [Val; 1]) -> R<Val> {
    let samples = match raw::number(env, v8)? {
        Some(n) if n >= 0.0 && n.fract() == 0.0 => exporter()?.samples_with_v8(n as u64),
        _ => exporter()?.samples(),
    };
    let mut strings = Strings::default();
    let mut numbers: Vec<f64> = Vec::with_capacity(samples.len() * 6);
    let mut rest = &samples[..];
    while let Some(first) = rest.first() {
        let info = ultra_exporter::family(first.family)
            .ok_or_else(|| Fail::Error(format!("metricsSamples: {}", first.family)))?;
        let len = rest
            .iter()
            .position(|s| s.family != first.family)
            .unwrap_or(rest.len());
        let (family, after) = rest.split_at(len);
        numbers.extend([
            strings.id(info.name),
            strings.id(info.help),
            strings.id(info.kind.as_str()),
            len as f64,
        ]);
        for s in family {
            numbers.extend([strings.id(&s.name), s.labels.len() as f64]);
            for (k, v) in &s.labels {
                numbers.extend([strings.id(k), strings.id(v)]);
            }
            numbers.push(s.value);
        }
        rest = after;
    }
    let texts = raw::array(env, strings.list.len())?;
    for (i, text) in strings.list.iter().enumerate() {
        let index = u32::try_from(i).map_err(|_| Fail::Error("metricsSamples: too many".into()))?;
        raw::set_index(env, texts, index, raw::string_utf8(env, text.as_bytes())?)?;
    }
    let packed = raw::buffer_filled(env, numbers.len() * 8, |bytes| {
        for (chunk, n) in bytes.chunks_exact_mut(8).zip(&numbers) {
            chunk.copy_from_slice(&n.to_ne_bytes());
        }
    })?;
    let out = raw::array(env, 2)?;
    raw::set_index(env, out, 0, texts)?;
    raw::set_index(env, out, 1, packed)?;
    Ok(out)
}

/// Distinct texts in first-seen order, each with its index.
#[derive(Default)]
struct Strings<'a> {
    list: Vec<&'a str>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Strings<'a> {
    fn id(&mut self, text: &'a str) -> f64 {
        let next = self.list.len();
        let i = *self.index.entry(text).or_insert(next);
        if i == next {
            self.list.push(text);
        }
        i as f64
    }
}

/// `startExporter(host?, port?)`: serves `GET /metrics` on `host:port` (defaults from
/// `ULTRA_EXPORTER_ADDR`, else `127.0.0.1:9477`).
pub fn start_exporter(env: Env, [host, port]: [Val; 2]) -> R<Val> {
    const F: &str = "startExporter";
    let default = exporter()?.config().exporter_addr;
    let ip = match raw::kind(env, host)? {
        Kind::Undefined | Kind::Null => default.ip(),
        Kind::String => {
            let text = raw::with_utf8(env, host, |b| Ok(String::from_utf8_lossy(b).into_owned()))?;
            let text = text.trim_start_matches('[').trim_end_matches(']');
            match text {
                "localhost" => IpAddr::from([127, 0, 0, 1]),
                _ => text.parse().map_err(|_| range_error(F, "options.host"))?,
            }
        }
        _ => return Err(type_error(F, "options.host")),
    };
    let port = match raw::kind(env, port)? {
        Kind::Undefined | Kind::Null => default.port(),
        Kind::Number => match raw::number(env, port)? {
            Some(n) if n.fract() == 0.0 && (0.0..=65535.0).contains(&n) => n as u16,
            _ => return Err(range_error(F, "options.port")),
        },
        _ => return Err(type_error(F, "options.port")),
    };
    let mut server = exporter()?
        .serve(SocketAddr::new(ip, port))
        .map_err(|e| Fail::Error(format!("{F}: {e}")))?;
    if let Some(dir) = &exporter()?.config().exporter_sd_dir {
        server
            .register_file_sd(dir)
            .map_err(|e| Fail::Error(format!("{F}: {e}")))?;
    }
    let addr = server.local_addr();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    servers().push((id, server));

    let out = raw::object(env)?;
    raw::set_num(env, out, c"id", f64::from(id))?;
    let host = addr.ip().to_string();
    raw::set(env, out, c"host", raw::string_latin1(env, host.as_bytes())?)?;
    raw::set_num(env, out, c"port", f64::from(addr.port()))?;
    Ok(out)
}

/// `stopExporter(id)`: removes the server's file_sd target and starts closing it; returns at
/// once. Returns whether a running server had that id.
pub fn stop_exporter(env: Env, [id]: [Val; 1]) -> R<Val> {
    let Some(id) = raw::number(env, id)? else {
        return Err(type_error("stopExporter", "id"));
    };
    let found = {
        let mut running = servers();
        running
            .iter()
            .position(|(i, _)| f64::from(*i) == id)
            .map(|at| running.swap_remove(at))
    };
    let stopped = found.is_some();
    if let Some((id, mut server)) = found {
        server.shutdown();
        table(&CLOSING).push((id, server));
    }
    raw::bool_val(env, stopped)
}

/// `exporterClosed(id)`: whether the server `id` is closed — its port free, its connections
/// ended (also `true` for an id that is not, or no longer, known). Never blocks: a server still
/// closing is left to finish on its own threads.
pub fn exporter_closed(env: Env, [id]: [Val; 1]) -> R<Val> {
    let Some(id) = raw::number(env, id)? else {
        return Err(type_error("exporterClosed", "id"));
    };
    if servers().iter().any(|(i, _)| f64::from(*i) == id) {
        return raw::bool_val(env, false);
    }
    let done = {
        let mut closing = table(&CLOSING);
        match closing.iter().position(|(i, _)| f64::from(*i) == id) {
            None => Some(None),
            Some(at) if closing[at].1.is_finished() => Some(Some(closing.swap_remove(at).1)),
            Some(_) => None,
        }
    };
    // Dropping a finished server joins threads that have already exited.
    raw::bool_val(env, done.is_some())
}

glue::function!(metrics_text_cb, 1, metrics_text);
glue::function!(metrics_samples_cb, 1, metrics_samples);
glue::function!(start_exporter_cb, 2, start_exporter);
glue::function!(stop_exporter_cb, 1, stop_exporter);
glue::function!(exporter_closed_cb, 1, exporter_closed);

/// The functions of this module, by JS name.
pub const FUNCTIONS: &[(&std::ffi::CStr, glue::Callback)] = &[
    (c"metricsText", metrics_text_cb),
    (c"metricsSamples", metrics_samples_cb),
    (c"startExporter", start_exporter_cb),
    (c"stopExporter", stop_exporter_cb),
    (c"exporterClosed", exporter_closed_cb),
];
