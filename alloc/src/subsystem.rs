//! Subsystems and the per-thread allocation scope.

use std::fmt;
use std::marker::PhantomData;

use crate::counters::STATE;

/// The part of the program an allocation is credited to.
///
/// Allocations made outside any [`scope`] are credited to [`Subsystem::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Subsystem {
    /// Anything not made inside a named scope (host glue, runtime, `Other` scopes).
    Other = 0,
    /// The LRU cache: entries, keys, values and the index.
    Cache = 1,
    /// JSON validation, parsing, minification and pointer look-ups.
    Json = 2,
    /// BLAKE3 and XXH3 hashing (streaming state, outputs).
    Hash = 3,
    /// Bump arenas: their chunks.
    Arena = 4,
    /// Buffer pools: pooled buffers, idle or handed out.
    Pool = 5,
    /// The metrics exporter: recorder, rendering, HTTP serving.
    Exporter = 6,
}

impl Subsystem {
    /// Number of subsystems.
    pub const COUNT: usize = 7;

    /// Every subsystem, in the order of their numeric ids.
    pub const ALL: [Subsystem; Self::COUNT] = [
        Subsystem::Other,
        Subsystem::Cache,
        Subsystem::Json,
        Subsystem::Hash,
        Subsystem::Arena,
        Subsystem::Pool,
        Subsystem::Exporter,
    ];

    /// Lowercase name, used as the Prometheus `subsystem` label and as the JS key.
    pub const fn name(self) -> &'static str {
        match self {
            Subsystem::Other => "other",
            Subsystem::Cache => "cache",
            Subsystem::Json => "json",
            Subsystem::Hash => "hash",
            Subsystem::Arena => "arena",
            Subsystem::Pool => "pool",
            Subsystem::Exporter => "exporter",
        }
    }

    /// Index of this subsystem in [`Subsystem::ALL`] and in per-subsystem arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The subsystem with the given id, clamped to `Other` for ids out of range.
    pub(crate) const fn from_id(id: u8) -> Subsystem {
        match id {
            1 => Subsystem::Cache,
            2 => Subsystem::Json,
            3 => Subsystem::Hash,
            4 => Subsystem::Arena,
            5 => Subsystem::Pool,
            6 => Subsystem::Exporter,
            _ => Subsystem::Other,
        }
    }

    /// The subsystem allocations on this thread are currently credited to.
    pub fn current() -> Subsystem {
        Subsystem::from_id(current_id())
    }

    /// Credits this thread's allocations to `self` until the returned guard drops.
    ///
    /// Guards nest: dropping one restores the subsystem that was active before it.
    pub fn enter(self) -> ScopeGuard {
        let previous = STATE.with(|s| s.current.replace(self as u8));
        ScopeGuard {
            previous,
            _not_send: PhantomData,
        }
    }
}

impl fmt::Display for Subsystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The id of this thread's current subsystem.
#[inline]
pub(crate) fn current_id() -> u8 {
    STATE.with(|s| s.current.get())
}

/// Restores the previously active subsystem when dropped. Returned by [`Subsystem::enter`].
///
/// The guard is bound to the thread that created it (`!Send`).
#[must_use = "the scope ends as soon as the guard is dropped"]
#[derive(Debug)]
pub struct ScopeGuard {
    previous: u8,
    _not_send: PhantomData<*const ()>,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        STATE.with(|s| s.current.set(self.previous));
    }
}

/// Runs `f` with this thread's allocations credited to `subsystem`.
///
/// ```
/// use ultra_alloc::{scope, Subsystem};
/// let v = scope(Subsystem::Cache, || vec![0u8; 1024]);
/// assert_eq!(Subsystem::current(), Subsystem::Other);
/// # drop(v);
/// ```
pub fn scope<R>(subsystem: Subsystem, f: impl FnOnce() -> R) -> R {
    let _guard = subsystem.enter();
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_restore() {
        assert_eq!(Subsystem::current(), Subsystem::Other);
        scope(Subsystem::Cache, || {
            assert_eq!(Subsystem::current(), Subsystem::Cache);
            scope(Subsystem::Json, || {
                assert_eq!(Subsystem::current(), Subsystem::Json)
            });
            assert_eq!(Subsystem::current(), Subsystem::Cache);
        });
        assert_eq!(Subsystem::current(), Subsystem::Other);
    }

    #[test]
    fn ids_round_trip() {
        for s in Subsystem::ALL {
            assert_eq!(Subsystem::from_id(s as u8), s);
            assert_eq!(Subsystem::ALL[s.index()], s);
        }
        assert_eq!(Subsystem::from_id(200), Subsystem::Other);
    }
}
