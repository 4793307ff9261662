//! The memory manager (`stats()`, `explain()`, `trim()`, `trimMalloc()`) and the configuration
//! (`initMemorySubsystem`).

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use napi::{sys, Env};
use ultra_alloc::{histogram_bucket_le, Config, PeriodicTrim, Subsystem};
use ultra_core::{Backing, ExplainOptions, Explanation, Owner, Snapshot};

use crate::error::{message, range_error, type_error, Fail, R};
use crate::glue::{self, Class, Member};
use crate::raw::{self, Kind, Val};

// ------------------------------------------------------------------------------------------
// Memory manager

/// Whole-process memory figures (the engine side of `createMemoryManager`): `stats()`,
/// `explain()`, `trim()`, `trimMalloc()`.
pub struct NativeMemoryManager {}

impl Class for NativeMemoryManager {
    const NAME: &'static std::ffi::CStr = c"NativeMemoryManager";
    const TAG: sys::napi_type_tag = sys::napi_type_tag {
        lower: 0x756c_7472_615f_6d6d,
        upper: 0x0001,
    };
    const SLOT: usize = 1;
}

/// `createMemoryManager()`: a manager (it holds nothing: every `stats()` reads the process
/// anew).
pub fn create_memory_manager(env: Env, []: [Val; 0]) -> R<Val> {
    glue::instance(env, NativeMemoryManager {})
}

/// The JS key of a subsystem (its name), without allocating.
fn subsystem_key(s: Subsystem) -> &'static std::ffi::CStr {
    match s {
        Subsystem::Other => c"other",
        Subsystem::Cache => c"cache",
        Subsystem::Json => c"json",
        Subsystem::Hash => c"hash",
        Subsystem::Arena => c"arena",
        Subsystem::Pool => c"pool",
        Subsystem::Exporter => c"exporter",
    }
}

fn set_opt(env: Env, obj: Val, name: &std::ffi::CStr, v: Option<u64>) -> R<()> {
    let value = match v {
        Some(n) => raw::num(env, n as f64)?,
        None => raw::null(env)?,
    };
    raw::set(env, obj, name, value)
}

/// `stats()`: one snapshot of every figure, byte counts as numbers: allocator `totals`, per
/// `subsystems` (`liveBytes`, `peakBytes`, `allocatedBytes`, `freedBytes`), the allocation
/// size `histogram` (allocations made since load, by size bucket), `jemalloc`, and the
/// live `arenas`, `pools` and `caches` of the whole process (every thread). Reading it
/// allocates nothing on the Rust side, so it does not disturb the figures it reports.
fn stats(env: Env, _this: &mut NativeMemoryManager, []: [Val; 0]) -> R<Val> {
    ultra_alloc::flush_current_thread();
    let snap = Snapshot::take();
    let out = raw::object(env)?;
    raw::set(env, out, c"native", raw::bool_val(env, true)?)?;

    let a = &snap.alloc;
    let totals = raw::object(env)?;
    raw::set_num(env, totals, c"liveBytes", a.live_bytes as f64)?;
    raw::set_num(env, totals, c"peakBytes", a.peak_bytes as f64)?;
    raw::set_num(env, totals, c"allocatedBytes", a.allocated_bytes as f64)?;
    raw::set_num(env, totals, c"freedBytes", a.freed_bytes as f64)?;
    raw::set_num(env, totals, c"allocations", a.allocations as f64)?;
    raw::set_num(env, totals, c"deallocations", a.deallocations as f64)?;
    raw::set_num(env, totals, c"reallocations", a.reallocations as f64)?;
    raw::set_num(
        env,
        totals,
        c"failedAllocations",
        a.failed_allocations as f64,
    )?;
    raw::set(env, out, c"totals", totals)?;

    let subsystems = raw::object(env)?;
    for s in Subsystem::ALL {
        let one = raw::object(env)?;
        let figures = a.subsystem(s);
        set_opt(env, one, c"liveBytes", figures.map(|f| f.live_bytes))?;
        set_opt(env, one, c"peakBytes", figures.map(|f| f.peak_bytes))?;
        set_opt(
            env,
            one,
            c"allocatedBytes",
            figures.map(|f| f.allocated_bytes),
        )?;
        set_opt(env, one, c"freedBytes", figures.map(|f| f.freed_bytes))?;
        raw::set(env, subsystems, subsystem_key(s), one)?;
    }
    raw::set(env, out, c"subsystems", subsystems)?;

    let histogram = raw::array(env, a.histogram.len())?;
    for (i, &count) in a.histogram.iter().enumerate() {
        let bucket = raw::object(env)?;
        let le = histogram_bucket_le(i).map_or(f64::INFINITY, |le| le as f64);
        raw::set_num(env, bucket, c"le", le)?;
        raw::set_num(env, bucket, c"count", count as f64)?;
        raw::set_index(env, histogram, i as u32, bucket)?;
    }
    raw::set(env, out, c"histogram", histogram)?;

    let jemalloc = raw::object(env)?;
    let j = snap.jemalloc.ok();
    set_opt(env, jemalloc, c"allocated", j.map(|j| j.allocated))?;
    set_opt(env, jemalloc, c"active", j.map(|j| j.active))?;
    set_opt(env, jemalloc, c"resident", j.map(|j| j.resident))?;
    set_opt(env, jemalloc, c"mapped", j.map(|j| j.mapped))?;
    set_opt(env, jemalloc, c"retained", j.map(|j| j.retained))?;
    set_opt(env, jemalloc, c"metadata", j.map(|j| j.metadata))?;
    raw::set(env, out, c"jemalloc", jemalloc)?;

    let arenas = raw::object(env)?;
    raw::set_num(env, arenas, c"count", snap.arenas.arenas as f64)?;
    raw::set_num(
        env,
        arenas,
        c"reservedBytes",
        snap.arenas.reserved_bytes as f64,
    )?;
    raw::set_num(env, arenas, c"usedBytes", snap.arenas.used_bytes as f64)?;
    raw::set(env, out, c"arenas", arenas)?;

    let pools = raw::object(env)?;
    raw::set_num(env, pools, c"count", snap.pools.pools as f64)?;
    raw::set_num(env, pools, c"idle", snap.pools.idle as f64)?;
    raw::set_num(env, pools, c"inUse", snap.pools.in_use as f64)?;
    raw::set_num(env, pools, c"bytesHeld", snap.pools.bytes_held as f64)?;
    raw::set(env, out, c"pools", pools)?;

    let caches = raw::object(env)?;
    raw::set_num(env, caches, c"count", snap.caches.caches as f64)?;
    raw::set_num(env, caches, c"entries", snap.caches.entries as f64)?;
    raw::set_num(env, caches, c"bytes", snap.caches.bytes as f64)?;
    raw::set(env, out, c"caches", caches)?;

    // `process` is added by the JS wrapper, from `process.memoryUsage()`.
    Ok(out)
}

/// How the addon explains the RSS: jemalloc backs ultra's allocator (`lib.rs`), and the
/// addon's own code pages are the module that holds this function.
pub fn explain_options(v8_heap_bytes: Option<u64>) -> ExplainOptions {
    ExplainOptions {
        backing: Backing::Jemalloc,
        module_addr: Some(explain_options as *const () as usize),
        v8_heap_bytes,
    }
}

/// `explain(v8HeapBytes)`: the process's RSS of one reading split into owners that add up to
/// it exactly (`ultra_core::Explanation`): `{ native, rssBytes, owners: { code, addonCode,
/// ultra, allocatorOverhead, v8Heap, malloc, mallocFree, stacks }, unattributedBytes,
/// ultraSubsystems, threads }`. `v8HeapBytes` is the V8 heap's physical size read by the JS
/// wrapper just before (`null`: unknown, then `owners.v8Heap` is `null` too). Allocates nothing
/// on the Rust side.
fn explain(env: Env, _this: &mut NativeMemoryManager, [v8]: [Val; 1]) -> R<Val> {
    const F: &str = "memoryManager.explain";
    const RULE: &str = "a number of bytes >= 0, or null";
    let v8_heap_bytes = match raw::kind(env, v8)? {
        Kind::Null | Kind::Undefined => None,
        Kind::Number => match raw::number(env, v8)? {
            Some(n) if (0.0..=MAX_SAFE).contains(&n) && n.fract() == 0.0 => Some(n as u64),
            _ => return Err(range_error(env, F, "v8HeapBytes", RULE, v8)),
        },
        _ => return Err(type_error(env, F, "v8HeapBytes", RULE, v8)),
    };
    let e = Explanation::take(&explain_options(v8_heap_bytes)).ok_or_else(|| {
        Fail::Error(format!(
            "{F}: /proc/self/status cannot be read (the RSS split needs Linux /proc)"
        ))
    })?;
    let out = raw::object(env)?;
    raw::set(env, out, c"native", raw::bool_val(env, true)?)?;
    raw::set_num(env, out, c"rssBytes", e.rss_bytes as f64)?;
    let owners = raw::object(env)?;
    for (owner, bytes) in e.iter() {
        set_opt(env, owners, owner.js_key(), bytes)?;
    }
    raw::set(env, out, c"owners", owners)?;
    raw::set_num(env, out, c"unattributedBytes", e.unattributed_bytes as f64)?;
    let subsystems = match e.ultra_subsystems {
        Some(live) => {
            let o = raw::object(env)?;
            for s in Subsystem::ALL {
                raw::set_num(env, o, subsystem_key(s), live[s.index()] as f64)?;
            }
            o
        }
        None => raw::null(env)?,
    };
    raw::set(env, out, c"ultraSubsystems", subsystems)?;
    let threads = match e.threads {
        Some((count, unlocated)) => {
            let o = raw::object(env)?;
            raw::set_num(env, o, c"count", f64::from(count))?;
            raw::set_num(env, o, c"stacksNotLocated", f64::from(unlocated))?;
            o
        }
        None => raw::null(env)?,
    };
    raw::set(env, out, c"threads", threads)?;
    // Keep the owner list and this object in step.
    debug_assert_eq!(Owner::ALL.len(), Owner::COUNT);
    Ok(out)
}

/// `trimMalloc()`: glibc's `malloc_trim(0)`, which gives the free pages of every malloc arena
/// back to the OS; the resident bytes released (RSS before minus after), or `null` where malloc
/// is not glibc's.
fn trim_malloc(env: Env, _this: &mut NativeMemoryManager, []: [Val; 0]) -> R<Val> {
    match ultra_alloc::resident::malloc_trim() {
        Some(released) => raw::num(env, released as f64),
        None => raw::null(env),
    }
}

/// `trim()`: returns jemalloc's dirty pages to the OS now; the resident bytes released.
fn trim(env: Env, _this: &mut NativeMemoryManager, []: [Val; 0]) -> R<Val> {
    let released =
        ultra_alloc::trim().map_err(|e| Fail::Error(format!("memoryManager.trim: {e}")))?;
    raw::num(env, released as f64)
}

glue::method!(
    stats_cb,
    NativeMemoryManager,
    0,
    "memoryManager.stats",
    stats
);
glue::method!(trim_cb, NativeMemoryManager, 0, "memoryManager.trim", trim);
glue::method!(
    explain_cb,
    NativeMemoryManager,
    1,
    "memoryManager.explain",
    explain
);
glue::method!(
    trim_malloc_cb,
    NativeMemoryManager,
    0,
    "memoryManager.trimMalloc",
    trim_malloc
);

/// The members of `NativeMemoryManager`.
pub const MEMBERS: &[Member] = &[
    Member::Method(c"stats", stats_cb),
    Member::Method(c"trim", trim_cb),
    Member::Method(c"explain", explain_cb),
    Member::Method(c"trimMalloc", trim_malloc_cb),
];

// ------------------------------------------------------------------------------------------
// Configuration

/// What the first `initMemorySubsystem` of the process applied: jemalloc and the periodic
/// trim are process-wide, whichever thread asks.
struct Applied {
    dirty_decay_ms: Option<i64>,
    background_thread: Option<bool>,
    trim_interval_ms: u64,
    /// The periodic trim thread, kept for the life of the process.
    _trim: Option<Mutex<PeriodicTrim>>,
}

static APPLIED: OnceLock<Result<Applied, String>> = OnceLock::new();

/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// One field of the configuration object: its JS key, and whether it may be `null`.
fn field(env: Env, config: Val, key: &std::ffi::CStr, nullable: bool, min: f64) -> R<Option<f64>> {
    const F: &str = "initMemorySubsystem";
    let v = raw::get(env, config, key)?;
    let param = format!("config.{}", key.to_string_lossy());
    let rule = format!(
        "an integer in [{min}, {MAX_SAFE}]{}",
        if nullable { " or null" } else { "" }
    );
    match raw::kind(env, v)? {
        Kind::Null | Kind::Undefined if nullable => Ok(None),
        Kind::Number => match raw::number(env, v)? {
            Some(n) if n.fract() == 0.0 && (min..=MAX_SAFE).contains(&n) => Ok(Some(n)),
            _ => Err(range_error(env, F, &param, &rule, v)),
        },
        _ => Err(type_error(env, F, &param, &rule, v)),
    }
}

fn size(n: Option<f64>) -> usize {
    n.map_or(0, |n| n as usize)
}

/// Applies a complete configuration (the `ULTRA_*` environment merged with explicit options,
/// resolved by `lib/config.js`) and returns the effective one. The jemalloc settings and the
/// periodic trim are process-wide: the first call of the process applies them (and starts the
/// trim thread when `trimIntervalMs > 0`); every call returns the values in effect for them.
/// Nothing is reserved or started before this is called.
pub fn init_memory_subsystem(env: Env, [config]: [Val; 1]) -> R<Val> {
    const F: &str = "initMemorySubsystem";
    if raw::kind(env, config)? != Kind::Object {
        return Err(type_error(env, F, "config", "an object", config));
    }
    let pool_initial = field(env, config, c"poolInitial", false, 0.0)?;
    let pool_max = field(env, config, c"poolMax", false, 0.0)?;
    let pool_buffer_bytes = field(env, config, c"poolBufferBytes", false, 1.0)?;
    let arena_chunk_bytes = field(env, config, c"arenaChunkBytes", false, 1.0)?;
    let arena_limit_bytes = field(env, config, c"arenaLimitBytes", false, 1.0)?;
    let cache_max_entries = field(env, config, c"cacheMaxEntries", true, 1.0)?;
    let cache_max_bytes = field(env, config, c"cacheMaxBytes", true, 1.0)?;
    let cache_ttl_ms = field(env, config, c"cacheTtlMs", true, 0.0)?;
    let decay = field(env, config, c"jemallocDirtyDecayMs", true, -1.0)?;
    let trim_interval_ms = field(env, config, c"trimIntervalMs", false, 0.0)?;
    let bg_v = raw::get(env, config, c"jemallocBackgroundThread")?;
    let background = match raw::kind(env, bg_v)? {
        Kind::Null | Kind::Undefined => None,
        Kind::Boolean => raw::boolean(env, bg_v)?,
        _ => {
            return Err(type_error(
                env,
                F,
                "config.jemallocBackgroundThread",
                "a boolean or null",
                bg_v,
            ))
        }
    };
    let built = Config::builder()
        .pool_initial(size(pool_initial))
        .pool_max(size(pool_max))
        .pool_buffer_bytes(size(pool_buffer_bytes))
        .arena_chunk_bytes(size(arena_chunk_bytes))
        .arena_limit_bytes(size(arena_limit_bytes))
        .cache_max_entries(cache_max_entries.map(|n| n as usize))
        .cache_max_bytes(cache_max_bytes.map(|n| n as usize))
        .cache_ttl_ms(cache_ttl_ms.map(|n| n as u64).filter(|&n| n > 0))
        .jemalloc_dirty_decay_ms(decay.map(|n| n as i64))
        .jemalloc_background_thread(background)
        .trim_interval_ms(trim_interval_ms.map_or(0, |n| n as u64))
        .build()
        .map_err(|e| Fail::Range(message(F, e.var, e.expected, &format!("{:?}", e.value))))?;
    let applied = APPLIED
        .get_or_init(|| apply(&built))
        .as_ref()
        .map_err(|e| Fail::Error(format!("{F}: {e}")))?;

    let out = raw::object(env)?;
    let set_num = |name: &std::ffi::CStr, n: f64| raw::set_num(env, out, name, n);
    let set_null_num = |name: &std::ffi::CStr, n: Option<f64>| -> R<()> {
        let v = match n {
            Some(n) => raw::num(env, n)?,
            None => raw::null(env)?,
        };
        raw::set(env, out, name, v)
    };
    set_num(c"poolInitial", built.pool_initial as f64)?;
    set_num(c"poolMax", built.pool_max as f64)?;
    set_num(c"poolBufferBytes", built.pool_buffer_bytes as f64)?;
    set_num(c"arenaChunkBytes", built.arena_chunk_bytes as f64)?;
    set_num(c"arenaLimitBytes", built.arena_limit_bytes as f64)?;
    set_null_num(c"cacheMaxEntries", cache_max_entries)?;
    set_null_num(c"cacheMaxBytes", cache_max_bytes)?;
    set_null_num(c"cacheTtlMs", cache_ttl_ms)?;
    set_null_num(
        c"jemallocDirtyDecayMs",
        applied.dirty_decay_ms.map(|n| n as f64),
    )?;
    let bg = match applied.background_thread {
        Some(b) => raw::bool_val(env, b)?,
        None => raw::null(env)?,
    };
    raw::set(env, out, c"jemallocBackgroundThread", bg)?;
    set_num(c"trimIntervalMs", applied.trim_interval_ms as f64)?;
    Ok(out)
}

/// Applies the process-wide part of `config` (once per process).
fn apply(config: &Config) -> Result<Applied, String> {
    ultra_alloc::apply_jemalloc(config).map_err(|e| e.to_string())?;
    let trim = if config.trim_interval_ms > 0 {
        let period = Duration::from_millis(config.trim_interval_ms);
        Some(Mutex::new(
            ultra_alloc::spawn_periodic_trim(period)
                .map_err(|e| format!("cannot start the periodic trim thread: {e}"))?,
        ))
    } else {
        None
    };
    Ok(Applied {
        dirty_decay_ms: config.jemalloc_dirty_decay_ms,
        background_thread: config.jemalloc_background_thread,
        trim_interval_ms: config.trim_interval_ms,
        _trim: trim,
    })
}

/// `getCoreVersion()`: the version of ultra's core (the workspace version, shared by every
/// ultra crate).
pub fn get_core_version(env: Env, []: [Val; 0]) -> R<Val> {
    raw::string_latin1(env, env!("CARGO_PKG_VERSION").as_bytes())
}

glue::function!(create_memory_manager_cb, 0, create_memory_manager);
glue::function!(init_memory_subsystem_cb, 1, init_memory_subsystem);
glue::function!(get_core_version_cb, 0, get_core_version);

/// The functions of this module, by JS name.
pub const FUNCTIONS: &[(&std::ffi::CStr, glue::Callback)] = &[
    (c"createMemoryManager", create_memory_manager_cb),
    (c"initMemorySubsystem", init_memory_subsystem_cb),
    (c"getCoreVersion", get_core_version_cb),
];
