'use strict'
/**
 * `createCache` and the checked `Cache` handle around an engine's cache.
 * @module
 */

const validate = require('./validate.js')

const CACHE_KEYS = Object.freeze(['max', 'maxBytes', 'ttlMs', 'updateAgeOnGet', 'name'])
const SET_KEYS = Object.freeze(['ttlMs'])
const MAX_NAME_LENGTH = 256
const MAX_TTL_SECONDS = Math.floor(validate.MAX_SAFE / 1000)
/** Size of the per-thread scratch Buffer through which `get` receives native byte values. */
const SLAB_BYTES = 64 * 1024
/** @type {Buffer | null} */
let slab = null

/**
 * Normalises the two call forms of `createCache` into the engine's options:
 * `{ max, maxBytes, ttlMs, updateAgeOnGet, name }`, bounds `undefined` when absent,
 * `ttlMs` whole milliseconds (fractions rounded up) > 0 or `undefined`. A cache given no
 * bound takes the `ULTRA_CACHE_*` defaults.
 * @param {unknown} first `maxEntries` or the options object
 * @param {unknown} ttlSeconds
 * @param {() => import('../index').MemoryConfig} config
 */
function cacheOptions (first, ttlSeconds, config) {
  const fn = 'createCache'
  let max, maxBytes, ttlMs, updateAgeOnGet = false, name
  if (typeof first === 'number') {
    max = validate.integer(fn, 'maxEntries', first, 1, validate.MAX_CACHE_ENTRIES)
    if (ttlSeconds !== undefined) ttlMs = Math.ceil(validate.duration(fn, 'ttlSeconds', ttlSeconds, MAX_TTL_SECONDS) * 1000)
  } else {
    if (ttlSeconds !== undefined) {
      throw validate.typeError(fn, 'ttlSeconds', 'undefined when the first argument is an options object', ttlSeconds)
    }
    if (first !== undefined && typeof first !== 'object') {
      throw validate.typeError(fn, 'maxEntries', 'an integer or an options object', first)
    }
    if (validate.options(fn, first, CACHE_KEYS)) {
      if (first.max !== undefined) max = validate.integer(fn, 'options.max', first.max, 1, validate.MAX_CACHE_ENTRIES)
      if (first.maxBytes !== undefined) maxBytes = validate.integer(fn, 'options.maxBytes', first.maxBytes, 1, validate.MAX_SAFE)
      if (first.ttlMs !== undefined) ttlMs = Math.ceil(validate.duration(fn, 'options.ttlMs', first.ttlMs, validate.MAX_SAFE))
      if (first.updateAgeOnGet !== undefined) {
        validate.boolean(fn, 'options.updateAgeOnGet', first.updateAgeOnGet)
        updateAgeOnGet = first.updateAgeOnGet
      }
      if (first.name !== undefined) {
        name = first.name
        validate.string(fn, 'options.name', name)
        if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
          throw validate.rangeError(fn, 'options.name', `a string of 1 to ${MAX_NAME_LENGTH} characters`, name)
        }
      }
    }
  }
  if (ttlMs === 0) ttlMs = undefined
  if (max === undefined && maxBytes === undefined && ttlMs === undefined) {
    const defaults = config()
    max = defaults.cacheMaxEntries ?? undefined
    maxBytes = defaults.cacheMaxBytes ?? undefined
    ttlMs = defaults.cacheTtlMs || undefined
    if (max === undefined && maxBytes === undefined && ttlMs === undefined) {
      throw validate.rangeError(fn, 'options',
        'given at least one bound: max, maxBytes or ttlMs > 0 (or ULTRA_CACHE_MAX_ENTRIES, ULTRA_CACHE_MAX_BYTES, ULTRA_CACHE_TTL_MS)', first)
    }
  }
  return { max, maxBytes, ttlMs, updateAgeOnGet, name }
}

/**
 * A string-keyed LRU cache of strings and byte strings. Wraps an engine's cache
 * and checks every argument before it crosses into the engine.
 */
class Cache {
  #inner
  #into

  /** @param {object} inner the engine's cache */
  constructor (inner) {
    this.#inner = inner
    this.#into = typeof inner.getInto === 'function'
  }

  /** @param {string} key */
  get (key) {
    if (typeof key !== 'string') throw validate.typeError('cache.get', 'key', 'a string', key)
    if (!this.#into) return this.#inner.get(key)
    // The native engine copies a bytes value that fits into this thread's slab and answers its
    // length; a Buffer made here (from Node's pool for small sizes) is far cheaper than one
    // made through N-API. The slab never leaves this module.
    slab ??= Buffer.allocUnsafeSlow(SLAB_BYTES)
    const found = this.#inner.getInto(key, slab)
    if (typeof found !== 'number') return found
    const out = Buffer.allocUnsafe(found)
    slab.copy(out, 0, 0, found)
    return out
  }

  /**
   * @param {string} key
   * @param {string | Uint8Array} value
   * @param {{ ttlMs?: number }} [options]
   */
  set (key, value, options) {
    if (typeof key !== 'string') throw validate.typeError('cache.set', 'key', 'a string', key)
    validate.input('cache.set', value, 'value')
    if (!validate.options('cache.set', options, SET_KEYS) || options.ttlMs === undefined) {
      this.#inner.set(key, value)
    } else {
      this.#inner.set(key, value, { ttlMs: Math.ceil(validate.duration('cache.set', 'options.ttlMs', options.ttlMs, validate.MAX_SAFE)) })
    }
  }

  /** @param {string} key */
  has (key) {
    if (typeof key !== 'string') throw validate.typeError('cache.has', 'key', 'a string', key)
    return this.#inner.has(key)
  }

  /** @param {string} key */
  peek (key) {
    if (typeof key !== 'string') throw validate.typeError('cache.peek', 'key', 'a string', key)
    return this.#inner.peek(key)
  }

  /** @param {string} key */
  delete (key) {
    if (typeof key !== 'string') throw validate.typeError('cache.delete', 'key', 'a string', key)
    return this.#inner.delete(key)
  }

  clear () {
    this.#inner.clear()
  }

  /** The number of entries, counting expired ones not yet removed. */
  get size () {
    return this.#inner.size
  }

  /** @param {string} key */
  remainingTtlMs (key) {
    if (typeof key !== 'string') throw validate.typeError('cache.remainingTtlMs', 'key', 'a string', key)
    return this.#inner.remainingTtlMs(key)
  }

  purgeExpired () {
    return this.#inner.purgeExpired()
  }

  stats () {
    return this.#inner.stats()
  }
}

/**
 * @param {object} engine
 * @param {() => import('../index').MemoryConfig} config
 */
function cacheApi (engine, config) {
  return {
    /**
     * @param {number | object} [maxEntriesOrOptions]
     * @param {number} [ttlSeconds]
     */
    createCache (maxEntriesOrOptions, ttlSeconds) {
      const options = cacheOptions(maxEntriesOrOptions, ttlSeconds, config)
      let inner
      try {
        inner = engine.createCache(options)
      } catch (error) {
        // The native engine refuses with a code; the words are validate.js's.
        throw error?.code === 'ULTRA_NAMED_CACHE_MISMATCH' ? validate.namedCacheMismatchError(options.name, options) : error
      }
      return new Cache(inner)
    }
  }
}

module.exports = { cacheApi }
