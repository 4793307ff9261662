'use strict'
/**
 * Argument checks shared by both engines: the one layer that validates the
 * package's arguments and words their errors. The engines are called only with
 * arguments checked here; the native engine's own checks are guards whose errors
 * name the function and parameter only, and its refusals that depend on its state
 * carry a `code` that lib/ turns into the messages below (`arenaLimitError`,
 * `namedCacheMismatchError`).
 *
 * Every message has the shape `<function>: <parameter> must be <rule>, got <value>`.
 * A value of the wrong type is a TypeError; a value of the right type outside the
 * allowed range or set is a RangeError. The checks use plain `typeof` tests and
 * allocate nothing unless they throw.
 * @module
 */

const { constants: bufferConstants } = require('node:buffer')
// The limits shared with the addon and the configuration, from their one place
// (`alloc/src/config.rs`, through the generated table).
const { limits } = require('./config-table.json')

/**
 * Largest buffer size: the largest Buffer this Node can create, and never more
 * than the addon allows (the same on Node 20: 4 GiB).
 */
const MAX_BUFFER_BYTES = Math.min(bufferConstants.MAX_LENGTH, limits.maxBufferBytes)
/** Upper bound of byte budgets and millisecond durations (`Number.MAX_SAFE_INTEGER`). */
const MAX_SAFE = limits.maxSafe
/** Largest `max` of a cache: the fallback pre-allocates index arrays of that length. */
const MAX_CACHE_ENTRIES = limits.maxCacheEntries
/** Largest number of buffers a pool keeps or creates up front. */
const MAX_POOL_BUFFERS = limits.maxPoolBuffers
/** Largest BLAKE3 output (extendable-output mode) in bytes. */
const MAX_BLAKE3_LENGTH = limits.maxBlake3Length
/**
 * What a cache entry weighs for `maxBytes` beyond its key and value bytes: what the native
 * cache holds per entry besides them (the fallback weighs its entries the same way).
 */
const CACHE_ENTRY_OVERHEAD = limits.cacheEntryOverhead
/** Longest cache name, in UTF-16 code units. */
const MAX_CACHE_NAME_LENGTH = limits.maxCacheNameLength
/** Largest XXH3 seed. */
const MAX_SEED = 2n ** 64n - 1n

/**
 * Describes a value for an error message without calling user code.
 * @param {unknown} value
 * @returns {string}
 */
function describe (value) {
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}...` : JSON.stringify(value)
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value)
    case 'bigint':
      return `${value}n`
    case 'boolean':
    case 'undefined':
      return String(value)
    case 'symbol':
      return 'a symbol'
    case 'function':
      return 'a function'
  }
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (ArrayBuffer.isView(value)) {
    const kind = Buffer.isBuffer(value) ? 'Buffer' : Object.prototype.toString.call(value).slice(8, -1)
    return `a ${kind} of ${value.byteLength} bytes`
  }
  return 'an object'
}

/**
 * Builds the message shared by every argument error.
 * @param {string} fn function name, e.g. `cache.get`
 * @param {string} param parameter name, e.g. `options.ttlMs`
 * @param {string} rule what the parameter must be
 * @param {unknown} value what it was
 * @returns {string}
 */
function message (fn, param, rule, value) {
  return `${fn}: ${param} must be ${rule}, got ${describe(value)}`
}

/** @returns {TypeError} */
function typeError (fn, param, rule, value) {
  return new TypeError(message(fn, param, rule, value))
}

/** @returns {RangeError} */
function rangeError (fn, param, rule, value) {
  return new RangeError(message(fn, param, rule, value))
}

/**
 * Checks a hash, JSON or cache input: a string (taken as UTF-8), Buffer or Uint8Array.
 * @param {string} fn
 * @param {unknown} value
 * @param {string} [param]
 */
function input (fn, value, param = 'data') {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw typeError(fn, param, 'a string, Buffer or Uint8Array', value)
  }
}

/**
 * Checks a string argument.
 * @param {string} fn
 * @param {string} param
 * @param {unknown} value
 */
function string (fn, param, value) {
  if (typeof value !== 'string') throw typeError(fn, param, 'a string', value)
}

/**
 * Checks a boolean argument.
 * @param {string} fn
 * @param {string} param
 * @param {unknown} value
 */
function boolean (fn, param, value) {
  if (typeof value !== 'boolean') throw typeError(fn, param, 'a boolean', value)
}

/**
 * Checks an integer in `[min, max]`.
 * @param {string} fn
 * @param {string} param
 * @param {unknown} value
 * @param {number} min
 * @param {number} max
 * @returns {number} the value
 */
function integer (fn, param, value, min, max) {
  if (typeof value !== 'number') throw typeError(fn, param, `an integer in [${min}, ${max}]`, value)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(fn, param, `an integer in [${min}, ${max}]`, value)
  }
  return value
}

/**
 * Checks a duration: a number in `[0, max]`; fractions are allowed.
 * @param {string} fn
 * @param {string} param
 * @param {unknown} value
 * @param {number} max largest value allowed
 * @returns {number} the value
 */
function duration (fn, param, value, max) {
  if (typeof value !== 'number') throw typeError(fn, param, `a finite number in [0, ${max}]`, value)
  if (!(value >= 0 && value <= max)) throw rangeError(fn, param, `a finite number in [0, ${max}]`, value)
  return value
}

/**
 * Checks a string that must be one of a fixed set.
 * @param {string} fn
 * @param {string} param
 * @param {unknown} value
 * @param {readonly string[]} allowed
 * @returns {string} the value
 */
function oneOf (fn, param, value, allowed) {
  if (typeof value !== 'string') throw typeError(fn, param, quoteList(allowed), value)
  if (!allowed.includes(value)) throw rangeError(fn, param, quoteList(allowed), value)
  return value
}

/** @param {readonly string[]} list */
function quoteList (list) {
  return `one of ${list.map((s) => `'${s}'`).join(', ')}`
}

/**
 * Checks an options argument: `undefined` or a plain object whose keys are all known.
 * @param {string} fn
 * @param {unknown} options
 * @param {readonly string[]} keys the option names `fn` accepts
 * @returns {boolean} whether options were given
 */
function options (fn, options, keys) {
  if (options === undefined) return false
  if (typeof options !== 'object' || options === null || Array.isArray(options) || ArrayBuffer.isView(options)) {
    throw typeError(fn, 'options', 'an object', options)
  }
  for (const key in options) {
    if (!keys.includes(key)) {
      throw new TypeError(`${fn}: options must have only the keys ${keys.join(', ')}, got key ${describe(key)}`)
    }
  }
  return true
}

/**
 * Checks a BLAKE3 key: exactly 32 bytes.
 * @param {string} fn
 * @param {unknown} key
 */
function blake3Key (fn, key) {
  if (!(key instanceof Uint8Array)) throw typeError(fn, 'options.key', 'a 32-byte Buffer or Uint8Array', key)
  if (key.length !== 32) throw rangeError(fn, 'options.key', 'a 32-byte Buffer or Uint8Array', key)
}

/**
 * Checks an XXH3 seed: an integer in [0, 2^64 - 1] given as a number or bigint.
 * @param {string} fn
 * @param {unknown} seed
 * @returns {bigint}
 */
function seed (fn, seed) {
  const rule = 'an integer in [0, 2^64-1] (number or bigint)'
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed > MAX_SEED) throw rangeError(fn, 'options.seed', rule, seed)
    return seed
  }
  if (typeof seed !== 'number') throw typeError(fn, 'options.seed', rule, seed)
  if (!Number.isSafeInteger(seed) || seed < 0) throw rangeError(fn, 'options.seed', rule, seed)
  return BigInt(seed)
}

/**
 * Checks an RFC 6901 JSON pointer: empty, or `/`-separated tokens where `~` is
 * followed by `0` or `1`.
 * @param {string} fn
 * @param {unknown} pointer
 */
function jsonPointer (fn, pointer) {
  const rule = "an RFC 6901 JSON pointer ('' or starting with '/', '~' only in '~0' or '~1')"
  if (typeof pointer !== 'string') throw typeError(fn, 'pointer', rule, pointer)
  if (pointer !== '' && (pointer.charCodeAt(0) !== 0x2f || !POINTER_ESCAPES.test(pointer))) {
    throw rangeError(fn, 'pointer', rule, pointer)
  }
}
const POINTER_ESCAPES = /^(?:[^~]|~[01])*$/

/**
 * The error of an arena allocation that would take the arena past its limit
 * (the fallback throws it, lib/ for the native engine's `ULTRA_ARENA_LIMIT`).
 * @param {number} size
 * @param {number} limitBytes
 * @returns {RangeError}
 */
function arenaLimitError (size, limitBytes) {
  return rangeError('arena.allocBuffer', 'size', `within the arena's remaining limit (limitBytes ${limitBytes})`, size)
}

/**
 * The error of a named cache opened again with other bounds (the fallback throws
 * it, lib/ for the native engine's `ULTRA_NAMED_CACHE_MISMATCH`).
 * @param {string} name
 * @param {object} options the options of the second open
 * @returns {RangeError}
 */
function namedCacheMismatchError (name, options) {
  return rangeError('createCache', 'options', `the bounds the cache named ${describe(name)} was opened with`, options)
}

module.exports = {
  MAX_BUFFER_BYTES,
  MAX_SAFE,
  MAX_CACHE_ENTRIES,
  MAX_POOL_BUFFERS,
  MAX_BLAKE3_LENGTH,
  CACHE_ENTRY_OVERHEAD,
  MAX_CACHE_NAME_LENGTH,
  describe,
  typeError,
  rangeError,
  input,
  string,
  boolean,
  integer,
  duration,
  oneOf,
  options,
  blake3Key,
  seed,
  jsonPointer,
  arenaLimitError,
  namedCacheMismatchError
}
