//! Prometheus metrics for JS, on `ultra_exporter`.
//!
//! - `metricsText()`: one render of every `ultra_*` family from a fresh snapshot, for hosts
//!   that already serve `/metrics` (and for the prom-client integration of `lib/exporter.js`,
//!   which parses it).
//! - `startExporter(host, port)`: the exporter's own loopback HTTP listener, on threads of its
//!   own, so a scrape is answered even while the JS event loop is busy. Returns
//!   `{ id, host, port }` (the bound address; port 0 picks a free port); with
//!   `ULTRA_EXPORTER_SD_DIR` set the listener also writes its Prometheus file_sd target there.
//!   `stopExporter(id)` removes the target file and starts closing, returning at once (it never
//!   blocks the JS thread, whatever the clients do); `exporterClosed(id)` tells when the port
//!   is free and every connection has ended (within the listener's shutdown bound), which
//!   `lib/exporter.js` polls to resolve `close()`.
//!
//! Servers are process-wide (a worker may stop a server another thread started); they are
//! kept in a table by id, so nothing native is tied to a JS object's lifetime.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use napi::Env;
use ultra_exporter::{Exporter, Server};

use crate::error::{range_error, type_error, Fail, R};
use crate::glue;
use crate::raw::{self, Kind, Val};

/// The exporter of the process, created at first use (its config from the `ULTRA_*`
/// environment; a bad value there is reported by `initMemorySubsystem`, and the exporter then
/// shows the defaults).
fn exporter() -> &'static Exporter {
    static EXPORTER: OnceLock<Exporter> = OnceLock::new();
    EXPORTER.get_or_init(Exporter::new)
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

/// `metricsText()`: Prometheus text exposition (format 0.0.4) of every `ultra_*` family.
pub fn metrics_text(env: Env, []: [Val; 0]) -> R<Val> {
    let text = exporter().render();
    raw::string_utf8(env, text.as_bytes())
}

const HOST_RULE: &str = "an IP address such as '127.0.0.1' or '::1', or 'localhost'";
const PORT_RULE: &str = "an integer in [0, 65535]";

/// `startExporter(host?, port?)`: serves `GET /metrics` on `host:port` (defaults from
/// `ULTRA_EXPORTER_ADDR`, else `127.0.0.1:9477`).
pub fn start_exporter(env: Env, [host, port]: [Val; 2]) -> R<Val> {
    const F: &str = "startExporter";
    let default = exporter().config().exporter_addr;
    let ip = match raw::kind(env, host)? {
        Kind::Undefined | Kind::Null => default.ip(),
        Kind::String => {
            let text = raw::with_utf8(env, host, |b| Ok(String::from_utf8_lossy(b).into_owned()))?;
            let text = text.trim_start_matches('[').trim_end_matches(']');
            match text {
                "localhost" => IpAddr::from([127, 0, 0, 1]),
                _ => text
                    .parse()
                    .map_err(|_| range_error(env, F, "options.host", HOST_RULE, host))?,
            }
        }
        _ => return Err(type_error(env, F, "options.host", HOST_RULE, host)),
    };
    let port = match raw::kind(env, port)? {
        Kind::Undefined | Kind::Null => default.port(),
        Kind::Number => match raw::number(env, port)? {
            Some(n) if n.fract() == 0.0 && (0.0..=65535.0).contains(&n) => n as u16,
            _ => return Err(range_error(env, F, "options.port", PORT_RULE, port)),
        },
        _ => return Err(type_error(env, F, "options.port", PORT_RULE, port)),
    };
    // The exporter shows the defaults when the environment does not parse; refuse to serve
    // with a setting that was not understood (the error names the variable).
    ultra_alloc::Config::from_env().map_err(|e| Fail::Error(format!("{F}: {e}")))?;
    let mut server = exporter()
        .serve(SocketAddr::new(ip, port))
        .map_err(|e| Fail::Error(format!("{F}: {e}")))?;
    if let Some(dir) = &exporter().config().exporter_sd_dir {
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
        return Err(type_error(env, "stopExporter", "id", "a server id", id));
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
        return Err(type_error(env, "exporterClosed", "id", "a server id", id));
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

glue::function!(metrics_text_cb, 0, metrics_text);
glue::function!(start_exporter_cb, 2, start_exporter);
glue::function!(stop_exporter_cb, 1, stop_exporter);
glue::function!(exporter_closed_cb, 1, exporter_closed);

/// The functions of this module, by JS name.
pub const FUNCTIONS: &[(&std::ffi::CStr, glue::Callback)] = &[
    (c"metricsText", metrics_text_cb),
    (c"startExporter", start_exporter_cb),
    (c"stopExporter", stop_exporter_cb),
    (c"exporterClosed", exporter_closed_cb),
];
