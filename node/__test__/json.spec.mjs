import assert from 'node:assert/strict'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { test } from 'node:test'
import { api, oraclesDir } from './support.mjs'

const { validateJson, parseJson, jsonPointer, minifyJson } = api
const { scan } = createRequire(import.meta.url)('../fallback/json-errors.js')

const suiteDir = path.join(oraclesDir, 'jsontestsuite/test_parsing')
const suite = fs.readdirSync(suiteDir).filter((name) => name.endsWith('.json')).map((name) => ({
  name,
  kind: name[0],
  bytes: fs.readFileSync(path.join(suiteDir, name))
}))

/** Asserts that `fn` throws a SyntaxError carrying the byte `offset`. */
function assertSyntaxError (fn, fnName, offset) {
  assert.throws(fn, (error) => {
    assert.equal(error.constructor, SyntaxError)
    assert.ok(error.message.startsWith(`${fnName}: `), error.message)
    assert.equal(error.offset, offset, error.message)
    return true
  })
}

test('JSONTestSuite: every y_ file is accepted and every n_ file rejected', () => {
  assert.equal(suite.filter((c) => c.kind === 'y').length, 95)
  assert.equal(suite.filter((c) => c.kind === 'n').length, 188)
  for (const { name, kind, bytes } of suite) {
    if (kind === 'i') continue
    const result = validateJson(bytes)
    assert.equal(result.valid, kind === 'y', `${name}: ${JSON.stringify(result)}`)
    if (!result.valid) {
      assert.ok(Number.isInteger(result.offset) && result.offset >= 0 && result.offset <= bytes.length, `${name} offset ${result.offset}`)
      assert.equal(typeof result.message, 'string')
      assertSyntaxError(() => parseJson(bytes), 'parseJson', result.offset)
    }
  }
})

/** What ultra does with the implementation-defined i_ files (the table in core/src/json.rs). */
const I_ACCEPTED = new Set([
  'i_number_double_huge_neg_exp.json', 'i_number_real_underflow.json', 'i_number_too_big_neg_int.json',
  'i_number_too_big_pos_int.json', 'i_number_very_big_negative_int.json', 'i_structure_500_nested_arrays.json'
])
const I_REJECTED = [
  [/^i_number_/, 'number_out_of_range', 'number out of range'],
  [/^i_(object_key_lone|string_1st|string_incomplete|string_invalid_lonely|string_invalid_surrogate|string_inverted|string_lone_second)/, 'utf8', 'unpaired surrogate in \\u escape'],
  [/^i_string_utf16(BE|LE)_no_BOM/, 'syntax', 'expected a value'],
  [/^i_structure_UTF-8_BOM/, 'syntax', 'byte order mark before the document'],
  [/^i_string_/, 'utf8', 'invalid utf-8']
]

test('JSONTestSuite: i_ files get the answers documented by ultra-core', () => {
  for (const { name, kind, bytes } of suite) {
    if (kind !== 'i') continue
    const result = validateJson(bytes)
    if (I_ACCEPTED.has(name)) {
      assert.deepEqual(result, { valid: true }, name)
      parseJson(bytes)
      assert.equal(validateJson(minifyJson(bytes)).valid, true, name)
    } else {
      const [, errorKind, message] = I_REJECTED.find(([pattern]) => pattern.test(name))
      assert.equal(result.valid, false, name)
      assert.equal(result.kind, errorKind, name)
      assert.equal(result.message, message, name)
      assertSyntaxError(() => parseJson(bytes), 'parseJson', result.offset)
      assertSyntaxError(() => minifyJson(bytes), 'minifyJson', result.offset)
    }
  }
})

test('limits: nesting deeper than 1024 levels and inputs over 64 MiB are rejected', () => {
  assert.deepEqual(validateJson('['.repeat(1024) + ']'.repeat(1024)), { valid: true })
  assert.deepEqual(validateJson(`{"a":${'['.repeat(1024)}${']'.repeat(1024)}}`), {
    valid: false, offset: 1028, kind: 'too_deep', message: 'nesting deeper than 1024 levels'
  })
  const huge = Buffer.alloc(64 * 1024 * 1024 + 1, 0x20)
  assert.deepEqual(validateJson(huge), {
    valid: false, offset: null, kind: 'too_large', message: 'input of 67108865 bytes exceeds the limit of 67108864 bytes'
  })
  assert.throws(() => parseJson(huge), { name: 'SyntaxError', message: 'parseJson: input of 67108865 bytes exceeds the limit of 67108864 bytes', offset: null })
})

test('parseJson equals JSON.parse on every y_ file, from a Buffer and from a string', () => {
  for (const { name, kind, bytes } of suite) {
    if (kind !== 'y') continue
    const expected = JSON.parse(bytes.toString('utf8'))
    assert.deepEqual(parseJson(bytes), expected, name)
    assert.deepEqual(parseJson(bytes.toString('utf8')), expected, name)
  }
})

test('minifyJson keeps every token and the parsed value on every y_ file', () => {
  for (const { name, kind, bytes } of suite) {
    if (kind !== 'y') continue
    const minified = minifyJson(bytes)
    assert.deepEqual(JSON.parse(minified), JSON.parse(bytes.toString('utf8')), name)
    assert.equal(minifyJson(minified), minified, `${name}: minifying twice changes nothing`)
  }
})

test('minifyJson removes whitespace outside strings only and keeps tokens as written', () => {
  assert.equal(minifyJson(' {\n\t"a b" : [ 1.50 , 1e2, -0, 12345678901234567890 ] ,\r\n "c":"x  \\" y" } '),
    '{"a b":[1.50,1e2,-0,12345678901234567890],"c":"x  \\" y"}')
  assert.equal(minifyJson('{"b":1,"a":2,"b":3}'), '{"b":1,"a":2,"b":3}', 'key order and duplicates survive')
  assertSyntaxError(() => minifyJson('[1,]'), 'minifyJson', 3)
})

test('validateJson and parseJson report UTF-8 byte offsets', () => {
  assert.deepEqual(validateJson('{"a": [1, 2]}'), { valid: true })
  assert.deepEqual(validateJson(Buffer.from('{"a": [1, 2]}')), { valid: true })
  const cases = [
    ['', 0, 'unexpected end of input'],
    ['   ', 3, 'unexpected end of input'],
    ['{"a":}', 5, 'expected a value'],
    ['[1,2', 4, 'unexpected end of input'],
    ['x', 0, 'expected a value'],
    ['{"a":1}x', 7, 'trailing characters after the document'],
    ['["é", x]', 7, 'expected a value'], // é is two bytes
    ['["€€", 1 2]', 13, "expected ',' or ']'"], // € is three bytes
    ['{"a":1 "b"}', 7, "expected ',' or '}'"],
    ['"\\u12x4"', 1, 'invalid \\u escape'],
    ['"\\q"', 1, 'invalid escape'],
    ['"a\tb"', 2, 'control character in string'],
    ['[01]', 1, 'invalid number: leading zero'],
    ['[1.]', 1, "invalid number: digits expected after '.'"],
    ['[1e+]', 1, 'invalid number: digits expected in exponent'],
    ['-x', 0, 'invalid number'],
    ['{"a" 1}', 5, "expected ':' after an object key"],
    ['{1:2}', 1, 'expected a string key'],
    ['{"a": tru}', 6, 'invalid literal'],
    ['nulx', 0, 'invalid literal'],
    ['[1e999, x]', 8, 'expected a value'], // a syntax fault anywhere comes before a range fault
    ['[0, -1e400]', 4, 'number out of range'],
    ['["ok", "\\udc00"]', 8, 'unpaired surrogate in \\u escape']
  ]
  for (const [text, offset, message] of cases) {
    for (const input of [text, Buffer.from(text, 'utf8')]) {
      const result = validateJson(input)
      assert.equal(result.valid, false, text)
      assert.equal(result.offset, offset, `${text}: ${result.message}`)
      assert.equal(result.message, message, text)
      assertSyntaxError(() => parseJson(input), 'parseJson', offset)
    }
  }
  assert.throws(() => parseJson('{"a": tru}'), { message: 'parseJson: invalid literal at byte 6', offset: 6, kind: 'syntax' })
})

test('invalid UTF-8 in a Buffer is invalid JSON at its byte offset', () => {
  const bytes = Buffer.from([0x5b, 0x22, 0x61, 0xc3, 0x28, 0x22, 0x5d]) // ["a\xc3(" ]
  assert.deepEqual(validateJson(bytes), { valid: false, offset: 3, kind: 'utf8', message: 'invalid utf-8' })
  assertSyntaxError(() => parseJson(bytes), 'parseJson', 3)
  const grammarFirst = Buffer.from([0x5b, 0x31, 0x20, 0x32, 0x2c, 0xff]) // [1 2,\xff: the grammar fault comes first
  assert.deepEqual(validateJson(grammarFirst), { valid: false, offset: 3, kind: 'syntax', message: "expected ',' or ']'" })
  assert.deepEqual(validateJson(Buffer.from([0xef, 0xbb, 0xbf, 0x31])),
    { valid: false, offset: 0, kind: 'syntax', message: 'byte order mark before the document' })
  assert.equal(validateJson('\ufeff1').valid, false, 'in a string too')
})

test('parseJson takes Uint8Arrays and views into larger buffers', () => {
  const whole = Buffer.from('xx[1,{"a":null}]yy')
  assert.deepEqual(parseJson(whole.subarray(2, 16)), [1, { a: null }])
  assert.deepEqual(parseJson(new Uint8Array(Buffer.from('"text"'))), 'text')
})

test('jsonPointer follows RFC 6901, section 5', () => {
  const doc = JSON.stringify({ foo: ['bar', 'baz'], '': 0, 'a/b': 1, 'c%d': 2, 'e^f': 3, 'g|h': 4, 'i\\j': 5, 'k"l': 6, ' ': 7, 'm~n': 8 })
  const expected = [
    ['', JSON.parse(doc)],
    ['/foo', ['bar', 'baz']],
    ['/foo/0', 'bar'],
    ['/', 0],
    ['/a~1b', 1],
    ['/c%d', 2],
    ['/e^f', 3],
    ['/g|h', 4],
    ['/i\\j', 5],
    ['/k"l', 6],
    ['/ ', 7],
    ['/m~0n', 8]
  ]
  for (const [pointer, value] of expected) {
    assert.deepEqual(jsonPointer(doc, pointer), value, pointer)
    assert.deepEqual(jsonPointer(Buffer.from(doc), pointer), value, pointer)
  }
})

test('jsonPointer returns undefined where the pointer leads nowhere', () => {
  const doc = '{"a":[10,{"b":null}],"n":1,"~1":"tilde one"}'
  assert.equal(jsonPointer(doc, '/a/1/b'), null)
  assert.equal(jsonPointer(doc, '/~01'), 'tilde one', '~01 decodes to ~1, not /')
  for (const pointer of ['/x', '/a/2', '/a/-', '/a/01', '/a/1e0', '/a/1/b/c', '/n/0', '/a/1/c', '/toString', '/__proto__']) {
    assert.equal(jsonPointer(doc, pointer), undefined, pointer)
  }
  assertSyntaxError(() => jsonPointer('{"a":', '/a'), 'jsonPointer', 5)
})

test('the fallback\'s scanner agrees with JSON.parse on every y_ and n_ file', () => {
  for (const { name, kind, bytes } of suite) {
    if (kind === 'i') continue
    const text = bytes.toString('utf8')
    let parses = true
    try {
      JSON.parse(text)
    } catch {
      parses = false
    }
    assert.equal(scan(text) === null, parses, name)
  }
})
