// The native engine in several worker_threads at once: a named cache shared and hammered by
// all of them, and the process-wide memory figures consistent during the run and back where
// they were once the workers are gone. Skipped when the addon is not in use.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import v8 from 'node:v8'
import vm from 'node:vm'
import { Worker } from 'node:worker_threads'
import { api, packageDir } from './support.mjs'

const skip = !api.isNative && 'the native addon is not in use'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')

/** Runs CommonJS `code` in a worker (`ultra` is the package) and returns its message. */
async function inWorker (code, workerData) {
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads')
    const ultra = require(${JSON.stringify(packageDir)})
    ;(async () => { ${code} })().then((r) => parentPort.postMessage(r), (e) => parentPort.postMessage({ error: String(e && e.stack) }))
  `, { eval: true, workerData })
  // Listen for both at once: a worker that exits right after posting may emit 'exit' in the
  // same tick as 'message'.
  const exited = once(worker, 'exit')
  const [message] = await once(worker, 'message')
  const [exitCode] = await exited
  assert.equal(exitCode, 0)
  assert.equal(message.error, undefined, message.error)
  return message
}

test('four workers hammer one named cache at once and its counters add up', { skip }, async () => {
  const name = `native-workers-${process.pid}`
  const cache = api.createCache({ name, max: 100000 })
  const results = await Promise.all([0, 1, 2, 3].map((id) => inWorker(`
    const cache = ultra.createCache({ name: workerData.name, max: 100000 })
    let gets = 0, found = 0
    for (let i = 0; i < 3000; i++) {
      cache.set('w' + workerData.id + ':' + i, 'value ' + i)
      for (const other of [0, 1, 2, 3]) {
        gets++
        if (cache.get('w' + other + ':' + (i >> 1)) !== undefined) found++
      }
    }
    return { gets, found, own: cache.get('w' + workerData.id + ':2999') }
  `, { name, id })))
  const gets = results.reduce((a, r) => a + r.gets, 0)
  const found = results.reduce((a, r) => a + r.found, 0)
  for (const r of results) assert.equal(r.own, 'value 2999')
  const stats = cache.stats()
  assert.equal(cache.size, 12000, 'every worker\'s entries are in the one cache')
  assert.equal(stats.inserts, 12000)
  // Each worker also read its own last key once.
  assert.equal(stats.hits + stats.misses, gets + 4, 'every get of every thread was counted once')
  assert.equal(stats.hits, found + 4)
  assert.equal(cache.get('w3:10'), 'value 10', 'the main thread reads what a worker wrote')
  cache.clear()
})

test('workers using arenas, pools, caches and hashes at once: figures stay consistent and return to where they were', { skip }, async () => {
  const manager = api.createMemoryManager()
  const settle = async () => {
    for (let i = 0; i < 4; i++) {
      gc()
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  await settle()
  const before = manager.stats()
  const work = inWorker(`
    const arena = ultra.createMemoryArena({ chunkBytes: 65536, limitBytes: 1 << 24 })
    const pool = ultra.createObjectPool({ max: 32, bufferBytes: 4096 })
    const cache = ultra.createCache({ max: 5000 })
    const kept = []
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 200; i++) kept.push(arena.allocBuffer(100 + i).fill(round))
      const lent = Array.from({ length: 32 }, (_, i) => pool.acquire(1000 + i * 100))
      for (let i = 0; i < 250; i++) cache.set('k' + round + ':' + i, Buffer.alloc(200, i))
      ultra.blake3Hash(Buffer.alloc(4096, round), { length: 64 })
      lent.forEach((b) => pool.release(b))
      if (round % 5 === 4) { arena.reset(); kept.length = 0 }
    }
    const mine = ultra.createMemoryManager().stats()
    return {
      arenaLive: mine.subsystems.arena.liveBytes,
      cacheEntries: cache.size,
      pool: pool.stats(),
      detached: kept.length === 0
    }
  `)
  // Read the figures while the workers run: each snapshot must add up.
  const running = Promise.all([work, work.then(() => null), inWorker('return ultra.xxh3Hash("x")')])
  let snapshots = 0
  const poll = setInterval(() => {
    const s = manager.stats()
    snapshots++
    for (const [name, sub] of Object.entries(s.subsystems)) {
      // A live read guarantees whole byte counts and a peak at or above the live figure; it
      // does not guarantee allocated >= freed (a free may be summed before its allocation).
      for (const k of ['liveBytes', 'peakBytes', 'allocatedBytes', 'freedBytes']) assert.ok(Number.isSafeInteger(sub[k]), `${name}.${k}`)
      assert.ok(sub.peakBytes >= sub.liveBytes, name)
    }
    assert.ok(s.totals.liveBytes > 0)
  }, 2)
  const [result] = await running
  clearInterval(poll)
  assert.ok(snapshots > 0)
  assert.equal(result.cacheEntries, 5000)
  assert.deepEqual(result.pool, { idle: 32, inUse: 0, hits: 20 * 32 - 32, misses: 32, bytesHeld: result.pool.bytesHeld })
  assert.equal(result.arenaLive, 0, 'the last reset freed the worker\'s chunks')
  assert.equal(result.detached, true)
  await settle()
  const after = manager.stats()
  for (const name of ['arena', 'pool', 'cache', 'hash']) {
    assert.equal(after.subsystems[name].liveBytes, before.subsystems[name].liveBytes,
      `${name}: every byte the workers held was freed when they exited`)
  }
  assert.deepEqual(after.arenas, before.arenas)
  assert.deepEqual(after.pools, before.pools)
  assert.deepEqual(after.caches, before.caches)
  const sum = Object.values(after.subsystems).reduce((a, s) => a + s.liveBytes, 0)
  assert.equal(sum, after.totals.liveBytes, 'subsystems add up to the total')
})
