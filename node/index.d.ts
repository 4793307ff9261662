/// <reference types="node" />
/**
 * ultra-node: a native LRU cache, BLAKE3 and XXH3 hashing, and JSON tools on a
 * tracking allocator, with a pure-JS fallback of the same API.
 *
 * Every malformed argument throws a `TypeError` (wrong type) or `RangeError`
 * (right type, value out of range or set) whose message reads
 * `<function>: <parameter> must be <rule>, got <value>`.
 */

/** Input to the hash and JSON functions: a string (as UTF-8), Buffer or Uint8Array. */
export type BinaryLike = string | Uint8Array

// ---------------------------------------------------------------- engine

/** Whether the native addon is in use (`false`: the pure-JS fallback). */
export declare const isNative: boolean

/**
 * Why the native addon did not load; `null` when it loaded or when
 * `ULTRA_FORCE_FALLBACK` made the fallback run without trying it.
 */
export declare const loadError: Error | null

/** The version of ultra's core (the fallback reports the package version). */
export declare function getCoreVersion(): string

// ---------------------------------------------------------------- configuration

// <config-types: generated from alloc/src/config.rs>
/** The effective configuration (`ULTRA_*` environment and options). `null`: unset. */
export interface MemoryConfig {
  /** Buffers allocated up front per pool (`ULTRA_POOL_INITIAL`, default 0). */
  poolInitial: number
  /** Idle buffers kept per size class; beyond it released buffers are freed (`ULTRA_POOL_MAX`, default 8). */
  poolMax: number
  /** Default buffer size of a pool (`ULTRA_POOL_BUFFER_BYTES`, default 16KiB). */
  poolBufferBytes: number
  /** An arena's first chunk, reserved on first allocation, never at creation (`ULTRA_ARENA_CHUNK_BYTES`, default 64KiB). */
  arenaChunkBytes: number
  /** Cap on the bytes one arena reserves; past it an allocation is an error (`ULTRA_ARENA_LIMIT_BYTES`, default 64MiB). */
  arenaLimitBytes: number
  /** Entry bound of caches created without options (`ULTRA_CACHE_MAX_ENTRIES`, default unset). */
  cacheMaxEntries: number | null
  /** Byte bound of caches created without options, an entry weighing key + value + its overhead (`ULTRA_CACHE_MAX_BYTES`, default unset). */
  cacheMaxBytes: number | null
  /** TTL of caches created without options (`0` = none) (`ULTRA_CACHE_TTL_MS`, default unset). */
  cacheTtlMs: number | null
  /** How long freed pages stay resident before jemalloc purges them (`-1` = never) (`ULTRA_JEMALLOC_DIRTY_DECAY_MS`, default jemalloc's (10000)). */
  jemallocDirtyDecayMs: number | null
  /** Whether jemalloc purges dirty pages from a background thread (`ULTRA_JEMALLOC_BACKGROUND_THREAD`, default jemalloc's (off)). */
  jemallocBackgroundThread: boolean | null
  /** Period of an automatic purge of all arenas; `0` = off (`ULTRA_TRIM_INTERVAL_MS`, default 0). */
  trimIntervalMs: number
  /** Sample allocations for heap profiles from the start (needs the `profiling` build) (`ULTRA_HEAP_PROFILE`, default false). */
  heapProfile: boolean
  /** Mean bytes allocated between two heap-profile samples (rounded down to a power of two) (`ULTRA_HEAP_PROFILE_SAMPLE_BYTES`, default 512KiB). */
  heapProfileSampleBytes: number
  /** Listen address of the exporter (`host` or `host:port`, `[::1]:port`, `localhost` = 127.0.0.1, port `0` = ephemeral); a non-loopback address is served with a one-line warning (`ULTRA_EXPORTER_ADDR`, default 127.0.0.1:9477). */
  exporterAddr: string
  /** Folder where each process writes its Prometheus file_sd target (targets of dead processes there are removed at start) (`ULTRA_EXPORTER_SD_DIR`, default unset). */
  exporterSdDir: string | null
  /** Open connections the exporter's listener holds; past it the oldest that has not sent a complete request is closed (`ULTRA_EXPORTER_MAX_CONNECTIONS`, default 64). */
  exporterMaxConnections: number
}

/** Explicit configuration; each option overrides its `ULTRA_*` variable. */
export interface MemoryConfigOptions {
  /** Buffers allocated up front per pool (`ULTRA_POOL_INITIAL`, default 0). */
  poolInitial?: number
  /** Idle buffers kept per size class; beyond it released buffers are freed (`ULTRA_POOL_MAX`, default 8). */
  poolMax?: number
  /** Default buffer size of a pool (`ULTRA_POOL_BUFFER_BYTES`, default 16KiB). */
  poolBufferBytes?: number
  /** An arena's first chunk, reserved on first allocation, never at creation (`ULTRA_ARENA_CHUNK_BYTES`, default 64KiB). */
  arenaChunkBytes?: number
  /** Cap on the bytes one arena reserves; past it an allocation is an error (`ULTRA_ARENA_LIMIT_BYTES`, default 64MiB). */
  arenaLimitBytes?: number
  /** Entry bound of caches created without options (`ULTRA_CACHE_MAX_ENTRIES`, default unset). */
  cacheMaxEntries?: number
  /** Byte bound of caches created without options, an entry weighing key + value + its overhead (`ULTRA_CACHE_MAX_BYTES`, default unset). */
  cacheMaxBytes?: number
  /** TTL of caches created without options (`0` = none) (`ULTRA_CACHE_TTL_MS`, default unset). */
  cacheTtlMs?: number
  /** How long freed pages stay resident before jemalloc purges them (`-1` = never) (`ULTRA_JEMALLOC_DIRTY_DECAY_MS`, default jemalloc's (10000)). */
  jemallocDirtyDecayMs?: number
  /** Whether jemalloc purges dirty pages from a background thread (`ULTRA_JEMALLOC_BACKGROUND_THREAD`, default jemalloc's (off)). */
  jemallocBackgroundThread?: boolean
  /** Period of an automatic purge of all arenas; `0` = off (`ULTRA_TRIM_INTERVAL_MS`, default 0). */
  trimIntervalMs?: number
}
// </config-types>

/**
 * Applies the `ULTRA_*` environment and `options` once and returns the effective
 * configuration. Idempotent: later calls return the same configuration, and
 * throw a RangeError if an option differs from the value in effect. Factories
 * initialise the subsystem with defaults when this was not called first.
 */
export declare function initMemorySubsystem(options?: MemoryConfigOptions): MemoryConfig

// ---------------------------------------------------------------- cache

/**
 * Options of {@link createCache}, lru-cache 11's where they overlap. At least one bound
 * (max, maxBytes, ttlMs > 0) is needed.
 */
export interface CacheOptions {
  /** Most entries kept, 1..2^24. */
  max?: number
  /**
   * Most bytes kept, counted as what the cache really holds: each entry weighs its key and
   * value in UTF-8 bytes plus a fixed per-entry overhead (142 on 64-bit: list node, TTL state
   * and its share of the hash index, counted at its largest), so the native cache's memory
   * (`subsystems.cache.liveBytes`) stays within `maxBytes`. At least that overhead.
   */
  maxBytes?: number
  /** Time to live of each entry in milliseconds; 0 or absent: no expiry. */
  ttlMs?: number
  /** Whether `get` restarts an entry's TTL. Default `false`. */
  updateAgeOnGet?: boolean
  /**
   * Whether `get` and `peek` return an expired entry's value (`get` then removes it, unless
   * `noDeleteOnStaleGet`). Default `false`. Per call: {@link CacheGetOptions}.
   */
  allowStale?: boolean
  /** Whether `get` leaves an expired entry in place (stale-while-revalidate). Default `false`. */
  noDeleteOnStaleGet?: boolean
  /**
   * Largest entry stored, in the bytes `maxBytes` counts (overhead included, so at least the
   * overhead): a larger one is not stored, evicts nothing, and removes the key's previous
   * value. Default: `maxBytes`.
   */
  maxEntrySize?: number
  /**
   * What {@link Cache.fetch} calls on a miss (or a stale entry), lru-cache's: its value (or a
   * Promise of it) is stored and returned; `undefined` stores nothing. `signal` aborts when
   * the caller's `signal` does; `options` are the fetch's; `context` is `options.context`.
   * Not part of a named cache's bounds: each handle has its own.
   */
  fetchMethod?: (
    key: string,
    staleValue: string | Buffer | undefined,
    how: { signal: AbortSignal, options: CacheFetchOptions, context: unknown }
  ) => string | Uint8Array | undefined | Promise<string | Uint8Array | undefined>
  /**
   * Opens a named cache: every call with the same name (1 to 256 UTF-16 units) returns a
   * handle on the same cache, which must be opened with the same bounds. Native: shared by all
   * worker_threads of the process. Fallback: shared within one thread only.
   */
  name?: string
  /** `true` makes a {@link StructuredCache} (see {@link StructuredCacheOptions}). Default `false`. */
  structured?: false
}

/**
 * Options of a structured cache ({@link createCache} with `structured: true`): values may be
 * anything `v8.serialize` accepts (objects, arrays, Date, Map, Set, BigInt, Buffers and typed
 * arrays, cycles...). Each is stored as its serialized bytes, off the V8 heap on the native
 * engine, and `maxBytes` / `maxEntrySize` count those bytes. Not for named caches.
 */
export interface StructuredCacheOptions extends Omit<CacheOptions, 'structured' | 'fetchMethod' | 'name'> {
  structured: true
  /** As {@link CacheOptions.fetchMethod}, with any value `v8.serialize` accepts. */
  fetchMethod?: (
    key: string,
    staleValue: unknown,
    how: { signal: AbortSignal, options: CacheFetchOptions, context: unknown }
  ) => unknown
  /** A structured cache cannot be named (a RangeError). */
  name?: undefined
}

/** Counters of a cache. */
export interface CacheStats {
  /** `get` calls that found a live entry. */
  hits: number
  /** `get` calls that found none. */
  misses: number
  /** `set` calls that added an entry. */
  inserts: number
  /** `set` calls that replaced a live entry. */
  updates: number
  evictions: {
    /** Entries dropped to stay within `max`. */
    capacity: number
    /** Entries dropped to stay within `maxBytes`, and values larger than `maxBytes` refused. */
    size: number
    /** Expired entries removed. */
    expired: number
  }
  /** Entries held, counting expired ones not yet removed. */
  entries: number
  /** Bytes of the entries held, as counted for `maxBytes` (key + value + overhead each). */
  bytes: number
}

/** Per-call options of {@link Cache.get} (lru-cache's names; absent: the cache's own). */
export interface CacheGetOptions {
  /** Return an expired entry's value (it still counts as a miss). Default `false`. */
  allowStale?: boolean
  /** Restart the TTL of a live entry found. Default: the cache's `updateAgeOnGet`. */
  updateAgeOnGet?: boolean
  /** Leave an expired entry in place (and in its place in the recency order). Default `false`. */
  noDeleteOnStaleGet?: boolean
}

/** Options of {@link Cache.fetch} (lru-cache's names; `ttlMs` as in `set`). */
export interface CacheFetchOptions extends CacheGetOptions {
  /** Call `fetchMethod` even when a live value is cached. */
  forceRefresh?: boolean
  /** TTL of the value fetched, as `set`'s `ttlMs`. */
  ttlMs?: number
  /** Handed to `fetchMethod` as `context`. */
  context?: unknown
  /** Aborts the fetch: nothing is stored and the fetch rejects with its reason. */
  signal?: AbortSignal
}

/** Per-call options of {@link Cache.peek}. */
export interface CachePeekOptions {
  /** Return an expired entry's value. Default `false`. */
  allowStale?: boolean
}

/** Per-call options of {@link Cache.has}. */
export interface CacheHasOptions {
  /** Restart the TTL of a live entry found. Default `false`. */
  updateAgeOnHas?: boolean
}

/** One entry of {@link Cache.dump}, lru-cache's format. */
export interface CacheDumpEntry<V = string | Uint8Array> {
  value: V
  /** Time to live in ms; 0: never expires. Absent in `load()`: the cache's TTL. */
  ttl?: number
  /** When the TTL started, in epoch ms (`Date.now()`); only with a TTL. */
  start?: number
  /** lru-cache's size; accepted by `load()` and not used (sizes are counted in bytes). */
  size?: number
}

/**
 * A string-keyed LRU cache of strings and byte strings. Keys are JS strings: distinct
 * strings are distinct keys (lone surrogates included); string values come back as stored.
 * `V` is what reads return, `In` what `set` and `load` take (see {@link StructuredCache}).
 */
export interface Cache<V = string | Buffer, In = string | Uint8Array> {
  /**
   * The value, or `undefined` when absent or expired. A value stored as a Buffer or
   * Uint8Array comes back as a new Buffer each time: mutating it never changes the cache.
   * An expired entry is removed, unless `noDeleteOnStaleGet`; its value is returned with
   * `allowStale` (then, unless kept, only once).
   */
  get(key: string, options?: CacheGetOptions): V | undefined
  /**
   * Stores a copy of `value` and returns the cache. `options.ttlMs` overrides the cache's
   * TTL for this entry (0: never expires). A value larger than `maxBytes` or `maxEntrySize`
   * is not stored, evicts nothing, and removes the key's previous value.
   */
  set(key: string, value: In, options?: { ttlMs?: number }): this
  /** Whether a live entry exists; does not refresh its recency. */
  has(key: string, options?: CacheHasOptions): boolean
  /** Like `get` without refreshing recency or counting a hit or miss; never removes an entry. */
  peek(key: string, options?: CachePeekOptions): V | undefined
  /**
   * lru-cache's `fetch`: the live value, else the value of one `fetchMethod` call shared by
   * every concurrent fetch of the key, stored and returned. With `allowStale`, a stale value
   * comes back at once while the fetch runs. A rejection stores nothing, removes the stale
   * entry and rejects every caller. Without `fetchMethod`: `get`.
   */
  fetch(key: string, options?: CacheFetchOptions): Promise<V | undefined>
  /** Removes the entry; `true` when there was one, expired or not (as lru-cache). */
  delete(key: string): boolean
  /** Removes every entry. */
  clear(): void
  /**
   * The keys, most recent first (as lru-cache), as an iterator over a snapshot taken now.
   * Expired entries are left out unless the cache was created with `allowStale`.
   */
  keys(): IterableIterator<string>
  /** The values, in the order of `keys()`; Buffers are copies. */
  values(): IterableIterator<V>
  /** `[key, value]` pairs, in the order of `keys()`. */
  entries(): IterableIterator<[string, V]>
  /**
   * Every entry, expired ones included, least recent first, as lru-cache's `dump()`: feed it
   * to `load()` (here, in another process, or in lru-cache) to restore recency and time left.
   */
  dump(): Array<[string, CacheDumpEntry<V>]>
  /**
   * Replaces the contents with a `dump()` (also lru-cache's, with string or byte values); the
   * last entry becomes the most recent. Checked whole before the cache changes.
   */
  load(entries: ReadonlyArray<readonly [string, CacheDumpEntry<In>]>): void
  /** Entries held, counting expired ones not yet removed. */
  readonly size: number
  /** Whole milliseconds left (rounded up); `Infinity` without TTL; `undefined` when absent or expired. */
  remainingTtlMs(key: string): number | undefined
  /** Removes expired entries; returns how many. */
  purgeExpired(): number
  stats(): CacheStats
}

/**
 * A cache made with `structured: true`: `set` takes any value `v8.serialize` accepts (a
 * function or symbol is a TypeError naming `value`; `undefined` deletes the key, as in
 * lru-cache), and `get`, `peek`, `fetch`, `values`, `entries` and `dump` return deep copies
 * (`v8.deserialize`), so mutating one never changes the cache. `dump()`/`load()` round-trip.
 */
export type StructuredCache = Cache<unknown, unknown>

/**
 * Creates a cache of at most `maxEntries` entries (1..2^24), each living
 * `ttlSeconds` (fractions allowed; 0 or absent: no expiry).
 */
export declare function createCache(maxEntries: number, ttlSeconds?: number): Cache
/** Creates a structured cache (values are anything `v8.serialize` accepts). */
export declare function createCache(options: StructuredCacheOptions): StructuredCache
/** Creates or opens a cache. With no bound at all, the `ULTRA_CACHE_*` defaults apply. */
export declare function createCache(options?: CacheOptions): Cache

// ---------------------------------------------------------------- hashing

/** BLAKE3 mode: keyed hash or key derivation (at most one of the two). */
export interface Blake3ModeOptions {
  /** 32-byte key: keyed-hash (MAC) mode. */
  key?: Uint8Array
  /** Context string: derive-key mode. */
  context?: string
}

export interface Blake3Options extends Blake3ModeOptions {
  /** Output length in bytes, 1..2^20 (extendable output). Default 32. */
  length?: number
  /** Default `'hex'` (lowercase). */
  encoding?: 'hex' | 'buffer'
}

/** BLAKE3 of `data`: lowercase hex by default. */
export declare function blake3Hash(data: BinaryLike, options?: Blake3Options & { encoding?: 'hex' }): string
export declare function blake3Hash(data: BinaryLike, options: Blake3Options & { encoding: 'buffer' }): Buffer
export declare function blake3Hash(data: BinaryLike, options?: Blake3Options): string | Buffer

/** A streaming BLAKE3 hasher. `digest` may be called any number of times; `update` may follow it. */
export interface Blake3Hasher {
  update(data: BinaryLike): this
  digest(encoding?: 'hex'): string
  digest(encoding: 'buffer'): Buffer
  digest(options: { length?: number, encoding?: 'hex' }): string
  digest(options: { length?: number, encoding: 'buffer' }): Buffer
}

export declare function createBlake3Hasher(options?: Blake3ModeOptions): Blake3Hasher

export interface Xxh3ModeOptions {
  /** Digest width. Default 64. */
  bits?: 64 | 128
  /** Seed, an integer in 0..2^64-1. Default 0. */
  seed?: number | bigint
}

export interface Xxh3Options extends Xxh3ModeOptions {
  /** Default `'hex'`: the canonical big-endian digest as `xxhsum` prints it; `'buffer'` holds those bytes. */
  encoding?: 'hex' | 'bigint' | 'buffer'
}

/** XXH3 of `data`: 64-bit lowercase hex by default. */
export declare function xxh3Hash(data: BinaryLike, options?: Xxh3Options & { encoding?: 'hex' }): string
export declare function xxh3Hash(data: BinaryLike, options: Xxh3Options & { encoding: 'bigint' }): bigint
export declare function xxh3Hash(data: BinaryLike, options: Xxh3Options & { encoding: 'buffer' }): Buffer
export declare function xxh3Hash(data: BinaryLike, options?: Xxh3Options): string | bigint | Buffer

/** A streaming XXH3 hasher. `digest` may be called any number of times; `update` may follow it. */
export interface Xxh3Hasher {
  update(data: BinaryLike): this
  digest(encoding?: 'hex'): string
  digest(encoding: 'bigint'): bigint
  digest(encoding: 'buffer'): Buffer
}

export declare function createXxh3Hasher(options?: Xxh3ModeOptions): Xxh3Hasher

// ---------------------------------------------------------------- JSON

/**
 * Why JSON was rejected: `syntax`; `utf8` (invalid UTF-8, or an unpaired surrogate
 * in a `\u` escape); `number_out_of_range` (beyond f64); `too_deep` (nesting deeper
 * than 1024 levels); `too_large` (input over 64 MiB).
 */
export type JsonErrorKind = 'syntax' | 'utf8' | 'number_out_of_range' | 'too_deep' | 'too_large'

/** A rejected JSON input: `<function>: <message> at byte <offset>`. */
export interface JsonSyntaxError extends SyntaxError {
  /** Byte offset of the fault in the UTF-8 input (in the UTF-8 encoding of a string input); `null` for `too_large`. */
  offset: number | null
  kind: JsonErrorKind
}

export type JsonValidation =
  | { valid: true }
  | { valid: false, offset: number | null, kind: JsonErrorKind, message: string }

/**
 * Checks that `data` is one JSON document (RFC 8259) in UTF-8, without a byte order
 * mark; never throws for invalid JSON.
 */
export declare function validateJson(data: BinaryLike): JsonValidation

/** Parses `data`; throws a {@link JsonSyntaxError} when invalid. */
export declare function parseJson<T = unknown>(data: BinaryLike): T

/**
 * The value at an RFC 6901 `pointer` (`''` for the whole document, `/a/0/~1b`
 * for `doc.a[0]['/b']`), or `undefined` when nothing is there. Throws a
 * {@link JsonSyntaxError} when `data` is invalid.
 */
export declare function jsonPointer<T = unknown>(data: BinaryLike, pointer: string): T | undefined

/**
 * `data` without insignificant whitespace; every token is kept as written.
 * Throws a {@link JsonSyntaxError} when invalid.
 */
export declare function minifyJson(data: BinaryLike): string

// ---------------------------------------------------------------- arenas and pools

export interface MemoryArenaOptions {
  /** Size of the first chunk; later chunks double. Default: `arenaChunkBytes`. */
  chunkBytes?: number
  /** Most bytes the arena reserves; an allocation past it is a RangeError. Default: `arenaLimitBytes`. */
  limitBytes?: number
}

export interface MemoryArenaStats {
  /** Bytes of the chunks held. */
  reservedBytes: number
  /** Bytes handed out since the last reset. */
  usedBytes: number
  /** Chunks held. */
  chunks: number
  limitBytes: number
}

/** A bump arena. Nothing is reserved until the first allocation. */
export interface MemoryArena {
  /** A Buffer of `size` bytes (>= 1) inside the arena; its contents are unspecified. */
  allocBuffer(size: number): Buffer
  /** Frees every chunk; every Buffer handed out before is detached (length 0). */
  reset(): void
  stats(): MemoryArenaStats
}

export declare function createMemoryArena(options?: MemoryArenaOptions): MemoryArena

export interface ObjectPoolOptions {
  /** Buffers of `bufferBytes` created up front, at most `max`. Default: min(`poolInitial`, max). */
  initial?: number
  /** Idle buffers kept per size class. Default: `poolMax`. */
  max?: number
  /** Default size of `acquire`; size classes are this times powers of two. Default: `poolBufferBytes`. */
  bufferBytes?: number
}

export interface ObjectPoolStats {
  /** Buffers kept for reuse. */
  idle: number
  /** Buffers handed out and not released. */
  inUse: number
  /** `acquire` calls served by an idle buffer. */
  hits: number
  /** `acquire` calls that allocated. */
  misses: number
  /** Bytes of the idle and in-use buffers (their size classes). */
  bytesHeld: number
}

/** A pool of reusable Buffers. */
export interface ObjectPool {
  /** A Buffer of `size` bytes (default `bufferBytes`); its contents are unspecified. */
  acquire(size?: number): Buffer
  /**
   * Gives a Buffer back; it is detached (length 0). Releasing one twice, or one
   * this pool did not hand out, throws a RangeError.
   */
  release(buffer: Buffer): void
  /** Frees the idle buffers; returns their bytes. */
  shrink(): number
  stats(): ObjectPoolStats
}

/** A pool keeping at most `maxIdle` idle buffers per size class. */
export declare function createObjectPool(maxIdle?: number): ObjectPool
export declare function createObjectPool(options?: ObjectPoolOptions): ObjectPool

// ---------------------------------------------------------------- memory manager

/** Bytes attributed to one subsystem by the tracking allocator; `null` in the fallback. */
export interface SubsystemStats {
  liveBytes: number | null
  peakBytes: number | null
}

/** One bucket of the allocation size histogram. */
export interface HistogramBucket {
  /** Upper bound of the bucket in bytes (`Infinity` for the last). */
  le: number
  /** Live allocations in the bucket. */
  count: number
}

export interface MemoryStats {
  /** Whether the figures come from the native tracking allocator. */
  native: boolean
  /** Allocator totals since load; `null` in the fallback. */
  totals: {
    liveBytes: number | null
    peakBytes: number | null
    allocatedBytes: number | null
    freedBytes: number | null
    allocations: number | null
    deallocations: number | null
    reallocations: number | null
    failedAllocations: number | null
  }
  subsystems: {
    cache: SubsystemStats
    json: SubsystemStats
    hash: SubsystemStats
    arena: SubsystemStats
    pool: SubsystemStats
    exporter: SubsystemStats
    other: SubsystemStats
  }
  /** Allocation size histogram; `null` in the fallback. */
  histogram: HistogramBucket[] | null
  /** jemalloc's own figures in bytes; `null` in the fallback. */
  jemalloc: {
    allocated: number | null
    active: number | null
    resident: number | null
    mapped: number | null
    retained: number | null
    metadata: number | null
  }
  /** Live arenas (fallback: of this thread). */
  arenas: { count: number, reservedBytes: number, usedBytes: number }
  /** Live pools (fallback: of this thread). */
  pools: { count: number, idle: number, inUse: number, bytesHeld: number }
  /** Live caches (fallback: of this thread). */
  caches: { count: number, entries: number, bytes: number }
  /** Node's own figures, from `process.memoryUsage()`. */
  process: { rssBytes: number, heapUsed: number, external: number }
}

/**
 * Resident bytes by owner, from one reading. `null`: this engine or process
 * cannot know that owner (the fallback knows `code` and `v8Heap` only;
 * `addonCode` is the native addon's own code pages). Never negative.
 */
export interface MemoryOwners {
  /** Resident pages of mapped files (node, shared libraries, mapped files) and shared memory, the addon's code excepted. */
  code: number | null
  /** Resident code pages of the ultra addon itself. */
  addonCode: number | null
  /** Live bytes in ultra's tracking allocator (split by subsystem in `ultraSubsystems`). */
  ultra: number | null
  /** What jemalloc holds beyond `ultra`: headers, size-class rounding, fragmentation, metadata, dirty pages not yet purged (`trim()` returns these). */
  allocatorOverhead: number | null
  /** The V8 heap's physical size (`v8.getHeapStatistics().total_physical_size`). */
  v8Heap: number | null
  /** Bytes glibc malloc handed out and not freed: Node's own allocations and every Buffer/ArrayBuffer backing store. */
  malloc: number | null
  /** Free bytes glibc malloc keeps resident in its arenas (`trimMalloc()` returns their pages). */
  mallocFree: number | null
  /** Resident pages of the thread stacks found. */
  stacks: number | null
}

/** The process's RSS of one reading, split into owners. */
export interface MemoryExplanation {
  /** Whether the native engine read it. */
  native: boolean
  /** Resident set size of this reading, bytes. */
  rssBytes: number
  owners: MemoryOwners
  /**
   * `rssBytes` minus every non-null owner, exactly, so that the owners plus this
   * sum to `rssBytes`. Negative when the owners over-state (a block allocated but
   * never written, free malloc chunks released by `trimMalloc()`): never clamped.
   */
  unattributedBytes: number
  /** `owners.ultra` by subsystem (live bytes); `null` in the fallback or without attribution. */
  ultraSubsystems: Record<'cache' | 'json' | 'hash' | 'arena' | 'pool' | 'exporter' | 'other', number> | null
  /** Threads of the process and how many of their stacks were not located (running at that instant); `null` in the fallback. */
  threads: { count: number, stacksNotLocated: number } | null
}

export interface MemoryManager {
  /** One consistent snapshot of every figure. */
  stats(): MemoryStats
  /** Who holds the RSS: one reading split into owners that add up to it exactly. */
  explain(): MemoryExplanation
  /** Returns freed pages to the OS; the bytes released, or `null` where unavailable (fallback). */
  trim(): number | null
  /**
   * glibc's `malloc_trim(0)`: gives the free pages of every malloc arena back to
   * the OS; the resident bytes released, or `null` where unavailable (fallback,
   * or malloc is not glibc's).
   */
  trimMalloc(): number | null
}

export declare function createMemoryManager(): MemoryManager

// ---------------------------------------------------------------------------------------
// Prometheus metrics

/**
 * Every `ultra_*` family as Prometheus text format 0.0.4, from one fresh reading — for a
 * host that already serves `/metrics`. Never `process_*` or `nodejs_*` families (those are
 * prom-client's). The fallback emits only what JS can know (build info, arenas, pools,
 * caches); native-only families are absent, never zero.
 */
export declare function metricsText(): string

export interface ExporterOptions {
  /** Address to listen on; default from `ULTRA_EXPORTER_ADDR`, else `127.0.0.1`. */
  host?: string
  /** Port; `0` picks a free one; default from `ULTRA_EXPORTER_ADDR`, else `9477`. */
  port?: number
}

export interface RunningExporter {
  /** The address actually bound. */
  readonly host: string
  /** The port actually bound (the chosen one when `0` was asked). */
  readonly port: number
  /**
   * Stops serving: removes the file_sd target written under `ULTRA_EXPORTER_SD_DIR` at once,
   * closes the port and idle keep-alive connections, lets in-flight responses finish (within
   * 5 s, then cuts them). Never blocks the event loop; resolves once the port is free and every
   * connection has ended. Calling it again returns the same Promise. Without `close()`, the
   * target file is removed when the process exits.
   */
  close(): Promise<void>
}

/**
 * Serves `GET /metrics` (other paths 404, other methods 405; gzip when accepted) and, natively,
 * `GET /debug/pprof/heap` (the heap profile as gzipped pprof while sampling, 404 otherwise). Natively the
 * listener runs on threads of its own, so scrapes are answered while the event loop is busy,
 * and bounds what clients can hold: `ULTRA_EXPORTER_MAX_CONNECTIONS` open connections (default
 * 64), header read / idle / write timeouts (10 s / 30 s / 10 s), 431 beyond a 16 KiB header,
 * 414 beyond a 2 KiB URL, 503 beyond 16 scrapes in flight. With `ULTRA_EXPORTER_SD_DIR` set,
 * writes a Prometheus file_sd target there (after removing those of dead processes). A bad
 * `ULTRA_*` value rejects with an error naming the variable.
 */
export declare function startExporter(options?: ExporterOptions): Promise<RunningExporter>

// Native heap profiles

/** Whether native heap profiles can be taken, and whether allocations are being sampled. */
export interface HeapProfileStatus {
  /** Whether jemalloc's profiler exists in this process (the native addon; always false on the fallback). */
  readonly available: boolean
  /** Whether allocations are being sampled now (`ULTRA_HEAP_PROFILE=1` or `setHeapProfiling(true)`). */
  readonly active: boolean
  /** The mean number of bytes allocated between two samples (`ULTRA_HEAP_PROFILE_SAMPLE_BYTES`), `null` when not available. */
  readonly sampleBytes: number | null
}

/**
 * The live native heap (everything ultra's native core holds) as sampled since sampling was
 * switched on: a gzipped pprof `Profile` with one sample type, `inuse_space` in bytes,
 * symbolized (function names, files, lines), for `go tool pprof`, Pyroscope or Grafana.
 * Synchronous: the dump and its symbolization block the calling thread (the first call loads
 * the addon's line tables). Throws a `RangeError` with `code` `ULTRA_HEAP_PROFILE_OFF` while
 * sampling is off, and `ULTRA_HEAP_PROFILE_UNAVAILABLE` on the fallback.
 */
export declare function heapProfile(): Buffer

/**
 * Switches the sampling of native allocations on or off at run time; off discards the samples
 * taken so far. Throws a `RangeError` with `code` `ULTRA_HEAP_PROFILE_UNAVAILABLE` on the fallback.
 */
export declare function setHeapProfiling(on: boolean): void

/** Whether native heap profiles are available and being sampled. */
export declare function heapProfileStatus(): HeapProfileStatus

/** What `registerPromClient` registered. */
export interface PromClientRegistration {
  /** The family names registered. */
  readonly names: string[]
  /** Removes them from the registry again. */
  unregister(): void
}

/**
 * Registers every `ultra_*` family in a prom-client (v15) `Registry` as a collector read
 * fresh at each scrape, so the host's single `/metrics` — and `AggregatorRegistry` in
 * cluster mode — includes them. A family already registered makes prom-client throw.
 */
export declare function registerPromClient(registry: {
  registerMetric(metric: object): void
  removeSingleMetric(name: string): void
  contentType?: string
}): PromClientRegistration
