'use strict'
/**
 * The fallback JSON functions, on JSON.parse, with ultra-core's rules and error
 * reports (json-errors.js). Offsets are UTF-8 byte offsets into the input (into
 * its UTF-8 encoding when the input is a string).
 * @module
 */

const { isUtf8 } = require('node:buffer')
const { JsonFault, scan, findStrictFault, findUtf8Fault } = require('./json-errors.js')

/** Largest input accepted, in bytes (core's default `max_input_bytes`). */
const MAX_INPUT_BYTES = 64 * 1024 * 1024
const BYTE_ORDER_MARK = 0xfeff
/** Whitespace outside strings; strings are matched whole so they pass unchanged. */
const INSIGNIFICANT_WHITESPACE = /("(?:[^"\\]|\\.)*")|[ \t\n\r]+/g

/**
 * A fault with its UTF-8 byte offset.
 * @typedef {{ offset: number | null, kind: string, reason: string }} Failure
 */

/**
 * @param {JsonFault} fault
 * @param {string} text the text `fault.index` counts in
 * @returns {Failure}
 */
function failure (fault, text) {
  const offset = fault.index === null ? null : Buffer.byteLength(text.slice(0, fault.index))
  return { offset, kind: fault.kind, reason: fault.reason }
}

/**
 * The input as text, or the failure that stops it before parsing: too large,
 * a byte order mark, invalid UTF-8 (grammar faults before the bad byte first).
 * @param {string | Uint8Array} data
 * @returns {string | Failure}
 */
function decode (data) {
  if (typeof data === 'string') {
    const bytes = data.length * 3 > MAX_INPUT_BYTES ? Buffer.byteLength(data) : data.length
    if (bytes > MAX_INPUT_BYTES) return tooLarge(bytes)
    if (data.charCodeAt(0) === BYTE_ORDER_MARK) return failure(new JsonFault(0, 'syntax', 'byte order mark before the document'), '')
    return data
  }
  if (data.length > MAX_INPUT_BYTES) return tooLarge(data.length)
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.length)
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return failure(new JsonFault(0, 'syntax', 'byte order mark before the document'), '')
  }
  if (bytes.length > 0 && !isUtf8(bytes)) {
    const bad = findUtf8Fault(bytes)
    const head = bytes.toString('utf8', 0, bad)
    return failure(scan(head, true) ?? new JsonFault(head.length, 'utf8', 'invalid utf-8'), head)
  }
  return bytes.toString('utf8')
}

/** @param {number} bytes */
function tooLarge (bytes) {
  return { offset: null, kind: 'too_large', reason: `input of ${bytes} bytes exceeds the limit of ${MAX_INPUT_BYTES} bytes` }
}

/**
 * Parses JSON, or says where and why it is invalid.
 * @param {string | Uint8Array} data
 * @returns {{ value: unknown, text: string } | Failure}
 */
function tryParse (data) {
  const text = decode(data)
  if (typeof text !== 'string') return text
  let value
  try {
    value = JSON.parse(text)
  } catch (error) {
    // The scanner agrees with JSON.parse on every JSONTestSuite case; should they
    // ever differ, V8's words are kept.
    return failure(scan(text) ?? new JsonFault(0, 'syntax', error.message), text)
  }
  const fault = findStrictFault(text)
  return fault === null ? { value, text } : failure(fault, text)
}

/**
 * @param {string} fn
 * @param {string | Uint8Array} data
 * @returns {{ value: unknown, text: string }}
 */
function parse (fn, data) {
  const result = tryParse(data)
  if ('value' in result) return result
  const where = result.offset === null ? '' : ` at byte ${result.offset}`
  const error = new SyntaxError(`${fn}: ${result.reason}${where}`)
  error.offset = result.offset
  error.kind = result.kind
  throw error
}

/** @param {string | Uint8Array} data */
function validateJson (data) {
  const result = tryParse(data)
  if ('value' in result) return { valid: true }
  return { valid: false, offset: result.offset, kind: result.kind, message: result.reason }
}

/** @param {string | Uint8Array} data */
function parseJson (data) {
  return parse('parseJson', data).value
}

/**
 * @param {string | Uint8Array} data
 * @param {string} pointer a checked RFC 6901 pointer
 * @returns {unknown} the value, or `undefined` when the pointer leads nowhere
 */
function jsonPointer (data, pointer) {
  let value = parse('jsonPointer', data).value
  if (pointer === '') return value
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.includes('~') ? raw.replaceAll('~1', '/').replaceAll('~0', '~') : raw
    if (Array.isArray(value)) {
      if (!ARRAY_INDEX.test(token) || Number(token) >= value.length) return undefined
      value = value[Number(token)]
    } else if (typeof value === 'object' && value !== null && Object.hasOwn(value, token)) {
      value = value[token]
    } else {
      return undefined
    }
  }
  return value
}
const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/

/**
 * Removes insignificant whitespace and keeps every token as written, so numbers,
 * key order and duplicate keys survive (JSON.stringify(JSON.parse(x)) would
 * change all three).
 * @param {string | Uint8Array} data
 * @returns {string}
 */
function minifyJson (data) {
  return parse('minifyJson', data).text.replace(INSIGNIFICANT_WHITESPACE, '$1')
}

module.exports = { validateJson, parseJson, jsonPointer, minifyJson }
