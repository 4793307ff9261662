import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { childEnv, packageDir, runNode } from './support.mjs'

const DEFAULTS = {
  poolInitial: 0,
  poolMax: 16,
  poolBufferBytes: 16384,
  arenaChunkBytes: 65536,
  arenaLimitBytes: 64 * 1024 * 1024,
  cacheMaxEntries: null,
  cacheMaxBytes: null,
  cacheTtlMs: null,
  jemallocDirtyDecayMs: null,
  jemallocBackgroundThread: null,
  trimIntervalMs: 0
}

const printConfig = 'console.log(JSON.stringify(ultra.initMemorySubsystem()))'

/**
 * Runs `code` with `env` and returns the error it died of.
 * @param {string} code
 * @param {Record<string, string>} env
 */
function failureOf (code, env) {
  const result = spawnSync(process.execPath, ['-e', `const ultra = require(${JSON.stringify(packageDir)}); ${code}`], {
    env: childEnv(env),
    encoding: 'utf8'
  })
  assert.notEqual(result.status, 0, 'the process fails')
  return result.stderr
}

test('defaults without ULTRA_* variables', () => {
  assert.deepEqual(runNode(printConfig), DEFAULTS)
})

test('environment variables, with KiB/MiB/GiB sizes', () => {
  const config = runNode(printConfig, {
    ULTRA_POOL_INITIAL: '2',
    ULTRA_POOL_MAX: '4',
    ULTRA_POOL_BUFFER_BYTES: '32KiB',
    ULTRA_ARENA_CHUNK_BYTES: '1 MiB',
    ULTRA_ARENA_LIMIT_BYTES: '2GiB',
    ULTRA_CACHE_MAX_ENTRIES: '500',
    ULTRA_CACHE_MAX_BYTES: '1048576',
    ULTRA_CACHE_TTL_MS: '2500',
    ULTRA_JEMALLOC_DIRTY_DECAY_MS: '-1',
    ULTRA_JEMALLOC_BACKGROUND_THREAD: 'true',
    ULTRA_TRIM_INTERVAL_MS: '0'
  })
  assert.deepEqual(config, {
    poolInitial: 2,
    poolMax: 4,
    poolBufferBytes: 32 * 1024,
    arenaChunkBytes: 1024 * 1024,
    arenaLimitBytes: 2 * 1024 ** 3,
    cacheMaxEntries: 500,
    cacheMaxBytes: 1048576,
    cacheTtlMs: 2500,
    jemallocDirtyDecayMs: -1,
    jemallocBackgroundThread: true,
    trimIntervalMs: 0
  })
})

test('an empty variable counts as unset', () => {
  assert.deepEqual(runNode(printConfig, { ULTRA_POOL_MAX: '', ULTRA_CACHE_TTL_MS: '' }), DEFAULTS)
})

test('explicit options override the environment', () => {
  const config = runNode('console.log(JSON.stringify(ultra.initMemorySubsystem({ poolMax: 3, jemallocBackgroundThread: false })))', {
    ULTRA_POOL_MAX: '9',
    ULTRA_JEMALLOC_BACKGROUND_THREAD: '1'
  })
  assert.equal(config.poolMax, 3)
  assert.equal(config.jemallocBackgroundThread, false)
})

test('an invalid variable is an error naming it, its value and what was expected', () => {
  const cases = [
    ['ULTRA_POOL_MAX', 'abc', /RangeError: ULTRA_POOL_MAX must be an integer in \[0, 1048576\], got "abc"/],
    ['ULTRA_POOL_BUFFER_BYTES', '16KB', /RangeError: ULTRA_POOL_BUFFER_BYTES must be an integer in \[1, \d+\] bytes \(plain, or with a KiB, MiB or GiB suffix\), got "16KB"/],
    ['ULTRA_ARENA_LIMIT_BYTES', '0', /RangeError: ULTRA_ARENA_LIMIT_BYTES must be an integer/],
    ['ULTRA_CACHE_TTL_MS', '1.5', /RangeError: ULTRA_CACHE_TTL_MS must be an integer/],
    ['ULTRA_JEMALLOC_BACKGROUND_THREAD', 'yes', /RangeError: ULTRA_JEMALLOC_BACKGROUND_THREAD must be one of 0, 1, true, false or empty, got "yes"/]
  ]
  for (const [name, value, expected] of cases) {
    assert.match(failureOf('ultra.initMemorySubsystem()', { [name]: value }), expected, name)
  }
})

test('an invalid variable also fails the first factory that needs the configuration', () => {
  assert.match(failureOf('ultra.createObjectPool()', { ULTRA_POOL_MAX: '-1' }), /ULTRA_POOL_MAX must be/)
})

test('a chunk larger than the arena limit is refused', () => {
  assert.match(failureOf('ultra.initMemorySubsystem()', { ULTRA_ARENA_CHUNK_BYTES: '2MiB', ULTRA_ARENA_LIMIT_BYTES: '1MiB' }),
    /RangeError: initMemorySubsystem: arenaChunkBytes \(option or ULTRA_ARENA_CHUNK_BYTES\) must be at most arenaLimitBytes \(1048576\), got 2097152/)
})

test('initMemorySubsystem is idempotent and refuses to change a value in effect', () => {
  const result = runNode(`
    const first = ultra.initMemorySubsystem({ poolMax: 5 })
    const again = ultra.initMemorySubsystem()
    const same = ultra.initMemorySubsystem({ poolMax: 5 })
    let error
    try { ultra.initMemorySubsystem({ poolMax: 6 }) } catch (e) { error = e.constructor.name + ': ' + e.message }
    console.log(JSON.stringify({ first, again, same, error }))
  `)
  assert.equal(result.first.poolMax, 5)
  assert.deepEqual(result.again, result.first)
  assert.deepEqual(result.same, result.first)
  assert.equal(result.error, 'RangeError: initMemorySubsystem: options.poolMax must be the value in effect (5) once the memory subsystem is initialised, got 6')
})

test('factories take their defaults from the configuration', () => {
  const result = runNode(`
    const pool = ultra.createObjectPool()
    const cache = ultra.createCache()
    for (let i = 0; i < 5; i++) cache.set('k' + i, 'v')
    const arena = ultra.createMemoryArena()
    arena.allocBuffer(1)
    console.log(JSON.stringify({ acquired: pool.acquire().length, idle: pool.stats().idle, entries: cache.size, arena: arena.stats() }))
  `, { ULTRA_POOL_BUFFER_BYTES: '4KiB', ULTRA_POOL_INITIAL: '2', ULTRA_CACHE_MAX_ENTRIES: '3', ULTRA_ARENA_CHUNK_BYTES: '8KiB', ULTRA_ARENA_LIMIT_BYTES: '1MiB' })
  assert.equal(result.acquired, 4096)
  assert.equal(result.idle, 1, 'two created up front, one acquired')
  assert.equal(result.entries, 3)
  assert.equal(result.arena.limitBytes, 1024 * 1024)
  assert.ok(result.arena.reservedBytes >= 1 && result.arena.reservedBytes <= 1024 * 1024)
})

test('a cache without any bound needs a ULTRA_CACHE_* default', () => {
  assert.match(failureOf('ultra.createCache()', {}), /RangeError: createCache: options must be given at least one bound/)
})
