// Thousands of calls with random junk arguments: the process must survive, and
// every error must be a TypeError, RangeError or (for invalid JSON) SyntaxError.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { api } from './support.mjs'

const CALLS = 6000
const SEED = Number(process.env.ULTRA_FUZZ_SEED ?? 20240611)

/** A small deterministic PRNG (mulberry32), so a failure can be replayed with ULTRA_FUZZ_SEED. */
function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

const SCALARS = [
  undefined, null, true, false, 0, -0, 1, -1, 1.5, 33, 64, 128, 4096, NaN, Infinity, -Infinity,
  2 ** 33, 2 ** 53, Number.MAX_SAFE_INTEGER, -Number.MAX_VALUE, '', 'x', 'key', '/', '/a', '/a~2', '/0/~1',
  '{}', '[1,', '{"a":[1,{"b":2}]}', 'hex', 'buffer', 'bigint', 'base64', 'é\u{1F600}\uD800',
  0n, 10n, -1n, 2n ** 64n, 2n ** 64n - 1n, Symbol('junk'), () => {}, [], [1, 2]
]
const OPTION_KEYS = [
  'max', 'maxBytes', 'ttlMs', 'updateAgeOnGet', 'name', 'length', 'key', 'context', 'encoding', 'bits', 'seed',
  'chunkBytes', 'limitBytes', 'initial', 'bufferBytes', 'poolMax', 'poolBufferBytes', 'arenaLimitBytes',
  'jemallocBackgroundThread', 'cacheTtlMs', 'unknownOption'
]

test('random malformed calls only ever throw TypeError, RangeError or SyntaxError', async (t) => {
  // startExporter calls that happen to be valid bind a free loopback port, closed below.
  process.env.ULTRA_EXPORTER_ADDR = '127.0.0.1:0'
  /** Results of async functions (startExporter): settled and checked after the loop. */
  const pending = []
  const random = prng(SEED)
  const pick = (list) => list[Math.floor(random() * list.length)]
  /** Buffers handed out during the run, fed back as arguments (double releases, foreign buffers). */
  const buffers = []
  const objects = () => [
    {}, Object.create(null), new Date(0), new Map(), new Proxy({}, {}), new Error('e'),
    Buffer.alloc(0), Buffer.from('{"a":1}'), Buffer.alloc(32, 7), new Uint8Array(31), new Uint16Array(3),
    new Float64Array(1), new DataView(new ArrayBuffer(2)), new ArrayBuffer(8), ...buffers
  ]
  const options = () => {
    const result = {}
    for (let n = 1 + Math.floor(random() * 3); n > 0; n--) result[pick(OPTION_KEYS)] = junk(0)
    return result
  }
  const junk = (depth = 1) => {
    const r = random()
    if (r < 0.55) return pick(SCALARS)
    if (r < 0.8 || depth === 0) return pick(objects())
    return options()
  }

  const instances = {
    cache: api.createCache({ max: 50, ttlMs: 1000 }),
    arena: api.createMemoryArena({ chunkBytes: 1024, limitBytes: 1 << 20 }),
    pool: api.createObjectPool({ max: 4, bufferBytes: 256 }),
    blake3: api.createBlake3Hasher(),
    xxh3: api.createXxh3Hasher({ bits: 128 }),
    manager: api.createMemoryManager()
  }
  const targets = [
    ...Object.entries(api).filter(([, f]) => typeof f === 'function').map(([name, f]) => [name, f, api]),
    ...Object.entries(instances).flatMap(([name, object]) =>
      Object.getOwnPropertyNames(Object.getPrototypeOf(object))
        .filter((m) => m !== 'constructor' && typeof object[m] === 'function')
        .map((m) => [`${name}.${m}`, object[m], object]))
  ]

  const outcomes = { returned: 0, TypeError: 0, RangeError: 0, SyntaxError: 0 }
  for (let i = 0; i < CALLS; i++) {
    const [name, fn, self] = pick(targets)
    const args = Array.from({ length: Math.floor(random() * 4) }, () => junk())
    let result
    try {
      result = fn.apply(self, args)
      outcomes.returned++
    } catch (error) {
      const kind = [TypeError, RangeError, SyntaxError].find((E) => error instanceof E)
      assert.ok(kind, `call ${i}: ${name} threw ${error?.constructor?.name}: ${error?.message}`)
      outcomes[kind.name]++
      continue
    }
    if (Buffer.isBuffer(result) && buffers.length < 32) buffers.push(result)
    if (result instanceof Promise) {
      // Handled now, checked below: awaiting a close() there lets timers run, and a rejection
      // not yet awaited would count as unhandled.
      result.catch(() => {})
      pending.push([name, result])
    }
  }
  for (const [name, promise] of pending) {
    try {
      const value = await promise
      if (typeof value?.close === 'function') await value.close()
    } catch (error) {
      const kind = [TypeError, RangeError].find((E) => error instanceof E)
      assert.ok(kind, `${name} rejected with ${error?.constructor?.name}: ${error?.message}`)
    }
  }
  delete process.env.ULTRA_EXPORTER_ADDR
  t.diagnostic(`seed ${SEED}: ${JSON.stringify(outcomes)}`)
  assert.equal(Object.values(outcomes).reduce((a, b) => a + b), CALLS)
  assert.ok(outcomes.TypeError > 0 && outcomes.RangeError > 0 && outcomes.returned > 0)

  // Everything still works afterwards.
  assert.equal(api.xxh3Hash(''), '2d06800538d394c2')
  instances.cache.set('after', 'fuzz')
  assert.equal(instances.cache.get('after'), 'fuzz')
  const buffer = instances.pool.acquire(16)
  instances.pool.release(buffer)
  assert.equal(buffer.length, 0)
})
