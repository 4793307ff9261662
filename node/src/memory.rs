//! The memory manager (`stats()`, `explain()`, `trim()`, `trimMalloc()`) and the effective
//! configuration of the process (`initMemorySubsystem`, [`effective_config`]).

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use napi::{sys, Env};
use ultra_alloc::config::{Kind as ConfigKind, MAX_SAFE};
use ultra_alloc::{
    histogram_bucket_le, Config, PeriodicTrim, Subsystem, Value, Variable, VARIABLES,
};
use ultra_core::{Backing, ExplainOptions, Explanation, Owner, Snapshot};

use crate::error::{range_error, type_error, Fail, R};
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
    // The JS wrapper reads the V8 heap itself and passes a whole number or null: these are
    // guards, not user-facing checks.
    let v8_heap_bytes = match raw::kind(env, v8)? {
        Kind::Null | Kind::Undefined => None,
        Kind::Number => match raw::number(env, v8)? {
            Some(n) if (0.0..=MAX_SAFE as f64).contains(&n) && n.fract() == 0.0 => Some(n as u64),
            _ => return Err(range_error(F, "v8HeapBytes")),
        },
        _ => return Err(type_error(F, "v8HeapBytes")),
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

/// The effective configuration of the process, with what applying it started.
struct Effective {
    config: Config,
    /// The periodic trim thread, kept for the life of the process.
    _trim: Option<Mutex<PeriodicTrim>>,
}

static EFFECTIVE: OnceLock<Effective> = OnceLock::new();
/// Serialises the first resolution, so that two threads never both apply a configuration.
static RESOLVING: Mutex<()> = Mutex::new(());

/// The effective configuration of the process: the `ULTRA_*` environment and `options`, parsed
/// by `ultra_alloc::Config` (the one parser), resolved and applied by the first call that
/// succeeds; later calls return it and ignore `options` (the checking wrapper of
/// `lib/config.js` refuses an option that differs from the value in effect). Every consumer of
/// the addon reads this: `initMemorySubsystem`, the factories' defaults (through `lib/`),
/// `metricsText` and `startExporter`. A bad variable is a RangeError naming it, on every path.
pub fn effective_config(options: &[(&'static Variable, Value)]) -> R<&'static Config> {
    if let Some(e) = EFFECTIVE.get() {
        return Ok(&e.config);
    }
    // A panic while resolving leaves nothing half-set: the lock guards no data.
    let _resolving = RESOLVING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = EFFECTIVE.get() {
        return Ok(&e.config);
    }
    let config = Config::from_env_with_options(options).map_err(|e| Fail::Range(e.to_string()))?;
    let applied = apply(config).map_err(|e| Fail::Error(format!("initMemorySubsystem: {e}")))?;
    let effective = &EFFECTIVE.get_or_init(|| applied).config;
    // JSON's input pool reads the same ULTRA_POOL_* values (JSON calls resolve the config first).
    ultra_core::json::configure_pool(effective);
    Ok(effective)
}

/// Reads the options of `initMemorySubsystem`: for each variable of the table that is an
/// option, its key of `options` (`undefined`: not given).
fn read_options(env: Env, options: Val) -> R<Vec<(&'static Variable, Value)>> {
    const F: &str = "initMemorySubsystem";
    match raw::kind(env, options)? {
        Kind::Undefined | Kind::Null => return Ok(Vec::new()),
        Kind::Object => {}
        _ => return Err(type_error(F, "options")),
    }
    let mut given = Vec::new();
    for var in VARIABLES.iter().filter(|v| v.option) {
        let key = std::ffi::CString::new(var.key).map_err(|e| Fail::Error(e.to_string()))?;
        let v = raw::get(env, options, &key)?;
        let param = format!("options.{}", var.key);
        let value = match raw::kind(env, v)? {
            Kind::Undefined => continue,
            Kind::Number if var.kind != ConfigKind::Bool => match raw::number(env, v)? {
                Some(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE as f64 => Value::Int(n as i64),
                _ => return Err(range_error(F, &param)),
            },
            Kind::Boolean if var.kind == ConfigKind::Bool => {
                Value::Bool(raw::boolean(env, v)?.unwrap_or_default())
            }
            _ => return Err(type_error(F, &param)),
        };
        if !var.accepts(&value) {
            return Err(range_error(F, &param));
        }
        given.push((var, value));
    }
    Ok(given)
}

/// `initMemorySubsystem(options?)`: the effective configuration (see [`effective_config`]) as
/// an object with one key per variable of the table: numbers, booleans, strings, `null` for
/// unset. The first successful call of the process applies it: the jemalloc settings, and the
/// periodic trim thread when `trimIntervalMs > 0`. Nothing is reserved or started before.
pub fn init_memory_subsystem(env: Env, [options]: [Val; 1]) -> R<Val> {
    let given = read_options(env, options)?;
    let config = effective_config(&given)?;
    let out = raw::object(env)?;
    for var in VARIABLES {
        let value = match config.get(var) {
            Value::Unset => raw::null(env)?,
            Value::Int(n) => raw::num(env, n as f64)?,
            Value::Bool(b) => raw::bool_val(env, b)?,
            Value::Text(t) => raw::string_utf8(env, t.as_bytes())?,
        };
        let key = std::ffi::CString::new(var.key).map_err(|e| Fail::Error(e.to_string()))?;
        raw::set(env, out, &key, value)?;
    }
    Ok(out)
}

/// Applies the process-wide part of `config` (once per process).
fn apply(config: Config) -> Result<Effective, String> {
    ultra_alloc::apply_jemalloc(&config).map_err(|e| e.to_string())?;
    let trim = if config.trim_interval_ms > 0 {
        let period = Duration::from_millis(config.trim_interval_ms);
        Some(Mutex::new(
            ultra_alloc::spawn_periodic_trim(period)
                .map_err(|e| format!("cannot start the periodic trim thread: {e}"))?,
        ))
    } else {
        None
    };
    Ok(Effective {
        config,
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
