'use strict'
/**
 * ultra-node: loads the native addon (`native.js`, written by `napi build`) and,
 * when it cannot load or `ULTRA_FORCE_FALLBACK` is set, the pure-JS fallback.
 * Either engine is wrapped by the same argument checks (lib/), so the API and its
 * errors are the same; `isNative` tells which one runs.
 * @module
 */

const { createApi, assertEngine } = require('./lib/api.js')
const { parseFlag } = require('./lib/config.js')

/**
 * Loads the addon unless the fallback is forced.
 * @returns {{ engine: object | null, loadError: Error | null }}
 */
function loadNative () {
  if (parseFlag('ULTRA_FORCE_FALLBACK', process.env.ULTRA_FORCE_FALLBACK)) return { engine: null, loadError: null }
  try {
    const engine = require('./native.js')
    assertEngine(engine)
    return { engine, loadError: null }
  } catch (error) {
    return { engine: null, loadError: error instanceof Error ? error : new Error(String(error)) }
  }
}

const { engine, loadError } = loadNative()

module.exports = {
  ...createApi(engine ?? require('./fallback/index.js')),
  /** Whether the native addon is in use. */
  isNative: engine !== null,
  /** Why the addon did not load, or `null` when it loaded or the fallback was forced. */
  loadError
}
