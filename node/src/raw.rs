//! The thin layer over raw N-API calls that the rest of the addon is written on.
//!
//! Every `unsafe` block of the addon that is not an external-buffer finalizer lives here, each
//! with its `// SAFETY:` reasoning. Two facts carry most of them:
//!
//! - N-API functions are sound to call on the JS thread that owns `env`, with handles
//!   (`napi_value`) created in the current handle scope, and out-pointers to valid locals.
//!   Every function of this module is only reached from a `#[napi]` callback (or a finalizer),
//!   which runs on that thread with such a scope open.
//! - A `napi_value` never outlives the callback it came from: [`Val`] is `Copy` but is never
//!   stored beyond one call (storage across calls goes through [`WeakRef`]).

use std::ffi::{c_void, CStr};
use std::mem::MaybeUninit;
use std::ptr;

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, Env, ValueType};

use crate::error::{Fail, R};

/// A JS value handed to or returned from a `#[napi]` function untouched: every check is made
/// by hand, so that wrong arguments become the addon's own TypeError or RangeError rather
/// than napi-rs's generic conversion error.
#[derive(Clone, Copy)]
pub struct Val(pub(crate) sys::napi_value);

impl TypeName for Val {
    fn type_name() -> &'static str {
        "unknown"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ValidateNapiValue for Val {}

impl FromNapiValue for Val {
    unsafe fn from_napi_value(_env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        Ok(Val(value))
    }
}

impl ToNapiValue for Val {
    unsafe fn to_napi_value(_env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        Ok(value.0)
    }
}

/// Turns an N-API status into a result. A pending exception stays pending
/// ([`Fail::Pending`]); any other failure becomes an `Error` naming the call.
fn check(status: sys::napi_status, call: &'static str) -> R<()> {
    match status {
        sys::Status::napi_ok => Ok(()),
        sys::Status::napi_pending_exception => Err(Fail::Pending),
        other => Err(Fail::Error(format!(
            "ultra-node: N-API call {call} failed with status {other}"
        ))),
    }
}

/// Writes an out-parameter through `f` and returns it once `f`'s status is `napi_ok`.
fn out<T>(call: &'static str, f: impl FnOnce(*mut T) -> sys::napi_status) -> R<T> {
    let mut slot = MaybeUninit::<T>::uninit();
    check(f(slot.as_mut_ptr()), call)?;
    // SAFETY: N-API writes the out-parameter whenever it returns `napi_ok`, which `check`
    // just confirmed.
    Ok(unsafe { slot.assume_init() })
}

/// The `typeof` of a value, as N-API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `undefined`
    Undefined,
    /// `null`
    Null,
    /// a boolean
    Boolean,
    /// a number
    Number,
    /// a string
    String,
    /// a symbol
    Symbol,
    /// an object (arrays, typed arrays and other objects)
    Object,
    /// a function
    Function,
    /// an N-API external
    External,
    /// a bigint
    BigInt,
}

/// The type of `v`.
pub fn kind(env: Env, v: Val) -> R<Kind> {
    // SAFETY: see the module docs; `t` is a valid out-pointer.
    let t = out("napi_typeof", |t| unsafe {
        sys::napi_typeof(env.raw(), v.0, t)
    })?;
    Ok(match t {
        sys::ValueType::napi_undefined => Kind::Undefined,
        sys::ValueType::napi_null => Kind::Null,
        sys::ValueType::napi_boolean => Kind::Boolean,
        sys::ValueType::napi_number => Kind::Number,
        sys::ValueType::napi_string => Kind::String,
        sys::ValueType::napi_symbol => Kind::Symbol,
        sys::ValueType::napi_function => Kind::Function,
        sys::ValueType::napi_external => Kind::External,
        sys::ValueType::napi_bigint => Kind::BigInt,
        _ => Kind::Object,
    })
}

// ------------------------------------------------------------------------------------------
// Reading values

/// Bytes a string is converted into on the stack before the heap is used.
const STACK_UTF8: usize = 1024;

/// Runs `f` on the UTF-8 encoding of the JS string `v` (lone surrogates become U+FFFD, as
/// in `Buffer.from(string)`). Strings of up to about 1 KiB of UTF-8 are converted into a
/// stack buffer with a single N-API call and no allocation; longer ones into a `Vec`.
pub fn with_utf8<T>(env: Env, v: Val, f: impl FnOnce(&[u8]) -> R<T>) -> R<T> {
    let mut stack = [MaybeUninit::<u8>::uninit(); STACK_UTF8];
    // SAFETY: the buffer and its size are valid; N-API writes at most `STACK_UTF8 - 1` bytes
    // and their count into `copied`.
    let copied = out("napi_get_value_string_utf8", |copied| unsafe {
        sys::napi_get_value_string_utf8(
            env.raw(),
            v.0,
            stack.as_mut_ptr().cast(),
            STACK_UTF8,
            copied,
        )
    })?;
    // V8 stops before a character that does not fit, so a cut string leaves at most 3 bytes
    // unused: fewer than `STACK_UTF8 - 4` bytes mean the whole string was written.
    if copied < STACK_UTF8 - 4 {
        // SAFETY: N-API initialised the first `copied` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(stack.as_ptr().cast::<u8>(), copied) };
        return f(bytes);
    }
    // SAFETY: a null buffer asks only for the length in bytes.
    let len = out("napi_get_value_string_utf8", |len| unsafe {
        sys::napi_get_value_string_utf8(env.raw(), v.0, ptr::null_mut(), 0, len)
    })?;
    let mut heap = vec![0u8; len + 1];
    // SAFETY: `heap` has room for `len` bytes and the terminating NUL N-API writes.
    let copied = out("napi_get_value_string_utf8", |copied| unsafe {
        sys::napi_get_value_string_utf8(env.raw(), v.0, heap.as_mut_ptr().cast(), len + 1, copied)
    })?;
    f(heap.get(..copied).unwrap_or_default())
}

/// A typed array's view of its memory.
pub struct TypedArray {
    /// N-API's element type (`napi_uint8_array` is 1).
    pub ty: sys::napi_typedarray_type,
    /// Length in elements (bytes for a Uint8Array).
    pub len: usize,
    /// First element, offset applied; null when the buffer is detached.
    pub data: *mut u8,
    /// The ArrayBuffer under the view.
    pub buffer: Val,
}

impl TypedArray {
    /// Whether this is a `Uint8Array` (which includes every `Buffer`).
    pub fn is_uint8(&self) -> bool {
        self.ty == sys::TypedarrayType::uint8_array
    }
}

/// The typed-array view of `v`, or `None` if `v` is not a typed array.
pub fn typed_array(env: Env, v: Val) -> R<Option<TypedArray>> {
    let mut ty = 0;
    let mut len = 0;
    let mut data: *mut c_void = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut offset = 0;
    let status =
        // SAFETY: see the module docs; every out-pointer is a valid local. N-API answers
        // `napi_invalid_arg`, without an exception, when `v` is not a typed array (one call
        // instead of `napi_is_typedarray` first: this is on the path of every hash).
        unsafe {
            sys::napi_get_typedarray_info(
                env.raw(),
                v.0,
                &mut ty,
                &mut len,
                &mut data,
                &mut buffer,
                &mut offset,
            )
        };
    if status == sys::Status::napi_invalid_arg {
        return Ok(None);
    }
    check(status, "napi_get_typedarray_info")?;
    Ok(Some(TypedArray {
        ty,
        len,
        data: data.cast(),
        buffer: Val(buffer),
    }))
}

/// Runs `f` on the writable bytes of a Uint8Array; `None` if `v` is not one.
pub fn with_bytes_mut<T>(env: Env, v: Val, f: impl FnOnce(&mut [u8]) -> R<T>) -> R<Option<T>> {
    match typed_array(env, v)? {
        Some(ta) if ta.is_uint8() => {
            if ta.len == 0 || ta.data.is_null() {
                return f(&mut []).map(Some);
            }
            // SAFETY: N-API reported `len` bytes at `data` (non-null), the live memory of the
            // view, which JS initialised. It stays valid and unaliased by Rust for the duration
            // of `f`: `f` runs no JS (it copies bytes in and returns), so nothing can detach,
            // resize or free the buffer meanwhile, and ArrayBuffer memory never moves.
            let bytes = unsafe { std::slice::from_raw_parts_mut(ta.data, ta.len) };
            f(bytes).map(Some)
        }
        _ => Ok(None),
    }
}

/// Runs `f` on the bytes of a Uint8Array (without copying them) or on the UTF-8 encoding of
/// a string. `None` for any other value (the caller names the parameter in its error).
pub fn with_data<T>(env: Env, v: Val, f: impl FnOnce(&[u8]) -> R<T>) -> R<Option<T>> {
    match kind(env, v)? {
        Kind::String => with_utf8(env, v, f).map(Some),
        Kind::Object => match typed_array(env, v)? {
            Some(ta) if ta.is_uint8() => {
                if ta.len == 0 || ta.data.is_null() {
                    return f(&[]).map(Some);
                }
                // SAFETY: N-API reported `len` bytes at `data` (non-null), the live memory of
                // the view. It stays valid for the duration of `f`: `f` runs no JS (the
                // callers' closures hash, parse or copy and return), so nothing can detach,
                // resize or free the buffer meanwhile, and ArrayBuffer memory never moves.
                let bytes = unsafe { std::slice::from_raw_parts(ta.data.cast_const(), ta.len) };
                f(bytes).map(Some)
            }
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

/// The number in `v`, or `None` if `v` is not a number.
pub fn number(env: Env, v: Val) -> R<Option<f64>> {
    if kind(env, v)? != Kind::Number {
        return Ok(None);
    }
    // SAFETY: see the module docs; `v` is a number.
    out("napi_get_value_double", |r| unsafe {
        sys::napi_get_value_double(env.raw(), v.0, r)
    })
    .map(Some)
}

/// The boolean in `v`, or `None` if `v` is not a boolean.
pub fn boolean(env: Env, v: Val) -> R<Option<bool>> {
    if kind(env, v)? != Kind::Boolean {
        return Ok(None);
    }
    // SAFETY: see the module docs; `v` is a boolean.
    out("napi_get_value_bool", |r| unsafe {
        sys::napi_get_value_bool(env.raw(), v.0, r)
    })
    .map(Some)
}

/// The value of a bigint as a sign and up to two 64-bit words (little-endian), or `None`
/// when it needs more than two words.
pub fn read_bigint_u128(env: Env, v: Val) -> R<Option<(bool, u128)>> {
    let mut words = [0u64; 2];
    let mut count = words.len();
    let mut sign = 0;
    let status =
        // SAFETY: `words` has room for `count` words; N-API sets `count` to the words needed
        // and writes at most the room given.
        unsafe {
            sys::napi_get_value_bigint_words(
                env.raw(),
                v.0,
                &mut sign,
                &mut count,
                words.as_mut_ptr(),
            )
        };
    check(status, "napi_get_value_bigint_words")?;
    if count > 2 {
        return Ok(None);
    }
    let value = u128::from(words[0]) | (u128::from(words[1]) << 64);
    Ok(Some((sign != 0, value)))
}

/// `obj[name]`; runs a getter if `obj` has one (user code, which may throw).
pub fn get(env: Env, obj: Val, name: &CStr) -> R<Val> {
    // SAFETY: see the module docs; `name` is NUL-terminated.
    out("napi_get_named_property", |r| unsafe {
        sys::napi_get_named_property(env.raw(), obj.0, name.as_ptr(), r)
    })
    .map(Val)
}

/// Whether `v` is an array.
pub fn is_array(env: Env, v: Val) -> R<bool> {
    // SAFETY: see the module docs.
    out("napi_is_array", |r| unsafe {
        sys::napi_is_array(env.raw(), v.0, r)
    })
}

/// The length of a JS string in UTF-16 code units.
pub fn utf16_len(env: Env, v: Val) -> R<usize> {
    // SAFETY: a null buffer asks only for the length.
    out("napi_get_value_string_utf16", |r| unsafe {
        sys::napi_get_value_string_utf16(env.raw(), v.0, ptr::null_mut(), 0, r)
    })
}

/// The UTF-16 code units of a JS string.
pub fn utf16(env: Env, v: Val) -> R<Vec<u16>> {
    let len = utf16_len(env, v)?;
    let mut units = vec![0u16; len + 1];
    // SAFETY: `units` has room for the string and the terminating NUL.
    let copied = out("napi_get_value_string_utf16", |r| unsafe {
        sys::napi_get_value_string_utf16(env.raw(), v.0, units.as_mut_ptr(), len + 1, r)
    })?;
    units.truncate(copied);
    Ok(units)
}

// ------------------------------------------------------------------------------------------
// Creating values

/// `undefined`.
pub fn undefined(env: Env) -> R<Val> {
    // SAFETY: see the module docs.
    out("napi_get_undefined", |r| unsafe {
        sys::napi_get_undefined(env.raw(), r)
    })
    .map(Val)
}

/// `null`.
pub fn null(env: Env) -> R<Val> {
    // SAFETY: see the module docs.
    out("napi_get_null", |r| unsafe {
        sys::napi_get_null(env.raw(), r)
    })
    .map(Val)
}

/// A boolean.
pub fn bool_val(env: Env, b: bool) -> R<Val> {
    // SAFETY: see the module docs.
    out("napi_get_boolean", |r| unsafe {
        sys::napi_get_boolean(env.raw(), b, r)
    })
    .map(Val)
}

/// A number.
pub fn num(env: Env, n: f64) -> R<Val> {
    // SAFETY: see the module docs.
    out("napi_create_double", |r| unsafe {
        sys::napi_create_double(env.raw(), n, r)
    })
    .map(Val)
}

/// A string from UTF-8 bytes (invalid sequences become U+FFFD).
pub fn string_utf8(env: Env, bytes: &[u8]) -> R<Val> {
    // SAFETY: `bytes` is valid for its length, which is passed explicitly (no NUL needed).
    out("napi_create_string_utf8", |r| unsafe {
        sys::napi_create_string_utf8(env.raw(), bytes.as_ptr().cast(), bytes.len() as isize, r)
    })
    .map(Val)
}

/// A string from UTF-16 code units (lone surrogates kept as they are).
pub fn string_utf16(env: Env, units: &[u16]) -> R<Val> {
    // SAFETY: as in `string_utf8`.
    out("napi_create_string_utf16", |r| unsafe {
        sys::napi_create_string_utf16(env.raw(), units.as_ptr(), units.len() as isize, r)
    })
    .map(Val)
}

/// A string from Latin-1 bytes (hex digits: the cheapest conversion V8 has).
pub fn string_latin1(env: Env, bytes: &[u8]) -> R<Val> {
    // SAFETY: as in `string_utf8`.
    out("napi_create_string_latin1", |r| unsafe {
        sys::napi_create_string_latin1(env.raw(), bytes.as_ptr().cast(), bytes.len() as isize, r)
    })
    .map(Val)
}

/// A new plain object.
pub fn object(env: Env) -> R<Val> {
    // SAFETY: see the module docs.
    out("napi_create_object", |r| unsafe {
        sys::napi_create_object(env.raw(), r)
    })
    .map(Val)
}

/// A new array of `len` holes.
pub fn array(env: Env, len: usize) -> R<Val> {
    // SAFETY: see the module docs.
    out("napi_create_array_with_length", |r| unsafe {
        sys::napi_create_array_with_length(env.raw(), len, r)
    })
    .map(Val)
}

/// `obj[name] = value` on an object this addon created (plain data property).
pub fn set(env: Env, obj: Val, name: &CStr, value: Val) -> R<()> {
    // SAFETY: see the module docs; `name` is NUL-terminated.
    check(
        unsafe { sys::napi_set_named_property(env.raw(), obj.0, name.as_ptr(), value.0) },
        "napi_set_named_property",
    )
}

/// `obj[name] = n`.
pub fn set_num(env: Env, obj: Val, name: &CStr, n: f64) -> R<()> {
    set(env, obj, name, num(env, n)?)
}

/// `array[index] = value`.
pub fn set_index(env: Env, array: Val, index: u32, value: Val) -> R<()> {
    // SAFETY: see the module docs.
    check(
        unsafe { sys::napi_set_element(env.raw(), array.0, index, value.0) },
        "napi_set_element",
    )
}

/// A Buffer holding a copy of `bytes` (in memory V8 owns).
pub fn buffer_copy(env: Env, bytes: &[u8]) -> R<Val> {
    let mut data = ptr::null_mut();
    // SAFETY: `bytes` is valid for its length; N-API copies it into a new Buffer.
    out("napi_create_buffer_copy", |r| unsafe {
        sys::napi_create_buffer_copy(env.raw(), bytes.len(), bytes.as_ptr().cast(), &mut data, r)
    })
    .map(Val)
}

/// A Buffer of `len` bytes (in memory V8 owns) that `fill` writes, zeroed beforehand.
pub fn buffer_filled(env: Env, len: usize, fill: impl FnOnce(&mut [u8])) -> R<Val> {
    let mut data: *mut c_void = ptr::null_mut();
    // SAFETY: see the module docs; `data` receives the Buffer's memory.
    let buffer = out("napi_create_buffer", |r| unsafe {
        sys::napi_create_buffer(env.raw(), len, &mut data, r)
    })?;
    if len > 0 && !data.is_null() {
        // SAFETY: N-API allocated `len` writable bytes at `data` for the new Buffer, which no
        // one else can reach yet. They are zeroed first so that the slice is initialised.
        let bytes = unsafe {
            ptr::write_bytes(data.cast::<u8>(), 0, len);
            std::slice::from_raw_parts_mut(data.cast::<u8>(), len)
        };
        fill(bytes);
    }
    Ok(Val(buffer))
}

/// A bigint of up to 128 bits.
pub fn bigint_u128(env: Env, value: u128) -> R<Val> {
    let words = [value as u64, (value >> 64) as u64];
    let count = if words[1] == 0 { 1 } else { 2 };
    // SAFETY: `words` holds `count` words.
    out("napi_create_bigint_words", |r| unsafe {
        sys::napi_create_bigint_words(env.raw(), 0, count, words.as_ptr(), r)
    })
    .map(Val)
}

/// `fn.call(undefined, arg)`; a throw stays pending ([`Fail::Pending`]).
pub fn call1(env: Env, function: Val, arg: Val) -> R<Val> {
    let recv = undefined(env)?;
    let args = [arg.0];
    // SAFETY: see the module docs; `args` holds one value.
    out("napi_call_function", |r| unsafe {
        sys::napi_call_function(env.raw(), recv.0, function.0, 1, args.as_ptr(), r)
    })
    .map(Val)
}

/// `globalThis`.
pub fn global(env: Env) -> R<Val> {
    // SAFETY: see the module docs.
    out("napi_get_global", |r| unsafe {
        sys::napi_get_global(env.raw(), r)
    })
    .map(Val)
}

// ------------------------------------------------------------------------------------------
// Errors

/// Whether an exception is pending.
pub fn exception_pending(env: Env) -> bool {
    let mut pending = false;
    // SAFETY: see the module docs.
    let status = unsafe { sys::napi_is_exception_pending(env.raw(), &mut pending) };
    status != sys::Status::napi_ok || pending
}

/// The error classes the addon throws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// `Error`
    Error,
    /// `TypeError`
    Type,
    /// `RangeError`
    Range,
    /// `SyntaxError`
    Syntax,
}

/// Creates an error object of `class` with `message`.
pub fn create_error(env: Env, class: ErrorClass, message: &str) -> R<Val> {
    let msg = string_utf8(env, message.as_bytes())?;
    let code = ptr::null_mut();
    // SAFETY: see the module docs; `code` may be null, `msg` is a string.
    out("napi_create_error", |r| unsafe {
        match class {
            ErrorClass::Error => sys::napi_create_error(env.raw(), code, msg.0, r),
            ErrorClass::Type => sys::napi_create_type_error(env.raw(), code, msg.0, r),
            ErrorClass::Range => sys::napi_create_range_error(env.raw(), code, msg.0, r),
            ErrorClass::Syntax => sys::node_api_create_syntax_error(env.raw(), code, msg.0, r),
        }
    })
    .map(Val)
}

/// Throws `error`.
pub fn throw(env: Env, error: Val) -> R<()> {
    // SAFETY: see the module docs.
    check(unsafe { sys::napi_throw(env.raw(), error.0) }, "napi_throw")
}

// ------------------------------------------------------------------------------------------
// References, wrapping and detaching (arenas and pools)

/// A weak reference to a JS object, valid across calls on the thread of its env. It must be
/// given back with [`WeakRef::delete`].
pub struct WeakRef(sys::napi_ref);

// SAFETY: a `napi_ref` is an opaque handle. The addon stores them in per-object state that is
// only ever used on the JS thread of the env that created it (arenas are not shared between
// threads); `Send` is needed only because that state sits behind a `Mutex` shared with
// finalizers, which also run on that thread.
unsafe impl Send for WeakRef {}

impl WeakRef {
    /// A weak reference (count 0) to `v`.
    pub fn new(env: Env, v: Val) -> R<WeakRef> {
        // SAFETY: see the module docs; `v` is an object.
        out("napi_create_reference", |r| unsafe {
            sys::napi_create_reference(env.raw(), v.0, 0, r)
        })
        .map(WeakRef)
    }

    /// The object, or `None` once it was garbage-collected.
    pub fn get(&self, env: Env) -> R<Option<Val>> {
        // SAFETY: `self.0` is a live reference of `env` (deleted only by `delete`).
        let v = out("napi_get_reference_value", |r| unsafe {
            sys::napi_get_reference_value(env.raw(), self.0, r)
        })?;
        Ok((!v.is_null()).then_some(Val(v)))
    }

    /// Deletes the reference.
    pub fn delete(self, env: Env) {
        // SAFETY: `self.0` is a live reference of `env`; consuming `self` deletes it once.
        // A failure (only possible while the env tears down) leaves nothing to clean up.
        let _ = unsafe { sys::napi_delete_reference(env.raw(), self.0) };
    }
}

/// Detaches an ArrayBuffer: every view of it has length 0 from now on, and V8 drops its
/// backing store at once (the buffer was not transferable, so no other ArrayBuffer shares it).
pub fn detach(env: Env, array_buffer: Val) -> R<()> {
    // SAFETY: see the module docs; N-API checks that the value is a detachable ArrayBuffer.
    check(
        unsafe { sys::napi_detach_arraybuffer(env.raw(), array_buffer.0) },
        "napi_detach_arraybuffer",
    )
}

/// Whether an ArrayBuffer is detached.
pub fn is_detached(env: Env, array_buffer: Val) -> R<bool> {
    // SAFETY: see the module docs.
    out("napi_is_detached_arraybuffer", |r| unsafe {
        sys::napi_is_detached_arraybuffer(env.raw(), array_buffer.0, r)
    })
}

/// Attaches the number `tag` to `obj` (`napi_wrap` with no finalizer: the tag is a number,
/// not a pointer, and nothing is freed when `obj` is collected).
pub fn set_tag(env: Env, obj: Val, tag: u64) -> R<()> {
    // SAFETY: see the module docs; the "native object" is an integer that is never
    // dereferenced, and no finalizer is registered.
    check(
        unsafe {
            sys::napi_wrap(
                env.raw(),
                obj.0,
                tag as usize as *mut c_void,
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        },
        "napi_wrap",
    )
}

/// The tag [`set_tag`] attached to `obj`, or `None` if it has none.
pub fn tag(env: Env, obj: Val) -> R<Option<u64>> {
    let mut tag: *mut c_void = ptr::null_mut();
    // SAFETY: see the module docs. N-API answers `napi_invalid_arg` for an object that was
    // not wrapped (or is not an object) and sets no exception then.
    let status = unsafe { sys::napi_unwrap(env.raw(), obj.0, &mut tag) };
    match status {
        sys::Status::napi_ok => Ok(Some(tag as usize as u64)),
        sys::Status::napi_invalid_arg => Ok(None),
        other => check(other, "napi_unwrap").map(|()| None),
    }
}

/// Removes and returns the tag [`set_tag`] attached to `obj`, or `None` if it has none.
pub fn take_tag(env: Env, obj: Val) -> R<Option<u64>> {
    let mut tag: *mut c_void = ptr::null_mut();
    // SAFETY: see the module docs. N-API answers `napi_invalid_arg` for an object that was
    // not wrapped (or is not an object) and sets no exception then.
    let status = unsafe { sys::napi_remove_wrap(env.raw(), obj.0, &mut tag) };
    match status {
        sys::Status::napi_ok => Ok(Some(tag as usize as u64)),
        sys::Status::napi_invalid_arg => Ok(None),
        other => check(other, "napi_remove_wrap").map(|()| None),
    }
}

/// The finalizer of an external buffer: called once V8 no longer needs the memory.
pub type Finalizer = unsafe extern "C" fn(env: sys::napi_env, data: *mut c_void, hint: *mut c_void);

/// A Buffer over `len` bytes at `data` that Rust owns, with `finalize(hint)` called when V8
/// lets go of them.
///
/// # Safety
///
/// `data` must stay valid and unused by Rust for `len` bytes until either the Buffer's
/// ArrayBuffer is detached by this addon or `finalize` runs; no other external buffer may be
/// over the same memory meanwhile; `finalize` must accept `hint`. If this fails, `finalize`
/// is not called and the caller still owns `hint`.
pub unsafe fn external_buffer(
    env: Env,
    data: *mut u8,
    len: usize,
    finalize: Finalizer,
    hint: *mut c_void,
) -> R<Val> {
    // SAFETY: the caller upholds the contract above; `data` and `len` describe Rust memory.
    out("napi_create_external_buffer", |r| unsafe {
        sys::napi_create_external_buffer(env.raw(), len, data.cast(), Some(finalize), hint, r)
    })
    .map(Val)
}
