// Native heap profiles: heapProfile, setHeapProfiling, heapProfileStatus. Profiles taken in a
// child process started with ULTRA_HEAP_PROFILE=1 after a known allocation pattern are decoded
// with pprof-format and must attribute the bytes to the cache's insert path. On the fallback the
// API says there is no native heap. Native-only tests are skipped when the addon is not in use.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { Profile } from 'pprof-format'
import { api, assertArgError, childEnv, packageDir, runNode } from './support.mjs'

const require = createRequire(import.meta.url)
const skip = !api.isNative && 'the native addon is not in use'

/**
 * Decodes a gzipped pprof profile into its sample type and samples, each sample as its value
 * and its frames (innermost first) `{ name, file, line }`.
 * @param {Buffer} gz
 */
function decode (gz) {
  const p = Profile.decode(gunzipSync(gz))
  const s = (i) => p.stringTable.strings[Number(i)]
  const functions = new Map(p.function.map((f) => [Number(f.id), f]))
  const locations = new Map(p.location.map((l) => [Number(l.id), l]))
  const samples = p.sample.map((sample) => ({
    value: Number(sample.value[0]),
    frames: sample.locationId.flatMap((id) => locations.get(Number(id)).line.map((line) => {
      const f = functions.get(Number(line.functionId))
      return { name: s(f.name), file: s(f.filename), line: Number(line.line) }
    }))
  }))
  return {
    sampleType: p.sampleType.map((t) => [s(t.type), s(t.unit)]),
    samples,
    total: samples.reduce((sum, x) => sum + x.value, 0),
    /** Bytes of the samples with a frame that satisfies `is` (cumulative, as `pprof -cum`). */
    under: (is) => samples.filter((x) => x.frames.some(is)).reduce((sum, x) => sum + x.value, 0)
  }
}

/**
 * A frame of the native cache's insert path: the engine's `set` in ultra-core's cache/ modules (the
 * release build names inlined frames without their module path; the file tells them apart).
 */
const isInsertPath = (f) => /(^|::)set(_aged)?\b/.test(f.name) && /core\/src\/cache\/\w+\.rs$/.test(f.file)
/** A frame of the tracking allocator (alloc/src/tracking.rs). */
const isTracker = (f) => /alloc\/src\/tracking\.rs$/.test(f.file)

/** Caches `count` entries of `bytes`-byte Buffers in a fresh child with `env`, then prints the profile (base64) and figures. */
function profileAfterCaching (env, count, bytes) {
  return runNode(`
    const cache = ultra.createCache({ max: ${count} })
    const value = Buffer.alloc(${bytes}, 7)
    for (let i = 0; i < ${count}; i++) cache.set('k' + i, value)
    const status = ultra.heapProfileStatus()
    const profile = ultra.heapProfile()
    console.log(JSON.stringify({ status, size: cache.size, profile: profile.toString('base64'), isBuffer: Buffer.isBuffer(profile) }))
  `, env)
}

test('with profiling off the API says so, natively and on the fallback', () => {
  const status = api.heapProfileStatus()
  assert.equal(typeof status.available, 'boolean')
  assert.equal(status.available, api.isNative)
  assert.equal(status.active, false)
  assert.throws(() => api.heapProfile(), (error) => {
    assert.equal(error.constructor, RangeError)
    assert.equal(error.code, api.isNative ? 'ULTRA_HEAP_PROFILE_OFF' : 'ULTRA_HEAP_PROFILE_UNAVAILABLE')
    assert.match(error.message, api.isNative ? /ULTRA_HEAP_PROFILE=1/ : /fallback/)
    return true
  })
  if (api.isNative) {
    assert.equal(status.sampleBytes, 512 * 1024)
  } else {
    assert.equal(status.sampleBytes, null)
    assert.throws(() => api.setHeapProfiling(true), { name: 'RangeError', code: 'ULTRA_HEAP_PROFILE_UNAVAILABLE' })
  }
})

test('setHeapProfiling checks its argument', () => {
  for (const bad of [1, 'yes', undefined, null, {}]) {
    assertArgError(() => api.setHeapProfiling(bad), TypeError, 'setHeapProfiling', 'on')
  }
})

test('the engine called directly with junk only ever throws TypeError or RangeError', { skip }, () => {
  const engine = require('../native.js')
  const junk = [undefined, null, 0, 1, 'on', {}, [], Symbol('s'), 1n, () => true, Buffer.alloc(1)]
  for (const name of ['heapProfile', 'setHeapProfiling', 'heapProfileStatus']) {
    for (const a of junk) {
      for (const b of [undefined, true, false]) {
        try {
          engine[name](a, b)
        } catch (error) {
          assert.ok(error instanceof TypeError || error instanceof RangeError, `${name}: ${error}`)
          assert.ok(!/internal error|panick?ed/i.test(error.message), `${name}: ${error.message}`)
        }
      }
    }
  }
  engine.setHeapProfiling(false)
  assert.equal(engine.heapProfileStatus().active, false)
})

test('bad ULTRA_HEAP_PROFILE values are refused with the variable named', () => {
  for (const [name, value] of [['ULTRA_HEAP_PROFILE', 'sure'], ['ULTRA_HEAP_PROFILE_SAMPLE_BYTES', '0'], ['ULTRA_HEAP_PROFILE_SAMPLE_BYTES', '1MB']]) {
    const out = runNode(`
      try { ultra.heapProfileStatus(); console.log(JSON.stringify(null)) } catch (e) { console.log(JSON.stringify({ name: e.constructor.name, message: e.message })) }
    `, { [name]: value })
    assert.equal(out?.name, 'RangeError', `${name}=${value}`)
    assert.ok(out.message.includes(`${name}="${value}"`), out.message)
  }
})

test('a profile after caching 64 MiB attributes it to the cache insert path', { skip }, () => {
  const count = 65536
  const bytes = 1024
  const out = profileAfterCaching({ ULTRA_HEAP_PROFILE: '1', ULTRA_HEAP_PROFILE_SAMPLE_BYTES: '64KiB' }, count, bytes)
  assert.equal(out.size, count)
  assert.deepEqual(out.status, { available: true, active: true, sampleBytes: 65536 })
  assert.ok(out.isBuffer)
  const p = decode(Buffer.from(out.profile, 'base64'))
  assert.deepEqual(p.sampleType, [['inuse_space', 'bytes']])
  const cached = count * bytes
  const insert = p.under(isInsertPath)
  // 64 KiB sampling of 64 MiB: ~1 000 samples, a few percent of error; the entries hold their
  // keys and bookkeeping too, so the insert path may carry somewhat more than the values.
  assert.ok(Math.abs(p.total - cached) <= 0.3 * cached, `profile total ${p.total} B for ${cached} B cached`)
  assert.ok(insert >= 0.7 * p.total, `the insert path holds ${insert} of ${p.total} B`)
  // Symbolized: function names with files and lines, through the tracking allocator's frames.
  const frame = p.samples.flatMap((x) => x.frames).find(isInsertPath)
  assert.ok(frame.line > 0, JSON.stringify(frame))
  assert.ok(p.under(isTracker) >= 0.7 * p.total, 'the stacks pass through the tracking allocator')
})

test('sampling switches on and off at run time', { skip }, () => {
  const out = runNode(`
    const before = ultra.heapProfileStatus().active
    ultra.setHeapProfiling(true)
    const cache = ultra.createCache({ max: 20000 })
    for (let i = 0; i < 20000; i++) cache.set('k' + i, Buffer.alloc(1024, 1))
    const on = ultra.heapProfile().length
    ultra.setHeapProfiling(false)
    let code = null
    try { ultra.heapProfile() } catch (e) { code = e.code }
    console.log(JSON.stringify({ before, on, code, after: ultra.heapProfileStatus().active }))
  `)
  assert.deepEqual({ ...out, on: out.on > 0 }, { before: false, on: true, code: 'ULTRA_HEAP_PROFILE_OFF', after: false })
})

test('profiles read while worker threads allocate: no deadlock, no crash, the process goes on', { skip }, () => {
  const out = runNode(`
    const { Worker } = require('node:worker_threads')
    const src = 'const ultra = require(' + JSON.stringify(${JSON.stringify(packageDir)}) + ');' +
      'const { parentPort } = require("node:worker_threads");' +
      'const cache = ultra.createCache({ max: 5000 });' +
      'let i = 0; let stop = false; parentPort.on("message", () => { stop = true });' +
      'function round () { for (let j = 0; j < 2000; j++) cache.set("w" + (i++ % 20000), Buffer.alloc(64 + (i % 4096))); if (stop) { parentPort.postMessage(i); parentPort.close() } else setImmediate(round) }' +
      'parentPort.postMessage(0); round()'
    const workers = [0, 1].map(() => new Worker(src, { eval: true }))
    Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve)))).then(async () => {
      const sizes = []
      for (let k = 0; k < 5; k++) sizes.push(ultra.heapProfile().length)
      const rounds = await Promise.all(workers.map((w) => new Promise((resolve) => { w.once('message', resolve); w.postMessage('stop') })))
      console.log(JSON.stringify({ sizes, rounds }))
    })
  `, { ULTRA_HEAP_PROFILE: '1', ULTRA_HEAP_PROFILE_SAMPLE_BYTES: '16KiB' })
  assert.equal(out.sizes.length, 5)
  for (const size of out.sizes) assert.ok(size > 0)
  for (const r of out.rounds) assert.ok(r > 0)
})

test('the addon loads with process.dlopen with the profiler compiled in', { skip }, () => {
  const addon = path.join(packageDir, 'ultra-node.linux-x64-gnu.node')
  const out = execFileSync(process.execPath, ['-e', `
    const m = { exports: {} }
    process.dlopen(m, ${JSON.stringify(addon)})
    m.exports.setHeapProfiling(true)
    console.log(JSON.stringify(m.exports.heapProfileStatus()))
  `], { env: childEnv({}), encoding: 'utf8' })
  assert.deepEqual(JSON.parse(out), { available: true, active: true, sampleBytes: 524288 })
})
