'use strict'
/**
 * The fallback XXH3: @node-rs/xxhash, whose prebuilt binaries come from the npm
 * registry, loaded on first use so that a platform without them loses XXH3
 * alone. Digests are canonical (big-endian, as `xxhsum` prints them).
 * @module
 */

/** @type {typeof import('@node-rs/xxhash').xxh3 | undefined} */
let xxh3

/**
 * @param {string} fn the API function asking, named in the error
 * @returns {typeof import('@node-rs/xxhash').xxh3}
 */
function load (fn) {
  if (xxh3 === undefined) {
    try {
      xxh3 = require('@node-rs/xxhash').xxh3
    } catch (cause) {
      throw new Error(`${fn}: XXH3 is unavailable: the fallback's @node-rs/xxhash did not load (${cause.message})`, { cause })
    }
  }
  return xxh3
}

const MASK_64 = 2n ** 64n - 1n

/**
 * @param {bigint} digest
 * @param {64 | 128} bits
 * @param {'hex' | 'bigint' | 'buffer'} encoding
 */
function encode (digest, bits, encoding) {
  if (encoding === 'bigint') return digest
  if (encoding === 'hex') return digest.toString(16).padStart(bits / 4, '0')
  const buffer = Buffer.allocUnsafe(bits / 8)
  if (bits === 64) {
    buffer.writeBigUInt64BE(digest)
  } else {
    buffer.writeBigUInt64BE(digest >> 64n)
    buffer.writeBigUInt64BE(digest & MASK_64, 8)
  }
  return buffer
}

/**
 * @param {string | Uint8Array} data
 * @param {{ bits: 64 | 128, seed: bigint, encoding: 'hex' | 'bigint' | 'buffer' }} [options]
 */
function xxh3Hash (data, options) {
  const engine = load('xxh3Hash')
  if (options === undefined) return encode(engine.xxh64(data), 64, 'hex')
  const digest = options.bits === 64 ? engine.xxh64(data, options.seed) : engine.xxh128(data, options.seed)
  return encode(digest, options.bits, options.encoding)
}

/** Streaming XXH3-64 on @node-rs/xxhash's incremental state. */
class FallbackXxh3Hasher64 {
  #state

  /** @param {bigint} seed */
  constructor (seed) {
    this.#state = load('createXxh3Hasher').Xxh3.withSeed(seed)
  }

  /** @param {string | Uint8Array} data */
  update (data) {
    this.#state.update(data)
  }

  /** @param {'hex' | 'bigint' | 'buffer'} [encoding] */
  digest (encoding = 'hex') {
    return encode(this.#state.digest(), 64, encoding)
  }
}

/**
 * Streaming XXH3-128. @node-rs/xxhash has no incremental 128-bit state, so the
 * input is kept (copied) until `digest`.
 */
class FallbackXxh3Hasher128 {
  #seed
  /** @type {Buffer[]} */
  #chunks = []

  /** @param {bigint} seed */
  constructor (seed) {
    load('createXxh3Hasher')
    this.#seed = seed
  }

  /** @param {string | Uint8Array} data */
  update (data) {
    this.#chunks.push(Buffer.from(data))
  }

  /** @param {'hex' | 'bigint' | 'buffer'} [encoding] */
  digest (encoding = 'hex') {
    const whole = Buffer.concat(this.#chunks)
    this.#chunks = [whole]
    return encode(xxh3.xxh128(whole, this.#seed), 128, encoding)
  }
}

/** @param {{ bits: 64 | 128, seed: bigint }} [mode] */
function createXxh3Hasher (mode) {
  if (mode === undefined || mode.bits === 64) return new FallbackXxh3Hasher64(mode?.seed ?? 0n)
  return new FallbackXxh3Hasher128(mode.seed)
}

module.exports = { xxh3Hash, createXxh3Hasher }
