//! Time: the [`Clock`] a cache reads its TTLs from, and the TTL arithmetic in nanoseconds.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::CacheError;

/// The time source of a cache's TTLs. Implementations must be monotonic: a clock that goes
/// back only makes entries live longer.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Time elapsed since a fixed origin of this clock's choosing.
    fn now(&self) -> Duration;
}

/// The default clock: [`Instant`]-based, its origin at creation.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock reading zero now.
    pub fn new() -> Self {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only when told to, for tests.
///
/// ```
/// use std::sync::Arc;
/// use ultra_core::cache::{Cache, CacheOptions, ManualClock};
///
/// let clock = Arc::new(ManualClock::new());
/// let mut cache = Cache::with_clock(
///     CacheOptions { ttl_ms: Some(100.0), ..CacheOptions::default() },
///     clock.clone(),
/// )?;
/// cache.set("k", "v", None)?;
/// clock.advance_ms(99);
/// assert!(cache.has("k"));
/// clock.advance_ms(1);
/// assert!(!cache.has("k"));
/// # Ok::<(), ultra_core::cache::CacheError>(())
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock reading zero.
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// Moves the clock forward by `d` (saturating).
    pub fn advance(&self, d: Duration) {
        let d = duration_ns(d);
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .nanos
            .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_add(d)));
    }

    /// Moves the clock forward by `ms` milliseconds.
    pub fn advance_ms(&self, ms: u64) {
        self.advance(Duration::from_millis(ms));
    }

    /// Sets the clock's reading.
    pub fn set(&self, now: Duration) {
        self.nanos.store(duration_ns(now), Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Relaxed))
    }
}

pub(super) fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Converts a TTL in ms to ns; 0 = no expiry.
pub(super) fn ttl_ns(option: &'static str, ms: f64) -> Result<u64, CacheError> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(CacheError::InvalidTtl { option, value: ms });
    }
    if ms == 0.0 {
        return Ok(0);
    }
    let ns = (ms * 1e6).ceil();
    // `as` saturates; a positive TTL never rounds down to "no expiry".
    Ok((ns as u64).max(1))
}

pub(super) fn expiry(now: u64, ttl_ns: u64) -> u64 {
    if ttl_ns == 0 {
        u64::MAX
    } else {
        now.saturating_add(ttl_ns)
    }
}

/// The time an entry has left, from [`Cache::remaining_ttl`](super::Cache::remaining_ttl).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemainingTtl {
    /// The entry has no TTL.
    NoExpiry,
    /// The entry expires after this long (never zero: an entry with no time left is expired).
    Expires(Duration),
}

impl RemainingTtl {
    /// Milliseconds left, `f64::INFINITY` for [`RemainingTtl::NoExpiry`] (what
    /// `lru-cache`'s `getRemainingTTL` answers).
    pub fn as_ms_f64(self) -> f64 {
        match self {
            RemainingTtl::NoExpiry => f64::INFINITY,
            RemainingTtl::Expires(d) => d.as_secs_f64() * 1e3,
        }
    }
}
