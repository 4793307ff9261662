//! The single-threaded [`Cache`]: look-ups, inserts, eviction and removal.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use lru::LruCache;
use ultra_alloc::Subsystem;

use super::clock::{duration_ns, expiry, ttl_ns};
use super::entry::Entry;
use super::options::Limits;
use super::stats::{Book, TOTALS};
use super::{
    CacheError, CacheOptions, CacheStats, Clock, EntryInfo, EvictionReason, MonotonicClock,
    ReadOptions, RemainingTtl, Value, ValueRef,
};

/// What [`Cache::set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetOutcome {
    /// The key was absent (or expired) and was added.
    Inserted,
    /// The key was live and its value was replaced.
    Updated,
}

/// Least-recently-used cache with byte and entry bounds and TTLs; see the [module](super) docs.
pub struct Cache {
    lru: LruCache<Box<[u8]>, Entry>,
    limits: Limits,
    options: CacheOptions,
    /// How look-ups without options of their own treat expired entries.
    read: ReadOptions,
    clock: Arc<dyn Clock>,
    book: Book,
    /// Most entries held since the hash index was last rebuilt.
    high_water: usize,
    /// Length at which a TTL-only cache with
    /// [`Policy::ttl_autopurge`](super::Policy::ttl_autopurge) purges next.
    purge_at: usize,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("len", &self.lru.len())
            .field("bytes", &self.book.bytes)
            .field("options", &self.options)
            .field("clock", &self.clock)
            .finish()
    }
}

/// Length from which a TTL-only cache with [`Policy::ttl_autopurge`](super::Policy::ttl_autopurge)
/// purges expired entries.
pub(super) const PURGE_MIN: usize = 64;

/// Entries below which the hash index is never rebuilt smaller.
const SHRINK_MIN: usize = 64;

impl Cache {
    /// A cache with the given bounds and the [`MonotonicClock`].
    pub fn new(options: CacheOptions) -> Result<Cache, CacheError> {
        let clock: Arc<dyn Clock> =
            ultra_alloc::scope(Subsystem::Cache, || Arc::new(MonotonicClock::new()));
        Cache::with_clock(options, clock)
    }

    /// A cache with the given bounds, reading time from `clock`.
    pub fn with_clock(options: CacheOptions, clock: Arc<dyn Clock>) -> Result<Cache, CacheError> {
        let limits = Limits::new(&options)?;
        let lru = ultra_alloc::scope(Subsystem::Cache, LruCache::unbounded);
        TOTALS.caches.fetch_add(1, Relaxed);
        Ok(Cache {
            lru,
            limits,
            read: options.read_options(),
            options: options.normalized(),
            clock,
            book: Book::default(),
            high_water: 0,
            purge_at: PURGE_MIN,
        })
    }

    /// The options, normalized (`0` written as `None`).
    pub fn options(&self) -> CacheOptions {
        self.options
    }

    fn now(&self) -> u64 {
        duration_ns(self.clock.now())
    }

    /// Looks `key` up; `f` sees the value of a live entry, outside the `Cache` scope.
    ///
    /// A hit makes the entry the most recent and, with `update_age_on_get`, restarts its TTL.
    /// Use this to copy the value straight where it goes (e.g. into a JS string) without an
    /// intermediate copy. An expired entry is treated as [`CacheOptions::read_options`] say
    /// (by default: a miss, and removed).
    pub fn get_with<R>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        let read = self.read;
        self.get_with_options(key, read, f)
    }

    /// [`Cache::get_with`] with per-call [`ReadOptions`] instead of the cache's.
    ///
    /// A live entry becomes the most recent (and with `update_age` its TTL restarts). An
    /// expired entry counts a miss and keeps its place; `f` sees its value only with
    /// `allow_stale`; it is removed (an `expired` eviction) unless `keep_stale`.
    pub fn get_with_options<R>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        read: ReadOptions,
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        self.get_entry(key.as_ref(), read, |e| e.lend(f))
    }

    /// [`Cache::get_with_options`], `f` seeing the entry itself.
    #[inline]
    fn get_entry<R>(
        &mut self,
        key: &[u8],
        read: ReadOptions,
        f: impl FnOnce(&mut Entry) -> R,
    ) -> Option<R> {
        // No scope: a look-up allocates nothing, and a free is debited from the block's own
        // subsystem wherever it happens. The clock is read only for an entry that expires.
        // An entry that may stay in place while expired is looked up without promoting it.
        let clock = &self.clock;
        let found = if read.keep_stale {
            self.lru.peek_mut(key)
        } else {
            self.lru.get_mut(key)
        };
        let Some(e) = found else {
            self.book.miss();
            return None;
        };
        if e.ttl_ns() != 0 {
            let now = duration_ns(clock.now());
            if e.expired(now) {
                let r = read.allow_stale.then(|| f(e));
                if !read.keep_stale {
                    self.remove_expired(key);
                }
                self.book.miss();
                return r;
            }
            if read.update_age {
                e.expires_at = expiry(now, e.ttl_ns());
            }
        }
        let r = f(e);
        if read.keep_stale {
            self.lru.promote(key);
        }
        self.book.hit();
        Some(r)
    }

    /// A copy of the live value of `key` (allocated in the caller's scope); see
    /// [`Cache::get_with`].
    pub fn get(&mut self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<Value> {
        let read = self.read;
        self.get_entry(key.as_ref(), read, |e| e.value().to_value())
    }

    /// Like [`Cache::get_with`], but leaves recency and age alone (and, without
    /// [`Policy::count_peeks`](super::Policy::count_peeks), counts no hit or miss).
    pub fn peek_with<R>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        let read = self.read;
        self.peek_with_options(key, read, f)
    }

    /// [`Cache::peek_with`] with per-call [`ReadOptions`]: `f` sees an expired entry's value
    /// with `allow_stale`. With [`Policy::peeks_remove_stale`](super::Policy::peeks_remove_stale)
    /// an expired entry is removed unless `keep_stale`; without, `peek` never removes one.
    /// `update_age` is not used.
    pub fn peek_with_options<R>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        read: ReadOptions,
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        self.peek_entry(key.as_ref(), read, |e| e.lend(f))
    }

    /// [`Cache::peek_with_options`], `f` seeing the entry itself.
    #[inline]
    fn peek_entry<R>(
        &mut self,
        key: &[u8],
        read: ReadOptions,
        f: impl FnOnce(&mut Entry) -> R,
    ) -> Option<R> {
        // No scope and no clock read without a TTL, as in `get_with`.
        let policy = self.limits.policy;
        let clock = &self.clock;
        let (r, live) = match self.lru.peek_mut(key) {
            None => (None, false),
            Some(e) if e.ttl_ns() == 0 || !e.expired(duration_ns(clock.now())) => {
                (Some(f(e)), true)
            }
            Some(e) => {
                let r = read.allow_stale.then(|| f(e));
                if policy.peeks_remove_stale && !read.keep_stale {
                    self.remove_expired(key);
                }
                (r, false)
            }
        };
        if policy.count_peeks {
            if live {
                self.book.hit();
            } else {
                self.book.miss();
            }
        }
        r
    }

    /// A copy of the live value of `key`, leaving recency and age alone.
    pub fn peek(&mut self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<Value> {
        let read = self.read;
        self.peek_entry(key.as_ref(), read, |e| e.value().to_value())
    }

    /// Whether `key` has a live entry; counts a hit or a miss (with
    /// [`Policy::count_peeks`](super::Policy::count_peeks)), leaves recency alone.
    pub fn has(&mut self, key: &(impl AsRef<[u8]> + ?Sized)) -> bool {
        self.has_with_options(key, false)
    }

    /// [`Cache::has`]; with `update_age`, a live entry's TTL restarts. An expired entry is
    /// never "had", whatever the [`ReadOptions`] of the cache.
    pub fn has_with_options(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        update_age: bool,
    ) -> bool {
        let key = key.as_ref();
        let read = ReadOptions {
            allow_stale: false,
            ..self.read
        };
        if !update_age {
            return self.peek_with_options(key, read, |_| ()).is_some();
        }
        let now = self.now();
        let found = self.peek_with_options(key, read, |_| ()).is_some();
        if found {
            if let Some(e) = self.lru.peek_mut(key) {
                e.expires_at = expiry(now, e.ttl_ns());
            }
        }
        found
    }

    /// Removes the expired entry of `key` (known to be there).
    fn remove_expired(&mut self, key: &[u8]) {
        // Shrinking the index reallocates it: in the Cache scope.
        let _guard = Subsystem::Cache.enter();
        if let Some(e) = self.lru.pop(key) {
            self.book.removed(
                1,
                e.weight(key, self.limits.weigher),
                Some(EvictionReason::Expired),
            );
            drop(e);
            self.maybe_shrink();
        }
    }

    /// Stores a copy of `value` under `key`, the most recent entry, then evicts from the least
    /// recent end until the bounds hold.
    ///
    /// `ttl_ms`: `None` uses the cache's default TTL, `Some(0.0)` means no expiry, anything
    /// else must be finite and positive. Errors: [`CacheError::InvalidTtl`] (nothing changes),
    /// [`CacheError::EntryTooLarge`] (not stored, and any previous value of `key` removed).
    pub fn set<'v>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        value: impl Into<ValueRef<'v>>,
        ttl_ms: Option<f64>,
    ) -> Result<SetOutcome, CacheError> {
        self.set_aged(key, value, ttl_ms, Duration::ZERO)
    }

    /// [`Cache::set`] of an entry whose TTL started `age` ago (to restore one that
    /// [`Cache::entries`] showed, e.g. after a restart): it expires after `ttl - age`, and is
    /// stored even when already expired (stale). Without TTL, `age` is not used.
    pub fn set_aged<'v>(
        &mut self,
        key: &(impl AsRef<[u8]> + ?Sized),
        value: impl Into<ValueRef<'v>>,
        ttl_ms: Option<f64>,
        age: Duration,
    ) -> Result<SetOutcome, CacheError> {
        let key = key.as_ref();
        let value = value.into();
        let ttl_ns = match ttl_ms {
            None => self.limits.default_ttl_ns,
            Some(ms) => ttl_ns("per-entry ttl_ms", ms)?,
        };
        let _guard = Subsystem::Cache.enter();
        let now = self.now();
        let (policy, weigher) = (self.limits.policy, self.limits.weigher);
        let weight = weigher.weight(key.len(), value.data.len());
        if weight > self.limits.max_entry {
            if let Some(e) = self.lru.pop(key) {
                let counted = !policy.count_refusals && e.expired(now);
                let reason = counted.then_some(EvictionReason::Expired);
                self.book.removed(1, e.weight(key, weigher), reason);
                drop(e);
                self.maybe_shrink();
            }
            if policy.count_refusals {
                self.book.refused();
            }
            return Err(CacheError::EntryTooLarge {
                weight,
                max_bytes: self.limits.max_entry,
                overhead: weigher.overhead,
            });
        }
        let expires_at = match expiry(now, ttl_ns) {
            u64::MAX => u64::MAX,
            at => at.saturating_sub(duration_ns(age)),
        };
        let outcome = match self.lru.get_mut(key) {
            Some(e) => {
                let old = e.weight(key, weigher);
                let was_expired = e.expired(now);
                e.replace(value, ttl_ns, expires_at);
                if was_expired {
                    self.book.removed(1, old, Some(EvictionReason::Expired));
                    self.book.inserted(weight);
                    SetOutcome::Inserted
                } else {
                    self.book.updated(old, weight);
                    SetOutcome::Updated
                }
            }
            None => {
                let entry = Entry::new(value, ttl_ns, expires_at);
                self.lru.push(Box::from(key), entry);
                self.book.inserted(weight);
                self.high_water = self.high_water.max(self.lru.len());
                SetOutcome::Inserted
            }
        };
        self.evict_to_fit(now);
        self.autopurge();
        self.maybe_shrink();
        Ok(outcome)
    }

    /// Keeps a TTL-only cache with [`Policy::ttl_autopurge`](super::Policy::ttl_autopurge) within
    /// twice its live entries (amortised O(1) per `set`).
    fn autopurge(&mut self) {
        let l = &self.limits;
        let ttl_only = l.max_entries == usize::MAX && l.max_bytes == usize::MAX;
        if !l.policy.ttl_autopurge || !ttl_only || self.lru.len() < self.purge_at {
            return;
        }
        self.purge_expired();
        self.purge_at = self.lru.len().saturating_mul(2).max(PURGE_MIN);
    }

    fn evict_to_fit(&mut self, now: u64) {
        loop {
            let over_entries = self.lru.len() > self.limits.max_entries;
            if !over_entries && self.book.bytes <= self.limits.max_bytes {
                return;
            }
            let Some((key, e)) = self.lru.pop_lru() else {
                return;
            };
            let reason = if e.expired(now) {
                EvictionReason::Expired
            } else if over_entries {
                EvictionReason::Capacity
            } else {
                EvictionReason::Size
            };
            self.book
                .removed(1, e.weight(&key, self.limits.weigher), Some(reason));
        }
    }

    /// Removes `key`. With
    /// [`Policy::delete_stale_is_eviction`](super::Policy::delete_stale_is_eviction), returns
    /// whether it had a live entry (an expired one is removed too, counted as an `expired`
    /// eviction, and `false` is returned). Without, returns whether it had an entry, expired or not
    /// (not counted as an eviction).
    pub fn delete(&mut self, key: &(impl AsRef<[u8]> + ?Sized)) -> bool {
        let key = key.as_ref();
        let _guard = Subsystem::Cache.enter();
        let now = self.now();
        let Some(e) = self.lru.pop(key) else {
            return false;
        };
        let live = !e.expired(now);
        let counts = self.limits.policy.delete_stale_is_eviction;
        let reason = (!live && counts).then_some(EvictionReason::Expired);
        self.book
            .removed(1, e.weight(key, self.limits.weigher), reason);
        drop(e);
        self.maybe_shrink();
        live || !counts
    }

    /// Removes every entry and frees the hash index (not counted as evictions).
    pub fn clear(&mut self) {
        let _guard = Subsystem::Cache.enter();
        let old = std::mem::replace(&mut self.lru, LruCache::unbounded());
        let bytes = self.book.bytes;
        self.book.removed(old.len(), bytes, None);
        self.high_water = 0;
        drop(old);
    }

    /// Removes every expired entry; returns how many (each an `expired` eviction).
    pub fn purge_expired(&mut self) -> usize {
        let _guard = Subsystem::Cache.enter();
        let now = self.now();
        let (mut n, mut weight) = (0, 0);
        let weigher = self.limits.weigher;
        self.lru.retain(|k, e| {
            let expired = e.expired(now);
            if expired {
                n += 1;
                weight += e.weight(k, weigher);
            }
            !expired
        });
        self.book.removed(n, weight, Some(EvictionReason::Expired));
        self.maybe_shrink();
        n
    }

    /// The time `key` has left: `None` if absent or expired (an expired entry is removed,
    /// counted as an `expired` eviction, with
    /// [`Policy::peeks_remove_stale`](super::Policy::peeks_remove_stale); without, it is left).
    /// Counts no hit or miss, leaves recency alone.
    pub fn remaining_ttl(&mut self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<RemainingTtl> {
        let key = key.as_ref();
        let _guard = Subsystem::Cache.enter();
        let now = self.now();
        let e = self.lru.peek(key)?;
        if e.expired(now) {
            if self.limits.policy.peeks_remove_stale {
                self.remove_expired(key);
            }
            return None;
        }
        Some(if e.ttl_ns() == 0 || e.expires_at == u64::MAX {
            RemainingTtl::NoExpiry
        } else {
            RemainingTtl::Expires(Duration::from_nanos(e.expires_at - now))
        })
    }

    /// The entries, most recent first, stale ones only with `include_stale`; with their TTL and
    /// age, from which [`Cache::set_aged`] restores them; each value a copy, allocated in the
    /// caller's scope. Counts nothing, changes nothing.
    pub fn entries(&self, include_stale: bool) -> impl Iterator<Item = EntryInfo<'_>> + '_ {
        let now = self.now();
        self.lru.iter().filter_map(move |(k, e)| {
            let stale = e.expired(now);
            if stale && !include_stale {
                return None;
            }
            let ttl_ns = e.ttl_ns();
            let (ttl, age) = if ttl_ns == 0 {
                (None, Duration::ZERO)
            } else {
                let start = e.expires_at.saturating_sub(ttl_ns);
                (
                    Some(Duration::from_nanos(ttl_ns)),
                    Duration::from_nanos(now.saturating_sub(start)),
                )
            };
            Some(EntryInfo {
                key: k,
                value: e.value().to_value(),
                ttl,
                age,
                stale,
            })
        })
    }

    /// Keys of the live entries, most recent first. Counts nothing, changes nothing.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let now = self.now();
        self.lru
            .iter()
            .filter(move |(_, e)| !e.expired(now))
            .map(|(k, _)| &**k)
    }

    /// Entries held, including expired ones not yet removed.
    pub fn len(&self) -> usize {
        self.lru.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.lru.is_empty()
    }

    /// Sum of the entries' weights (see [`EntryWeight`](super::EntryWeight)), expired ones not yet
    /// removed included.
    pub fn bytes(&self) -> usize {
        self.book.bytes
    }

    /// This cache's figures.
    pub fn stats(&self) -> CacheStats {
        let b = &self.book;
        CacheStats {
            caches: 1,
            hits: b.hits,
            misses: b.misses,
            inserts: b.inserts,
            updates: b.updates,
            evictions_capacity: b.evictions[0],
            evictions_size: b.evictions[1],
            evictions_expired: b.evictions[2],
            entries: self.lru.len() as u64,
            bytes: b.bytes as u64,
        }
    }

    /// Rebuilds the hash index smaller once the entries fall to a quarter of their high-water
    /// mark (amortized O(1): at least 3/4 of the entries left since the last rebuild).
    fn maybe_shrink(&mut self) {
        let len = self.lru.len();
        if self.high_water >= SHRINK_MIN && len.saturating_mul(4) <= self.high_water {
            // `LruCache` exposes its map's `shrink_to_fit` only through `resize`, which does
            // nothing when the capacity is unchanged. The bounds are ours, so the lru's own
            // capacity is only ever one of these two unreachable values.
            let cap = if self.lru.cap().get() == usize::MAX {
                usize::MAX - 1
            } else {
                usize::MAX
            };
            if let Some(cap) = std::num::NonZeroUsize::new(cap) {
                self.lru.resize(cap);
            }
            self.high_water = len;
        }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        TOTALS.caches.fetch_sub(1, Relaxed);
        TOTALS.entries.fetch_sub(self.lru.len() as i64, Relaxed);
        TOTALS.bytes.fetch_sub(self.book.bytes as i64, Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
