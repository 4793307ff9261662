// Collects the criterion results of `cargo bench -p ultra-benches` into
// benches/results/rust.json and prints them as Markdown tables with ratios (used for
// benches/README.md). Reads `$CARGO_TARGET_DIR/criterion` (default: the workspace's target/).
//
//   node criterion.mjs

import fs from 'node:fs'
import path from 'node:path'
import { NODE_DIR, resultsDir } from './lib/harness.mjs'

const target = process.env.CARGO_TARGET_DIR ?? path.resolve(NODE_DIR, '..', '..', 'target')
const root = path.join(target, 'criterion')
if (!fs.existsSync(root)) {
  console.error(`no criterion results in ${root}: run cargo bench -p ultra-benches first`)
  process.exit(1)
}

function * walk (dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name === 'new' && fs.existsSync(path.join(p, 'benchmark.json'))) yield p
      else yield * walk(p)
    }
  }
}

const groups = new Map()
for (const dir of walk(root)) {
  const b = JSON.parse(fs.readFileSync(path.join(dir, 'benchmark.json'), 'utf8'))
  const e = JSON.parse(fs.readFileSync(path.join(dir, 'estimates.json'), 'utf8'))
  const name = b.value_str ? `${b.function_id}/${b.value_str}` : b.function_id
  const t = b.throughput ?? {}
  const row = {
    name,
    ns: e.median.point_estimate,
    low: e.median.confidence_interval.lower_bound,
    high: e.median.confidence_interval.upper_bound,
    bytes: t.Bytes ?? null,
    elements: t.Elements ?? null
  }
  if (!groups.has(b.group_id)) groups.set(b.group_id, [])
  groups.get(b.group_id).push(row)
}

// The row each group is compared with, and pairs of (ultra, peer) rows for the JSON groups.
const BASE = [
  [/^alloc\//, ['raw_jemalloc', 'raw_system']],
  [/^cache\//, ['lru']],
  [/^hash\//, ['blake3_single']],
  [/^blake3_mt$/, []]
]
const ORDER = {
  'alloc/': ['raw_system', 'tracked_system', 'tracked_system_scoped', 'raw_jemalloc', 'tracked_jemalloc', 'tracked_jemalloc_scoped'],
  'cache/': ['hashmap_std', 'hashmap_foldhash', 'lru', 'ultra_cache', 'ultra_cache_ttl', 'ultra_cache_ttl_get_copy', 'ultra_shared_ttl'],
  'json/': ['ultra_validate', 'serde_ignored_any', 'ultra_parse', 'serde_value', 'ultra_pointer', 'serde_value_pointer', 'ultra_minify', 'serde_value_to_vec']
}
const JSON_PAIRS = { ultra_validate: 'serde_ignored_any', ultra_parse: 'serde_value', ultra_pointer: 'serde_value_pointer', ultra_minify: 'serde_value_to_vec' }

const fmtNs = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(1)} ns`)
const fmtRate = (r) => (r.bytes ? `${(r.bytes / r.ns).toFixed(2)} GB/s` : r.elements ? `${(r.elements / r.ns * 1e3).toFixed(1)} M/s` : '')
const out = {}
// Groups in a stable order, sizes ascending (`hash/64 B` before `hash/1 KiB`).
const UNITS = { B: 1, KiB: 1024, MiB: 1048576 }
const sizeOf = (s) => {
  const m = s.match(/(\d+) (B|KiB|MiB)$/)
  return m ? Number(m[1]) * UNITS[m[2]] : 0
}
const names = [...groups.keys()].sort((a, b) => {
  const pa = a.replace(/\/[^/]*$/, '')
  const pb = b.replace(/\/[^/]*$/, '')
  return pa === pb ? sizeOf(a) - sizeOf(b) || a.localeCompare(b) : a.localeCompare(b)
})
for (const g of names) {
  const rows = groups.get(g)
  const order = Object.entries(ORDER).find(([p]) => g.startsWith(p))?.[1]
  if (order) rows.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))
  else rows.sort((a, b) => a.name.split('/')[0].localeCompare(b.name.split('/')[0]) || sizeOf(a.name) - sizeOf(b.name))
  const bases = (BASE.find(([re]) => re.test(g))?.[1] ?? []).filter((n) => rows.some((r) => r.name === n))
  const isJson = g.startsWith('json/')
  const perOp = g.startsWith('alloc/') ? (r) => r.ns / r.elements : null
  console.log(`\n**${g}**\n`)
  const head = ['case', perOp ? 'ns per allocator call' : 'time', 'throughput', ...bases.map((b) => `vs ${b}`), ...(isJson ? ['ultra speed-up over serde_json'] : [])]
  console.log(`| ${head.join(' | ')} |`)
  console.log(`|${head.map((_, i) => (i ? '---:' : '---')).join('|')}|`)
  for (const r of rows) {
    // For alloc and cache rows a ratio is time / base time (lower is better, 1.00× = same);
    // for the JSON pairs it is the speed-up of ultra over its serde_json peer.
    const ratios = bases.map((b) => (r.ns / rows.find((x) => x.name === b).ns).toFixed(3) + '×')
    const pair = JSON_PAIRS[r.name] && rows.find((x) => x.name === JSON_PAIRS[r.name])
    const cells = [r.name, perOp ? perOp(r).toFixed(2) : fmtNs(r.ns), fmtRate(r), ...ratios, ...(isJson ? [pair ? (pair.ns / r.ns).toFixed(2) + '×' : ''] : [])]
    console.log(`| ${cells.join(' | ')} |`)
  }
  out[g] = rows
}
if (groups.has('blake3_mt')) {
  const rows = groups.get('blake3_mt')
  console.log('\nblake3 multi-threaded speed-up over one thread:')
  for (const r of rows.filter((x) => x.name.startsWith('multi/'))) {
    const s = rows.find((x) => x.name === r.name.replace('multi/', 'single/'))
    console.log(`  ${r.name.slice(6)}: ${(s.ns / r.ns).toFixed(2)}×`)
  }
}
const file = path.join(resultsDir(), 'rust.json')
fs.writeFileSync(file, JSON.stringify({ suite: 'rust-criterion', date: new Date().toISOString(), unit: 'ns per iteration (criterion median)', groups: out }, null, 2) + '\n')
console.log(`\nwrote ${file}`)
