//! The cache for JS, on `ultra_core::cache` with the [`Policy`] that adds up to the
//! `lru-cache` package's behaviour ([`LRU_CACHE`]), which the JS API documents.
//!
//! An unnamed cache is a plain [`Cache`] owned by its JS handle. A named cache is a
//! [`SharedCache`] from the process-wide registry of `ultra_core`, so every `worker_thread`
//! that opens the name gets the same cache. The addon also keeps every named cache it opened
//! for the rest of the process: a worker that fills a named cache and exits must not take
//! the cache with it (the registry of `ultra_core` holds caches weakly). `clear()` empties one.
//!
//! Test-only: an unnamed cache created with the engine option `testClock: true` (which
//! `lib/cache.js` never passes) reads the TTL clock that `advanceTestClock(ms)` moves, so that
//! the differential test against lru-cache can drive both caches' time.

use std::sync::{Arc, LazyLock, Mutex};

use napi::{sys, Env};
use ultra_core::cache::{
    Cache, CacheError, CacheOptions, EntryWeight, ManualClock, Policy, ReadOptions, RemainingTtl,
    SharedCache, Value, ValueKind, ValueRef, ENTRY_OVERHEAD,
};

use crate::error::{integer, range_error, type_error, Fail, R};
use crate::glue::{self, Class, Member};
use crate::raw::{self, Kind, Val};

/// Largest `max` (`MAX_CACHE_ENTRIES`, shared with `lib/validate.js` and the configuration).
const MAX_CACHE_ENTRIES: f64 = ultra_alloc::config::MAX_CACHE_ENTRIES as f64;
/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE: f64 = ultra_alloc::config::MAX_SAFE as f64;
/// The lightest entry's weight, the least `maxBytes` and `maxEntrySize` can be.
const LIGHTEST: f64 = ENTRY_OVERHEAD as f64;
/// Longest cache name, in UTF-16 units (shared with `lib/cache.js` through the configuration).
const MAX_NAME_LENGTH: usize = ultra_alloc::config::MAX_CACHE_NAME_LENGTH as usize;

/// `lru-cache` 11's semantics, and the `stats()` figures the JS API documents, in core's terms:
///
/// - an entry weighs what it really holds, key + value + [`ENTRY_OVERHEAD`]
///   ([`EntryWeight::Footprint`]): `maxBytes` (a name of ours, not lru-cache's `maxSize`) is a
///   bound on the cache's memory, and the fallback weighs entries the same way;
/// - only `get` counts hits and misses: `peek` and `has` count nothing;
/// - `peek`, `has` and `getRemainingTTL` leave a stale entry in place (only `get`, `set` and
///   `purgeStale` remove one);
/// - `delete` of a stale entry answers `true` and is no eviction;
/// - a value refused for `maxBytes` or `maxEntrySize` counts as a `size` eviction;
/// - `ttlAutopurge` for a cache bounded by TTL alone, which would otherwise keep every expired
///   entry until met (the fallback sets lru-cache's option the same way).
const LRU_CACHE: Policy = Policy {
    weight: EntryWeight::Footprint,
    count_peeks: false,
    peeks_remove_stale: false,
    delete_stale_is_eviction: false,
    count_refusals: true,
    ttl_autopurge: true,
};

/// Named caches this process opened, kept for its lifetime (see the module docs).
static KEPT: Mutex<Vec<Arc<SharedCache>>> = Mutex::new(Vec::new());

/// The clock of caches created with `testClock: true` (see the module docs).
static TEST_CLOCK: LazyLock<Arc<ManualClock>> = LazyLock::new(|| Arc::new(ManualClock::new()));

enum Inner {
    Local(Box<Cache>),
    Shared(Arc<SharedCache>),
}

/// A string-keyed LRU cache of strings and bytes (the engine side of `createCache`).
pub struct NativeCache {
    inner: Inner,
}

impl Class for NativeCache {
    const NAME: &'static std::ffi::CStr = c"NativeCache";
    const TAG: sys::napi_type_tag = sys::napi_type_tag {
        lower: 0x756c_7472_615f_6361,
        upper: 0x0001,
    };
    const SLOT: usize = 0;
}

/// An optional number option: `None` when undefined.
fn opt_number(env: Env, options: Val, name: &std::ffi::CStr) -> R<(Val, Option<f64>)> {
    let v = raw::get(env, options, name)?;
    let n = match raw::kind(env, v)? {
        Kind::Undefined => None,
        _ => Some(raw::number(env, v)?.unwrap_or(f64::NAN)),
    };
    Ok((v, n))
}

/// Checks an integer option in `[min, max]`.
fn int_in(env: Env, param: &str, v: Val, n: Option<f64>, min: f64, max: f64) -> R<Option<usize>> {
    if n.is_none() {
        return Ok(None);
    }
    integer(env, "createCache", param, v, min, max).map(|n| Some(n as usize))
}

/// An optional boolean option of `createCache`: `false` when undefined.
fn flag(env: Env, options: Val, name: &std::ffi::CStr, param: &str) -> R<bool> {
    let v = raw::get(env, options, name)?;
    match raw::kind(env, v)? {
        Kind::Undefined => Ok(false),
        Kind::Boolean => Ok(raw::boolean(env, v)?.unwrap_or_default()),
        _ => Err(type_error("createCache", param)),
    }
}

/// Checks a TTL in milliseconds: a finite number `>= 0`.
fn ttl(env: Env, function: &str, param: &str, v: Val, n: Option<f64>) -> R<Option<f64>> {
    let Some(n) = n else { return Ok(None) };
    if raw::kind(env, v)? != Kind::Number {
        return Err(type_error(function, param));
    }
    if !(0.0..=MAX_SAFE).contains(&n) {
        return Err(range_error(function, param));
    }
    Ok(Some(n.ceil()))
}

/// `createCache(options)`: creates or opens a cache from complete options
/// `{ max, maxBytes, ttlMs, updateAgeOnGet, allowStale, noDeleteOnStaleGet, maxEntrySize,
/// name }` (absent bounds `undefined`; at least one bound). A named cache is shared by every thread of the process.
pub fn create_cache(env: Env, [options]: [Val; 1]) -> R<Val> {
    const F: &str = "createCache";
    if raw::kind(env, options)? != Kind::Object {
        return Err(type_error(F, "options"));
    }
    let (max_v, max) = opt_number(env, options, c"max")?;
    let max_entries = int_in(env, "options.max", max_v, max, 1.0, MAX_CACHE_ENTRIES)?;
    let (bytes_v, bytes) = opt_number(env, options, c"maxBytes")?;
    let max_bytes = int_in(env, "options.maxBytes", bytes_v, bytes, LIGHTEST, MAX_SAFE)?;
    let (ttl_v, ttl_n) = opt_number(env, options, c"ttlMs")?;
    let ttl_ms = ttl(env, F, "options.ttlMs", ttl_v, ttl_n)?;
    let (entry_v, entry) = opt_number(env, options, c"maxEntrySize")?;
    let max_entry_bytes = int_in(
        env,
        "options.maxEntrySize",
        entry_v,
        entry,
        LIGHTEST,
        MAX_SAFE,
    )?;
    let cache_options = CacheOptions {
        max_entries,
        max_bytes,
        ttl_ms,
        update_age_on_get: flag(env, options, c"updateAgeOnGet", "options.updateAgeOnGet")?,
        allow_stale: flag(env, options, c"allowStale", "options.allowStale")?,
        keep_stale: flag(
            env,
            options,
            c"noDeleteOnStaleGet",
            "options.noDeleteOnStaleGet",
        )?,
        max_entry_bytes,
        policy: LRU_CACHE,
    };
    let test_clock = flag(env, options, c"testClock", "options.testClock")?;
    let name_v = raw::get(env, options, c"name")?;
    let inner = match raw::kind(env, name_v)? {
        Kind::Undefined => {
            let cache = if test_clock {
                Cache::with_clock(cache_options, TEST_CLOCK.clone())
            } else {
                Cache::new(cache_options)
            };
            Inner::Local(Box::new(cache.map_err(|e| options_error(&e))?))
        }
        Kind::String => {
            let units = raw::utf16(env, name_v)?;
            if units.is_empty() || units.len() > MAX_NAME_LENGTH {
                return Err(range_error(F, "options.name"));
            }
            let name = String::from_utf16_lossy(&units);
            match SharedCache::named(&name, cache_options) {
                Ok(shared) => {
                    keep(&shared);
                    Inner::Shared(shared)
                }
                Err(CacheError::OptionsMismatch { .. }) => {
                    // `lib/` words it with `validate.namedCacheMismatchError`.
                    return Err(Fail::Refused {
                        code: "ULTRA_NAMED_CACHE_MISMATCH",
                        message: format!("{F}: the cache named {name:?} is open with other bounds"),
                    });
                }
                Err(e) => return Err(options_error(&e)),
            }
        }
        _ => return Err(type_error(F, "options.name")),
    };
    glue::instance(env, NativeCache { inner })
}

/// `advanceTestClock(ms)`: moves the clock of `testClock` caches forward by whole `ms`.
fn advance_test_clock(env: Env, [ms]: [Val; 1]) -> R<Val> {
    let ms = integer(env, "advanceTestClock", "ms", ms, 0.0, MAX_SAFE)?;
    TEST_CLOCK.advance_ms(ms as u64);
    raw::undefined(env)
}

/// Keeps a named cache for the life of the process (once).
fn keep(shared: &Arc<SharedCache>) {
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    if !kept.iter().any(|k| Arc::ptr_eq(k, shared)) {
        kept.push(Arc::clone(shared));
    }
}

/// The RangeError for options the core refused (no bound at all, in practice).
fn options_error(e: &CacheError) -> Fail {
    Fail::Range(format!(
        "createCache: options are not valid cache options ({e})"
    ))
}

/// Reads a key: a string, as the cache's key bytes: its WTF-8 encoding, so that distinct JS
/// strings are distinct keys (a lone surrogate is encoded as itself, never as U+FFFD).
///
/// The UTF-8 that N-API writes is already WTF-8 unless the string holds a lone surrogate, which
/// N-API writes as U+FFFD (`EF BF BD`). Only a key whose UTF-8 holds that sequence is read
/// again as UTF-16 and encoded by hand, so the common key costs one N-API call and no
/// allocation. WTF-8 has as many bytes as `Buffer.byteLength`, so `maxBytes` counts the same.
fn with_key<T>(env: Env, function: &str, key: Val, f: impl FnOnce(&[u8]) -> R<T>) -> R<T> {
    if raw::kind(env, key)? != Kind::String {
        return Err(type_error(function, "key"));
    }
    with_wtf8(env, function, key, f)
}

/// Runs `f` on the WTF-8 encoding of the JS string `s` (see [`with_key`]): keys, and string
/// values, which therefore come back as the strings they were.
fn with_wtf8<T>(env: Env, function: &str, s: Val, f: impl FnOnce(&[u8]) -> R<T>) -> R<T> {
    let mut f = Some(f);
    let done = raw::with_utf8(env, s, |bytes| {
        if bytes.contains(&0xEF) && bytes.windows(3).any(|w| w == REPLACEMENT) {
            return Ok(None);
        }
        f.take().map(|f| f(bytes)).transpose()
    })?;
    match (done, f) {
        (Some(out), _) => Ok(out),
        (None, Some(f)) => f(&wtf8(&raw::utf16(env, s)?)),
        (None, None) => Err(Fail::Error(format!("{function}: string read twice"))),
    }
}

/// U+FFFD in UTF-8.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// The WTF-8 encoding of UTF-16 code units: UTF-8, with each lone surrogate encoded as the
/// three bytes its code point would take.
fn wtf8(units: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(units.len() * 3);
    for c in char::decode_utf16(units.iter().copied()) {
        match c {
            Ok(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            Err(e) => {
                let u = e.unpaired_surrogate();
                out.extend_from_slice(&[
                    0xE0 | (u >> 12) as u8,
                    0x80 | ((u >> 6) & 0x3F) as u8,
                    0x80 | (u & 0x3F) as u8,
                ]);
            }
        }
    }
    out
}

/// A key as the JS string it was made from (the inverse of [`with_key`]).
fn key_to_js(env: Env, key: &[u8]) -> R<Val> {
    if std::str::from_utf8(key).is_ok() {
        return raw::string_utf8(env, key);
    }
    raw::string_utf16(env, &utf16_of_wtf8(key))
}

/// A string value as the JS string it was made from. WTF-8 differs from UTF-8 only by lone
/// surrogates, encoded `ED A0..BF ..`: text without an `ED` byte (found with memchr) goes
/// straight to V8 as UTF-8.
fn text_to_js(env: Env, text: &[u8]) -> R<Val> {
    if !text.contains(&0xED) {
        return raw::string_utf8(env, text);
    }
    key_to_js(env, text)
}

/// The UTF-16 code units of WTF-8 bytes (as [`wtf8`] writes them). Bytes that are not
/// WTF-8, which no key holds, become U+FFFD.
fn utf16_of_wtf8(bytes: &[u8]) -> Vec<u16> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let (len, init) = match b {
            0x00..=0x7F => (1, u32::from(b)),
            0xC0..=0xDF => (2, u32::from(b & 0x1F)),
            0xE0..=0xEF => (3, u32::from(b & 0x0F)),
            0xF0..=0xF7 => (4, u32::from(b & 0x07)),
            _ => (1, 0xFFFD),
        };
        let tail = bytes.get(i + 1..i + len).unwrap_or(&[]);
        let cp = if len == 1 {
            init
        } else if tail.len() == len - 1 && tail.iter().all(|&t| t & 0xC0 == 0x80) {
            tail.iter()
                .fold(init, |cp, &t| (cp << 6) | u32::from(t & 0x3F))
        } else {
            0xFFFD
        };
        i += if tail.len() == len - 1 { len } else { 1 };
        match char::from_u32(cp) {
            Some(c) => out.extend_from_slice(c.encode_utf16(&mut [0; 2])),
            // A lone surrogate (or nothing valid): one code unit.
            None => out.push(u16::try_from(cp).unwrap_or(0xFFFD)),
        }
    }
    out
}

/// Read flags of `get`, `peek` and `has` (`lib/cache.js` builds them from the per-call options
/// and the cache's defaults): bit 0 `allowStale`, bit 1 `updateAgeOnGet` (`updateAgeOnHas` for
/// `has`), bit 2 `noDeleteOnStaleGet`. `undefined`: the cache's own defaults.
fn read_flags(env: Env, function: &str, flags: Val) -> R<Option<ReadOptions>> {
    if raw::kind(env, flags)? == Kind::Undefined {
        return Ok(None);
    }
    let bits = integer(env, function, "flags", flags, 0.0, 7.0)? as u32;
    Ok(Some(ReadOptions {
        allow_stale: bits & 1 != 0,
        update_age: bits & 2 != 0,
        keep_stale: bits & 4 != 0,
    }))
}

/// A cached value as JS: a string (stored as WTF-8, see [`with_wtf8`]), or a new Buffer
/// holding a copy of the bytes.
fn to_js(env: Env, value: &Value) -> R<Val> {
    match value.kind {
        ValueKind::Str => text_to_js(env, &value.data),
        ValueKind::Bytes => raw::buffer_copy(env, &value.data),
    }
}

impl NativeCache {
    /// Runs `f` on the cache (under the lock for a shared one).
    fn with<T>(&mut self, f: impl FnOnce(&mut Cache) -> T) -> T {
        match &mut self.inner {
            Inner::Local(cache) => f(cache),
            Inner::Shared(shared) => shared.with(f),
        }
    }

    /// Looks `key` up with `get` (or `peek`) and returns the value as JS. A shared cache's
    /// value is copied out under the lock and turned into JS after it, so that V8's
    /// allocation (and any garbage collection it triggers) never holds other threads up.
    fn lookup(&mut self, env: Env, function: &str, key: Val, flags: Val, peek: bool) -> R<Val> {
        let read = read_flags(env, function, flags)?;
        with_key(env, function, key, |k| {
            let found = match &mut self.inner {
                Inner::Local(cache) => {
                    let found = match (peek, read) {
                        (true, None) => cache.peek_with(k, |v| to_js(env, v)),
                        (true, Some(r)) => cache.peek_with_options(k, r, |v| to_js(env, v)),
                        (false, None) => cache.get_with(k, |v| to_js(env, v)),
                        (false, Some(r)) => cache.get_with_options(k, r, |v| to_js(env, v)),
                    };
                    found.transpose()?
                }
                Inner::Shared(shared) => {
                    let copy = shared.with(|c| match (peek, read) {
                        (true, None) => c.peek(k),
                        (true, Some(r)) => c.peek_with_options(k, r, Value::clone),
                        (false, None) => c.get(k),
                        (false, Some(r)) => c.get_with_options(k, r, Value::clone),
                    });
                    copy.map(|v| to_js(env, &v)).transpose()?
                }
            };
            match found {
                Some(v) => Ok(v),
                None => raw::undefined(env),
            }
        })
    }
}

/// `get(key, flags?)`: the value, or `undefined` when absent or expired (see [`read_flags`]);
/// makes a live entry the most recent.
fn get(env: Env, this: &mut NativeCache, [key, flags]: [Val; 2]) -> R<Val> {
    this.lookup(env, "cache.get", key, flags, false)
}

/// `getInto(key, slab)`: `get` for the JS wrapper's hot path. A bytes value that fits in `slab`
/// (a Buffer the wrapper owns and never hands out) is copied into it and its length returned;
/// the wrapper copies it into a Buffer of its own, which is far cheaper than creating one
/// through N-API. Strings, larger values and misses come back as `get` returns them. Nothing
/// of the cache's memory ever reaches JS: the slab is JS memory, written only during the call.
fn get_into(env: Env, this: &mut NativeCache, [key, slab, flags]: [Val; 3]) -> R<Val> {
    const F: &str = "cache.getInto";
    let read = read_flags(env, F, flags)?;
    let into = |env: Env, v: &Value, slab: &mut [u8]| -> R<Val> {
        match v.kind {
            ValueKind::Bytes if v.data.len() <= slab.len() => {
                slab[..v.data.len()].copy_from_slice(&v.data);
                raw::num(env, v.data.len() as f64)
            }
            _ => to_js(env, v),
        }
    };
    let found = raw::with_bytes_mut(env, slab, |slab| {
        with_key(env, F, key, |k| match (&mut this.inner, read) {
            (Inner::Local(cache), None) => cache.get_with(k, |v| into(env, v, slab)).transpose(),
            (Inner::Local(cache), Some(r)) => cache
                .get_with_options(k, r, |v| into(env, v, slab))
                .transpose(),
            (Inner::Shared(shared), read) => shared
                .with(|c| match read {
                    None => c.get(k),
                    Some(r) => c.get_with_options(k, r, Value::clone),
                })
                .map(|v| into(env, &v, slab))
                .transpose(),
        })
    })?
    .ok_or_else(|| type_error(F, "slab"))?;
    match found {
        Some(v) => Ok(v),
        None => raw::undefined(env),
    }
}

/// `peek(key, flags?)`: like `get`, without refreshing recency or counting a hit or miss, and
/// never removing an expired entry.
fn peek(env: Env, this: &mut NativeCache, [key, flags]: [Val; 2]) -> R<Val> {
    this.lookup(env, "cache.peek", key, flags, true)
}

/// `set(key, value, options?)`: stores a copy of `value` (a string or bytes) under `key`;
/// `options.ttlMs` overrides the cache's TTL (0: never expires). A value larger than
/// `maxBytes` is not stored, removes the key's previous value and counts as a `size`
/// eviction.
fn set(env: Env, this: &mut NativeCache, [key, value, options]: [Val; 3]) -> R<Val> {
    const F: &str = "cache.set";
    let (ttl_ms, age_ms) = match raw::kind(env, options)? {
        Kind::Undefined => (None, None),
        Kind::Object => {
            let (v, n) = opt_number(env, options, c"ttlMs")?;
            let (age_v, age_n) = opt_number(env, options, c"ageMs")?;
            (
                ttl(env, F, "options.ttlMs", v, n)?,
                ttl(env, F, "options.ageMs", age_v, age_n)?,
            )
        }
        _ => return Err(type_error(F, "options")),
    };
    let age = std::time::Duration::from_millis(age_ms.unwrap_or(0.0) as u64);
    let kind = match raw::kind(env, value)? {
        Kind::String => ValueKind::Str,
        _ => ValueKind::Bytes,
    };
    with_key(env, F, key, |k| {
        let store = |data: &[u8]| {
            let value = ValueRef { kind, data };
            Ok(this.with(|cache| cache.set_aged(k, value, ttl_ms, age)))
        };
        let stored = match kind {
            ValueKind::Str => Some(with_wtf8(env, F, value, store)?),
            ValueKind::Bytes => raw::with_data(env, value, store)?,
        };
        match stored {
            None => Err(type_error(F, "value")),
            Some(Ok(_)) | Some(Err(CacheError::EntryTooLarge { .. })) => Ok(()),
            Some(Err(e)) => Err(Fail::Range(format!("{F}: {e}"))),
        }
    })?;
    raw::undefined(env)
}

/// `has(key, flags?)`: whether `key` has a live entry; does not refresh recency or count a hit
/// or miss; with flag bit 1 (`updateAgeOnHas`) a live entry's TTL restarts.
fn has(env: Env, this: &mut NativeCache, [key, flags]: [Val; 2]) -> R<Val> {
    const F: &str = "cache.has";
    let update_age = read_flags(env, F, flags)?.is_some_and(|r| r.update_age);
    let found = with_key(env, F, key, |k| {
        Ok(this.with(|c| c.has_with_options(k, update_age)))
    })?;
    raw::bool_val(env, found)
}

/// `delete(key)`: removes `key`; `true` when an entry (expired or not) was removed.
fn delete(env: Env, this: &mut NativeCache, [key]: [Val; 1]) -> R<Val> {
    let removed = with_key(env, "cache.delete", key, |k| Ok(this.with(|c| c.delete(k))))?;
    raw::bool_val(env, removed)
}

/// `entries(flags)`: the entries, most recent first, as one flat array: `[key, value]` per
/// entry, or `[key, value, ttlMs, ageMs]` with flag bit 1 (`ttlMs` 0: no TTL; `ageMs` the time
/// since the TTL started). Flag bit 0: stale entries too. Values are copies (Buffers new).
fn entries(env: Env, this: &mut NativeCache, [flags]: [Val; 1]) -> R<Val> {
    let bits = integer(env, "cache.entries", "flags", flags, 0.0, 3.0)? as u32;
    let timing = bits & 2 != 0;
    // Copied out first, so that a shared cache's lock is not held while V8 allocates.
    let copied: Vec<_> = this.with(|c| {
        c.entries(bits & 1 != 0)
            .map(|e| (Box::<[u8]>::from(e.key), e.value, e.ttl, e.age))
            .collect()
    });
    let per = if timing { 4 } else { 2 };
    let out = raw::array(env, copied.len() * per)?;
    let mut i = 0u32;
    let mut push = |v: Val| {
        let r = raw::set_index(env, out, i, v);
        i += 1;
        r
    };
    for (key, value, ttl, age) in &copied {
        push(key_to_js(env, key)?)?;
        push(to_js(env, value)?)?;
        if timing {
            let ttl_ms = ttl.map_or(0.0, |t| t.as_secs_f64() * 1e3);
            push(raw::num(env, ttl_ms)?)?;
            push(raw::num(env, age.as_secs_f64() * 1e3)?)?;
        }
    }
    Ok(out)
}

/// `clear()`: removes every entry (and frees the cache's index).
fn clear(env: Env, this: &mut NativeCache, []: [Val; 0]) -> R<Val> {
    this.with(Cache::clear);
    raw::undefined(env)
}

/// `size`: entries held, counting expired ones not yet removed.
fn size(env: Env, this: &mut NativeCache, []: [Val; 0]) -> R<Val> {
    let len = this.with(|c| c.len());
    raw::num(env, len as f64)
}

/// `remainingTtlMs(key)`: whole milliseconds left (rounded up), `Infinity` without TTL,
/// `undefined` when absent or expired.
fn remaining_ttl_ms(env: Env, this: &mut NativeCache, [key]: [Val; 1]) -> R<Val> {
    let left = with_key(env, "cache.remainingTtlMs", key, |k| {
        Ok(this.with(|c| c.remaining_ttl(k)))
    })?;
    match left {
        None => raw::undefined(env),
        Some(RemainingTtl::NoExpiry) => raw::num(env, f64::INFINITY),
        Some(RemainingTtl::Expires(d)) => {
            let ms = d.as_nanos().div_ceil(1_000_000).max(1);
            raw::num(env, ms as f64)
        }
    }
}

/// `purgeExpired()`: removes expired entries; returns how many.
fn purge_expired(env: Env, this: &mut NativeCache, []: [Val; 0]) -> R<Val> {
    let n = this.with(|c| c.purge_expired());
    raw::num(env, n as f64)
}

/// `stats()`: hits, misses, inserts, updates, evictions by reason, entries and bytes (key
/// and value bytes plus [`ENTRY_OVERHEAD`] per entry, as counted for `maxBytes`).
fn stats(env: Env, this: &mut NativeCache, []: [Val; 0]) -> R<Val> {
    let s = this.with(|c| c.stats());
    let out = raw::object(env)?;
    raw::set_num(env, out, c"hits", s.hits as f64)?;
    raw::set_num(env, out, c"misses", s.misses as f64)?;
    raw::set_num(env, out, c"inserts", s.inserts as f64)?;
    raw::set_num(env, out, c"updates", s.updates as f64)?;
    let evictions = raw::object(env)?;
    raw::set_num(env, evictions, c"capacity", s.evictions_capacity as f64)?;
    raw::set_num(env, evictions, c"size", s.evictions_size as f64)?;
    raw::set_num(env, evictions, c"expired", s.evictions_expired as f64)?;
    raw::set(env, out, c"evictions", evictions)?;
    raw::set_num(env, out, c"entries", s.entries as f64)?;
    raw::set_num(env, out, c"bytes", s.bytes as f64)?;
    Ok(out)
}

glue::method!(get_cb, NativeCache, 2, "cache.get", get);
glue::method!(peek_cb, NativeCache, 2, "cache.peek", peek);
glue::method!(set_cb, NativeCache, 3, "cache.set", set);
glue::method!(has_cb, NativeCache, 2, "cache.has", has);
glue::method!(delete_cb, NativeCache, 1, "cache.delete", delete);
glue::method!(clear_cb, NativeCache, 0, "cache.clear", clear);
glue::method!(size_cb, NativeCache, 0, "cache.size", size);
glue::method!(
    remaining_ttl_ms_cb,
    NativeCache,
    1,
    "cache.remainingTtlMs",
    remaining_ttl_ms
);
glue::method!(
    purge_expired_cb,
    NativeCache,
    0,
    "cache.purgeExpired",
    purge_expired
);
glue::method!(stats_cb, NativeCache, 0, "cache.stats", stats);
glue::method!(get_into_cb, NativeCache, 3, "cache.getInto", get_into);
glue::method!(entries_cb, NativeCache, 1, "cache.entries", entries);
glue::function!(create_cache_cb, 1, create_cache);
glue::function!(advance_test_clock_cb, 1, advance_test_clock);

/// The members of `NativeCache`.
pub const MEMBERS: &[Member] = &[
    Member::Method(c"get", get_cb),
    Member::Method(c"getInto", get_into_cb),
    Member::Method(c"peek", peek_cb),
    Member::Method(c"set", set_cb),
    Member::Method(c"has", has_cb),
    Member::Method(c"delete", delete_cb),
    Member::Method(c"clear", clear_cb),
    Member::Getter(c"size", size_cb),
    Member::Method(c"remainingTtlMs", remaining_ttl_ms_cb),
    Member::Method(c"purgeExpired", purge_expired_cb),
    Member::Method(c"stats", stats_cb),
    Member::Method(c"entries", entries_cb),
];

/// The functions of this module, by JS name.
pub const FUNCTIONS: &[(&std::ffi::CStr, glue::Callback)] = &[
    (c"createCache", create_cache_cb),
    (c"advanceTestClock", advance_test_clock_cb),
];
