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

function arenaTotals () {
  const totals = { count: 0, reservedBytes: 0, usedBytes: 0 }
  for (const arena of live.arenas) {
    const s = arena.stats()
    totals.count++
    totals.reservedBytes += s.reservedBytes
    totals.usedBytes += s.usedBytes
  }
  return totals
}

function poolTotals () {
  const totals = { count: 0, idle: 0, inUse: 0, bytesHeld: 0 }
  for (const pool of live.pools) {
    const s = pool.stats()
    totals.count++
    totals.idle += s.idle
    totals.inUse += s.inUse
    totals.bytesHeld += s.bytesHeld
  }
  return totals
}

function cacheTotals () {
  const totals = { count: 0, entries: 0, bytes: 0 }
  for (const cache of live.caches) {
    const s = cache.stats()
    totals.count++
    totals.entries += s.entries
    totals.bytes += s.bytes
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
      arenas: arenaTotals(),
      pools: poolTotals(),
      caches: cacheTotals()
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
