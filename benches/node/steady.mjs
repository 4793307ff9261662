// Memory over a process's life, under three configurations (default decay;
// ULTRA_JEMALLOC_DIRTY_DECAY_MS=1000; ULTRA_TRIM_INTERVAL_MS=1000), each in a fresh child:
//
// 1. steady state: a gateway-like workload for 30 s (--quick: 2 s) — per request: validate
//    the JSON body and read one field by pointer, hash it (XXH3 for an ETag, BLAKE3 for 1 in
//    8), look the route up in a byte- and TTL-bounded cache and on a miss build the response
//    in a pooled buffer and cache it, scratch allocations in an arena reset every 64
//    requests — then idle for 10 s (--quick: 0.5 s), then trim(). RSS, jemalloc resident,
//    the allocator's live bytes and the RSS split by owner (`explain()`, with the time each
//    explain() took) are sampled every 100 ms.
// 2. burst: 100 000 cache entries of 1 KiB (~100 MB of native memory) set at once, then the
//    cache cleared, then trim(): RSS before, after the burst, after clear, after trim. Run
//    twice per configuration: with the key strings built before the first reading
//    ('prebuilt': the readings move with ultra's memory only) and built inside the loop
//    ('inline': V8's young generation also grows, and keeps its pages). Each point carries the
//    RSS split by owner; the report names the owner that keeps the residue after trim(), and a
//    last point after trimMalloc() (glibc's malloc_trim(0)) measures what that lever returns.
//
// 3. owners: ~40 MB put in an ultra cache, then ~30 MB of JS objects, then 40 MiB of
//    Buffer.alloc blocks, each step after GC: how much of each went to the owner it belongs to
//    (ultra, v8Heap, malloc).
//
//   node --expose-gc steady.mjs [--quick]

import { spawn } from 'node:child_process'
import { args, announce, gc, NODE_DIR, require, ULTRA, writeResults } from './lib/harness.mjs'
import { jsonDocument, KIB } from './lib/inputs.mjs'

const CONFIGS = {
  default: {},
  'dirty_decay_ms=1000': { ULTRA_JEMALLOC_DIRTY_DECAY_MS: '1000' },
  'trim_interval_ms=1000': { ULTRA_TRIM_INTERVAL_MS: '1000' }
}
const LOAD_MS = args.quick ? 2000 : 30_000
const IDLE_MS = args.quick ? 500 : 10_000
const AFTER_TRIM_MS = args.quick ? 300 : 2000
const SAMPLE_MS = 100
const BURST = args.quick ? 10_000 : 100_000

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** One reading of every figure. */
function reader (u, mm) {
  const t0 = performance.now()
  return (phase) => {
    const e0 = performance.now()
    const e = mm.explain()
    const explainMs = performance.now() - e0
    const m = process.memoryUsage()
    const s = mm.stats()
    return {
      owners: e.owners,
      unattributed: e.unattributedBytes,
      explainRss: e.rssBytes,
      explainMs,
      t: Math.round(performance.now() - t0),
      phase,
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      jemallocResident: s.jemalloc.resident,
      jemallocActive: s.jemalloc.active,
      liveBytes: s.totals.liveBytes,
      cacheLive: s.subsystems.cache.liveBytes
    }
  }
}

async function steadyChild () {
  const u = require(ULTRA)
  const config = u.initMemorySubsystem()
  const mm = u.createMemoryManager()
  const read = reader(u, mm)
  const samples = []
  let phase = 'load'
  const timer = setInterval(() => samples.push(read(phase)), SAMPLE_MS)
  samples.push(read('start'))

  const docs = [jsonDocument(KIB), jsonDocument(4 * KIB), jsonDocument(16 * KIB), jsonDocument(64 * KIB)]
  const weights = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3] // mostly small bodies
  const cache = u.createCache({ maxBytes: 32 << 20, ttlMs: 2000 })
  const pool = u.createObjectPool()
  const arena = u.createMemoryArena()
  let seed = 12345
  const rand = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0 }
  let requests = 0
  let hits = 0
  const request = () => {
    const doc = docs[weights[rand() % weights.length]]
    const body = doc.buffer
    if (!u.validateJson(body).valid) throw new Error('invalid body')
    const city = u.jsonPointer(body, doc.pointer)
    const etag = u.xxh3Hash(body)
    if ((requests & 7) === 0) u.blake3Hash(body)
    const key = `route:/api/v1/users/${rand() % 20_000}?city=${city.length}`
    if (cache.get(key) !== undefined) {
      hits++
    } else {
      const size = 256 + (rand() % (16 * KIB))
      const buf = pool.acquire(size)
      buf.write(etag, 0, 'latin1')
      cache.set(key, buf)
      pool.release(buf)
    }
    arena.allocBuffer(64 + (rand() % 2048))
    if ((requests & 63) === 63) arena.reset()
    requests++
  }
  const until = performance.now() + LOAD_MS
  while (performance.now() < until) {
    const slice = performance.now() + 20
    while (performance.now() < slice) request()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const loadRequests = requests
  phase = 'idle'
  await sleep(IDLE_MS)
  phase = 'trim'
  const before = read('before-trim')
  const released = mm.trim()
  const after = read('after-trim')
  const mallocReleased = mm.trimMalloc()
  const afterMalloc = read('after-trimMalloc')
  samples.push(before, after, afterMalloc)
  phase = 'after-trim'
  await sleep(AFTER_TRIM_MS)
  clearInterval(timer)
  samples.sort((a, b) => a.t - b.t)
  return { config, requests: loadRequests, requestsPerSec: loadRequests / (LOAD_MS / 1000), cacheHits: hits, trimReleased: released, mallocTrimReleased: mallocReleased, samples, before, after, afterMalloc }
}

/**
 * The burst. `keys`: 'inline' builds each key string inside the loop (V8's young generation
 * grows to hold them, and keeps those pages after they die); 'prebuilt' builds all of them
 * before the first reading and holds them throughout, so the readings show ultra's memory only.
 */
async function burstChild (keys) {
  const u = require(ULTRA)
  u.initMemorySubsystem()
  const mm = u.createMemoryManager()
  const read = reader(u, mm)
  const cache = u.createCache({ max: BURST + 1 })
  const value = Buffer.alloc(KIB, 0x61)
  const prebuilt = keys === 'prebuilt' ? Array.from({ length: BURST }, (_, i) => `burst:${i}`) : null
  const point = async (label) => {
    gc()
    await sleep(50)
    return { label, ...read(label) }
  }
  const points = [await point('before burst')]
  for (let i = 0; i < BURST; i++) {
    value.writeUInt32LE(i, 0)
    cache.set(prebuilt ? prebuilt[i] : `burst:${i}`, value)
  }
  points.push(await point('after burst'))
  // explain() on the largest process of the run: the median of 21 calls.
  const times = []
  for (let i = 0; i < 21; i++) {
    const t = performance.now()
    mm.explain()
    times.push(performance.now() - t)
  }
  const explainMsAtPeak = median(times)
  cache.clear()
  points.push(await point('after clear'))
  const released = mm.trim()
  points.push(await point('after trim'))
  const mallocReleased = mm.trimMalloc()
  points.push(await point('after trimMalloc'))
  return { entries: BURST, keys, trimReleased: released, mallocTrimReleased: mallocReleased, explainMsAtPeak, rssAtPeak: points[1].rss, held: prebuilt?.length ?? 0, points }
}

/** The owners workload: what each owner gained from what was put there, and the readings. */
async function ownersChild () {
  const u = require(ULTRA)
  u.initMemorySubsystem()
  const mm = u.createMemoryManager()
  const read = () => { gc(); gc(); return { e: mm.explain(), heapUsed: process.memoryUsage().heapUsed } }
  const CACHE_BYTES = 40e6
  const BUFFER_BYTES = 40 * 1048576
  const r0 = read()
  const cache = u.createCache({ max: 100_000 })
  const value = 'v'.repeat(4000)
  for (let i = 0; i < CACHE_BYTES / value.length; i++) cache.set(`key-${i}`, value)
  const r1 = read()
  const objects = []
  do {
    for (let i = 0; i < 50_000; i++) objects.push({ id: objects.length, name: `n${objects.length}`, tags: [1, 2, 3] })
    gc()
  } while (process.memoryUsage().heapUsed - r1.heapUsed < 30e6)
  const r2 = read()
  const buffers = []
  for (let i = 0; i < BUFFER_BYTES / 1048576; i++) buffers.push(Buffer.alloc(1048576, i + 1))
  const r3 = read()
  const grew = (a, b, owner) => b.e.owners[owner] - a.e.owners[owner]
  const steps = [
    { put: 'ultra cache', owner: 'ultra', bytes: CACHE_BYTES, grew: grew(r0, r1, 'ultra') },
    { put: 'JS objects', owner: 'v8Heap', bytes: r2.heapUsed - r1.heapUsed, grew: grew(r1, r2, 'v8Heap') },
    { put: 'Buffer.alloc blocks', owner: 'malloc', bytes: BUFFER_BYTES, grew: grew(r2, r3, 'malloc') }
  ]
  for (const step of steps) step.ratio = step.grew / step.bytes
  return { steps, readings: [r0, r1, r2, r3].map((r) => ({ ...r.e, heapUsed: r.heapUsed })), kept: [cache.size, objects.length, buffers.length] }
}

function runChild (mode, env, extra = []) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', 'steady.mjs', mode, ...extra, ...(args.quick ? ['--quick'] : [])], {
      cwd: NODE_DIR,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit']
    })
    let out = ''
    p.stdout.on('data', (d) => { out += d })
    p.on('error', reject)
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${mode} child (${JSON.stringify(env)}) exited with ${code}`))
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()))
      } catch (e) {
        reject(e)
      }
    })
  })
}

const mb = (x) => (x === null || x === undefined ? '   n/a' : (x / 1048576).toFixed(1).padStart(6))

function summarize (name, r) {
  const load = r.samples.filter((s) => s.phase === 'load')
  const idle = r.samples.filter((s) => s.phase === 'idle')
  const last = (xs) => xs[xs.length - 1] ?? {}
  const max = (xs, k) => Math.max(...xs.map((s) => s[k] ?? 0))
  // Plateau: how much RSS still grew over the second half of the load phase.
  const half = load.slice(load.length >> 1)
  const growth = half.length ? last(half).rss - half[0].rss : null
  const s = {
    config: name,
    requestsPerSec: r.requestsPerSec,
    start: r.samples[0],
    peakRss: max(load, 'rss'),
    peakResident: max(load, 'jemallocResident'),
    endOfLoad: last(load),
    endOfIdle: last(idle),
    beforeTrim: r.before,
    afterTrim: r.after,
    afterTrimMalloc: r.afterMalloc,
    trimReleased: r.trimReleased,
    mallocTrimReleased: r.mallocTrimReleased,
    rssGrowthSecondHalfOfLoad: growth,
    // The largest share of the RSS left unattributed by any sample (|unattributed| / RSS).
    worstUnattributedShare: Math.max(...r.samples.map((x) => Math.abs(x.unattributed) / x.explainRss)),
    explainMsMedian: median(r.samples.map((x) => x.explainMs)),
    explainMsMax: Math.max(...r.samples.map((x) => x.explainMs))
  }
  console.log(`\n${name}: ${Math.round(r.requestsPerSec)} requests/s`)
  console.log(`  ${'MB'.padEnd(16)} ${'RSS'.padStart(6)} ${'je res'.padStart(6)} ${'live'.padStart(6)}`)
  for (const [label, x] of [['start', s.start], ['end of load', s.endOfLoad], ['end of idle', s.endOfIdle], ['after trim', s.afterTrim]]) {
    console.log(`  ${label.padEnd(16)} ${mb(x.rss)} ${mb(x.jemallocResident)} ${mb(x.liveBytes)}`)
  }
  console.log(`  peak RSS ${mb(s.peakRss)} MB; RSS growth over the second half of the load ${mb(growth)} MB; trim released ${mb(r.trimReleased)} MB`)
  console.log(`  who holds the RSS (MB)   ${OWNERS.map((o) => o.padStart(8)).join(' ')} ${'unattr.'.padStart(8)}`)
  for (const [label, x] of [['start', s.start], ['end of load', s.endOfLoad], ['end of idle', s.endOfIdle], ['after trim', s.afterTrim], ['after trimMalloc', s.afterTrimMalloc]]) {
    console.log(`  ${label.padEnd(24)} ${OWNERS.map((o) => mb(x.owners[o]).padStart(8)).join(' ')} ${mb(x.unattributed).padStart(8)}`)
  }
  console.log(`  trimMalloc() then released ${mb(r.mallocTrimReleased).trim()} MB`)
  console.log(`  unattributed at most ${(100 * s.worstUnattributedShare).toFixed(1)} % of RSS; explain() median ${s.explainMsMedian.toFixed(3)} ms, max ${s.explainMsMax.toFixed(3)} ms`)
  return s
}

/** The owners of explain(), in report order. */
const OWNERS = ['code', 'addonCode', 'ultra', 'allocatorOverhead', 'v8Heap', 'malloc', 'mallocFree', 'stacks']

function median (xs) {
  const v = [...xs].sort((a, b) => a - b)
  return v.length === 0 ? null : v[v.length >> 1]
}

/** The owner that grew most between two points (the one keeping a residue), and by how much. */
function residueOwner (from, to) {
  const deltas = OWNERS.map((o) => [o, (to.owners[o] ?? 0) - (from.owners[o] ?? 0)])
  deltas.push(['unattributed', to.unattributed - from.unattributed])
  deltas.sort((a, b) => b[1] - a[1])
  return { owner: deltas[0][0], bytes: deltas[0][1], deltas: Object.fromEntries(deltas) }
}

async function main () {
  if (args.argv.includes('--steady-child')) {
    console.log(JSON.stringify(await steadyChild()))
    return
  }
  if (args.argv.includes('--owners-child')) {
    console.log(JSON.stringify(await ownersChild()))
    return
  }
  const b = args.argv.indexOf('--burst-child')
  if (b >= 0) {
    console.log(JSON.stringify(await burstChild(args.argv[b + 1])))
    return
  }
  announce(`steady: gateway workload ${LOAD_MS / 1000} s, idle ${IDLE_MS / 1000} s, trim; then a ${BURST}-entry burst`)
  const entries = Object.entries(CONFIGS)
  // Full runs one child at a time (the workload would compete for the 2 cores); quick runs
  // them together, they only have to work.
  const steady = {}
  const burst = {}
  const burstRuns = entries.flatMap(([name, env]) => ['prebuilt', 'inline'].map((keys) => [`${name}, ${keys} keys`, env, keys]))
  if (args.quick) {
    const rs = await Promise.all(entries.map(([, env]) => runChild('--steady-child', env)))
    const bs = await Promise.all(burstRuns.map(([, env, keys]) => runChild('--burst-child', env, [keys])))
    entries.forEach(([name], i) => { steady[name] = rs[i] })
    burstRuns.forEach(([name], i) => { burst[name] = bs[i] })
  } else {
    for (const [name, env] of entries) steady[name] = await runChild('--steady-child', env)
    for (const [name, env, keys] of burstRuns) burst[name] = await runChild('--burst-child', env, [keys])
  }
  const owners = await runChild('--owners-child', {})
  const summaries = entries.map(([name]) => summarize(name, steady[name]))

  console.log(`\nburst of ${BURST} × 1 KiB cache entries (RSS MB, after GC)`)
  console.log(`  ${'config'.padEnd(38)} ${'before'.padStart(7)} ${'burst'.padStart(7)} ${'clear'.padStart(7)} ${'trim'.padStart(7)} ${'trim − before'.padStart(14)}`)
  const targets = []
  for (const name of Object.keys(burst)) {
    const p = burst[name].points
    const d = p[3].rss - p[0].rss
    console.log(`  ${name.padEnd(38)} ${mb(p[0].rss)}  ${mb(p[1].rss)}  ${mb(p[2].rss)}  ${mb(p[3].rss)}  ${mb(d).padStart(13)}`)
    targets.push({ target: `after a 100 MB burst, trim() brings RSS within 10 MB of pre-burst (${name})`, value: d, met: BURST === 100_000 && d <= 10 * 1048576 })
  }
  console.log('\nwho keeps the residue after trim() (owner that grew most from before the burst), and what trimMalloc() returns')
  for (const name of Object.keys(burst)) {
    const b = burst[name]
    const p = b.points
    const r = residueOwner(p[0], p[3])
    b.residue = r
    const deltas = Object.entries(r.deltas).map(([o, v]) => `${o} ${(v / 1048576).toFixed(1)}`).join(', ')
    console.log(`  ${name.padEnd(38)} ${r.owner} +${mb(r.bytes).trim()} MB  (${deltas}); trimMalloc released ${mb(b.mallocTrimReleased).trim()} MB`)
    const share = Math.abs(p[3].unattributed) / p[3].explainRss
    targets.push({ target: `explain() < 2 ms on a ${mb(b.rssAtPeak).trim()} MB process (${name}, median of 21)`, value: b.explainMsAtPeak, shown: `${b.explainMsAtPeak.toFixed(3)} ms`, met: b.explainMsAtPeak < 2 })
    targets.push({ target: `after the burst and trim(), unattributed <= 5 % of RSS (${name})`, value: p[3].unattributed, shown: `${(100 * share).toFixed(1)} %`, met: share <= 0.05 })
  }
  for (const s of summaries) {
    targets.push({ target: `steady state: unattributed <= 5 % of RSS in every sample (${s.config})`, value: s.worstUnattributedShare, shown: `${(100 * s.worstUnattributedShare).toFixed(1)} %`, met: s.worstUnattributedShare <= 0.05 })
    targets.push({ target: `explain() < 2 ms (${s.config}, median over the samples; max ${s.explainMsMax.toFixed(2)} ms)`, value: s.explainMsMedian, shown: `${s.explainMsMedian.toFixed(3)} ms`, met: s.explainMsMedian < 2 })
  }
  console.log('\nowners: what each owner gained from what was put there (after GC)')
  for (const step of owners.steps) {
    console.log(`  ${step.put.padEnd(20)} ${mb(step.bytes)} MB put, ${step.owner} +${mb(step.grew).trim()} MB (${(100 * step.ratio).toFixed(1)} %)`)
    targets.push({ target: `${step.put}: ${step.owner} grows by >= 90 % of what was put there`, value: step.grew, shown: `${(100 * step.ratio).toFixed(1)} % (${mb(step.grew).trim()} of ${mb(step.bytes).trim()} MB)`, met: step.ratio >= 0.9 })
  }
  const last = owners.readings[owners.readings.length - 1]
  console.log(`  unattributed at the end ${mb(last.unattributedBytes).trim()} MB of ${mb(last.rssBytes).trim()} MB`)

  console.log('\ntargets')
  for (const t of targets) console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ${t.shown ?? `${(t.value / 1048576).toFixed(1)} MB`}`)
  writeResults('steady', { loadMs: LOAD_MS, idleMs: IDLE_MS, sampleMs: SAMPLE_MS, burstEntries: BURST, configs: CONFIGS, summaries, steady, burst, owners, targets })
}

await main()
