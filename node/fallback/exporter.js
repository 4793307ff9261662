'use strict'
/**
 * The fallback's metrics: the `ultra_*` families that JS can know (build info,
 * and the arenas, pools and caches of this thread), rendered as Prometheus text
 * 0.0.4, and a `node:http` listener serving them. Families that only the native
 * allocator can give (allocator, subsystems, jemalloc) are absent, never zero.
 * The `ultra_config_*` families, the default address and the file_sd folder
 * (`ULTRA_EXPORTER_SD_DIR`) come from the effective configuration, as natively.
 * With `ULTRA_EXPORTER_SD_DIR` set, the listener writes its file_sd target there,
 * as the native exporter does (removing first the targets of processes that no
 * longer run). The listener keeps the native one's limits where `node:http` has
 * them: `ULTRA_EXPORTER_MAX_CONNECTIONS`, header size (431), URL length (414),
 * header, idle and request timeouts, gzip when accepted.
 * @module
 */

const http = require('node:http')
const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')
const { version } = require('../package.json')
const { createMemoryManager, OWNERS } = require('./manager.js')
const { effectiveConfig, configGauges } = require('./config.js')
const { namedCaches } = require('./cache.js')
const { limits } = require('../lib/config-table.json')

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/**
 * The native listener's defaults (`ultra_exporter::Limits`), where node:http has the knob; the
 * connection cap is `exporterMaxConnections` of the effective configuration.
 */
const LIMITS = Object.freeze({
  maxHeaderBytes: 16 * 1024,
  maxUrlBytes: 2 * 1024,
  headerReadTimeoutMs: 10000,
  idleTimeoutMs: 30000,
  writeTimeoutMs: 10000
})

/**
 * The families of the native table (`lib/families.json`, generated from the Rust exporter's
 * table), by name: the fallback's samples carry the same names, HELP texts, types and labels.
 */
const FAMILIES = new Map(require('../lib/families.json').families.map((f) => [f.name, f]))

/**
 * @typedef {{ metricName: string, labels: Record<string, string>, value: number }} Sample
 * @typedef {{ name: string, help: string, type: string, values: Sample[] }} Family
 */

/**
 * One cache figure per `cache` label, as natively: `""` for the unnamed caches and the named
 * ones beyond `limits.maxCacheLabels` together (the total minus the labelled caches), then the
 * first named caches under their names.
 * @param {Record<string, number>} totals the figures summed over this thread's live caches
 * @param {'entries' | 'bytes'} field
 * @returns {Array<[Record<string, string>, number]>}
 */
function perCache (totals, field) {
  /** @type {Array<[Record<string, string>, number]>} */
  const labelled = []
  let sum = 0
  for (const [name, cache] of namedCaches()) {
    if (labelled.length === limits.maxCacheLabels) break
    const value = cache.stats()[field]
    labelled.push([{ cache: name }, value])
    sum += value
  }
  return [[{ cache: '' }, totals[field] - sum], ...labelled]
}

/**
 * @param {number} [v8HeapBytes] the V8 heap's physical size (read here if not given)
 * @returns {Family[]} every family JS can know, one fresh reading, in the table's order
 *   (the order of `read` below; a test checks it)
 */
function familiesNow (v8HeapBytes) {
  const config = effectiveConfig()
  const s = createMemoryManager().stats()
  const e = createMemoryManager().explain(v8HeapBytes ?? require('node:v8').getHeapStatistics().total_physical_size)
  /** @type {Map<string, Array<[Record<string, string>, number]>>} samples by family */
  const read = new Map([
    ['ultra_build_info', [[{ version, jemalloc: 'false', attribution: 'false' }, 1]]],
    ['ultra_arenas', [[{}, s.arenas.count]]],
    ['ultra_arena_reserved_bytes', [[{}, s.arenas.reservedBytes]]],
    ['ultra_arena_used_bytes', [[{}, s.arenas.usedBytes]]],
    ['ultra_pools', [[{}, s.pools.count]]],
    ['ultra_pool_buffers', [[{ state: 'idle' }, s.pools.idle], [{ state: 'in_use' }, s.pools.inUse]]],
    ['ultra_caches', [[{}, s.caches.count]]],
    ['ultra_cache_entries', perCache(s.caches, 'entries')],
    ['ultra_cache_bytes', perCache(s.caches, 'bytes')]
  ])
  for (const [name, value] of configGauges(config)) read.set(name, [[{}, value]])
  /** @type {Array<[Record<string, string>, number]>} */
  const resident = []
  for (const [key, label] of Object.entries(OWNERS)) {
    if (e.owners[key] !== null) resident.push([{ owner: label }, e.owners[key]])
  }
  resident.push([{ owner: 'unattributed' }, e.unattributedBytes])
  read.set('ultra_resident_bytes', resident)
  /** @type {Family[]} */
  const out = []
  for (const [name, samples] of read) {
    const family = FAMILIES.get(name)
    if (family === undefined) throw new Error(`metricsSamples: ${name} is not in lib/families.json`)
    const values = samples.map(([labels, value]) => ({ metricName: name, labels, value }))
    out.push({ name, help: family.help, type: family.type, values })
  }
  return out
}

/** @param {string} s @returns {string} a label value as the text format quotes it */
function escapeLabel (s) {
  return s.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))
}

/** @param {string} s @returns {string} a HELP text as the text format writes it */
function escapeHelp (s) {
  return s.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'))
}

/**
 * Prometheus text 0.0.4 of families, written from their samples (as natively: a blank line
 * after each family).
 * @param {Family[]} families
 * @returns {string}
 */
function exposition (families) {
  let out = ''
  for (const f of families) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`
    for (const v of f.values) {
      const labels = Object.entries(v.labels).map(([k, l]) => `${k}="${escapeLabel(l)}"`).join(',')
      out += `${v.metricName}${labels === '' ? '' : `{${labels}}`} ${v.value}\n`
    }
    out += '\n'
  }
  return out
}

/**
 * @param {number} [v8HeapBytes] the V8 heap's physical size (read here if not given)
 * @returns {string} every family JS can know, one fresh reading
 */
function metricsText (v8HeapBytes) {
  return exposition(familiesNow(v8HeapBytes))
}

/**
 * The engine's `metricsSamples()`: the families of one reading packed as the native engine
 * packs them (`[strings, numbers]`, which `lib/exporter.js` unpacks).
 * @param {number} [v8HeapBytes]
 * @returns {[string[], number[]]}
 */
function metricsSamples (v8HeapBytes) {
  /** @type {Map<string, number>} */
  const index = new Map()
  /** @type {string[]} */
  const strings = []
  const id = (/** @type {string} */ text) => {
    let i = index.get(text)
    if (i === undefined) {
      i = strings.push(text) - 1
      index.set(text, i)
    }
    return i
  }
  /** @type {number[]} */
  const numbers = []
  for (const f of familiesNow(v8HeapBytes)) {
    numbers.push(id(f.name), id(f.help), id(f.type), f.values.length)
    for (const v of f.values) {
      const labels = Object.entries(v.labels)
      numbers.push(id(v.metricName), labels.length)
      for (const [k, l] of labels) numbers.push(id(k), id(l))
      numbers.push(v.value)
    }
  }
  return [strings, numbers]
}

/** @param {number} pid @returns {boolean} whether a process with this pid runs */
function runs (pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code !== 'ESRCH'
  }
}

const TARGET_FILE = /^\.?ultra-(\d+)-(\d+)\.json(\.tmp)?$/

/**
 * Removes the target files of processes that no longer run (never a live one's).
 * @param {string} dir
 */
function removeStale (dir) {
  for (const name of fs.readdirSync(dir)) {
    const m = TARGET_FILE.exec(name)
    if (m === null || (name.startsWith('.') !== (m[3] !== undefined))) continue
    const pid = Number(m[1])
    if (pid !== process.pid && !runs(pid)) fs.rmSync(path.join(dir, name), { force: true })
  }
}

/**
 * Writes `<dir>/ultra-<pid>-<port>.json` atomically (temp file + rename).
 * @returns {string} the file's path
 */
function writeTarget (dir, host, port) {
  const file = path.join(dir, `ultra-${process.pid}-${port}.json`)
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  const body = JSON.stringify([{ targets: [target], labels: { job: 'ultra', pid: String(process.pid) } }])
  fs.mkdirSync(dir, { recursive: true })
  removeStale(dir)
  const tmp = path.join(dir, `.ultra-${process.pid}-${port}.json.tmp`)
  fs.writeFileSync(tmp, body)
  fs.renameSync(tmp, file)
  return file
}

/**
 * The default address: `exporterAddr` of the effective configuration
 * (`ULTRA_EXPORTER_ADDR`, else loopback 127.0.0.1:9477 — never all interfaces).
 * @returns {[string, number]}
 */
function defaultAddress () {
  const addr = /** @type {string} */ (effectiveConfig().exporterAddr)
  const colon = addr.lastIndexOf(':')
  return [addr.slice(0, colon).replace(/^\[|\]$/g, ''), Number(addr.slice(colon + 1))]
}

/** @param {string | undefined} header an Accept-Encoding value */
function acceptsGzip (header) {
  if (header === undefined) return false
  return header.split(',').some((item) => {
    const [coding, ...params] = item.split(';').map((p) => p.trim())
    const zero = params.some((p) => p.startsWith('q=') && Number(p.slice(2)) <= 0)
    return (coding.toLowerCase() === 'gzip' || coding === '*') && !zero
  })
}

/** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
function answer (req, res) {
  const url = req.url ?? ''
  const pathname = url.split('?')[0]
  if (url.length > LIMITS.maxUrlBytes) {
    res.writeHead(414, { 'Content-Type': 'text/plain', Connection: 'close' }).end('request target too long\n')
  } else if (pathname !== '/metrics') {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: metrics are served at /metrics\n')
  } else if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed: use GET\n')
  } else {
    const text = metricsText()
    const gzip = acceptsGzip(req.headers['accept-encoding'])
    const body = gzip ? zlib.gzipSync(text, { level: 1 }) : Buffer.from(text)
    const headers = { 'Content-Type': CONTENT_TYPE, 'Content-Length': body.length, Vary: 'Accept-Encoding' }
    if (gzip) headers['Content-Encoding'] = 'gzip'
    res.writeHead(200, headers)
    res.end(req.method === 'HEAD' ? undefined : body)
  }
}

/** @type {Map<number, { server: http.Server, sdFile: string | null, stopping: boolean }>} */
const servers = new Map()
let nextId = 1

/**
 * Serves `GET /metrics` on `host:port`.
 * @param {string | undefined} host default from `defaultAddress()`
 * @param {number | undefined} port default from `defaultAddress()`
 * @returns {Promise<{ id: number, host: string, port: number }>}
 */
function startExporter (host, port) {
  const [defaultHost, defaultPort] = defaultAddress()
  const dir = /** @type {string | null} */ (effectiveConfig().exporterSdDir)
  host = host ?? defaultHost
  port = port ?? defaultPort
  if (host === 'localhost') host = '127.0.0.1'
  let cap
  try {
    cap = /** @type {number} */ (effectiveConfig().exporterMaxConnections)
  } catch (e) {
    return Promise.reject(e)
  }
  const server = http.createServer({ maxHeaderSize: LIMITS.maxHeaderBytes }, answer)
  server.maxConnections = cap
  server.headersTimeout = LIMITS.headerReadTimeoutMs
  server.requestTimeout = LIMITS.headerReadTimeoutMs + LIMITS.writeTimeoutMs
  server.keepAliveTimeout = LIMITS.idleTimeoutMs
  server.on('clientError', (err, socket) => {
    if (!socket.writable) return socket.destroy()
    const code = err.code === 'HPE_HEADER_OVERFLOW'
      ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'
    socket.end(`HTTP/1.1 ${code}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  })
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`startExporter: cannot listen on ${host}:${port}: ${e.message}`)))
    server.listen(port, host, () => {
      const bound = /** @type {import('node:net').AddressInfo} */ (server.address())
      let sdFile = null
      try {
        if (dir) sdFile = writeTarget(dir, bound.address, bound.port)
      } catch (e) {
        server.close()
        reject(new Error(`startExporter: cannot write the file_sd target in ${dir}: ${e.message}`))
        return
      }
      if (!require('node:net').isIP(bound.address) || !/^(127\.|::1$|::ffff:127\.)/.test(bound.address)) {
        process.stderr.write(`ultra-exporter: warning: serving metrics on ${bound.address}:${bound.port}, which other hosts can reach (set ULTRA_EXPORTER_ADDR to a loopback address such as 127.0.0.1:9477 to avoid it)\n`)
      }
      server.unref()
      const id = nextId++
      servers.set(id, { server, sdFile, stopping: false })
      resolve({ id, host: bound.address, port: bound.port })
    })
  })
}

/**
 * Removes a server's target file and starts closing it (idle connections at once).
 * @param {number} id
 * @returns {boolean} whether a running server had that id
 */
function stopExporter (id) {
  const entry = servers.get(id)
  if (entry === undefined || entry.stopping) return false
  entry.stopping = true
  if (entry.sdFile !== null) fs.rmSync(entry.sdFile, { force: true })
  entry.server.close(() => { servers.delete(id) })
  entry.server.closeIdleConnections()
  // In-flight responses are short (rendered synchronously); whatever remains is cut.
  setImmediate(() => entry.server.closeAllConnections()).unref()
  return true
}

/**
 * @param {number} id
 * @returns {boolean} whether server `id` is closed (or unknown)
 */
function exporterClosed (id) {
  return !servers.has(id)
}

module.exports = { metricsText, metricsSamples, exposition, startExporter, stopExporter, exporterClosed, LIMITS }
