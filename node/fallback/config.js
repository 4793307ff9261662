'use strict'
/**
 * The fallback's configuration: the `ULTRA_*` parser of `alloc/src/config.rs`,
 * driven by its table (`lib/config-table.json`, generated from the Rust table and
 * checked against it by `cargo test -p ultra-alloc --test config_table`). The
 * rules are Rust's, and the shared table of inputs `alloc/tests/config_cases.json`
 * runs against both parsers, so both accept the same values and refuse the
 * others in the same words. The effective configuration is per thread.
 * @module
 */

const net = require('node:net')
const TABLE = require('../lib/config-table.json')

/**
 * @typedef {import('../lib/config.js').Variable} Variable
 * @typedef {number | boolean | string | null} ConfigValue
 */

/** @type {ReadonlyMap<string, Variable>} */
const BY_KEY = new Map(TABLE.variables.map((v) => [v.key, v]))
/** @type {ReadonlyMap<string, Variable>} */
const BY_NAME = new Map(TABLE.variables.map((v) => [v.name, v]))

const UNITS = { '': 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }
const INTEGER = /^(-?)(\d+)$/
const SIZE = /^(-?)(\d+)[\t\n\f\r ]*(B|KiB|MiB|GiB)?$/
const ASCII_SPACE = /^[\t\n\f\r ]+|[\t\n\f\r ]+$/g
const TRUE = ['1', 'true', 'on', 'yes']
const FALSE = ['0', 'false', 'off', 'no']

/**
 * The error of a value that is not acceptable: the message of Rust's `ConfigError`.
 * @param {string} name the variable
 * @param {string} value as given
 * @param {string} expected
 * @returns {RangeError}
 */
function configError (name, value, expected) {
  return new RangeError(`invalid ${name}=${JSON.stringify(value)}: expected ${expected}`)
}

/**
 * Whether `value` is of the variable's kind and within its range.
 * @param {Variable} v
 * @param {ConfigValue} value
 */
function accepts (v, value) {
  if (value === null) return v.optional
  switch (v.kind) {
    case 'count':
    case 'size':
    case 'millis':
      return typeof value === 'number' && Number.isInteger(value) && value >= v.min && value <= v.max
    case 'bool':
      return typeof value === 'boolean'
    default:
      return typeof value === 'string'
  }
}

/**
 * `a.b.c.d[:port]`, `[v6[%scope]]:port`, `v6` or `[v6]`, as Rust's `SocketAddr` (or `IpAddr`
 * with the default port) reads it, written as Rust's `Display` writes it.
 * @param {string} s
 * @returns {string | undefined}
 */
function parseAddr (s) {
  const v6Port = /^\[([^\]%]+)(?:%(\d+))?\]:(\d+)$/.exec(s)
  if (v6Port) {
    const scope = v6Port[2] === undefined ? '' : Number(v6Port[2])
    if (!net.isIPv6(v6Port[1]) || !port(v6Port[3]) || scope > 0xffffffff) return undefined
    return `[${canonicalV6(v6Port[1])}${scope === '' ? '' : `%${scope}`}]:${Number(v6Port[3])}`
  }
  const v4Port = /^([^:]+):(\d+)$/.exec(s)
  if (v4Port) {
    const ip = isLocalhost(v4Port[1]) ? '127.0.0.1' : v4Port[1]
    return net.isIPv4(ip) && port(v4Port[2]) ? `${ip}:${Number(v4Port[2])}` : undefined
  }
  const host = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s
  if (isLocalhost(host)) return `127.0.0.1:${TABLE.defaultExporterPort}`
  if (net.isIPv4(host)) return `${host}:${TABLE.defaultExporterPort}`
  if (!host.includes('%') && net.isIPv6(host)) return `[${canonicalV6(host)}]:${TABLE.defaultExporterPort}`
  return undefined
}

/** `localhost`, in any case, names 127.0.0.1 (as Rust's `parse_addr` reads it). */
function isLocalhost (host) {
  return host.toLowerCase() === 'localhost'
}

/** @param {string} digits */
function port (digits) {
  return Number(digits) <= 65535
}

/**
 * RFC 5952 text of an IPv6 address (the URL serialiser's), with an IPv4-mapped
 * address written `::ffff:a.b.c.d` as Rust writes it.
 * @param {string} host
 */
function canonicalV6 (host) {
  const text = new URL(`http://[${host}]/`).hostname.slice(1, -1)
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(text)
  if (!mapped) return text
  const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)]
  return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
}

/**
 * Parses one variable as the environment gives it.
 * @param {Variable} v
 * @param {string} raw
 * @returns {ConfigValue | undefined} `undefined` when empty (unset)
 */
function parse (v, raw) {
  const s = raw.replace(ASCII_SPACE, '')
  if (s === '') return undefined
  /** @type {ConfigValue | undefined} */
  let value
  switch (v.kind) {
    case 'count':
    case 'millis':
    case 'size': {
      const m = (v.kind === 'size' ? SIZE : INTEGER).exec(s)
      if (m) {
        const n = Number(m[2]) * UNITS[m[3] ?? '']
        value = m[1] === '-' && n !== 0 ? -n : n
      }
      break
    }
    case 'bool': {
      const lower = s.replace(/[A-Z]/g, (c) => c.toLowerCase())
      value = TRUE.includes(lower) ? true : FALSE.includes(lower) ? false : undefined
      break
    }
    case 'addr':
      value = parseAddr(s)
      break
    default:
      value = s
  }
  if (value === undefined || !accepts(v, value)) throw configError(v.name, raw, v.expected)
  return value
}

/**
 * The effective configuration: the defaults, then each variable of `env`, then
 * each option (which overrides its variable), then the `atMost` relations.
 * @param {Record<string, string | undefined>} env
 * @param {Record<string, ConfigValue>} options checked by lib/config.js
 * @returns {Record<string, ConfigValue>}
 */
function resolve (env, options) {
  /** @type {Record<string, ConfigValue>} */
  const config = {}
  for (const v of TABLE.variables) config[v.key] = v.default
  for (const v of TABLE.variables) {
    const raw = env[v.name]
    if (raw === undefined) continue
    const value = parse(v, raw)
    if (value !== undefined) config[v.key] = value
  }
  for (const key of Object.keys(options)) {
    const v = BY_KEY.get(key)
    const value = options[key]
    if (v === undefined) continue
    if (!accepts(v, value)) throw configError(v.name, String(value), v.expected)
    config[key] = value
  }
  for (const [small, large] of TABLE.atMost) {
    const [a, b] = [BY_NAME.get(small), BY_NAME.get(large)]
    const [x, y] = [config[a.key], config[b.key]]
    if (typeof x === 'number' && typeof y === 'number' && x > y) {
      throw configError(a.name, String(x), `at most ${b.name} (${y})`)
    }
  }
  return config
}

/** @type {Readonly<Record<string, ConfigValue>> | null} */
let effective = null

/**
 * The engine's `initMemorySubsystem`: resolves the configuration of this thread
 * on the first call that succeeds; later calls return it (lib/config.js refuses an
 * option that differs from the value in effect).
 * @param {Record<string, ConfigValue>} [options]
 */
function initMemorySubsystem (options) {
  if (effective === null) effective = Object.freeze(resolve(process.env, options ?? {}))
  return { ...effective }
}

/** @returns {Readonly<Record<string, ConfigValue>>} the effective configuration, resolved if need be */
function effectiveConfig () {
  if (effective === null) initMemorySubsystem()
  return /** @type {Readonly<Record<string, ConfigValue>>} */ (effective)
}

/**
 * The `ultra_config_*` gauges of a configuration, as the native exporter
 * shows them (one per variable that has one and is set), in base units.
 * @param {Readonly<Record<string, ConfigValue>>} config
 * @returns {Array<[string, number]>} `[family name, value]`
 */
function configGauges (config) {
  /** @type {Array<[string, number]>} */
  const out = []
  for (const v of TABLE.variables) {
    const value = config[v.key]
    if (v.metric === null || value === null || typeof value === 'string') continue
    let n = typeof value === 'boolean' ? Number(value) : value
    if (v.metric.seconds) n = n < 0 ? -1 : n / 1000
    out.push([v.metric.name, n])
  }
  return out
}

module.exports = { resolve, initMemorySubsystem, effectiveConfig, configGauges }
