// ultra's cache against lru-cache 11, lru.min and a plain Map, with string keys and
// (a) 100-character string values, (b) 1 KiB Buffer values:
//
//   get-hit, get-miss, set-with-eviction on a full cache of 10 000 entries (throughput);
//   fetch-hit: `fetch()` of a cached key (a cache with a fetchMethod) against `get` of it, for
//   ultra and lru-cache, the cost of the call that returns the (already resolved) promise;
//   TTL expiry: get of 10 000 entries whose TTL has run out, and purge of them;
//   memory per entry for 100 000 entries, each in a fresh child process: V8 heapUsed,
//   external, RSS after GC, and ultra's allocator figure for its Cache subsystem.
//
// Map is the floor: no recency, no bound (set-with-eviction deletes the oldest key itself),
// no TTL (the TTL rows store { value, expires } and check it). lru.min has no TTL.
//
//   node --expose-gc cache.mjs [--quick] [--fetch-only]   (--fetch-only: the fetch-hit groups alone)

import {
  args, announce, gc, median, require, runChildJson, runGroup, speedup, fmtRatio, writeResults, ULTRA } from './lib/harness.mjs'
import { bufferValue, cacheKeys, key, stringValue } from './lib/inputs.mjs'

const ultra = require(ULTRA)
const { LRUCache } = require('lru-cache')
const { createLRU } = require('lru.min')

const N = args.quick ? 1000 : 10_000
const MEM_N = args.quick ? 2000 : 100_000
const VALUE_TYPES = {
  string: (i) => stringValue(100, i),
  buffer: (i) => bufferValue(1024, i)
}

/** The caches under test, each with get/set/has over the same key space. */
const IMPLS = {
  ultra: { role: 'ultra', make: (max, ttl) => ultra.createCache(ttl ? { max, ttlMs: ttl } : { max }) },
  'lru-cache': { make: (max, ttl) => new LRUCache(ttl ? { max, ttl } : { max }) },
  'lru.min': { noTtl: true, make: (max) => createLRU({ max }) },
  Map: { make: (max, ttl) => new BoundedMap(max, ttl) }
}

/**
 * A Map with FIFO eviction and optional TTL, the least a cache must do. Insertion order is
 * kept in a queue of its own: deleting a Map's first key through `keys().next()` is O(deleted
 * entries) in V8 until the table is rehashed, which would make this floor look slow.
 */
class BoundedMap {
  constructor (max, ttl) {
    this.max = max
    this.ttl = ttl
    this.m = new Map()
    this.queue = []
    this.head = 0
  }

  get (k) {
    const e = this.m.get(k)
    if (e === undefined) return undefined
    if (!this.ttl) return e
    if (e.expires <= performance.now()) {
      this.m.delete(k)
      return undefined
    }
    return e.value
  }

  set (k, v) {
    const fresh = !this.m.has(k)
    this.m.set(k, this.ttl ? { value: v, expires: performance.now() + this.ttl } : v)
    if (!fresh) return
    this.queue.push(k)
    while (this.m.size > this.max) this.m.delete(this.queue[this.head++])
    if (this.head > this.max) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
  }

  purge () {
    const now = performance.now()
    let n = 0
    for (const [k, e] of this.m) if (e.expires <= now) { this.m.delete(k); n++ }
    return n
  }

  get size () { return this.m.size }
}

function fill (c, keys, values) {
  for (let i = 0; i < keys.length; i++) c.set(keys[i], values[i % values.length])
  return c
}

async function throughput () {
  const keys = cacheKeys(2 * N)
  const hitKeys = keys.slice(0, N)
  const groups = []
  for (const [vt, mk] of Object.entries(VALUE_TYPES)) {
    const values = Array.from({ length: 256 }, (_, i) => mk(i))
    // get-hit / get-miss
    for (const [op, ks] of [['get-hit', hitKeys], ['get-miss', keys.slice(N)]]) {
      const cases = []
      for (const [name, impl] of Object.entries(IMPLS)) {
        const c = fill(impl.make(N), hitKeys, values)
        let i = 0
        cases.push({ name, role: impl.role, fn: () => { i = (i + 1) % ks.length; return c.get(ks[i]) } })
      }
      groups.push(await runGroup(`${op} ${vt}`, cases))
    }
    groups.push(await fetchHit(vt, hitKeys, values))
    // set with eviction: keys cycle through 2N on a cache of N, so every set evicts.
    {
      const cases = []
      for (const [name, impl] of Object.entries(IMPLS)) {
        const c = fill(impl.make(N), hitKeys, values)
        let i = N
        cases.push({ name, role: impl.role, fn: () => { i = (i + 1) % keys.length; c.set(keys[i], values[i & 255]) } })
      }
      groups.push(await runGroup(`set-evict ${vt}`, cases))
    }
  }
  return groups
}

/**
 * `fetch()` of a cached key against `get` of it, on caches with a `fetchMethod` (which a hit
 * never calls). The figure is the call, which returns an already-resolved promise; awaiting it
 * costs one microtask turn more, as for any promise.
 */
async function fetchHit (vt, hitKeys, values) {
  const fetchMethod = async () => { throw new Error('a hit never fetches') }
  const u = fill(ultra.createCache({ max: N, fetchMethod }), hitKeys, values)
  const l = fill(new LRUCache({ max: N, fetchMethod }), hitKeys, values)
  if ((await u.fetch(hitKeys[0])) === undefined || (await l.fetch(hitKeys[0])) === undefined) throw new Error('fetch missed')
  let i = 0
  const next = () => hitKeys[(i = (i + 1) % hitKeys.length)]
  return runGroup(`fetch-hit ${vt}`, [
    { name: 'ultra fetch', role: 'ultra', vs: ['ultra get', 'lru-cache fetch'], fn: () => u.fetch(next()) },
    { name: 'ultra get', fn: () => u.get(next()) },
    { name: 'lru-cache fetch', fn: () => l.fetch(next()) },
    { name: 'lru-cache get', fn: () => l.get(next()) }
  ])
}

/** Time per get of an expired entry, and per entry of a purge: median of `rounds` rounds. */
async function ttlExpiry () {
  const M = args.quick ? 500 : 10_000
  const rounds = args.quick ? 1 : 7
  const keys = cacheKeys(M)
  const out = []
  for (const [vt, mk] of Object.entries(VALUE_TYPES)) {
    const values = Array.from({ length: 256 }, (_, i) => mk(i))
    const purges = {
      ultra: (c) => c.purgeExpired(),
      'lru-cache': (c) => c.purgeStale(),
      Map: (c) => c.purge()
    }
    const t = { get: {}, purge: {} }
    for (let r = 0; r < rounds; r++) {
      for (const [name, impl] of Object.entries(IMPLS)) {
        if (impl.noTtl) continue
        for (const op of ['get', 'purge']) {
          const c = fill(impl.make(M, 1), keys, values)
          // Yield to the event loop: lru-cache caches its clock for ttlResolution (1 ms)
          // and clears it from a timer.
          await new Promise((resolve) => setTimeout(resolve, 5))
          const t0 = process.hrtime.bigint()
          if (op === 'get') {
            for (let i = 0; i < M; i++) if (c.get(keys[i]) !== undefined) throw new Error(`${name}: entry did not expire`)
          } else {
            purges[name](c)
          }
          const ns = Number(process.hrtime.bigint() - t0) / M;
          (t[op][name] ??= []).push(ns)
          if (c.size !== 0) throw new Error(`${name}: ${c.size} expired entries left after ${op}`)
        }
      }
      gc()
    }
    for (const op of ['get', 'purge']) {
      const cases = Object.entries(t[op]).map(([name, xs]) => ({
        name, role: IMPLS[name].role ?? 'peer', nsPerOp: median(xs), opsPerSec: 1e9 / median(xs), rounds: xs.length
      }))
      const group = { group: `ttl-expired-${op} ${vt} (per entry)`, cases }
      printSimple(group)
      out.push(group)
    }
  }
  return out
}

function printSimple ({ group, cases }) {
  console.log(`\n${group}`)
  for (const c of cases) console.log(`  ${c.name.padEnd(10)} ${c.nsPerOp.toFixed(1).padStart(9)} ns/entry`)
  const u = cases.find((c) => c.role === 'ultra')
  if (u) console.log(`  ultra vs: ${cases.filter((c) => c !== u).map((p) => `${p.name} ${fmtRatio(speedup(u, p))}`).join(', ')}`)
}

/** Child mode: fills one cache with `n` entries and prints the memory it added, per entry. */
function memoryChild (implName, vt, n) {
  const impl = IMPLS[implName]
  const mk = VALUE_TYPES[vt]
  const mm = ultra.createMemoryManager()
  const read = () => {
    gc()
    const u = process.memoryUsage()
    const s = mm.stats()
    return {
      heapUsed: u.heapUsed,
      external: u.external,
      arrayBuffers: u.arrayBuffers,
      rss: u.rss,
      cacheLive: s.subsystems.cache.liveBytes,
      jemallocResident: s.jemalloc.resident
    }
  }
  let c = impl.make(n + 1)
  c.set('warm', mk(0)) // the cache's fixed cost is not per entry
  const before = read()
  for (let i = 0; i < n; i++) c.set(key(i), mk(i))
  const after = read()
  if (c.size !== n + 1) throw new Error(`${implName}: holds ${c.size}, expected ${n + 1}`)
  const per = {}
  for (const k of Object.keys(before)) per[k] = before[k] === null || after[k] === null ? null : (after[k] - before[k]) / n
  c = null
  console.log(JSON.stringify({ impl: implName, valueType: vt, entries: n, before, after, perEntry: per }))
}

function memory () {
  const rows = []
  console.log(`\nmemory per entry, ${MEM_N} entries, each cache in a fresh process (bytes/entry after GC)`)
  console.log(`  ${'value'.padEnd(7)} ${'cache'.padEnd(10)} ${'V8 heap'.padStart(9)} ${'external'.padStart(9)} ${'RSS'.padStart(9)} ${'ultra Cache live'.padStart(17)}`)
  for (const vt of Object.keys(VALUE_TYPES)) {
    for (const name of Object.keys(IMPLS)) {
      const r = runChildJson('cache.mjs', ['--memory-child', name, vt, String(MEM_N)])
      rows.push(r)
      const p = r.perEntry
      const f = (x) => (x === null ? 'n/a' : x.toFixed(1)).padStart(9)
      console.log(`  ${vt.padEnd(7)} ${name.padEnd(10)} ${f(p.heapUsed)} ${f(p.external)} ${f(p.rss)} ${(name === 'ultra' ? f(p.cacheLive) : '').padStart(17)}`)
    }
  }
  return rows
}

/** The issue's targets that this suite answers. */
function targets (groups, mem) {
  const out = []
  for (const vt of Object.keys(VALUE_TYPES)) {
    const m = (name) => mem.find((r) => r.impl === name && r.valueType === vt).perEntry
    const u = m('ultra')
    const l = m('lru-cache')
    out.push({ target: `V8 heap per entry ≤ 0.1× lru-cache's (${vt})`, ultra: u.heapUsed, peer: l.heapUsed, ratio: u.heapUsed / l.heapUsed, met: u.heapUsed <= 0.1 * l.heapUsed })
    out.push({ target: `RSS per entry ≤ lru-cache's (${vt})`, ultra: u.rss, peer: l.rss, ratio: u.rss / l.rss, met: u.rss <= l.rss })
    const g = groups.find((x) => x.group === `get-hit ${vt}`).cases
    const ug = g.find((c) => c.name === 'ultra')
    const lg = g.find((c) => c.name === 'lru-cache')
    const r = speedup(ug, lg)
    // Issue 13's targets: get ≥ ×0.5 with string values, ≥ ×0.33 with Buffer values (each
    // Buffer get copies the value out of native memory); set with eviction ≥ ×0.5 for both.
    const getTarget = vt === 'buffer' ? 0.33 : 0.5
    out.push({ target: `get throughput ≥ ${getTarget}× lru-cache's (${vt})`, ultra: ug.opsPerSec, peer: lg.opsPerSec, ratio: r, met: r >= getTarget })
    const se = groups.find((x) => x.group === `set-evict ${vt}`).cases
    const us = se.find((c) => c.name === 'ultra')
    const ls = se.find((c) => c.name === 'lru-cache')
    const rs = speedup(us, ls)
    out.push({ target: `set with eviction ≥ 0.5× lru-cache's (${vt})`, ultra: us.opsPerSec, peer: ls.opsPerSec, ratio: rs, met: rs >= 0.5 })
    const f = groups.find((x) => x.group === `fetch-hit ${vt}`).cases
    const uf = f.find((c) => c.name === 'ultra fetch')
    const ugf = f.find((c) => c.name === 'ultra get')
    const cost = uf.nsPerOp / ugf.nsPerOp
    out.push({ target: `fetch() of a cached key ≤ 2× get (${vt}; ratio = fetch ns / get ns)`, ultra: uf.nsPerOp, peer: ugf.nsPerOp, ratio: cost, met: cost <= 2 })
  }
  console.log('\ntargets')
  for (const t of out) console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ratio ${t.ratio.toFixed(3)}`)
  return out
}

async function main () {
  const i = args.argv.indexOf('--memory-child')
  if (i >= 0) {
    memoryChild(args.argv[i + 1], args.argv[i + 2], Number(args.argv[i + 3]))
    return
  }
  if (args.argv.includes('--fetch-only')) {
    announce('cache: fetch() of a cached key against get, ultra and lru-cache')
    const keys = cacheKeys(N)
    const groups = []
    const out = []
    for (const [vt, mk] of Object.entries(VALUE_TYPES)) {
      const g = await fetchHit(vt, keys, Array.from({ length: 256 }, (_, i) => mk(i)))
      groups.push(g)
      const [uf, ug] = ['ultra fetch', 'ultra get'].map((n) => g.cases.find((c) => c.name === n))
      out.push({ target: `fetch() of a cached key ≤ 2× get (${vt}; ratio = fetch ns / get ns)`, ratio: uf.nsPerOp / ug.nsPerOp, met: uf.nsPerOp <= 2 * ug.nsPerOp })
    }
    console.log('\ntargets')
    for (const t of out) console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ratio ${t.ratio.toFixed(3)}`)
    writeResults('cache-fetch', { entries: N, groups, targets: out })
    return
  }
  announce('cache: ultra vs lru-cache, lru.min, Map')
  const groups = await throughput()
  const ttl = await ttlExpiry()
  const mem = memory()
  writeResults('cache', { entries: N, memoryEntries: MEM_N, groups: [...groups, ...ttl], memory: mem, targets: targets(groups, mem) })
}

await main()
