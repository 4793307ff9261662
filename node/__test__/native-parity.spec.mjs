// Native engine against the pure-JS fallback, loaded side by side in this process and wrapped
// by the same lib/, over a wide set of cases: every hash mode, length, seed and encoding
// (one-shot and streaming, across the multi-threaded BLAKE3 threshold), every JSONTestSuite
// file through all four JSON functions, long random cache, arena and pool sessions.
// Skipped when the addon is not built (parity.spec.mjs then checks the fallback alone).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { test } from 'node:test'
import { CACHE_ENTRY_OVERHEAD, oraclesDir, vectorInput } from './support.mjs'

const require = createRequire(import.meta.url)
const { createApi } = require('../lib/api.js')

const fallback = createApi(require('../fallback/index.js'))
let native = null
try {
  native = createApi(require('../native.js'))
} catch {}
const skip = native === null && 'the native addon is not built'

/** Compares `run` on both engines. */
function same (run, what) {
  assert.deepEqual(run(native), run(fallback), what)
}

/** A throw as a comparable record. */
function outcome (fn) {
  try {
    const value = fn()
    return { value: Buffer.isBuffer(value) ? `buffer:${value.toString('hex')}` : value }
  } catch (error) {
    return { error: error.constructor.name, message: error.message, offset: error.offset, kind: error.kind }
  }
}

const LENGTHS = [0, 1, 2, 3, 15, 16, 17, 63, 64, 65, 127, 128, 129, 239, 240, 241, 1023, 1024, 1025, 4096, 65536, 131071, 131072, 300001]
const STRINGS = ['', 'a', 'hello world', 'héllo wörld ✓ 😀', 'lone \uD800 surrogate', 'x'.repeat(1030), 'é'.repeat(600)]
const inputs = [...LENGTHS.map(vectorInput), ...STRINGS, new Uint8Array(vectorInput(33)), vectorInput(100).subarray(7, 77)]

test('BLAKE3: every mode, output length and encoding, one-shot and streaming', { skip }, () => {
  const key = vectorInput(32)
  const modes = [undefined, { key }, { context: 'ultra parity 2024-06-11 derive' }]
  for (const input of inputs) {
    for (const mode of modes) {
      same((u) => u.blake3Hash(input, mode), 'default length')
      for (const length of [1, 16, 31, 32, 33, 64, 65, 1000]) {
        same((u) => [u.blake3Hash(input, { ...mode, length }), u.blake3Hash(input, { ...mode, length, encoding: 'buffer' }).toString('hex')],
          `length ${length}`)
      }
      same((u) => {
        const h = u.createBlake3Hasher(mode)
        const bytes = typeof input === 'string' ? Buffer.from(input) : input
        const cut = Math.floor(bytes.length / 3)
        h.update(bytes.subarray(0, cut)).update(bytes.subarray(cut))
        return [h.digest(), h.digest('buffer').toString('hex'), h.digest({ length: 100 }), h.update('more').digest()]
      }, 'streaming')
    }
  }
})

test('XXH3: both widths, many seeds (number and bigint), every encoding, one-shot and streaming', { skip }, () => {
  const seeds = [0, 1, 0xffffffff, 2 ** 32, Number.MAX_SAFE_INTEGER, 0n, 2n ** 63n, 2n ** 64n - 1n]
  for (const input of inputs) {
    same((u) => u.xxh3Hash(input), 'default')
    for (const bits of [64, 128]) {
      for (const seed of seeds) {
        same((u) => [
          u.xxh3Hash(input, { bits, seed }),
          u.xxh3Hash(input, { bits, seed, encoding: 'bigint' }),
          u.xxh3Hash(input, { bits, seed, encoding: 'buffer' }).toString('hex')
        ], `bits ${bits} seed ${seed}`)
      }
      same((u) => {
        const h = u.createXxh3Hasher({ bits, seed: 7n })
        const bytes = typeof input === 'string' ? Buffer.from(input) : input
        for (let at = 0; at < bytes.length; at += 997) h.update(bytes.subarray(at, at + 997))
        return [h.digest(), h.digest('bigint'), h.digest('buffer').toString('hex'), h.update('tail').digest()]
      }, `streaming ${bits}`)
    }
  }
})

test('JSON: every JSONTestSuite file gets the same answer from all four functions', { skip }, () => {
  const dir = path.join(oraclesDir, 'jsontestsuite/test_parsing')
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const bytes = fs.readFileSync(path.join(dir, name))
    for (const input of [bytes, bytes.toString('utf8')]) {
      same((u) => [
        u.validateJson(input),
        outcome(() => u.parseJson(input)),
        outcome(() => u.minifyJson(input)),
        outcome(() => u.jsonPointer(input, '/0')),
        outcome(() => u.jsonPointer(input, ''))
      ], `${name} (${typeof input})`)
    }
  }
})

test('JSON: hand-made documents, faults and pointers', { skip }, () => {
  const docs = [
    '{"a":[1,2,{"b":"c"}],"d":null,"__proto__":{"x":1}}', ' [ 1.5e3 , -0, "x\\ny" ] ', '{"k":1,"k":2}',
    '"\\ud83d\\ude00"', '12345678901234567890', '{', '[1,]', '{"a" 1}', '"\\x"', 'nul', '[1e999]', '[-1e400]',
    '"\\udc00"', '\ufeff[]', '["a\tb"]', '{"a":1}x', '[' + '['.repeat(1100) + ']'.repeat(1101),
    Buffer.from([0x22, 0xff, 0x22]), Buffer.from([0x5b, 0x31, 0x20, 0x32, 0x2c, 0xff])
  ]
  const pointers = ['', '/a', '/a/2/b', '/a/01', '/a/-', '/__proto__', '/k', '/0', '/~1', '/d']
  for (const doc of docs) {
    same((u) => [u.validateJson(doc), outcome(() => u.parseJson(doc)), outcome(() => u.minifyJson(doc)),
      pointers.map((p) => outcome(() => u.jsonPointer(doc, p)))], String(doc).slice(0, 40))
  }
})

test('cache: a long random session gives the same values and stats', { skip }, () => {
  // maxBytes for about 4 and 8 entries, each weighing key + value + the overhead.
  const bytesFor = (entries, payload) => entries * CACHE_ENTRY_OVERHEAD + payload
  for (const options of [{ max: 8 }, { maxBytes: bytesFor(4, 200) }, { max: 16, maxBytes: bytesFor(8, 300) }]) {
    same((u) => {
      const cache = u.createCache(options)
      let seed = 99
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
      const log = []
      for (let i = 0; i < 3000; i++) {
        const key = `k${Math.floor(random() * 24)}`
        const r = random()
        if (r < 0.45) {
          const size = Math.floor(random() * 60)
          cache.set(key, random() < 0.5 ? 'v'.repeat(size) : Buffer.alloc(size, i))
        } else if (r < 0.7) {
          const v = cache.get(key)
          log.push(v === undefined ? null : String(v))
        } else if (r < 0.8) log.push(String(cache.peek(key)))
        else if (r < 0.9) log.push(cache.has(key))
        else if (r < 0.95) log.push(cache.delete(key))
        else log.push(cache.size)
      }
      return { log, stats: cache.stats(), size: cache.size }
    }, JSON.stringify(options))
  }
})

test('arena and pool: random sessions give the same Buffers and stats', { skip }, () => {
  same((u) => {
    const arena = u.createMemoryArena({ chunkBytes: 512, limitBytes: 1 << 16 })
    const pool = u.createObjectPool({ initial: 2, max: 3, bufferBytes: 300 })
    let seed = 5
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const log = []
    const lent = []
    for (let i = 0; i < 2000; i++) {
      const r = random()
      if (r < 0.3) log.push(outcome(() => arena.allocBuffer(1 + Math.floor(random() * 3000)).length))
      else if (r < 0.33) { arena.reset(); log.push(arena.stats()) } else if (r < 0.6) lent.push(pool.acquire(1 + Math.floor(random() * 5000)))
      else if (r < 0.9 && lent.length > 0) {
        const b = lent.splice(Math.floor(random() * lent.length), 1)[0]
        pool.release(b)
        log.push(b.length)
      } else if (r < 0.92) log.push(pool.shrink())
      else log.push(pool.stats())
    }
    return { log, arena: arena.stats().usedBytes, pool: pool.stats() }
  }, 'session')
})
