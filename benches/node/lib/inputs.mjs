// Inputs shared by the Node benches, deterministic across runs. `jsonDocument` is a port of
// `ultra_benches::json_document` (benches/src/lib.rs): the same record shape, so the Rust and
// Node JSON figures describe the same kind of document.

/** xorshift64* on BigInt-free 32-bit halves would be faster, but inputs are built once. */
export class Rng {
  constructor (seed) {
    this.s = BigInt.asUintN(64, BigInt(seed || 0x9E3779B97F4A7C15n))
  }

  next () {
    let x = this.s
    x ^= x >> 12n
    x = BigInt.asUintN(64, x ^ (x << 25n))
    x ^= x >> 27n
    this.s = x
    return BigInt.asUintN(64, x * 0x2545F4914F6CDD1Dn)
  }

  below (n) {
    return Number(this.next() % BigInt(Math.max(1, n)))
  }
}

const NAMES = ['ada', 'grace', 'edsger', 'barbara', 'donald', 'frances', 'ken', 'radia']
const CITIES = ['Zürich', 'Lyon', 'São Paulo', 'Kraków', 'Osaka', 'New \\"York\\"']
const TAGS = ['admin', 'beta', 'ops', 'billing', 'eu', 'on-call']

function record (i, rng) {
  const name = NAMES[rng.below(NAMES.length)]
  const city = CITIES[rng.below(CITIES.length)]
  const t1 = TAGS[rng.below(TAGS.length)]
  const t2 = TAGS[rng.below(TAGS.length)]
  const score = rng.below(1_000_000) / 1000
  const active = rng.below(2) === 0
  const big = rng.next() >> 11n
  const n = 1 + rng.below(999)
  const zip = String(rng.below(100_000)).padStart(5, '0')
  return `    {\n      "id": ${i},\n      "name": "${name}-${i}",\n      "email": "${name}.${i}@example.com",\n      "active": ${active},\n      "score": ${score},\n      "counter": ${big},\n      "tags": ["${t1}", "${t2}", "t\\u00e9st"],\n      "address": { "street": "${n} Main St", "city": "${city}", "zip": "${zip}" },\n      "note": null\n    }`
}

/**
 * A pretty-printed JSON document of at least `minBytes` UTF-8 bytes.
 * @returns {{ buffer: Buffer, string: string, pointer: string, path: (doc: any) => any, records: number }}
 */
export function jsonDocument (minBytes) {
  const rng = new Rng(0x5EEDn)
  const head = '{\n  "generator": "ultra-benches",\n  "version": 1,\n  "items": [\n'
  const tail = '\n  ]\n}\n'
  const records = []
  let len = head.length + tail.length
  while (records.length === 0 || len < minBytes) {
    const r = record(records.length, rng)
    len += Buffer.byteLength(r) + 2
    records.push(r)
  }
  const string = head + records.join(',\n') + tail
  const mid = records.length >> 1
  return {
    buffer: Buffer.from(string),
    string,
    pointer: `/items/${mid}/address/city`,
    path: (doc) => doc.items[mid].address.city,
    records: records.length
  }
}

/** `n` distinct gateway-like keys (`route:/api/v1/users/<i>?page=<j>`), as flat strings. */
export function cacheKeys (n, offset = 0) {
  const keys = new Array(n)
  for (let i = 0; i < n; i++) keys[i] = key(i + offset)
  return keys
}

/** One key; flattened (a hash-table lookup would flatten it anyway). */
export function key (i) {
  return Buffer.from(`route:/api/v1/users/${i}?page=${i % 7}`).toString('latin1')
}

/** A flat ASCII string of `len` characters, distinct per `i`. */
export function stringValue (len, i) {
  const b = Buffer.alloc(len, 0x61 + (i % 26))
  b.write(String(i), 0, 'latin1')
  return b.toString('latin1')
}

/** A Buffer of `len` bytes, distinct per `i`, not from Node's shared 8 KiB pool. */
export function bufferValue (len, i) {
  const b = Buffer.alloc(len, i & 0xff)
  b.writeUInt32LE(i >>> 0, 0)
  return b
}

/** `len` pseudo-random bytes. */
export function randomBytes (len) {
  const b = Buffer.allocUnsafeSlow(len)
  let x = 0x9E3779B9
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

export const KIB = 1024
export const MIB = 1024 * 1024

export function sizeLabel (n) {
  if (n >= MIB) return `${n / MIB} MiB`
  if (n >= KIB) return `${n / KIB} KiB`
  return `${n} B`
}
