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
