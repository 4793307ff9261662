// A TypeScript consumer of the whole public API, through `import`. It is only
// type-checked (tsc --noEmit), never run; @ts-expect-error lines prove misuse is caught.
import { Registry } from 'prom-client'
import ultra, {
  blake3Hash,
  createBlake3Hasher,
  createCache,
  createMemoryArena,
  createMemoryManager,
  createObjectPool,
  createXxh3Hasher,
  getCoreVersion,
  heapProfile,
  heapProfileStatus,
  initMemorySubsystem,
  isNative,
  jsonPointer,
  loadError,
  metricsText,
  minifyJson,
  parseJson,
  registerPromClient,
  setHeapProfiling,
  startExporter,
  validateJson,
  xxh3Hash,
  type Cache,
  type CacheDumpEntry,
  type HeapProfileStatus,
  type PromClientRegistration,
  type RunningExporter,
  type CacheStats,
  type StructuredCache,
  type JsonErrorKind,
  type JsonSyntaxError,
  type MemoryConfig,
  type MemoryExplanation,
  type MemoryStats
} from 'ultra-node'

const native: boolean = isNative
const why: Error | null = loadError
const version: string = getCoreVersion()
const config: MemoryConfig = initMemorySubsystem({ poolMax: 8, arenaChunkBytes: 64 * 1024, jemallocBackgroundThread: true })
const maxEntries: number | null = config.cacheMaxEntries
// @ts-expect-error options are numbers and booleans, not strings
initMemorySubsystem({ poolMax: '8' })

const cache: Cache = createCache(1000, 3600)
const named = createCache({ name: 'sessions', max: 100, maxBytes: 1 << 20, ttlMs: 60_000, updateAgeOnGet: true })
cache.set('k', 'v')
cache.set('bytes', new Uint8Array([1, 2, 3]), { ttlMs: 500 })
const value: string | Buffer | undefined = cache.get('k')
const peeked: string | Buffer | undefined = named.peek('k')
const present: boolean = cache.has('k') && cache.delete('k')
const size: number = cache.size
const remaining: number | undefined = cache.remainingTtlMs('k')
const purged: number = cache.purgeExpired()
const cacheStats: CacheStats = cache.stats()
const expired: number = cacheStats.evictions.expired
cache.clear()
// @ts-expect-error keys are strings
cache.get(1)
const swr: Cache = createCache({ max: 10, ttlMs: 1000, allowStale: true, noDeleteOnStaleGet: true, maxEntrySize: 1 << 16 })
const recent: string[] = [...cache.keys()]
const vals: Array<string | Buffer> = [...cache.values()]
const pairs: Array<[string, string | Buffer]> = [...cache.entries()]
const dumped: Array<[string, CacheDumpEntry]> = cache.dump()
named.load(dumped)
// @ts-expect-error a dump entry holds a value
cache.load([['k', { ttl: 5 }]])
const fetching: Cache = createCache({ max: 10, fetchMethod: async (key, staleValue, { signal, context }) => (signal.aborted ? staleValue : `${key}${String(context)}`) })
const fetched: Promise<string | Buffer | undefined> = fetching.fetch('k', { allowStale: true, forceRefresh: false, ttlMs: 10, context: 1 })
const chained: Cache = cache.set('a', 'b').set('c', 'd', { ttlMs: 0 })
const stale: string | Buffer | undefined = cache.get('k', { allowStale: true, updateAgeOnGet: false, noDeleteOnStaleGet: true })
const stalePeek: string | Buffer | undefined = cache.peek('k', { allowStale: true })
const hadIt: boolean = cache.has('k', { updateAgeOnHas: true })
// @ts-expect-error per-call options are lru-cache's, by method
cache.has('k', { allowStale: true })
// @ts-expect-error size is read-only
cache.size = 3
const structured: StructuredCache = createCache({ max: 10, structured: true, fetchMethod: async (key) => ({ key, at: new Date() }) })
structured.set('k', { status: 200, headers: new Map([['etag', '"x"']]), body: Buffer.from('{}') }).set('n', 1n)
const structuredValue: unknown = structured.get('k')
const structuredDump: Array<[string, CacheDumpEntry<unknown>]> = structured.dump()
structured.load(structuredDump)
const structuredFetched: Promise<unknown> = structured.fetch('k')
// @ts-expect-error a plain cache holds strings and bytes only
cache.set('k', { status: 200 })
// @ts-expect-error a structured cache cannot be named
createCache({ max: 10, structured: true, name: 'responses' })
// @ts-expect-error structured is a boolean
createCache({ max: 10, structured: 1 })

const hex: string = blake3Hash('data')
const mac: Buffer = blake3Hash(Buffer.from('data'), { key: new Uint8Array(32), encoding: 'buffer' })
const derived: string = blake3Hash('data', { context: 'app 2024 keys', length: 64 })
const streamed: string = createBlake3Hasher({ key: new Uint8Array(32) }).update('a').update(Buffer.from('b')).digest()
const streamedBytes: Buffer = createBlake3Hasher().digest({ length: 16, encoding: 'buffer' })
const x64: string = xxh3Hash('data')
const x128: bigint = xxh3Hash('data', { bits: 128, seed: 5n, encoding: 'bigint' })
const xBytes: Buffer = xxh3Hash(new Uint8Array(4), { seed: 7, encoding: 'buffer' })
const xStream: bigint = createXxh3Hasher({ bits: 64, seed: 1n }).update('a').digest('bigint')
// @ts-expect-error bits is 64 or 128
xxh3Hash('data', { bits: 32 })
// @ts-expect-error BLAKE3 has no bigint encoding
blake3Hash('data', { encoding: 'bigint' })

const check = validateJson('{"a":1}')
const offset: number | null | undefined = check.valid ? undefined : check.offset
const kind: JsonErrorKind | undefined = check.valid ? undefined : check.kind
const parsed = parseJson<{ a: number[] }>(Buffer.from('{"a":[1]}'))
const first: number = parsed.a[0]
const pointed: number | undefined = jsonPointer<number>('{"a":[1]}', '/a/0')
const small: string = minifyJson(' { } ')
try {
  parseJson('{')
} catch (error) {
  const at: number | null = (error as JsonSyntaxError).offset
}

const arena = createMemoryArena({ chunkBytes: 4096, limitBytes: 1 << 20 })
const scratch: Buffer = arena.allocBuffer(1024)
const reserved: number = arena.stats().reservedBytes
arena.reset()
const pool = createObjectPool(100)
const pool2 = createObjectPool({ initial: 1, max: 4, bufferBytes: 8192 })
const pooled: Buffer = pool.acquire(1024)
pool.release(pooled)
const freed: number = pool2.shrink()
const inUse: number = pool.stats().inUse

const manager = createMemoryManager()
const stats: MemoryStats = manager.stats()
const live: number | null = stats.totals.liveBytes
const cacheBytes: number | null = stats.subsystems.cache.liveBytes
const rss: number = stats.process.rssBytes
const trimmed: number | null = manager.trim()
const explained: MemoryExplanation = manager.explain()
const v8Heap: number | null = explained.owners.v8Heap
const rest: number = explained.unattributedBytes
const mallocReleased: number | null = manager.trimMalloc()
// @ts-expect-error owners are figures, not strings
const wrongOwner: string = explained.owners.code

const viaDefault: string = ultra.blake3Hash('default import')

const profiling: HeapProfileStatus = heapProfileStatus()
const sampleBytes: number | null = profiling.sampleBytes
if (profiling.available) setHeapProfiling(true)
const heap: Buffer | null = profiling.available ? heapProfile() : null

const text: string = metricsText()
// @ts-expect-error metricsText takes no argument
metricsText(1)
async function serve (): Promise<number> {
  const running: RunningExporter = await startExporter({ host: '127.0.0.1', port: 0 })
  const port: number = running.port
  const host: string = running.host
  await running.close()
  // @ts-expect-error the port is a number
  await startExporter({ port: '9477' })
  return host.length + port
}
const promRegistry = new Registry()
const registered: PromClientRegistration = registerPromClient(promRegistry)
const familyNames: string[] = registered.names
registered.unregister()
// @ts-expect-error a registry, not a name
registerPromClient('default')

export {
  text, serve, familyNames,
  native, why, version, maxEntries, value, peeked, present, size, remaining, purged, expired, hex, mac, derived,
  streamed, streamedBytes, x64, x128, xBytes, xStream, offset, kind, first, pointed, small, scratch, reserved, freed,
  inUse, live, cacheBytes, rss, trimmed, explained, v8Heap, rest, mallocReleased, wrongOwner, viaDefault,
  chained, stale, stalePeek, hadIt, swr, recent, vals, pairs, fetched, sampleBytes, heap,
  structuredValue, structuredFetched
}
