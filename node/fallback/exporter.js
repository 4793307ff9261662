'use strict'
/**
 * The fallback's metrics: the `ultra_*` families that JS can know (build info,
 * and the arenas, pools and caches of this thread), rendered as Prometheus text
 * 0.0.4, and a `node:http` listener serving them. Families that only the native
 * allocator can give (allocator, subsystems, jemalloc) are absent, never zero.
 * The `ultra_config_*` families, the default address and the file_sd folder
 * (`ULTRA_EXPORTER_SD_DIR`) come from the effective configuration, as natively.
 * @module
 */

const http = require('node:http')
const fs = require('node:fs')
const path = require('node:path')
const { version } = require('../package.json')
const { createMemoryManager, OWNERS } = require('./manager.js')
const { effectiveConfig, configFamilies } = require('./config.js')

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/**
 * @param {string} name
 * @param {'gauge'|'counter'} type
 * @param {string} help
 * @param {Array<[string, number]>} samples `[labels text, value]`
 */
function family (name, type, help, samples) {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`]
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`)
  return lines.join('\n')
}

/**
 * @param {number} [v8HeapBytes] the V8 heap's physical size (read here if not given)
 * @returns {string} every family JS can know, one fresh reading
 */
function metricsText (v8HeapBytes) {
  const config = effectiveConfig()
  const s = createMemoryManager().stats()
  const e = createMemoryManager().explain(v8HeapBytes ?? require('node:v8').getHeapStatistics().total_physical_size)
  /** @type {Array<[string, number]>} */
  const resident = []
  for (const [key, label] of Object.entries(OWNERS)) {
    if (e.owners[key] !== null) resident.push([`{owner="${label}"}`, e.owners[key]])
  }
  resident.push(['{owner="unattributed"}', e.unattributedBytes])
  return [
    family('ultra_build_info', 'gauge', 'Always 1; what was compiled in (the pure-JS fallback: no jemalloc, no attribution).',
      [[`{version="${version}",jemalloc="false",attribution="false"}`, 1]]),
    family('ultra_arenas', 'gauge', 'Live bump arenas.', [['', s.arenas.count]]),
    family('ultra_arena_reserved_bytes', 'gauge', 'Bytes reserved in arena chunks.', [['', s.arenas.reservedBytes]]),
    family('ultra_arena_used_bytes', 'gauge', "Bytes handed out since the arenas' last reset.", [['', s.arenas.usedBytes]]),
    family('ultra_pools', 'gauge', 'Live buffer pools.', [['', s.pools.count]]),
    family('ultra_pool_buffers', 'gauge', 'Pooled buffers held for reuse (idle) or handed out (in_use).',
      [['{state="idle"}', s.pools.idle], ['{state="in_use"}', s.pools.inUse]]),
    family('ultra_caches', 'gauge', 'Live caches.', [['', s.caches.count]]),
    family('ultra_cache_entries', 'gauge', 'Entries held by caches.', [['', s.caches.entries]]),
    family('ultra_cache_bytes', 'gauge', 'Weight of the entries held by caches.', [['', s.caches.bytes]]),
    ...configFamilies(config),
    family('ultra_resident_bytes', 'gauge', 'Resident bytes of the process by owner (the fallback knows code and v8_heap) plus unattributed, the rest; the series of one scrape sum to the RSS of that reading.', resident)
  ].join('\n') + '\n'
}

/** @type {Map<number, { server: http.Server, sdFile: string | null }>} */
const servers = new Map()
let nextId = 1

/**
 * Writes `<dir>/ultra-<pid>-<port>.json` atomically (temp file + rename).
 * @returns {string} the file's path
 */
function writeTarget (dir, host, port) {
  const file = path.join(dir, `ultra-${process.pid}-${port}.json`)
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  const body = JSON.stringify([{ targets: [target], labels: { job: 'ultra', pid: String(process.pid) } }])
  fs.mkdirSync(dir, { recursive: true })
  const tmp = `${file}.tmp`
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
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found; metrics are at /metrics\n')
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n')
    } else {
      const body = metricsText()
      res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
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
      server.unref()
      const id = nextId++
      servers.set(id, { server, sdFile })
      resolve({ id, host: bound.address, port: bound.port })
    })
  })
}

/**
 * Closes a server and removes its target file.
 * @param {number} id
 * @returns {Promise<boolean>} whether a running server had that id
 */
function stopExporter (id) {
  const entry = servers.get(id)
  if (entry === undefined) return Promise.resolve(false)
  servers.delete(id)
  if (entry.sdFile !== null) fs.rmSync(entry.sdFile, { force: true })
  entry.server.closeAllConnections()
  return new Promise((resolve) => entry.server.close(() => resolve(true)))
}

module.exports = { metricsText, startExporter, stopExporter }
