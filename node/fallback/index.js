'use strict'
/**
 * The pure-JS engine: the same functions as the native addon, on lru-cache,
 * @noble/hashes and @node-rs/xxhash. Called only through lib/, which checks and
 * completes every argument first. Its state (configuration, named caches) is
 * per thread.
 * @module
 */

const { version } = require('../package.json')
const { createCache } = require('./cache.js')
const { blake3Hash, createBlake3Hasher } = require('./blake3.js')
const { xxh3Hash, createXxh3Hasher } = require('./xxh3.js')
const { validateJson, parseJson, jsonPointer, minifyJson } = require('./json.js')
const { createMemoryArena } = require('./arena.js')
const { createObjectPool } = require('./pool.js')
const { createMemoryManager } = require('./manager.js')
const { metricsText, metricsSamples, startExporter, stopExporter, exporterClosed } = require('./exporter.js')
const { initMemorySubsystem } = require('./config.js')
const { heapProfile, setHeapProfiling, heapProfileStatus } = require('./profile.js')

module.exports = {
  /** @returns {string} the package version, which tracks ultra-core's */
  getCoreVersion: () => version,

  initMemorySubsystem,

  createCache,
  blake3Hash,
  createBlake3Hasher,
  xxh3Hash,
  createXxh3Hasher,
  validateJson,
  parseJson,
  jsonPointer,
  minifyJson,
  createMemoryArena,
  createObjectPool,
  createMemoryManager,
  metricsText,
  metricsSamples,
  startExporter,
  stopExporter,
  exporterClosed,
  heapProfile,
  setHeapProfiling,
  heapProfileStatus
}
