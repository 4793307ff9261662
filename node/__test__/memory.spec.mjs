import assert from 'node:assert/strict'
import { test } from 'node:test'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { api, assertArgError, childEnv, packageDir } from './support.mjs'

const { OWNERS } = createRequire(import.meta.url)('../fallback/manager.js')

const { createMemoryArena, createObjectPool, createMemoryManager, isNative } = api

/** Asserts the state of a detached Buffer: empty, unwritable, unreadable. */
function assertDetached (buffer) {
  assert.equal(buffer.length, 0)
  assert.equal(buffer.byteLength, 0)
  assert.throws(() => buffer.fill(1), TypeError)
  assert.throws(() => buffer.readUInt8(0), RangeError)
}

test('an arena reserves nothing until its first allocation', () => {
  const arena = createMemoryArena({ chunkBytes: 4096, limitBytes: 1 << 20 })
  assert.deepEqual(arena.stats(), { reservedBytes: 0, usedBytes: 0, chunks: 0, limitBytes: 1 << 20 })
  const buffer = arena.allocBuffer(100)
  assert.ok(Buffer.isBuffer(buffer))
  assert.equal(buffer.length, 100)
  const stats = arena.stats()
  assert.equal(stats.usedBytes, 100)
  assert.equal(stats.chunks, 1)
  assert.ok(stats.reservedBytes >= 4096)
})

test('arena buffers do not overlap', () => {
  const arena = createMemoryArena({ chunkBytes: 256 })
  const buffers = []
  for (let i = 0; i < 50; i++) {
    const buffer = arena.allocBuffer(1 + (i % 37))
    buffer.fill(i)
    buffers.push(buffer)
  }
  buffers.forEach((buffer, i) => assert.ok(buffer.every((byte) => byte === i), `buffer ${i} kept its bytes`))
  assert.equal(arena.stats().usedBytes, buffers.reduce((sum, b) => sum + b.length, 0))
})

test('reset detaches every Buffer the arena handed out and frees its chunks', () => {
  const arena = createMemoryArena({ chunkBytes: 1024 })
  const buffers = [arena.allocBuffer(10), arena.allocBuffer(1024), arena.allocBuffer(5000)]
  const view = buffers[0].subarray(2, 4)
  arena.reset()
  for (const buffer of buffers) assertDetached(buffer)
  assert.equal(view.length, 0, 'views into arena memory are detached too')
  assert.deepEqual(arena.stats(), { reservedBytes: 0, usedBytes: 0, chunks: 0, limitBytes: arena.stats().limitBytes })
  const fresh = arena.allocBuffer(10)
  assert.equal(fresh.length, 10)
  assert.equal(buffers[0].length, 0, 'new allocations never revive old Buffers')
})

test('an allocation past the arena limit is a RangeError naming size, and the arena stays usable', () => {
  const arena = createMemoryArena({ chunkBytes: 256, limitBytes: 1024 })
  assertArgError(() => arena.allocBuffer(2048), RangeError, 'arena.allocBuffer', 'size')
  let allocated = 0
  assert.throws(() => {
    for (;;) {
      arena.allocBuffer(100)
      allocated += 100
    }
  }, (error) => error instanceof RangeError && error.message.startsWith('arena.allocBuffer: size must be within the arena\'s remaining limit (limitBytes 1024), got 100'))
  assert.ok(allocated > 0 && allocated <= 1024, `allocated ${allocated}`)
  assert.ok(arena.stats().reservedBytes <= 1024)
  arena.reset()
  assert.equal(arena.allocBuffer(100).length, 100)
})

test('pool: acquire defaults to bufferBytes, release detaches and reuses', () => {
  const pool = createObjectPool({ max: 2, bufferBytes: 4096 })
  const a = pool.acquire()
  assert.equal(a.length, 4096)
  const b = pool.acquire(1024)
  assert.equal(b.length, 1024)
  assert.deepEqual(pool.stats(), { idle: 0, inUse: 2, hits: 0, misses: 2, bytesHeld: 8192 })
  b.fill(7)
  pool.release(b)
  assertDetached(b)
  const c = pool.acquire(1000)
  assert.equal(c.length, 1000)
  assert.deepEqual(pool.stats(), { idle: 0, inUse: 2, hits: 1, misses: 2, bytesHeld: 8192 })
  pool.release(a)
  pool.release(c)
  assert.equal(a.length, 0)
  assert.equal(c.length, 0)
  assert.deepEqual(pool.stats(), { idle: 2, inUse: 0, hits: 1, misses: 2, bytesHeld: 8192 })
})

test('pool: releasing twice or a foreign buffer throws', () => {
  const pool = createObjectPool(4)
  const other = createObjectPool(4)
  const buffer = pool.acquire(64)
  pool.release(buffer)
  assertArgError(() => pool.release(buffer), RangeError, 'pool.release', 'buffer')
  assertArgError(() => pool.release(Buffer.alloc(64)), RangeError, 'pool.release', 'buffer')
  assertArgError(() => pool.release(other.acquire(64)), RangeError, 'pool.release', 'buffer')
  assertArgError(() => pool.release(pool.acquire(64).subarray(0, 8)), RangeError, 'pool.release', 'buffer')
  assertArgError(() => pool.release('not a buffer'), TypeError, 'pool.release', 'buffer')
  assertArgError(() => pool.release(), TypeError, 'pool.release', 'buffer')
})

test('pool: idle buffers are capped by max per size class; shrink frees them', () => {
  const pool = createObjectPool({ max: 1, bufferBytes: 1024 })
  const small = [pool.acquire(), pool.acquire()]
  const large = pool.acquire(3000) // size class 4096
  for (const buffer of [...small, large]) pool.release(buffer)
  assert.deepEqual(pool.stats(), { idle: 2, inUse: 0, hits: 0, misses: 3, bytesHeld: 1024 + 4096 })
  assert.equal(pool.shrink(), 5120)
  assert.deepEqual(pool.stats(), { idle: 0, inUse: 0, hits: 0, misses: 3, bytesHeld: 0 })
  assert.equal(pool.shrink(), 0)
})

test('pool: initial buffers are created up front', () => {
  const pool = createObjectPool({ initial: 3, max: 4, bufferBytes: 512 })
  assert.deepEqual(pool.stats(), { idle: 3, inUse: 0, hits: 0, misses: 0, bytesHeld: 1536 })
  pool.acquire()
  assert.equal(pool.stats().hits, 1)
})

test('pool: a buffer its user detached can still be released', () => {
  const pool = createObjectPool(4)
  const buffer = pool.acquire(128)
  structuredClone(buffer.buffer, { transfer: [buffer.buffer] })
  pool.release(buffer)
  assert.equal(pool.stats().inUse, 0)
})

test('memory manager stats: shape, process figures and arena, pool and cache totals', () => {
  const manager = createMemoryManager()
  const arena = createMemoryArena()
  arena.allocBuffer(10)
  const pool = createObjectPool(2)
  pool.acquire(10)
  const cache = api.createCache(10)
  cache.set('k', 'value')
  const stats = manager.stats()
  assert.equal(stats.native, isNative)
  assert.deepEqual(Object.keys(stats.subsystems).sort(), ['arena', 'cache', 'exporter', 'hash', 'json', 'other', 'pool'])
  for (const field of ['rssBytes', 'heapUsed', 'external']) assert.ok(stats.process[field] > 0, field)
  assert.ok(stats.arenas.count >= 1 && stats.arenas.usedBytes >= 10)
  assert.ok(stats.pools.count >= 1 && stats.pools.inUse >= 1)
  assert.ok(stats.caches.count >= 1 && stats.caches.entries >= 1 && stats.caches.bytes >= 6)
  assert.deepEqual(Object.keys(stats.totals).sort(),
    ['allocatedBytes', 'allocations', 'deallocations', 'failedAllocations', 'freedBytes', 'liveBytes', 'peakBytes', 'reallocations'])
  assert.deepEqual(Object.keys(stats.jemalloc).sort(), ['active', 'allocated', 'mapped', 'metadata', 'resident', 'retained'])
})

test('memory manager: allocator figures are numbers natively and null (never 0) in the fallback', () => {
  const manager = createMemoryManager()
  const stats = manager.stats()
  const figures = [
    ...Object.values(stats.totals),
    ...Object.values(stats.jemalloc),
    ...Object.values(stats.subsystems).flatMap((s) => [s.liveBytes, s.peakBytes])
  ]
  if (isNative) {
    for (const value of figures) assert.equal(typeof value, 'number')
    assert.ok(stats.totals.liveBytes > 0)
    assert.ok(stats.totals.peakBytes >= stats.totals.liveBytes)
    assert.ok(stats.jemalloc.resident >= stats.jemalloc.active)
    assert.ok(Array.isArray(stats.histogram))
    assert.equal(typeof manager.trim(), 'number')
  } else {
    for (const value of figures) assert.equal(value, null)
    assert.equal(stats.histogram, null)
    assert.equal(manager.trim(), null)
  }
})

/** Asserts the invariants of one `explain()` reading; returns it. */
function checkExplanation (e) {
  assert.equal(e.native, isNative)
  assert.ok(Number.isSafeInteger(e.rssBytes) && e.rssBytes > 0)
  assert.deepEqual(Object.keys(e.owners), Object.keys(OWNERS), 'the same owners, in order, on both engines')
  let sum = e.unattributedBytes
  for (const [owner, bytes] of Object.entries(e.owners)) {
    if (bytes === null) continue
    assert.ok(Number.isSafeInteger(bytes) && bytes >= 0, `${owner} is a count of bytes: ${bytes}`)
    sum += bytes
  }
  assert.ok(Number.isSafeInteger(e.unattributedBytes))
  assert.equal(sum, e.rssBytes, 'owners + unattributed = rss, exactly')
  return e
}

test('explain(): the owners and the remainder add up to the RSS of the reading, exactly, never negative', () => {
  const manager = createMemoryManager()
  for (let i = 0; i < 20; i++) checkExplanation(manager.explain())
  const e = manager.explain()
  assert.ok(e.owners.code > 0)
  assert.ok(e.owners.v8Heap > 0, 'the V8 heap is read in JS on both engines')
  if (isNative) {
    for (const owner of ['addonCode', 'ultra', 'allocatorOverhead', 'malloc', 'mallocFree', 'stacks']) {
      assert.equal(typeof e.owners[owner], 'number', owner)
    }
    assert.ok(e.owners.addonCode > 0, "the addon's own code pages are resident")
    assert.ok(e.owners.stacks > 0)
    assert.ok(e.threads.count >= 1 && e.threads.stacksNotLocated <= e.threads.count)
    assert.deepEqual(Object.keys(e.ultraSubsystems).sort(), ['arena', 'cache', 'exporter', 'hash', 'json', 'other', 'pool'])
    assert.equal(Object.values(e.ultraSubsystems).reduce((a, b) => a + b, 0), e.owners.ultra)
    assert.equal(typeof manager.trimMalloc(), 'number')
  } else {
    for (const owner of ['addonCode', 'ultra', 'allocatorOverhead', 'malloc', 'mallocFree', 'stacks']) {
      assert.equal(e.owners[owner], null, `${owner} is unknown to the fallback, not 0`)
    }
    assert.equal(e.ultraSubsystems, null)
    assert.equal(e.threads, null)
    assert.equal(manager.trimMalloc(), null)
  }
})

test('explain(): 40 MB in an ultra cache, 30 MB of JS objects and 40 MiB of Buffers move ultra, v8Heap and malloc', () => {
  // A fresh process with --expose-gc, so that what the JS objects hold is known exactly.
  const code = `
    const ultra = require(${JSON.stringify(packageDir)})
    const m = ultra.createMemoryManager()
    const read = () => { gc(); gc(); return { e: m.explain(), heapUsed: process.memoryUsage().heapUsed } }
    const r0 = read()
    const cache = ultra.createCache({ max: 100000 })
    const value = 'v'.repeat(4000)
    for (let i = 0; i < 10000; i++) cache.set('key-' + i, value)
    const r1 = read()
    const objects = []
    do {
      for (let i = 0; i < 50000; i++) objects.push({ id: objects.length, name: 'n' + objects.length, tags: [1, 2, 3] })
      gc()
    } while (process.memoryUsage().heapUsed - r1.heapUsed < 30e6)
    const r2 = read()
    const buffers = []
    for (let i = 0; i < 40; i++) buffers.push(Buffer.alloc(1 << 20, i + 1))
    const r3 = read()
    console.log(JSON.stringify({ r0, r1, r2, r3, kept: [cache.size, objects.length, buffers.length] }))
  `
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', code], { env: childEnv({}), encoding: 'utf8' })
  const { r0, r1, r2, r3 } = JSON.parse(out)
  for (const r of [r0, r1, r2, r3]) checkExplanation(r.e)
  const grew = (a, b, owner) => b.e.owners[owner] - a.e.owners[owner]
  const detail = JSON.stringify({ r0, r1, r2, r3 }, null, 1)
  const jsObjects = r2.heapUsed - r1.heapUsed
  assert.ok(jsObjects >= 30e6)
  assert.ok(grew(r1, r2, 'v8Heap') >= 0.9 * jsObjects, `v8Heap grew by >= 90% of the JS objects\n${detail}`)
  if (isNative) {
    assert.ok(grew(r0, r1, 'ultra') >= 0.9 * 40e6, `ultra grew by >= 90% of the cache\n${detail}`)
    assert.ok(r1.e.ultraSubsystems.cache - r0.e.ultraSubsystems.cache >= 0.9 * 40e6, detail)
    assert.ok(grew(r2, r3, 'malloc') >= 0.9 * 40 * (1 << 20), `malloc grew by >= 90% of the Buffers\n${detail}`)
    // And the RSS that grew is explained: the remainder moved by far less than was put in.
    const drift = Math.abs(r3.e.unattributedBytes - r0.e.unattributedBytes)
    assert.ok(drift < 0.1 * (r3.e.rssBytes - r0.e.rssBytes), `unattributed drifted by ${drift}\n${detail}`)
  } else {
    // The fallback's cache is JS objects (holding the one value string by reference): what it
    // holds is on the V8 heap.
    const held = r1.heapUsed - r0.heapUsed
    assert.ok(held > 1e6)
    assert.ok(grew(r0, r1, 'v8Heap') >= 0.9 * held, `the fallback cache is on the V8 heap\n${detail}`)
  }
})

test('metricsText(): ultra_resident_bytes names every known owner and the remainder, with V8', () => {
  const text = api.metricsText()
  const series = new Map()
  for (const line of text.split('\n')) {
    const m = /^ultra_resident_bytes\{owner="([a-z0-9_]+)"\} (-?[0-9.e+]+)$/.exec(line)
    if (m) series.set(m[1], Number(m[2]))
  }
  const known = Object.entries(createMemoryManager().explain().owners).filter(([, v]) => v !== null)
  assert.deepEqual([...series.keys()].sort(), [...known.map(([key]) => OWNERS[key]), 'unattributed'].sort())
  assert.ok(series.get('v8_heap') > 0)
  for (const [owner, bytes] of series) if (owner !== 'unattributed') assert.ok(bytes >= 0, owner)
  const sum = [...series.values()].reduce((a, b) => a + b, 0)
  const rss = process.memoryUsage.rss()
  assert.ok(Math.abs(sum - rss) < 0.25 * rss, `the series sum to the RSS of their reading (${sum} vs ${rss} now)`)
})
