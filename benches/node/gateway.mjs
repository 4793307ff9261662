// A gateway's per-request cache work, ultra against the JS stack it replaces, side by side in
// one process (issue 13's target bench):
//
// - hit path: get a ~1 KiB JSON body by URL and ETag it — ultra: `cache.get(url)` (a Buffer)
//   + `xxh3Hash(body, { encoding: 'bigint' })`; JS: lru-cache 11 `get` + `crypto` sha256 hex;
// - miss path: validate the upstream body, store it, ETag it — ultra: `validateJson(body)` +
//   `cache.set` + XXH3; JS: `JSON.parse(body)` + `set` + sha256.
//
// Both caches hold 10 000 entries of the same bodies. Digests and hit results are checked
// before timing. Results: results/gateway.json.
//
//   node --expose-gc gateway.mjs [--quick] [--rounds N] [--time MS]

import crypto from 'node:crypto'
import { announce, args, require, runGroup, speedup, ULTRA, writeResults } from './lib/harness.mjs'
import { jsonDocument, key } from './lib/inputs.mjs'

announce('gateway: ultra vs lru-cache + crypto + JSON.parse, per request')
const ultra = require(ULTRA)
const { LRUCache } = require('lru-cache')

const N = args.quick ? 200 : 10_000
const body = jsonDocument(1024).buffer
const at = body.indexOf('ultra-benches')
const bodies = Array.from({ length: N }, (_, i) => {
  const b = Buffer.from(body)
  b.write(String(i).padStart(8, '0'), at) // distinct bodies, still valid JSON
  return b
})
const urls = Array.from({ length: N }, (_, i) => key(i))

const uc = ultra.createCache({ max: N })
const lc = new LRUCache({ max: N })
for (let i = 0; i < N; i++) {
  uc.set(urls[i], bodies[i])
  lc.set(urls[i], bodies[i])
}
const XXH = { encoding: 'bigint' }
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex')

// Check before timing: both paths give the stored bodies and well-formed ETags.
for (let i = 0; i < N; i += Math.max(1, N >> 4)) {
  if (!uc.get(urls[i]).equals(bodies[i]) || lc.get(urls[i]) !== bodies[i]) throw new Error('hit mismatch')
  if (typeof ultra.xxh3Hash(bodies[i], XXH) !== 'bigint' || sha(bodies[i]).length !== 64) throw new Error('etag')
  if (!ultra.validateJson(bodies[i]) || typeof JSON.parse(bodies[i]) !== 'object') throw new Error('invalid body')
}

let i = 0
const next = () => (i = (i + 1) % N)
const hit = await runGroup('hit: get ~1 KiB body + ETag', [
  { name: 'ultra', role: 'ultra', fn: () => { const b = uc.get(urls[next()]); return ultra.xxh3Hash(b, XXH) } },
  { name: 'lru-cache + sha256', fn: () => { const b = lc.get(urls[next()]); return sha(b) } }
])

const missU = ultra.createCache({ max: N })
const missL = new LRUCache({ max: N })
const miss = await runGroup('miss: validate + set + ETag', [
  {
    name: 'ultra',
    role: 'ultra',
    fn: () => { const k = next(); const b = bodies[k]; if (!ultra.validateJson(b)) throw new Error('invalid'); missU.set(urls[k], b); return ultra.xxh3Hash(b, XXH) }
  },
  {
    name: 'lru-cache + JSON.parse + sha256',
    fn: () => { const k = next(); const b = bodies[k]; JSON.parse(b); missL.set(urls[k], b); return sha(b) }
  }
])

const targets = [
  { target: 'hit path ≥ ×1.0 the JS stack', ratio: speedup(hit.cases[0], hit.cases[1]), met: speedup(hit.cases[0], hit.cases[1]) >= 1 },
  { target: 'miss path ≥ ×3 the JS stack', ratio: speedup(miss.cases[0], miss.cases[1]), met: speedup(miss.cases[0], miss.cases[1]) >= 3 }
]
console.log('\ntargets')
for (const t of targets) console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ratio ${t.ratio.toFixed(3)}`)
writeResults('gateway', { entries: N, bodyBytes: body.length, groups: [hit, miss], targets })
