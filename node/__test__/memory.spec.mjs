import assert from 'node:assert/strict'
import { test } from 'node:test'
import { api, assertArgError } from './support.mjs'

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
