import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { xxhash128, xxhash3 } from 'hash-wasm'
import { api, oraclesDir, vectorInput } from './support.mjs'

const { blake3Hash, createBlake3Hasher, xxh3Hash, createXxh3Hasher } = api

const vectors = JSON.parse(fs.readFileSync(path.join(oraclesDir, 'blake3/test_vectors.json'), 'utf8'))
const key = Buffer.from(vectors.key, 'ascii')
const context = vectors.context_string

/**
 * Feeds `input` to a hasher in uneven chunks.
 * @param {{ update(data: Uint8Array): unknown }} hasher
 * @param {Buffer} input
 */
function feed (hasher, input) {
  for (let at = 0, step = 1; at < input.length; at += step, step = step * 3 + 1) {
    hasher.update(input.subarray(at, at + step))
  }
  return hasher
}

test('BLAKE3 official vectors: hash, keyed_hash and derive_key, with extended output', () => {
  assert.equal(vectors.cases.length, 35)
  for (const { input_len: length, hash, keyed_hash: keyed, derive_key: derived } of vectors.cases) {
    const input = vectorInput(length)
    const extended = hash.length / 2
    assert.equal(blake3Hash(input), hash.slice(0, 64), `hash ${length}`)
    assert.equal(blake3Hash(input, { length: extended }), hash, `hash xof ${length}`)
    assert.equal(blake3Hash(input, { key }), keyed.slice(0, 64), `keyed ${length}`)
    assert.equal(blake3Hash(input, { key, length: extended }), keyed, `keyed xof ${length}`)
    assert.equal(blake3Hash(input, { context }), derived.slice(0, 64), `derive ${length}`)
    assert.equal(blake3Hash(input, { context, length: extended, encoding: 'buffer' }).toString('hex'), derived, `derive xof ${length}`)
    assert.equal(feed(createBlake3Hasher(), input).digest(), hash.slice(0, 64), `streamed hash ${length}`)
    assert.equal(feed(createBlake3Hasher({ key }), input).digest({ length: extended }), keyed, `streamed keyed ${length}`)
    assert.equal(feed(createBlake3Hasher({ context }), input).digest('buffer').toString('hex'), derived.slice(0, 64), `streamed derive ${length}`)
  }
})

test('BLAKE3 takes strings as UTF-8 and Uint8Arrays like Buffers', () => {
  const text = 'héllo wörld ✓'
  const bytes = Buffer.from(text, 'utf8')
  assert.equal(blake3Hash(text), blake3Hash(bytes))
  assert.equal(blake3Hash(new Uint8Array(bytes)), blake3Hash(bytes))
  assert.equal(blake3Hash(bytes.subarray(2, 5)), blake3Hash(Buffer.from(bytes.subarray(2, 5))))
  assert.equal(blake3Hash(''), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262')
  const digest = blake3Hash('abc', { encoding: 'buffer' })
  assert.ok(Buffer.isBuffer(digest))
  assert.equal(digest.length, 32)
  assert.equal(blake3Hash('abc', { length: 7 }).length, 14)
})

test('a BLAKE3 hasher digests repeatedly and keeps accepting data', () => {
  const hasher = createBlake3Hasher()
  assert.equal(hasher.update('ab'), hasher)
  assert.equal(hasher.digest(), blake3Hash('ab'))
  assert.equal(hasher.digest(), blake3Hash('ab'))
  hasher.update('c')
  assert.equal(hasher.digest('hex'), blake3Hash('abc'))
})

test('XXH3 known vectors', () => {
  assert.equal(xxh3Hash(''), '2d06800538d394c2')
  assert.equal(xxh3Hash('', { bits: 128 }), '99aa06d3014798d86001c324468d497f')
  assert.equal(xxh3Hash('', { encoding: 'bigint' }), 0x2d06800538d394c2n)
  assert.equal(xxh3Hash('', { encoding: 'buffer' }).toString('hex'), '2d06800538d394c2')
  assert.equal(xxh3Hash('', { bits: 128, encoding: 'buffer' }).toString('hex'), '99aa06d3014798d86001c324468d497f')
  assert.equal(xxh3Hash('', { bits: 128, encoding: 'bigint' }), 0x99aa06d3014798d86001c324468d497fn)
})

test('XXH3 matches an independent implementation (hash-wasm) across lengths and seeds', async () => {
  const seeds = [0n, 1n, 0xdeadbeefn, 2n ** 32n + 5n, 2n ** 64n - 1n]
  for (const length of [0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 1024, 4096, 100000]) {
    const input = vectorInput(length)
    for (const seed of seeds) {
      const low = Number(seed & 0xffffffffn)
      const high = Number(seed >> 32n)
      assert.equal(xxh3Hash(input, { seed }), await xxhash3(input, low, high), `64 ${length} ${seed}`)
      assert.equal(xxh3Hash(input, { bits: 128, seed }), await xxhash128(input, low, high), `128 ${length} ${seed}`)
      for (const bits of [64, 128]) {
        const one = xxh3Hash(input, { bits, seed })
        assert.equal(feed(createXxh3Hasher({ bits, seed }), input).digest(), one, `streamed ${bits} ${length} ${seed}`)
      }
    }
  }
})

test('XXH3 seeds as numbers equal the same bigint, and encodings agree', () => {
  assert.equal(xxh3Hash('abc', { seed: 42 }), xxh3Hash('abc', { seed: 42n }))
  assert.equal(xxh3Hash('abc', { seed: Number.MAX_SAFE_INTEGER, bits: 128 }), xxh3Hash('abc', { seed: BigInt(Number.MAX_SAFE_INTEGER), bits: 128 }))
  for (const bits of [64, 128]) {
    const hex = xxh3Hash('payload', { bits, seed: 9 })
    assert.equal(hex.length, bits / 4)
    assert.equal(xxh3Hash('payload', { bits, seed: 9, encoding: 'bigint' }), BigInt(`0x${hex}`))
    assert.equal(xxh3Hash('payload', { bits, seed: 9, encoding: 'buffer' }).toString('hex'), hex)
  }
  assert.equal(xxh3Hash('héllo'), xxh3Hash(Buffer.from('héllo')))
  assert.equal(xxh3Hash(new Uint8Array([1, 2, 3])), xxh3Hash(Buffer.from([1, 2, 3])))
})

test('an XXH3 hasher digests repeatedly, in every encoding, and keeps accepting data', () => {
  for (const bits of [64, 128]) {
    const hasher = createXxh3Hasher({ bits, seed: 3n })
    assert.equal(hasher.update('ab'), hasher)
    const hex = hasher.digest()
    assert.equal(hex, xxh3Hash('ab', { bits, seed: 3n }))
    assert.equal(hasher.digest('bigint'), BigInt(`0x${hex}`))
    assert.equal(hasher.digest('buffer').toString('hex'), hex)
    hasher.update('c')
    assert.equal(hasher.digest('hex'), xxh3Hash('abc', { bits, seed: 3n }))
  }
  assert.equal(createXxh3Hasher().update('').digest(), '2d06800538d394c2')
})

test('xxh3Hash with only an encoding (the positional fast path) equals the general path', () => {
  const { xxh3Hash } = api
  for (const data of ['', 'abc', Buffer.alloc(64, 7), Buffer.alloc(4096, 1)]) {
    for (const encoding of ['hex', 'bigint', 'buffer']) {
      const general = xxh3Hash(data, { encoding, bits: 64, seed: 0n })
      assert.deepEqual(xxh3Hash(data, { encoding }), general, `${encoding} of ${data.length} B`)
    }
  }
  assert.throws(() => xxh3Hash('x', { encoding: 'toString' }), { name: 'RangeError', message: /options\.encoding/ })
  assert.throws(() => xxh3Hash('x', { encoding: 'bigint', extra: 1 }), { name: 'TypeError', message: /got key "extra"/ })
  // Inherited options count, as on the general path: the fast path must not drop them.
  assert.equal(xxh3Hash('x', Object.create({ encoding: 'hex', bits: 128 })), xxh3Hash('x', { encoding: 'hex', bits: 128 }))
  assert.throws(() => xxh3Hash(5, { encoding: 'bigint' }), { name: 'TypeError', message: /data/ })
})
