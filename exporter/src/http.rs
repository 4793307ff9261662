//! The `/metrics` HTTP listener (tiny_http, synchronous, a fixed number of render threads).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tiny_http::{Header, Method, Request, Response};
use ultra_alloc::Subsystem;

use crate::file_sd::Registration;
use crate::{Exporter, ExporterError};

/// `Content-Type` of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Threads that answer requests (each renders one scrape at a time).
const WORKERS: usize = 2;

/// A running `/metrics` listener. Stops when [`closed`](Server::close) or dropped.
///
/// `GET /metrics` (and `HEAD`) answers `200` with the text of [`Exporter::render`]; any other
/// path answers `404`; another method on `/metrics` answers `405` with `Allow: GET, HEAD`.
pub struct Server {
    addr: SocketAddr,
    http: Option<Arc<tiny_http::Server>>,
    workers: Vec<JoinHandle<()>>,
    file_sd: Option<Registration>,
}

impl Exporter {
    /// Serves this exporter's [`render`](Exporter::render) on `addr`.
    ///
    /// Port `0` picks a free port: [`Server::local_addr`] tells which. Binding `addr` as given,
    /// the listener is reachable from other hosts only if `addr` is not a loopback address;
    /// the default (`ULTRA_EXPORTER_ADDR` unset) is `127.0.0.1:9477`.
    ///
    /// # Errors
    ///
    /// [`ExporterError::Bind`] (naming the address) if it cannot be bound, for instance
    /// because the port is taken; [`ExporterError::Start`] if the server threads cannot start.
    pub fn serve(&self, addr: SocketAddr) -> Result<Server, ExporterError> {
        ultra_alloc::scope(Subsystem::Exporter, || start(self.clone(), addr))
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

fn start(exporter: Exporter, addr: SocketAddr) -> Result<Server, ExporterError> {
    let listener =
        TcpListener::bind(addr).map_err(|source| ExporterError::Bind { addr, source })?;
    // Accepted sockets inherit TCP_NODELAY from the listener (Linux). Without it the tail of a
    // response waits for the client's delayed ACK: ~40 ms per scrape on a kept-alive
    // connection. Best effort: a failure only costs that latency.
    let _ = socket2::SockRef::from(&listener).set_tcp_nodelay(true);
    let bound = listener.local_addr().map_err(|e| ExporterError::Start {
        addr,
        reason: e.to_string(),
    })?;
    let http =
        tiny_http::Server::from_listener(listener, None).map_err(|e| ExporterError::Start {
            addr: bound,
            reason: e.to_string(),
        })?;
    let mut server = Server {
        addr: bound,
        http: Some(Arc::new(http)),
        workers: Vec::with_capacity(WORKERS),
        file_sd: None,
    };
    for i in 0..WORKERS {
        let http = server.http.clone();
        let exporter = exporter.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("ultra-exporter-http-{i}"))
            .spawn(move || {
                let _scope = Subsystem::Exporter.enter();
                if let Some(http) = http {
                    // `recv` fails when `close` unblocks this thread, or if the accept loop died.
                    while let Ok(request) = http.recv() {
                        answer(&exporter, request);
                    }
                }
            });
        match spawned {
            Ok(handle) => server.workers.push(handle),
            Err(e) => {
                // Dropping `server` stops the workers already started.
                return Err(ExporterError::Start {
                    addr: bound,
                    reason: format!("cannot spawn a worker thread: {e}"),
                });
            }
        }
    }
    Ok(server)
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn answer(exporter: &Exporter, request: Request) {
    let path = request.url().split('?').next().unwrap_or("");
    let response = if path != "/metrics" {
        Response::from_string("not found: metrics are served at /metrics\n").with_status_code(404)
    } else if matches!(request.method(), Method::Get | Method::Head) {
        let mut r = Response::from_string(exporter.render());
        if let Some(h) = header("Content-Type", CONTENT_TYPE) {
            r.add_header(h);
        }
        r
    } else {
        let mut r = Response::from_string("method not allowed: use GET\n").with_status_code(405);
        if let Some(h) = header("Allow", "GET, HEAD") {
            r.add_header(h);
        }
        r
    };
    // An error here means the client went away; there is no one left to tell.
    let _ = request.respond(response);
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("closed", &self.is_closed())
            .field("workers", &self.workers.len())
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

    /// Writes a file_sd target file for this server in `dir` (see [`Registration`]); it is
    /// removed when the server closes. Registering again replaces the previous file.
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

    /// Removes the file_sd target file, stops accepting connections, lets the render threads
    /// finish the requests already received and joins them. Idempotent; dropping the server
    /// does the same.
    ///
    /// Connections a client keeps alive are not answered any more; their (tiny_http) threads
    /// end when the client closes them.
    pub fn close(&mut self) {
        self.file_sd = None;
        if let Some(http) = self.http.take() {
            for _ in 0..self.workers.len() {
                http.unblock();
            }
            for worker in self.workers.drain(..) {
                // A worker that panicked has nothing more to clean up.
                let _ = worker.join();
            }
            // Last reference: tiny_http tells its accept thread to stop…
            drop(http);
            // …which closes the listening socket shortly after, on its own thread. Wait for
            // that (briefly), so that the port is free once `close` returns.
            wait_until_refused(self.addr, Duration::from_secs(2));
        }
    }

    /// Whether [`close`](Server::close) has run.
    pub fn is_closed(&self) -> bool {
        self.http.is_none()
    }
}

/// Polls `addr` until a connection is refused or `limit` passes.
fn wait_until_refused(addr: SocketAddr, limit: Duration) {
    let target = crate::file_sd::target_for(addr);
    let end = Instant::now() + limit;
    while Instant::now() < end {
        match TcpStream::connect_timeout(&target, Duration::from_millis(100)) {
            Err(_) => return,
            Ok(probe) => {
                drop(probe);
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close();
    }
}
