'use strict'
/**
 * The memory-subsystem configuration: `ULTRA_*` environment variables merged with
 * the options of `initMemorySubsystem`, validated here so that both engines
 * receive a complete, valid configuration and report errors in the same words.
 * @module
 */

const validate = require('./validate.js')

const MiB = 1024 * 1024

/**
 * One configuration field: its option name, environment variable, value kind,
 * allowed range and default (`null`: unset, the engine's own default applies).
 * @typedef {{ key: string, env: string, kind: 'count' | 'bytes' | 'ms' | 'flag', min: number, max: number, fallback: number | boolean | null }} Field
 */

/** @type {readonly Field[]} */
const FIELDS = Object.freeze([
  { key: 'poolInitial', env: 'ULTRA_POOL_INITIAL', kind: 'count', min: 0, max: validate.MAX_POOL_BUFFERS, fallback: 0 },
  { key: 'poolMax', env: 'ULTRA_POOL_MAX', kind: 'count', min: 0, max: validate.MAX_POOL_BUFFERS, fallback: 16 },
  { key: 'poolBufferBytes', env: 'ULTRA_POOL_BUFFER_BYTES', kind: 'bytes', min: 1, max: validate.MAX_BUFFER_BYTES, fallback: 16 * 1024 },
  { key: 'arenaChunkBytes', env: 'ULTRA_ARENA_CHUNK_BYTES', kind: 'bytes', min: 1, max: validate.MAX_BUFFER_BYTES, fallback: 64 * 1024 },
  { key: 'arenaLimitBytes', env: 'ULTRA_ARENA_LIMIT_BYTES', kind: 'bytes', min: 1, max: validate.MAX_SAFE, fallback: 64 * MiB },
  { key: 'cacheMaxEntries', env: 'ULTRA_CACHE_MAX_ENTRIES', kind: 'count', min: 1, max: validate.MAX_CACHE_ENTRIES, fallback: null },
  { key: 'cacheMaxBytes', env: 'ULTRA_CACHE_MAX_BYTES', kind: 'bytes', min: 1, max: validate.MAX_SAFE, fallback: null },
  { key: 'cacheTtlMs', env: 'ULTRA_CACHE_TTL_MS', kind: 'ms', min: 0, max: validate.MAX_SAFE, fallback: null },
  { key: 'jemallocDirtyDecayMs', env: 'ULTRA_JEMALLOC_DIRTY_DECAY_MS', kind: 'ms', min: -1, max: validate.MAX_SAFE, fallback: null },
  { key: 'jemallocBackgroundThread', env: 'ULTRA_JEMALLOC_BACKGROUND_THREAD', kind: 'flag', min: 0, max: 1, fallback: null },
  { key: 'trimIntervalMs', env: 'ULTRA_TRIM_INTERVAL_MS', kind: 'ms', min: 0, max: validate.MAX_SAFE, fallback: 0 }
])

/** The option names `initMemorySubsystem` accepts. */
const CONFIG_KEYS = Object.freeze(FIELDS.map((f) => f.key))

const UNITS = { '': 1, KiB: 1024, MiB, GiB: 1024 * MiB }
const SIZE = /^(\d+)\s*(KiB|MiB|GiB)?$/
const INTEGER = /^-?\d+$/

/**
 * Parses a boolean environment variable: `1`/`true` or `0`/`false`; empty or unset
 * is `undefined`.
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
 * Parses one field from its environment variable.
 * @param {Field} field
 * @param {string} raw a non-empty value
 * @returns {number | boolean}
 */
function parseEnv (field, raw) {
  if (field.kind === 'flag') return parseFlag(field.env, raw)
  let value = NaN
  if (field.kind === 'bytes') {
    const m = SIZE.exec(raw.trim())
    if (m) value = Number(m[1]) * UNITS[m[2] ?? '']
  } else if (INTEGER.test(raw.trim())) {
    value = Number(raw)
  }
  if (!Number.isSafeInteger(value) || value < field.min || value > field.max) {
    const unit = field.kind === 'bytes' ? ' bytes (plain, or with a KiB, MiB or GiB suffix)' : ''
    throw new RangeError(`${field.env} must be an integer in [${field.min}, ${field.max}]${unit}, got ${validate.describe(raw)}`)
  }
  return value
}

/**
 * Checks one explicit option of `initMemorySubsystem`.
 * @param {Field} field
 * @param {unknown} value
 * @returns {number | boolean}
 */
function checkOption (field, value) {
  const param = `options.${field.key}`
  if (field.kind === 'flag') {
    validate.boolean('initMemorySubsystem', param, value)
    return value
  }
  return validate.integer('initMemorySubsystem', param, value, field.min, field.max)
}

/**
 * Validates the options of `initMemorySubsystem`.
 * @param {unknown} options
 * @returns {Record<string, number | boolean>} the options given, each checked
 */
function checkOptions (options) {
  const given = {}
  if (!validate.options('initMemorySubsystem', options, CONFIG_KEYS)) return given
  for (const field of FIELDS) {
    const value = options[field.key]
    if (value !== undefined) given[field.key] = checkOption(field, value)
  }
  return given
}

/**
 * Resolves the complete configuration: explicit option, else environment
 * variable, else default.
 * @param {NodeJS.ProcessEnv} env
 * @param {Record<string, number | boolean>} given checked options
 * @returns {import('../index').MemoryConfig}
 */
function resolve (env, given) {
  const config = {}
  for (const field of FIELDS) {
    const raw = env[field.env]
    config[field.key] = given[field.key] ??
      (raw === undefined || raw === '' ? field.fallback : parseEnv(field, raw))
  }
  if (config.arenaChunkBytes > config.arenaLimitBytes) {
    throw validate.rangeError('initMemorySubsystem', 'arenaChunkBytes (option or ULTRA_ARENA_CHUNK_BYTES)',
      `at most arenaLimitBytes (${config.arenaLimitBytes})`, config.arenaChunkBytes)
  }
  return config
}

/**
 * The configuration state of one API instance: initialised once, on the first
 * `initMemorySubsystem` call or the first factory that needs a default.
 * @param {{ initMemorySubsystem(config: object): object }} engine
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
    if (effective === null) effective = Object.freeze(engine.initMemorySubsystem(resolve(process.env, given)))
    for (const key in given) {
      if (given[key] !== effective[key]) {
        throw validate.rangeError('initMemorySubsystem', `options.${key}`,
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
