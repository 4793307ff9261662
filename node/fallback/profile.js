'use strict'
/**
 * Heap profiles in the fallback: there is no native heap to profile, so every
 * call that needs the profiler throws the addon's refusal when its profiler is
 * missing: a RangeError with `code` `ULTRA_HEAP_PROFILE_UNAVAILABLE`.
 * @module
 */

const MESSAGE = 'heap profiling is not available: the pure-JS fallback has no native heap (the addon did not load, or ULTRA_FORCE_FALLBACK is set)'

function unavailable () {
  const error = new RangeError(MESSAGE)
  error.code = 'ULTRA_HEAP_PROFILE_UNAVAILABLE'
  return error
}

function heapProfile () {
  throw unavailable()
}

function setHeapProfiling () {
  throw unavailable()
}

function heapProfileStatus () {
  return { available: false, active: false, sampleBytes: null }
}

module.exports = { heapProfile, setHeapProfiling, heapProfileStatus }
