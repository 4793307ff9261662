// The same cases through the native engine and the fallback engine, compared.
// This runs whatever engine index.js picked: it loads both engines itself.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { test } from 'node:test'
import { api, CACHE_ENTRY_OVERHEAD, oraclesDir, vectorInput } from './support.mjs'

const require = createRequire(import.meta.url)
const { createApi } = require('../lib/api.js')

const fallback = createApi(require('../fallback/index.js'))
let native = null
let nativeError = null
try {
  native = createApi(require('../native.js'))
} catch (error) {
  nativeError = error
}

/** Runs `fn`, turning a throw into a comparable description. */
function outcome (fn) {
  try {
    return { value: fn() }
  } catch (error) {
    return { error: error.constructor.name, message: error.message, offset: error.offset, kind: error.kind }
  }
}

const inputs = [
  '', 'a', 'héllo wörld ✓', vectorInput(63), vectorInput(64), vectorInput(1025), vectorInput(100000),
  new Uint8Array(vectorInput(17))
]
const suiteDir = path.join(oraclesDir, 'jsontestsuite/test_parsing')
const documents = [
  '{"a":[1,2,{"b":"c"}],"d":null}', ' [ 1.5e3 , -0, "x\\ny" ] ', '{"k":1,"k":2}', '"\\ud83d\\ude00"',
  '12345678901234567890', '{', '[1,]', '{"a" 1}', '"\\x"', 'nul', Buffer.from([0x22, 0xff, 0x22]),
  ...fs.readdirSync(suiteDir).map((name) => fs.readFileSync(path.join(suiteDir, name)))
]

/** @type {Record<string, (u: typeof api) => unknown>} */
const CASES = {
  'blake3 default, keyed, derive, xof, buffer': (u) => inputs.map((input) => [
    u.blake3Hash(input),
    u.blake3Hash(input, { key: Buffer.alloc(32, 9) }),
    u.blake3Hash(input, { context: 'ultra parity 2024' }),
    u.blake3Hash(input, { length: 100 }),
    u.blake3Hash(input, { length: 5, encoding: 'buffer' }).toString('hex')
  ]),
  'blake3 streaming': (u) => inputs.map((input) => {
    const hasher = u.createBlake3Hasher({ key: Buffer.alloc(32, 1) })
    hasher.update(input).update(input)
    return [hasher.digest(), hasher.digest({ length: 64 })]
  }),
  'xxh3 widths, seeds and encodings': (u) => inputs.map((input) => [64, 128].map((bits) => [
    u.xxh3Hash(input, { bits }),
    u.xxh3Hash(input, { bits, seed: 2n ** 64n - 1n, encoding: 'bigint' }).toString(),
    u.xxh3Hash(input, { bits, seed: 12345, encoding: 'buffer' }).toString('hex')
  ])),
  'xxh3 streaming': (u) => inputs.map((input) => [64, 128].map((bits) => {
    const hasher = u.createXxh3Hasher({ bits, seed: 7 })
    hasher.update(input).update('tail')
    return hasher.digest()
  })),
  'json validate, parse, pointer, minify': (u) => documents.map((doc) => [
    u.validateJson(doc),
    outcome(() => u.parseJson(doc)),
    outcome(() => u.jsonPointer(doc, '/a/2/b')),
    outcome(() => u.minifyJson(doc))
  ]),
  'cache operations and stats': (u) => {
    const cache = u.createCache({ max: 4, maxBytes: 2 * CACHE_ENTRY_OVERHEAD + 64 })
    const seen = []
    for (let i = 0; i < 40; i++) {
      const key = `k${i % 7}`
      if (i % 3 === 0) seen.push(cache.get(key) ?? null)
      else cache.set(key, i % 2 ? `value ${i}` : Buffer.alloc(i, i))
    }
    seen.push(cache.delete('k1'), cache.has('k2'), cache.size, cache.remainingTtlMs('k3') ?? null)
    cache.set('big', 'x'.repeat(100))
    return { seen: seen.map(String), stats: cache.stats() }
  },
  'arena and pool': (u) => {
    const arena = u.createMemoryArena({ chunkBytes: 1024, limitBytes: 4096 })
    const sizes = [arena.allocBuffer(100).length, arena.allocBuffer(1000).length]
    const overLimit = outcome(() => arena.allocBuffer(4096))
    arena.reset()
    const pool = u.createObjectPool({ max: 2, bufferBytes: 512 })
    const buffers = [pool.acquire(), pool.acquire(100), pool.acquire(1500)]
    buffers.forEach((b) => pool.release(b))
    const reused = pool.acquire(600).length
    return { sizes, overLimit, arena: arena.stats().usedBytes, pool: pool.stats(), shrunk: pool.shrink(), reused }
  },
  'engine errors': (u) => {
    const name = 'parity-engine-errors'
    u.createCache({ name, max: 2 })
    return [outcome(() => u.createCache({ name, max: 3 }))]
  }
}

test('native and fallback engines give the same results', (t) => {
  if (native === null) {
    // Without a built addon there is one engine: the fallback, as documented.
    assert.equal(api.isNative, false)
    assert.ok(nativeError instanceof Error)
    t.diagnostic(`native addon not available (${nativeError.message.split('\n')[0]}): cases run on the fallback only`)
    for (const [name, run] of Object.entries(CASES)) assert.deepEqual(run(fallback), run(api), name)
    return
  }
  for (const [name, run] of Object.entries(CASES)) assert.deepEqual(run(native), run(fallback), name)
})
