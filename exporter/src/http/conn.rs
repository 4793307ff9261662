//! One connection: the socket wrapped so that its reads and writes drive the timeouts, the
//! table of open connections that the cap evicts from, and the watchdog deadlines.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::stats::DropReason;
use super::Limits;

/// Accepted, nothing received yet.
const NEW: u8 = 0;
/// Between requests of a kept-alive connection.
const IDLE: u8 = 1;
/// Part of a request header received.
const READING: u8 = 2;
/// A request is being answered.
const BUSY: u8 = 3;

/// What the watchdog of a connection needs to know, updated by its socket and its service.
#[derive(Debug)]
pub(crate) struct ConnState {
    epoch: Instant,
    phase: AtomicU8,
    /// When the phase began, in ms since `epoch`.
    since_ms: AtomicU64,
    /// When writes started to make no progress, in ms since `epoch` plus 1; 0 = they do.
    write_blocked_ms: AtomicU64,
    /// Whether a complete request was received (such a connection is never evicted).
    proven: AtomicBool,
    /// Set when the connection is chosen for eviction.
    evicting: AtomicBool,
    pub(crate) kill: Notify,
    /// Notified when the phase changes, so that the watchdog takes the new deadline.
    pub(crate) changed: Notify,
}

impl ConnState {
    pub(crate) fn new(epoch: Instant) -> ConnState {
        let state = ConnState {
            epoch,
            phase: AtomicU8::new(NEW),
            since_ms: AtomicU64::new(0),
            write_blocked_ms: AtomicU64::new(0),
            proven: AtomicBool::new(false),
            evicting: AtomicBool::new(false),
            kill: Notify::new(),
            changed: Notify::new(),
        };
        state.since_ms.store(state.now_ms(), Relaxed);
        state
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + std::time::Duration::from_millis(ms)
    }

    fn set_phase(&self, phase: u8) {
        self.since_ms.store(self.now_ms(), Relaxed);
        self.phase.store(phase, Relaxed);
        self.changed.notify_one();
    }

    /// A complete request header arrived.
    pub(crate) fn request_started(&self) {
        self.proven.store(true, Relaxed);
        self.set_phase(BUSY);
    }

    /// The response is handed to hyper; the connection waits for the next request.
    pub(crate) fn response_ready(&self) {
        self.set_phase(IDLE);
    }

    fn bytes_read(&self) {
        let phase = self.phase.load(Relaxed);
        if phase == NEW || phase == IDLE {
            self.set_phase(READING);
        }
    }

    fn write_progress(&self, progressed: bool) {
        if progressed {
            self.write_blocked_ms.store(0, Relaxed);
        } else if self.write_blocked_ms.load(Relaxed) == 0 {
            self.write_blocked_ms.store(self.now_ms() + 1, Relaxed);
        }
    }

    /// The earliest instant at which a limit may have been passed, and which one. While
    /// writes progress the watchdog looks again every `write_timeout` (nothing wakes it when
    /// a write starts to block).
    pub(crate) fn deadline(&self, limits: &Limits) -> (Instant, Option<DropReason>) {
        let since = self.at(self.since_ms.load(Relaxed));
        let phase = match self.phase.load(Relaxed) {
            NEW | READING => Some((
                since + limits.header_read_timeout,
                DropReason::HeaderTimeout,
            )),
            IDLE => Some((since + limits.idle_timeout, DropReason::IdleTimeout)),
            _ => None,
        };
        let write = match self.write_blocked_ms.load(Relaxed) {
            0 => (Instant::now() + limits.write_timeout, None),
            ms => (
                self.at(ms - 1) + limits.write_timeout,
                Some(DropReason::WriteTimeout),
            ),
        };
        match phase {
            Some((at, reason)) if at <= write.0 => (at, Some(reason)),
            _ => write,
        }
    }
}

/// The socket, reporting its reads and writes to the connection's [`ConnState`].
pub(crate) struct Guarded {
    pub(crate) stream: TcpStream,
    pub(crate) state: Arc<ConnState>,
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.bytes_read();
        }
        r
    }
}

impl Guarded {
    /// Only bytes written are progress: a flush that is ready (a no-op on TCP) is not.
    fn track_write(&self, r: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match &r {
            Poll::Pending => self.state.write_progress(false),
            Poll::Ready(Ok(n)) if *n > 0 => self.state.write_progress(true),
            Poll::Ready(_) => {}
        }
        r
    }

    fn track_pending(&self, r: Poll<io::Result<()>>) -> Poll<io::Result<()>> {
        if r.is_pending() {
            self.state.write_progress(false);
        }
        r
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.track_write(r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.track_write(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.stream).poll_flush(cx);
        self.track_pending(r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.track_pending(r)
    }
}

/// The open connections, in accept order.
#[derive(Debug, Default)]
pub(crate) struct Table {
    inner: Mutex<TableInner>,
    /// Notified when the table becomes empty (shutdown waits for it).
    pub(crate) emptied: Notify,
}

#[derive(Debug, Default)]
struct TableInner {
    next_id: u64,
    conns: BTreeMap<u64, Arc<ConnState>>,
    evicting: usize,
}

/// What [`Table::admit`] decided.
pub(crate) enum Admission {
    /// Serve it; `id` removes it from the table when done.
    Admitted { id: u64, evicted: bool },
    /// The cap is reached and every open connection has sent a request: close it.
    Rejected,
}

impl Table {
    fn lock(&self) -> std::sync::MutexGuard<'_, TableInner> {
        // Every update is a single insert/remove/counter step: a poisoned table is consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes in a new connection under the cap `max`, evicting the oldest connection that has
    /// not yet sent a complete request if the cap is reached.
    pub(crate) fn admit(&self, state: &Arc<ConnState>, max: usize) -> Admission {
        let mut t = self.lock();
        let mut evicted = false;
        if t.conns.len() - t.evicting >= max {
            if !evict_oldest(&mut t) {
                return Admission::Rejected;
            }
            evicted = true;
        }
        let id = t.next_id;
        t.next_id += 1;
        t.conns.insert(id, state.clone());
        Admission::Admitted { id, evicted }
    }

    pub(crate) fn remove(&self, id: u64) {
        let mut t = self.lock();
        if let Some(state) = t.conns.remove(&id) {
            if state.evicting.load(Relaxed) {
                t.evicting -= 1;
            }
        }
        if t.conns.is_empty() {
            self.emptied.notify_one();
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lock().conns.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().conns.len()
    }
}

/// Chooses a connection to close to make room: the oldest that has not sent a complete
/// request, or else the one waiting the longest for its client (idle between requests, or
/// reading a request head, or writing). Never one whose request is being rendered.
fn evict_oldest(t: &mut TableInner) -> bool {
    let candidates = || t.conns.values().filter(|c| !c.evicting.load(Relaxed));
    let victim = candidates()
        .find(|c| !c.proven.load(Relaxed))
        .or_else(|| {
            candidates()
                .filter(|c| c.phase.load(Relaxed) != BUSY)
                .min_by_key(|c| c.since_ms.load(Relaxed))
        })
        .cloned();
    match victim {
        Some(v) => {
            v.evicting.store(true, Relaxed);
            t.evicting += 1;
            v.kill.notify_one();
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(a: Admission) -> Option<(u64, bool)> {
        match a {
            Admission::Admitted { id, evicted } => Some((id, evicted)),
            Admission::Rejected => None,
        }
    }

    #[test]
    fn the_cap_evicts_unproven_first_then_the_longest_waiting_and_never_a_busy_one() {
        let epoch = Instant::now();
        let table = Table::default();
        let conn = || Arc::new(ConnState::new(epoch));
        let (a, b, c) = (conn(), conn(), conn());
        assert_eq!(admitted(table.admit(&a, 2)), Some((0, false)));
        assert_eq!(admitted(table.admit(&b, 2)), Some((1, false)));
        // `a` made a request and waits between requests; `b` never sent one: `b` goes.
        a.request_started();
        a.response_ready();
        assert_eq!(admitted(table.admit(&c, 2)), Some((2, true)));
        assert!(b.evicting.load(Relaxed) && !a.evicting.load(Relaxed));
        table.remove(1);
        // All proven: the one idle longest goes (`a`, idle before `c` started).
        c.request_started();
        c.response_ready();
        let d = conn();
        assert_eq!(admitted(table.admit(&d, 2)), Some((3, true)));
        assert!(a.evicting.load(Relaxed));
        table.remove(0);
        // Every connection busy rendering: the new one is rejected.
        c.request_started();
        d.request_started();
        assert!(admitted(table.admit(&conn(), 2)).is_none());
        assert_eq!(table.len(), 2);
    }
}
