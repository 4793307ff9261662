import assert from 'node:assert/strict'
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { childEnv, forcedFallback, packageDir, runNode } from './support.mjs'

const require = createRequire(import.meta.url)
const repoDir = path.resolve(packageDir, '..')
/** The shared table of good and bad inputs, also run by `cargo test -p ultra-alloc --test config_table`. */
const CASES = JSON.parse(readFileSync(path.join(repoDir, 'alloc/tests/config_cases.json'), 'utf8'))
const TABLE = require('../lib/config-table.json')
const fallbackConfig = require('../fallback/config.js')

const DEFAULTS = Object.fromEntries(TABLE.variables.map((v) => [v.key, v.default]))
const printConfig = 'console.log(JSON.stringify(ultra.initMemorySubsystem()))'

/**
 * Runs `code` with `env` and returns the error it died of.
 * @param {string} code
 * @param {Record<string, string>} env
 */
function failureOf (code, env) {
  const result = spawnSync(process.execPath, ['-e', `const ultra = require(${JSON.stringify(packageDir)}); ${code}`], {
    env: childEnv(env),
    encoding: 'utf8'
  })
  assert.notEqual(result.status, 0, 'the process fails')
  return result.stderr
}

/**
 * Runs `code` on one engine (`native` or `fallback`, whichever this suite runs on)
 * in a fresh process with `env`; resolves to what it printed as JSON.
 * @param {'native' | 'fallback'} engine
 * @param {string} code
 * @param {Record<string, string>} env
 */
async function onEngine (engine, code, env) {
  const script = `const ultra = require(${JSON.stringify(packageDir)});
    if (ultra.isNative !== ${engine === 'native'}) throw new Error('engine: ' + ultra.isNative + ' ' + ultra.loadError)
    ${code}`
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
    env: { ...childEnv(env), ULTRA_FORCE_FALLBACK: engine === 'native' ? '0' : '1' },
    encoding: 'utf8'
  })
  return JSON.parse(stdout)
}

/** What a child prints for a case: the effective configuration, or the error. */
const RESOLVE = `
  let out
  try { out = { config: ultra.initMemorySubsystem(JSON.parse(process.env.CASE_OPTIONS)) } } catch (e) { out = { error: e.constructor.name + ': ' + e.message } }
  console.log(JSON.stringify(out))`

/** @param {string} text @returns {string[]} the `ultra_config_*` lines, HELP and TYPE included */
function configLines (text) {
  return text.split('\n').filter((line) => /^(# (HELP|TYPE) )?ultra_config_/.test(line))
}

test('defaults without ULTRA_* variables are the table\'s (ULTRA_POOL_MAX 8)', () => {
  assert.deepEqual(runNode(printConfig), DEFAULTS)
  assert.equal(DEFAULTS.poolMax, 8)
  assert.deepEqual(CASES.good[0].expect, DEFAULTS, 'the first shared case lists every default')
})

test('the shared table of inputs through the fallback\'s parser', () => {
  for (const c of CASES.good) {
    const config = fallbackConfig.resolve(c.env, c.options ?? {})
    for (const [key, want] of Object.entries(c.expect)) assert.equal(config[key], want, `${JSON.stringify(c)}: ${key}`)
  }
  for (const c of CASES.bad) {
    assert.throws(() => fallbackConfig.resolve(c.env, c.options ?? {}), (e) => {
      assert.equal(e.constructor, RangeError)
      assert.equal(e.message, c.error, JSON.stringify(c))
      return true
    })
  }
})

// Through the engine this suite runs on (`npm test`: native, `npm run test:fallback`: fallback).
for (const engine of [forcedFallback ? 'fallback' : 'native']) {
  test(`the shared table of inputs through the ${engine} engine's initMemorySubsystem`, async () => {
    const cases = [...CASES.good, ...CASES.bad]
    const results = []
    // Four children at a time.
    for (let i = 0; i < cases.length; i += 4) {
      results.push(...await Promise.all(cases.slice(i, i + 4).map((c) =>
        onEngine(engine, RESOLVE, { ...c.env, CASE_OPTIONS: JSON.stringify(c.options ?? {}) }))))
    }
    cases.forEach((c, i) => {
      const got = results[i]
      if (c.error !== undefined) {
        assert.equal(got.error, `RangeError: ${c.error}`, JSON.stringify(c))
      } else {
        assert.equal(got.error, undefined, JSON.stringify(c))
        for (const [key, want] of Object.entries(c.expect)) assert.equal(got.config[key], want, `${JSON.stringify(c)}: ${key}`)
        assert.deepEqual(Object.keys(got.config), Object.keys(DEFAULTS), 'every variable, in table order')
      }
    })
  })
}

/** Builds (if need be) and returns the path of the `ultra-exporter` binary. */
function exporterBinary () {
  const out = execFileSync('cargo', ['build', '--quiet', '-p', 'ultra-exporter', '--bin', 'ultra-exporter', '--message-format=json'], {
    cwd: repoDir,
    encoding: 'utf8',
    maxBuffer: 64 << 20
  })
  const artifact = out.split('\n').filter(Boolean).map((line) => JSON.parse(line))
    .find((m) => m.reason === 'compiler-artifact' && m.target?.name === 'ultra-exporter' && m.executable)
  assert.ok(artifact, 'cargo built the ultra-exporter binary')
  return artifact.executable
}

/**
 * Starts the exporter binary (no workload) with `env`, scrapes it once, stops it.
 * @param {string} binary
 * @param {Record<string, string>} env
 * @returns {Promise<string>} the metrics text
 */
async function scrapeBinary (binary, env) {
  const child = spawn(binary, ['--rate', '0', '--quiet', '--duration', '60s'], {
    env: { ...childEnv(env), ULTRA_EXPORTER_ADDR: '127.0.0.1:0' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  try {
    const url = await new Promise((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (chunk) => {
        out += chunk
        const m = /serving metrics on (\S+)/.exec(out)
        if (m) resolve(m[1])
      })
      child.once('exit', (code) => reject(new Error(`ultra-exporter exited with ${code}: ${out}`)))
    })
    const response = await fetch(url)
    assert.equal(response.status, 200)
    return await response.text()
  } finally {
    child.kill()
  }
}

const METRIC_ENV = {
  ULTRA_POOL_MAX: '3',
  ULTRA_POOL_BUFFER_BYTES: '4KiB',
  ULTRA_CACHE_MAX_BYTES: '1MiB',
  ULTRA_CACHE_TTL_MS: '2500',
  ULTRA_JEMALLOC_DIRTY_DECAY_MS: '-1',
  ULTRA_JEMALLOC_BACKGROUND_THREAD: 'yes',
  ULTRA_TRIM_INTERVAL_MS: '1500'
}

test('native, fallback and the ultra-exporter binary show the same ultra_config_* for the same environment, and after options', async () => {
  const binary = exporterBinary()
  const text = 'console.log(JSON.stringify(ultra.metricsText()))'
  const withOptions = 'ultra.initMemorySubsystem({ poolMax: 5, cacheMaxEntries: 7, jemallocBackgroundThread: false }); ' + text
  const optionsAsEnv = { ...METRIC_ENV, ULTRA_POOL_MAX: '5', ULTRA_CACHE_MAX_ENTRIES: '7', ULTRA_JEMALLOC_BACKGROUND_THREAD: 'off' }
  const [native, fallback, exporter, nativeOptions, fallbackOptions, exporterOptions, nativeDefaults, exporterDefaults] =
    await Promise.all([
      onEngine('native', text, METRIC_ENV),
      onEngine('fallback', text, METRIC_ENV),
      scrapeBinary(binary, METRIC_ENV),
      onEngine('native', withOptions, METRIC_ENV),
      onEngine('fallback', withOptions, METRIC_ENV),
      scrapeBinary(binary, optionsAsEnv),
      onEngine('native', text, {}),
      scrapeBinary(binary, {})
    ])
  const lines = configLines(exporter)
  assert.ok(lines.includes('ultra_config_pool_max_idle_buffers 3'), lines.join('\n'))
  assert.ok(lines.includes('ultra_config_cache_ttl_seconds 2.5'), lines.join('\n'))
  assert.ok(lines.includes('ultra_config_jemalloc_dirty_decay_seconds -1'), lines.join('\n'))
  assert.ok(!lines.some((l) => l.startsWith('ultra_config_cache_max_entries')), 'unset: absent')
  assert.deepEqual(configLines(native), lines, 'native')
  assert.deepEqual(configLines(fallback), lines, 'fallback')

  const optionLines = configLines(exporterOptions)
  assert.ok(optionLines.includes('ultra_config_pool_max_idle_buffers 5') && optionLines.includes('ultra_config_cache_max_entries 7'))
  assert.deepEqual(configLines(nativeOptions), optionLines, 'native after initMemorySubsystem(options)')
  assert.deepEqual(configLines(fallbackOptions), optionLines, 'fallback after initMemorySubsystem(options)')

  assert.deepEqual(configLines(nativeDefaults), configLines(exporterDefaults), 'defaults')
  assert.ok(configLines(exporterDefaults).includes('ultra_config_pool_max_idle_buffers 8'))
})

test('a bad variable is refused in the same words by native, fallback and the ultra-exporter binary, on every path', async () => {
  const binary = exporterBinary()
  const env = { ULTRA_POOL_MAX: 'many' }
  const expected = 'invalid ULTRA_POOL_MAX="many": expected an integer in [0, 1048576]'
  const binaryRun = spawnSync(binary, ['--rate', '0', '--duration', '1s'], { env: childEnv(env), encoding: 'utf8' })
  assert.equal(binaryRun.status, 2)
  assert.equal(binaryRun.stderr.trim(), `ultra-exporter: ${expected}`)
  const paths = {
    initMemorySubsystem: 'ultra.initMemorySubsystem()',
    metricsText: 'ultra.metricsText()',
    createObjectPool: 'ultra.createObjectPool()',
    createMemoryArena: 'ultra.createMemoryArena()'
  }
  for (const engine of ['native', 'fallback']) {
    for (const [name, call] of Object.entries(paths)) {
      const got = await onEngine(engine, `let out; try { ${call}; out = 'no error' } catch (e) { out = e.constructor.name + ': ' + e.message } console.log(JSON.stringify(out))`, env)
      assert.equal(got, `RangeError: ${expected}`, `${engine} ${name}`)
    }
    const started = await onEngine(engine, `ultra.startExporter({ port: 0 }).then((s) => { console.log(JSON.stringify('started')); return s.close() }, (e) => console.log(JSON.stringify(e.constructor.name + ': ' + e.message)))`, env)
    assert.equal(started, `RangeError: ${expected}`, `${engine} startExporter`)
  }
})

test('the default exporter address comes from the effective configuration', async () => {
  for (const engine of ['native', 'fallback']) {
    const got = await onEngine(engine, `
      const config = ultra.initMemorySubsystem()
      ultra.startExporter().then(async (s) => { console.log(JSON.stringify({ addr: config.exporterAddr, host: s.host, port: s.port })); await s.close() })`,
    { ULTRA_EXPORTER_ADDR: '127.0.0.1:0' })
    assert.equal(got.addr, '127.0.0.1:0', engine)
    assert.equal(got.host, '127.0.0.1', engine)
    assert.ok(got.port > 0, engine)
  }
})

test('an invalid variable is an error naming it, its value and what was expected', () => {
  const cases = [
    ['ULTRA_POOL_MAX', 'abc', /RangeError: invalid ULTRA_POOL_MAX="abc": expected an integer in \[0, 1048576\]/],
    ['ULTRA_POOL_BUFFER_BYTES', '16KB', /RangeError: invalid ULTRA_POOL_BUFFER_BYTES="16KB": expected a size in bytes in \[1, 4294967296\], optionally with a B, KiB, MiB or GiB suffix/],
    ['ULTRA_JEMALLOC_BACKGROUND_THREAD', 'maybe', /RangeError: invalid ULTRA_JEMALLOC_BACKGROUND_THREAD="maybe": expected one of 1, 0, true, false, on, off, yes, no/]
  ]
  for (const [name, value, expected] of cases) {
    assert.match(failureOf('ultra.initMemorySubsystem()', { [name]: value }), expected, name)
  }
})

test('explicit options override the environment', () => {
  const config = runNode('console.log(JSON.stringify(ultra.initMemorySubsystem({ poolMax: 3, jemallocBackgroundThread: false })))', {
    ULTRA_POOL_MAX: '9',
    ULTRA_JEMALLOC_BACKGROUND_THREAD: '1'
  })
  assert.equal(config.poolMax, 3)
  assert.equal(config.jemallocBackgroundThread, false)
})

test('a chunk larger than the arena limit is refused, from the environment or an option', () => {
  assert.match(failureOf('ultra.initMemorySubsystem()', { ULTRA_ARENA_CHUNK_BYTES: '2MiB', ULTRA_ARENA_LIMIT_BYTES: '1MiB' }),
    /RangeError: invalid ULTRA_ARENA_CHUNK_BYTES="2097152": expected at most ULTRA_ARENA_LIMIT_BYTES \(1048576\)/)
  assert.match(failureOf('ultra.initMemorySubsystem({ arenaLimitBytes: 1024 })', {}),
    /RangeError: invalid ULTRA_ARENA_CHUNK_BYTES="65536": expected at most ULTRA_ARENA_LIMIT_BYTES \(1024\)/)
})

test('the address and file_sd folder are part of the configuration, not options', () => {
  assert.match(failureOf('ultra.initMemorySubsystem({ exporterAddr: "127.0.0.1:0" })', {}),
    /TypeError: initMemorySubsystem: options must have only the keys poolInitial, .*trimIntervalMs, got key "exporterAddr"/)
})

test('initMemorySubsystem is idempotent and refuses to change a value in effect', () => {
  const result = runNode(`
    const first = ultra.initMemorySubsystem({ poolMax: 5 })
    const again = ultra.initMemorySubsystem()
    const same = ultra.initMemorySubsystem({ poolMax: 5 })
    let error
    try { ultra.initMemorySubsystem({ poolMax: 6 }) } catch (e) { error = e.constructor.name + ': ' + e.message }
    console.log(JSON.stringify({ first, again, same, error }))
  `)
  assert.equal(result.first.poolMax, 5)
  assert.deepEqual(result.again, result.first)
  assert.deepEqual(result.same, result.first)
  assert.equal(result.error, 'RangeError: initMemorySubsystem: options.poolMax must be the value in effect (5) once the memory subsystem is initialised, got 6')
})

test('metricsText() fixes the configuration as the first call that needs it', () => {
  const result = runNode(`
    const before = ultra.metricsText().split('\\n').find((l) => l.startsWith('ultra_config_pool_max_idle_buffers '))
    let error
    try { ultra.initMemorySubsystem({ poolMax: 6 }) } catch (e) { error = e.message }
    console.log(JSON.stringify({ before, error, config: ultra.initMemorySubsystem() }))
  `, { ULTRA_POOL_MAX: '4' })
  assert.equal(result.before, 'ultra_config_pool_max_idle_buffers 4')
  assert.match(result.error, /options\.poolMax must be the value in effect \(4\)/)
  assert.equal(result.config.poolMax, 4)
})

test('factories take their defaults from the configuration', () => {
  const result = runNode(`
    const pool = ultra.createObjectPool()
    const cache = ultra.createCache()
    for (let i = 0; i < 5; i++) cache.set('k' + i, 'v')
    const arena = ultra.createMemoryArena()
    arena.allocBuffer(1)
    console.log(JSON.stringify({ acquired: pool.acquire().length, idle: pool.stats().idle, entries: cache.size, arena: arena.stats() }))
  `, { ULTRA_POOL_BUFFER_BYTES: '4KiB', ULTRA_POOL_INITIAL: '2', ULTRA_CACHE_MAX_ENTRIES: '3', ULTRA_ARENA_CHUNK_BYTES: '8KiB', ULTRA_ARENA_LIMIT_BYTES: '1MiB' })
  assert.equal(result.acquired, 4096)
  assert.equal(result.idle, 1, 'two created up front, one acquired')
  assert.equal(result.entries, 3)
  assert.equal(result.arena.limitBytes, 1024 * 1024)
  assert.ok(result.arena.reservedBytes >= 1 && result.arena.reservedBytes <= 1024 * 1024)
})

test('a cache without any bound needs a ULTRA_CACHE_* default', () => {
  assert.match(failureOf('ultra.createCache()', {}), /RangeError: createCache: options must be given at least one bound/)
})
