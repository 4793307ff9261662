// The native addon against ultra-node's own pure-JS fallback, API by API, in one process:
// the fallback is a second instance of the package loaded with ULTRA_FORCE_FALLBACK=1 (see
// loadUltraBoth in lib/harness.mjs), so both run side by side under the same load.
//
// Ratios are the native speed-up over the fallback (> 1×: native faster).
//
//   node --expose-gc fallback.mjs [--quick]

import { announce, args, loadUltraBoth, runGroup, writeResults } from './lib/harness.mjs'
import { KIB, MIB, cacheKeys, jsonDocument, randomBytes, sizeLabel, stringValue } from './lib/inputs.mjs'

const { native, fallback } = loadUltraBoth()
const engines = { native, fallback }
const N = args.quick ? 1000 : 10_000

function both (make) {
  return Object.entries(engines).map(([name, api]) => ({
    name,
    role: name === 'native' ? 'ultra' : 'peer',
    fn: make(api)
  }))
}

announce('fallback: native addon vs the pure-JS fallback')
if (!native.isNative) console.log('NOTE: the native addon did not load; both columns are the fallback')
const groups = []
const run = async (name, make, extra = {}) => {
  const g = await runGroup(name, both(make).map((c) => ({ ...c, ...extra })))
  groups.push(g)
}

// cache
const keys = cacheKeys(2 * N)
const values = Array.from({ length: 256 }, (_, i) => stringValue(100, i))
const filled = (api) => {
  const c = api.createCache({ max: N })
  for (let i = 0; i < N; i++) c.set(keys[i], values[i & 255])
  return c
}
await run('cache get-hit (string values)', (api) => {
  const c = filled(api)
  let i = 0
  return () => { i = (i + 1) % N; return c.get(keys[i]) }
})
await run('cache get-miss', (api) => {
  const c = filled(api)
  let i = 0
  return () => { i = (i + 1) % N; return c.get(keys[N + i]) }
})
await run('cache set-evict (string values)', (api) => {
  const c = filled(api)
  let i = N
  return () => { i = (i + 1) % (2 * N); c.set(keys[i], values[i & 255]) }
})

// hashing
for (const size of args.quick ? [64, KIB] : [64, KIB, 64 * KIB, MIB]) {
  const data = randomBytes(size)
  await run(`blake3Hash hex ${sizeLabel(size)}`, (api) => () => api.blake3Hash(data), { bytes: size })
  await run(`xxh3Hash bigint ${sizeLabel(size)}`, (api) => () => api.xxh3Hash(data, { encoding: 'bigint' }), { bytes: size })
}

// JSON
const doc = jsonDocument(64 * KIB)
const input = doc.buffer
for (const [op, call] of [
  ['validateJson', (api) => () => api.validateJson(input)],
  ['parseJson', (api) => () => api.parseJson(input)],
  ['jsonPointer', (api) => () => api.jsonPointer(input, doc.pointer)],
  ['minifyJson', (api) => () => api.minifyJson(input)]
]) {
  await run(`${op} 64 KiB Buffer`, call, { bytes: input.length })
}

writeResults('fallback', { nativeLoaded: native.isNative, groups })
