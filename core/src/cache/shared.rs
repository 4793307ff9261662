//! Shared and named caches: [`SharedCache`] and the process registry of named caches.

use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use ultra_alloc::Subsystem;

use super::options::Limits;
use super::{
    Cache, CacheError, CacheOptions, CacheStats, Clock, RemainingTtl, SetOutcome, Value, ValueRef,
};

///
/// One lock rather than shards: with shards the bounds would have to be split, so a cache of
/// 10 entries over 8 shards would evict at 2 entries in a shard and reject values above
/// `max_bytes / 8`, and recency would be per shard. One lock keeps exactly the semantics of
/// [`Cache`] (which the differential test checks) and exact stats. The critical sections are
/// a hash look-up plus one copy of the value; the callers are a handful of Node workers, each
/// of which pays far more to cross the napi boundary. Closures passed to
/// [`SharedCache::get_with`] run under the lock: keep them short.
#[derive(Debug)]
pub struct SharedCache {
    name: Option<Box<str>>,
    inner: Mutex<Cache>,
}

static REGISTRY: Mutex<Vec<(Box<str>, Weak<SharedCache>)>> = Mutex::new(Vec::new());

impl SharedCache {
    /// A shared cache with the given bounds.
    pub fn new(options: CacheOptions) -> Result<SharedCache, CacheError> {
        Ok(SharedCache::from_cache(Cache::new(options)?))
    }

    /// A shared cache with the given bounds and clock.
    pub fn with_clock(
        options: CacheOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<SharedCache, CacheError> {
        Ok(SharedCache::from_cache(Cache::with_clock(options, clock)?))
    }

    /// Wraps an existing cache.
    pub fn from_cache(cache: Cache) -> SharedCache {
        SharedCache {
            name: None,
            inner: Mutex::new(cache),
        }
    }

    /// The process-wide cache called `name`, created with `options` if no live cache has that
    /// name. The registry holds caches weakly: once every `Arc` is dropped the cache is freed
    /// and the name can be reused with any options.
    ///
    /// If a live cache has that name, it is returned when its options equal `options` (after
    /// [normalization](CacheOptions::normalized)); otherwise the answer is
    /// [`CacheError::OptionsMismatch`] — two parts of a program disagreeing about a shared
    /// cache's bounds is a bug better seen than hidden. Invalid options are an error even when
    /// the name exists. Use [`SharedCache::find_named`] to attach without knowing the options.
    pub fn named(name: &str, options: CacheOptions) -> Result<Arc<SharedCache>, CacheError> {
        if name.is_empty() {
            return Err(CacheError::EmptyName);
        }
        Limits::new(&options)?;
        let wanted = options.normalized();
        ultra_alloc::scope(Subsystem::Cache, || {
            let mut reg = REGISTRY.lock();
            reg.retain(|(_, w)| w.strong_count() > 0);
            if let Some(existing) = reg
                .iter()
                .find(|(n, _)| &**n == name)
                .and_then(|(_, w)| w.upgrade())
            {
                let existing_options = existing.options();
                return if existing_options == wanted {
                    Ok(existing)
                } else {
                    Err(CacheError::OptionsMismatch {
                        name: name.to_owned(),
                        existing: Box::new(existing_options),
                    })
                };
            }
            let cache = Arc::new(SharedCache {
                name: Some(name.into()),
                inner: Mutex::new(Cache::new(options)?),
            });
            reg.push((name.into(), Arc::downgrade(&cache)));
            Ok(cache)
        })
    }

    /// The live cache called `name`, if any.
    pub fn find_named(name: &str) -> Option<Arc<SharedCache>> {
        let reg = REGISTRY.lock();
        reg.iter()
            .find(|(n, _)| &**n == name)
            .and_then(|(_, w)| w.upgrade())
    }

    /// Every live named cache (for exporting per-cache figures).
    pub fn named_caches() -> Vec<Arc<SharedCache>> {
        let reg = REGISTRY.lock();
        reg.iter().filter_map(|(_, w)| w.upgrade()).collect()
    }

    /// The figures of the live named caches, `(name, stats)`, in the order their names were
    /// first opened, at most `limit` of them (per-cache metrics bound their label values:
    /// `ultra_alloc::config::MAX_CACHE_LABELS`). Each cache's figures are read under its lock;
    /// read them before [`caches_total`](super::caches_total) and every counter of the total
    /// is at least the sum of theirs.
    pub fn named_stats(limit: usize) -> Vec<(Box<str>, CacheStats)> {
        let live: Vec<Arc<SharedCache>> = {
            let reg = REGISTRY.lock();
            reg.iter()
                .filter_map(|(_, w)| w.upgrade())
                .take(limit)
                .collect()
        };
        live.iter()
            .map(|c| (c.name().unwrap_or_default().into(), c.stats()))
            .collect()
    }

    /// The name given to [`SharedCache::named`], if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Runs `f` on the cache under the lock (for several operations in one critical section).
    pub fn with<R>(&self, f: impl FnOnce(&mut Cache) -> R) -> R {
        f(&mut self.inner.lock())
    }

    /// See [`Cache::get_with`]; `f` runs under the lock.
    pub fn get_with<R>(
        &self,
        key: &(impl AsRef<[u8]> + ?Sized),
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        self.inner.lock().get_with(key, f)
    }

    /// See [`Cache::get`].
    pub fn get(&self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<Value> {
        self.inner.lock().get(key)
    }

    /// See [`Cache::peek_with`]; `f` runs under the lock.
    pub fn peek_with<R>(
        &self,
        key: &(impl AsRef<[u8]> + ?Sized),
        f: impl FnOnce(&Value) -> R,
    ) -> Option<R> {
        self.inner.lock().peek_with(key, f)
    }

    /// See [`Cache::peek`].
    pub fn peek(&self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<Value> {
        self.inner.lock().peek(key)
    }

    /// See [`Cache::has`].
    pub fn has(&self, key: &(impl AsRef<[u8]> + ?Sized)) -> bool {
        self.inner.lock().has(key)
    }

    /// See [`Cache::set`].
    pub fn set<'v>(
        &self,
        key: &(impl AsRef<[u8]> + ?Sized),
        value: impl Into<ValueRef<'v>>,
        ttl_ms: Option<f64>,
    ) -> Result<SetOutcome, CacheError> {
        self.inner.lock().set(key, value, ttl_ms)
    }

    /// See [`Cache::delete`].
    pub fn delete(&self, key: &(impl AsRef<[u8]> + ?Sized)) -> bool {
        self.inner.lock().delete(key)
    }

    /// See [`Cache::clear`].
    pub fn clear(&self) {
        self.inner.lock().clear()
    }

    /// See [`Cache::purge_expired`].
    pub fn purge_expired(&self) -> usize {
        self.inner.lock().purge_expired()
    }

    /// See [`Cache::remaining_ttl`].
    pub fn remaining_ttl(&self, key: &(impl AsRef<[u8]> + ?Sized)) -> Option<RemainingTtl> {
        self.inner.lock().remaining_ttl(key)
    }

    /// Copies of the live keys, most recent first (allocated in the caller's scope).
    pub fn keys(&self) -> Vec<Box<[u8]>> {
        self.inner.lock().keys().map(Box::from).collect()
    }

    /// See [`Cache::len`].
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    /// See [`Cache::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.inner.lock().is_empty()
    }

    /// See [`Cache::bytes`].
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes()
    }

    /// See [`Cache::stats`].
    pub fn stats(&self) -> CacheStats {
        self.inner.lock().stats()
    }

    /// See [`Cache::options`].
    pub fn options(&self) -> CacheOptions {
        self.inner.lock().options()
    }
}
