'use strict'
/**
 * BLAKE3 and XXH3: one-shot functions and streaming hashers, checked before they
 * reach the engine. The engine receives complete options:
 * BLAKE3 `{ length, key, context, encoding }`, XXH3 `{ bits, seed: bigint, encoding }`.
 * @module
 */

const validate = require('./validate.js')

const BLAKE3_KEYS = Object.freeze(['length', 'key', 'context', 'encoding'])
const BLAKE3_HASHER_KEYS = Object.freeze(['key', 'context'])
const BLAKE3_DIGEST_KEYS = Object.freeze(['length', 'encoding'])
const BLAKE3_ENCODINGS = Object.freeze(['hex', 'buffer'])
const XXH3_KEYS = Object.freeze(['bits', 'seed', 'encoding'])
const XXH3_HASHER_KEYS = Object.freeze(['bits', 'seed'])
const XXH3_ENCODINGS = Object.freeze(['hex', 'bigint', 'buffer'])
/** Digest options of a BLAKE3 hasher by encoding name, so `digest('buffer')` allocates nothing. */
const BLAKE3_DIGESTS = Object.freeze({
  hex: Object.freeze({ length: 32, encoding: 'hex' }),
  buffer: Object.freeze({ length: 32, encoding: 'buffer' })
})

/**
 * Checks the BLAKE3 mode options shared by `blake3Hash` and `createBlake3Hasher`.
 * @param {string} fn
 * @param {object} options
 * @returns {{ key: Uint8Array | undefined, context: string | undefined }}
 */
function blake3Mode (fn, options) {
  const { key, context } = options
  if (key !== undefined) validate.blake3Key(fn, key)
  if (context !== undefined) {
    validate.string(fn, 'options.context', context)
    if (key !== undefined) throw validate.typeError(fn, 'options.context', 'undefined when options.key is set', context)
  }
  return { key, context }
}

/**
 * @param {string} fn
 * @param {unknown} length
 * @returns {number}
 */
function blake3Length (fn, length) {
  return length === undefined ? 32 : validate.integer(fn, 'options.length', length, 1, validate.MAX_BLAKE3_LENGTH)
}

/**
 * @param {string} fn
 * @param {object} options
 * @returns {{ bits: 64 | 128, seed: bigint }}
 */
function xxh3Mode (fn, options) {
  const { bits = 64, seed } = options
  if (typeof bits !== 'number') throw validate.typeError(fn, 'options.bits', '64 or 128', bits)
  if (bits !== 64 && bits !== 128) throw validate.rangeError(fn, 'options.bits', '64 or 128', bits)
  return { bits, seed: seed === undefined ? 0n : validate.seed(fn, seed) }
}

/** A streaming BLAKE3 hasher; `digest` may be called any number of times. */
class Blake3Hasher {
  #inner

  /** @param {object} inner the engine's hasher */
  constructor (inner) {
    this.#inner = inner
  }

  /**
   * @param {string | Uint8Array} data
   * @returns {this}
   */
  update (data) {
    validate.input('blake3Hasher.update', data)
    this.#inner.update(data)
    return this
  }

  /**
   * @param {'hex' | 'buffer' | { length?: number, encoding?: 'hex' | 'buffer' }} [options]
   * @returns {string | Buffer}
   */
  digest (options) {
    const fn = 'blake3Hasher.digest'
    if (options === undefined) return this.#inner.digest()
    if (typeof options === 'string') return this.#inner.digest(BLAKE3_DIGESTS[validate.oneOf(fn, 'encoding', options, BLAKE3_ENCODINGS)])
    validate.options(fn, options, BLAKE3_DIGEST_KEYS)
    return this.#inner.digest({
      length: blake3Length(fn, options.length),
      encoding: options.encoding === undefined ? 'hex' : validate.oneOf(fn, 'options.encoding', options.encoding, BLAKE3_ENCODINGS)
    })
  }
}

/** A streaming XXH3 hasher; `digest` may be called any number of times. */
class Xxh3Hasher {
  #inner

  /** @param {object} inner the engine's hasher */
  constructor (inner) {
    this.#inner = inner
  }

  /**
   * @param {string | Uint8Array} data
   * @returns {this}
   */
  update (data) {
    validate.input('xxh3Hasher.update', data)
    this.#inner.update(data)
    return this
  }

  /**
   * @param {'hex' | 'bigint' | 'buffer'} [encoding]
   * @returns {string | bigint | Buffer}
   */
  digest (encoding) {
    if (encoding === undefined) return this.#inner.digest()
    return this.#inner.digest(validate.oneOf('xxh3Hasher.digest', 'encoding', encoding, XXH3_ENCODINGS))
  }
}

/** Positional codes of the engine's `xxh3Hash64`, by encoding. */
const XXH3_CODES = Object.freeze({ hex: 0, bigint: 1, buffer: 2 })

/**
 * The positional code of `options` when it holds nothing but a valid `encoding` (the common
 * call `xxh3Hash(data, { encoding: 'bigint' })`), otherwise -1: the general path then checks
 * everything and words any error.
 * @param {object} options
 * @returns {number}
 */
function encodingOnly (options) {
  for (const key in options) if (key !== 'encoding') return -1
  const code = XXH3_CODES[options.encoding]
  return typeof code === 'number' && Object.hasOwn(XXH3_CODES, options.encoding) ? code : -1
}

/** @param {object} engine */
function hashApi (engine) {
  const fast64 = typeof engine.xxh3Hash64 === 'function'
  return {
    /**
     * @param {string | Uint8Array} data
     * @param {object} [options]
     */
    blake3Hash (data, options) {
      const fn = 'blake3Hash'
      validate.input(fn, data)
      if (!validate.options(fn, options, BLAKE3_KEYS)) return engine.blake3Hash(data)
      const { key, context } = blake3Mode(fn, options)
      return engine.blake3Hash(data, {
        length: blake3Length(fn, options.length),
        key,
        context,
        encoding: options.encoding === undefined ? 'hex' : validate.oneOf(fn, 'options.encoding', options.encoding, BLAKE3_ENCODINGS)
      })
    },

    /** @param {object} [options] */
    createBlake3Hasher (options) {
      const fn = 'createBlake3Hasher'
      if (!validate.options(fn, options, BLAKE3_HASHER_KEYS)) return new Blake3Hasher(engine.createBlake3Hasher())
      return new Blake3Hasher(engine.createBlake3Hasher(blake3Mode(fn, options)))
    },

    /**
     * @param {string | Uint8Array} data
     * @param {object} [options]
     */
    xxh3Hash (data, options) {
      const fn = 'xxh3Hash'
      validate.input(fn, data)
      if (fast64 && typeof options === 'object' && options !== null) {
        const code = encodingOnly(options)
        if (code >= 0) return engine.xxh3Hash64(data, code)
      }
      if (!validate.options(fn, options, XXH3_KEYS)) return engine.xxh3Hash(data)
      const { bits, seed } = xxh3Mode(fn, options)
      return engine.xxh3Hash(data, {
        bits,
        seed,
        encoding: options.encoding === undefined ? 'hex' : validate.oneOf(fn, 'options.encoding', options.encoding, XXH3_ENCODINGS)
      })
    },

    /** @param {object} [options] */
    createXxh3Hasher (options) {
      const fn = 'createXxh3Hasher'
      if (!validate.options(fn, options, XXH3_HASHER_KEYS)) return new Xxh3Hasher(engine.createXxh3Hasher())
      return new Xxh3Hasher(engine.createXxh3Hasher(xxh3Mode(fn, options)))
    }
  }
}

module.exports = { hashApi }
