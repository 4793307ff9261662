//! A fixed set of render threads: scrapes are rendered (and compressed) off the I/O thread, so
//! a slow render never delays accepting or timing out connections, and a client that stops
//! reading never holds a render thread (the response is rendered before it is written).

use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use tokio::sync::oneshot;
use ultra_alloc::Subsystem;

use super::Route;
use crate::Exporter;

/// What a render thread hands back.
pub(crate) struct Rendered {
    pub(crate) body: Bytes,
    /// Whether `body` is gzip-compressed (as a `Content-Encoding`).
    pub(crate) gzip: bool,
    /// The body's `Content-Type`.
    pub(crate) content_type: &'static str,
    /// `false`: the route has nothing to serve now (`404`, `body` says why).
    pub(crate) found: bool,
}

struct Job {
    route: Route,
    gzip: bool,
    reply: oneshot::Sender<Result<Rendered, String>>,
}

/// The sending side, shared by the connections; the threads end when it is dropped.
pub(crate) struct RenderPool {
    jobs: SyncSender<Job>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
}

/// Why a render was not done.
pub(crate) enum RenderError {
    /// `max_requests_in_flight` reached: answer 503.
    Busy,
    /// The render failed (a panic, caught) or the pool is gone: answer 500.
    Failed(String),
}

/// Releases an in-flight slot when the request is done, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl RenderPool {
    /// Starts `threads` threads rendering `exporter`.
    pub(crate) fn start(
        exporter: &Exporter,
        threads: usize,
        max_in_flight: usize,
    ) -> std::io::Result<(RenderPool, Vec<JoinHandle<()>>)> {
        let exporter = exporter.clone();
        let render: RenderFn = Arc::new(move |route, gzip| render(&exporter, route, gzip));
        RenderPool::start_with(render, threads, max_in_flight)
    }

    /// Starts `threads` threads running `render`.
    fn start_with(
        render: RenderFn,
        threads: usize,
        max_in_flight: usize,
    ) -> std::io::Result<(RenderPool, Vec<JoinHandle<()>>)> {
        let (jobs, rx) = sync_channel::<Job>(max_in_flight);
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let rx = rx.clone();
            let render = render.clone();
            // On error the threads already started end when `jobs` is dropped.
            handles.push(
                std::thread::Builder::new()
                    .name(format!("ultra-exporter-render-{i}"))
                    .spawn(move || worker(&*render, &rx))?,
            );
        }
        let pool = RenderPool {
            jobs,
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight,
        };
        Ok((pool, handles))
    }

    /// Renders `route` on a render thread, or says why not.
    pub(crate) async fn render(&self, route: Route, gzip: bool) -> Result<Rendered, RenderError> {
        if self.in_flight.fetch_add(1, Relaxed) >= self.max_in_flight {
            self.in_flight.fetch_sub(1, Relaxed);
            return Err(RenderError::Busy);
        }
        let _slot = Slot(self.in_flight.clone());
        let (reply, answer) = oneshot::channel();
        // The channel holds `max_in_flight` jobs, so it is never full here.
        match self.jobs.try_send(Job { route, gzip, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(RenderError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(RenderError::Failed("the render threads are gone".into()))
            }
        }
        match answer.await {
            Ok(result) => result.map_err(RenderError::Failed),
            Err(_) => Err(RenderError::Failed("the render thread ended".into())),
        }
    }
}

/// What a render thread runs for each job.
type RenderFn = Arc<dyn Fn(Route, bool) -> Result<Rendered, String> + Send + Sync>;

fn worker(
    render: &(dyn Fn(Route, bool) -> Result<Rendered, String> + Send + Sync),
    jobs: &Mutex<Receiver<Job>>,
) {
    let _scope = Subsystem::Exporter.enter();
    loop {
        // Poisoning cannot leave a Receiver inconsistent.
        let job = match jobs.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return, // the listener is gone
        };
        if job.reply.is_closed() {
            continue; // the client went away while waiting
        }
        let result = catch_unwind(AssertUnwindSafe(|| render(job.route, job.gzip))).unwrap_or_else(
            |panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_owned());
                Err(format!("render failed: {what}"))
            },
        );
        // A receiver gone means the connection was closed meanwhile; nothing to do.
        let _ = job.reply.send(result);
    }
}

fn render(exporter: &Exporter, route: Route, gzip: bool) -> Result<Rendered, String> {
    let (text, content_type) = match route {
        Route::Metrics(format) => (exporter.render_as(format), format.content_type()),
        Route::HeapProfile => return heap_profile(),
    };
    if !gzip {
        return Ok(Rendered {
            body: Bytes::from(text),
            gzip: false,
            content_type,
            found: true,
        });
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(text.len() / 4), Compression::fast());
    encoder
        .write_all(text.as_bytes())
        .and_then(|()| encoder.finish())
        .map(|body| Rendered {
            body: Bytes::from(body),
            gzip: true,
            content_type,
            found: true,
        })
        .map_err(|e| format!("gzip failed: {e}"))
}

/// `/debug/pprof/heap`: jemalloc's sampled live heap as gzipped pprof, or a `404` saying why
/// there is none (profiling not compiled in, not enabled, or sampling off).
fn heap_profile() -> Result<Rendered, String> {
    use ultra_alloc::profile::ProfileError;
    match ultra_alloc::profile::heap_profile() {
        Ok(pprof) => Ok(Rendered {
            body: Bytes::from(pprof),
            gzip: false,
            content_type: PPROF_CONTENT_TYPE,
            found: true,
        }),
        Err(
            e @ (ProfileError::NotCompiled | ProfileError::NotEnabled | ProfileError::Inactive),
        ) => Ok(Rendered {
            body: Bytes::from(format!("{e}\n")),
            gzip: false,
            content_type: "text/plain; charset=utf-8",
            found: false,
        }),
        Err(e) => Err(e.to_string()),
    }
}

/// `Content-Type` of a heap profile: gzipped protobuf, as Go's `net/http/pprof` serves it.
const PPROF_CONTENT_TYPE: &str = "application/octet-stream";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::CONTENT_TYPE;
    use std::sync::mpsc::channel;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn beyond_the_in_flight_cap_renders_are_refused_and_a_panic_is_an_error() {
        let (entered_tx, entered) = channel::<()>();
        let (release, release_rx) = channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let entered_tx = Mutex::new(entered_tx);
        let render: RenderFn = Arc::new(move |_, gzip| {
            if gzip {
                panic!("boom");
            }
            let _ = entered_tx.lock().unwrap().send(());
            let _ = release_rx.lock().unwrap().recv();
            Ok(Rendered {
                body: Bytes::from_static(b"ok"),
                gzip: false,
                content_type: CONTENT_TYPE,
                found: true,
            })
        });
        let (pool, threads) = RenderPool::start_with(render, 1, 1).expect("start");
        let pool = Arc::new(pool);
        let first = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                block_on(pool.render(Route::Metrics(crate::Format::Prometheus), false))
                    .map(|r| r.body)
            })
        };
        entered.recv().expect("the first render runs");
        // One in flight = the cap: the next is refused at once.
        assert!(matches!(
            block_on(pool.render(Route::Metrics(crate::Format::Prometheus), false)),
            Err(RenderError::Busy)
        ));
        release.send(()).expect("release");
        assert_eq!(
            first.join().expect("thread").ok(),
            Some(Bytes::from_static(b"ok"))
        );
        // The slot is free again; a panicking render is an error, and the thread survives it.
        match block_on(pool.render(Route::Metrics(crate::Format::Prometheus), true)) {
            Err(RenderError::Failed(why)) => assert!(why.contains("boom"), "{why}"),
            _ => panic!("a panic is a failed render"),
        }
        let again = std::thread::spawn({
            let pool = pool.clone();
            move || block_on(pool.render(Route::Metrics(crate::Format::Prometheus), false)).is_ok()
        });
        entered.recv().expect("the thread still renders");
        release.send(()).expect("release");
        assert!(again.join().expect("thread"));
        drop(pool);
        for t in threads {
            t.join().expect("render threads end with the pool");
        }
    }
}
