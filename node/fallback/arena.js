'use strict'
/**
 * The fallback arena: Buffers carved out of chunk ArrayBuffers. `reset()`
 * detaches every chunk by transferring it, so each Buffer handed out before has
 * length 0 afterwards and can never see the bytes of a later allocation.
 * @module
 */

const validate = require('../lib/validate.js')
const live = require('./registry.js')

/** Alignment of every allocation, in bytes. */
const ALIGN = 8

class FallbackArena {
  #chunkBytes
  #limitBytes
  /** @type {ArrayBuffer[]} */
  #chunks = []
  /** @type {ArrayBuffer | null} */
  #current = null
  #offset = 0
  #reserved = 0
  #used = 0

  /** @param {{ chunkBytes: number, limitBytes: number }} options */
  constructor ({ chunkBytes, limitBytes }) {
    this.#chunkBytes = chunkBytes
    this.#limitBytes = limitBytes
    live.arenas.add(this)
  }

  /**
   * @param {number} size bytes, >= 1
   * @returns {Buffer} zero-filled
   */
  allocBuffer (size) {
    let at = Math.ceil(this.#offset / ALIGN) * ALIGN
    if (this.#current === null || at + size > this.#current.byteLength) {
      this.#grow(size)
      at = 0
    }
    this.#offset = at + size
    this.#used += size
    return Buffer.from(this.#current, at, size)
  }

  /**
   * Reserves a new chunk: twice the last one, at least `chunkBytes` and `size`,
   * at most what the limit leaves.
   * @param {number} size
   */
  #grow (size) {
    const room = this.#limitBytes - this.#reserved
    if (size > room) throw validate.arenaLimitError(size, this.#limitBytes)
    const last = this.#current === null ? 0 : this.#current.byteLength
    const bytes = Math.min(room, validate.MAX_BUFFER_BYTES, Math.max(size, this.#chunkBytes, last * 2))
    this.#current = new ArrayBuffer(bytes)
    this.#chunks.push(this.#current)
    this.#reserved += bytes
    this.#offset = 0
  }

  /** Detaches every Buffer handed out and gives all chunks back. */
  reset () {
    for (const chunk of this.#chunks) structuredClone(chunk, { transfer: [chunk] })
    this.#chunks = []
    this.#current = null
    this.#offset = 0
    this.#reserved = 0
    this.#used = 0
  }

  stats () {
    return {
      reservedBytes: this.#reserved,
      usedBytes: this.#used,
      chunks: this.#chunks.length,
      limitBytes: this.#limitBytes
    }
  }
}

/** @param {{ chunkBytes: number, limitBytes: number }} options */
function createMemoryArena (options) {
  return new FallbackArena(options)
}

module.exports = { createMemoryArena }
