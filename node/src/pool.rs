//! Buffer pools for JS, on [`ultra_alloc::BufferPool`], whose Buffers point into pooled
//! memory.
//!
//! # Sizes
//!
//! The JS API sizes buffers by class: `bufferBytes` times a power of two. Class `k` is backed
//! by the `BufferPool` class of `max(64, bufferBytes rounded up to a power of two) << k`
//! bytes, a one-to-one mapping, so the pool's idle lists, hits and misses are exactly those
//! of the JS classes; the figures of `stats()` are in JS class bytes, as in the fallback.
//! Buffers larger than the largest `BufferPool` class (64 MiB) are allocated on their own
//! (an allocation failure is then a RangeError, not an abort) and never kept idle.
//!
//! # Buffer safety
//!
//! `acquire` hands pooled memory to JS as an external Buffer (no copy), tagged with a ticket
//! (`napi_wrap` of a number) that identifies it. `release(buffer)` accepts only a Buffer
//! that carries a ticket of this pool still lent out, so releasing twice, a Buffer of
//! another pool, a view of one, or a foreign Buffer throws a RangeError. It then detaches the
//! Buffer (length 0 from now on, with every view of it) *before* the memory goes back to the
//! pool, where the next `acquire` may hand it out again: V8 drops a detached backing store at
//! once (Node marks external ArrayBuffers untransferable, so no other ArrayBuffer shares it),
//! so no two external Buffers ever cover the same bytes and no released Buffer sees them.
//!
//! A Buffer that someone else detached before `release` (`ArrayBuffer.prototype.transfer`,
//! behind a V8 flag in Node 20, standard later; `structuredClone` only copies) may have handed
//! its memory to another ArrayBuffer: its memory is left to its finalizer, which Node calls
//! once V8 let go of it. A Buffer dropped without `release` is given back by its finalizer
//! too. The pool's memory lives on, if need be, after the pool object is collected, until its
//! last Buffer is finalized.

// The finalizer of the Buffers it hands out, and the external buffers themselves, are N-API
// contracts over pool memory; each block says why it holds.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use napi::{sys, Env};
use ultra_alloc::{scope, BufferPool, PoolConfig, Subsystem};

use crate::arena::MAX_BUFFER_BYTES;
use crate::error::{integer, range_error, type_error, Fail, R};
use crate::glue::{self, Class, Member};
use crate::raw::{self, Kind, Val};

/// Largest number of buffers a pool keeps or creates up front (`MAX_POOL_BUFFERS`, shared with
/// `lib/validate.js` and the configuration).
const MAX_POOL_BUFFERS: f64 = ultra_alloc::config::MAX_POOL_BUFFERS as f64;
/// Most bytes a pool allocates up front (1 TiB of address space).
const MAX_INITIAL_BYTES: u128 = 1 << 40;
/// Smallest and largest `BufferPool` classes.
const POOL_MIN_CLASS: usize = 64;
const POOL_MAX_CLASS: usize = 64 << 20;

/// Tickets of every pool of the process (0 is never used), so that a ticket names one Buffer.
static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

/// The `BufferPool` request backing JS class `k` of a pool of `buffer_bytes`, or `None` when
/// the class is above the largest pooled class.
fn pooled_request(buffer_bytes: usize, k: usize) -> Option<usize> {
    let base = buffer_bytes
        .checked_next_power_of_two()?
        .max(POOL_MIN_CLASS);
    let request = base.checked_shl(u32::try_from(k).ok()?)?;
    // `checked_shl` only checks the shift amount, not lost bits.
    (request >> k == base && request <= POOL_MAX_CLASS).then_some(request)
}

/// A lent-out buffer: memory a JS Buffer may still see.
struct Lent {
    buf: Vec<u8>,
    class: usize,
    /// Whether `release` already accounted for it (its user had detached it): the memory
    /// waits for the finalizer only.
    released: bool,
}

struct State {
    lent: HashMap<u64, Lent>,
    /// Idle buffers per class (what `BufferPool` holds for this pool).
    idle: Vec<usize>,
    in_use: u64,
    in_use_bytes: u64,
    hits: u64,
    misses: u64,
}

struct Shared {
    pool: BufferPool,
    buffer_bytes: usize,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The JS size class of a request: `k` and its bytes (`bufferBytes << k`, at most the
    /// largest Buffer).
    fn class_of(&self, size: usize) -> (usize, usize) {
        let mut k = 0;
        let mut bytes = self.buffer_bytes;
        while bytes < size {
            bytes = bytes.saturating_mul(2);
            k += 1;
        }
        (k, bytes.min(MAX_BUFFER_BYTES as usize))
    }

    /// The `BufferPool` request for class `k`, or `None` when the class is not pooled.
    fn pooled_request(&self, k: usize) -> Option<usize> {
        pooled_request(self.buffer_bytes, k)
    }

    /// Gives a buffer back: to `BufferPool` (kept if its class has room) or freed.
    fn give_back(&self, state: &mut State, lent: Lent) {
        if self.pooled_request(lent.class).is_some() {
            if self.pool.give_back(lent.buf) {
                if let Some(n) = state.idle.get_mut(lent.class) {
                    *n += 1;
                }
            }
        } else {
            scope(Subsystem::Pool, || drop(lent.buf));
        }
    }

    fn class_bytes(&self, k: usize) -> u64 {
        let bytes = u32::try_from(k)
            .ok()
            .and_then(|k| self.buffer_bytes.checked_shl(k))
            .filter(|b| b >> k == self.buffer_bytes)
            .unwrap_or(usize::MAX);
        bytes.min(MAX_BUFFER_BYTES as usize) as u64
    }

    /// Called when V8 let go of Buffer `ticket`.
    fn finalized(&self, ticket: u64) {
        let mut state = self.lock();
        if let Some(lent) = state.lent.remove(&ticket) {
            if !lent.released {
                state.in_use = state.in_use.saturating_sub(1);
                state.in_use_bytes = state
                    .in_use_bytes
                    .saturating_sub(self.class_bytes(lent.class));
            }
            self.give_back(&mut state, lent);
        }
    }
}

/// The finalize hint of one lent Buffer.
struct Ticket {
    shared: Arc<Shared>,
    ticket: u64,
}

/// Called by Node once V8 no longer holds the Buffer's memory (or at env teardown).
unsafe extern "C" fn finalize(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the `Box<Ticket>` leaked in `acquire` for this Buffer, and Node calls
    // a Buffer's finalizer exactly once.
    let ticket = unsafe { Box::from_raw(hint.cast::<Ticket>()) };
    // Never unwind into Node; on a panic the memory is simply kept.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        ticket.shared.finalized(ticket.ticket);
    }));
}

/// A pool of reusable Buffers (the engine side of `createObjectPool`): `acquire(size)`,
/// `release(buffer)`, `shrink()`, `stats()`.
pub struct NativePool {
    shared: Arc<Shared>,
}

fn count_option(env: Env, param: &str, v: Val, min: f64, max: f64) -> R<usize> {
    integer(env, "createObjectPool", param, v, min, max).map(|n| n as usize)
}

/// `createObjectPool(options)`: a pool from complete options `{ initial, max, bufferBytes }`: `initial` buffers of
/// `bufferBytes` are allocated now, at most `max` idle buffers are kept per size class.
pub fn create_object_pool(env: Env, [options]: [Val; 1]) -> R<Val> {
    const F: &str = "createObjectPool";
    if raw::kind(env, options)? != Kind::Object {
        return Err(type_error(F, "options"));
    }
    let max_v = raw::get(env, options, c"max")?;
    let max_idle = count_option(env, "options.max", max_v, 0.0, MAX_POOL_BUFFERS)?;
    let bytes_v = raw::get(env, options, c"bufferBytes")?;
    let buffer_bytes = count_option(env, "options.bufferBytes", bytes_v, 1.0, MAX_BUFFER_BYTES)?;
    let initial_v = raw::get(env, options, c"initial")?;
    let initial = count_option(env, "options.initial", initial_v, 0.0, max_idle as f64)?;
    // Class 0 is pooled unless `bufferBytes` is above the largest pooled class; only then
    // are initial buffers kept.
    let base = pooled_request(buffer_bytes, 0);
    let initial = if base.is_some() { initial } else { 0 };
    // `BufferPool` allocates the initial buffers infallibly; keep the total within what a
    // process can reserve, so that an absurd request is a RangeError rather than an abort.
    let reserved = base.map_or(0, |b| b as u128 * initial as u128);
    if reserved > MAX_INITIAL_BYTES {
        return Err(range_error(F, "options.initial"));
    }
    let pool = BufferPool::new(PoolConfig {
        initial,
        max_idle,
        buffer_bytes: base.unwrap_or(POOL_MIN_CLASS),
    });
    let mut idle = vec![0usize; 64];
    idle[0] = initial;
    let shared = Shared {
        pool,
        buffer_bytes,
        state: Mutex::new(State {
            lent: HashMap::new(),
            idle,
            in_use: 0,
            in_use_bytes: 0,
            hits: 0,
            misses: 0,
        }),
    };
    glue::instance(
        env,
        NativePool {
            shared: Arc::new(shared),
        },
    )
}

impl NativePool {
    fn acquire_inner(&mut self, env: Env, size_v: Val) -> R<Val> {
        const F: &str = "pool.acquire";
        let size = integer(env, F, "size", size_v, 1.0, MAX_BUFFER_BYTES)? as usize;
        let shared = &self.shared;
        let (k, class_bytes) = shared.class_of(size);
        let ticket = NEXT_TICKET.fetch_add(1, Relaxed);
        let data = {
            let mut state = shared.lock();
            let mut buf = match shared.pooled_request(k) {
                Some(request) => {
                    // The mirror of `BufferPool`'s idle list says whether `take` reuses.
                    match state.idle.get_mut(k) {
                        Some(n) if *n > 0 => {
                            *n -= 1;
                            state.hits += 1;
                        }
                        _ => state.misses += 1,
                    }
                    shared.pool.take(request)
                }
                None => {
                    state.misses += 1;
                    let mut buf = Vec::new();
                    if scope(Subsystem::Pool, || buf.try_reserve_exact(class_bytes)).is_err() {
                        state.misses -= 1;
                        return Err(Fail::Range(format!(
                            "{F}: size must be a size that can be allocated, got {size}"
                        )));
                    }
                    buf
                }
            };
            // `take` gives an empty Vec whose capacity covers the class; JS sees `size` bytes
            // of it. Every lent buffer is zeroed, fresh or reused, so that JS never sees other
            // data of the process or of the buffer's last user (the API leaves the contents
            // unspecified; the fallback's reused buffers keep what their last user wrote).
            let data = buf.as_mut_ptr();
            if buf.capacity() < size {
                return Err(Fail::Error(format!("{F}: internal error: short buffer")));
            }
            // SAFETY: the Vec owns at least `size` bytes of capacity at `data`.
            unsafe { std::ptr::write_bytes(data, 0, size) };
            state.in_use += 1;
            state.in_use_bytes += class_bytes as u64;
            state.lent.insert(
                ticket,
                Lent {
                    buf,
                    class: k,
                    released: false,
                },
            );
            data
        };
        let hint = Box::into_raw(Box::new(Ticket {
            shared: Arc::clone(shared),
            ticket,
        }));
        // SAFETY: `external_buffer`'s contract: `data` is the memory of the `Lent` entry
        // `ticket` (just inserted), whose Vec is neither touched nor given back to the pool
        // until `release` detached the Buffer (which drops V8's backing store at once) or
        // `finalize` ran; no other live Buffer covers it, since a Vec is lent to one Buffer
        // at a time. `finalize` takes this `Box<Ticket>`.
        let buffer = match unsafe { raw::external_buffer(env, data, size, finalize, hint.cast()) } {
            Ok(buffer) => buffer,
            Err(fail) => {
                // SAFETY: the Buffer was not created: the finalizer never runs, the ticket is
                // still ours.
                drop(unsafe { Box::from_raw(hint) });
                shared.finalized(ticket);
                return Err(fail);
            }
        };
        if let Err(fail) = raw::set_tag(env, buffer, ticket) {
            // Unreleasable without its tag: take it back now.
            if let Some(ta) = raw::typed_array(env, buffer)? {
                if raw::detach(env, ta.buffer).is_ok() {
                    let mut state = shared.lock();
                    if let Some(lent) = state.lent.remove(&ticket) {
                        state.in_use = state.in_use.saturating_sub(1);
                        state.in_use_bytes = state.in_use_bytes.saturating_sub(class_bytes as u64);
                        shared.give_back(&mut state, lent);
                    }
                }
            }
            return Err(fail);
        }
        Ok(buffer)
    }

    fn release_inner(&mut self, env: Env, buffer: Val) -> R<()> {
        const F: &str = "pool.release";
        let foreign = || range_error(F, "buffer");
        let Some(ta) = raw::typed_array(env, buffer)? else {
            return Err(type_error(F, "buffer"));
        };
        let Some(ticket) = raw::tag(env, buffer)? else {
            return Err(foreign());
        };
        let shared = &self.shared;
        let user_detached = {
            let state = shared.lock();
            match state.lent.get(&ticket) {
                Some(lent) if !lent.released => {}
                _ => return Err(foreign()),
            }
            drop(state);
            raw::is_detached(env, ta.buffer)?
        };
        if !user_detached {
            raw::detach(env, ta.buffer)?;
        }
        raw::take_tag(env, buffer)?;
        let mut state = shared.lock();
        let Some(lent) = state.lent.get_mut(&ticket) else {
            return Ok(());
        };
        lent.released = true;
        let class = lent.class;
        state.in_use = state.in_use.saturating_sub(1);
        state.in_use_bytes = state.in_use_bytes.saturating_sub(shared.class_bytes(class));
        if !user_detached {
            // Detached here: V8 has dropped the backing store, the memory is free to reuse.
            if let Some(lent) = state.lent.remove(&ticket) {
                shared.give_back(&mut state, lent);
            }
        }
        Ok(())
    }
}

/// `acquire(size)`: a Buffer of `size` bytes from the pool (no copy); zero-filled when newly
/// allocated, holding its last user's bytes when reused.
fn acquire(env: Env, this: &mut NativePool, [size]: [Val; 1]) -> R<Val> {
    this.acquire_inner(env, size)
}

/// `release(buffer)`: gives a Buffer back; it is detached (length 0) and its memory reused.
/// Releasing one twice, or one this pool did not hand out, is a RangeError.
fn release(env: Env, this: &mut NativePool, [buffer]: [Val; 1]) -> R<Val> {
    this.release_inner(env, buffer)?;
    raw::undefined(env)
}

/// `shrink()`: frees the idle buffers; returns their bytes (of their size classes).
fn shrink(env: Env, this: &mut NativePool, []: [Val; 0]) -> R<Val> {
    let shared = &this.shared;
    let mut state = shared.lock();
    shared.pool.shrink();
    let mut freed = 0u64;
    for k in 0..state.idle.len() {
        freed += state.idle[k] as u64 * shared.class_bytes(k);
        state.idle[k] = 0;
    }
    drop(state);
    raw::num(env, freed as f64)
}

/// `stats()`: `{ idle, inUse, hits, misses, bytesHeld }` (bytes of the size classes of the
/// idle and in-use buffers).
fn stats(env: Env, this: &mut NativePool, []: [Val; 0]) -> R<Val> {
    let shared = &this.shared;
    let (idle, idle_bytes, in_use, in_use_bytes, hits, misses) = {
        let state = shared.lock();
        let idle: usize = state.idle.iter().sum();
        let idle_bytes: u64 = state
            .idle
            .iter()
            .enumerate()
            .map(|(k, &n)| n as u64 * shared.class_bytes(k))
            .sum();
        (
            idle,
            idle_bytes,
            state.in_use,
            state.in_use_bytes,
            state.hits,
            state.misses,
        )
    };
    let out = raw::object(env)?;
    raw::set_num(env, out, c"idle", idle as f64)?;
    raw::set_num(env, out, c"inUse", in_use as f64)?;
    raw::set_num(env, out, c"hits", hits as f64)?;
    raw::set_num(env, out, c"misses", misses as f64)?;
    raw::set_num(env, out, c"bytesHeld", (idle_bytes + in_use_bytes) as f64)?;
    Ok(out)
}

impl Class for NativePool {
    const NAME: &'static std::ffi::CStr = c"NativePool";
    const TAG: sys::napi_type_tag = sys::napi_type_tag {
        lower: 0x756c_7472_615f_706f,
        upper: 0x0001,
    };
    const SLOT: usize = 5;

    fn finalize(self, _env: Env) {
        // Idle memory goes now; lent Buffers keep the pool alive until they are finalized.
        let shared = &self.shared;
        let mut state = shared.lock();
        shared.pool.shrink();
        state.idle.iter_mut().for_each(|n| *n = 0);
    }
}

glue::method!(acquire_cb, NativePool, 1, "pool.acquire", acquire);
glue::method!(release_cb, NativePool, 1, "pool.release", release);
glue::method!(shrink_cb, NativePool, 0, "pool.shrink", shrink);
glue::method!(stats_cb, NativePool, 0, "pool.stats", stats);
glue::function!(create_object_pool_cb, 1, create_object_pool);

/// The members of `NativePool`.
pub const MEMBERS: &[Member] = &[
    Member::Method(c"acquire", acquire_cb),
    Member::Method(c"release", release_cb),
    Member::Method(c"shrink", shrink_cb),
    Member::Method(c"stats", stats_cb),
];

/// The functions of this module, by JS name.
pub const FUNCTIONS: &[(&std::ffi::CStr, glue::Callback)] =
    &[(c"createObjectPool", create_object_pool_cb)];
