// ultra's blake3Hash / xxh3Hash against Node's crypto (sha256, blake2b512), @noble/hashes
// BLAKE3 (pure JS), hash-wasm BLAKE3 / XXH3-64 / XXH3-128 (WebAssembly) and @node-rs/xxhash
// (native XXH3, bigint output), on Buffers of 64 B, 1 KiB, 64 KiB and 1 MiB.
//
// ultra is shown with its default hex output and with bigint / Buffer outputs, since output
// formatting dominates small inputs. The XXH3 comparison with @node-rs/xxhash is bigint
// against bigint. hash-wasm's hashers are created once (its async init) and reused with
// init/update/digest, its fastest synchronous use.
//
//   node --expose-gc hash.mjs [--quick]

import crypto from 'node:crypto'
import { args, announce, require, runGroup, speedup, writeResults, ULTRA } from './lib/harness.mjs'
import { KIB, MIB, randomBytes, sizeLabel } from './lib/inputs.mjs'

const ultra = require(ULTRA)
const { blake3: nobleBlake3 } = await import('@noble/hashes/blake3.js')
const hashWasm = require('hash-wasm')
const { xxh3: nodeRsXxh3 } = require('@node-rs/xxhash')

const wasmBlake3 = await hashWasm.createBLAKE3()
const wasmXxh3 = await hashWasm.createXXHash3()
const wasmXxh128 = await hashWasm.createXXHash128()
const wasm = (h, data, enc) => { h.init(); h.update(data); return h.digest(enc) }

const SIZES = args.quick ? [64, KIB, 64 * KIB] : [64, KIB, 64 * KIB, MIB]

/** Every case of one size; `group` tells which target rows compare. */
function cases (data) {
  const buffer = { encoding: 'buffer' }
  const bigint = { encoding: 'bigint' }
  const b128 = { bits: 128, encoding: 'bigint' }
  const h128 = { bits: 128 }
  const list = [
    // BLAKE3 and the crypto digests it replaces
    ['ultra blake3 hex', 'ultra', () => ultra.blake3Hash(data)],
    ['ultra blake3 buffer', 'ultra', () => ultra.blake3Hash(data, buffer)],
    ['crypto sha256 hex', 'peer', () => crypto.createHash('sha256').update(data).digest('hex')],
    ['crypto blake2b512 hex', 'peer', () => crypto.createHash('blake2b512').update(data).digest('hex')],
    ['noble blake3 bytes', 'peer', () => nobleBlake3(data)],
    ['hash-wasm blake3 hex', 'peer', () => wasm(wasmBlake3, data, 'hex')],
    // XXH3
    ['ultra xxh3-64 hex', 'ultra', () => ultra.xxh3Hash(data)],
    ['ultra xxh3-64 bigint', 'ultra', () => ultra.xxh3Hash(data, bigint)],
    ['ultra xxh3-64 buffer', 'ultra', () => ultra.xxh3Hash(data, buffer)],
    ['node-rs xxh3-64 bigint', 'peer', () => nodeRsXxh3.xxh64(data)],
    ['hash-wasm xxh3-64 hex', 'peer', () => wasm(wasmXxh3, data, 'hex')],
    ['ultra xxh3-128 hex', 'ultra', () => ultra.xxh3Hash(data, h128)],
    ['ultra xxh3-128 bigint', 'ultra', () => ultra.xxh3Hash(data, b128)],
    ['node-rs xxh3-128 bigint', 'peer', () => nodeRsXxh3.xxh128(data)],
    ['hash-wasm xxh3-128 hex', 'peer', () => wasm(wasmXxh128, data, 'hex')]
  ]
  const vs = {
    blake3: ['crypto sha256 hex', 'crypto blake2b512 hex', 'noble blake3 bytes', 'hash-wasm blake3 hex'],
    'xxh3-64': ['node-rs xxh3-64 bigint', 'hash-wasm xxh3-64 hex'],
    'xxh3-128': ['node-rs xxh3-128 bigint', 'hash-wasm xxh3-128 hex']
  }
  return list.map(([name, role, fn]) => ({ name, role, fn, bytes: data.length, vs: vs[name.split(' ')[1]] }))
}

/** Same answers from every implementation before anything is timed. */
function crossCheck (data) {
  const b3 = ultra.blake3Hash(data)
  const ok = [
    Buffer.from(nobleBlake3(data)).toString('hex') === b3,
    wasm(wasmBlake3, data, 'hex') === b3,
    ultra.xxh3Hash(data, { encoding: 'bigint' }) === nodeRsXxh3.xxh64(data),
    ultra.xxh3Hash(data) === wasm(wasmXxh3, data, 'hex'),
    ultra.xxh3Hash(data, { bits: 128, encoding: 'bigint' }) === nodeRsXxh3.xxh128(data),
    ultra.xxh3Hash(data, { bits: 128 }) === wasm(wasmXxh128, data, 'hex')
  ]
  if (!ok.every(Boolean)) throw new Error(`digests disagree at ${data.length} bytes: ${ok}`)
}

function targets (groups) {
  const out = []
  const at = (size, name) => groups.find((g) => g.size === size).cases.find((c) => c.name === name)
  if (SIZES.includes(MIB)) {
    const r = speedup(at(MIB, 'ultra blake3 hex'), at(MIB, 'crypto sha256 hex'))
    out.push({ target: 'BLAKE3 of 1 MiB ≥ 4× crypto sha256', ratio: r, met: r >= 4 })
  }
  for (const size of SIZES) {
    for (const bits of ['64', '128']) {
      const r = speedup(at(size, `ultra xxh3-${bits} bigint`), at(size, `node-rs xxh3-${bits} bigint`))
      // "No slower" within the run's noise is not claimed: the ratio itself is reported.
      out.push({ target: `XXH3-${bits} bigint no slower than @node-rs/xxhash at ${sizeLabel(size)}`, ratio: r, met: r >= 1 })
    }
  }
  console.log('\ntargets (ratio = ultra speed-up over the peer)')
  for (const t of out) console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ${t.ratio.toFixed(3)}×`)
  return out
}

announce('hash: ultra vs crypto, @noble/hashes, hash-wasm, @node-rs/xxhash')
const groups = []
for (const size of SIZES) {
  const data = randomBytes(size)
  crossCheck(data)
  const g = await runGroup(`hash ${sizeLabel(size)}`, cases(data))
  g.size = size
  groups.push(g)
}
writeResults('hash', { sizes: SIZES, groups, targets: targets(groups) })
