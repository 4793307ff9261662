'use strict'
/**
 * The fallback memory manager. Without the tracking allocator, JS cannot know
 * allocator, jemalloc or per-subsystem figures: those are `null` (unavailable),
 * never 0. What JS does know, the arenas, pools and caches of this thread, is
 * totalled.
 * @module
 */

const live = require('./registry.js')

const SUBSYSTEMS = ['cache', 'json', 'hash', 'arena', 'pool', 'exporter', 'other']

function unavailableTotals () {
  return {
    liveBytes: null,
    peakBytes: null,
    allocatedBytes: null,
    freedBytes: null,
    allocations: null,
    deallocations: null,
    reallocations: null,
    failedAllocations: null
  }
}

function unavailableSubsystems () {
  const subsystems = {}
  for (const name of SUBSYSTEMS) subsystems[name] = { liveBytes: null, peakBytes: null }
  return subsystems
}

function unavailableJemalloc () {
  return { allocated: null, active: null, resident: null, mapped: null, retained: null, metadata: null }
}

/**
 * Sums the named `stats()` figures of every live object of one kind.
 * @param {Iterable<{ stats(): Record<string, number> }>} objects
 * @param {string[]} fields
 * @returns {Record<string, number>} `{ count, ...fields }`
 */
function totalOf (objects, fields) {
  const totals = { count: 0 }
  for (const field of fields) totals[field] = 0
  for (const object of objects) {
    const s = object.stats()
    totals.count++
    for (const field of fields) totals[field] += s[field]
  }
  return totals
}

const manager = {
  stats () {
    return {
      native: false,
      totals: unavailableTotals(),
      subsystems: unavailableSubsystems(),
      histogram: null,
      jemalloc: unavailableJemalloc(),
      arenas: totalOf(live.arenas, ['reservedBytes', 'usedBytes']),
      pools: totalOf(live.pools, ['idle', 'inUse', 'bytesHeld']),
      caches: totalOf(live.caches, ['entries', 'bytes'])
    }
  },

  /** @returns {null} nothing to trim: JS memory is the garbage collector's */
  trim () {
    return null
  }
}

/** @returns {typeof manager} */
function createMemoryManager () {
  return manager
}

module.exports = { createMemoryManager }
