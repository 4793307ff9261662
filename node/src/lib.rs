//! ultra-node: the Node.js addon of ultra (napi-rs), the native engine behind the
//! `ultra-node` package.
//!
//! The package's `index.js` loads this addon through `native.js` (written by `napi build`) and
//! wraps it with the argument checks of `lib/`; when the addon cannot load, the same API runs
//! on the pure-JS fallback. Each exported function is one function of the engine contract
//! (`lib/api.js`, and `node/README.md`, "Engine contract"), called with arguments `lib/`
//! already checked and completed (`lib/validate.js` is the one layer that validates and words
//! argument errors). The addon guards them anyway: called directly, a wrong argument is a
//! TypeError or RangeError naming the function and the parameter (`error`), never a crash.
//!
//! Functions and classes are registered as raw N-API callbacks (module `glue`), not through
//! napi-rs's `#[napi]` glue; the addon registers itself (`napi_register_module_v1`), and
//! napi-rs provides the N-API declarations (`napi::sys`) and `Env`. So the `native.d.ts` that
//! `napi build` writes declares nothing; the package's types are `index.d.ts`, and each
//! function's contract is documented on its body here.
//!
//! # Why raw N-API callbacks
//!
//! `benches/napi-cost` builds the same calls four ways and runs them interleaved in one
//! process: raw callbacks self-registered (this addon's set-up, napi's `noop` feature), the
//! same raw callbacks under napi-rs's module registration (`noop` off), napi-rs `#[napi]`, and
//! napi-rs compat mode (`#[js_function]`). Medians of 21 rounds, ratios to raw
//! (`benches/README.md`, "The N-API layer (issue 14)", has the tables and the command):
//!
//! - **Hot calls: raw pays.** `#[napi]` costs ×2.8 on `xxh3` of a 64 B Buffer (204 vs 73 ns),
//!   ×2.5 on a `cache.get`-like method with a string key (663 vs 264 ns), ×1.5 on a get
//!   returning a Buffer copy, and allocates 2 (functions) to 5 (methods taking a string) times
//!   per call, where the raw glue allocates nothing. Compat mode runs at raw speed
//!   (×0.92–1.06) but allocates per string argument, throws errors with empty messages, and is
//!   deprecated in napi-rs 3.
//! - **Cold calls: the glue hardly matters** (`#[napi]` ×1.2–1.4 on building an object or a
//!   class instance, 0.4–0.7 µs more), **but leaving `noop` does.** Any `#[napi]` item needs
//!   napi-rs's module registration, which costs at load +0.30 MiB RSS (+0.24 MiB after a first
//!   use, 0.24–0.42 MiB over four runs; raw is 1.80 MiB over bare node) and +114 KiB of code in
//!   every process, where the addon's load already misses its 3 MB budget once jemalloc has
//!   started (`benches/README.md`, "Targets from issue 6"). And napi-rs's argument conversions
//!   throw a plain `Error` that names no parameter ("Failed to convert napi value String into
//!   rust type `u32`"), so a cold function moved to `#[napi]` would still take raw values and
//!   check them here to keep its TypeError/RangeError.
//!
//! So every function stays a raw callback, and `noop` stays on. Revisit if napi-rs's
//! registration stops costing load memory (re-run `benches/napi-cost/run.sh`).
//!
//! # What is where
//!
//! | module | JS functions | on |
//! |---|---|---|
//! | `cache` | `createCache` | `ultra_core::cache` (with the policy that adds up to lru-cache; named caches shared by all threads) |
//! | `hash` | `blake3Hash`, `createBlake3Hasher`, `xxh3Hash`, `createXxh3Hasher` | `ultra_core::hash` |
//! | `json` | `validateJson`, `parseJson`, `jsonPointer`, `minifyJson` | `ultra_core::json` (+ V8's `JSON.parse` to build values) |
//! | `arena` | `createMemoryArena` | `ultra_alloc::Arena` |
//! | `pool` | `createObjectPool` | `ultra_alloc::BufferPool` |
//! | `memory` | `createMemoryManager`, `initMemorySubsystem`, `getCoreVersion` | `ultra_core::Snapshot`, `ultra_alloc::Config` |
//! | `profile` | `heapProfile`, `setHeapProfiling`, `heapProfileStatus` | `ultra_alloc::profile` (jemalloc's sampling heap profiler, as pprof) |
//! | `exporter` | `metricsText`, `metricsSamples`, `startExporter`, `stopExporter`, `exporterClosed` | `ultra_exporter` (the family table, the loopback listener) |
//!
//! # Rules kept here
//!
//! - **No panic reaches Node.** Every entry point runs its body in `error::run`, which
//!   catches a panic and throws it as a JS `Error`; finalizers catch their own. Nothing
//!   reachable from JS unwraps user data.
//! - **No Buffer sees memory Rust reuses.** Arena and pool Buffers are detached before their
//!   memory is freed or reused, and two external Buffers never cover the same bytes; see the
//!   docs of `arena` and `pool`.
//! - **Nothing happens at load.** Loading the addon reserves, pools and spawns nothing: the
//!   global allocator only counts, and the first `initMemorySubsystem` (made by the first
//!   factory call if not by the program) applies the configuration. The one exception:
//!   `ULTRA_HEAP_PROFILE=1` switches heap sampling on at the first load, so that the profile
//!   covers every allocation.
//! - **`unsafe` is allowed per module**, not for the crate (the workspace denies
//!   `unsafe_code`): in `raw` and `glue` (N-API calls), in `arena` and `pool` (external
//!   Buffers over Rust memory and their finalizers), and on the two exported entry points
//!   below. Each block carries its own `// SAFETY:` reason
//!   (`clippy::undocumented_unsafe_blocks` is denied).

mod arena;
mod cache;
mod error;
mod exporter;
mod glue;
mod hash;
mod json;
mod memory;
mod pool;
mod profile;
mod raw;

use napi::Env;
use ultra_alloc::{Jemalloc, TrackingAllocator};

use crate::glue::Class;

/// Every allocation of the addon goes through the tracking allocator over jemalloc (with
/// prefixed symbols, so Node's own `malloc` stays glibc's and the two never mix).
#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

/// Node calls this in each env that loads the addon (the main thread and every worker): it
/// defines the classes and exports the engine functions. Nothing else happens at load.
///
/// # Safety
///
/// Called by Node with a live `env` and its `exports` object, on that env's JS thread.
// An exported symbol Node looks up by name (`no_mangle` is `unsafe_code`).
#[allow(unsafe_code)]
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(
    env: napi::sys::napi_env,
    exports: napi::sys::napi_value,
) -> napi::sys::napi_value {
    let env = Env::from(env);
    let registered = error::run(env, || init(env, raw::Val(exports)));
    registered.map_or(std::ptr::null_mut(), |()| exports)
}

// The one `#[napi]` item of the addon. With napi-rs's registration left out (`noop`) it
// registers nothing (Node calls the raw `getCoreVersion` of `memory.rs`); it exists so that
// `napi build` writes the `native.js` loader, which it only does for a crate with type
// definitions.
/// The version of ultra's core (the workspace version, shared by every ultra crate).
#[napi_derive::napi(js_name = "getCoreVersion")]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The N-API version the addon is built for (9, Node 20), read by Node at load.
// An exported symbol Node looks up by name (`no_mangle` is `unsafe_code`).
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
    9
}

fn init(env: Env, exports: raw::Val) -> error::R<()> {
    // `ULTRA_HEAP_PROFILE=1` samples from the first allocation, not from the first use of the
    // configuration (the one thing done at load, once per process; see `profile`).
    ultra_alloc::profile::start_from_env();
    let mut classes = [std::ptr::null_mut(); glue::CLASSES];
    classes[cache::NativeCache::SLOT] =
        glue::define_class::<cache::NativeCache>(env, cache::MEMBERS)?;
    classes[memory::NativeMemoryManager::SLOT] =
        glue::define_class::<memory::NativeMemoryManager>(env, memory::MEMBERS)?;
    classes[hash::Blake3HasherObject::SLOT] =
        glue::define_class::<hash::Blake3HasherObject>(env, hash::BLAKE3_MEMBERS)?;
    classes[hash::Xxh3HasherObject::SLOT] =
        glue::define_class::<hash::Xxh3HasherObject>(env, hash::XXH3_MEMBERS)?;
    classes[arena::NativeArena::SLOT] =
        glue::define_class::<arena::NativeArena>(env, arena::MEMBERS)?;
    classes[pool::NativePool::SLOT] = glue::define_class::<pool::NativePool>(env, pool::MEMBERS)?;
    let functions = [
        cache::FUNCTIONS,
        hash::FUNCTIONS,
        json::FUNCTIONS,
        arena::FUNCTIONS,
        pool::FUNCTIONS,
        memory::FUNCTIONS,
        exporter::FUNCTIONS,
        profile::FUNCTIONS,
    ]
    .concat();
    glue::init(env, exports, classes, &functions)
}
