'use strict'
/**
 * Builds the public API around an engine (the native addon or the fallback).
 *
 * An engine exposes the functions in `ENGINE_FUNCTIONS` under the public names,
 * and is only ever called with arguments that lib/ has checked and completed, so
 * both engines fail in the same words. See README.md, "Engine contract".
 * @module
 */

const { createSettings } = require('./config.js')
const { cacheApi } = require('./cache.js')
const { hashApi } = require('./hash.js')
const { jsonApi } = require('./json.js')
const { memoryApi } = require('./memory.js')
const { exporterApi } = require('./exporter.js')
const { profileApi } = require('./profile.js')

/** The functions every engine must export. */
const ENGINE_FUNCTIONS = Object.freeze([
  'getCoreVersion',
  'initMemorySubsystem',
  'createCache',
  'blake3Hash',
  'createBlake3Hasher',
  'xxh3Hash',
  'createXxh3Hasher',
  'validateJson',
  'parseJson',
  'jsonPointer',
  'minifyJson',
  'createMemoryArena',
  'createObjectPool',
  'createMemoryManager',
  'metricsText',
  'metricsSamples',
  'startExporter',
  'stopExporter',
  'exporterClosed',
  'heapProfile',
  'setHeapProfiling',
  'heapProfileStatus'
])

/**
 * Throws when an engine lacks part of the contract (for example a stale build of
 * the addon), so the loader can fall back instead of failing at the first call.
 * @param {object} engine
 */
function assertEngine (engine) {
  const missing = ENGINE_FUNCTIONS.filter((name) => typeof engine[name] !== 'function')
  if (missing.length > 0) throw new Error(`the engine lacks ${missing.join(', ')}`)
}

/**
 * @param {object} engine
 * @returns the public API, without `isNative` and `loadError`
 */
function createApi (engine) {
  assertEngine(engine)
  const settings = createSettings(engine)
  return {
    /** @returns {string} the version of ultra's core */
    getCoreVersion () {
      return engine.getCoreVersion()
    },
    initMemorySubsystem: settings.initMemorySubsystem,
    ...cacheApi(engine, settings.current),
    ...hashApi(engine),
    ...jsonApi(engine),
    ...memoryApi(engine, settings.current),
    ...exporterApi(engine),
    ...profileApi(engine, settings.current)
  }
}

module.exports = { createApi, assertEngine }
