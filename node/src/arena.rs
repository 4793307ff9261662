//! Bump arenas for JS, on [`ultra_alloc::Arena`], whose Buffers point into arena memory.
//!
//! # Buffer safety
//!
//! `allocBuffer` carves `size` bytes out of the arena and hands them to JS as an external
//! Buffer (no copy), so a JS Buffer can see arena memory. Two rules keep that safe:
//!
//! 1. **No Buffer sees freed or reused memory.** The arena keeps a weak reference to the
//!    ArrayBuffer of every Buffer it handed out since the last reset. `reset()` detaches each
//!    one that is still alive (its length becomes 0, and every view of it with it) *before*
//!    the chunks are freed. A Buffer that the garbage collector already took cannot be
//!    reached from JS any more.
//! 2. **No two external backing stores over the same bytes.** Detaching drops V8's backing
//!    store at once (Node marks external ArrayBuffers untransferable, so no other ArrayBuffer
//!    shares it). A collected Buffer's backing store, though, may live on until V8 sweeps it;
//!    its finalizer runs after that. So every handed-out Buffer stays *pending* until the
//!    arena detached it or its finalizer ran, and memory is only freed (and so only ever
//!    reused) when none of its Buffers is pending. `reset()` frees the chunks at once in the
//!    common case; if some Buffer is still pending, the old chunks are *retired* (kept, and
//!    freed by the last pending finalizer) and the arena continues with fresh ones. A Buffer
//!    the user detached some other way (`ArrayBuffer.prototype.transfer`, behind a V8 flag in
//!    Node 20 and standard in later versions, moves the memory to a new ArrayBuffer;
//!    `structuredClone` and `postMessage` only copy external ArrayBuffers) is also left to its
//!    finalizer, which runs once that new ArrayBuffer is collected.
//!
//! The same rules apply when the arena object itself is collected while its Buffers live on:
//! their memory stays until the last of them is finalized.

// The finalizer of the Buffers it hands out, and the external buffers themselves, are N-API
// contracts over arena memory; each block says why it holds.
#![allow(unsafe_code)]

use std::alloc::Layout;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, MutexGuard};

use napi::{sys, Env};
use ultra_alloc::{Arena, ArenaConfig, ArenaError};

use crate::error::{integer, range_error, type_error, Fail, R};
use crate::glue::{self, Class, Member};
use crate::raw::{self, Kind, Val, WeakRef};

/// Largest Buffer the addon hands out (`ultra_alloc::config::MAX_BUFFER_BYTES`, the limit of
/// `lib/validate.js` too).
pub const MAX_BUFFER_BYTES: f64 = ultra_alloc::config::MAX_BUFFER_BYTES as f64;
/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE: f64 = ultra_alloc::config::MAX_SAFE as f64;
/// Alignment of every allocation, as in the fallback.
const ALIGN: usize = 8;

/// An arena's memory and the Buffers that may still point into it.
struct State {
    config: ArenaConfig,
    /// The chunks allocations come from now.
    current: Arena,
    /// Generation of `current`; each reset starts a new one.
    generation: u64,
    /// Buffers whose backing store may still exist (id → generation): neither detached by
    /// the arena nor finalized.
    pending: HashMap<u64, u64>,
    /// Pending Buffers per generation.
    per_generation: HashMap<u64, usize>,
    /// Chunks of earlier generations that still have pending Buffers.
    retired: Vec<(u64, Arena)>,
    /// Whether the JS arena object is alive (its chunks are reused until it is not).
    handle_alive: bool,
    next_id: u64,
}

impl State {
    fn pending_in(&self, generation: u64) -> usize {
        self.per_generation.get(&generation).copied().unwrap_or(0)
    }

    /// Forgets one pending Buffer; frees its generation's memory if it was the last of a
    /// retired one.
    fn settle(&mut self, id: u64) {
        let Some(generation) = self.pending.remove(&id) else {
            return;
        };
        if let Some(n) = self.per_generation.get_mut(&generation) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_generation.remove(&generation);
            }
        }
        if self.pending_in(generation) == 0 {
            if generation == self.generation {
                if !self.handle_alive {
                    self.current.release();
                }
            } else {
                // Dropping the retired arena frees its chunks.
                self.retired.retain(|(g, _)| *g != generation);
            }
        }
    }
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while locked (caught at the boundary) leaves a state that is still
        // consistent enough to free memory correctly: use it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The finalize hint of one handed-out Buffer.
struct Ticket {
    shared: Arc<Shared>,
    id: u64,
}

/// Called by Node once V8 no longer holds the Buffer's memory (or at env teardown).
unsafe extern "C" fn finalize(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the `Box<Ticket>` leaked in `alloc_buffer` for this Buffer, and Node
    // calls a Buffer's finalizer exactly once.
    let ticket = unsafe { Box::from_raw(hint.cast::<Ticket>()) };
    // Never unwind into Node; on a panic the memory is simply kept.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        ticket.shared.lock().settle(ticket.id);
    }));
}

/// A bump arena handing out Buffers into its memory (the engine side of
/// `createMemoryArena`): `allocBuffer(size)`, `reset()`, `stats()`.
pub struct NativeArena {
    shared: Arc<Shared>,
    /// Weak references to the ArrayBuffers handed out since the last reset, by id.
    handed_out: Vec<(u64, WeakRef)>,
    /// Length of `handed_out` at which collected entries are pruned next.
    prune_at: usize,
}

/// Reads a byte count in `[min, max]`.
fn bytes_option(env: Env, function: &str, param: &str, v: Val, min: f64, max: f64) -> R<usize> {
    integer(env, function, param, v, min, max).map(|n| n as usize)
}

/// `createMemoryArena(options)`: an arena from complete options `{ chunkBytes, limitBytes }`.
/// Nothing is reserved until the first allocation.
pub fn create_memory_arena(env: Env, [options]: [Val; 1]) -> R<Val> {
    const F: &str = "createMemoryArena";
    if raw::kind(env, options)? != Kind::Object {
        return Err(type_error(F, "options"));
    }
    let limit_v = raw::get(env, options, c"limitBytes")?;
    let limit_bytes = bytes_option(env, F, "options.limitBytes", limit_v, 1.0, MAX_SAFE)?;
    let chunk_v = raw::get(env, options, c"chunkBytes")?;
    let chunk_bytes = bytes_option(env, F, "options.chunkBytes", chunk_v, 1.0, MAX_BUFFER_BYTES)?;
    if chunk_bytes > limit_bytes {
        return Err(range_error(F, "options.chunkBytes"));
    }
    let config = ArenaConfig {
        chunk_bytes,
        limit_bytes,
    };
    let state = State {
        config,
        current: Arena::new(config),
        generation: 0,
        pending: HashMap::new(),
        per_generation: HashMap::new(),
        retired: Vec::new(),
        handle_alive: true,
        next_id: 1,
    };
    let arena = NativeArena {
        shared: Arc::new(Shared {
            state: Mutex::new(state),
        }),
        handed_out: Vec::new(),
        prune_at: 64,
    };
    glue::instance(env, arena)
}

impl NativeArena {
    /// Drops the references of Buffers the garbage collector took (amortised: when the list
    /// doubled since the last pruning).
    fn prune(&mut self, env: Env) -> R<()> {
        if self.handed_out.len() < self.prune_at {
            return Ok(());
        }
        let mut kept = Vec::with_capacity(self.handed_out.len());
        for (id, r) in self.handed_out.drain(..) {
            if r.get(env)?.is_some() {
                kept.push((id, r));
            } else {
                r.delete(env);
            }
        }
        self.handed_out = kept;
        self.prune_at = (self.handed_out.len() * 2).max(64);
        Ok(())
    }

    fn alloc_buffer_inner(&mut self, env: Env, size_v: Val) -> R<Val> {
        const F: &str = "arena.allocBuffer";
        let size = bytes_option(env, F, "size", size_v, 1.0, MAX_BUFFER_BYTES)?;
        let layout = Layout::from_size_align(size, ALIGN).map_err(|_| range_error(F, "size"))?;
        let (ptr, id) = {
            let mut state = self.shared.lock();
            let ptr = match state.current.alloc_layout(layout) {
                Ok(ptr) => ptr,
                Err(ArenaError::LimitExceeded { limit, .. }) => {
                    return Err(limit_error(size, limit));
                }
                Err(ArenaError::InvalidLayout { .. }) => {
                    return Err(range_error(F, "size"));
                }
            };
            // SAFETY: the arena just handed out `size` writable bytes at `ptr`, which nothing
            // else points to; zeroing them means JS never sees earlier contents.
            unsafe { std::ptr::write_bytes(ptr.as_ptr(), 0, size) };
            let id = state.next_id;
            state.next_id += 1;
            let generation = state.generation;
            state.pending.insert(id, generation);
            *state.per_generation.entry(generation).or_insert(0) += 1;
            (ptr, id)
        };
        let ticket = Box::into_raw(Box::new(Ticket {
            shared: Arc::clone(&self.shared),
            id,
        }));
        // SAFETY: `external_buffer`'s contract: the `size` bytes at `ptr` stay allocated and
        // unused by Rust while Buffer `id` is pending (just recorded in `state.pending`; chunks
        // are freed, or retired, only when no Buffer of their generation is pending, and `id`
        // stops pending only once `reset` detached it or `finalize` ran). They overlap no other
        // live Buffer: bump memory is handed out once per generation, and a generation's
        // memory is reused only after all its Buffers settled. `finalize` takes exactly this
        // `Box<Ticket>`.
        let buffer =
            match unsafe { raw::external_buffer(env, ptr.as_ptr(), size, finalize, ticket.cast()) }
            {
                Ok(buffer) => buffer,
                Err(fail) => {
                    // SAFETY: the Buffer was not created, so its finalizer will never run and the
                    // ticket is still ours.
                    drop(unsafe { Box::from_raw(ticket) });
                    self.shared.lock().settle(id);
                    return Err(fail);
                }
            };
        let array_buffer = raw::typed_array(env, buffer)?
            .map(|ta| ta.buffer)
            .ok_or_else(|| Fail::Error(format!("{F}: the new Buffer has no ArrayBuffer")))?;
        match WeakRef::new(env, array_buffer) {
            Ok(r) => self.handed_out.push((id, r)),
            Err(fail) => {
                // Without a reference the arena could not detach it later: do it now.
                if raw::detach(env, array_buffer).is_ok() {
                    self.shared.lock().settle(id);
                }
                return Err(fail);
            }
        }
        self.prune(env)?;
        Ok(buffer)
    }

    fn reset_inner(&mut self, env: Env) -> R<()> {
        let mut detached = Vec::with_capacity(self.handed_out.len());
        for (id, r) in std::mem::take(&mut self.handed_out) {
            if let Some(array_buffer) = r.get(env)? {
                // A Buffer someone else detached may have handed its memory to another
                // ArrayBuffer: leave it pending until its finalizer.
                if !raw::is_detached(env, array_buffer)? && raw::detach(env, array_buffer).is_ok() {
                    detached.push(id);
                }
            }
            r.delete(env);
        }
        self.prune_at = 64;
        let mut state = self.shared.lock();
        for id in detached {
            state.settle(id);
        }
        let generation = state.generation;
        if state.pending_in(generation) == 0 {
            state.current.release();
        } else {
            let fresh = Arena::new(state.config);
            let old = std::mem::replace(&mut state.current, fresh);
            state.retired.push((generation, old));
        }
        state.generation += 1;
        Ok(())
    }
}

/// The refusal of an allocation past the arena's limit (`lib/` words it with
/// `validate.arenaLimitError`).
fn limit_error(size: usize, limit: usize) -> Fail {
    Fail::Refused {
        code: "ULTRA_ARENA_LIMIT",
        message: format!("arena.allocBuffer: {size} bytes would pass the limit of {limit}"),
    }
}

/// `allocBuffer(size)`: a zero-filled Buffer of `size` bytes (>= 1) inside the arena (no
/// copy).
fn alloc_buffer(env: Env, this: &mut NativeArena, [size]: [Val; 1]) -> R<Val> {
    this.alloc_buffer_inner(env, size)
}

/// `reset()`: detaches every Buffer handed out (length 0 from now on) and frees the chunks.
fn reset(env: Env, this: &mut NativeArena, []: [Val; 0]) -> R<Val> {
    this.reset_inner(env)?;
    raw::undefined(env)
}

/// `stats()`: `{ reservedBytes, usedBytes, chunks, limitBytes }` of the current chunks.
fn stats(env: Env, this: &mut NativeArena, []: [Val; 0]) -> R<Val> {
    let (s, limit) = {
        let state = this.shared.lock();
        (state.current.stats(), state.config.limit_bytes)
    };
    let out = raw::object(env)?;
    raw::set_num(env, out, c"reservedBytes", s.reserved_bytes as f64)?;
    raw::set_num(env, out, c"usedBytes", s.used_bytes as f64)?;
    raw::set_num(env, out, c"chunks", s.chunks as f64)?;
    raw::set_num(env, out, c"limitBytes", limit as f64)?;
    Ok(out)
}

impl Class for NativeArena {
    const NAME: &'static std::ffi::CStr = c"NativeArena";
    const TAG: sys::napi_type_tag = sys::napi_type_tag {
        lower: 0x756c_7472_615f_6172,
        upper: 0x0001,
    };
    const SLOT: usize = 4;

    fn finalize(mut self, env: Env) {
        for (_, r) in self.handed_out.drain(..) {
            r.delete(env);
        }
        // The Buffers handed out may outlive the arena object: their memory stays until the
        // last of them is finalized (see the module docs).
        let mut state = self.shared.lock();
        state.handle_alive = false;
        let generation = state.generation;
        if state.pending_in(generation) == 0 {
            state.current.release();
        }
    }
}

glue::method!(
    alloc_buffer_cb,
    NativeArena,
    1,
    "arena.allocBuffer",
    alloc_buffer
);
glue::method!(reset_cb, NativeArena, 0, "arena.reset", reset);
glue::method!(stats_cb, NativeArena, 0, "arena.stats", stats);
glue::function!(create_memory_arena_cb, 1, create_memory_arena);

/// The members of `NativeArena`.
pub const MEMBERS: &[Member] = &[
    Member::Method(c"allocBuffer", alloc_buffer_cb),
    Member::Method(c"reset", reset_cb),
    Member::Method(c"stats", stats_cb),
];

/// The functions of this module, by JS name.
pub const FUNCTIONS: &[(&std::ffi::CStr, glue::Callback)] =
    &[(c"createMemoryArena", create_memory_arena_cb)];
