'use strict'
/**
 * Arenas, buffer pools and the memory manager, checked before they reach the
 * engine. The engine receives complete options: arena `{ chunkBytes, limitBytes }`,
 * pool `{ initial, max, bufferBytes }`, and every `acquire` an explicit size.
 * @module
 */

const validate = require('./validate.js')

const ARENA_KEYS = Object.freeze(['chunkBytes', 'limitBytes'])
const POOL_KEYS = Object.freeze(['initial', 'max', 'bufferBytes'])

/** A bump arena handing out Buffers; `reset()` detaches all of them at once. */
class MemoryArena {
  #inner

  /** @param {object} inner the engine's arena */
  constructor (inner) {
    this.#inner = inner
  }

  /**
   * @param {number} size bytes, >= 1
   * @returns {Buffer}
   */
  allocBuffer (size) {
    validate.integer('arena.allocBuffer', 'size', size, 1, validate.MAX_BUFFER_BYTES)
    try {
      return this.#inner.allocBuffer(size)
    } catch (error) {
      // The native engine refuses with a code; the words are validate.js's.
      throw error?.code === 'ULTRA_ARENA_LIMIT' ? validate.arenaLimitError(size, this.#inner.stats().limitBytes) : error
    }
  }

  reset () {
    this.#inner.reset()
  }

  stats () {
    return this.#inner.stats()
  }
}

/**
 * A pool of reusable Buffers. The handle remembers which Buffers it handed out,
 * so that releasing one twice, or one it never handed out, fails the same way in
 * both engines.
 */
class ObjectPool {
  #inner
  #bufferBytes
  /** @type {WeakSet<Uint8Array>} */
  #out = new WeakSet()

  /**
   * @param {object} inner the engine's pool
   * @param {number} bufferBytes the default size of `acquire`
   */
  constructor (inner, bufferBytes) {
    this.#inner = inner
    this.#bufferBytes = bufferBytes
  }

  /**
   * @param {number} [size] bytes, >= 1; the pool's `bufferBytes` by default
   * @returns {Buffer}
   */
  acquire (size) {
    const buffer = this.#inner.acquire(size === undefined
      ? this.#bufferBytes
      : validate.integer('pool.acquire', 'size', size, 1, validate.MAX_BUFFER_BYTES))
    this.#out.add(buffer)
    return buffer
  }

  /** @param {Buffer} buffer a Buffer from `acquire`, not yet released */
  release (buffer) {
    if (!(buffer instanceof Uint8Array)) throw validate.typeError('pool.release', 'buffer', 'a Buffer', buffer)
    if (!this.#out.delete(buffer)) {
      throw validate.rangeError('pool.release', 'buffer', 'a Buffer acquired from this pool and not yet released', buffer)
    }
    this.#inner.release(buffer)
  }

  shrink () {
    return this.#inner.shrink()
  }

  stats () {
    return this.#inner.stats()
  }
}

/** The V8 heap's physical size now (node:v8 is loaded at the first call only). */
function v8HeapBytes () {
  return require('node:v8').getHeapStatistics().total_physical_size
}

/** Whole-process memory figures: the engine's snapshot plus Node's own. */
class MemoryManager {
  #inner

  /** @param {object} inner the engine's manager */
  constructor (inner) {
    this.#inner = inner
  }

  /**
   * The process's RSS of one reading split into owners that add up to it
   * exactly; the V8 heap is read here, right before the engine reads the rest.
   * @returns {import('../index').MemoryExplanation}
   */
  explain () {
    return this.#inner.explain(v8HeapBytes())
  }

  /** @returns {number | null} resident bytes glibc's `malloc_trim(0)` released */
  trimMalloc () {
    return this.#inner.trimMalloc()
  }

  stats () {
    const stats = this.#inner.stats()
    const usage = process.memoryUsage()
    stats.process = { rssBytes: usage.rss, heapUsed: usage.heapUsed, external: usage.external }
    return stats
  }

  trim () {
    return this.#inner.trim()
  }
}

/**
 * @param {unknown} options
 * @param {import('../index').MemoryConfig} config
 */
function arenaOptions (options, config) {
  const fn = 'createMemoryArena'
  let chunkBytes = config.arenaChunkBytes
  let limitBytes = config.arenaLimitBytes
  if (validate.options(fn, options, ARENA_KEYS)) {
    if (options.limitBytes !== undefined) limitBytes = validate.integer(fn, 'options.limitBytes', options.limitBytes, 1, validate.MAX_SAFE)
    if (options.chunkBytes !== undefined) chunkBytes = validate.integer(fn, 'options.chunkBytes', options.chunkBytes, 1, validate.MAX_BUFFER_BYTES)
  }
  if (chunkBytes > limitBytes) {
    throw validate.rangeError(fn, 'options.chunkBytes', `at most limitBytes (${limitBytes})`, chunkBytes)
  }
  return { chunkBytes, limitBytes }
}

/**
 * @param {unknown} options `maxIdle` or the options object
 * @param {import('../index').MemoryConfig} config
 */
function poolOptions (options, config) {
  const fn = 'createObjectPool'
  let max = config.poolMax
  let bufferBytes = config.poolBufferBytes
  let initial
  if (typeof options === 'number') {
    max = validate.integer(fn, 'maxIdle', options, 0, validate.MAX_POOL_BUFFERS)
  } else if (options !== undefined && typeof options !== 'object') {
    throw validate.typeError(fn, 'maxIdle', 'an integer or an options object', options)
  } else if (validate.options(fn, options, POOL_KEYS)) {
    if (options.max !== undefined) max = validate.integer(fn, 'options.max', options.max, 0, validate.MAX_POOL_BUFFERS)
    if (options.bufferBytes !== undefined) bufferBytes = validate.integer(fn, 'options.bufferBytes', options.bufferBytes, 1, validate.MAX_BUFFER_BYTES)
    if (options.initial !== undefined) initial = validate.integer(fn, 'options.initial', options.initial, 0, max)
  }
  return { initial: initial ?? Math.min(config.poolInitial, max), max, bufferBytes }
}

/**
 * @param {object} engine
 * @param {() => import('../index').MemoryConfig} config
 */
function memoryApi (engine, config) {
  return {
    /** @param {{ chunkBytes?: number, limitBytes?: number }} [options] */
    createMemoryArena (options) {
      return new MemoryArena(engine.createMemoryArena(arenaOptions(options, config())))
    },

    /** @param {number | { initial?: number, max?: number, bufferBytes?: number }} [options] */
    createObjectPool (options) {
      const resolved = poolOptions(options, config())
      return new ObjectPool(engine.createObjectPool(resolved), resolved.bufferBytes)
    },

    createMemoryManager () {
      return new MemoryManager(engine.createMemoryManager())
    }
  }
}

module.exports = { memoryApi, v8HeapBytes }
