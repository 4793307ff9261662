'use strict'
/**
 * The fallback memory manager. Without the tracking allocator, JS cannot know
 * allocator, jemalloc or per-subsystem figures: those are `null` (unavailable),
 * never 0. What JS does know, the arenas, pools and caches of this thread, is
 * totalled.
 * @module
 */

const fs = require('node:fs')
const live = require('./registry.js')

/**
 * The owners of `explain()`, JS key → Prometheus `owner` label, in report
 * order (the native engine's are `ultra_core::Owner`; a test keeps both equal).
 */
const OWNERS = Object.freeze({
  code: 'code',
  addonCode: 'addon_code',
  ultra: 'ultra',
  allocatorOverhead: 'allocator_overhead',
  v8Heap: 'v8_heap',
  malloc: 'malloc',
  mallocFree: 'malloc_free',
  stacks: 'stacks'
})

/**
 * `VmRSS` and the file-backed part `RssFile + RssShmem` of /proc/self/status,
 * in bytes; `null` where it cannot be read (not Linux).
 * @returns {{ rss: number, code: number } | null}
 */
function procStatus () {
  let text
  try {
    text = fs.readFileSync('/proc/self/status', 'latin1')
  } catch {
    return null
  }
  /** @param {string} key */
  const bytes = (key) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text)
    return m === null ? null : Number(m[1]) * 1024
  }
  const rss = bytes('VmRSS')
  const file = bytes('RssFile')
  const shmem = bytes('RssShmem')
  if (rss === null || file === null || shmem === null) return null
  return { rss, code: file + shmem }
}

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

  /**
   * The RSS split with what JS can know: `code` (from /proc/self/status) and
   * `v8Heap`; the native owners are `null` and their bytes are in
   * `unattributedBytes`, which is `rssBytes` minus every known owner, exactly.
   * @param {number | null} v8HeapBytes the V8 heap's physical size, read just before
   */
  explain (v8HeapBytes) {
    const status = procStatus()
    const rssBytes = status === null ? process.memoryUsage.rss() : status.rss
    /** @type {Record<string, number | null>} */
    const owners = {}
    for (const key of Object.keys(OWNERS)) owners[key] = null
    owners.code = status === null ? null : status.code
    owners.v8Heap = v8HeapBytes ?? null
    let known = 0
    for (const bytes of Object.values(owners)) if (bytes !== null) known += bytes
    return { native: false, rssBytes, owners, unattributedBytes: rssBytes - known, ultraSubsystems: null, threads: null }
  },

  /** @returns {null} nothing to trim: JS memory is the garbage collector's */
  trim () {
    return null
  },

  /** @returns {null} glibc's malloc is out of JS's reach */
  trimMalloc () {
    return null
  }
}

/** @returns {typeof manager} */
function createMemoryManager () {
  return manager
}

module.exports = { createMemoryManager, OWNERS }
