'use strict'
/**
 * Native heap profiles (jemalloc's sampling profiler, as pprof), checked before
 * they reach the engine:
 * - `heapProfile()`: the live native heap sampled since sampling was switched on,
 *   a gzipped pprof `Profile` (`inuse_space`, bytes), symbolized, as a Buffer;
 * - `setHeapProfiling(on)`: switches sampling on or off at run time;
 * - `heapProfileStatus()`: `{ available, active, sampleBytes }`.
 * Each applies the effective configuration first, so that `ULTRA_HEAP_PROFILE=1`
 * has switched sampling on before the first call reads it. The fallback has no
 * native heap: its engine throws `ULTRA_HEAP_PROFILE_UNAVAILABLE`.
 * @module
 */

const validate = require('./validate.js')

/**
 * @param {object} engine
 * @param {() => object} current applies and returns the effective configuration
 * @returns the heap-profile part of the public API
 */
function profileApi (engine, current) {
  return {
    /** @returns {Buffer} a gzipped pprof profile of the live native heap */
    heapProfile () {
      current()
      return engine.heapProfile()
    },

    /** @param {boolean} on */
    setHeapProfiling (on) {
      validate.boolean('setHeapProfiling', 'on', on)
      current()
      engine.setHeapProfiling(on)
    },

    /** @returns {{ available: boolean, active: boolean, sampleBytes: number | null }} */
    heapProfileStatus () {
      current()
      return engine.heapProfileStatus()
    }
  }
}

module.exports = { profileApi }
