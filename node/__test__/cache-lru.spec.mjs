// lru-cache 11's semantics where ultra's cache has the feature, on the engine of this run
// (`npm test` native, `npm run test:fallback` the fallback): keys as JS strings, per-call read
// options, stale entries, delete and set as lru-cache answer them.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { api, CACHE_ENTRY_OVERHEAD as OVERHEAD, waitFor } from './support.mjs'

const { createCache } = api

test('distinct strings are distinct keys, lone surrogates included', () => {
  const keys = ['\uD800', '\uDC00', '\uFFFD', '\uD800\uDC00', '\uDBFF\uDFFF', 'a\uD800b', 'a\uFFFDb', '\uDC00\uD800', '']
  const cache = createCache({ max: 100 })
  keys.forEach((k, i) => cache.set(k, `v${i}`))
  assert.equal(cache.size, keys.length)
  keys.forEach((k, i) => {
    assert.equal(cache.get(k), `v${i}`, JSON.stringify(k))
    assert.equal(cache.has(k), true)
    assert.equal(cache.peek(k), `v${i}`)
  })
  // A key counts as many bytes as Buffer.byteLength gives it (a lone surrogate: 3).
  const bytes = keys.reduce((n, k, i) => n + Buffer.byteLength(k) + `v${i}`.length + OVERHEAD, 0)
  assert.equal(cache.stats().bytes, bytes)
  assert.equal(cache.delete('\uD800'), true)
  assert.equal(cache.get('\uFFFD'), 'v2')
  assert.equal(cache.get('\uD800'), undefined)
  assert.equal(cache.size, keys.length - 1)
})

test('set returns the cache, so calls chain as in lru-cache', () => {
  const cache = createCache({ max: 10 })
  assert.equal(cache.set('a', '1'), cache)
  assert.equal(cache.set('b', '2').set('c', '3', { ttlMs: 0 }).get('c'), '3')
  // A refused entry returns the cache too.
  const small = createCache({ maxBytes: OVERHEAD + 4 })
  assert.equal(small.set('k', 'too long'), small)
  assert.equal(small.has('k'), false)
})

test('per-call options: unknown ones are refused with the error of set, values are checked', () => {
  const cache = createCache({ max: 10 })
  const cases = [
    [() => cache.get('k', { bogus: true }), 'cache.get: options must have only the keys allowStale, updateAgeOnGet, noDeleteOnStaleGet, got key "bogus"'],
    [() => cache.peek('k', { updateAgeOnGet: true }), 'cache.peek: options must have only the keys allowStale, got key "updateAgeOnGet"'],
    [() => cache.has('k', { allowStale: true }), 'cache.has: options must have only the keys updateAgeOnHas, got key "allowStale"'],
    [() => cache.set('k', 'v', { ttl: 1 }), 'cache.set: options must have only the keys ttlMs, got key "ttl"']
  ]
  for (const [fn, message] of cases) assert.throws(fn, { name: 'TypeError', message })
  assert.throws(() => cache.get('k', { allowStale: 1 }), { name: 'TypeError', message: 'cache.get: options.allowStale must be a boolean, got 1' })
  assert.throws(() => cache.get('k', 5), { name: 'TypeError', message: 'cache.get: options must be an object, got 5' })
  assert.throws(() => cache.has('k', { updateAgeOnHas: 'yes' }), { name: 'TypeError', message: 'cache.has: options.updateAgeOnHas must be a boolean, got "yes"' })
  // Known options with a live entry change nothing about the answer.
  cache.set('k', 'v')
  assert.equal(cache.get('k', { allowStale: true, updateAgeOnGet: false, noDeleteOnStaleGet: true }), 'v')
  assert.equal(cache.peek('k', { allowStale: false }), 'v')
  assert.equal(cache.has('k', {}), true)
})

/** A cache holding `stale` (expired, not yet removed) and `live` entries. */
async function withStale (options = {}) {
  const cache = createCache({ max: 10, ...options })
  cache.set('stale', 'old', { ttlMs: 25 })
  cache.set('bytes', Buffer.from('old bytes'), { ttlMs: 25 })
  cache.set('live', 'fresh', { ttlMs: 0 })
  await waitFor(() => !cache.has('stale') && !cache.has('bytes'))
  return cache
}

test('an expired entry is a miss; allowStale serves it once and removes it', async () => {
  const cache = await withStale()
  assert.equal(cache.size, 3, 'has() leaves expired entries in place')
  assert.equal(cache.peek('stale'), undefined)
  assert.equal(cache.peek('stale', { allowStale: true }), 'old', 'peek serves a stale value on request...')
  assert.equal(cache.size, 3, '...and never removes it')
  assert.equal(cache.get('stale', { allowStale: true }), 'old')
  assert.equal(cache.get('stale', { allowStale: true }), undefined, 'served once')
  assert.equal(cache.size, 2)
  const bytes = cache.get('bytes', { allowStale: true })
  assert.ok(Buffer.isBuffer(bytes) && bytes.toString() === 'old bytes')
  assert.equal(cache.size, 1)
  const s = cache.stats()
  assert.equal(s.hits, 0)
  assert.equal(s.misses, 3, 'a stale value served counts as a miss')
  assert.equal(s.evictions.expired, 2)
})

test('noDeleteOnStaleGet keeps an expired entry: served on every get with allowStale', async () => {
  const cache = await withStale()
  assert.equal(cache.get('stale', { noDeleteOnStaleGet: true }), undefined)
  assert.equal(cache.size, 3, 'kept')
  for (let i = 0; i < 3; i++) assert.equal(cache.get('stale', { allowStale: true, noDeleteOnStaleGet: true }), 'old')
  assert.equal(cache.size, 3)
  assert.equal(cache.has('stale'), false)
  assert.equal(cache.stats().evictions.expired, 0)
  // Without the option, the next get removes it.
  assert.equal(cache.get('stale'), undefined)
  assert.equal(cache.size, 2)
  assert.equal(cache.stats().evictions.expired, 1)
})

test('a kept stale entry keeps its place: it is still the first evicted', async () => {
  const cache = createCache({ max: 3 })
  cache.set('old', 'x', { ttlMs: 25 })
  cache.set('mid', 'y')
  cache.set('new', 'z')
  await waitFor(() => !cache.has('old'))
  assert.equal(cache.get('old', { allowStale: true, noDeleteOnStaleGet: true }), 'x')
  assert.equal(cache.get('mid', { noDeleteOnStaleGet: true }), 'y') // a live hit is promoted
  cache.set('fourth', 'w')
  assert.equal(cache.peek('old', { allowStale: true }), undefined, 'old was evicted first')
  cache.set('fifth', 'v')
  assert.equal(cache.has('new'), false, 'then new, the least recent live entry')
  assert.equal(cache.has('mid'), true)
})

test('updateAgeOnGet per call restarts the TTL, or not, whatever the cache default', async () => {
  for (const updateAgeOnGet of [false, true]) {
    const cache = createCache({ max: 10, ttlMs: 400, updateAgeOnGet })
    cache.set('k', 'v')
    await waitFor(() => cache.remainingTtlMs('k') < 350)
    let before = cache.remainingTtlMs('k')
    assert.equal(cache.get('k', { updateAgeOnGet: false }), 'v')
    assert.ok(cache.remainingTtlMs('k') <= before, `not restarted (default ${updateAgeOnGet})`)
    before = cache.remainingTtlMs('k')
    assert.equal(cache.get('k', { updateAgeOnGet: true }), 'v')
    assert.ok(cache.remainingTtlMs('k') > before, `restarted (default ${updateAgeOnGet})`)
  }
})

test('has with updateAgeOnHas restarts a live TTL', async () => {
  const cache = createCache({ max: 10, ttlMs: 400 })
  cache.set('k', 'v')
  await waitFor(() => cache.remainingTtlMs('k') < 350)
  let before = cache.remainingTtlMs('k')
  assert.equal(cache.has('k'), true)
  assert.ok(cache.remainingTtlMs('k') <= before)
  before = cache.remainingTtlMs('k')
  assert.equal(cache.has('k', { updateAgeOnHas: true }), true)
  assert.ok(cache.remainingTtlMs('k') > before)
})

test('delete of an expired entry answers true, as lru-cache does', async () => {
  const cache = await withStale()
  assert.equal(cache.delete('stale'), true)
  assert.equal(cache.delete('stale'), false)
  assert.equal(cache.delete('never'), false)
  assert.equal(cache.size, 2)
  assert.equal(cache.stats().evictions.expired, 0, 'a delete is not an eviction')
})

test('maxEntrySize: a larger entry is not stored, evicts nothing and removes the old value of its key', () => {
  // Sizes are what an entry holds: key + value + OVERHEAD, as maxBytes counts them.
  for (const options of [{ max: 3, maxEntrySize: OVERHEAD + 10 }, { max: 3, maxBytes: 1000, maxEntrySize: OVERHEAD + 10 }]) {
    const cache = createCache(options)
    cache.set('a', '123456789') // 10 bytes + OVERHEAD: fits
    cache.set('b', Buffer.alloc(5))
    cache.set('c', 'x')
    assert.equal(cache.set('big', Buffer.alloc(5 * 1024 * 1024)), cache)
    assert.equal(cache.has('big'), false)
    assert.deepEqual(['a', 'b', 'c'].map((k) => cache.has(k)), [true, true, true], 'nothing evicted')
    assert.deepEqual(cache.stats().evictions, { capacity: 0, size: 1, expired: 0 }, 'the refusal counts as a size eviction')
    cache.set('a', '1234567890') // 11 bytes + OVERHEAD
    assert.equal(cache.get('a'), undefined, 'the value it would replace is gone')
    assert.equal(cache.size, 2)
  }
  // Above maxBytes, maxBytes decides.
  const cache = createCache({ maxBytes: OVERHEAD + 10, maxEntrySize: OVERHEAD + 100 })
  cache.set('k', 'x'.repeat(20))
  assert.equal(cache.has('k'), false)
  // maxEntrySize is no bound of the cache.
  assert.throws(() => createCache({ maxEntrySize: OVERHEAD + 10 }), { name: 'RangeError', message: /^createCache: options must be given at least one bound/ })
  for (const tooSmall of [0, OVERHEAD - 1]) {
    assert.throws(() => createCache({ max: 1, maxEntrySize: tooSmall }), { name: 'RangeError', message: new RegExp(`^createCache: options\\.maxEntrySize must be an integer in \\[${OVERHEAD}, `) })
  }
  assert.throws(() => createCache({ max: 1, maxEntrySize: '10' }), { name: 'TypeError', message: /^createCache: options\.maxEntrySize must be/ })
})

test('allowStale on the cache: every get serves a stale value once, peek serves it too', async () => {
  const cache = await withStale({ allowStale: true })
  assert.equal(cache.peek('stale'), 'old')
  assert.equal(cache.get('stale'), 'old')
  assert.equal(cache.get('stale'), undefined)
  assert.equal(cache.has('bytes'), false)
  assert.equal(cache.get('bytes', { allowStale: false }), undefined, 'a per-call option overrides the cache')
  assert.equal(cache.size, 1)
  assert.equal(cache.stats().misses, 3)
})

test('allowStale with noDeleteOnStaleGet on the cache: stale-while-revalidate until the entry is replaced', async () => {
  const cache = await withStale({ allowStale: true, noDeleteOnStaleGet: true })
  for (let i = 0; i < 3; i++) assert.equal(cache.get('stale'), 'old')
  assert.equal(cache.size, 3)
  assert.equal(cache.stats().evictions.expired, 0)
  cache.set('stale', 'new') // the revalidated value
  assert.equal(cache.get('stale'), 'new')
  assert.equal(cache.stats().hits, 1)
  assert.equal(cache.get('bytes', { noDeleteOnStaleGet: false }).toString(), 'old bytes')
  assert.equal(cache.size, 2)
  // noDeleteOnStaleGet alone keeps the entry but serves nothing.
  const kept = await withStale({ noDeleteOnStaleGet: true })
  assert.equal(kept.get('stale'), undefined)
  assert.equal(kept.size, 3)
  assert.equal(kept.get('stale', { allowStale: true }), 'old')
})

test('the stale options are checked and are part of a named cache\'s bounds', () => {
  assert.throws(() => createCache({ max: 1, allowStale: 'yes' }), { name: 'TypeError', message: 'createCache: options.allowStale must be a boolean, got "yes"' })
  assert.throws(() => createCache({ max: 1, noDeleteOnStaleGet: 1 }), { name: 'TypeError', message: 'createCache: options.noDeleteOnStaleGet must be a boolean, got 1' })
  const name = 'cache-lru-spec-stale'
  const maxEntrySize = OVERHEAD + 5
  createCache({ name, max: 2, allowStale: true, maxEntrySize })
  assert.equal(createCache({ name, max: 2, allowStale: true, maxEntrySize }).set('k', 'v').get('k'), 'v')
  for (const other of [{ allowStale: false, maxEntrySize }, { allowStale: true }, { allowStale: true, maxEntrySize, noDeleteOnStaleGet: true }]) {
    assert.throws(() => createCache({ name, max: 2, ...other }), { name: 'RangeError', message: /^createCache: options must be the bounds the cache named/ })
  }
})

test('keys(), values() and entries() list the live entries, most recent first, after gets', () => {
  const cache = createCache({ max: 10 })
  cache.set('a', '1').set('b', Buffer.from('2')).set('c', '3')
  cache.get('a')
  cache.peek('b') // peek and has do not move an entry
  cache.has('b')
  assert.deepEqual([...cache.keys()], ['a', 'c', 'b'])
  assert.deepEqual([...cache.values()].map(String), ['1', '3', '2'])
  assert.deepEqual([...cache.entries()].map(([k, v]) => [k, String(v)]), [['a', '1'], ['c', '3'], ['b', '2']])
  const [, bytes] = [...cache.entries()][2]
  assert.ok(Buffer.isBuffer(bytes))
  bytes[0] = 0x58
  assert.equal(cache.peek('b').toString(), '2', 'values are copies')
  cache.set('c', '3 again')
  assert.deepEqual([...cache.keys()], ['c', 'a', 'b'])
  // Keys come back as the strings they were, lone surrogates included.
  cache.set('\uD800', 'x').set('\uFFFD', 'y').set('a\uDC00', 'z')
  assert.deepEqual([...cache.keys()].slice(0, 3), ['a\uDC00', '\uFFFD', '\uD800'])
  // An iterator, as lru-cache's.
  const it = cache.keys()
  assert.equal(typeof it.next, 'function')
  assert.equal(it.next().value, 'a\uDC00')
})

test('iteration skips stale entries unless the cache allowStale', async () => {
  const cache = await withStale()
  assert.deepEqual([...cache.keys()], ['live'])
  assert.deepEqual([...cache.values()], ['fresh'])
  assert.equal(cache.size, 3, 'iteration removes nothing')
  const stale = await withStale({ allowStale: true })
  assert.deepEqual([...stale.keys()], ['live', 'bytes', 'stale'])
})

test('dump() and load() round-trip strings, Buffers, recency and the time left', async () => {
  const cache = createCache({ max: 10, ttlMs: 60_000 })
  cache.set('old', 'text')
  cache.set('bytes', Buffer.from([0, 1, 2, 255]), { ttlMs: 0 })
  cache.set('short', 'brief', { ttlMs: 30_000 })
  cache.set('\uD800', 'lone')
  cache.get('old') // now the most recent
  const dump = cache.dump()
  assert.deepEqual(dump.map(([k]) => k), ['bytes', 'short', '\uD800', 'old'], 'least recent first, as lru-cache')
  const [, bytes] = dump[0]
  assert.equal(bytes.ttl, 0)
  assert.equal(bytes.start, undefined)
  assert.ok(Buffer.isBuffer(bytes.value) && bytes.value.equals(Buffer.from([0, 1, 2, 255])))
  const [, short] = dump[1]
  assert.equal(short.ttl, 30_000)
  assert.ok(Math.abs(short.start - Date.now()) < 10_000, `start ${short.start} is an epoch time`)

  const copy = createCache({ max: 10 })
  copy.set('gone', 'replaced by load')
  assert.equal(copy.load(dump), undefined)
  assert.deepEqual([...copy.keys()], ['old', '\uD800', 'short', 'bytes'])
  assert.deepEqual(copy.dump().map(([k, e]) => [k, String(e.value), e.ttl]), dump.map(([k, e]) => [k, String(e.value), e.ttl]))
  assert.equal(copy.has('gone'), false)
  assert.equal(copy.get('\uD800'), 'lone')
  assert.ok(copy.get('bytes').equals(Buffer.from([0, 1, 2, 255])))
  assert.equal(copy.remainingTtlMs('bytes'), Infinity)
  const left = copy.remainingTtlMs('short')
  assert.ok(left > 0 && left <= 30_000 && left >= cache.remainingTtlMs('short') - 1000, `short has ${left} ms left`)
  assert.ok(copy.remainingTtlMs('old') <= 60_000)
})

test('load() restores expired entries as stale, takes lru-cache dumps, and checks before changing anything', async () => {
  const { LRUCache } = await import('lru-cache')
  const lru = new LRUCache({ max: 10, ttl: 60_000 })
  lru.set('a', 'from lru-cache')
  lru.set('b', 'expired', { ttl: 1, start: performance.now() - 1000 })
  lru.set('c', 'kept')
  const cache = createCache({ max: 10 })
  cache.load(lru.dump())
  assert.deepEqual([...cache.keys()], ['c', 'a'])
  assert.equal(cache.size, 3)
  assert.equal(cache.get('b', { allowStale: true }), 'expired', 'an expired entry comes back stale')
  const left = cache.remainingTtlMs('a')
  assert.ok(left > 50_000 && left <= 60_000, `a has ${left} ms left`)

  cache.set('keep', 'me')
  for (const [bad, name] of [
    [{}, TypeError],
    [[['k']], TypeError],
    [[[1, { value: 'v' }]], TypeError],
    [[['k', { value: 5 }]], TypeError],
    [[['k', { value: 'v', ttl: -1 }]], RangeError],
    [[['k', { value: 'v', extra: 1 }]], TypeError],
    [[['ok', { value: 'v' }], ['k', null]], TypeError]
  ]) {
    assert.throws(() => cache.load(bad), (e) => e instanceof name && e.message.startsWith('cache.load: '), JSON.stringify(bad))
  }
  assert.equal(cache.get('keep'), 'me', 'a refused load changes nothing')
})

test('fetch: concurrent calls for one key share one fetchMethod call, whose value is stored', async () => {
  const calls = []
  let release
  const gate = new Promise((resolve) => { release = resolve })
  const cache = createCache({
    max: 10,
    fetchMethod: async (key, staleValue, { signal, options, context }) => {
      calls.push({ key, staleValue, context, aborted: signal.aborted, options })
      await gate
      return key === 'bytes' ? Buffer.from('fetched bytes') : `fetched ${key}`
    }
  })
  const pending = [cache.fetch('a'), cache.fetch('a', { context: 'ctx' }), cache.fetch('a'), cache.fetch('bytes')]
  assert.equal(calls.length, 2, 'one call per key')
  assert.deepEqual(calls[0], { key: 'a', staleValue: undefined, context: undefined, aborted: false, options: {} })
  release()
  const [a1, a2, a3, bytes] = await Promise.all(pending)
  assert.deepEqual([a1, a2, a3], ['fetched a', 'fetched a', 'fetched a'])
  assert.ok(Buffer.isBuffer(bytes) && bytes.toString() === 'fetched bytes')
  assert.equal(cache.get('a'), 'fetched a')
  assert.equal(cache.get('bytes').toString(), 'fetched bytes')
  // A cached key is served without calling fetchMethod.
  assert.equal(await cache.fetch('a'), 'fetched a')
  assert.equal(calls.length, 2)
  // forceRefresh calls it again, with the current value as staleValue.
  assert.equal(await cache.fetch('a', { forceRefresh: true, context: 42 }), 'fetched a')
  assert.equal(calls.length, 3)
  assert.equal(calls[2].staleValue, 'fetched a')
  assert.equal(calls[2].context, 42)
})

test('fetch: a rejection caches nothing and reaches every caller; the next fetch tries again', async () => {
  let n = 0
  const cache = createCache({
    max: 10,
    fetchMethod: async (key) => {
      n++
      await new Promise((resolve) => setImmediate(resolve))
      if (n === 1) throw new Error(`upstream down for ${key}`)
      return 'second try'
    }
  })
  const results = await Promise.allSettled([cache.fetch('k'), cache.fetch('k')])
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected'])
  assert.equal(results[0].reason.message, 'upstream down for k')
  assert.equal(n, 1)
  assert.equal(cache.has('k'), false)
  assert.equal(cache.size, 0)
  assert.equal(await cache.fetch('k'), 'second try')
  assert.equal(n, 2)
  // A value of the wrong type is a rejection too; undefined stores nothing.
  const odd = createCache({ max: 10, fetchMethod: (key) => (key === 'none' ? undefined : 5) })
  await assert.rejects(odd.fetch('k'), { name: 'TypeError', message: /^cache\.fetch: the value fetchMethod resolved to must be a string, Buffer, Uint8Array or undefined, got 5/ })
  assert.equal(await odd.fetch('none'), undefined)
  assert.equal(odd.size, 0)
})

test('fetch: a stale entry is revalidated; allowStale serves it while the fetch runs', async () => {
  const seen = []
  const cache = createCache({
    max: 10,
    ttlMs: 25,
    fetchMethod: async (key, staleValue) => {
      seen.push(staleValue)
      return `new ${key}`
    }
  })
  cache.set('k', 'old')
  await waitFor(() => !cache.has('k'))
  assert.equal(await cache.fetch('k', { allowStale: true }), 'old', 'the stale value at once')
  assert.deepEqual(seen, ['old'])
  await waitFor(() => cache.has('k'))
  assert.equal(cache.get('k'), 'new k', 'then the fetched value')
  cache.set('j', 'old j')
  await waitFor(() => !cache.has('j'))
  assert.equal(await cache.fetch('j'), 'new j', 'without allowStale, the fetched value')
  assert.deepEqual(seen, ['old', 'old j'])
})

test('fetch without fetchMethod is get; its options are checked', async () => {
  const cache = createCache({ max: 10 })
  cache.set('k', 'v')
  assert.equal(await cache.fetch('k'), 'v')
  assert.equal(await cache.fetch('missing'), undefined)
  assert.throws(() => cache.fetch('k', { ttl: 5 }), { name: 'TypeError', message: /^cache\.fetch: options must have only the keys allowStale, updateAgeOnGet, noDeleteOnStaleGet, forceRefresh, ttlMs, context, signal, got key "ttl"/ })
  assert.throws(() => cache.fetch(1), { name: 'TypeError', message: 'cache.fetch: key must be a string, got 1' })
  assert.throws(() => cache.fetch('k', { signal: {} }), { name: 'TypeError', message: /^cache\.fetch: options\.signal must be an AbortSignal/ })
  assert.throws(() => createCache({ max: 1, fetchMethod: 'no' }), { name: 'TypeError', message: 'createCache: options.fetchMethod must be a function, got "no"' })
})

test('string values come back as the strings they were, lone surrogates included', () => {
  const values = ['\uD800', '\uDC00x', '\uFFFD', 'a\uD83D\uDE00b', '\uDE00\uD83D', '한국어 \uD800 text', 'x'.repeat(2000) + '\uDBFF']
  const cache = createCache({ max: 100 })
  values.forEach((v, i) => cache.set(`k${i}`, v))
  values.forEach((v, i) => {
    assert.equal(cache.get(`k${i}`), v, JSON.stringify(v.slice(-8)))
    assert.equal(cache.peek(`k${i}`), v)
  })
  assert.deepEqual([...cache.values()].reverse(), values)
  const copy = createCache({ max: 100 })
  copy.load(cache.dump())
  assert.deepEqual([...copy.values()].reverse(), values)
  const bytes = values.reduce((n, v, i) => n + Buffer.byteLength(`k${i}`) + Buffer.byteLength(v) + OVERHEAD, 0)
  assert.equal(cache.stats().bytes, bytes, 'counted as Buffer.byteLength counts them')
})
