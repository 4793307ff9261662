'use strict'
/**
 * The fallback BLAKE3: @noble/hashes (audited, synchronous pure JS), in hash,
 * keyed-hash and derive-key modes with extendable output.
 * @module
 */

const { blake3 } = require('@noble/hashes/blake3.js')

/** @param {string | Uint8Array} data */
function bytes (data) {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data
}

/**
 * @param {Uint8Array} digest
 * @param {'hex' | 'buffer'} encoding
 */
function encode (digest, encoding) {
  const buffer = Buffer.from(digest.buffer, digest.byteOffset, digest.length)
  return encoding === 'buffer' ? buffer : buffer.toString('hex')
}

/**
 * The noble options of a mode.
 * @param {{ key?: Uint8Array, context?: string }} [mode]
 */
function nobleOptions (mode) {
  if (mode === undefined) return {}
  if (mode.key !== undefined) return { key: mode.key }
  if (mode.context !== undefined) return { context: Buffer.from(mode.context, 'utf8') }
  return {}
}

/**
 * @param {string | Uint8Array} data
 * @param {{ length: number, key?: Uint8Array, context?: string, encoding: 'hex' | 'buffer' }} [options]
 */
function blake3Hash (data, options) {
  if (options === undefined) return encode(blake3(bytes(data)), 'hex')
  return encode(blake3(bytes(data), { ...nobleOptions(options), dkLen: options.length }), options.encoding)
}

class FallbackBlake3Hasher {
  #state

  /** @param {{ key?: Uint8Array, context?: string }} [mode] */
  constructor (mode) {
    this.#state = blake3.create(nobleOptions(mode))
  }

  /** @param {string | Uint8Array} data */
  update (data) {
    this.#state.update(bytes(data))
  }

  /**
   * Digests what was hashed so far; the hasher stays usable.
   * @param {{ length: number, encoding: 'hex' | 'buffer' }} [options]
   */
  digest (options) {
    if (options === undefined) return encode(this.#state.clone().digest(), 'hex')
    return encode(this.#state.clone().xof(options.length), options.encoding)
  }
}

/** @param {{ key?: Uint8Array, context?: string }} [mode] */
function createBlake3Hasher (mode) {
  return new FallbackBlake3Hasher(mode)
}

module.exports = { blake3Hash, createBlake3Hasher }
