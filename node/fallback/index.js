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
const { metricsText, startExporter, stopExporter, exporterClosed } = require('./exporter.js')

/** @type {object | null} */
let effective = null

module.exports = {
  /** @returns {string} the package version, which tracks ultra-core's */
  getCoreVersion: () => version,

  /**
   * Keeps the first configuration it is given: later calls return it unchanged.
   * @param {object} config a complete configuration, from lib/config.js
   */
  initMemorySubsystem (config) {
    if (effective === null) effective = { ...config }
    return { ...effective }
  },

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
  startExporter,
  stopExporter,
  exporterClosed
}
