'use strict'
/**
 * JSON validation, parsing, RFC 6901 pointer look-up and minification, checked
 * before they reach the engine.
 * @module
 */

const validate = require('./validate.js')

/** @param {object} engine */
function jsonApi (engine) {
  return {
    /** @param {string | Uint8Array} data */
    validateJson (data) {
      validate.input('validateJson', data)
      return engine.validateJson(data)
    },

    /** @param {string | Uint8Array} data */
    parseJson (data) {
      validate.input('parseJson', data)
      return engine.parseJson(data)
    },

    /**
     * @param {string | Uint8Array} data
     * @param {string} pointer
     */
    jsonPointer (data, pointer) {
      validate.input('jsonPointer', data)
      validate.jsonPointer('jsonPointer', pointer)
      return engine.jsonPointer(data, pointer)
    },

    /** @param {string | Uint8Array} data */
    minifyJson (data) {
      validate.input('minifyJson', data)
      return engine.minifyJson(data)
    }
  }
}

module.exports = { jsonApi }
