//! The listener's own figures, shown as the `ultra_exporter_*` families.
//!
//! One [`ListenerStats`] lives in each [`Exporter`](crate::Exporter) (shared by its clones and
//! by every listener started from them); the families are rendered once a listener has been
//! started, and absent before.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Why the listener closed a connection on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// Closed to make room under the connection cap: it had not sent a complete request.
    Evicted,
    /// No complete request header within the header read timeout.
    HeaderTimeout,
    /// Kept alive but silent for the idle timeout.
    IdleTimeout,
    /// The client accepted no response bytes for the write timeout.
    WriteTimeout,
    /// Still open when the shutdown bound passed.
    Shutdown,
}

impl DropReason {
    pub(crate) const ALL: [DropReason; 5] = [
        DropReason::Evicted,
        DropReason::HeaderTimeout,
        DropReason::IdleTimeout,
        DropReason::WriteTimeout,
        DropReason::Shutdown,
    ];

    /// The `reason` label.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            DropReason::Evicted => "evicted",
            DropReason::HeaderTimeout => "header_timeout",
            DropReason::IdleTimeout => "idle_timeout",
            DropReason::WriteTimeout => "write_timeout",
            DropReason::Shutdown => "shutdown",
        }
    }
}

/// Every status code the listener answers with, as its `code` label (all are rendered, zeros
/// included, so that `rate()` sees a series from the start).
pub(crate) const CODES: [(u16, &str); 8] = [
    (200, "200"),
    (400, "400"),
    (404, "404"),
    (405, "405"),
    (414, "414"),
    (431, "431"),
    (500, "500"),
    (503, "503"),
];

/// Upper bounds (seconds) of the render-duration histogram's buckets (`+Inf` besides).
pub(crate) const RENDER_BUCKETS: [f64; 10] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Counters of the listeners of one exporter.
#[derive(Debug, Default)]
pub(crate) struct ListenerStats {
    /// Whether a listener was ever started (the families are absent before).
    pub(crate) started: AtomicBool,
    pub(crate) open: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
    pub(crate) dropped: [AtomicU64; DropReason::ALL.len()],
    pub(crate) requests: [AtomicU64; CODES.len()],
}

impl ListenerStats {
    pub(crate) fn dropped(&self, reason: DropReason) {
        self.dropped_n(reason, 1);
    }

    pub(crate) fn dropped_n(&self, reason: DropReason, n: u64) {
        if let Some(i) = DropReason::ALL.iter().position(|r| *r == reason) {
            self.dropped[i].fetch_add(n, Relaxed);
        }
    }

    pub(crate) fn answered(&self, code: u16) {
        if let Some(i) = CODES.iter().position(|(c, _)| *c == code) {
            self.requests[i].fetch_add(1, Relaxed);
        }
    }
}

/// A histogram of render durations (cumulative buckets computed at render time).
#[derive(Debug, Default)]
pub(crate) struct DurationHistogram {
    /// Non-cumulative counts per bucket of [`RENDER_BUCKETS`], `+Inf` last.
    pub(crate) counts: [AtomicU64; RENDER_BUCKETS.len() + 1],
    pub(crate) sum_nanos: AtomicU64,
}

impl DurationHistogram {
    pub(crate) fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = RENDER_BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(RENDER_BUCKETS.len());
        self.counts[i].fetch_add(1, Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }
}
