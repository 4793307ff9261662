'use strict'
/**
 * The fallback cache: lru-cache with byte accounting and the same statistics as
 * the native cache. Named caches are shared within this thread only (each
 * worker_thread loads its own copy of this module).
 *
 * Test-only: the engine option `testPerf` (an object with `now()`, which `lib/cache.js` never
 * passes) becomes lru-cache's `perf` clock, read on every call, so that the differential test
 * against lru-cache drives the time of both.
 * @module
 */

const { LRUCache } = require('lru-cache')
const validate = require('../lib/validate.js')
const live = require('./registry.js')

/** @type {Map<string, FallbackCache>} named caches of this thread */
const named = new Map()

/**
 * The bytes an entry counts for `maxBytes` and `stats().bytes`: its key and value
 * in UTF-8 plus the native cache's per-entry overhead, so that both engines weigh
 * an entry alike (the native one by what it really holds).
 * @param {string} key
 * @param {string | Uint8Array} value
 */
function entryBytes (key, value) {
  return Buffer.byteLength(key) + (typeof value === 'string' ? Buffer.byteLength(value) : value.length) + validate.CACHE_ENTRY_OVERHEAD
}

/**
 * A value as handed to the caller: strings as they are, bytes as a new Buffer.
 * @param {string | Buffer | undefined} value
 */
function copy (value) {
  return value === undefined || typeof value === 'string' ? value : Buffer.from(value)
}

class FallbackCache {
  #options
  #lru
  #max
  #maxBytes
  /** The largest entry stored: the lower of `maxBytes` and `maxEntrySize` (0: none). */
  #maxEntry
  #allowStale
  #hits = 0
  #misses = 0
  #inserts = 0
  #updates = 0
  #evictions = { capacity: 0, size: 0, expired: 0 }
  /** Whether the `set` under way fills a full cache, so its first eviction is for capacity. */
  #capacityPending = false
  /** lru-cache's clock: `performance`, or the test's (see the module docs). */
  #perf


  /**
   * @param {{ max?: number, maxBytes?: number, ttlMs?: number, updateAgeOnGet: boolean,
   *   allowStale: boolean, noDeleteOnStaleGet: boolean, maxEntrySize?: number,
   *   testPerf?: { now (): number } }} options
   */
  constructor (options) {
    this.#options = options
    this.#perf = options.testPerf ?? performance
    this.#max = options.max ?? 0
    this.#maxBytes = options.maxBytes ?? 0
    this.#maxEntry = Math.min(options.maxBytes ?? Infinity, options.maxEntrySize ?? Infinity)
    if (this.#maxEntry === Infinity) this.#maxEntry = 0
    this.#allowStale = options.allowStale
    this.#lru = new LRUCache({
      max: this.#max,
      maxSize: this.#maxBytes,
      // Sizes are tracked even without maxBytes, for stats().bytes.
      maxEntrySize: Number.MAX_SAFE_INTEGER,
      ttl: options.ttlMs ?? 0,
      // A cache bounded by TTL alone would otherwise keep expired entries until met.
      ttlAutopurge: this.#max === 0 && this.#maxBytes === 0,
      updateAgeOnGet: options.updateAgeOnGet,
      allowStale: options.allowStale,
      noDeleteOnStaleGet: options.noDeleteOnStaleGet,
      ...(options.testPerf === undefined ? {} : { perf: options.testPerf, ttlResolution: 0 }),
      dispose: (_value, _key, reason) => this.#count(reason)
    })
    live.caches.add(this)
  }

  /**
   * Whether a named cache opened with `options` has the bounds of this one.
   * @param {{ max?: number, maxBytes?: number, ttlMs?: number, updateAgeOnGet: boolean }} options
   */
  hasBounds (options) {
    const own = this.#options
    return own.max === options.max && own.maxBytes === options.maxBytes &&
      own.ttlMs === options.ttlMs && own.updateAgeOnGet === options.updateAgeOnGet &&
      own.allowStale === options.allowStale && own.noDeleteOnStaleGet === options.noDeleteOnStaleGet &&
      own.maxEntrySize === options.maxEntrySize
  }

  /** @param {string} reason why lru-cache dropped an entry */
  #count (reason) {
    if (reason === 'expire') {
      this.#evictions.expired++
    } else if (reason === 'evict') {
      if (this.#capacityPending) this.#evictions.capacity++
      else this.#evictions.size++
      this.#capacityPending = false
    }
  }

  /**
   * @param {string} key
   * @param {number} [flags] read flags from lib/cache.js (`undefined`: the cache's defaults):
   *   1 allowStale, 2 updateAgeOnGet, 4 noDeleteOnStaleGet
   */
  get (key, flags) {
    let value
    if (flags === undefined && !this.#allowStale) {
      value = this.#lru.get(key)
    } else {
      const status = {}
      value = this.#lru.get(key, flags === undefined
        ? { status }
        : {
            allowStale: (flags & 1) !== 0,
            updateAgeOnGet: (flags & 2) !== 0,
            noDeleteOnStaleGet: (flags & 4) !== 0,
            status
          })
      // A stale value served is a miss, as in the native engine.
      if (status.get === 'stale') {
        this.#misses++
        return copy(value)
      }
    }
    if (value === undefined) {
      this.#misses++
      return undefined
    }
    this.#hits++
    return copy(value)
  }

  /**
   * @param {string} key
   * @param {string | Uint8Array} value
   * @param {{ ttlMs: number, ageMs?: number }} [options] `ttlMs` 0: this entry never expires;
   *   `ageMs`: its TTL started that long ago (`load()`)
   */
  set (key, value, options) {
    const size = entryBytes(key, value)
    if (this.#maxEntry !== 0 && size > this.#maxEntry) {
      this.#lru.delete(key)
      this.#evictions.size++
      return
    }
    if (this.#lru.peek(key, { allowStale: true }) === undefined) {
      this.#inserts++
      this.#capacityPending = this.#max !== 0 && this.#lru.size === this.#max
    } else if (this.#lru.has(key)) {
      this.#updates++
    } else {
      this.#inserts++
      this.#evictions.expired++
    }
    const stored = typeof value === 'string' ? value : Buffer.from(value)
    this.#lru.set(key, stored, options === undefined
      ? { size }
      : { size, ttl: options.ttlMs, start: options.ageMs ? this.#perf.now() - options.ageMs : undefined })
    this.#capacityPending = false
  }

  /**
   * @param {string} key
   * @param {number} [flags] 2: updateAgeOnHas
   */
  has (key, flags) {
    return flags === undefined ? this.#lru.has(key) : this.#lru.has(key, { updateAgeOnHas: (flags & 2) !== 0 })
  }

  /**
   * @param {string} key
   * @param {number} [flags] 1: allowStale
   */
  peek (key, flags) {
    return copy(flags === undefined ? this.#lru.peek(key) : this.#lru.peek(key, { allowStale: (flags & 1) !== 0 }))
  }

  /**
   * @param {string} key
   * @returns {boolean} whether an entry (expired or not) was removed, as lru-cache answers
   */
  delete (key) {
    return this.#lru.delete(key)
  }

  clear () {
    this.#lru.clear()
  }

  /**
   * @param {number} flags 1: stale entries too; 2: with timing
   * @returns {unknown[]} most recent first: `[key, value]` per entry, or
   *   `[key, value, ttlMs, ageMs]` with timing (as the native engine)
   */
  entries (flags) {
    const out = []
    if (flags === (this.#allowStale ? 1 : 0)) {
      // lru-cache's own iteration lists stale entries exactly when the cache allows them.
      for (const [key, value] of this.#lru.entries()) out.push(key, copy(value))
      return out
    }
    const now = Date.now()
    const dump = this.#lru.dump() // least recent first, stale entries included
    for (let i = dump.length - 1; i >= 0; i--) {
      const [key, { value, ttl = 0, start }] = dump[i]
      const ageMs = ttl > 0 && start !== undefined ? Math.max(0, now - start) : 0
      if ((flags & 1) === 0 && ttl > 0 && ageMs >= ttl) continue
      out.push(key, copy(value))
      if (flags & 2) out.push(ttl, ageMs)
    }
    return out
  }

  get size () {
    return this.#lru.size
  }

  /**
   * @param {string} key
   * @returns {number | undefined} whole milliseconds rounded up; `undefined` when
   *   absent or expired, `Infinity` without TTL
   */
  remainingTtlMs (key) {
    return this.#lru.has(key) ? Math.max(1, Math.ceil(this.#lru.getRemainingTTL(key))) : undefined
  }

  /** @returns {number} how many expired entries were removed */
  purgeExpired () {
    const before = this.#evictions.expired
    this.#lru.purgeStale()
    return this.#evictions.expired - before
  }

  stats () {
    return {
      hits: this.#hits,
      misses: this.#misses,
      inserts: this.#inserts,
      updates: this.#updates,
      evictions: { ...this.#evictions },
      entries: this.#lru.size,
      bytes: this.#lru.calculatedSize
    }
  }
}

/**
 * @param {{ max?: number, maxBytes?: number, ttlMs?: number, updateAgeOnGet: boolean, name?: string }} options
 * @returns {FallbackCache}
 */
function createCache (options) {
  if (options.name === undefined) return new FallbackCache(options)
  const open = named.get(options.name)
  if (open === undefined) {
    const cache = new FallbackCache(options)
    named.set(options.name, cache)
    return cache
  }
  if (!open.hasBounds(options)) throw validate.namedCacheMismatchError(options.name, options)
  return open
}

/**
 * The named caches of this thread, in the order they were first opened (they live as long as
 * the thread, as natively for the life of the process).
 * @returns {IterableIterator<[string, FallbackCache]>}
 */
function namedCaches () {
  return named.entries()
}

module.exports = { createCache, namedCaches }
