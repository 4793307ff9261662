// `structured: true` caches, on the engine of this run (`npm test` native, `npm run
// test:fallback` the fallback): any value v8.serialize accepts, stored as its serialized bytes,
// read back as a deep copy by every method that returns values.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import v8 from 'node:v8'
import { api, assertArgError } from './support.mjs'

const { createCache } = api

/** Values of every kind the structured clone algorithm handles, nested and cyclic. */
function samples () {
  const nested = { status: 200, headers: { etag: '"abc"', vary: ['accept'] }, body: Buffer.from('{"ok":true}') }
  const cyclic = { name: 'root', children: [] }
  cyclic.children.push({ parent: cyclic })
  cyclic.self = cyclic
  return {
    date: new Date(Date.UTC(2026, 11, 1, 12, 30)),
    map: new Map([['a', 1], [2, { b: [3n] }]]),
    set: new Set(['x', 1, null]),
    bigint: 2n ** 70n,
    buffer: Buffer.from([0, 1, 2, 255]),
    uint8: new Uint8Array([9, 8, 7]),
    float64: new Float64Array([1.5, -0, NaN, Infinity]),
    int32: new Int32Array([-1, 2 ** 31 - 1]),
    bigint64: new BigInt64Array([-(2n ** 63n), 5n]),
    nested,
    cyclic,
    array: [1, 'two', [3, [4]], { five: 5 }],
    string: 'a\uD800b', // a lone surrogate survives serialization
    number: -0.5,
    bool: false,
    null: null,
    regexp: /a+b/gi,
    error: new RangeError('boom')
  }
}

test('every kind of value round-trips through get, peek, values, entries, dump and fetch', async () => {
  const cache = createCache({ max: 100, structured: true })
  const values = samples()
  for (const [key, value] of Object.entries(values)) assert.equal(cache.set(key, value), cache)
  for (const [key, value] of Object.entries(values)) {
    for (const read of [cache.get(key), cache.peek(key), await cache.fetch(key)]) {
      assert.deepStrictEqual(read, value, key)
      if (typeof value === 'object' && value !== null) assert.notEqual(read, value, `${key} is a copy`)
    }
  }
  const got = cache.get('cyclic')
  assert.equal(got.self, got)
  assert.equal(got.children[0].parent, got)
  assert.ok(Buffer.isBuffer(cache.get('buffer')), 'a Buffer comes back as a Buffer')
  assert.ok(cache.get('map') instanceof Map)
  assert.equal(typeof cache.get('bigint'), 'bigint')
  assert.ok(cache.get('error') instanceof RangeError)
  // Iteration: most recent first, as lru-cache; every value deep-equal to what was stored.
  const keys = [...cache.keys()]
  assert.deepStrictEqual([...cache.values()], keys.map((k) => values[k]))
  assert.deepStrictEqual([...cache.entries()], keys.map((k) => [k, values[k]]))
  assert.deepStrictEqual(cache.dump().map(([k, e]) => [k, e.value]), keys.map((k) => [k, values[k]]).reverse())
})

test('a returned value is the caller\'s own: mutating it (or the original) never changes the cache', async () => {
  const cache = createCache({ max: 10, structured: true })
  const original = { list: [1, 2], body: Buffer.from('abc'), map: new Map([['k', 'v']]), floats: new Float32Array([1]) }
  cache.set('k', original)
  original.list.push(3)
  original.body[0] = 0x7a
  const reads = [
    cache.get('k'), cache.peek('k'), await cache.fetch('k'),
    [...cache.values()][0], [...cache.entries()][0][1], cache.dump()[0][1].value
  ]
  for (const read of reads) {
    assert.deepStrictEqual(read.list, [1, 2])
    assert.equal(read.body.toString(), 'abc')
    read.list.push(99)
    read.body[0] = 0x78
    read.map.set('k', 'changed')
    read.floats[0] = 42
  }
  // Two reads never share the bytes of their typed arrays either.
  const [a, b] = [cache.get('k'), cache.get('k')]
  a.body.fill(0)
  assert.equal(b.body.toString(), 'abc')
  assert.deepStrictEqual(cache.get('k'), { list: [1, 2], body: Buffer.from('abc'), map: new Map([['k', 'v']]), floats: new Float32Array([1]) })
})

test('a value v8 cannot serialize is a TypeError naming value, and changes nothing', async () => {
  const cache = createCache({ max: 10, structured: true })
  cache.set('k', { kept: true })
  for (const bad of [() => 1, Symbol('s'), { f () {} }, new WeakMap(), Promise.resolve(1)]) {
    assertArgError(() => cache.set('k', bad), TypeError, 'cache.set', 'value')
  }
  assert.deepStrictEqual(cache.get('k'), { kept: true })
  assertArgError(() => cache.load([['a', { value: 1 }], ['b', { value: () => 2 }]]), TypeError, 'cache.load', 'entries[1][1].value')
  assertArgError(() => cache.load([['a', { value: undefined }]]), TypeError, 'cache.load', 'entries[0][1].value')
  assert.deepStrictEqual([...cache.keys()], ['k'], 'a refused load changes nothing')
  // A key is still a string.
  assertArgError(() => cache.set(1, {}), TypeError, 'cache.set', 'key')
  // fetchMethod resolving to something unserializable rejects, and stores nothing.
  const fetching = createCache({ max: 10, structured: true, fetchMethod: async () => Symbol('no') })
  await assert.rejects(fetching.fetch('k'), { name: 'TypeError', message: /^cache\.fetch: the value fetchMethod resolved to must be a value v8\.serialize accepts/ })
  assert.equal(fetching.has('k'), false)
})

test('set(key, undefined) deletes the key, as in lru-cache; null is a value', () => {
  const cache = createCache({ max: 10, structured: true })
  cache.set('k', { a: 1 }).set('n', null)
  assert.equal(cache.set('k', undefined), cache)
  assert.equal(cache.has('k'), false)
  assert.equal(cache.get('k'), undefined)
  assert.equal(cache.has('n'), true)
  assert.equal(cache.get('n'), null)
  // Options are still checked.
  assert.throws(() => cache.set('n', undefined, { ttl: 1 }), { name: 'TypeError', message: /^cache\.set: options must have only the keys ttlMs/ })
  assert.equal(cache.get('n'), null)
})

test('dump() and load() round-trip structured values, recency and TTLs', () => {
  const from = createCache({ max: 100, structured: true })
  const values = samples()
  for (const [key, value] of Object.entries(values)) from.set(key, value, key === 'map' ? { ttlMs: 60_000 } : undefined)
  from.get('date') // now the most recent
  const dump = from.dump()
  const to = createCache({ max: 100, structured: true })
  to.set('gone', 1)
  to.load(dump)
  assert.equal(to.size, Object.keys(values).length)
  assert.deepStrictEqual([...to.keys()], [...from.keys()])
  assert.equal([...to.keys()][0], 'date')
  for (const key of to.keys()) assert.deepStrictEqual(to.peek(key), values[key], key)
  assert.equal(to.has('gone'), false)
  const left = to.remainingTtlMs('map')
  assert.ok(left > 50_000 && left <= 60_000, `TTL left ${left}`)
  assert.equal(to.remainingTtlMs('date'), Infinity)
  // The dump holds values, not bytes: it survives a structured clone (e.g. postMessage or a file
  // written with v8.serialize) and loads the same.
  const again = createCache({ max: 100, structured: true })
  again.load(v8.deserialize(v8.serialize(dump)))
  assert.deepStrictEqual([...again.entries()], [...to.entries()])
})

test('maxBytes and maxEntrySize count the serialized size', () => {
  const value = { body: 'x'.repeat(200), tags: new Set(['a', 'b']) }
  const bytes = v8.serialize(value)
  // The same bytes stored in a plain cache: the figure a structured entry must weigh.
  const plain = createCache({ max: 10 }).set('key1', bytes)
  const weight = plain.stats().bytes
  const structured = createCache({ max: 10, structured: true }).set('key1', value)
  assert.equal(structured.stats().bytes, weight)
  assert.ok(weight >= bytes.length, 'the weight holds the serialized bytes')
  const fits = createCache({ max: 10, maxEntrySize: weight, structured: true }).set('key1', value)
  assert.equal(fits.has('key1'), true)
  const tooBig = createCache({ max: 10, maxEntrySize: weight - 1, structured: true }).set('key1', value)
  assert.equal(tooBig.has('key1'), false)
  assert.equal(tooBig.stats().evictions.size, 1)
  // maxBytes for three such entries holds three; a fourth evicts the least recent.
  const bounded = createCache({ maxBytes: 3 * weight, structured: true })
  for (const key of ['key1', 'key2', 'key3', 'key4']) bounded.set(key, value)
  assert.deepStrictEqual([...bounded.keys()], ['key4', 'key3', 'key2'])
})

test('fetch: fetchMethod gets a deep copy of the stale value; the fetched value is stored and returned as a copy', async () => {
  let stale
  let calls = 0
  const cache = createCache({
    max: 10,
    ttlMs: 1,
    allowStale: true,
    structured: true,
    fetchMethod: async (key, staleValue) => {
      calls++
      stale = staleValue
      if (staleValue !== undefined) staleValue.version = 'mutated by fetchMethod'
      return { key, version: calls, at: new Date(calls) }
    }
  })
  const first = await cache.fetch('k')
  assert.deepStrictEqual(first, { key: 'k', version: 1, at: new Date(1) })
  assert.equal(stale, undefined)
  first.version = 'mutated by the caller'
  // Let the entry expire (1 ms TTL), then the stale value comes back at once while it refreshes.
  const deadline = Date.now() + 5000
  while (cache.remainingTtlMs('k') !== undefined) {
    assert.ok(Date.now() < deadline, 'the entry expires')
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  const served = await cache.fetch('k')
  assert.deepStrictEqual(served, { key: 'k', version: 1, at: new Date(1) }, 'the stale copy, untouched by fetchMethod')
  assert.deepStrictEqual(stale, { key: 'k', version: 'mutated by fetchMethod', at: new Date(1) })
  assert.notEqual(served, stale)
  const deadline2 = Date.now() + 5000
  while (calls < 2 || cache.peek('k', { allowStale: true })?.version !== 2) {
    assert.ok(Date.now() < deadline2, 'the refresh lands')
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
})

test('options: structured is a boolean, not for named caches; plain caches still refuse objects', () => {
  assertArgError(() => createCache({ max: 1, structured: 'yes' }), TypeError, 'createCache', 'options.structured')
  assertArgError(() => createCache({ max: 1, structured: true, name: 'structured-named' }), RangeError, 'createCache', 'options.structured')
  assert.throws(() => createCache({ max: 1, structure: true }), { name: 'TypeError', message: /^createCache: options must have only the keys .*structured.*got key "structure"/ })
  for (const plain of [createCache({ max: 10 }), createCache({ max: 10, structured: false })]) {
    assertArgError(() => plain.set('k', { a: 1 }), TypeError, 'cache.set', 'value')
    assertArgError(() => plain.set('k', undefined), TypeError, 'cache.set', 'value')
    const body = Buffer.from('abc')
    plain.set('b', body).set('s', 'text')
    assert.deepStrictEqual(plain.get('b'), body)
    assert.equal(plain.get('s'), 'text')
    assert.deepStrictEqual(plain.dump().map(([k, e]) => [k, e.value]), [['b', body], ['s', 'text']])
  }
})
