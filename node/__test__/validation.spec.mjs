import assert from 'node:assert/strict'
import { constants } from 'node:buffer'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { api, assertArgError, MAX_CACHE_NAME_LENGTH } from './support.mjs'

const cache = api.createCache(10)
const arena = api.createMemoryArena()
const pool = api.createObjectPool(2)
const blake3 = api.createBlake3Hasher()
const xxh3 = api.createXxh3Hasher()
const key32 = Buffer.alloc(32)

/**
 * [call, error class, function name, parameter name]: each row breaks one rule.
 * @type {Array<[() => unknown, ErrorConstructor, string, string]>}
 */
const RULES = [
  // initMemorySubsystem
  [() => api.initMemorySubsystem(null), TypeError, 'initMemorySubsystem', 'options'],
  [() => api.initMemorySubsystem(5), TypeError, 'initMemorySubsystem', 'options'],
  [() => api.initMemorySubsystem({ poolMax: '4' }), TypeError, 'initMemorySubsystem', 'options.poolMax'],
  [() => api.initMemorySubsystem({ poolMax: -1 }), RangeError, 'initMemorySubsystem', 'options.poolMax'],
  [() => api.initMemorySubsystem({ poolBufferBytes: 0 }), RangeError, 'initMemorySubsystem', 'options.poolBufferBytes'],
  [() => api.initMemorySubsystem({ arenaLimitBytes: 1.5 }), RangeError, 'initMemorySubsystem', 'options.arenaLimitBytes'],
  [() => api.initMemorySubsystem({ cacheTtlMs: NaN }), RangeError, 'initMemorySubsystem', 'options.cacheTtlMs'],
  [() => api.initMemorySubsystem({ trimIntervalMs: Infinity }), RangeError, 'initMemorySubsystem', 'options.trimIntervalMs'],
  [() => api.initMemorySubsystem({ jemallocDirtyDecayMs: -2 }), RangeError, 'initMemorySubsystem', 'options.jemallocDirtyDecayMs'],
  [() => api.initMemorySubsystem({ jemallocBackgroundThread: 1 }), TypeError, 'initMemorySubsystem', 'options.jemallocBackgroundThread'],
  [() => api.initMemorySubsystem({ poolMAX: 4 }), TypeError, 'initMemorySubsystem', 'options'],
  // createCache
  [() => api.createCache(0), RangeError, 'createCache', 'maxEntries'],
  [() => api.createCache(-5), RangeError, 'createCache', 'maxEntries'],
  [() => api.createCache(1.5), RangeError, 'createCache', 'maxEntries'],
  [() => api.createCache(NaN), RangeError, 'createCache', 'maxEntries'],
  [() => api.createCache(2 ** 24 + 1), RangeError, 'createCache', 'maxEntries'],
  [() => api.createCache('10'), TypeError, 'createCache', 'maxEntries'],
  [() => api.createCache(10, -1), RangeError, 'createCache', 'ttlSeconds'],
  [() => api.createCache(10, NaN), RangeError, 'createCache', 'ttlSeconds'],
  [() => api.createCache(10, Infinity), RangeError, 'createCache', 'ttlSeconds'],
  [() => api.createCache(10, '60'), TypeError, 'createCache', 'ttlSeconds'],
  [() => api.createCache({ max: 10 }, 60), TypeError, 'createCache', 'ttlSeconds'],
  [() => api.createCache(null), TypeError, 'createCache', 'options'],
  [() => api.createCache([]), TypeError, 'createCache', 'options'],
  [() => api.createCache({ max: 0 }), RangeError, 'createCache', 'options.max'],
  [() => api.createCache({ max: '1' }), TypeError, 'createCache', 'options.max'],
  [() => api.createCache({ maxBytes: -1 }), RangeError, 'createCache', 'options.maxBytes'],
  [() => api.createCache({ maxBytes: 2 ** 53 }), RangeError, 'createCache', 'options.maxBytes'],
  [() => api.createCache({ ttlMs: NaN }), RangeError, 'createCache', 'options.ttlMs'],
  [() => api.createCache({ ttlMs: -1 }), RangeError, 'createCache', 'options.ttlMs'],
  [() => api.createCache({ ttlMs: 10n }), TypeError, 'createCache', 'options.ttlMs'],
  [() => api.createCache({ max: 1, updateAgeOnGet: 'yes' }), TypeError, 'createCache', 'options.updateAgeOnGet'],
  [() => api.createCache({ max: 1, name: 5 }), TypeError, 'createCache', 'options.name'],
  [() => api.createCache({ max: 1, name: '' }), RangeError, 'createCache', 'options.name'],
  [() => api.createCache({ max: 1, name: 'x'.repeat(MAX_CACHE_NAME_LENGTH + 1) }), RangeError, 'createCache', 'options.name'],
  [() => api.createCache({ ttl: 5 }), TypeError, 'createCache', 'options'],
  [() => api.createCache({ ttlMs: 0 }), RangeError, 'createCache', 'options'],
  // cache methods
  [() => cache.get(1), TypeError, 'cache.get', 'key'],
  [() => cache.get(), TypeError, 'cache.get', 'key'],
  [() => cache.set(1, 'v'), TypeError, 'cache.set', 'key'],
  [() => cache.set('k', 1), TypeError, 'cache.set', 'value'],
  [() => cache.set('k', undefined), TypeError, 'cache.set', 'value'],
  [() => cache.set('k', new Uint16Array(2)), TypeError, 'cache.set', 'value'],
  [() => cache.set('k', 'v', 5), TypeError, 'cache.set', 'options'],
  [() => cache.set('k', 'v', { ttlMs: NaN }), RangeError, 'cache.set', 'options.ttlMs'],
  [() => cache.set('k', 'v', { ttlMs: -1 }), RangeError, 'cache.set', 'options.ttlMs'],
  [() => cache.set('k', 'v', { ttl: 1 }), TypeError, 'cache.set', 'options'],
  [() => cache.has(null), TypeError, 'cache.has', 'key'],
  [() => cache.peek({}), TypeError, 'cache.peek', 'key'],
  [() => cache.delete(Symbol('k')), TypeError, 'cache.delete', 'key'],
  [() => cache.remainingTtlMs(3n), TypeError, 'cache.remainingTtlMs', 'key'],
  // blake3
  [() => api.blake3Hash(5), TypeError, 'blake3Hash', 'data'],
  [() => api.blake3Hash(new ArrayBuffer(4)), TypeError, 'blake3Hash', 'data'],
  [() => api.blake3Hash(new DataView(new ArrayBuffer(4))), TypeError, 'blake3Hash', 'data'],
  [() => api.blake3Hash('x', 'hex'), TypeError, 'blake3Hash', 'options'],
  [() => api.blake3Hash('x', { length: 0 }), RangeError, 'blake3Hash', 'options.length'],
  [() => api.blake3Hash('x', { length: 2 ** 20 + 1 }), RangeError, 'blake3Hash', 'options.length'],
  [() => api.blake3Hash('x', { length: 1.5 }), RangeError, 'blake3Hash', 'options.length'],
  [() => api.blake3Hash('x', { length: '32' }), TypeError, 'blake3Hash', 'options.length'],
  [() => api.blake3Hash('x', { key: Buffer.alloc(31) }), RangeError, 'blake3Hash', 'options.key'],
  [() => api.blake3Hash('x', { key: 'k'.repeat(32) }), TypeError, 'blake3Hash', 'options.key'],
  [() => api.blake3Hash('x', { context: 5 }), TypeError, 'blake3Hash', 'options.context'],
  [() => api.blake3Hash('x', { key: key32, context: 'c' }), TypeError, 'blake3Hash', 'options.context'],
  [() => api.blake3Hash('x', { encoding: 'base64' }), RangeError, 'blake3Hash', 'options.encoding'],
  [() => api.blake3Hash('x', { encoding: 'bigint' }), RangeError, 'blake3Hash', 'options.encoding'],
  [() => api.blake3Hash('x', { encoding: 1 }), TypeError, 'blake3Hash', 'options.encoding'],
  [() => api.blake3Hash('x', { lenght: 4 }), TypeError, 'blake3Hash', 'options'],
  [() => api.createBlake3Hasher({ key: Buffer.alloc(33) }), RangeError, 'createBlake3Hasher', 'options.key'],
  [() => api.createBlake3Hasher({ length: 8 }), TypeError, 'createBlake3Hasher', 'options'],
  [() => api.createBlake3Hasher('key'), TypeError, 'createBlake3Hasher', 'options'],
  [() => blake3.update(1), TypeError, 'blake3Hasher.update', 'data'],
  [() => blake3.digest('base64'), RangeError, 'blake3Hasher.digest', 'encoding'],
  [() => blake3.digest(5), TypeError, 'blake3Hasher.digest', 'options'],
  [() => blake3.digest({ length: 0 }), RangeError, 'blake3Hasher.digest', 'options.length'],
  [() => blake3.digest({ encoding: 'bigint' }), RangeError, 'blake3Hasher.digest', 'options.encoding'],
  // xxh3
  [() => api.xxh3Hash(null), TypeError, 'xxh3Hash', 'data'],
  [() => api.xxh3Hash('x', { bits: 32 }), RangeError, 'xxh3Hash', 'options.bits'],
  [() => api.xxh3Hash('x', { bits: '64' }), TypeError, 'xxh3Hash', 'options.bits'],
  [() => api.xxh3Hash('x', { seed: -1 }), RangeError, 'xxh3Hash', 'options.seed'],
  [() => api.xxh3Hash('x', { seed: 1.5 }), RangeError, 'xxh3Hash', 'options.seed'],
  [() => api.xxh3Hash('x', { seed: 2 ** 53 }), RangeError, 'xxh3Hash', 'options.seed'],
  [() => api.xxh3Hash('x', { seed: -1n }), RangeError, 'xxh3Hash', 'options.seed'],
  [() => api.xxh3Hash('x', { seed: 2n ** 64n }), RangeError, 'xxh3Hash', 'options.seed'],
  [() => api.xxh3Hash('x', { seed: '1' }), TypeError, 'xxh3Hash', 'options.seed'],
  [() => api.xxh3Hash('x', { encoding: 'base64' }), RangeError, 'xxh3Hash', 'options.encoding'],
  [() => api.xxh3Hash('x', { encoding: null }), TypeError, 'xxh3Hash', 'options.encoding'],
  [() => api.createXxh3Hasher({ bits: 256 }), RangeError, 'createXxh3Hasher', 'options.bits'],
  [() => api.createXxh3Hasher({ seed: NaN }), RangeError, 'createXxh3Hasher', 'options.seed'],
  [() => api.createXxh3Hasher({ encoding: 'hex' }), TypeError, 'createXxh3Hasher', 'options'],
  [() => xxh3.update([1, 2]), TypeError, 'xxh3Hasher.update', 'data'],
  [() => xxh3.digest('base64'), RangeError, 'xxh3Hasher.digest', 'encoding'],
  [() => xxh3.digest({}), TypeError, 'xxh3Hasher.digest', 'encoding'],
  // JSON
  [() => api.validateJson(5), TypeError, 'validateJson', 'data'],
  [() => api.parseJson(undefined), TypeError, 'parseJson', 'data'],
  [() => api.minifyJson({}), TypeError, 'minifyJson', 'data'],
  [() => api.jsonPointer(null, ''), TypeError, 'jsonPointer', 'data'],
  [() => api.jsonPointer('{}', 5), TypeError, 'jsonPointer', 'pointer'],
  [() => api.jsonPointer('{}'), TypeError, 'jsonPointer', 'pointer'],
  [() => api.jsonPointer('{}', 'a'), RangeError, 'jsonPointer', 'pointer'],
  [() => api.jsonPointer('{}', '/a~2'), RangeError, 'jsonPointer', 'pointer'],
  [() => api.jsonPointer('{}', '/a~'), RangeError, 'jsonPointer', 'pointer'],
  // arena
  [() => api.createMemoryArena(64), TypeError, 'createMemoryArena', 'options'],
  [() => api.createMemoryArena({ chunkBytes: 0 }), RangeError, 'createMemoryArena', 'options.chunkBytes'],
  [() => api.createMemoryArena({ chunkBytes: -1 }), RangeError, 'createMemoryArena', 'options.chunkBytes'],
  [() => api.createMemoryArena({ chunkBytes: 'big' }), TypeError, 'createMemoryArena', 'options.chunkBytes'],
  [() => api.createMemoryArena({ limitBytes: NaN }), RangeError, 'createMemoryArena', 'options.limitBytes'],
  [() => api.createMemoryArena({ chunkBytes: 2048, limitBytes: 1024 }), RangeError, 'createMemoryArena', 'options.chunkBytes'],
  [() => api.createMemoryArena({ chunk: 1 }), TypeError, 'createMemoryArena', 'options'],
  [() => arena.allocBuffer(), TypeError, 'arena.allocBuffer', 'size'],
  [() => arena.allocBuffer('1'), TypeError, 'arena.allocBuffer', 'size'],
  [() => arena.allocBuffer(0), RangeError, 'arena.allocBuffer', 'size'],
  [() => arena.allocBuffer(-1), RangeError, 'arena.allocBuffer', 'size'],
  [() => arena.allocBuffer(1.5), RangeError, 'arena.allocBuffer', 'size'],
  [() => arena.allocBuffer(NaN), RangeError, 'arena.allocBuffer', 'size'],
  [() => arena.allocBuffer(Infinity), RangeError, 'arena.allocBuffer', 'size'],
  [() => arena.allocBuffer(128 * 1024 * 1024), RangeError, 'arena.allocBuffer', 'size'],
  // pool
  [() => api.createObjectPool(-1), RangeError, 'createObjectPool', 'maxIdle'],
  [() => api.createObjectPool(1.5), RangeError, 'createObjectPool', 'maxIdle'],
  [() => api.createObjectPool('4'), TypeError, 'createObjectPool', 'maxIdle'],
  [() => api.createObjectPool(null), TypeError, 'createObjectPool', 'options'],
  [() => api.createObjectPool({ max: -1 }), RangeError, 'createObjectPool', 'options.max'],
  [() => api.createObjectPool({ bufferBytes: 0 }), RangeError, 'createObjectPool', 'options.bufferBytes'],
  [() => api.createObjectPool({ initial: 5, max: 4 }), RangeError, 'createObjectPool', 'options.initial'],
  [() => api.createObjectPool({ initial: true }), TypeError, 'createObjectPool', 'options.initial'],
  [() => api.createObjectPool({ maxIdle: 4 }), TypeError, 'createObjectPool', 'options'],
  [() => pool.acquire(0), RangeError, 'pool.acquire', 'size'],
  [() => pool.acquire(-1024), RangeError, 'pool.acquire', 'size'],
  [() => pool.acquire(NaN), RangeError, 'pool.acquire', 'size'],
  [() => pool.acquire('1024'), TypeError, 'pool.acquire', 'size'],
  [() => pool.release(null), TypeError, 'pool.release', 'buffer'],
  [() => pool.release(Buffer.alloc(8)), RangeError, 'pool.release', 'buffer']
]

test('every malformed argument is a TypeError or RangeError naming its parameter', () => {
  for (const [call, ErrorClass, fn, param] of RULES) assertArgError(call, ErrorClass, fn, param)
  assert.ok(RULES.length > 120)
})

test('messages describe the value received', () => {
  const cases = [
    [() => api.createCache({ ttlMs: NaN }), 'createCache: options.ttlMs must be a finite number in [0, 9007199254740991], got NaN'],
    [() => arena.allocBuffer(-1), `arena.allocBuffer: size must be an integer in [1, ${constants.MAX_LENGTH}], got -1`],
    [() => cache.get(undefined), 'cache.get: key must be a string, got undefined'],
    [() => api.blake3Hash('x', { key: Buffer.alloc(16) }), 'blake3Hash: options.key must be a 32-byte Buffer or Uint8Array, got a Buffer of 16 bytes'],
    [() => api.xxh3Hash('x', { seed: -1n }), 'xxh3Hash: options.seed must be an integer in [0, 2^64-1] (number or bigint), got -1n'],
    [() => api.xxh3Hash('x', { encoding: 'base64' }), "xxh3Hash: options.encoding must be one of 'hex', 'bigint', 'buffer', got \"base64\""],
    [() => api.jsonPointer('{}', 'a/b'), "jsonPointer: pointer must be an RFC 6901 JSON pointer ('' or starting with '/', '~' only in '~0' or '~1'), got \"a/b\""],
    [() => api.validateJson(new Uint16Array(1)), 'validateJson: data must be a string, Buffer or Uint8Array, got a Uint16Array of 2 bytes'],
    [() => api.blake3Hash('x', { lenght: 4 }), 'blake3Hash: options must have only the keys length, key, context, encoding, got key "lenght"'],
    [() => cache.get('k'.repeat(100).length), 'cache.get: key must be a string, got 100'],
    [() => api.parseJson(() => {}), 'parseJson: data must be a string, Buffer or Uint8Array, got a function']
  ]
  for (const [call, message] of cases) assert.throws(call, { message })
})

test('validate.js is the one layer that words argument errors: the native engine called directly only names the function and parameter', { skip: !api.isNative && 'the native engine is not loaded' }, () => {
  const engine = createRequire(import.meta.url)('../native.js')
  const guard = (fn, param) => `${fn}: ${param} is not an argument the engine takes (call it through the ultra-node API, which checks arguments)`
  assert.throws(() => engine.createCache(5), { name: 'TypeError', message: guard('createCache', 'options') })
  assert.throws(() => engine.xxh3Hash('x', { bits: 64, seed: -1n, encoding: 'hex' }), { name: 'RangeError', message: guard('xxh3Hash', 'options.seed') })
  assert.throws(() => engine.createMemoryArena({ chunkBytes: 2048, limitBytes: 1024 }), { name: 'RangeError', message: guard('createMemoryArena', 'options.chunkBytes') })
  // A refusal that depends on the engine's state carries a code, which lib/ words.
  const small = engine.createMemoryArena({ chunkBytes: 1024, limitBytes: 1024 })
  assert.throws(() => small.allocBuffer(2048), { name: 'RangeError', code: 'ULTRA_ARENA_LIMIT' })
  assert.throws(() => api.createMemoryArena({ chunkBytes: 1024, limitBytes: 1024 }).allocBuffer(2048),
    { name: 'RangeError', message: "arena.allocBuffer: size must be within the arena's remaining limit (limitBytes 1024), got 2048" })
})
