// Shared by the specs: the API under test (whichever engine index.js picked),
// paths to the oracles, and helpers. Not a spec itself.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)

/** The package root. */
export const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The API under test, as `require('ultra-node')` returns it. */
export const api = require('../index.js')

/** What a cache entry weighs for `maxBytes` beyond its key and value bytes (both engines). */
export const CACHE_ENTRY_OVERHEAD = require('../lib/validate.js').CACHE_ENTRY_OVERHEAD

/** Longest cache name in UTF-16 units (both engines and the addon). */
export const MAX_CACHE_NAME_LENGTH = require('../lib/validate.js').MAX_CACHE_NAME_LENGTH

/** The oracles vendored in the repository's `testdata/`. */
export const oraclesDir = path.resolve(packageDir, '../testdata')

/** Whether this run forces the fallback. */
export const forcedFallback = ['1', 'true'].includes(process.env.ULTRA_FORCE_FALLBACK ?? '')

/**
 * Asserts that `fn` throws `ErrorClass` with the standard message of
 * `<function>: <param> must be ..., got ...`.
 * @param {() => unknown} fn
 * @param {ErrorConstructor} ErrorClass
 * @param {string} fnName
 * @param {string} param
 */
export function assertArgError (fn, ErrorClass, fnName, param) {
  assert.throws(fn, (error) => {
    assert.equal(error.constructor, ErrorClass, `expected ${ErrorClass.name}, got ${error.constructor.name}: ${error.message}`)
    assert.ok(error.message.startsWith(`${fnName}: ${param} must `), `message names ${fnName} and ${param}: ${error.message}`)
    assert.match(error.message, /, got /)
    return true
  })
}

/**
 * Runs `code` in a fresh Node process with extra environment variables and
 * returns what it printed as JSON.
 * @param {string} code a CommonJS script; `ultra` is the package
 * @param {Record<string, string>} [env]
 */
export function runNode (code, env = {}) {
  const out = execFileSync(process.execPath, ['-e', `const ultra = require(${JSON.stringify(packageDir)});\n${code}`], {
    env: childEnv(env),
    encoding: 'utf8'
  })
  return JSON.parse(out)
}

/**
 * This process's environment without ULTRA_* variables (but for
 * ULTRA_FORCE_FALLBACK, which selects the engine under test), plus `env`.
 * @param {Record<string, string>} env
 */
export function childEnv (env) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ULTRA_') || key === 'ULTRA_FORCE_FALLBACK'))
  return { ...clean, ...env }
}

/**
 * Polls `condition` until it holds, failing after `timeoutMs`.
 * @param {() => boolean} condition
 * @param {number} [timeoutMs]
 */
export async function waitFor (condition, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Bytes 0, 1, ..., 250, 0, 1, ... as the BLAKE3 vectors use. */
export function vectorInput (length) {
  const bytes = Buffer.alloc(length)
  for (let i = 0; i < length; i++) bytes[i] = i % 251
  return bytes
}

/**
 * @typedef {{ metricName: string, labels: Record<string, string>, value: number }} Sample
 * @typedef {{ name: string, help: string, type: string, values: Sample[] }} Family
 */

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** @param {string} s an escaped label value or HELP text */
function unescape (s) {
  return s.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c))
}

/** @param {string} s */
function number (s) {
  if (s === '+Inf') return Infinity
  if (s === '-Inf') return -Infinity
  return Number(s)
}

/**
 * Parses Prometheus text 0.0.4 into families, in order: the tests read the text the
 * engines and prom-client write (the package itself never parses text back).
 * @param {string} text
 * @returns {Map<string, Family>}
 */
export function parseExposition (text) {
  /** @type {Map<string, Family>} */
  const families = new Map()
  /** @type {Family | undefined} */
  let current
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7)
      const space = rest.indexOf(' ')
      const name = rest.slice(0, space)
      current = { name, help: unescape(rest.slice(space + 1)), type: 'untyped', values: [] }
      families.set(name, current)
    } else if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ')
      current = families.get(name) ?? { name, help: name, type, values: [] }
      current.type = type
      families.set(name, current)
    } else if (!line.startsWith('#') && current !== undefined) {
      const brace = line.indexOf('{')
      const space = line.lastIndexOf(' ')
      const metricName = brace === -1 ? line.slice(0, space) : line.slice(0, brace)
      /** @type {Record<string, string>} */
      const labels = {}
      if (brace !== -1) {
        const body = line.slice(brace + 1, line.lastIndexOf('}'))
        for (const [, key, value] of body.matchAll(LABEL)) labels[key] = unescape(value)
      }
      current.values.push({ metricName, labels, value: number(line.slice(space + 1)) })
    }
  }
  return families
}
