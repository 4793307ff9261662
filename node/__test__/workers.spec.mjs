import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { api } from './support.mjs'

const WORKER = new URL('./fixtures/worker.mjs', import.meta.url)

/**
 * Runs the fixture in a worker and returns its message.
 * @param {object} workerData
 */
async function runWorker (workerData = {}) {
  const worker = new Worker(WORKER, { workerData })
  const exited = once(worker, 'exit') // listen now: the worker may exit right after its message
  const [message] = await once(worker, 'message')
  const [code] = await exited
  assert.equal(code, 0)
  return message
}

test('three workers load and use the module at once', async () => {
  const results = await Promise.all([runWorker(), runWorker(), runWorker()])
  for (const result of results) {
    assert.equal(result.isNative, api.isNative)
    assert.equal(result.blake3, api.blake3Hash('worker'))
    assert.equal(result.xxh3, api.xxh3Hash('worker', { bits: 128 }))
    assert.equal(result.json, 3)
    assert.equal(result.cacheSize, 100)
    assert.deepEqual(result.cacheStats.evictions, { capacity: 100, size: 0, expired: 0 })
    assert.equal(result.cacheStats.inserts, 200)
    assert.equal(result.detached, true)
    assert.equal(result.managerNative, api.isNative)
    if (api.isNative) assert.ok(result.liveBytes > 0)
    else assert.equal(result.liveBytes, null)
  }
  assert.equal(api.blake3Hash('main still works'), api.blake3Hash(Buffer.from('main still works')))
})

test('a named cache: shared across workers natively, per thread in the fallback', async () => {
  const name = `workers-spec-${process.pid}`
  assert.deepEqual(await runWorker({ role: 'writer', name }), { written: true })
  const { read } = await runWorker({ role: 'reader', name })
  if (api.isNative) {
    assert.equal(read, 'hello from a worker', 'a value set in one worker is read in another')
  } else {
    assert.equal(read, null, 'the fallback keeps named caches per thread')
    assert.equal(api.createCache({ name, max: 10 }).get('greeting'), undefined, 'nor does the main thread see it')
  }
})
