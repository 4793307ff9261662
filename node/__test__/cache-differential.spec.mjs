// A differential property test of the cache against lru-cache 11 itself: fast-check draws a
// cache's options and a sequence of operations (set/get/peek/has/delete/clear/purge with
// per-call options and TTLs, time moving forward, under max and maxBytes bounds), runs it on
// both, and compares every result, then `size`, `keys()` and `values()` after every step.
// Time is a manual clock on both sides: lru-cache's `perf` option, and the engines' test-only
// hooks (`testClock` and `advanceTestClock` in the addon, `testPerf` in the fallback), which
// the public API never passes. Both engines run whatever the run forces, so the native cache
// is checked in the fallback run too (if the addon loads).
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import fc from 'fast-check'
import { LRUCache } from 'lru-cache'

const require = createRequire(import.meta.url)
const { cacheApi } = require('../lib/cache.js')
/** The least byte bound a cache takes: one entry's fixed overhead. */
const { CACHE_ENTRY_OVERHEAD } = require('../lib/validate.js')
const fallbackEngine = require('../fallback/index.js')

/** The addon, or why it did not load (the native case is then skipped, saying so). */
let nativeEngine = null
let nativeMissing = false
try {
  nativeEngine = require('../native.js')
} catch (error) {
  nativeMissing = `the native addon does not load: ${error.message}`
}

/** Where lru-cache's clock starts: lru-cache treats a start time of 0 as "no TTL". */
const EPOCH = 1_000_000

/**
 * The public `createCache` over one engine whose caches read a manual clock, and that clock.
 * @param {'native' | 'fallback'} which
 */
function harness (which) {
  const clock = { ms: EPOCH, now () { return this.ms } }
  const engine = which === 'native'
    ? { createCache: (options) => nativeEngine.createCache({ ...options, testClock: true }) }
    : { createCache: (options) => fallbackEngine.createCache({ ...options, testPerf: clock }) }
  const { createCache } = cacheApi(engine, () => ({}))
  const advance = which === 'native'
    ? (ms) => { clock.ms += ms; nativeEngine.advanceTestClock(ms) }
    : (ms) => { clock.ms += ms }
  return { createCache, clock, advance }
}

const KEYS = ['a', 'b', 'c', 'd', 'e', '\uD800', '\uFFFD', 'k'.repeat(40)]
const STRINGS = ['', 'x', 'hello', 'v'.repeat(60), '\uDC00 lone', 'ünïcödé']
const BUFFERS = [Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(90, 7)]
const OBJECTS = [{ n: 1 }, { list: [1, 2, 3], at: new Date(5) }, new Map([['k', 'v'.repeat(30)]]), 12n, null, 'plain']

const maybe = (arb) => fc.option(arb, { nil: undefined })
const ttl = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 30 }), fc.constantFrom(1000, 100_000))

/** Options of a cache: at least one bound; flags as lru-cache has them. */
const cacheOptions = fc.record({
  max: maybe(fc.integer({ min: 1, max: 6 })),
  maxBytes: maybe(fc.integer({ min: CACHE_ENTRY_OVERHEAD, max: CACHE_ENTRY_OVERHEAD + 400 })),
  ttlMs: maybe(ttl),
  updateAgeOnGet: fc.boolean(),
  allowStale: fc.boolean(),
  noDeleteOnStaleGet: fc.boolean(),
  maxEntrySize: maybe(fc.integer({ min: CACHE_ENTRY_OVERHEAD, max: CACHE_ENTRY_OVERHEAD + 300 })),
  structured: fc.boolean()
}).filter((o) => o.max !== undefined || o.maxBytes !== undefined || (o.ttlMs ?? 0) > 0)

const key = fc.constantFrom(...KEYS)
const flag = maybe(fc.boolean())
const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set'), key, value: fc.nat(1000), ttlMs: maybe(ttl) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('get'), key, options: maybe(fc.record({ allowStale: flag, updateAgeOnGet: flag, noDeleteOnStaleGet: flag })) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('peek'), key, options: maybe(fc.record({ allowStale: flag })) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('has'), key, options: maybe(fc.record({ updateAgeOnHas: flag })) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete'), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remainingTtl'), key }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('advance'), ms: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant(1), fc.constant(100_000)) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('purge') }) },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' }) }
)

/** Drops `undefined` members, so that an option left out is absent (not `undefined`). */
function defined (options) {
  if (options === undefined) return undefined
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))
}

/**
 * Runs one drawn case on one engine and on lru-cache, comparing as it goes.
 * @param {ReturnType<typeof harness>} h
 * @param {object} options
 * @param {object[]} ops
 */
function runCase (h, options, ops) {
  const ultra = h.createCache(defined(options))
  const pick = (n) => options.structured ? OBJECTS[n % OBJECTS.length] : n % 2 ? STRINGS[n % STRINGS.length] : BUFFERS[n % BUFFERS.length]
  // The weight of an entry as ultra counts it, measured on a cache of its own, so that the
  // oracle follows ultra's accounting whatever it is (bytes of key and value, or more).
  const weights = new Map()
  const weigh = (k, n) => {
    const id = `${k}\u0000${n}`
    if (!weights.has(id)) weights.set(id, h.createCache({ max: 1, structured: options.structured }).set(k, pick(n)).stats().bytes)
    return weights.get(id)
  }
  // ultra's largest entry: the lower of maxBytes and maxEntrySize (lru-cache: 0 for none).
  const largest = Math.min(options.maxEntrySize ?? Infinity, options.maxBytes ?? Infinity)
  const oracle = new LRUCache({
    max: options.max ?? 10_000, // more than KEYS: no bound, without lru-cache's warning for a TTL-only cache
    maxSize: options.maxBytes ?? 0,
    maxEntrySize: largest === Infinity ? 0 : largest,
    sizeCalculation: largest === Infinity ? undefined : (value, k) => weigh(k, value.n),
    ttl: options.ttlMs ?? 0,
    ttlResolution: 0,
    perf: h.clock,
    updateAgeOnGet: options.updateAgeOnGet,
    allowStale: options.allowStale,
    noDeleteOnStaleGet: options.noDeleteOnStaleGet
  })
  // The oracle stores `{ n }` and answers with the value drawn, so both sides see equal values.
  const seen = (found) => found === undefined ? undefined : pick(found.n)
  for (const [step, o] of ops.entries()) {
    const where = `step ${step}: ${JSON.stringify(o)}`
    switch (o.op) {
      case 'set': {
        const perCall = o.ttlMs === undefined ? undefined : { ttlMs: o.ttlMs }
        assert.equal(ultra.set(o.key, pick(o.value), perCall), ultra)
        oracle.set(o.key, { n: o.value }, o.ttlMs === undefined ? undefined : { ttl: o.ttlMs })
        break
      }
      case 'get':
        assert.deepStrictEqual(ultra.get(o.key, defined(o.options)), seen(oracle.get(o.key, defined(o.options))), where)
        break
      case 'peek':
        assert.deepStrictEqual(ultra.peek(o.key, defined(o.options)), seen(oracle.peek(o.key, defined(o.options))), where)
        break
      case 'has':
        assert.equal(ultra.has(o.key, defined(o.options)), oracle.has(o.key, defined(o.options)), where)
        break
      case 'delete':
        assert.equal(ultra.delete(o.key), oracle.delete(o.key), where)
        break
      case 'remainingTtl': {
        // lru-cache answers 0 for an absent key and <= 0 for an expired one; ultra `undefined`.
        const left = oracle.has(o.key) ? oracle.getRemainingTTL(o.key) : undefined
        assert.equal(ultra.remainingTtlMs(o.key), left === undefined ? undefined : left === Infinity ? Infinity : Math.max(1, Math.ceil(left)), where)
        break
      }
      case 'advance':
        h.advance(o.ms)
        break
      case 'purge':
        assert.equal(ultra.purgeExpired() > 0, oracle.purgeStale(), where)
        break
      case 'clear':
        ultra.clear()
        oracle.clear()
        break
    }
    assert.equal(ultra.size, oracle.size, `size after ${where}`)
    assert.deepStrictEqual([...ultra.keys()], [...oracle.keys()], `keys after ${where}`)
    assert.deepStrictEqual([...ultra.values()], [...oracle.values()].map(seen), `values after ${where}`)
  }
}

for (const which of ['native', 'fallback']) {
  test(`the ${which} cache answers as lru-cache 11 on random operation sequences`, { skip: which === 'native' && nativeMissing }, () => {
    const h = harness(which)
    fc.assert(fc.property(cacheOptions, fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }), (options, ops) => runCase(h, options, ops)), {
      numRuns: 1000,
      includeErrorInReport: true,
      // A failure prints the seed and the shrunk case; FC_SEED reproduces a run.
      seed: process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED)
    })
  })
}
