'use strict'
/**
 * Where and why a JSON text is invalid, in the words and at the offsets of
 * ultra-core's error locator (core/src/json.rs), so both engines report the
 * same faults. JSON.parse does the parsing; this scanner runs only to explain a
 * rejection, or when a text may break one of core's stricter rules (nesting
 * deeper than 1024, unpaired surrogate escapes, numbers beyond f64).
 * @module
 */

/** Deepest nesting of arrays and objects accepted. */
const MAX_DEPTH = 1024

/**
 * A fault in a JSON text. `index` counts UTF-16 code units of the text (null
 * when the fault has no place, e.g. an input too large); `kind` is core's
 * `JsonErrorKind` name.
 */
class JsonFault {
  /**
   * @param {number | null} index
   * @param {'syntax' | 'utf8' | 'number_out_of_range' | 'too_deep' | 'too_large'} kind
   * @param {string} reason
   */
  constructor (index, kind, reason) {
    this.index = index
    this.kind = kind
    this.reason = reason
  }
}

/** @param {number} index @param {string} reason */
const syntax = (index, reason) => new JsonFault(index, 'syntax', reason)

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const MINUS = 0x2d
const PLUS = 0x2b
const DOT = 0x2e
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const SIMPLE_ESCAPES = new Set([...'"\\/bfnrt'].map((c) => c.charCodeAt(0)))
const LITERALS = new Map([[0x74, 'true'], [0x66, 'false'], [0x6e, 'null']])

// What the scanner expects next.
const VALUE = 0
const VALUE_OR_CLOSE = 1 // just after '['
const KEY_OR_CLOSE = 2 // just after '{'
const KEY = 3
const AFTER_VALUE = 4 // ',' or a close, or the end at the top

/** A sign that scanning ran out of a truncated input. */
const RAN_OUT = -1

/** @param {number} c */
const isDigit = (c) => c >= 0x30 && c <= 0x39

/** @param {string} text @param {number} pos */
function skipWhitespace (text, pos) {
  for (let c = text.charCodeAt(pos); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++pos));
  return pos
}

/** @param {string} text @param {number} pos */
function skipDigits (text, pos) {
  while (isDigit(text.charCodeAt(pos))) pos++
  return pos
}

/**
 * The UTF-16 unit of the four hex digits at `at`, or -1.
 * @param {string} text
 * @param {number} at
 */
function hex4 (text, at) {
  const digits = text.slice(at, at + 4)
  return /^[0-9a-fA-F]{4}$/.test(digits) ? Number.parseInt(digits, 16) : -1
}

/**
 * Scans the string whose quote is at `start`.
 * @param {string} text
 * @param {number} start
 * @returns {number} the position after it, or RAN_OUT
 */
function scanString (text, start) {
  let pos = start + 1
  let pendingHigh = -1 // a high surrogate escape waiting for its low half
  for (;;) {
    if (pos >= text.length) return RAN_OUT
    const c = text.charCodeAt(pos)
    if (pendingHigh !== -1) {
      const unit = c === BACKSLASH && text.charCodeAt(pos + 1) === 0x75 ? hex4(text, pos + 2) : -1
      if (unit < 0xdc00 || unit > 0xdfff) throw new JsonFault(pendingHigh, 'utf8', 'unpaired surrogate in \\u escape')
      pendingHigh = -1
      pos += 6
      continue
    }
    if (c === QUOTE) return pos + 1
    if (c < 0x20) throw syntax(pos, 'control character in string')
    if (c !== BACKSLASH) {
      pos++
      continue
    }
    const escape = text.charCodeAt(pos + 1)
    if (Number.isNaN(escape)) return RAN_OUT
    if (SIMPLE_ESCAPES.has(escape)) {
      pos += 2
    } else if (escape === 0x75) {
      const unit = hex4(text, pos + 2)
      if (unit === -1) {
        if (text.length - (pos + 2) < 4 && /^[0-9a-fA-F]*$/.test(text.slice(pos + 2))) return RAN_OUT
        throw syntax(pos, 'invalid \\u escape')
      }
      if (unit >= 0xd800 && unit <= 0xdbff) pendingHigh = pos
      else if (unit >= 0xdc00 && unit <= 0xdfff) throw new JsonFault(pos, 'utf8', 'unpaired surrogate in \\u escape')
      pos += 6
    } else {
      throw syntax(pos, 'invalid escape')
    }
  }
}

/**
 * Scans the number at `start`.
 * @param {string} text
 * @param {number} start
 * @returns {number} the position after it, or RAN_OUT
 */
function scanNumber (text, start) {
  let pos = start
  if (text.charCodeAt(pos) === MINUS) pos++
  if (pos >= text.length) return RAN_OUT
  const first = text.charCodeAt(pos)
  if (first === 0x30) {
    pos++
    if (isDigit(text.charCodeAt(pos))) throw syntax(start, 'invalid number: leading zero')
  } else if (isDigit(first)) {
    pos = skipDigits(text, pos)
  } else {
    throw syntax(start, 'invalid number')
  }
  if (text.charCodeAt(pos) === DOT) {
    const from = ++pos
    pos = skipDigits(text, pos)
    if (pos === from) {
      if (pos >= text.length) return RAN_OUT
      throw syntax(start, "invalid number: digits expected after '.'")
    }
  }
  if ((text.charCodeAt(pos) | 0x20) === 0x65) {
    const sign = text.charCodeAt(++pos)
    if (sign === PLUS || sign === MINUS) pos++
    const from = pos
    pos = skipDigits(text, pos)
    if (pos === from) {
      if (pos >= text.length) return RAN_OUT
      throw syntax(start, 'invalid number: digits expected in exponent')
    }
  }
  return pos
}

/**
 * Scans a JSON text (RFC 8259, with core's limits) for its first fault in order.
 * Iterative: any nesting depth is safe. Numbers are not range-checked here.
 * @param {string} text
 * @param {boolean} [truncated] the text is the valid start of a longer input:
 *   running out of it is not a fault
 * @returns {JsonFault | null}
 */
function scan (text, truncated = false) {
  const end = text.length
  /** @type {number[]} the opening character of each open container */
  const stack = []
  let want = VALUE
  let pos = 0
  const ranOut = (at) => (truncated ? null : syntax(at, 'unexpected end of input'))
  try {
    for (;;) {
      pos = skipWhitespace(text, pos)
      if (pos >= end) return want === AFTER_VALUE && stack.length === 0 ? null : ranOut(pos)
      const c = text.charCodeAt(pos)
      if (want === VALUE || want === VALUE_OR_CLOSE) {
        if (c === CLOSE_ARRAY && want === VALUE_OR_CLOSE) {
          stack.pop()
          pos++
          want = AFTER_VALUE
        } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
          if (stack.length >= MAX_DEPTH) return new JsonFault(pos, 'too_deep', `nesting deeper than ${MAX_DEPTH} levels`)
          stack.push(c)
          pos++
          want = c === OPEN_ARRAY ? VALUE_OR_CLOSE : KEY_OR_CLOSE
        } else if (c === QUOTE || c === MINUS || isDigit(c)) {
          pos = c === QUOTE ? scanString(text, pos) : scanNumber(text, pos)
          if (pos === RAN_OUT) return ranOut(end)
          want = AFTER_VALUE
        } else if (LITERALS.has(c)) {
          const word = LITERALS.get(c)
          let common = 0
          while (common < word.length && text.charCodeAt(pos + common) === word.charCodeAt(common)) common++
          if (common < word.length) return truncated && pos + common === end ? null : syntax(pos, 'invalid literal')
          pos += word.length
          want = AFTER_VALUE
        } else {
          return syntax(pos, 'expected a value')
        }
      } else if (want === KEY_OR_CLOSE || want === KEY) {
        if (c === CLOSE_OBJECT && want === KEY_OR_CLOSE) {
          stack.pop()
          pos++
          want = AFTER_VALUE
        } else if (c === QUOTE) {
          pos = scanString(text, pos)
          if (pos === RAN_OUT) return ranOut(end)
          pos = skipWhitespace(text, pos)
          if (pos >= end) return ranOut(pos)
          if (text.charCodeAt(pos) !== COLON) return syntax(pos, "expected ':' after an object key")
          pos++
          want = VALUE
        } else {
          return syntax(pos, 'expected a string key')
        }
      } else {
        const open = stack[stack.length - 1]
        if (open === undefined) return syntax(pos, 'trailing characters after the document')
        if (c === COMMA) {
          pos++
          want = open === OPEN_OBJECT ? KEY : VALUE
        } else if (c === (open === OPEN_ARRAY ? CLOSE_ARRAY : CLOSE_OBJECT)) {
          stack.pop()
          pos++
        } else {
          return syntax(pos, open === OPEN_ARRAY ? "expected ',' or ']'" : "expected ',' or '}'")
        }
      }
    }
  } catch (fault) {
    if (fault instanceof JsonFault) return fault
    throw fault
  }
}

/** Tokens of a valid JSON text that can hold a number: strings (skipped) and numbers. */
const NUMBER_TOKENS = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g
/** A number that may be beyond f64: a positive exponent of 3+ digits, or 309+ digits. */
const MAYBE_HUGE_NUMBER = /[eE]\+?0*[1-9]\d{2}|\d{309}/
/** A `\u` escape of a surrogate, or something that looks like one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/

/**
 * The first number beyond f64 in a valid JSON text.
 * @param {string} text
 * @returns {JsonFault | null}
 */
function findHugeNumber (text) {
  for (const match of text.matchAll(NUMBER_TOKENS)) {
    if (match[0].charCodeAt(0) !== QUOTE && !Number.isFinite(Number(match[0]))) {
      return new JsonFault(match.index, 'number_out_of_range', 'number out of range')
    }
  }
  return null
}

/**
 * Whether a text nests arrays and objects deeper than MAX_DEPTH anywhere.
 * @param {string} text valid JSON
 */
function nestsTooDeep (text) {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      // Jump to the closing quote: the first one not escaped by an odd run of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1)
        let slashes = 0
        while (text.charCodeAt(i - 1 - slashes) === BACKSLASH) slashes++
        if (slashes % 2 === 0) break
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > MAX_DEPTH) return true
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--
    }
  }
  return false
}

/**
 * The fault of a text JSON.parse accepted but core rejects, or null. Cheap
 * checks decide whether the full scan is needed.
 * @param {string} text
 * @returns {JsonFault | null}
 */
function findStrictFault (text) {
  if ((text.length > 2 * MAX_DEPTH && nestsTooDeep(text)) || SURROGATE_ESCAPE.test(text)) {
    const fault = scan(text)
    if (fault !== null) return fault
  }
  return MAYBE_HUGE_NUMBER.test(text) ? findHugeNumber(text) : null
}

/**
 * Finds the first byte that is not part of well-formed UTF-8.
 * @param {Uint8Array} bytes
 * @returns {number} its offset, or -1 when all of `bytes` is well-formed
 */
function findUtf8Fault (bytes) {
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]
    // Continuation bytes after the lead byte, and the range of the first of them.
    let n = 0
    let lo = 0x80
    let hi = 0xbf
    if (b < 0x80) n = 0
    else if (b >= 0xc2 && b <= 0xdf) n = 1
    else if (b === 0xe0) { n = 2; lo = 0xa0 }
    else if (b === 0xed) { n = 2; hi = 0x9f }
    else if (b >= 0xe1 && b <= 0xef) n = 2
    else if (b === 0xf0) { n = 3; lo = 0x90 }
    else if (b === 0xf4) { n = 3; hi = 0x8f }
    else if (b >= 0xf1 && b <= 0xf3) n = 3
    else return i
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k]
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i
    }
    i += n + 1
  }
  return -1
}

module.exports = { JsonFault, scan, findStrictFault, findUtf8Fault }
