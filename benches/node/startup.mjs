// Resident memory at start: bare `node`, and `node` after loading ultra-node in several
// configurations. Each figure is the median of 7 fresh child processes (1 with --quick),
// the variants interleaved run by run; each child runs a CommonJS one-liner (no harness
// code), collects garbage, then reads process.memoryUsage() and ultra's own figures.
//
//   node --expose-gc startup.mjs [--quick]

import { execFileSync } from 'node:child_process'
import { args, announce, median, NODE_DIR, ULTRA, writeResults } from './lib/harness.mjs'

const RUNS = args.quick ? 1 : 7
const PKG = JSON.stringify(ULTRA)

const READ = `
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  let s = null;
  try { s = u && u.createMemoryManager().stats() } catch {}
  console.log(JSON.stringify({
    rss: m.rss, heapUsed: m.heapUsed, external: m.external,
    native: u ? u.isNative : null,
    liveBytes: s ? s.totals.liveBytes : null,
    jemallocResident: s ? s.jemalloc.resident : null,
    poolBytes: s ? s.pools.bytesHeld : null,
    extra: typeof extra === 'undefined' ? null : extra
  }));
`

/** Each variant: extra environment, and the code run before the figures are read. */
const VARIANTS = {
  'bare node': { env: {}, code: 'const u = null;' },
  'ultra-node, default config': { env: {}, code: `const u = require(${PKG}); u.initMemorySubsystem();` },
  'ultra-node, ULTRA_HEAP_PROFILE=1': { env: { ULTRA_HEAP_PROFILE: '1' }, code: `const u = require(${PKG}); u.initMemorySubsystem();` },
  'ultra-node, pure-JS fallback': { env: { ULTRA_FORCE_FALLBACK: '1' }, code: `const u = require(${PKG}); u.initMemorySubsystem();` },
  'ULTRA_POOL_INITIAL=1000 + a pool': {
    env: { ULTRA_POOL_INITIAL: '1000' },
    code: `const u = require(${PKG}); u.initMemorySubsystem(); const pool = u.createObjectPool(); const extra = pool.stats();`
  },
  'ULTRA_POOL_INITIAL=1000 ULTRA_POOL_MAX=1000 + a pool': {
    env: { ULTRA_POOL_INITIAL: '1000', ULTRA_POOL_MAX: '1000' },
    code: `const u = require(${PKG}); u.initMemorySubsystem(); const pool = u.createObjectPool(); const extra = pool.stats();`
  },
  'ultra-node + exporter started': {
    env: {},
    // startExporter resolves once the listener is bound; the figures are read then.
    code: `const u = require(${PKG}); u.initMemorySubsystem(); let extra;
      u.startExporter({ port: 0 }).then((h) => { extra = { started: true, port: h.port };`,
    suffix: '})'
  }
}

function child (variant) {
  const v = VARIANTS[variant]
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', v.code + READ + (v.suffix ?? '')], {
    cwd: NODE_DIR,
    env: { ...process.env, ...v.env, ULTRA_FORCE_FALLBACK: v.env.ULTRA_FORCE_FALLBACK ?? '' },
    encoding: 'utf8',
    timeout: 30_000
  })
  return JSON.parse(out.trim().split('\n').pop())
}

announce('startup: resident memory of node with and without ultra-node')
const samples = Object.fromEntries(Object.keys(VARIANTS).map((k) => [k, []]))
for (let r = 0; r < RUNS; r++) {
  for (const name of Object.keys(VARIANTS)) {
    try {
      samples[name].push(child(name))
    } catch (e) {
      if (name.includes('exporter')) samples[name].push({ error: String(e.message).split('\n')[0] })
      else throw e
    }
  }
}

const rows = []
const bare = median(samples['bare node'].map((s) => s.rss))
console.log(`\n  ${'variant'.padEnd(54)} ${'RSS MB'.padStart(8)} ${'vs bare'.padStart(9)} ${'heap MB'.padStart(8)} ${'ext MB'.padStart(7)} ${'live MB'.padStart(8)} ${'jemalloc res MB'.padStart(16)}`)
const mb = (x) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : (x / 1048576).toFixed(2))
for (const [name, ss] of Object.entries(samples)) {
  const ok = ss.filter((s) => !s.error)
  const med = (k) => (ok.length && ok[0][k] !== null ? median(ok.map((s) => s[k])) : null)
  const row = {
    variant: name,
    runs: ok.length,
    rss: med('rss'),
    rssDelta: med('rss') === null ? null : med('rss') - bare,
    rssAll: ok.map((s) => s.rss),
    heapUsed: med('heapUsed'),
    external: med('external'),
    liveBytes: med('liveBytes'),
    jemallocResident: med('jemallocResident'),
    poolBytes: med('poolBytes'),
    native: ok[0]?.native ?? null,
    extra: ok[0]?.extra ?? null,
    error: ss.find((s) => s.error)?.error ?? null
  }
  rows.push(row)
  console.log(`  ${name.padEnd(54)} ${mb(row.rss).padStart(8)} ${(row.rssDelta === null ? 'n/a' : (row.rssDelta >= 0 ? '+' : '') + mb(row.rssDelta)).padStart(9)} ${mb(row.heapUsed).padStart(8)} ${mb(row.external).padStart(7)} ${mb(row.liveBytes).padStart(8)} ${mb(row.jemallocResident).padStart(16)}`)
  if (row.extra) console.log(`  ${''.padEnd(54)} ${JSON.stringify(row.extra)}`)
  if (row.error) console.log(`  ${''.padEnd(54)} error: ${row.error}`)
}

const load = rows.find((r) => r.variant === 'ultra-node, default config')
const targets = [{
  target: 'addon load adds ≤ 3 MB RSS to bare node',
  value: load.rssDelta,
  native: load.native,
  met: load.native === true && load.rssDelta <= 3 * 1048576
}]
console.log('\ntargets')
for (const t of targets) console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: +${mb(t.value)} MB${t.native ? '' : ' (addon not loaded: fallback figure)'}`)
writeResults('startup', { runs: RUNS, rows, targets })
