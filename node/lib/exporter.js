'use strict'
/**
 * Prometheus metrics, three ways:
 * - `metricsText()`: the `ultra_*` families as Prometheus text 0.0.4, from one
 *   fresh reading, for a host that already serves `/metrics`;
 * - `startExporter({ host, port })`: a loopback listener of ultra's own (natively
 *   on threads of its own, so it answers while the event loop is busy);
 * - `registerPromClient(registry)`: the families as collectors of a prom-client
 *   registry, so the host's single `/metrics` (and prom-client's cluster
 *   aggregation) includes them. ultra never emits `process_*` or `nodejs_*`
 *   families, so prom-client's default metrics and ultra's never collide; a family
 *   registered twice is refused by prom-client itself.
 * @module
 */

const validate = require('./validate.js')
const { v8HeapBytes } = require('./memory.js')

const START_KEYS = Object.freeze(['host', 'port'])
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8'

/**
 * @typedef {{ metricName: string, labels: Record<string, string>, value: number }} Sample
 * @typedef {{ name: string, help: string, type: string, values: Sample[] }} Family
 */

/**
 * Unpacks an engine's `metricsSamples()`: `[strings, numbers]`, where `numbers` (a Buffer of
 * native-endian doubles, or an array) holds per family the indexes of its name, HELP and type
 * in `strings` and its sample count, then per sample the index of its series name, its label
 * count, a key and value index per label, and its value (see the addon's `metricsSamples`).
 * @param {[string[], Uint8Array | number[]]} packed
 * @returns {Map<string, Family>} the families in table order
 */
function unpackSamples ([strings, packed]) {
  let numbers = packed
  if (ArrayBuffer.isView(packed)) {
    const bytes = packed.byteOffset % 8 === 0 ? packed : packed.slice()
    numbers = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8)
  }
  /** @type {Map<string, Family>} */
  const families = new Map()
  let i = 0
  while (i < numbers.length) {
    const name = strings[numbers[i]]
    const family = { name, help: strings[numbers[i + 1]], type: strings[numbers[i + 2]], values: [] }
    let count = numbers[i + 3]
    i += 4
    for (; count > 0; count--) {
      const metricName = strings[numbers[i]]
      /** @type {Record<string, string>} */
      const labels = {}
      let n = numbers[i + 1]
      i += 2
      for (; n > 0; n--, i += 2) labels[strings[numbers[i]]] = strings[numbers[i + 1]]
      family.values.push({ metricName, labels, value: numbers[i++] })
    }
    families.set(name, family)
  }
  return families
}

/**
 * How prom-client's `AggregatorRegistry` merges a family over cluster workers:
 * what describes the build or the configuration is the same everywhere (`first`),
 * a start time is the earliest (`min`), everything else adds up (`sum`).
 * @param {string} name
 */
function aggregatorFor (name) {
  if (name === 'ultra_build_info' || name.startsWith('ultra_config_') || name.endsWith('_max_fds') ||
      name.endsWith('_max_bytes')) return 'first'
  if (name.endsWith('_start_time_seconds')) return 'min'
  return 'sum'
}

/**
 * Resolves once the engine reports server `id` closed (port free, connections ended). The
 * engine closes on threads of its own (native) or on the event loop (fallback) within its
 * shutdown bound; this only polls a flag, so the event loop is never blocked.
 * @param {object} engine
 * @param {number} id
 * @returns {Promise<void>}
 */
function closedPromise (engine, id) {
  return new Promise((resolve) => {
    let wait = 1
    const check = () => {
      if (engine.exporterClosed(id)) return resolve()
      wait = Math.min(wait * 2, 50)
      setTimeout(check, wait)
    }
    check()
  })
}

/**
 * @param {object} engine
 * @returns the exporter part of the public API
 */
function exporterApi (engine) {
  /**
   * One reading per scrape: prom-client calls every collector's `get()` in one
   * synchronous loop, so the engine's samples (structured, never text parsed back)
   * kept until the next microtask serve all of them.
   */
  let turn = null
  /** Ids of this API's servers not yet closed, stopped at process exit. */
  const running = new Set()
  let exitHooked = false
  function familiesNow () {
    if (turn === null) {
      turn = unpackSamples(engine.metricsSamples(v8HeapBytes()))
      queueMicrotask(() => { turn = null })
    }
    return turn
  }

  return {
    /**
     * Every `ultra_*` family, Prometheus text format 0.0.4; the V8 heap is read
     * here for `ultra_resident_bytes{owner="v8_heap"}`.
     * @returns {string}
     */
    metricsText () {
      return engine.metricsText(v8HeapBytes())
    },

    /**
     * Serves `GET /metrics` on `host:port` (defaults: `ULTRA_EXPORTER_ADDR`, else
     * 127.0.0.1:9477; port 0 picks a free port).
     * @param {{ host?: string, port?: number }} [options]
     * @returns {Promise<{ host: string, port: number, close(): Promise<void> }>}
     */
    async startExporter (options) {
      const F = 'startExporter'
      let host
      let port
      if (validate.options(F, options, START_KEYS)) {
        if (options.host !== undefined) {
          validate.string(F, 'options.host', options.host)
          // node:net is loaded only here, so that loading ultra-node stays light.
          if (options.host !== 'localhost' && require('node:net').isIP(options.host) === 0) {
            throw validate.rangeError(F, 'options.host', "an IP address such as '127.0.0.1' or '::1', or 'localhost'", options.host)
          }
        }
        if (options.port !== undefined) validate.integer(F, 'options.port', options.port, 0, 65535)
        host = options.host
        port = options.port
      }
      const started = await engine.startExporter(host, port)
      running.add(started.id)
      if (!exitHooked) {
        exitHooked = true
        // Exiting without close(): remove the file_sd targets (synchronously, as 'exit' requires).
        process.once('exit', () => { for (const id of running) engine.stopExporter(id) })
      }
      /** @type {Promise<void> | null} */
      let closing = null
      return {
        host: started.host,
        port: started.port,
        close () {
          if (closing === null) {
            running.delete(started.id)
            engine.stopExporter(started.id)
            closing = closedPromise(engine, started.id)
          }
          return closing
        }
      }
    },

    /**
     * Registers every `ultra_*` family in a prom-client `Registry` as a collector
     * that reads a fresh value at each scrape.
     * @param {object} registry a prom-client `Registry` (or `register`)
     * @returns {{ names: string[], unregister(): void }}
     */
    registerPromClient (registry) {
      const F = 'registerPromClient'
      if (typeof registry !== 'object' || registry === null || typeof registry.registerMetric !== 'function' ||
          typeof registry.removeSingleMetric !== 'function') {
        throw validate.typeError(F, 'registry', 'a prom-client Registry', registry)
      }
      const openMetrics = registry.contentType === OPENMETRICS
      const names = []
      try {
        for (const family of familiesNow().values()) {
          // OpenMetrics names a counter family without `_total`; prom-client appends it.
          const name = openMetrics && family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name
          const { help, type } = family
          const aggregator = aggregatorFor(family.name)
          registry.registerMetric({
            name,
            help,
            type,
            aggregator,
            get () {
              const now = familiesNow().get(family.name)
              const values = (now === undefined ? [] : now.values).map((v) =>
                openMetrics && type === 'counter' ? { ...v, metricName: name } : v)
              return { name, help, type, aggregator, values }
            },
            reset () {}
          })
          names.push(name)
        }
      } catch (e) {
        for (const name of names) registry.removeSingleMetric(name)
        throw e
      }
      return {
        names,
        unregister () {
          for (const name of names) registry.removeSingleMetric(name)
        }
      }
    }
  }
}

module.exports = { exporterApi, unpackSamples }
