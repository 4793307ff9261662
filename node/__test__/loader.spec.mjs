import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { api, forcedFallback, packageDir, runNode } from './support.mjs'

const PUBLIC_NAMES = [
  'getCoreVersion', 'initMemorySubsystem', 'createCache', 'blake3Hash', 'createBlake3Hasher',
  'xxh3Hash', 'createXxh3Hasher', 'validateJson', 'parseJson', 'jsonPointer', 'minifyJson',
  'createMemoryArena', 'createObjectPool', 'createMemoryManager', 'metricsText', 'startExporter',
  'registerPromClient', 'heapProfile', 'setHeapProfiling', 'heapProfileStatus', 'isNative', 'loadError'
]

test('exports exactly the public API', () => {
  assert.deepEqual(Object.keys(api).sort(), [...PUBLIC_NAMES].sort())
  for (const name of PUBLIC_NAMES.slice(0, -2)) assert.equal(typeof api[name], 'function', name)
})

test('isNative and loadError agree with how the engine was chosen', () => {
  assert.equal(typeof api.isNative, 'boolean')
  if (forcedFallback) {
    assert.equal(api.isNative, false)
    assert.equal(api.loadError, null, 'a forced fallback does not try the addon')
  } else if (api.isNative) {
    assert.equal(api.loadError, null)
  } else {
    assert.ok(api.loadError instanceof Error, 'the fallback records why the addon did not load')
  }
})

test('import gives the same module as require', async () => {
  const esm = await import('../index.mjs')
  assert.equal(esm.default, api)
  for (const name of PUBLIC_NAMES) assert.equal(esm[name], api[name], name)
  const byName = await import('ultra-node')
  assert.equal(byName.createCache, api.createCache)
})

test('getCoreVersion returns a semver string', () => {
  assert.match(api.getCoreVersion(), /^\d+\.\d+\.\d+/)
})

test('ULTRA_FORCE_FALLBACK accepts 0, 1, true, false and empty', () => {
  for (const [value, forced] of [['1', true], ['true', true], ['0', false], ['false', false], ['', false]]) {
    const { isNative, loadError } = runNode('console.log(JSON.stringify({ isNative: ultra.isNative, loadError: ultra.loadError && ultra.loadError.message }))', { ULTRA_FORCE_FALLBACK: value })
    if (forced) {
      assert.equal(isNative, false, value)
      assert.equal(loadError, null, value)
    } else {
      assert.equal(isNative, loadError === null, value)
    }
  }
})

test('ULTRA_FORCE_FALLBACK with another value throws an error naming it', () => {
  const result = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(packageDir)})`], {
    env: { ...process.env, ULTRA_FORCE_FALLBACK: 'yes' },
    encoding: 'utf8'
  })
  assert.notEqual(result.status, 0)
  assert.match(result.stderr, /RangeError: ULTRA_FORCE_FALLBACK must be one of 0, 1, true, false or empty, got "yes"/)
})

/**
 * Copies the JS package into a temporary folder with the given native.js, and
 * reports what the loader made of it.
 * @param {string} nativeSource
 */
function loadWithNative (nativeSource) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ultra-loader-'))
  try {
    for (const entry of ['index.js', 'package.json', 'lib', 'fallback']) {
      fs.cpSync(path.join(packageDir, entry), path.join(dir, entry), { recursive: true })
    }
    fs.symlinkSync(path.join(packageDir, 'node_modules'), path.join(dir, 'node_modules'))
    fs.writeFileSync(path.join(dir, 'native.js'), nativeSource)
    const env = { ...process.env }
    delete env.ULTRA_FORCE_FALLBACK
    const out = execFileSync(process.execPath, ['-e', `
      const ultra = require(${JSON.stringify(dir)})
      console.log(JSON.stringify({ isNative: ultra.isNative, loadError: ultra.loadError && ultra.loadError.message, hash: ultra.xxh3Hash('') }))
    `], { env, encoding: 'utf8' })
    return JSON.parse(out)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

test('an addon that fails to load falls back and keeps the error', () => {
  const result = loadWithNative("throw new Error('no binary for this platform')")
  assert.deepEqual(result, { isNative: false, loadError: 'no binary for this platform', hash: '2d06800538d394c2' })
})

test('an addon lacking part of the API falls back and says what is missing', () => {
  const result = loadWithNative("module.exports = { getCoreVersion: () => '0.0.0' }")
  assert.equal(result.isNative, false)
  assert.match(result.loadError, /^the engine lacks initMemorySubsystem, createCache, /)
  assert.equal(result.hash, '2d06800538d394c2')
})
