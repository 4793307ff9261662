//! Native heap profiles: `heapProfile`, `setHeapProfiling`, `heapProfileStatus`, over
//! `ultra_alloc::profile` (jemalloc's sampling profiler, compiled into the addon inactive).
//!
//! `ULTRA_HEAP_PROFILE=1` switches sampling on when the addon is first loaded
//! (`ultra_alloc::profile::start_from_env`, called by `init`), so that the profile covers the
//! allocations made before the configuration is first used; the full configuration applies it
//! again, idempotently, and refuses a bad value naming the variable. `lib/profile.js` applies
//! the effective configuration first and checks the arguments; these guard them anyway.

use napi::Env;
use ultra_alloc::profile;

use crate::error::{type_error, Fail, R};
use crate::glue;
use crate::raw::{self, Kind, Val};

/// `heapProfile()`: the live heap sampled since sampling was switched on, as a gzipped pprof
/// `Profile` (sample type `inuse_space`, bytes), symbolized, in a new Buffer. Throws a
/// `RangeError` with `code` `ULTRA_HEAP_PROFILE_OFF` while sampling is off,
/// `ULTRA_HEAP_PROFILE_UNAVAILABLE` when the profiler does not exist in this process.
pub fn heap_profile(env: Env, []: [Val; 0]) -> R<Val> {
    let bytes = profile::heap_profile().map_err(fail)?;
    raw::buffer_copy(env, &bytes)
}

/// `setHeapProfiling(on)`: switches sampling on or off (off discards the samples so far).
pub fn set_heap_profiling(env: Env, [on]: [Val; 1]) -> R<Val> {
    if raw::kind(env, on)? != Kind::Boolean {
        return Err(type_error("setHeapProfiling", "on"));
    }
    let on = raw::boolean(env, on)?.unwrap_or_default();
    profile::set_active(on).map_err(fail)?;
    raw::undefined(env)
}

/// `heapProfileStatus()`: `{ available, active, sampleBytes }` (`sampleBytes` `null` when not
/// available).
pub fn heap_profile_status(env: Env, []: [Val; 0]) -> R<Val> {
    let out = raw::object(env)?;
    raw::set(
        env,
        out,
        c"available",
        raw::bool_val(env, profile::enabled())?,
    )?;
    raw::set(env, out, c"active", raw::bool_val(env, profile::active())?)?;
    let sample = match profile::sample_interval() {
        Ok(bytes) => raw::num(env, bytes as f64)?,
        Err(_) => raw::null(env)?,
    };
    raw::set(env, out, c"sampleBytes", sample)?;
    Ok(out)
}

/// The JS error of a profiler failure: a refusal that depends on the process's state (sampling
/// off, no profiler) is a `RangeError` with a `code`, as the engine's other refusals; a failure
/// of jemalloc or of the conversion is a plain `Error`.
fn fail(e: profile::ProfileError) -> Fail {
    let code = match e {
        profile::ProfileError::Inactive => "ULTRA_HEAP_PROFILE_OFF",
        profile::ProfileError::NotCompiled | profile::ProfileError::NotEnabled => {
            "ULTRA_HEAP_PROFILE_UNAVAILABLE"
        }
        profile::ProfileError::Failed(_) => return Fail::Error(e.to_string()),
    };
    Fail::Refused {
        code,
        message: e.to_string(),
    }
}

glue::function!(heap_profile_cb, 0, heap_profile);
glue::function!(set_heap_profiling_cb, 1, set_heap_profiling);
glue::function!(heap_profile_status_cb, 0, heap_profile_status);

/// The functions of this module, by JS name.
pub const FUNCTIONS: &[(&std::ffi::CStr, glue::Callback)] = &[
    (c"heapProfile", heap_profile_cb),
    (c"setHeapProfiling", set_heap_profiling_cb),
    (c"heapProfileStatus", heap_profile_status_cb),
];
