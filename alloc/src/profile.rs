//! Native heap profiles: jemalloc's sampling profiler, as symbolized pprof (feature `profiling`).
//!
//! With the feature, jemalloc is built with `--enable-prof` and starts with
//! `prof:true,prof_active:false`: the profiler exists from the first allocation (jemalloc reads
//! `prof` only while it initialises) but samples nothing. Sampling is switched on and off at run
//! time ([`set_active`]); `ULTRA_HEAP_PROFILE=1` switches it on when the configuration is applied
//! ([`crate::apply_jemalloc`]), and `ULTRA_HEAP_PROFILE_SAMPLE_BYTES` sets the mean interval
//! between samples (jemalloc's `lg_prof_sample`, so rounded down to a power of two; default
//! 512 KiB).
//!
//! While sampling is on, jemalloc records the call stack of an allocation about once every
//! interval bytes and keeps it until the block is freed. [`heap_profile`] dumps the samples of
//! the blocks still live and converts them with `jemalloc_pprof` (symbolized in process:
//! function names, files and lines from the binary's line tables) into a gzipped pprof
//! `Profile` with one sample type, `inuse_space`/`bytes`, each sample's value an unbiased
//! estimate of the bytes live under its stack. `go tool pprof`, Pyroscope and Grafana read it.
//! The stacks start inside jemalloc and [`crate::TrackingAllocator`] and go on to the caller
//! that allocated (e.g. the cache's insert path).
//!
//! How the options reach jemalloc: this module defines the `_rjem_malloc_conf` symbol (the
//! prefixed build's `malloc_conf`), which jemalloc reads before it serves its first allocation.
//! The `_RJEM_MALLOC_CONF` environment variable is read after it and overrides it; for
//! instance `_RJEM_MALLOC_CONF=prof:false` turns the profiler off for good (then every function
//! here answers [`ProfileError::NotEnabled`]).
//!
//! Deactivating discards the samples taken so far (`prof.reset`), so a later activation starts
//! a fresh profile and the samples' memory goes back.
//!
//! Serving it over HTTP (`GET /debug/pprof/heap`, as Go's `net/http/pprof` names it): call
//! [`heap_profile`] on the request's thread; `Ok(bytes)` is a `200` with
//! `Content-Type: application/octet-stream` (pprof clients read the gzip themselves) and
//! `Content-Disposition: attachment; filename="heap.pb.gz"`; [`ProfileError::Inactive`],
//! [`ProfileError::NotEnabled`] and [`ProfileError::NotCompiled`] are a `404` whose body is the
//! error's text; [`ProfileError::Failed`] a `500`. The dump and symbolization take tens of
//! milliseconds and serialise with each other, never with allocation.

use std::sync::Mutex;

/// Why a heap profile cannot be taken, or sampling cannot be switched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// ultra-alloc was built without the `profiling` feature.
    #[error("heap profiling is not available: ultra was built without the `profiling` feature")]
    NotCompiled,
    /// jemalloc's profiler was not enabled when jemalloc started (`opt.prof` is false, e.g.
    /// `_RJEM_MALLOC_CONF=prof:false`).
    #[error("heap profiling is not available: jemalloc started with `prof:false`")]
    NotEnabled,
    /// Sampling is off: nothing was sampled since it was last switched off.
    #[error("heap profiling is off: start with ULTRA_HEAP_PROFILE=1 or switch sampling on first")]
    Inactive,
    /// jemalloc or the conversion to pprof failed.
    #[error("heap profile failed: {0}")]
    Failed(String),
}

/// Serialises every control of the profiler in this process (activation, reset, dump).
static CONTROL: Mutex<()> = Mutex::new(());

fn control() -> std::sync::MutexGuard<'static, ()> {
    // The lock guards no data: a panic while it was held leaves nothing half-set.
    CONTROL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether heap profiling was compiled in (feature `profiling`).
pub const fn compiled() -> bool {
    cfg!(feature = "profiling")
}

/// Whether jemalloc's profiler exists in this process (compiled in and `opt.prof` true), so
/// that sampling can be switched on.
pub fn enabled() -> bool {
    imp::enabled()
}

/// Whether allocations are being sampled now (`prof.active`).
pub fn active() -> bool {
    imp::active()
}

/// Switches sampling on or off. Off discards the samples taken so far.
pub fn set_active(on: bool) -> Result<(), ProfileError> {
    let _c = control();
    imp::set_active(on)
}

/// The mean interval between samples, in bytes (`2^prof.lg_sample`).
pub fn sample_interval() -> Result<u64, ProfileError> {
    imp::lg_sample().map(|lg| 1u64 << lg)
}

/// Sets the mean interval between samples to `bytes`, rounded down to a power of two (at least
/// 1), and discards the samples taken so far (`prof.reset`). Returns the interval in effect.
pub fn set_sample_interval(bytes: u64) -> Result<u64, ProfileError> {
    let lg = lg_of(bytes);
    let _c = control();
    imp::reset(lg)?;
    Ok(1u64 << lg)
}

/// `floor(log2(bytes))`, 0 for 0 and 1.
fn lg_of(bytes: u64) -> u32 {
    63 - (bytes | 1).leading_zeros()
}

/// The live heap as sampled since sampling was switched on: a gzipped pprof `Profile`
/// (sample type `inuse_space`, unit `bytes`), symbolized. [`ProfileError::Inactive`] while
/// sampling is off. Safe to call while other threads allocate.
pub fn heap_profile() -> Result<Vec<u8>, ProfileError> {
    let _c = control();
    if !imp::active() {
        return Err(if imp::enabled() {
            ProfileError::Inactive
        } else if compiled() {
            ProfileError::NotEnabled
        } else {
            ProfileError::NotCompiled
        });
    }
    imp::dump_pprof()
}

/// Applies `ULTRA_HEAP_PROFILE_SAMPLE_BYTES` and `ULTRA_HEAP_PROFILE` from the process
/// environment now, once per process, before the rest of the configuration is read: for a
/// program (the Node addon) that resolves its configuration lazily but must sample from its
/// first allocation. Returns whether sampling was switched on. A value that does not parse is
/// left for the full configuration to refuse (naming the variable); later calls do nothing.
pub fn start_from_env() -> bool {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let mut started = false;
    ONCE.call_once(|| {
        let read = |name: &str| -> Option<crate::Value> {
            let var = crate::config::variable(name)?;
            let raw = std::env::var(name).ok()?;
            var.parse(&raw).ok().flatten()
        };
        let mut config = crate::Config::default();
        if let Some(crate::Value::Int(n)) = read("ULTRA_HEAP_PROFILE_SAMPLE_BYTES") {
            config.heap_profile_sample_bytes = n as usize;
        }
        config.heap_profile = matches!(read("ULTRA_HEAP_PROFILE"), Some(crate::Value::Bool(true)));
        if config.heap_profile {
            started = apply(&config).is_ok();
        }
    });
    started
}

/// Applies `ULTRA_HEAP_PROFILE_SAMPLE_BYTES` and `ULTRA_HEAP_PROFILE` (called by
/// [`crate::apply_jemalloc`]). Without the feature, `ULTRA_HEAP_PROFILE=1` is an error; the
/// interval alone is then ignored, since nothing would sample.
pub(crate) fn apply(config: &crate::Config) -> Result<(), ProfileError> {
    if !compiled() {
        return if config.heap_profile {
            Err(ProfileError::NotCompiled)
        } else {
            Ok(())
        };
    }
    if !imp::enabled() {
        return if config.heap_profile {
            Err(ProfileError::NotEnabled)
        } else {
            Ok(())
        };
    }
    let lg = lg_of(config.heap_profile_sample_bytes as u64);
    let _c = control();
    if imp::lg_sample()? != lg {
        imp::reset(lg)?;
    }
    if config.heap_profile {
        imp::set_active(true)?;
    }
    Ok(())
}

#[cfg(feature = "profiling")]
#[allow(unsafe_code)]
mod imp {
    use super::ProfileError;
    use std::ffi::c_char;
    use tikv_jemalloc_ctl::raw;

    /// jemalloc's options for the prefixed build (`malloc_conf`, read once, before jemalloc
    /// serves its first allocation): the profiler exists, sampling starts off.
    #[used]
    #[export_name = "_rjem_malloc_conf"]
    static MALLOC_CONF: Option<&'static c_char> = Some({
        const CONF: &std::ffi::CStr = c"prof:true,prof_active:false";
        // SAFETY: the pointer is that of a NUL-terminated string with static lifetime.
        unsafe { &*CONF.as_ptr() }
    });

    fn failed(name: &str) -> impl Fn(tikv_jemalloc_ctl::Error) -> ProfileError + '_ {
        move |e| ProfileError::Failed(format!("jemalloc control `{name}`: {e}"))
    }

    pub fn enabled() -> bool {
        // SAFETY: `opt.prof` is a readable `bool` in a build with profiling.
        unsafe { raw::read::<bool>(b"opt.prof\0") }.unwrap_or(false)
    }

    pub fn active() -> bool {
        // SAFETY: `prof.active` is a readable `bool` in a build with profiling.
        unsafe { raw::read::<bool>(b"prof.active\0") }.unwrap_or(false)
    }

    pub fn lg_sample() -> Result<u32, ProfileError> {
        if !enabled() {
            return Err(ProfileError::NotEnabled);
        }
        // SAFETY: `prof.lg_sample` is a readable `size_t`.
        let lg =
            unsafe { raw::read::<usize>(b"prof.lg_sample\0") }.map_err(failed("prof.lg_sample"))?;
        Ok(lg as u32)
    }

    pub fn reset(lg: u32) -> Result<(), ProfileError> {
        if !enabled() {
            return Err(ProfileError::NotEnabled);
        }
        // SAFETY: `prof.reset` is a writable `size_t` (the new `lg_prof_sample`).
        unsafe { raw::write::<usize>(b"prof.reset\0", lg as usize) }.map_err(failed("prof.reset"))
    }

    pub fn set_active(on: bool) -> Result<(), ProfileError> {
        if !enabled() {
            return Err(ProfileError::NotEnabled);
        }
        // jemalloc_pprof keeps a start time beside its handle; keep it in step.
        with_ctl(|ctl| {
            if on {
                ctl.activate().map_err(failed("prof.active"))
            } else {
                ctl.deactivate().map_err(failed("prof.active"))
            }
        })
    }

    pub fn dump_pprof() -> Result<Vec<u8>, ProfileError> {
        with_ctl(|ctl| {
            ctl.dump_pprof()
                .map_err(|e| ProfileError::Failed(format!("{e:#}")))
        })
    }

    /// Runs `f` on jemalloc_pprof's process-wide handle. Its lock is a tokio mutex, which
    /// cannot be waited for outside (nor blocked on inside) a runtime: callers hold
    /// [`super::CONTROL`], so it is free unless another user of jemalloc_pprof holds it. A
    /// panic in the conversion becomes an error.
    fn with_ctl<T>(
        f: impl FnOnce(&mut jemalloc_pprof::JemallocProfCtl) -> Result<T, ProfileError>,
    ) -> Result<T, ProfileError> {
        let run = std::panic::AssertUnwindSafe(|| {
            let Some(ctl) = jemalloc_pprof::PROF_CTL.as_ref() else {
                return Err(ProfileError::NotEnabled);
            };
            let mut ctl = ctl.try_lock().map_err(|_| {
                ProfileError::Failed("jemalloc_pprof's handle is held elsewhere".to_owned())
            })?;
            f(&mut ctl)
        });
        std::panic::catch_unwind(run).unwrap_or_else(|_| {
            Err(ProfileError::Failed(
                "the conversion to pprof panicked".to_owned(),
            ))
        })
    }
}

#[cfg(not(feature = "profiling"))]
mod imp {
    use super::ProfileError;

    pub fn enabled() -> bool {
        false
    }
    pub fn active() -> bool {
        false
    }
    pub fn lg_sample() -> Result<u32, ProfileError> {
        Err(ProfileError::NotCompiled)
    }
    pub fn reset(_lg: u32) -> Result<(), ProfileError> {
        Err(ProfileError::NotCompiled)
    }
    pub fn set_active(_on: bool) -> Result<(), ProfileError> {
        Err(ProfileError::NotCompiled)
    }
    pub fn dump_pprof() -> Result<Vec<u8>, ProfileError> {
        Err(ProfileError::NotCompiled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_round_down_to_a_power_of_two() {
        assert_eq!(lg_of(0), 0);
        assert_eq!(lg_of(1), 0);
        assert_eq!(lg_of(512 << 10), 19);
        assert_eq!(lg_of((512 << 10) + 1), 19);
        assert_eq!(lg_of((1 << 20) - 1), 19);
        assert_eq!(lg_of(u64::MAX), 63);
    }

    #[test]
    #[cfg(not(feature = "profiling"))]
    fn without_the_feature_the_api_says_so() {
        assert!(!enabled() && !active());
        assert_eq!(heap_profile(), Err(ProfileError::NotCompiled));
        assert_eq!(set_active(true), Err(ProfileError::NotCompiled));
        assert_eq!(sample_interval(), Err(ProfileError::NotCompiled));
        let on = crate::Config::builder().heap_profile(true).build().unwrap();
        assert!(apply(&on).is_err());
        assert!(apply(&crate::Config::default()).is_ok());
    }

    #[test]
    #[cfg(feature = "profiling")]
    fn the_profiler_exists_and_starts_inactive() {
        // The `_rjem_malloc_conf` symbol reached jemalloc: `opt.prof` is on, sampling off.
        assert!(enabled());
        assert!(!active());
        assert_eq!(heap_profile(), Err(ProfileError::Inactive));
        assert_eq!(sample_interval(), Ok(512 << 10));
    }
}
