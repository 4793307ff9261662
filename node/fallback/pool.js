'use strict'
/**
 * The fallback buffer pool. Each Buffer has an ArrayBuffer of its own, of a size
 * class: `bufferBytes` times a power of two. `release` detaches the Buffer by
 * transferring its ArrayBuffer, and keeps the transferred one for reuse while
 * fewer than `max` of its class are idle.
 * @module
 */

const validate = require('../lib/validate.js')
const live = require('./registry.js')

class FallbackPool {
  #max
  #bufferBytes
  /** @type {Map<number, ArrayBuffer[]>} idle ArrayBuffers by size class */
  #idle = new Map()
  /** @type {WeakMap<Uint8Array, number>} the size class of each Buffer in use */
  #classOf = new WeakMap()
  #idleCount = 0
  #idleBytes = 0
  #inUse = 0
  #inUseBytes = 0
  #hits = 0
  #misses = 0
  /** Forgets in-use Buffers that were dropped without `release`. */
  #dropped = new FinalizationRegistry((bytes) => {
    this.#inUse--
    this.#inUseBytes -= bytes
  })

  /** @param {{ initial: number, max: number, bufferBytes: number }} options */
  constructor ({ initial, max, bufferBytes }) {
    this.#max = max
    this.#bufferBytes = bufferBytes
    for (let i = 0; i < initial; i++) this.#keep(new ArrayBuffer(bufferBytes))
    live.pools.add(this)
  }

  /** @param {number} size */
  #sizeClass (size) {
    let bytes = this.#bufferBytes
    while (bytes < size) bytes *= 2
    return Math.min(bytes, validate.MAX_BUFFER_BYTES)
  }

  /**
   * Keeps an ArrayBuffer for reuse, unless its class already has `max` idle.
   * @param {ArrayBuffer} arrayBuffer
   */
  #keep (arrayBuffer) {
    const bytes = arrayBuffer.byteLength
    let list = this.#idle.get(bytes)
    if (list === undefined) this.#idle.set(bytes, (list = []))
    if (list.length >= this.#max) return
    list.push(arrayBuffer)
    this.#idleCount++
    this.#idleBytes += bytes
  }

  /**
   * @param {number} size bytes, >= 1
   * @returns {Buffer} not zero-filled when reused
   */
  acquire (size) {
    const bytes = this.#sizeClass(size)
    let arrayBuffer = this.#idle.get(bytes)?.pop()
    if (arrayBuffer === undefined) {
      this.#misses++
      arrayBuffer = new ArrayBuffer(bytes)
    } else {
      this.#hits++
      this.#idleCount--
      this.#idleBytes -= bytes
    }
    const buffer = Buffer.from(arrayBuffer, 0, size)
    this.#classOf.set(buffer, bytes)
    this.#dropped.register(buffer, bytes, buffer)
    this.#inUse++
    this.#inUseBytes += bytes
    return buffer
  }

  /** @param {Buffer} buffer a Buffer this pool handed out and that is still in use */
  release (buffer) {
    const bytes = this.#classOf.get(buffer)
    this.#classOf.delete(buffer)
    this.#dropped.unregister(buffer)
    this.#inUse--
    this.#inUseBytes -= bytes
    // Already detached (transferred by its user): nothing left to keep.
    if (buffer.buffer.byteLength !== 0) this.#keep(structuredClone(buffer.buffer, { transfer: [buffer.buffer] }))
  }

  /** @returns {number} the bytes of the idle buffers let go */
  shrink () {
    const freed = this.#idleBytes
    this.#idle.clear()
    this.#idleCount = 0
    this.#idleBytes = 0
    return freed
  }

  stats () {
    return {
      idle: this.#idleCount,
      inUse: this.#inUse,
      hits: this.#hits,
      misses: this.#misses,
      bytesHeld: this.#idleBytes + this.#inUseBytes
    }
  }
}

/** @param {{ initial: number, max: number, bufferBytes: number }} options */
function createObjectPool (options) {
  return new FallbackPool(options)
}

module.exports = { createObjectPool }
