// The seed's usage snippet, as existing code writes it.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test } from 'node:test'
import { childEnv, packageDir } from './support.mjs'

const SNIPPET = `
const { createCache, createMemoryArena, createObjectPool } = require('ultra-node')

const cache = createCache(1000, 3600)
cache.set('user:1', JSON.stringify({ name: 'Ada' }))

const scratch = createMemoryArena().allocBuffer(1024)

const pool = createObjectPool(100)
const buffer = pool.acquire(1024)
buffer.write('hello')
pool.release(buffer)

console.log(JSON.stringify({ user: JSON.parse(cache.get('user:1')).name, scratch: scratch.length, released: buffer.length }))
`

test('the seed snippet runs as written', () => {
  const out = execFileSync(process.execPath, ['-e', SNIPPET], { cwd: packageDir, env: childEnv({}), encoding: 'utf8' })
  assert.deepEqual(JSON.parse(out), { user: 'Ada', scratch: 1024, released: 0 })
})

test('the seed snippet works through import as well', async () => {
  const { createCache, createMemoryArena, createObjectPool } = await import('ultra-node')
  const cache = createCache(1000, 3600)
  cache.set('k', 'v')
  assert.equal(cache.get('k'), 'v')
  assert.equal(createMemoryArena().allocBuffer(1024).length, 1024)
  const pool = createObjectPool(100)
  const buffer = pool.acquire(1024)
  assert.equal(buffer.length, 1024)
  pool.release(buffer)
  assert.equal(buffer.length, 0)
})
