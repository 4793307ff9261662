// Prints the Node results in benches/results/*.json as the Markdown tables of
// benches/README.md (ratios included), so the README can be refreshed after a full run:
//
//   node report.mjs > /tmp/tables.md

import fs from 'node:fs'
import path from 'node:path'
import { resultsDir } from './lib/harness.mjs'

const dir = resultsDir()
const load = (name) => {
  const f = path.join(dir, `${name}.json`)
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null
}
const ns = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} ms` : x >= 1e3 ? `${(x / 1e3).toFixed(2)} µs` : `${x.toFixed(1)} ns`)
const ops = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(1))
const ratio = (x) => (x === undefined || x === null ? '' : x >= 10 ? `${x.toFixed(1)}×` : x < 0.1 ? `${x.toFixed(3)}×` : `${x.toFixed(2)}×`)
const mb = (x) => (x === null || x === undefined ? 'n/a' : (x / 1048576).toFixed(1))
const print = (s = '') => console.log(s)

/** One table per group: case, ns/op, ops/s (MB/s), and ultra's speed-up over each peer. */
function groupTables (groups, { mbps = false } = {}) {
  for (const g of groups) {
    print(`**${g.group}**`)
    print()
    const ultra = g.cases.filter((c) => c.role === 'ultra')
    print(`| case | ns/op | ops/s |${mbps ? ' MB/s |' : ''} ${ultra.length ? 'ultra speed-up (> 1× = ultra faster)' : ''} |`)
    print(`|---|---:|---:|${mbps ? '---:|' : ''}---|`)
    for (const c of g.cases) {
      const sp = c.speedupVs ? Object.entries(c.speedupVs).map(([p, r]) => `vs ${p}: **${ratio(r)}**`).join('; ') : ''
      print(`| ${c.role === 'ultra' ? `**${c.name}**` : c.name} | ${ns(c.nsPerOp)} | ${ops(c.opsPerSec)} |${mbps ? ` ${c.mbPerSec ? c.mbPerSec.toFixed(0) : ''} |` : ''} ${sp} |`)
    }
    print()
  }
}

function targets (name, ts) {
  for (const t of ts ?? []) {
    const v = t.shown ?? (t.ratio !== undefined ? ratio(t.ratio) : `${mb(t.value)} MB`)
    print(`- ${t.met ? '✅ met' : '❌ missed'}: ${t.target} — ${v}`)
  }
}

const machine = (load('hash') ?? load('cache') ?? load('json'))?.machine
if (machine) {
  print(`Machine: ${machine.nproc} cores, ${machine.cpu}, ${(machine.memoryBytes / 2 ** 30).toFixed(0)} GiB, Node ${machine.node} (V8 ${machine.v8}, N-API ${machine.napi}), ${machine.platform}; ultra-node engine: ${machine.ultra.isNative ? 'native addon' : 'pure-JS fallback'} (core ${machine.ultra.core}).`)
  print()
}

const cache = load('cache')
if (cache) {
  print(`### Node: cache (${cache.entries} entries; ${cache.date})`)
  print()
  const impls = ['ultra', 'lru-cache', 'lru.min', 'Map']
  print(`| operation (ns/op) | ${impls.join(' | ')} | ultra vs lru-cache | ultra vs lru.min | ultra vs Map |`)
  print(`|---|${impls.map(() => '---:').join('|')}|---:|---:|---:|`)
  for (const g of cache.groups.filter((x) => !x.group.startsWith('ttl'))) {
    const f = (n) => g.cases.find((c) => c.name === n)
    const u = f('ultra')
    print(`| ${g.group} | ${impls.map((n) => ns(f(n).nsPerOp)).join(' | ')} | ${['lru-cache', 'lru.min', 'Map'].map((n) => `**${ratio(f(n).nsPerOp / u.nsPerOp)}**`).join(' | ')} |`)
  }
  print()
  print('**TTL expiry** (time per expired entry)')
  print()
  print('| case | ultra | lru-cache | Map | ultra vs lru-cache |')
  print('|---|---:|---:|---:|---:|')
  for (const g of cache.groups.filter((x) => x.group.startsWith('ttl'))) {
    const f = (n) => g.cases.find((c) => c.name === n)
    print(`| ${g.group.replace(' (per entry)', '')} | ${ns(f('ultra').nsPerOp)} | ${ns(f('lru-cache').nsPerOp)} | ${ns(f('Map').nsPerOp)} | ${ratio(f('lru-cache').nsPerOp / f('ultra').nsPerOp)} |`)
  }
  print()
  print(`**Memory per entry** (${cache.memoryEntries} entries, bytes per entry after GC, each cache in a fresh process)`)
  print()
  print('| values | cache | V8 heap | external | RSS | ultra `Cache` live bytes | RSS vs lru-cache |')
  print('|---|---|---:|---:|---:|---:|---:|')
  for (const r of cache.memory) {
    const l = cache.memory.find((x) => x.impl === 'lru-cache' && x.valueType === r.valueType).perEntry
    const p = r.perEntry
    print(`| ${r.valueType} | ${r.impl} | ${p.heapUsed.toFixed(1)} | ${p.external.toFixed(1)} | ${p.rss.toFixed(1)} | ${r.impl === 'ultra' ? p.cacheLive.toFixed(1) : ''} | ${ratio(p.rss / l.rss)} |`)
  }
  print()
  targets('cache', cache.targets)
  print()
}

const hash = load('hash')
if (hash) {
  print(`### Node: hash (${hash.date})`)
  print()
  const sizes = hash.groups.map((g) => g.group.replace('hash ', ''))
  print(`| case: ns per call (MB/s) | ${sizes.join(' | ')} |`)
  print(`|---|${sizes.map(() => '---:').join('|')}|`)
  for (const c of hash.groups[0].cases) {
    const cells = hash.groups.map((g) => {
      const x = g.cases.find((y) => y.name === c.name)
      return `${ns(x.nsPerOp)} (${x.mbPerSec.toFixed(0)} MB/s)`
    })
    print(`| ${c.role === 'ultra' ? `**${c.name}**` : c.name} | ${cells.join(' | ')} |`)
  }
  print()
  print('ultra\'s speed-up over each peer (> 1×: ultra faster):')
  print()
  print(`| ultra case | peer | ${sizes.join(' | ')} |`)
  print(`|---|---|${sizes.map(() => '---:').join('|')}|`)
  for (const c of hash.groups[0].cases.filter((x) => x.role === 'ultra')) {
    for (const peer of Object.keys(c.speedupVs ?? {})) {
      print(`| ${c.name} | ${peer} | ${hash.groups.map((g) => `**${ratio(g.cases.find((y) => y.name === c.name).speedupVs[peer])}**`).join(' | ')} |`)
    }
  }
  print()
  targets('hash', hash.targets)
  print()
}

const json = load('json')
if (json) {
  print(`### Node: JSON (${json.date})`)
  print()
  print('| document | input | ultra call | ultra | JS peer | peer | ultra speed-up |')
  print('|---|---|---|---:|---|---:|---:|')
  for (const g of json.groups) {
    for (const u of g.cases.filter((c) => c.role === 'ultra')) {
      const [peer, r] = Object.entries(u.speedupVs)[0]
      const p = g.cases.find((c) => c.name === peer)
      print(`| ${(g.bytes / 1024).toFixed(g.bytes < 10240 ? 1 : 0)} KiB | ${g.input} | ${u.name.replace('ultra ', '')} | ${ns(u.nsPerOp)} | ${peer} | ${ns(p.nsPerOp)} | **${ratio(r)}** |`)
    }
  }
  print()
  targets('json', json.targets)
  print()
}

const fb = load('fallback')
if (fb) {
  print(`### Node: native vs the pure-JS fallback (${fb.date})`)
  print()
  print('| API | native | fallback | native speed-up |')
  print('|---|---:|---:|---:|')
  for (const g of fb.groups) {
    const n = g.cases.find((c) => c.name === 'native')
    const f = g.cases.find((c) => c.name === 'fallback')
    print(`| ${g.group} | ${ns(n.nsPerOp)} | ${ns(f.nsPerOp)} | ${ratio(f.nsPerOp / n.nsPerOp)} |`)
  }
  print()
}

const st = load('startup')
if (st) {
  print(`### Startup RSS (median of ${st.runs} runs; ${st.date})`)
  print()
  print('| variant | RSS MB | vs bare node | V8 heap MB | allocator live MB | jemalloc resident MB |')
  print('|---|---:|---:|---:|---:|---:|')
  for (const r of st.rows) {
    print(`| ${r.variant} | ${mb(r.rss)} | ${r.rssDelta === null ? 'n/a' : (r.rssDelta >= 0 ? '+' : '') + mb(r.rssDelta)} | ${mb(r.heapUsed)} | ${mb(r.liveBytes)} | ${mb(r.jemallocResident)} |`)
  }
  print()
  targets('startup', st.targets)
  print()
}

const sd = load('steady')
if (sd) {
  print(`### Steady state (${sd.loadMs / 1000} s load, ${sd.idleMs / 1000} s idle, trim; ${sd.date})`)
  print()
  print('| config | req/s | RSS start | RSS end of load | RSS growth, 2nd half of load | RSS end of idle | RSS after trim | jemalloc resident end of load → idle → trim | live bytes end of load | V8 heap total end of load | trim released |')
  print('|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|')
  for (const s of sd.summaries) {
    print(`| ${s.config} | ${Math.round(s.requestsPerSec)} | ${mb(s.start.rss)} | ${mb(s.endOfLoad.rss)} | ${mb(s.rssGrowthSecondHalfOfLoad)} | ${mb(s.endOfIdle.rss)} | ${mb(s.afterTrim.rss)} | ${mb(s.endOfLoad.jemallocResident)} → ${mb(s.endOfIdle.jemallocResident)} → ${mb(s.afterTrim.jemallocResident)} | ${mb(s.endOfLoad.liveBytes)} | ${mb(s.endOfLoad.heapTotal)} | ${mb(s.trimReleased)} |`)
  }
  print()
  print(`**Burst** of ${sd.burstEntries} × 1 KiB cache entries (MB, after GC)`)
  print()
  print('| config | point | RSS | V8 heap total | V8 heap used | jemalloc resident | jemalloc active | allocator live |')
  print('|---|---|---:|---:|---:|---:|---:|---:|')
  for (const [name, b] of Object.entries(sd.burst)) {
    for (const p of b.points) print(`| ${name} | ${p.label} | ${mb(p.rss)} | ${mb(p.heapTotal)} | ${mb(p.heapUsed)} | ${mb(p.jemallocResident)} | ${mb(p.jemallocActive)} | ${mb(p.liveBytes)} |`)
  }
  print()
  const owners = ['code', 'addonCode', 'ultra', 'allocatorOverhead', 'v8Heap', 'malloc', 'mallocFree', 'stacks']
  const split = (p) => `${owners.map((o) => mb(p.owners?.[o])).join(' | ')} | ${mb(p.unattributed)}`
  print('**Who holds the RSS** (`explain()`, MB): steady state at the end of the load and after trim, then each burst point')
  print()
  print(`| config | point | RSS | ${owners.join(' | ')} | unattributed |`)
  print(`|---|---|---:|${owners.map(() => '---:|').join('')}---:|`)
  for (const s of sd.summaries) {
    for (const [label, p] of [['end of load', s.endOfLoad], ['end of idle', s.endOfIdle], ['after trim', s.afterTrim], [`after trimMalloc (released ${mb(s.mallocTrimReleased)})`, s.afterTrimMalloc]]) {
      if (p === undefined) continue
      if (p.owners) print(`| ${s.config} | ${label} | ${mb(p.explainRss)} | ${split(p)} |`)
    }
  }
  for (const [name, b] of Object.entries(sd.burst)) {
    for (const p of b.points) if (p.owners) print(`| ${name} | ${p.label} | ${mb(p.explainRss)} | ${split(p)} |`)
  }
  print()
  if (sd.owners) {
    print('**Owners move with what is put there** (one fresh process, after GC at each step):')
    print()
    print('| put | MB put | owner | owner grew, MB | share |')
    print('|---|---:|---|---:|---:|')
    for (const st of sd.owners.steps) print(`| ${st.put} | ${mb(st.bytes)} | ${st.owner} | ${mb(st.grew)} | ${(100 * st.ratio).toFixed(1)} % |`)
    print()
  }
  const residues = Object.entries(sd.burst).filter(([, b]) => b.residue)
  if (residues.length > 0) {
    print('**Who keeps the residue after `trim()`** (the owner that grew most from before the burst to after trim), and what `trimMalloc()` (glibc `malloc_trim(0)`) then released:')
    print()
    for (const [name, b] of residues) {
      print(`- ${name}: **${b.residue.owner}** +${mb(b.residue.bytes)} MB; \`trimMalloc()\` released ${mb(b.mallocTrimReleased)} MB`)
    }
    print()
  }
  targets('steady', sd.targets)
  print()
}
