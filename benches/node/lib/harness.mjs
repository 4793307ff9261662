// Shared harness of the Node benches: argument parsing, side-by-side timing on tinybench,
// tables with ratios, machine facts and the JSON results.
//
// Timing: the cases of one group run one after the other inside a tinybench `Bench`, and the
// whole group is run `rounds` times with the order rotated each round. A case's figure is the
// median over rounds of its mean time per call, so a burst of load from another process hits
// every case of the group alike instead of skewing one of them. Cheap calls are batched (a
// sample times `batch` calls in a loop) so the timer's own ~30-50 ns do not swamp them.

import { Bench } from 'tinybench'
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const HERE = path.dirname(fileURLToPath(import.meta.url))
export const NODE_DIR = path.resolve(HERE, '..')
export const require = createRequire(import.meta.url)

/**
 * What `require` loads as ultra-node: the package linked in node_modules, or the folder in
 * ULTRA_NODE_PKG (for example a frozen copy of node/, so that a rebuild of the addon during
 * a long run cannot mix two builds in one set of results).
 */
export const ULTRA = process.env.ULTRA_NODE_PKG || 'ultra-node'

/** Command-line flags: `--quick` (CI smoke: tiny counts), `--rounds N`, `--time MS`. */
export const args = (() => {
  const argv = process.argv.slice(2)
  const value = (name, dflt) => {
    const i = argv.indexOf(name)
    return i >= 0 && i + 1 < argv.length ? Number(argv[i + 1]) : dflt
  }
  const quick = argv.includes('--quick')
  return {
    quick,
    argv,
    rounds: value('--rounds', quick ? 1 : 7),
    time: value('--time', quick ? 2 : 100)
  }
})()

/** Where results go: `benches/results/` for full runs, a temporary folder for `--quick`. */
export function resultsDir () {
  const dir = process.env.ULTRA_BENCH_RESULTS ??
    (args.quick ? path.join(os.tmpdir(), 'ultra-benches-quick') : path.resolve(NODE_DIR, '..', 'results'))
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

/** Writes `data` (plus machine facts) to `<resultsDir>/<name>.json`; returns the path. */
export function writeResults (name, data) {
  const file = path.join(resultsDir(), `${name}.json`)
  const body = { suite: name, quick: args.quick, date: new Date().toISOString(), machine: machine(), ...data }
  fs.writeFileSync(file, JSON.stringify(body, null, 2) + '\n')
  console.log(`\nwrote ${file}`)
  return file
}

let machineCache
/** nproc, CPU model, memory, Node and V8 versions, which ultra engine loads, load average. */
export function machine () {
  if (machineCache) return machineCache
  let cpu = os.cpus()[0]?.model ?? 'unknown'
  try {
    const m = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)
    if (m) cpu = m[1].trim()
  } catch {}
  let ultra = { isNative: null, loadError: null }
  try {
    const u = require(ULTRA)
    ultra = { isNative: u.isNative, loadError: u.loadError ? String(u.loadError.message).slice(0, 200) : null, core: u.getCoreVersion(), package: path.dirname(require.resolve(ULTRA)) }
    const addon = fs.readdirSync(ultra.package).find((f) => f.endsWith('.node'))
    if (addon) {
      const file = path.join(ultra.package, addon)
      const st = fs.statSync(file)
      ultra.addon = { file: addon, bytes: st.size, mtime: st.mtime.toISOString(), sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16) }
    }
  } catch (e) {
    ultra.loadError = String(e.message)
  }
  machineCache = {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu,
    memoryBytes: os.totalmem(),
    node: process.version,
    v8: process.versions.v8,
    napi: process.versions.napi,
    platform: `${process.platform}-${process.arch}`,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    ultra
  }
  return machineCache
}

/** Runs `global.gc` a few times (needs `--expose-gc`). */
export function gc () {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')
  for (let i = 0; i < 3; i++) globalThis.gc()
}

/** Median of numbers. */
export function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return NaN
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

/** How many calls of `fn` make one ~20 µs sample (1 for calls slower than that). */
function batchSize (fn) {
  let k = 1
  for (;;) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < k; i++) fn()
    const ns = Number(process.hrtime.bigint() - t0)
    if (ns > 2e6 || k >= 1 << 20) return Math.max(1, Math.min(1 << 16, Math.round(20_000 / (ns / k))))
    k *= 2
  }
}

/**
 * Times the cases of a group side by side.
 * @param {string} group name of the group (a row label prefix)
 * @param {{ name: string, fn: () => unknown, role?: 'ultra' | 'peer', bytes?: number }[]} cases
 * @returns {{ group: string, cases: object[] }} ns per call (median over rounds), ops/s, MB/s
 */
export async function runGroup (group, cases, opts = {}) {
  const rounds = opts.rounds ?? args.rounds
  const time = opts.time ?? args.time
  const batches = cases.map((c) => (args.quick ? 1 : batchSize(c.fn)))
  const samples = cases.map(() => [])
  for (let r = 0; r < rounds; r++) {
    const bench = new Bench({
      time,
      iterations: args.quick ? 2 : 10,
      warmup: !args.quick,
      warmupTime: r === 0 ? Math.max(time / 2, 20) : 10,
      warmupIterations: args.quick ? 1 : 8,
      throws: true
    })
    const order = cases.map((_, i) => (i + r) % cases.length)
    for (const i of order) {
      const { fn } = cases[i]
      const b = batches[i]
      bench.add(String(i), b === 1 ? fn : () => { for (let j = 0; j < b; j++) fn() })
    }
    await bench.run()
    for (const task of bench.tasks) {
      const i = Number(task.name)
      const res = task.result
      if (res.state !== 'completed') throw res.error ?? new Error(`${group}/${cases[i].name}: ${res.state}`)
      samples[i].push((res.latency.mean * 1e6) / batches[i])
    }
    if (typeof globalThis.gc === 'function') globalThis.gc()
  }
  const out = cases.map((c, i) => {
    const ns = median(samples[i])
    const row = { name: c.name, role: c.role ?? 'peer', nsPerOp: ns, opsPerSec: 1e9 / ns, rounds: samples[i].length }
    if (c.bytes) row.mbPerSec = (c.bytes / ns) * 1e3
    if (c.note) row.note = c.note
    if (c.vs) row.vs = c.vs
    return row
  })
  for (const u of out.filter((c) => c.role === 'ultra')) {
    u.speedupVs = {}
    for (const p of peersOf(u, out)) u.speedupVs[p.name] = speedup(u, p)
  }
  const result = { group, cases: out }
  printGroup(result, opts)
  return result
}

/** The peers an ultra case is compared with: its `vs` list, or every peer of the group. */
function peersOf (u, cases) {
  return cases.filter((c) => c.role !== 'ultra' && (!u.vs || u.vs.includes(c.name)))
}

/** Speed-up of `a` over `b` (> 1: a is faster). */
export function speedup (a, b) {
  return b.nsPerOp / a.nsPerOp
}

function fmtNs (ns) {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`
  return `${ns.toFixed(1)} ns`
}

function fmtOps (ops) {
  if (ops >= 1e6) return `${(ops / 1e6).toFixed(2)} M`
  if (ops >= 1e3) return `${(ops / 1e3).toFixed(1)} k`
  return ops.toFixed(1)
}

export function fmtRatio (x) {
  return x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`
}

/**
 * Prints a group: every case with ns/op, ops/s (and MB/s), then for each `ultra` case its
 * speed-up against each peer (> 1×: ultra faster).
 */
export function printGroup ({ group, cases }) {
  const w = Math.max(...cases.map((c) => c.name.length), 8)
  const hasMb = cases.some((c) => c.mbPerSec)
  console.log(`\n${group}`)
  console.log(`  ${'case'.padEnd(w)}  ${'ns/op'.padStart(11)}  ${'ops/s'.padStart(9)}${hasMb ? '  ' + 'MB/s'.padStart(9) : ''}`)
  for (const c of cases) {
    console.log(`  ${c.name.padEnd(w)}  ${fmtNs(c.nsPerOp).padStart(11)}  ${fmtOps(c.opsPerSec).padStart(9)}${hasMb ? '  ' + (c.mbPerSec ? c.mbPerSec.toFixed(0) : '').padStart(9) : ''}`)
  }
  for (const u of cases.filter((c) => c.role === 'ultra')) {
    const peers = peersOf(u, cases)
    if (peers.length === 0) continue
    console.log(`  ${u.name} vs: ${peers.map((p) => `${p.name} ${fmtRatio(speedup(u, p))}`).join(', ')}`)
  }
}

/** A table in Markdown (for the README) from groups: one row per case, ratio vs `base`. */
export function markdownTable (groups, base) {
  const lines = ['| group | case | ns/op | ops/s | vs ' + base + ' |', '|---|---|---:|---:|---:|']
  for (const g of groups) {
    const b = g.cases.find((c) => c.name === base)
    for (const c of g.cases) {
      lines.push(`| ${g.group} | ${c.name} | ${fmtNs(c.nsPerOp)} | ${fmtOps(c.opsPerSec)} | ${b ? fmtRatio(speedup(c, b)) : ''} |`)
    }
  }
  return lines.join('\n')
}

/** Runs `node [flags] script args` and parses the last line of its stdout as JSON. */
export function runChildJson (file, childArgs = [], { env = {}, flags = ['--expose-gc'], timeout = 600_000 } = {}) {
  const out = execFileSync(process.execPath, [...flags, file, ...childArgs], {
    cwd: NODE_DIR,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout,
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const lines = out.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

/** Loads ultra-node twice: the engine the loader picks, and the pure-JS fallback. */
export function loadUltraBoth () {
  const native = require(ULTRA)
  const id = require.resolve(ULTRA)
  const entry = require.cache[id]
  const saved = process.env.ULTRA_FORCE_FALLBACK
  // A fresh evaluation of the loader with the documented switch set gives a second API
  // instance over the fallback engine; the first instance keeps its engine, and is put back
  // in the module cache so later `require('ultra-node')` calls still get it.
  delete require.cache[id]
  process.env.ULTRA_FORCE_FALLBACK = '1'
  let fallback
  try {
    fallback = require(ULTRA)
  } finally {
    if (saved === undefined) delete process.env.ULTRA_FORCE_FALLBACK
    else process.env.ULTRA_FORCE_FALLBACK = saved
    require.cache[id] = entry
  }
  if (fallback.isNative) throw new Error('ULTRA_FORCE_FALLBACK did not select the fallback')
  return { native, fallback }
}

/** Prints which engine runs, and a warning when it is the fallback. */
export function announce (title) {
  const m = machine()
  console.log(`${title}${args.quick ? ' (quick)' : ''}`)
  console.log(`node ${m.node}, ${m.nproc} cores, ${m.cpu}, load ${m.loadavg.join(' ')}`)
  console.log(`ultra-node engine: ${m.ultra.isNative ? 'native addon' : 'pure-JS fallback'}${m.ultra.loadError ? ` (addon did not load: ${m.ultra.loadError})` : ''}`)
}
