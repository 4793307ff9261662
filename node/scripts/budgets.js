'use strict'
// Measures the two memory budgets of issue 4 on this machine and prints them as JSON:
//
// - load: RSS that `require('ultra-node')` adds to a bare `node` (median of 5 fresh
//   processes), next to the same figure for a process that requires nothing (the noise
//   floor) and for the forced fallback;
// - trim: RSS before filling a cache with ~100 MB, full, after `clear()`, and after
//   `createMemoryManager().trim()` (one fresh process, after a warm-up of the same loop
//   into a one-entry cache so that V8's own growth is in the baseline).
//
//   node scripts/budgets.js            (from node/, after `npm run build`)
const { execFileSync } = require('node:child_process')
const path = require('node:path')

const pkg = path.resolve(__dirname, '..')
const RUNS = 5

function node (code, env = {}) {
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', code], {
    env: { ...process.env, ...env },
    encoding: 'utf8'
  })
  return JSON.parse(out)
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function loadDelta (load, env) {
  const runs = []
  for (let i = 0; i < RUNS; i++) {
    runs.push(node(`
      gc(); const r0 = process.memoryUsage().rss
      ${load}
      gc(); console.log(JSON.stringify((process.memoryUsage().rss - r0) / 1e6))`, env))
  }
  return { medianMB: median(runs), runsMB: runs }
}

const load = {
  bareNode: loadDelta(''),
  native: loadDelta(`const u = require(${JSON.stringify(pkg)}); if (!u.isNative) throw new Error('addon not built')`),
  fallback: loadDelta(`require(${JSON.stringify(pkg)})`, { ULTRA_FORCE_FALLBACK: '1' })
}

const trim = node(`
  const ultra = require(${JSON.stringify(pkg)})
  const manager = ultra.createMemoryManager()
  const rss = () => { gc(); return Math.round(process.memoryUsage().rss / 1e5) / 10 }
  const value = Buffer.alloc(1000, 7)
  const fill = (cache) => { for (let i = 0; i < 100000; i++) cache.set('key:' + i, value) }
  // Warm-up: the same loop into a cache that keeps one entry, so that V8's own growth (the
  // JIT, 100 000 key strings, heap sizing: about 10 MB here) is in the baseline and the
  // figures below show what the native side keeps.
  fill(ultra.createCache({ max: 1 }))
  manager.trim()
  const cache = ultra.createCache({ max: 1 << 20 })
  const before = rss()
  fill(cache)
  const cacheLiveMB = manager.stats().subsystems.cache.liveBytes / 1e6
  const full = rss()
  cache.clear()
  const cleared = rss()
  const releasedMB = manager.trim() / 1e6
  const trimmed = rss()
  const j = manager.stats().jemalloc
  console.log(JSON.stringify({ jemallocResidentMB: j.resident / 1e6, jemallocMetadataMB: j.metadata / 1e6, beforeMB: before, fullMB: full, cacheLiveMB, clearedMB: cleared, releasedMB, trimmedMB: trimmed, aboveBeforeMB: Math.round((trimmed - before) * 10) / 10 }))
`)

console.log(JSON.stringify({ node: process.version, load, trim }, null, 2))
