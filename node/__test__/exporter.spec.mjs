// Prometheus metrics from Node: metricsText, startExporter, and the prom-client
// integration. The text must pass `promtool check metrics` with no output at all,
// whichever engine runs (promtool comes with Debian's `prometheus` package, which
// .ci/run installs; its absence fails these tests).
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import net from 'node:net'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { createRequire } from 'node:module'
import { api, assertArgError, packageDir, parseExposition } from './support.mjs'

const require = createRequire(import.meta.url)
const client = require('prom-client')

/** Runs `promtool check metrics` on `text`: exit status and everything it printed. */
function promtool (text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (r.error) throw new Error(`promtool not found (install Debian's 'prometheus' package): ${r.error.message}`)
  return { status: r.status, output: (r.stdout + r.stderr).trim() }
}

/**
 * promtool on a prom-client registry's text: prom-client's own default families
 * have lint findings of their own (`nodejs_active_handles_total` is a gauge), so
 * only a parse error (status 1) or a finding about an `ultra_` family fails.
 */
function promtoolOurs (text) {
  const { status, output } = promtool(text)
  assert.notEqual(status, 1, output)
  return output.split('\n').filter((line) => line.includes('ultra_'))
}

/** Family names declared by `# TYPE` lines. */
function familyNames (text) {
  return text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2])
}

test('metricsText passes promtool with no output and only ultra_ families', () => {
  api.createCache({ max: 10 }).set('k', 'v')
  const text = api.metricsText()
  assert.deepEqual(promtool(text), { status: 0, output: '' })
  const names = familyNames(text)
  assert.ok(names.length >= 9, names.join(','))
  for (const name of names) assert.match(name, /^ultra_/)
  assert.equal(new Set(names).size, names.length, 'no family twice')
  const families = parseExposition(text)
  assert.equal(families.get('ultra_build_info').values[0].value, 1)
  assert.ok(families.get('ultra_caches').values[0].value >= 1)
  if (api.isNative) {
    // Native-only families are there, with true values...
    assert.ok(families.get('ultra_allocator_live_bytes').values[0].value > 0)
    const cache = families.get('ultra_subsystem_live_bytes').values.find((v) => v.labels.subsystem === 'cache')
    assert.ok(cache.value > 0)
    assert.equal(families.get('ultra_allocation_size_bytes').type, 'histogram')
  } else {
    // ...and absent in the fallback, never zero.
    assert.equal(families.get('ultra_allocator_live_bytes'), undefined)
    assert.equal(families.get('ultra_jemalloc_resident_bytes'), undefined)
  }
})

test('metricsText reflects a fresh reading each time', () => {
  const cache = api.createCache({ max: 1000 })
  const entries = () => parseExposition(api.metricsText()).get('ultra_cache_entries').values[0].value
  const before = entries()
  for (let i = 0; i < 25; i++) cache.set(`k${i}`, 'value')
  assert.equal(entries() - before, 25)
  cache.clear()
  assert.equal(entries(), before)
})

/** Sends a raw HTTP request and returns the status line. */
function rawRequest (port, line) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(`${line}\r\nHost: x\r\nConnection: close\r\n\r\n`))
    let data = ''
    socket.on('data', (d) => { data += d })
    socket.on('end', () => resolve(data.split('\r\n')[0]))
    socket.on('error', reject)
  })
}

test('startExporter serves /metrics on an ephemeral loopback port, 404 and 405 elsewhere', async () => {
  const server = await api.startExporter({ host: '127.0.0.1', port: 0 })
  try {
    assert.equal(server.host, '127.0.0.1')
    assert.ok(server.port > 0)
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
    const body = await res.text()
    assert.deepEqual(promtool(body), { status: 0, output: '' })
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/other`)).status, 404)
    assert.match(await rawRequest(server.port, 'POST /metrics HTTP/1.1'), / 405 /)
    // A second listener on the same port is a clear error, not a crash.
    await assert.rejects(api.startExporter({ host: '127.0.0.1', port: server.port }), (e) => {
      assert.match(e.message, new RegExp(`startExporter: .*${server.port}`))
      return true
    })
  } finally {
    await server.close()
  }
  // The port is free: a new connection is refused. (A fresh socket, not fetch: fetch would
  // reuse its kept-alive connection, which a closed native listener no longer answers.)
  await assert.rejects(new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1', () => { socket.destroy(); resolve() })
    socket.on('error', reject)
  }), /ECONNREFUSED/)
  await server.close() // closing twice is harmless
})

test('startExporter writes and removes a file_sd target under ULTRA_EXPORTER_SD_DIR', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ultra-sd-'))
  try {
    // A child process, since the native exporter reads its configuration once per process.
    const script = `
      const u = require(${JSON.stringify(packageDir)})
      const fs = require('node:fs')
      u.startExporter({ port: 0 }).then(async (s) => {
        const files = fs.readdirSync(process.env.ULTRA_EXPORTER_SD_DIR)
        const target = JSON.parse(fs.readFileSync(process.env.ULTRA_EXPORTER_SD_DIR + '/' + files[0], 'utf8'))
        await s.close()
        console.log(JSON.stringify({ port: s.port, files, target, after: fs.readdirSync(process.env.ULTRA_EXPORTER_SD_DIR) }))
      })`
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], {
      env: { ...process.env, ULTRA_EXPORTER_SD_DIR: dir },
      encoding: 'utf8'
    }))
    assert.equal(out.files.length, 1)
    assert.match(out.files[0], /^ultra-\d+-\d+\.json$/)
    assert.deepEqual(out.target[0].targets, [`127.0.0.1:${out.port}`])
    assert.equal(out.target[0].labels.job, 'ultra')
    assert.deepEqual(out.after, [])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('startExporter listens on loopback unless told otherwise', async () => {
  const server = await api.startExporter({ port: 0 })
  try {
    assert.equal(server.host, '127.0.0.1')
  } finally {
    await server.close()
  }
})

test('startExporter rejects malformed options naming the parameter', async () => {
  await assert.rejects(api.startExporter({ port: -1 }), RangeError)
  await assert.rejects(api.startExporter({ port: 70000 }), /startExporter: options.port must be an integer in \[0, 65535\]/)
  await assert.rejects(api.startExporter({ port: '80' }), TypeError)
  await assert.rejects(api.startExporter({ host: 42 }), /startExporter: options.host must be a string/)
  await assert.rejects(api.startExporter({ host: 'metrics.example' }), /startExporter: options.host must be an IP address/)
  await assert.rejects(api.startExporter({ bogus: 1 }), TypeError)
  await assert.rejects(api.startExporter('127.0.0.1'), TypeError)
})

test('registerPromClient adds the ultra families to a prom-client registry beside its defaults', async () => {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry })
  const registration = api.registerPromClient(registry)
  assert.ok(registration.names.includes('ultra_build_info'))
  const cache = api.createCache({ max: 100 })
  cache.set('a', 'b')
  const text = await registry.metrics()
  assert.deepEqual(promtoolOurs(text), [])
  const names = familyNames(text)
  assert.equal(new Set(names).size, names.length, 'one HELP/TYPE per family')
  assert.ok(names.includes('process_resident_memory_bytes'), "prom-client's own families stay")
  assert.ok(names.includes('nodejs_heap_size_used_bytes'))
  for (const name of registration.names) assert.ok(names.includes(name), name)
  // Values are read at scrape time.
  const before = parseExposition(await registry.metrics()).get('ultra_cache_entries').values[0].value
  cache.set('c', 'd')
  const after = parseExposition(await registry.metrics()).get('ultra_cache_entries').values[0].value
  assert.equal(after - before, 1)
  // Registering the same families twice is refused by prom-client, and leaves the first.
  assert.throws(() => api.registerPromClient(registry), /already been registered/)
  assert.deepEqual(promtoolOurs(await registry.metrics()), [])
  registration.unregister()
  assert.ok(!familyNames(await registry.metrics()).some((n) => n.startsWith('ultra_')))
  assertArgError(() => api.registerPromClient({}), TypeError, 'registerPromClient', 'registry')
})

test('registerPromClient serves the engine\'s samples: the series of metricsText, in the table\'s order', async () => {
  const registry = new client.Registry()
  api.registerPromClient(registry)
  const order = require('../lib/families.json').families.map((f) => f.name)
  const series = (families) => [...families.values()].map((f) =>
    [f.name, f.help, f.type, f.values.map((v) => v.metricName + JSON.stringify(v.labels))])
  const fromText = parseExposition(api.metricsText())
  const fromRegistry = parseExposition(await registry.metrics())
  assert.deepEqual(series(fromRegistry), series(fromText))
  const positions = [...fromText.keys()].map((name) => order.indexOf(name))
  assert.ok(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1])), positions.join(','))
  // Values are the engine's, not zeros: one more entry shows in the next scrape.
  const cache = api.createCache({ max: 10 })
  const entries = async () => parseExposition(await registry.metrics()).get('ultra_cache_entries').values[0].value
  const before = await entries()
  cache.set('x', 'y')
  assert.equal(await entries(), before + 1)
})

test("registerPromClient families merge in prom-client's cluster AggregatorRegistry", async () => {
  const workers = [new client.Registry(), new client.Registry()]
  for (const r of workers) api.registerPromClient(r)
  const json = await Promise.all(workers.map((r) => r.getMetricsAsJSON()))
  const merged = client.AggregatorRegistry.aggregate(json)
  const text = await merged.metrics()
  assert.deepEqual(promtool(text), { status: 0, output: '' })
  const one = parseExposition(await workers[0].metrics())
  const both = parseExposition(text)
  // Build info is taken once; gauges of bytes add up over workers.
  assert.equal(both.get('ultra_build_info').values[0].value, 1)
  const entries = (fams) => fams.get('ultra_cache_entries').values[0].value
  assert.equal(entries(both), 2 * entries(one))
})

test('registerPromClient works with an OpenMetrics registry (counters without a double _total)', async () => {
  const registry = new client.Registry(client.Registry.OPENMETRICS_CONTENT_TYPE)
  api.registerPromClient(registry)
  const text = await registry.metrics()
  assert.doesNotMatch(text, /_total_total/)
  if (api.isNative) assert.match(text, /^ultra_allocator_allocations_total \d+/m)
})

test('named caches carry cache="<name>" (escaped), unnamed ones share cache="", and the series sum to the total', () => {
  const name = `labels "odd" \\ name\nend ${process.pid}`
  const cache = api.createCache({ max: 10, name })
  cache.set('a', '1')
  cache.set('b', '2')
  api.createCache({ max: 10 }).set('c', '3')
  const text = api.metricsText()
  assert.deepEqual(promtool(text), { status: 0, output: '' })
  const escaped = name.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
  assert.ok(text.split('\n').includes(`ultra_cache_entries{cache="${escaped}"} 2`), text)
  const entries = parseExposition(text).get('ultra_cache_entries').values
  assert.equal(entries[0].labels.cache, '', 'the unnamed caches come first')
  assert.equal(entries.find((v) => v.labels.cache === name).value, 2)
  const sum = entries.reduce((total, v) => total + v.value, 0)
  assert.equal(sum, api.createMemoryManager().stats().caches.entries)
})

test('beyond limits.maxCacheLabels named caches, later ones count under cache=""', () => {
  const script = `
    const u = require(${JSON.stringify(packageDir)})
    const { limits } = require(${JSON.stringify(path.join(packageDir, 'lib/config-table.json'))})
    for (let i = 0; i < limits.maxCacheLabels + 2; i++) {
      u.createCache({ max: 4, name: 'bound-' + String(i).padStart(3, '0') }).set('k', 'v')
    }
    const lines = u.metricsText().split('\\n').filter((l) => l.startsWith('ultra_cache_entries{'))
    const labels = lines.map((l) => /cache="([^"]*)"/.exec(l)[1])
    const sum = lines.reduce((total, l) => total + Number(l.split(' ')[1]), 0)
    console.log(JSON.stringify({ labels, sum, max: limits.maxCacheLabels }))`
  const out = child(script, {})
  assert.ok(out.max > 0)
  const expected = ['', ...Array.from({ length: out.max }, (_, i) => 'bound-' + String(i).padStart(3, '0'))]
  assert.deepEqual(out.labels, expected)
  assert.equal(out.sum, out.max + 2, 'the two beyond the bound are in cache=""')
})

/** Sends raw bytes on a new connection; resolves to everything received until the server closes. */
function rawExchange (port, bytes) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes))
    const chunks = []
    socket.on('data', (d) => chunks.push(d))
    socket.on('end', () => resolve(Buffer.concat(chunks)))
    socket.on('close', () => resolve(Buffer.concat(chunks)))
    socket.on('error', (e) => (e.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks)) : reject(e)))
  })
}

const statusOf = (buf) => Number(buf.toString('latin1').slice(9, 12))

test('startExporter answers 431, 414, 400 and honours gzip', async () => {
  const server = await api.startExporter({ port: 0 })
  try {
    const big = `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`
    assert.equal(statusOf(await rawExchange(server.port, big)), 431)
    const long = `GET /metrics?${'q'.repeat(3 * 1024)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`
    assert.equal(statusOf(await rawExchange(server.port, long)), 414)
    assert.equal(statusOf(await rawExchange(server.port, 'NONSENSE\r\n\r\n')), 400)
    const zipped = await rawExchange(server.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept-Encoding: gzip\r\n\r\n')
    const split = zipped.indexOf('\r\n\r\n')
    assert.match(zipped.subarray(0, split).toString('latin1').toLowerCase(), /content-encoding: gzip/)
    const { gunzipSync } = await import('node:zlib')
    const text = gunzipSync(zipped.subarray(split + 4)).toString('utf8')
    assert.deepEqual(promtool(text), { status: 0, output: '' })
  } finally {
    await server.close()
  }
})

test('close() is asynchronous: the event loop runs while a client that never reads holds a connection', async () => {
  const server = await api.startExporter({ port: 0 })
  // A client pipelining GETs without reading, and an idle kept-alive one.
  const hog = net.connect(server.port, '127.0.0.1')
  await new Promise((resolve) => hog.once('connect', resolve))
  hog.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(400))
  hog.pause()
  hog.on('error', () => {})
  const idle = net.connect(server.port, '127.0.0.1')
  await new Promise((resolve) => idle.once('connect', resolve))
  const idleClosed = new Promise((resolve) => idle.on('close', resolve))
  idle.on('error', () => {})
  const closing = server.close()
  assert.ok(closing instanceof Promise)
  // A callback queued after close() runs before it resolves: close() did not block.
  let ticked = false
  setImmediate(() => { ticked = true })
  await closing
  assert.ok(ticked, 'the event loop ran while closing')
  await idleClosed
  hog.destroy()
  assert.equal(await server.close(), undefined, 'a second close() resolves too')
})

/** Runs `script` in a child Node with `env`; returns its stdout (parsed as JSON). */
function child (script, env) {
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' }))
}

test('ULTRA_EXPORTER_MAX_CONNECTIONS caps open connections', () => {
  // Natively the listener closes the connection idle the longest to make room, the fallback
  // (node:http maxConnections) the new one: either way one of three is closed under a cap of 2.
  const script = `
    const u = require(${JSON.stringify(packageDir)})
    const net = require('node:net')
    const open = (port) => new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.on('error', () => {})
      s.once('connect', () => resolve(s))
    })
    u.startExporter({ port: 0 }).then(async (server) => {
      const conns = []
      for (let i = 0; i < 3; i++) {
        const s = await open(server.port)
        s.gone = new Promise((resolve) => s.once('close', () => resolve(i)))
        s.write('GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')
        if (i < 2) await new Promise((resolve) => s.once('data', resolve))
        s.resume()
        conns.push(s)
      }
      const first = await Promise.race(conns.map((s) => s.gone))
      const stillOpen = conns.filter((s) => !s.destroyed).length
      for (const s of conns) s.destroy()
      await server.close()
      console.log(JSON.stringify({ closedOne: first === 0 || first === 2, stillOpen }))
    })`
  assert.deepEqual(child(script, { ULTRA_EXPORTER_MAX_CONNECTIONS: '2' }), { closedOne: true, stillOpen: 2 })
  // A bad value names the variable.
  const bad = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(packageDir)}).startExporter({ port: 0 }).catch((e) => { console.log(e.message); process.exit(3) })`],
    { env: { ...process.env, ULTRA_EXPORTER_MAX_CONNECTIONS: 'lots' }, encoding: 'utf8' })
  assert.equal(bad.status, 3, bad.stdout + bad.stderr)
  assert.match(bad.stdout, /ULTRA_EXPORTER_MAX_CONNECTIONS/)
})

test('file_sd: dead processes\u2019 targets are removed at start, live ones kept, and ours removed at exit without close()', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ultra-sd-'))
  try {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' })
    const deadPid = Number(dead.stdout.trim())
    fs.writeFileSync(path.join(dir, `ultra-${deadPid}-9100.json`), '[]')
    fs.writeFileSync(path.join(dir, `ultra-${process.pid}-9101.json`), '[]') // this test's process runs
    fs.writeFileSync(path.join(dir, 'other.json'), '[]')
    const script = `
      const u = require(${JSON.stringify(packageDir)})
      const fs = require('node:fs')
      u.startExporter({ port: 0 }).then((s) => {
        console.log(JSON.stringify({ port: s.port, files: fs.readdirSync(process.env.ULTRA_EXPORTER_SD_DIR).sort() }))
        // Exits without close().
      })`
    const out = child(script, { ULTRA_EXPORTER_SD_DIR: dir })
    const mine = out.files.find((f) => f.endsWith(`-${out.port}.json`))
    assert.ok(mine, out.files.join(','))
    assert.deepEqual(out.files, [mine, 'other.json', `ultra-${process.pid}-9101.json`].sort())
    assert.deepEqual(fs.readdirSync(dir).sort(), ['other.json', `ultra-${process.pid}-9101.json`])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('startExporter takes localhost as host, bound as 127.0.0.1', async () => {
  const local = await api.startExporter({ host: 'localhost', port: 0 })
  try {
    assert.equal(local.host, '127.0.0.1')
  } finally {
    await local.close()
  }
})

test('GET /debug/pprof/heap answers 404 while heap profiling is off', async () => {
  const server = await api.startExporter({ host: '127.0.0.1', port: 0 })
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/debug/pprof/heap`)
    assert.equal(res.status, 404)
    assert.match(await res.text(), /heap profil|not found/)
  } finally {
    await server.close()
  }
})
