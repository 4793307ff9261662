//! The `/metrics` HTTP listener: hyper's HTTP/1 server on a current-thread tokio runtime of its
//! own, started by [`Exporter::serve`] (never at load), with every resource bounded.
//!
//! Threads: one I/O thread (`ultra-exporter-io`) runs the accept loop and every connection as
//! a task; [`Limits::render_threads`] threads (`ultra-exporter-render-N`) render. That number
//! is fixed whatever the clients do. A request passes through:
//!
//! 1. the accept loop — under [`Limits::max_connections`], or a connection is evicted to make
//!    room (the oldest that has not sent a complete request, else the one waiting longest for
//!    its client), or, if every one is being answered, the new one is closed at once;
//!    `accept` errors (`EMFILE`, `ENFILE`, `ENOMEM`, …) are counted, logged once per
//!    interval, and retried after a growing pause (at most [`MAX_BACKOFF`]) — the loop never
//!    ends but on shutdown;
//! 2. the connection's watchdog — header read, idle and write timeouts;
//! 3. hyper — `431` for a head over [`Limits::max_header_bytes`], `400` and close for a
//!    malformed request;
//! 4. [`route`] — `414` for a long target, `404` for an unknown path, `405` for a method other
//!    than GET and HEAD;
//! 5. a render thread — `503` when [`Limits::max_requests_in_flight`] are already admitted;
//!    gzip when the client accepts it.

mod conn;
mod limits;
mod render_pool;
pub(crate) mod stats;

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, Instant};
use ultra_alloc::Subsystem;

use self::conn::{Admission, ConnState, Guarded, Table};
pub use self::limits::Limits;
use self::render_pool::{RenderError, RenderPool};
use self::stats::{DropReason, ListenerStats};
use crate::file_sd::Registration;
use crate::{Exporter, ExporterError};

/// `Content-Type` of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = crate::Format::Prometheus.content_type();

/// First pause of the accept loop after an error; doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(5);
/// Longest pause of the accept loop: once descriptors are free again, scrapes are served
/// within this.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// At most one log line per this interval about `accept` errors.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// What a request path asks for. Every path the listener serves is here (the only place to
/// add one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/metrics`: [`Exporter::render`], in the format the `Accept` header asks for.
    Metrics(crate::Format),
    /// `/debug/pprof/heap`: `ultra_alloc::profile::heap_profile`, `404` when profiling is off.
    HeapProfile,
}

/// The route of `path`, if any.
pub(crate) fn route(path: &str) -> Option<Route> {
    match path {
        "/metrics" => Some(Route::Metrics(crate::Format::Prometheus)),
        "/debug/pprof/heap" => Some(Route::HeapProfile),
        _ => None,
    }
}

/// A running `/metrics` listener. Stops when [`closed`](Server::close) or dropped.
///
/// `GET /metrics` (and `HEAD`) answers `200` with the text of [`Exporter::render`]
/// (gzip-compressed if the request's `Accept-Encoding` allows it); other paths `404`; other
/// methods `405` with `Allow: GET, HEAD`; see the crate docs ("Serving") and [`Limits`] for
/// the rest.
pub struct Server {
    addr: SocketAddr,
    limits: Limits,
    shutdown: Option<watch::Sender<bool>>,
    io: Option<JoinHandle<()>>,
    renderers: Vec<JoinHandle<()>>,
    file_sd: Option<Registration>,
}

impl Exporter {
    /// Serves this exporter's [`render`](Exporter::render) on `addr`, with the default
    /// [`Limits`] and `ULTRA_EXPORTER_MAX_CONNECTIONS` from this exporter's configuration.
    ///
    /// Port `0` picks a free port: [`Server::local_addr`] tells which. Binding `addr` as given,
    /// the listener is reachable from other hosts if `addr` is not a loopback address, and
    /// then a one-line warning goes to stderr; the default (`ULTRA_EXPORTER_ADDR` unset) is
    /// `127.0.0.1:9477`.
    ///
    /// # Errors
    ///
    /// [`ExporterError::Bind`] (naming the address) if it cannot be bound, for instance
    /// because the port is taken; [`ExporterError::Start`] if the server threads cannot start.
    pub fn serve(&self, addr: SocketAddr) -> Result<Server, ExporterError> {
        self.serve_with(addr, Limits::from_config(self.config()))
    }

    /// [`serve`](Exporter::serve) with the given limits.
    ///
    /// # Errors
    ///
    /// As [`Exporter::serve`].
    pub fn serve_with(&self, addr: SocketAddr, limits: Limits) -> Result<Server, ExporterError> {
        ultra_alloc::scope(Subsystem::Exporter, || start(self, addr, limits.sane()))
    }
}

/// Serves a new [`Exporter::new`] on `addr`; see [`Exporter::serve`].
///
/// # Errors
///
/// As [`Exporter::serve`].
pub fn serve(addr: SocketAddr) -> Result<Server, ExporterError> {
    Exporter::new().serve(addr)
}

/// What every connection task shares.
struct Shared {
    exporter: Exporter,
    limits: Limits,
    http: hyper::server::conn::http1::Builder,
    table: Table,
    renders: RenderPool,
    epoch: Instant,
}

impl Shared {
    fn stats(&self) -> &ListenerStats {
        self.exporter.listener_stats()
    }
}

fn start(exporter: &Exporter, addr: SocketAddr, limits: Limits) -> Result<Server, ExporterError> {
    let start_err = |addr, reason: String| ExporterError::Start { addr, reason };
    let listener =
        StdListener::bind(addr).map_err(|source| ExporterError::Bind { addr, source })?;
    // Accepted sockets inherit TCP_NODELAY from the listener (Linux). Without it the tail of a
    // response waits for the client's delayed ACK: ~40 ms per scrape on a kept-alive
    // connection. Best effort: a failure only costs that latency.
    let _ = socket2::SockRef::from(&listener).set_tcp_nodelay(true);
    let bound = listener
        .local_addr()
        .map_err(|e| start_err(addr, e.to_string()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| start_err(bound, e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| start_err(bound, format!("cannot start the I/O runtime: {e}")))?;
    let listener = {
        let _in_runtime = runtime.enter();
        TcpListener::from_std(listener).map_err(|e| start_err(bound, e.to_string()))?
    };
    let (renders, renderers) = RenderPool::start(
        exporter,
        limits.render_threads,
        limits.max_requests_in_flight,
    )
    .map_err(|e| start_err(bound, format!("cannot spawn a render thread: {e}")))?;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        // The watchdog of each connection times header reads (from the first byte on, not
        // from the end of the previous response, so that idle keep-alive has its own limit).
        .header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes)
        // A client that sends its request and then shuts down its side (HTTP/1.0 style, or
        // `Connection: close` with a half-close) still gets its answer.
        .half_close(true)
        .keep_alive(true);
    let shared = Arc::new(Shared {
        exporter: exporter.clone(),
        limits: limits.clone(),
        http,
        table: Table::default(),
        renders,
        epoch: Instant::now(),
    });
    let (shutdown, stop) = watch::channel(false);
    let io = std::thread::Builder::new()
        .name("ultra-exporter-io".into())
        .spawn(move || {
            let _scope = Subsystem::Exporter.enter();
            runtime.block_on(run(listener, shared, stop));
            // Dropping the runtime drops every connection still open.
        })
        .map_err(|e| start_err(bound, format!("cannot spawn the I/O thread: {e}")))?;
    exporter.listener_stats().started.store(true, Relaxed);
    if !bound.ip().is_loopback() {
        eprintln!(
            "ultra-exporter: warning: serving metrics on {bound}, which other hosts can reach \
             (set ULTRA_EXPORTER_ADDR to a loopback address such as 127.0.0.1:9477 to avoid it)"
        );
    }
    Ok(Server {
        addr: bound,
        limits,
        shutdown: Some(shutdown),
        io: Some(io),
        renderers,
        file_sd: None,
    })
}

/// The I/O thread: accepts until shutdown, then lets the connections finish (bounded).
async fn run(listener: TcpListener, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    accept_loop(&listener, &shared, stop.clone()).await;
    // The port is free as soon as the listener is closed.
    drop(listener);
    let drained = tokio::time::timeout(shared.limits.shutdown_timeout, async {
        while !shared.table.is_empty() {
            shared.table.emptied.notified().await;
        }
    })
    .await;
    if drained.is_err() {
        // The tasks still running are dropped with the runtime, before they can count.
        let left = shared.table.len() as u64;
        shared.stats().dropped_n(DropReason::Shutdown, left);
        shared.stats().open.fetch_sub(left, Relaxed);
    }
}

/// Logs `accept` errors, at most one line per [`LOG_INTERVAL`].
#[derive(Default)]
struct ErrorLog {
    last: Option<Instant>,
    unreported: u64,
}

impl ErrorLog {
    fn error(&mut self, e: &std::io::Error) {
        let now = Instant::now();
        if self.last.is_some_and(|t| now - t < LOG_INTERVAL) {
            self.unreported += 1;
            return;
        }
        let more = match std::mem::take(&mut self.unreported) {
            0 => String::new(),
            n => format!(" ({n} more since the last report)"),
        };
        eprintln!(
            "ultra-exporter: cannot accept a connection: {e}{more}; retrying (see \
             ultra_exporter_accept_errors_total; at most one such line per {}s)",
            LOG_INTERVAL.as_secs()
        );
        self.last = Some(now);
    }
}

async fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = MIN_BACKOFF;
    let mut log = ErrorLog::default();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.changed() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, _)) => {
                backoff = MIN_BACKOFF;
                admit(stream, shared, stop.clone());
            }
            Err(e) => {
                shared.stats().accept_errors.fetch_add(1, Relaxed);
                log.error(&e);
                use std::io::ErrorKind::*;
                // A connection that went away before it was accepted: the next one may be fine.
                if matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted) {
                    continue;
                }
                // Anything else (EMFILE, ENFILE, ENOMEM, ENOBUFS, …) would fail again at once:
                // wait, then retry; the pending connections stay in the kernel's queue.
                tokio::select! {
                    biased;
                    _ = stop.changed() => return,
                    _ = sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn admit(stream: TcpStream, shared: &Arc<Shared>, stop: watch::Receiver<bool>) {
    let stats = shared.stats();
    let state = Arc::new(ConnState::new(shared.epoch));
    let id = match shared.table.admit(&state, shared.limits.max_connections) {
        Admission::Admitted { id, evicted } => {
            if evicted {
                stats.dropped(DropReason::Evicted);
            }
            id
        }
        Admission::Rejected => {
            stats.rejected.fetch_add(1, Relaxed);
            return; // dropping the stream closes it
        }
    };
    stats.accepted.fetch_add(1, Relaxed);
    stats.open.fetch_add(1, Relaxed);
    let _ = stream.set_nodelay(true);
    let shared = shared.clone();
    tokio::spawn(async move {
        serve_connection(stream, &shared, state, stop).await;
        shared.table.remove(id);
        shared.stats().open.fetch_sub(1, Relaxed);
    });
}

async fn serve_connection(
    stream: TcpStream,
    shared: &Arc<Shared>,
    state: Arc<ConnState>,
    mut stop: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Guarded {
        stream,
        state: state.clone(),
    });
    let service = {
        let shared = shared.clone();
        let state = state.clone();
        hyper::service::service_fn(move |req| {
            let shared = shared.clone();
            let state = state.clone();
            async move { Ok::<_, Infallible>(answer(req, &shared, &state).await) }
        })
    };
    let conn = shared.http.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    let stats = shared.stats();
    loop {
        let (deadline, _) = state.deadline(&shared.limits);
        tokio::select! {
            biased;
            result = conn.as_mut() => {
                if let Err(e) = result {
                    // hyper answered these itself before closing.
                    if e.is_parse_too_large() {
                        stats.answered(431);
                    } else if e.is_parse() {
                        stats.answered(400);
                    }
                }
                return;
            }
            () = state.kill.notified() => return, // evicted (counted by the evictor)
            () = state.changed.notified() => {} // a new phase: a new deadline
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = sleep_until(deadline) => {
                // The deadline may have moved meanwhile; only a passed one closes.
                let (now_deadline, now_reason) = state.deadline(&shared.limits);
                if let (Some(reason), true) = (now_reason, now_deadline <= Instant::now()) {
                    stats.dropped(reason);
                    return;
                }
            }
        }
    }
}

type Body = Full<Bytes>;

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Whether an `Accept-Encoding` value allows gzip (`gzip` or `*`, with a non-zero `q`).
fn accepts_gzip(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let zero_q = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !zero_q
        })
}

async fn answer(req: Request<Incoming>, shared: &Shared, state: &ConnState) -> Response<Body> {
    state.request_started();
    let response = respond(&req, shared).await;
    shared.stats().answered(response.status().as_u16());
    state.response_ready();
    response
}

async fn respond(req: &Request<Incoming>, shared: &Shared) -> Response<Body> {
    let target_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target_len > shared.limits.max_url_bytes {
        let mut r = plain(StatusCode::URI_TOO_LONG, "request target too long\n");
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    let Some(mut route) = route(req.uri().path()) else {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: metrics are served at /metrics (heap profiles at /debug/pprof/heap)\n",
        );
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use GET\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if let Route::Metrics(format) = &mut route {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        *format = crate::Format::from_accept(accept);
    }
    match shared.renders.render(route, accepts_gzip(req)).await {
        Ok(rendered) => {
            let mut r = Response::new(Full::new(rendered.body));
            if !rendered.found {
                *r.status_mut() = StatusCode::NOT_FOUND;
            }
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(rendered.content_type),
            );
            h.insert(
                header::VARY,
                HeaderValue::from_static("Accept-Encoding, Accept"),
            );
            if rendered.gzip {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            r
        }
        Err(RenderError::Busy) => {
            let mut r = plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many scrapes in flight; retry later\n",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Err(RenderError::Failed(why)) => {
            eprintln!("ultra-exporter: {why}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "render failed\n")
        }
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("closed", &self.is_closed())
            .field("limits", &self.limits)
            .field("file_sd", &self.file_sd)
            .finish()
    }
}

impl Server {
    /// The address actually bound (with the real port when `0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<local_addr>/metrics`.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Writes a file_sd target file for this server in `dir` (see [`Registration`]); it is
    /// removed when the server closes. Registering again replaces the previous file. Target
    /// files of processes that no longer run are removed from `dir` first (see
    /// [`crate::file_sd::remove_stale`]).
    ///
    /// # Errors
    ///
    /// [`ExporterError::FileSd`] if the file cannot be written.
    pub fn register_file_sd(&mut self, dir: impl AsRef<Path>) -> Result<&Path, ExporterError> {
        // Drop the previous file first: a new one in the same folder has the same name.
        self.file_sd = None;
        let registration = Registration::create(dir, self.addr)?;
        Ok(self.file_sd.insert(registration).path())
    }

    /// The file_sd registration made by [`Server::register_file_sd`], if any.
    pub fn file_sd(&self) -> Option<&Registration> {
        self.file_sd.as_ref()
    }

    /// Starts closing and returns at once: removes the file_sd target file, stops accepting
    /// (the port is free as soon as [`is_finished`](Server::is_finished)), closes idle
    /// keep-alive connections, and lets in-flight responses finish within
    /// [`Limits::shutdown_timeout`]. Idempotent.
    pub fn shutdown(&mut self) {
        self.file_sd = None;
        if let Some(tx) = self.shutdown.take() {
            // No receiver left means the I/O thread has already ended.
            let _ = tx.send(true);
        }
    }

    /// Whether the listener has stopped: the port is closed, every connection has ended and
    /// the render threads have exited, so that [`close`](Server::close) returns at once.
    pub fn is_finished(&self) -> bool {
        self.io.as_ref().is_none_or(JoinHandle::is_finished)
            && self.renderers.iter().all(JoinHandle::is_finished)
    }

    /// [`shutdown`](Server::shutdown), then waits until it is done (at most about
    /// [`Limits::shutdown_timeout`]): when `close` returns the port is free and no connection
    /// is open. Idempotent; dropping the server does the same.
    pub fn close(&mut self) {
        self.shutdown();
        if let Some(io) = self.io.take() {
            // A panic on the I/O thread has nothing more to clean up.
            let _ = io.join();
        }
        // The I/O thread held the only handle to the render queue: the threads end once their
        // current render (if any) is done.
        for r in self.renderers.drain(..) {
            let _ = r.join();
        }
    }

    /// Whether [`close`](Server::close) or [`shutdown`](Server::shutdown) has run.
    pub fn is_closed(&self) -> bool {
        self.shutdown.is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close();
    }
}
