'use strict'
/**
 * `createCache` and the checked `Cache` handle around an engine's cache.
 * @module
 */

const v8 = require('node:v8')
const validate = require('./validate.js')

const CACHE_KEYS = Object.freeze(['max', 'maxBytes', 'ttlMs', 'updateAgeOnGet', 'allowStale', 'noDeleteOnStaleGet', 'maxEntrySize', 'fetchMethod', 'structured', 'name'])
/** The boolean options of `createCache` (`false` when absent). */
const CACHE_FLAGS = Object.freeze(['updateAgeOnGet', 'allowStale', 'noDeleteOnStaleGet'])
const SET_KEYS = Object.freeze(['ttlMs'])
// Per-call options, under lru-cache 11's names for each method.
const GET_KEYS = Object.freeze(['allowStale', 'updateAgeOnGet', 'noDeleteOnStaleGet'])
const PEEK_KEYS = Object.freeze(['allowStale'])
const HAS_KEYS = Object.freeze(['updateAgeOnHas'])
/** What an entry of `dump()` holds, and `load()` takes (lru-cache's `size` is accepted, unused). */
const DUMP_KEYS = Object.freeze(['value', 'ttl', 'start', 'size'])
const FETCH_KEYS = Object.freeze(['allowStale', 'updateAgeOnGet', 'noDeleteOnStaleGet', 'forceRefresh', 'ttlMs', 'context', 'signal'])
/**
 * The read flags both engines take on `get`, `peek` and `has` (`undefined`: the cache's own
 * defaults): one bit per option.
 */
const FLAG = Object.freeze({ allowStale: 1, updateAgeOnGet: 2, updateAgeOnHas: 2, noDeleteOnStaleGet: 4 })
const MAX_TTL_SECONDS = Math.floor(validate.MAX_SAFE / 1000)
/** Size of the per-thread scratch Buffer through which `get` receives native byte values. */
const SLAB_BYTES = 64 * 1024
/** @type {Buffer | null} */
let slab = null

/**
 * Normalises the two call forms of `createCache` into the engine's options:
 * `{ max, maxBytes, ttlMs, updateAgeOnGet, allowStale, noDeleteOnStaleGet, maxEntrySize, name }`,
 * bounds and `maxEntrySize` `undefined` when absent, flags `false`,
 * `ttlMs` whole milliseconds (fractions rounded up) > 0 or `undefined`. A cache given no
 * bound takes the `ULTRA_CACHE_*` defaults.
 * @param {unknown} first `maxEntries` or the options object
 * @param {unknown} ttlSeconds
 * @param {() => import('../index').MemoryConfig} config
 */
function cacheOptions (first, ttlSeconds, config) {
  const fn = 'createCache'
  let max, maxBytes, ttlMs, maxEntrySize, fetchMethod, name
  let structured = false
  const flags = { updateAgeOnGet: false, allowStale: false, noDeleteOnStaleGet: false }
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
      if (first.maxBytes !== undefined) maxBytes = validate.integer(fn, 'options.maxBytes', first.maxBytes, validate.CACHE_ENTRY_OVERHEAD, validate.MAX_SAFE)
      if (first.ttlMs !== undefined) ttlMs = Math.ceil(validate.duration(fn, 'options.ttlMs', first.ttlMs, validate.MAX_SAFE))
      for (const flag of CACHE_FLAGS) {
        if (first[flag] === undefined) continue
        validate.boolean(fn, `options.${flag}`, first[flag])
        flags[flag] = first[flag]
      }
      if (first.fetchMethod !== undefined) {
        if (typeof first.fetchMethod !== 'function') throw validate.typeError(fn, 'options.fetchMethod', 'a function', first.fetchMethod)
        fetchMethod = first.fetchMethod
      }
      if (first.maxEntrySize !== undefined) maxEntrySize = validate.integer(fn, 'options.maxEntrySize', first.maxEntrySize, validate.CACHE_ENTRY_OVERHEAD, validate.MAX_SAFE)
      if (first.structured !== undefined) {
        validate.boolean(fn, 'options.structured', first.structured)
        structured = first.structured
      }
      if (first.name !== undefined) {
        name = first.name
        validate.string(fn, 'options.name', name)
        if (name.length === 0 || name.length > validate.MAX_CACHE_NAME_LENGTH) {
          throw validate.rangeError(fn, 'options.name', `a string of 1 to ${validate.MAX_CACHE_NAME_LENGTH} characters`, name)
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
  if (structured && name !== undefined) {
    // A named cache is shared by handles that may disagree on how to read its bytes.
    throw validate.rangeError(fn, 'options.structured', 'false (or absent) for a named cache', structured)
  }
  return { max, maxBytes, ttlMs, ...flags, maxEntrySize, name, fetchMethod, structured }
}

/**
 * A structured cache's value as stored: its `v8.serialize` bytes.
 * @param {string} fn
 * @param {string} param
 * @param {unknown} value
 * @returns {Buffer}
 */
function encode (fn, param, value) {
  try {
    return v8.serialize(value)
  } catch (error) {
    const wrapped = validate.typeError(fn, param, 'a value v8.serialize accepts', value)
    wrapped.cause = error
    throw wrapped
  }
}

/**
 * A structured cache's stored bytes as a deep copy of the value (`undefined` stays).
 * `v8.deserialize` makes typed arrays that view its input, so `bytes` must be a Buffer no
 * one else holds (every engine read returns a new one).
 * @param {Buffer | undefined} bytes
 */
function decode (bytes) {
  return bytes === undefined ? undefined : v8.deserialize(bytes)
}

/**
 * A string-keyed LRU cache of strings and byte strings (or, `structured`, of any value
 * `v8.serialize` accepts, stored as its serialized bytes). Wraps an engine's cache and checks
 * every argument before it crosses into the engine.
 */
class Cache {
  #inner
  #into
  /** The read flags of a `get` without options (see `FLAG`). */
  #getFlags
  /** Whether iteration lists stale entries too (the cache's `allowStale`, as lru-cache). */
  #iterStale
  /** @type {((key: string, staleValue: unknown, how: object) => unknown) | undefined} */
  #fetchMethod
  /** @type {Map<string, Promise<unknown>>} the fetches in flight, by key */
  #inflight = new Map()
  /** Whether values are stored as their `v8.serialize` bytes and read back as deep copies. */
  #structured

  /**
   * @param {object} inner the engine's cache
   * @param {{ updateAgeOnGet: boolean, allowStale: boolean, noDeleteOnStaleGet: boolean }} options
   *   the options it was created with
   * @param {Function} [fetchMethod]
   * @param {boolean} [structured]
   */
  constructor (inner, options, fetchMethod, structured = false) {
    this.#fetchMethod = fetchMethod
    this.#structured = structured
    this.#inner = inner
    this.#into = typeof inner.getInto === 'function'
    this.#getFlags = (options.allowStale ? FLAG.allowStale : 0) |
      (options.updateAgeOnGet ? FLAG.updateAgeOnGet : 0) |
      (options.noDeleteOnStaleGet ? FLAG.noDeleteOnStaleGet : 0)
    this.#iterStale = options.allowStale ? 1 : 0
  }

  /**
   * The read flags of one call: the cache's defaults overridden by the options given.
   * @param {string} fn
   * @param {unknown} options
   * @param {readonly string[]} keys the options `fn` takes
   * @param {number} defaults
   * @returns {number | undefined} `undefined` without options
   */
  #flags (fn, options, keys, defaults) {
    if (!validate.options(fn, options, keys)) return undefined
    let flags = defaults
    for (const name of keys) {
      const value = options[name]
      if (value === undefined) continue
      validate.boolean(fn, `options.${name}`, value)
      flags = value ? flags | FLAG[name] : flags & ~FLAG[name]
    }
    return flags
  }

  /**
   * @param {string} key
   * @param {{ allowStale?: boolean, updateAgeOnGet?: boolean, noDeleteOnStaleGet?: boolean }} [options]
   */
  get (key, options) {
    if (typeof key !== 'string') throw validate.typeError('cache.get', 'key', 'a string', key)
    return this.#read(key, options === undefined ? undefined : this.#flags('cache.get', options, GET_KEYS, this.#getFlags))
  }

  /**
   * `get` of a checked key with read flags.
   * @param {string} key
   * @param {number | undefined} flags
   */
  #read (key, flags) {
    if (!this.#into) return this.#structured ? decode(this.#inner.get(key, flags)) : this.#inner.get(key, flags)
    // The native engine copies a bytes value that fits into this thread's slab and answers its
    // length; a Buffer made here (from Node's pool for small sizes) is far cheaper than one
    // made through N-API. The slab never leaves this module.
    slab ??= Buffer.allocUnsafeSlow(SLAB_BYTES)
    const found = this.#inner.getInto(key, slab, flags)
    if (typeof found !== 'number') return this.#structured ? decode(found) : found
    const out = Buffer.allocUnsafe(found)
    slab.copy(out, 0, 0, found)
    return this.#structured ? decode(out) : out
  }

  /**
   * Stores a checked value as the engine takes it.
   * @param {string} key
   * @param {string | Uint8Array} stored
   * @param {number | undefined} ttlMs whole ms, or `undefined` for the cache's TTL
   */
  #put (key, stored, ttlMs) {
    if (ttlMs === undefined) this.#inner.set(key, stored)
    else this.#inner.set(key, stored, { ttlMs })
  }

  /** The values of a flat engine listing (`entries()`), decoded in place when structured. */
  #decodeAll (flat, stride) {
    if (this.#structured) for (let i = 1; i < flat.length; i += stride) flat[i] = decode(flat[i])
    return flat
  }

  /**
   * @param {string} key
   * @param {unknown} value a string, Buffer or Uint8Array; structured: anything `v8.serialize`
   *   accepts (`undefined` deletes the key, as in lru-cache)
   * @param {{ ttlMs?: number }} [options]
   * @returns {this}
   */
  set (key, value, options) {
    const fn = 'cache.set'
    if (typeof key !== 'string') throw validate.typeError(fn, 'key', 'a string', key)
    let stored = value
    if (this.#structured) {
      if (value !== undefined) stored = encode(fn, 'value', value)
    } else {
      validate.input(fn, value, 'value')
    }
    const ttlMs = validate.options(fn, options, SET_KEYS) && options.ttlMs !== undefined
      ? Math.ceil(validate.duration(fn, 'options.ttlMs', options.ttlMs, validate.MAX_SAFE))
      : undefined
    if (stored === undefined) this.#inner.delete(key)
    else this.#put(key, stored, ttlMs)
    return this
  }

  /**
   * @param {string} key
   * @param {{ updateAgeOnHas?: boolean }} [options]
   */
  has (key, options) {
    if (typeof key !== 'string') throw validate.typeError('cache.has', 'key', 'a string', key)
    if (options === undefined) return this.#inner.has(key)
    return this.#inner.has(key, this.#flags('cache.has', options, HAS_KEYS, 0))
  }

  /**
   * @param {string} key
   * @param {{ allowStale?: boolean }} [options]
   */
  peek (key, options) {
    if (typeof key !== 'string') throw validate.typeError('cache.peek', 'key', 'a string', key)
    const found = options === undefined
      ? this.#inner.peek(key)
      : this.#inner.peek(key, this.#flags('cache.peek', options, PEEK_KEYS, this.#getFlags))
    return this.#structured ? decode(found) : found
  }

  /**
   * lru-cache's `fetch`: the live value if there is one; otherwise one call of `fetchMethod`
   * per key at a time (concurrent fetches of a key share it), whose value is stored and
   * returned. A stale value is returned at once with `allowStale` while the fetch runs. A
   * rejection stores nothing, removes the stale entry, and rejects every caller.
   * @param {string} key
   * @param {{ allowStale?: boolean, updateAgeOnGet?: boolean, noDeleteOnStaleGet?: boolean,
   *   forceRefresh?: boolean, ttlMs?: number, context?: unknown, signal?: AbortSignal }} [options]
   * @returns {Promise<string | Buffer | undefined>}
   */
  fetch (key, options) {
    const fn = 'cache.fetch'
    if (typeof key !== 'string') throw validate.typeError(fn, 'key', 'a string', key)
    let flags = this.#getFlags
    let forceRefresh = false
    let setOptions
    if (validate.options(fn, options, FETCH_KEYS)) {
      flags = this.#flags(fn, { allowStale: options.allowStale, updateAgeOnGet: options.updateAgeOnGet, noDeleteOnStaleGet: options.noDeleteOnStaleGet }, GET_KEYS, flags)
      if (options.forceRefresh !== undefined) {
        validate.boolean(fn, 'options.forceRefresh', options.forceRefresh)
        forceRefresh = options.forceRefresh
      }
      if (options.ttlMs !== undefined) setOptions = { ttlMs: validate.duration(fn, 'options.ttlMs', options.ttlMs, validate.MAX_SAFE) }
      if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
        throw validate.typeError(fn, 'options.signal', 'an AbortSignal', options.signal)
      }
    }
    if (this.#fetchMethod === undefined) return Promise.resolve(this.#read(key, flags))
    if (!forceRefresh) {
      // A live hit (a stale entry stays, for fetchMethod's staleValue).
      const live = this.#read(key, (flags & ~FLAG.allowStale) | FLAG.noDeleteOnStaleGet)
      if (live !== undefined) return Promise.resolve(live)
    }
    const stale = this.#inner.peek(key, FLAG.allowStale)
    const running = this.#inflight.get(key) ?? this.#startFetch(key, stale, options, setOptions)
    if ((flags & FLAG.allowStale) !== 0 && stale !== undefined) {
      // fetchMethod has its own copy: the caller's must not share typed arrays with it.
      return Promise.resolve(this.#structured ? decode(Buffer.from(stale)) : stale)
    }
    return running
  }

  /**
   * Calls `fetchMethod` once for `key` and settles the cache by its outcome.
   * @param {string} key
   * @param {unknown} stale the stale value as the engine returned it, or `undefined`
   * @param {{ context?: unknown, signal?: AbortSignal } | undefined} options
   * @param {{ ttlMs: number } | undefined} setOptions
   */
  #startFetch (key, stale, options, setOptions) {
    const controller = new AbortController()
    options?.signal?.addEventListener('abort', () => controller.abort(options.signal.reason), { once: true })
    const how = { signal: controller.signal, options: options ?? {}, context: options?.context }
    const done = () => {
      if (this.#inflight.get(key) === running) this.#inflight.delete(key)
    }
    const staleValue = this.#structured ? decode(stale) : stale
    const running = (async () => this.#fetchMethod(key, staleValue, how))().then((value) => {
      done()
      if (controller.signal.aborted) throw controller.signal.reason
      if (value === undefined) return undefined
      const ttlMs = setOptions === undefined ? undefined : Math.ceil(setOptions.ttlMs)
      if (this.#structured) {
        const bytes = encode('cache.fetch', 'the value fetchMethod resolved to', value)
        this.#put(key, bytes, ttlMs)
        return decode(bytes) // the engine stored a copy: `bytes` is this caller's alone
      }
      if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
        throw validate.typeError('cache.fetch', 'the value fetchMethod resolved to', 'a string, Buffer, Uint8Array or undefined', value)
      }
      this.#put(key, value, ttlMs)
      return typeof value === 'string' ? value : Buffer.from(value)
    }, (error) => {
      done()
      // Nothing is stored, and the stale value is not served again.
      if (stale !== undefined && !this.#inner.has(key)) this.#inner.delete(key)
      throw error
    })
    // A background refresh whose caller took the stale value may reject with no one waiting:
    // that is not an unhandled rejection (whoever awaits `running` still sees it).
    running.catch(() => {})
    this.#inflight.set(key, running)
    return running
  }

  /** @param {string} key */
  delete (key) {
    if (typeof key !== 'string') throw validate.typeError('cache.delete', 'key', 'a string', key)
    return this.#inner.delete(key)
  }

  clear () {
    this.#inner.clear()
  }

  /** The keys, most recent first (a snapshot; stale entries only if the cache `allowStale`). */
  keys () {
    const flat = this.#inner.entries(this.#iterStale)
    const out = new Array(flat.length / 2)
    for (let i = 0; i < out.length; i++) out[i] = flat[2 * i]
    return out.values()
  }

  /** The values, most recent first (as `keys()`); Buffers are copies (structured: deep copies). */
  values () {
    const flat = this.#decodeAll(this.#inner.entries(this.#iterStale), 2)
    const out = new Array(flat.length / 2)
    for (let i = 0; i < out.length; i++) out[i] = flat[2 * i + 1]
    return out.values()
  }

  /** `[key, value]` pairs, most recent first (as `keys()`). */
  entries () {
    const flat = this.#decodeAll(this.#inner.entries(this.#iterStale), 2)
    const out = new Array(flat.length / 2)
    for (let i = 0; i < out.length; i++) out[i] = [flat[2 * i], flat[2 * i + 1]]
    return out.values()
  }

  /**
   * Every entry, stale ones included, least recent first, as lru-cache's `dump()`:
   * `[key, { value, ttl, start? }]`, `ttl` in ms (0: none) and `start` the epoch ms at which
   * its TTL started (only with a TTL), so that `load()` here or in another process restores
   * the recency and the time left.
   */
  dump () {
    const flat = this.#decodeAll(this.#inner.entries(3), 4)
    const now = Date.now()
    const out = []
    for (let i = flat.length - 4; i >= 0; i -= 4) {
      const entry = { value: flat[i + 1], ttl: flat[i + 2] }
      if (entry.ttl > 0) entry.start = Math.floor(now - flat[i + 3])
      out.push([flat[i], entry])
    }
    return out
  }

  /**
   * Replaces the contents with those of a `dump()` (this cache's, another's, or lru-cache's
   * with string or byte values; structured: any values `v8.serialize` accepts, but `undefined`):
   * clears, then sets each entry in order, so the last is the most recent; bounds apply as to
   * any `set`. Everything is checked (and serialized) before the cache changes.
   * @param {Array<[string, { value: unknown, ttl?: number, start?: number, size?: number }]>} entries
   */
  load (entries) {
    const fn = 'cache.load'
    if (!Array.isArray(entries)) throw validate.typeError(fn, 'entries', 'an array of [key, { value, ttl?, start? }]', entries)
    const now = Date.now()
    const sets = entries.map((item, i) => {
      const at = `entries[${i}]`
      if (!Array.isArray(item) || item.length !== 2) throw validate.typeError(fn, at, 'a [key, { value, ttl?, start? }] pair', item)
      const [key, entry] = item
      validate.string(fn, `${at}[0]`, key)
      if (typeof entry !== 'object' || entry === null) throw validate.typeError(fn, `${at}[1]`, 'an object', entry)
      validate.options(fn, entry, DUMP_KEYS)
      let value = entry.value
      if (!this.#structured) {
        validate.input(fn, value, `${at}[1].value`)
      } else if (value === undefined) {
        throw validate.typeError(fn, `${at}[1].value`, 'a value v8.serialize accepts, but undefined', value)
      } else {
        value = encode(fn, `${at}[1].value`, value)
      }
      if (entry.size !== undefined) validate.duration(fn, `${at}[1].size`, entry.size, validate.MAX_SAFE)
      if (entry.ttl === undefined) return [key, value, undefined]
      const ttlMs = Math.ceil(validate.duration(fn, `${at}[1].ttl`, entry.ttl, validate.MAX_SAFE))
      let ageMs = 0
      if (entry.start !== undefined && ttlMs > 0) {
        validate.duration(fn, `${at}[1].start`, entry.start, validate.MAX_SAFE)
        ageMs = Math.min(Math.max(0, now - entry.start), validate.MAX_SAFE)
      }
      return [key, value, { ttlMs, ageMs }]
    })
    this.#inner.clear()
    for (const [key, value, options] of sets) this.#inner.set(key, value, options)
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
      const { fetchMethod, structured, ...options } = cacheOptions(maxEntriesOrOptions, ttlSeconds, config)
      let inner
      try {
        inner = engine.createCache(options)
      } catch (error) {
        // The native engine refuses with a code; the words are validate.js's.
        throw error?.code === 'ULTRA_NAMED_CACHE_MISMATCH' ? validate.namedCacheMismatchError(options.name, options) : error
      }
      return new Cache(inner, options, fetchMethod, structured)
    }
  }
}

module.exports = { cacheApi }
