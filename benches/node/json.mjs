// ultra's validateJson / parseJson / jsonPointer / minifyJson against JSON.parse, from a
// Buffer and from a string, on generated documents of ~1 KiB, 64 KiB and 1 MiB (the record
// shape of benches/src/lib.rs: strings with escapes, numbers, booleans, nulls, nesting).
//
// | ultra | JS peer |
// |---|---|
// | validateJson | JSON.parse (the only validator JS has) |
// | parseJson | JSON.parse |
// | jsonPointer (one field of the middle record) | JSON.parse, then the property path |
// | minifyJson | JSON.stringify(JSON.parse(x)) |
//
// From a Buffer the JS peers pay `buf.toString()` (JSON.parse takes strings only); from a
// string ultra pays the UTF-8 transcoding of the string.
//
//   node --expose-gc json.mjs [--quick]

import { args, announce, require, runGroup, speedup, writeResults, ULTRA } from './lib/harness.mjs'
import { KIB, MIB, jsonDocument, sizeLabel } from './lib/inputs.mjs'

const ultra = require(ULTRA)
const SIZES = args.quick ? [KIB, 64 * KIB] : [KIB, 64 * KIB, MIB]

function cases (doc, input) {
  const ptr = doc.pointer
  const str = typeof input === 'string'
  const text = str ? () => input : () => input.toString()
  const list = [
    ['ultra validateJson', 'ultra', () => ultra.validateJson(input), ['JSON.parse']],
    ['ultra parseJson', 'ultra', () => ultra.parseJson(input), ['JSON.parse']],
    ['JSON.parse', 'peer', () => JSON.parse(text())],
    ['ultra jsonPointer', 'ultra', () => ultra.jsonPointer(input, ptr), ['JSON.parse + path']],
    ['JSON.parse + path', 'peer', () => doc.path(JSON.parse(text()))],
    ['ultra minifyJson', 'ultra', () => ultra.minifyJson(input), ['JSON.stringify(JSON.parse)']],
    ['JSON.stringify(JSON.parse)', 'peer', () => JSON.stringify(JSON.parse(text()))]
  ]
  return list.map(([name, role, fn, vs]) => ({ name, role, fn, vs, bytes: doc.buffer.length }))
}

function crossCheck (doc) {
  for (const input of [doc.buffer, doc.string]) {
    const v = ultra.validateJson(input)
    if (!v.valid) throw new Error(`ultra rejects the document: ${JSON.stringify(v)}`)
    if (ultra.jsonPointer(input, doc.pointer) !== doc.path(JSON.parse(doc.string))) throw new Error('pointer disagrees')
    if (JSON.stringify(ultra.parseJson(input)) !== JSON.stringify(JSON.parse(doc.string))) throw new Error('parse disagrees')
    if (ultra.minifyJson(input).length > doc.buffer.length) throw new Error('minify grew the document')
  }
}

function targets (groups) {
  const out = []
  for (const g of groups) {
    if (g.size < 64 * KIB || g.input !== 'Buffer') continue
    const u = g.cases.find((c) => c.name === 'ultra validateJson')
    const p = g.cases.find((c) => c.name === 'JSON.parse')
    const r = speedup(u, p)
    out.push({ target: `JSON validation ≥ 3× JSON.parse on a ${sizeLabel(g.size)} Buffer`, ratio: r, met: r >= 3 })
  }
  console.log('\ntargets (ratio = ultra speed-up over the peer)')
  for (const t of out) console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ${t.ratio.toFixed(3)}×`)
  return out
}

announce('json: ultra vs JSON.parse')
const groups = []
for (const size of SIZES) {
  const doc = jsonDocument(size)
  crossCheck(doc)
  for (const [label, input] of [['Buffer', doc.buffer], ['string', doc.string]]) {
    const g = await runGroup(`json ${sizeLabel(size)} (${doc.buffer.length} B) from a ${label}`, cases(doc, input))
    Object.assign(g, { size, bytes: doc.buffer.length, input: label })
    groups.push(g)
  }
}
writeResults('json', { sizes: SIZES, groups, targets: targets(groups) })
