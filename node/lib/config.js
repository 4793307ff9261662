'use strict'
/**
 * The options of `initMemorySubsystem`, checked against the configuration table
 * (`config-table.json`, generated from `alloc/src/config.rs`), and the effective
 * configuration of an API instance. The `ULTRA_*` environment is parsed by the
 * engine, never here: natively by Rust's `Config` itself, in the fallback by its
 * parser driven by the same table (`fallback/config.js`).
 * @module
 */

const validate = require('./validate.js')
const TABLE = require('./config-table.json')

/**
 * One row of the configuration table.
 * @typedef {{ name: string, key: string, kind: 'count' | 'size' | 'millis' | 'bool' | 'addr' | 'dir', min: number, max: number, optional: boolean, option: boolean, default: number | boolean | string | null, expected: string, metric: { name: string, help: string, seconds: boolean } | null }} Variable
 */

const F = 'initMemorySubsystem'
/** @type {readonly Variable[]} */
const OPTIONS = Object.freeze(TABLE.variables.filter((v) => v.option))
/** The option names `initMemorySubsystem` accepts. */
const CONFIG_KEYS = Object.freeze(OPTIONS.map((v) => v.key))

/**
 * Parses a boolean environment variable of the JS side (`ULTRA_FORCE_FALLBACK`):
 * `1`/`true` or `0`/`false`; empty or unset is `undefined`.
 * @param {string} name the variable, named in the error
 * @param {string | undefined} raw
 * @returns {boolean | undefined}
 */
function parseFlag (name, raw) {
  if (raw === undefined || raw === '') return undefined
  if (raw === '1' || raw === 'true') return true
  if (raw === '0' || raw === 'false') return false
  throw new RangeError(`${name} must be one of 0, 1, true, false or empty, got ${validate.describe(raw)}`)
}

/**
 * Validates the options of `initMemorySubsystem` against the table: an integer
 * in the variable's range, or a boolean.
 * @param {unknown} options
 * @returns {Record<string, number | boolean>} the options given, each checked
 */
function checkOptions (options) {
  const given = {}
  if (!validate.options(F, options, CONFIG_KEYS)) return given
  for (const v of OPTIONS) {
    const value = options[v.key]
    if (value === undefined) continue
    if (v.kind === 'bool') validate.boolean(F, `options.${v.key}`, value)
    else validate.integer(F, `options.${v.key}`, value, v.min, v.max)
    given[v.key] = value
  }
  return given
}

/**
 * The configuration state of one API instance: the engine resolves the effective
 * configuration once (natively once per process, in the fallback once per
 * thread), on the first `initMemorySubsystem` or the first call that needs it.
 * @param {{ initMemorySubsystem(options: object): object }} engine
 */
function createSettings (engine) {
  /** @type {import('../index').MemoryConfig | null} */
  let effective = null

  /**
   * @param {unknown} [options]
   * @returns {import('../index').MemoryConfig}
   */
  function initMemorySubsystem (options) {
    const given = checkOptions(options)
    if (effective === null) effective = Object.freeze(engine.initMemorySubsystem(given))
    for (const key in given) {
      if (given[key] !== effective[key]) {
        throw validate.rangeError(F, `options.${key}`,
          `the value in effect (${effective[key]}) once the memory subsystem is initialised`, given[key])
      }
    }
    return { ...effective }
  }

  /** @returns {import('../index').MemoryConfig} the effective configuration */
  function current () {
    if (effective === null) initMemorySubsystem()
    return effective
  }

  return { initMemorySubsystem, current }
}

module.exports = { parseFlag, createSettings }
