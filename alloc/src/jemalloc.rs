//! jemalloc introspection and control (feature `jemalloc`).
//!
//! Without the feature every function answers [`JemallocError::NotAvailable`]: callers report
//! "not available", never zeros. The figures describe jemalloc itself, whichever allocator is
//! installed as the global one; with [`crate::TrackingAllocator`] over [`crate::Jemalloc`] they
//! include jemalloc's size-class rounding, which the tracker does not count (attribution adds no
//! byte over jemalloc), and the subsystem arenas' metadata.

/// An error from jemalloc's control interface.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JemallocError {
    /// The crate was built without the `jemalloc` feature.
    #[error(
        "jemalloc figures are not available: ultra-alloc was built without the `jemalloc` feature"
    )]
    NotAvailable,
    /// `mallctl` failed for the named control.
    #[error("jemalloc control `{name}` failed: {reason}")]
    Ctl {
        /// The mallctl name.
        name: &'static str,
        /// What jemalloc answered (its errno, described).
        reason: String,
    },
}

/// jemalloc's own view of memory, read after advancing its stats epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JemallocStats {
    /// Bytes allocated by the application (`stats.allocated`).
    pub allocated: u64,
    /// Bytes in active pages (`stats.active`); `active − allocated` is fragmentation.
    pub active: u64,
    /// Bytes in physically resident pages (`stats.resident`), including dirty pages.
    pub resident: u64,
    /// Bytes in active extents mapped by the allocator (`stats.mapped`).
    pub mapped: u64,
    /// Bytes in virtual memory retained for reuse, not resident (`stats.retained`).
    pub retained: u64,
    /// Bytes of allocator metadata (`stats.metadata`).
    pub metadata: u64,
}

#[cfg(feature = "jemalloc")]
mod imp {
    use super::{JemallocError, JemallocStats};
    use tikv_jemalloc_ctl::{background_thread, epoch, stats};

    fn ctl(name: &'static str) -> impl Fn(tikv_jemalloc_ctl::Error) -> JemallocError {
        move |e| JemallocError::Ctl {
            name,
            reason: e.to_string(),
        }
    }

    pub fn stats() -> Result<JemallocStats, JemallocError> {
        epoch::advance().map_err(ctl("epoch"))?;
        Ok(JemallocStats {
            allocated: stats::allocated::read().map_err(ctl("stats.allocated"))? as u64,
            active: stats::active::read().map_err(ctl("stats.active"))? as u64,
            resident: stats::resident::read().map_err(ctl("stats.resident"))? as u64,
            mapped: stats::mapped::read().map_err(ctl("stats.mapped"))? as u64,
            retained: stats::retained::read().map_err(ctl("stats.retained"))? as u64,
            metadata: stats::metadata::read().map_err(ctl("stats.metadata"))? as u64,
        })
    }

    /// `mallctl(name, NULL, NULL, NULL, 0)`: a control that takes no input and no output.
    #[allow(unsafe_code)]
    fn call(name: &'static str, cname: &'static [u8]) -> Result<(), JemallocError> {
        debug_assert_eq!(cname.last(), Some(&0));
        // SAFETY: `cname` is NUL-terminated; the control takes neither input nor output, which
        // jemalloc requires to be passed as null pointers and zero length.
        let code = unsafe {
            tikv_jemalloc_sys::mallctl(
                cname.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            )
        };
        if code == 0 {
            Ok(())
        } else {
            Err(JemallocError::Ctl {
                name,
                reason: format!("error code {code}"),
            })
        }
    }

    pub fn trim() -> Result<u64, JemallocError> {
        let before = stats()?.resident;
        // 4096 is MALLCTL_ARENAS_ALL: purge every arena's dirty and muzzy pages.
        call("arena.4096.purge", b"arena.4096.purge\0")?;
        let after = stats()?.resident;
        Ok(before.saturating_sub(after))
    }

    /// Writes an `ssize_t` control through the raw interface.
    #[allow(unsafe_code)]
    fn write_isize(name: &'static str, cname: &[u8], value: isize) -> Result<(), JemallocError> {
        // SAFETY: `cname` is NUL-terminated and the control's type is `ssize_t`.
        unsafe { tikv_jemalloc_ctl::raw::write(cname, value) }.map_err(ctl(name))
    }

    pub fn set_dirty_decay_ms(ms: i64) -> Result<(), JemallocError> {
        let value = isize::try_from(ms).unwrap_or(isize::MAX);
        // Default for arenas created from now on…
        write_isize("arenas.dirty_decay_ms", b"arenas.dirty_decay_ms\0", value)?;
        // …and every existing arena.
        let n = tikv_jemalloc_ctl::arenas::narenas::read().map_err(ctl("arenas.narenas"))?;
        let mut name = [0u8; 48];
        for i in 0..n {
            let len = format_arena_ctl(&mut name, i, "dirty_decay_ms");
            // Arenas that were never initialised answer EFAULT: nothing to set there.
            let _ = write_isize("arena.<i>.dirty_decay_ms", &name[..len], value);
        }
        Ok(())
    }

    /// Writes `arena.<i>.<leaf>\0` into `buf` without allocating; returns the length with NUL.
    fn format_arena_ctl(buf: &mut [u8; 48], i: u32, leaf: &str) -> usize {
        use std::io::Write;
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        // The buffer fits "arena." + 10 digits + "." + leaf + NUL for the leaves used here.
        let _ = write!(cursor, "arena.{i}.{leaf}\0");
        cursor.position() as usize
    }

    pub fn set_background_thread(on: bool) -> Result<(), JemallocError> {
        background_thread::write(on).map_err(ctl("background_thread"))
    }
}

#[cfg(not(feature = "jemalloc"))]
mod imp {
    use super::{JemallocError, JemallocStats};

    pub fn stats() -> Result<JemallocStats, JemallocError> {
        Err(JemallocError::NotAvailable)
    }
    pub fn trim() -> Result<u64, JemallocError> {
        Err(JemallocError::NotAvailable)
    }
    pub fn set_dirty_decay_ms(_ms: i64) -> Result<(), JemallocError> {
        Err(JemallocError::NotAvailable)
    }
    pub fn set_background_thread(_on: bool) -> Result<(), JemallocError> {
        Err(JemallocError::NotAvailable)
    }
}

/// Reads jemalloc's figures after advancing its stats epoch (so they are current).
pub fn stats() -> Result<JemallocStats, JemallocError> {
    imp::stats()
}

/// Purges the dirty and muzzy pages of every arena; returns how many resident bytes that
/// released (resident before minus resident after, never negative).
pub fn trim() -> Result<u64, JemallocError> {
    imp::trim()
}

/// Sets the dirty-page decay time, in milliseconds, of every existing arena and of arenas
/// created later. `0` purges freed pages at once; `-1` never purges them by decay.
pub fn set_dirty_decay_ms(ms: i64) -> Result<(), JemallocError> {
    imp::set_dirty_decay_ms(ms)
}

/// Starts or stops jemalloc's background purging threads.
pub fn set_background_thread(on: bool) -> Result<(), JemallocError> {
    imp::set_background_thread(on)
}

/// Whether jemalloc introspection was compiled in.
pub const fn available() -> bool {
    cfg!(feature = "jemalloc")
}
