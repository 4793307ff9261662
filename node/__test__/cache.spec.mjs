import assert from 'node:assert/strict'
import { test } from 'node:test'
import { api, CACHE_ENTRY_OVERHEAD as OVERHEAD, MAX_CACHE_NAME_LENGTH, waitFor } from './support.mjs'

const { createCache } = api

test('get, set, has, peek, delete, clear and size', () => {
  const cache = createCache(10)
  assert.equal(cache.get('missing'), undefined)
  cache.set('a', 'alpha')
  cache.set('b', 'beta')
  assert.equal(cache.size, 2)
  assert.equal(cache.get('a'), 'alpha')
  assert.equal(cache.has('a'), true)
  assert.equal(cache.has('zzz'), false)
  assert.equal(cache.peek('b'), 'beta')
  assert.equal(cache.peek('zzz'), undefined)
  assert.equal(cache.delete('a'), true)
  assert.equal(cache.delete('a'), false)
  assert.equal(cache.get('a'), undefined)
  cache.set('b', 'beta 2')
  assert.equal(cache.get('b'), 'beta 2')
  cache.clear()
  assert.equal(cache.size, 0)
  assert.equal(cache.get('b'), undefined)
})

test('values come back as the type stored, byte values as fresh copies', () => {
  const cache = createCache({ max: 10 })
  const stored = Buffer.from('bytes')
  cache.set('buffer', stored)
  stored[0] = 0x42 // mutating the caller's Buffer after set does not reach the cache
  const first = cache.get('buffer')
  assert.ok(Buffer.isBuffer(first))
  assert.equal(first.toString(), 'bytes')
  first[0] = 0x58 // nor does mutating a returned copy
  assert.equal(cache.get('buffer').toString(), 'bytes')
  assert.notEqual(cache.get('buffer'), cache.get('buffer'))
  assert.equal(cache.peek('buffer').toString(), 'bytes')

  cache.set('u8', new Uint8Array([1, 2, 3]))
  const u8 = cache.get('u8')
  assert.ok(Buffer.isBuffer(u8))
  assert.deepEqual([...u8], [1, 2, 3])

  cache.set('text', 'héllo')
  assert.equal(typeof cache.get('text'), 'string')
  assert.equal(cache.get('text'), 'héllo')
  cache.set('empty', '')
  assert.equal(cache.get('empty'), '')
})

test('byte values of every size come back whole and independent of one another', () => {
  // The native engine hands small values over through a scratch Buffer it reuses: a later
  // get must never change a Buffer an earlier get returned.
  const cache = createCache({ max: 10 })
  const sizes = [0, 1, 1023, 1024, 65535, 65536, 65537, 300000]
  for (const n of sizes) cache.set(`v${n}`, Buffer.alloc(n, n % 251))
  const got = sizes.map((n) => cache.get(`v${n}`))
  const again = sizes.map((n) => cache.get(`v${n}`))
  sizes.forEach((n, i) => {
    assert.equal(got[i].length, n)
    assert.ok(got[i].equals(Buffer.alloc(n, n % 251)), `${n} B`)
    assert.ok(again[i].equals(got[i]), `${n} B again`)
  })
  got[3].fill(0)
  assert.ok(again[3].equals(Buffer.alloc(1024, 1024 % 251)), 'copies share no memory')
})

test('least recently used entries are evicted for capacity and counted', () => {
  const cache = createCache(3)
  for (const key of ['a', 'b', 'c']) cache.set(key, key)
  cache.get('a') // b is now the least recently used
  cache.set('d', 'd')
  assert.equal(cache.has('b'), false)
  assert.deepEqual(['a', 'c', 'd'].map((k) => cache.has(k)), [true, true, true])
  assert.equal(cache.size, 3)
  assert.equal(cache.stats().evictions.capacity, 1)
})

test('peek and has do not refresh recency', () => {
  const cache = createCache(2)
  cache.set('a', '1')
  cache.set('b', '2')
  cache.peek('a')
  cache.has('a')
  cache.set('c', '3')
  assert.equal(cache.has('a'), false)
})

test('maxBytes counts what an entry holds (key, value, overhead), evicts for size and refuses larger values', () => {
  const cache = createCache({ maxBytes: 2 * OVERHEAD + 20 })
  cache.set('k1', '12345678') // 10 bytes + OVERHEAD
  cache.set('k2', Buffer.alloc(8)) // 10 bytes + OVERHEAD
  assert.equal(cache.stats().bytes, 2 * OVERHEAD + 20)
  cache.set('k3', 'x') // 3 bytes + OVERHEAD: k1 goes
  assert.equal(cache.has('k1'), false)
  assert.equal(cache.stats().evictions.size, 1)
  assert.equal(cache.stats().bytes, 2 * OVERHEAD + 13)
  cache.set('k2', 'é'.repeat(OVERHEAD)) // 2 + 2 × OVERHEAD bytes + OVERHEAD > maxBytes: refused, old k2 removed
  assert.equal(cache.has('k2'), false)
  assert.equal(cache.stats().evictions.size, 2)
  assert.equal(cache.stats().bytes, OVERHEAD + 3)
  // An empty key and value still weigh the overhead: maxBytes can be no less.
  const lightest = createCache({ maxBytes: OVERHEAD })
  lightest.set('', '')
  assert.deepEqual([lightest.get(''), lightest.stats().bytes], ['', OVERHEAD])
  lightest.set('k', '') // one byte too many: refused
  assert.deepEqual([lightest.has('k'), lightest.size], [false, 1])
  for (const tooSmall of [1, OVERHEAD - 1]) {
    assert.throws(() => createCache({ maxBytes: tooSmall }), { name: 'RangeError', message: new RegExp(`^createCache: options\\.maxBytes must be an integer in \\[${OVERHEAD}, `) })
  }
})

test('maxBytes bounds the entries a cache holds, whatever their size: tiny entries count their overhead', () => {
  const maxBytes = 64 * 1024
  for (const [label, valueBytes] of [['tiny', 1], ['small', 100], ['large', 10000]]) {
    const cache = createCache({ maxBytes })
    const value = 'v'.repeat(valueBytes)
    for (let i = 0; i < 5000; i++) cache.set(`k${i}`, value)
    const { bytes, entries } = cache.stats()
    const weight = (i) => Buffer.byteLength(`k${i}`) + valueBytes + OVERHEAD
    assert.ok(bytes <= maxBytes, `${label}: ${bytes} <= ${maxBytes}`)
    assert.ok(bytes > maxBytes - weight(4999), `${label}: full (${bytes} of ${maxBytes})`)
    let sum = 0
    for (let i = 4999; i > 4999 - entries; i--) sum += weight(i)
    assert.equal(bytes, sum, `${label}: the ${entries} most recent entries, each weighing key + value + overhead`)
  }
})

test('entries expire after ttlMs and are counted', async () => {
  const cache = createCache({ max: 10, ttlMs: 40 })
  cache.set('short', 'v')
  cache.set('forever', 'v', { ttlMs: 0 })
  const remaining = cache.remainingTtlMs('short')
  assert.ok(remaining > 0 && remaining <= 40, `remaining ${remaining}`)
  assert.ok(Number.isInteger(remaining))
  assert.equal(cache.remainingTtlMs('forever'), Infinity)
  assert.equal(cache.remainingTtlMs('missing'), undefined)
  await waitFor(() => !cache.has('short'))
  assert.equal(cache.get('short'), undefined)
  assert.equal(cache.remainingTtlMs('short'), undefined)
  assert.equal(cache.get('forever'), 'v')
  assert.equal(cache.stats().evictions.expired, 1)
})

test('purgeExpired removes expired entries and returns their number', async () => {
  const cache = createCache({ max: 10 })
  cache.set('a', '1', { ttlMs: 20 })
  cache.set('b', '2', { ttlMs: 20 })
  cache.set('c', '3')
  await waitFor(() => !cache.has('a') && !cache.has('b'))
  assert.equal(cache.purgeExpired(), 2)
  assert.equal(cache.size, 1)
  assert.equal(cache.purgeExpired(), 0)
})

test('createCache(maxEntries, ttlSeconds) takes seconds, fractions included', () => {
  const cache = createCache(1000, 3600)
  cache.set('k', 'v')
  const remaining = cache.remainingTtlMs('k')
  assert.ok(remaining > 3599000 && remaining <= 3600000, `remaining ${remaining}`)
  const short = createCache(10, 0.5)
  short.set('k', 'v')
  assert.ok(short.remainingTtlMs('k') <= 500)
})

test('updateAgeOnGet restarts the TTL on get', async () => {
  const cache = createCache({ max: 10, ttlMs: 200, updateAgeOnGet: true })
  cache.set('k', 'v')
  await waitFor(() => cache.remainingTtlMs('k') < 150)
  const before = cache.remainingTtlMs('k')
  cache.get('k')
  assert.ok(cache.remainingTtlMs('k') > before, 'the TTL restarted')
})

test('a cache name has 1 to MAX_CACHE_NAME_LENGTH UTF-16 units', () => {
  assert.equal(MAX_CACHE_NAME_LENGTH, 256)
  const longest = 'é'.repeat(MAX_CACHE_NAME_LENGTH) // 2 UTF-8 bytes each: the limit counts units
  assert.equal(createCache({ name: longest, max: 1 }).set('k', 'v').get('k'), 'v')
  assert.throws(() => createCache({ name: longest + 'n', max: 1 }), {
    name: 'RangeError',
    message: new RegExp(`^createCache: options\\.name must be a string of 1 to ${MAX_CACHE_NAME_LENGTH} characters`)
  })
})

test('stats counts hits, misses, inserts and updates', () => {
  const cache = createCache(100)
  cache.set('a', '1')
  cache.set('b', '2')
  cache.set('a', '3')
  cache.get('a')
  cache.get('a')
  cache.get('nope')
  cache.peek('a')
  cache.has('nope')
  assert.deepEqual(cache.stats(), {
    hits: 2,
    misses: 1,
    inserts: 2,
    updates: 1,
    evictions: { capacity: 0, size: 0, expired: 0 },
    entries: 2,
    bytes: 4 + 2 * OVERHEAD
  })
})

test('a named cache is shared by every handle of this thread', () => {
  const first = createCache({ name: 'cache-spec-shared', max: 10 })
  const second = createCache({ name: 'cache-spec-shared', max: 10 })
  first.set('k', 'v')
  assert.equal(second.get('k'), 'v')
  assert.equal(second.size, 1)
})

test('a named cache opened again with other bounds is a RangeError', () => {
  createCache({ name: 'cache-spec-bounds', max: 10 })
  assert.throws(() => createCache({ name: 'cache-spec-bounds', max: 11 }), {
    name: 'RangeError',
    message: 'createCache: options must be the bounds the cache named "cache-spec-bounds" was opened with, got an object'
  })
})

test('many entries stay consistent with a plain model', () => {
  const cache = createCache({ max: 64 })
  const model = new Map()
  let seed = 7
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  for (let i = 0; i < 5000; i++) {
    const key = `k${Math.floor(random() * 100)}`
    if (random() < 0.6) {
      const value = `v${i}`
      cache.set(key, value)
      model.delete(key)
      model.set(key, value)
      if (model.size > 64) model.delete(model.keys().next().value)
    } else {
      const expected = model.get(key)
      assert.equal(cache.get(key), expected)
      if (expected !== undefined) {
        model.delete(key)
        model.set(key, expected)
      }
    }
  }
  assert.equal(cache.size, model.size)
})
