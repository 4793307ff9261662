// A gateway end to end over node:http (issue 13): a server process does a gateway's work per
// request, on ultra or on the JS stack it replaces, and a load process on loopback drives it
// with keep-alive connections:
//
// - hit: the cached ~1 KiB JSON body of the URL + its ETag — ultra: `cache.get` (a Buffer) +
//   `xxh3Hash` hex; JS: lru-cache 11 `get` + `crypto` sha256 hex;
// - miss: the upstream body, validated, stored, ETagged — ultra: `validateJson` + `cache.set`
//   + XXH3; JS: `JSON.parse` + `set` + sha256. The upstream answers at once with a new Buffer
//   (a template with the URL's number written in), as a body read from the network would be:
//   lru-cache keeps that Buffer, ultra copies it and lets it go.
//
// The cache holds `max` of `keys` URLs and each connection requests URLs from its own seeded
// random sequence, so both variants serve the same requests (their interleaving across
// connections, hence the exact hits, varies a little from run to run; the hit ratio of every
// run is printed and checked to agree). Each run is bounded by a number of requests (and a
// time limit that fails it).
// Variants alternate over rounds (order rotated); server and load are pinned to different
// CPUs with `taskset` when there are two. Reported per variant: throughput (requests/s) and the
// server's RSS at the end of the load (and after a full GC), median and min–max over rounds;
// and ultra ÷ JS, paired per round, median and min–max. Results: results/http-gateway.json.
//
//   node http-gateway.mjs [--quick] [--rounds N] [--requests N] [--connections N]

import { execFileSync, spawn } from 'node:child_process'
import crypto from 'node:crypto'
import http from 'node:http'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { announce, args, median, require, ULTRA, writeResults } from './lib/harness.mjs'
import { jsonDocument, Rng } from './lib/inputs.mjs'

const SELF = fileURLToPath(import.meta.url)
const flag = (name, dflt) => {
  const i = args.argv.indexOf(name)
  return i >= 0 ? Number(args.argv[i + 1]) : dflt
}
const CONFIG = {
  keys: flag('--keys', args.quick ? 200 : 10_000),
  max: flag('--max', args.quick ? 160 : 8_000),
  requests: flag('--requests', args.quick ? 400 : 100_000),
  connections: flag('--connections', args.quick ? 2 : 16),
  rounds: args.quick ? 1 : flag('--rounds', 5),
  limitMs: 120_000
}
const VARIANTS = ['ultra', 'lru-cache + sha256 + JSON.parse']

/** The upstream: a new ~1 KiB JSON document per call, distinct per URL number. */
function upstream () {
  const template = jsonDocument(1024).buffer
  const at = template.indexOf('ultra-benches')
  return (i) => {
    const b = Buffer.from(template)
    b.write(String(i).padStart(8, '0'), at)
    return b
  }
}

/** The per-request work of one variant: `(url) => [body, etag, hit]`. */
function gateway (variant, fetchBody) {
  const index = (url) => Number(url.slice(url.lastIndexOf('/') + 1))
  if (variant === 'ultra') {
    const ultra = require(ULTRA)
    const cache = ultra.createCache({ max: CONFIG.max })
    return (url) => {
      const cached = cache.get(url)
      if (cached !== undefined) return [cached, ultra.xxh3Hash(cached), true]
      const body = fetchBody(index(url))
      if (!ultra.validateJson(body)) throw new Error('upstream sent invalid JSON')
      cache.set(url, body)
      return [body, ultra.xxh3Hash(body), false]
    }
  }
  const { LRUCache } = require('lru-cache')
  const cache = new LRUCache({ max: CONFIG.max })
  const sha = (b) => crypto.createHash('sha256').update(b).digest('hex')
  return (url) => {
    const cached = cache.get(url)
    if (cached !== undefined) return [cached, sha(cached), true]
    const body = fetchBody(index(url))
    JSON.parse(body)
    cache.set(url, body)
    return [body, sha(body), false]
  }
}

/** Server mode: listens on loopback, prints its port, serves until killed. */
function server (variant) {
  const serve = gateway(variant, upstream())
  let hits = 0
  let misses = 0
  const srv = http.createServer((req, res) => {
    if (req.url === '/__stats') {
      res.setHeader('content-type', 'application/json')
      const rss = process.memoryUsage.rss()
      for (let i = 0; i < 3; i++) globalThis.gc()
      res.end(JSON.stringify({ rss, rssAfterGc: process.memoryUsage.rss(), hits, misses }))
      return
    }
    const [body, etag, hit] = serve(req.url)
    if (hit) hits++
    else misses++
    res.setHeader('content-type', 'application/json')
    res.setHeader('etag', `"${etag}"`)
    res.end(body)
  })
  srv.keepAliveTimeout = 60_000
  srv.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: srv.address().port })))
}

/** One GET on a keep-alive agent: resolves to the body length, or rejects. */
function get (agent, port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let n = 0
      res.on('data', (chunk) => { n += chunk.length })
      res.on('end', () => (res.statusCode === 200 && (path === '/__stats' || res.headers.etag) ? resolve(n) : reject(new Error(`${path}: status ${res.statusCode}`))))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

/** Load mode: `connections` loops over one keep-alive agent; prints the outcome as JSON. */
async function load (port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONFIG.connections })
  const per = Math.ceil(CONFIG.requests / CONFIG.connections)
  let done = 0
  let bytes = 0
  const deadline = Date.now() + CONFIG.limitMs
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({ length: CONFIG.connections }, async (_, c) => {
    const rng = new Rng(c + 1)
    for (let i = 0; i < per; i++) {
      if (Date.now() > deadline) throw new Error(`load: not done within ${CONFIG.limitMs} ms`)
      bytes += await get(agent, port, `/item/${rng.below(CONFIG.keys)}`)
      done++
    }
  }))
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  agent.destroy()
  console.log(JSON.stringify({ requests: done, bytes, seconds, perSecond: done / seconds }))
}

/** `taskset -c <cpu>` when there are two CPUs and taskset exists, else nothing. */
function pin (cpu) {
  if ((os.availableParallelism?.() ?? os.cpus().length) < 2) return []
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' })
    return ['taskset', '-c', String(cpu)]
  } catch {
    return []
  }
}

/** Spawns `node SELF mode...` (pinned) and resolves with its first stdout line as JSON. */
function child (cpu, modeArgs) {
  const pinned = pin(cpu)
  const argv = [...pinned, process.execPath, '--expose-gc', SELF, ...modeArgs, ...passThrough()]
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
  const first = new Promise((resolve, reject) => {
    let out = ''
    proc.stdout.on('data', (d) => {
      out += d
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)))
    })
    proc.on('exit', (code) => reject(new Error(`${modeArgs[0]} exited with ${code} before answering`)))
    proc.on('error', reject)
  })
  return { proc, first }
}

/** The sizing flags, handed to the children so that they use the same configuration. */
function passThrough () {
  return ['--keys', CONFIG.keys, '--max', CONFIG.max, '--requests', CONFIG.requests, '--connections', CONFIG.connections]
    .map(String).concat(args.quick ? ['--quick'] : [])
}

/** One run of one variant: server on CPU 0, load on CPU 1. */
async function run (variant) {
  const srv = child(0, ['--server', variant])
  try {
    const { port } = await srv.first
    const ld = child(1, ['--load', String(port)])
    const outcome = await ld.first
    const stats = JSON.parse(await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/__stats' }, (res) => {
        let s = ''
        res.on('data', (d) => { s += d })
        res.on('end', () => resolve(s))
      }).on('error', reject)
    }))
    if (outcome.requests !== CONFIG.connections * Math.ceil(CONFIG.requests / CONFIG.connections)) throw new Error('load did not finish')
    if (stats.hits + stats.misses !== outcome.requests) throw new Error(`server counted ${stats.hits + stats.misses} requests, load ${outcome.requests}`)
    return { ...outcome, rss: stats.rss, rssAfterGc: stats.rssAfterGc, hits: stats.hits, misses: stats.misses }
  } finally {
    srv.proc.kill()
  }
}

const spread = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) })
const fmt = (s, f) => `${f(s.median)} (${f(s.min)}–${f(s.max)})`

async function main () {
  const mode = args.argv.indexOf('--server')
  if (mode >= 0) return server(args.argv[mode + 1])
  const lm = args.argv.indexOf('--load')
  if (lm >= 0) return load(Number(args.argv[lm + 1]))

  announce('http-gateway: node:http gateway, ultra vs lru-cache + crypto + JSON.parse, end to end')
  const pinned = pin(0).length > 0
  console.log(`${CONFIG.requests} requests per run over ${CONFIG.connections} keep-alive connections, ${CONFIG.keys} URLs, cache max ${CONFIG.max}, ${CONFIG.rounds} rounds; ${pinned ? 'server on CPU 0, load on CPU 1' : 'not pinned (one CPU or no taskset)'}`)
  const runs = Object.fromEntries(VARIANTS.map((v) => [v, []]))
  for (let r = 0; r < CONFIG.rounds; r++) {
    const order = r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()
    for (const v of order) {
      const x = await run(v)
      runs[v].push(x)
      console.log(`  round ${r + 1} ${v.padEnd(32)} ${x.perSecond.toFixed(0).padStart(7)} req/s  RSS ${(x.rss / 2 ** 20).toFixed(1)} MiB (after GC ${(x.rssAfterGc / 2 ** 20).toFixed(1)})  hits ${(100 * x.hits / x.requests).toFixed(1)} %`)
    }
  }
  const [u, j] = VARIANTS.map((v) => runs[v])
  for (let r = 0; r < CONFIG.rounds; r++) {
    const [hu, hj] = [u[r].hits / u[r].requests, j[r].hits / j[r].requests]
    if (Math.abs(hu - hj) > 0.1) throw new Error(`round ${r + 1}: the variants' hit ratios differ (${hu} vs ${hj})`)
  }
  const summary = {}
  for (const v of VARIANTS) {
    summary[v] = { throughput: spread(runs[v].map((x) => x.perSecond)), rss: spread(runs[v].map((x) => x.rss)), rssAfterGc: spread(runs[v].map((x) => x.rssAfterGc)) }
  }
  const ratios = {
    throughput: spread(u.map((x, r) => x.perSecond / j[r].perSecond)),
    rss: spread(u.map((x, r) => x.rss / j[r].rss)),
    rssAfterGc: spread(u.map((x, r) => x.rssAfterGc / j[r].rssAfterGc))
  }
  console.log('\nper variant: median (min–max) over rounds')
  for (const v of VARIANTS) {
    const mib = (x) => (x / 2 ** 20).toFixed(1)
    console.log(`  ${v.padEnd(32)} ${fmt(summary[v].throughput, (x) => x.toFixed(0))} req/s   RSS ${fmt(summary[v].rss, mib)} MiB, after GC ${fmt(summary[v].rssAfterGc, mib)} MiB`)
  }
  console.log('ultra ÷ JS stack, paired per round: median (min–max)')
  const r3 = (x) => x.toFixed(3)
  console.log(`  throughput ${fmt(ratios.throughput, r3)}   RSS ${fmt(ratios.rss, r3)}   RSS after GC ${fmt(ratios.rssAfterGc, r3)}`)
  const targets = [{ target: 'server RSS ≤ ×0.9 the JS stack\'s (median of paired rounds)', ratio: ratios.rss.median, met: ratios.rss.median <= 0.9 }]
  console.log('\ntargets')
  for (const t of targets) console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ratio ${t.ratio.toFixed(3)}`)
  writeResults('http-gateway', { config: CONFIG, pinned, runs, summary, ratios, targets })
}

await main()
