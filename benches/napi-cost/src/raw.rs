//! The raw-callback variant: each function is an `extern "C"` N-API callback that reads its
//! arguments with `napi_get_cb_info` and converts them by hand, as ultra-node's `raw.rs` and
//! `glue.rs` do (a panic is caught, a wrong argument is a TypeError, `this` of a method is
//! checked by type tag, the value is a `RefCell`, strings are read into a stack buffer).
//!
//! Registration: feature `raw` exports `napi_register_module_v1` itself (napi-rs's runtime left
//! out by `noop`); feature `raw-registered` registers the same callbacks from napi-rs's module
//! registration (`#[napi(module_exports)]`).
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::ffi::{c_void, CStr, CString};
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use napi::sys;

use crate::Store;

type Env = sys::napi_env;
type Val = sys::napi_value;

/// A failure: a TypeError to throw, or an exception already pending.
enum Fail {
    Type(&'static str),
    Pending,
}

type R<T> = Result<T, Fail>;

fn check(status: sys::napi_status) -> R<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Fail::Pending)
    }
}

fn out<T>(f: impl FnOnce(*mut T) -> sys::napi_status) -> R<T> {
    let mut slot = MaybeUninit::<T>::uninit();
    check(f(slot.as_mut_ptr()))?;
    // SAFETY: N-API writes the out-parameter whenever it returns `napi_ok`, just checked.
    Ok(unsafe { slot.assume_init() })
}

/// Runs `body` with the call's first `N` arguments (and `this`), catching panics and
/// throwing failures.
///
/// # Safety
///
/// `env` and `info` must be those N-API passed to the calling callback.
unsafe fn call<const N: usize>(
    env: Env,
    info: sys::napi_callback_info,
    body: impl FnOnce(Val, [Val; N]) -> R<Val>,
) -> Val {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let mut this = ptr::null_mut();
    // SAFETY: `info` is this call's; `argv` has room for `argc` values (N-API fills missing
    // ones with `undefined`); `this` is a valid out-pointer.
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            &mut this,
            ptr::null_mut(),
        )
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        check(status)?;
        body(this, argv)
    }));
    match result {
        Ok(Ok(v)) => v,
        Ok(Err(Fail::Pending)) => ptr::null_mut(),
        Ok(Err(Fail::Type(message))) => {
            throw_type_error(env, message);
            ptr::null_mut()
        }
        Err(_) => {
            throw_type_error(env, "internal error");
            ptr::null_mut()
        }
    }
}

fn throw_type_error(env: Env, message: &'static str) {
    let mut pending = false;
    // SAFETY: a valid out-pointer, on the env's thread inside a callback.
    unsafe { sys::napi_is_exception_pending(env, &mut pending) };
    if !pending {
        let message = CString::new(message).unwrap_or_default();
        // SAFETY: `message` is NUL-terminated and lives across the call.
        unsafe { sys::napi_throw_type_error(env, ptr::null(), message.as_ptr()) };
    }
}

/// The bytes of a Uint8Array (any Buffer), or a TypeError naming `param`.
fn bytes<'a>(env: Env, v: Val, param: &'static str) -> R<&'a [u8]> {
    let mut ty = 0;
    let mut len = 0;
    let mut data: *mut c_void = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut offset = 0;
    // SAFETY: every out-pointer is a valid local; N-API answers `napi_invalid_arg` without an
    // exception when `v` is not a typed array.
    let status = unsafe {
        sys::napi_get_typedarray_info(
            env,
            v,
            &mut ty,
            &mut len,
            &mut data,
            &mut buffer,
            &mut offset,
        )
    };
    if status != sys::Status::napi_ok || ty != sys::TypedarrayType::uint8_array {
        return Err(Fail::Type(param));
    }
    if len == 0 || data.is_null() {
        return Ok(&[]);
    }
    // SAFETY: N-API reported `len` live bytes at `data`; the slice is used before the callback
    // returns and runs no JS meanwhile, so nothing can detach or free the buffer.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// Runs `f` on the UTF-8 of the string `v` (read into a stack buffer), or a TypeError.
fn with_utf8<T>(env: Env, v: Val, param: &'static str, f: impl FnOnce(&[u8]) -> R<T>) -> R<T> {
    const STACK: usize = 1024;
    let t = out(|t| {
        // SAFETY: `t` is a valid out-pointer.
        unsafe { sys::napi_typeof(env, v, t) }
    })?;
    if t != sys::ValueType::napi_string {
        return Err(Fail::Type(param));
    }
    let mut stack = [MaybeUninit::<u8>::uninit(); STACK];
    let copied = out(|copied| {
        // SAFETY: the buffer and its size are valid; N-API writes at most STACK - 1 bytes.
        unsafe { sys::napi_get_value_string_utf8(env, v, stack.as_mut_ptr().cast(), STACK, copied) }
    })?;
    if copied >= STACK - 4 {
        return Err(Fail::Type(param)); // long keys are not part of this bench
    }
    // SAFETY: N-API initialised the first `copied` bytes.
    f(unsafe { std::slice::from_raw_parts(stack.as_ptr().cast::<u8>(), copied) })
}

fn undefined(env: Env) -> R<Val> {
    // SAFETY: a valid out-pointer.
    out(|r| unsafe { sys::napi_get_undefined(env, r) })
}

fn number(env: Env, n: f64) -> R<Val> {
    // SAFETY: a valid out-pointer.
    out(|r| unsafe { sys::napi_create_double(env, n, r) })
}

// ------------------------------------------------------------------------------------------
// The Store class

/// The type tag of Store instances.
const TAG: sys::napi_type_tag = sys::napi_type_tag {
    lower: 0x7a3c_51e2_0b9d_4f16,
    upper: 0x9e04_c8d1_6a2f_b375,
};

/// The Store wrapped by `this`, after checking its type tag.
fn unwrap<'a>(env: Env, this: Val) -> R<&'a RefCell<Store>> {
    let mut is_store = false;
    // SAFETY: `this` is a value of this call; `TAG` lives for the program.
    let status = unsafe { sys::napi_check_object_type_tag(env, this, &TAG, &mut is_store) };
    if status != sys::Status::napi_ok || !is_store {
        return Err(Fail::Type("this must be a Store"));
    }
    // SAFETY: a valid out-pointer; `this` carries `TAG`, set only right after a wrap.
    let data = out(|r| unsafe { sys::napi_unwrap(env, this, r) })?;
    // SAFETY: `data` is the `Box<RefCell<Store>>` wrapped by `construct`, alive until the
    // object is collected, which cannot happen while a method runs on it.
    Ok(unsafe { &*data.cast::<RefCell<Store>>() })
}

/// `callback!(name, N, body)`: an N-API callback running `body(env, this, args)`.
macro_rules! callback {
    ($cb:ident, $n:literal, $body:expr) => {
        unsafe extern "C" fn $cb(env: Env, info: sys::napi_callback_info) -> Val {
            let body: fn(Env, Val, [Val; $n]) -> R<Val> = $body;
            // SAFETY: N-API calls this with the call's `env` and `info`.
            unsafe { call::<$n>(env, info, |this, args| body(env, this, args)) }
        }
    };
}

/// `store_method!(name, N, body)`: an N-API callback running `body(env, &store, args)` on the
/// Store of `this`.
macro_rules! store_method {
    ($cb:ident, $n:literal, $body:expr) => {
        callback!($cb, $n, |env, this, args| {
            let body: fn(Env, &Store, [Val; $n]) -> R<Val> = $body;
            let cell = unwrap(env, this)?;
            let store = cell
                .try_borrow()
                .map_err(|_| Fail::Type("re-entrant call"))?;
            body(env, &store, args)
        });
    };
}

callback!(noop, 0, |env, _, []| undefined(env));

callback!(allocations, 0, |env, _, []| number(
    env,
    crate::allocations()
));

callback!(xxh3, 1, |env, _, [data]| {
    let h = crate::xxh3(bytes(env, data, "xxh3: data must be a Buffer")?);
    // SAFETY: a valid out-pointer.
    out(|r| unsafe { sys::napi_create_bigint_uint64(env, h, r) })
});

callback!(xxh3_number, 1, |env, _, [data]| {
    let data = bytes(env, data, "xxh3Number: data must be a Buffer")?;
    number(env, crate::xxh3_number(data))
});

callback!(create_store, 1, |env, _, [n]| {
    // SAFETY: a valid out-pointer.
    let t = out(|t| unsafe { sys::napi_typeof(env, n, t) })?;
    if t != sys::ValueType::napi_number {
        return Err(Fail::Type("createStore: n must be a number"));
    }
    // SAFETY: `n` is a number; a valid out-pointer.
    let n = out(|r| unsafe { sys::napi_get_value_uint32(env, n, r) })?;
    instance(env, Store::new(n))
});

store_method!(store_get, 1, |env, store, [key]| {
    with_utf8(env, key, "get: key must be a string", |key| {
        match store.get(key) {
            None => undefined(env),
            // SAFETY: `v` is valid for its length, passed explicitly.
            Some(v) => out(|r| unsafe {
                sys::napi_create_string_utf8(env, v.as_ptr().cast(), v.len() as isize, r)
            }),
        }
    })
});

store_method!(store_get_buffer, 1, |env, store, [key]| {
    with_utf8(
        env,
        key,
        "getBuffer: key must be a string",
        |key| match store.get(key) {
            None => undefined(env),
            Some(v) => {
                let mut data = ptr::null_mut();
                // SAFETY: `v` is valid for its length; N-API copies it into a new Buffer.
                out(|r| unsafe {
                    sys::napi_create_buffer_copy(env, v.len(), v.as_ptr().cast(), &mut data, r)
                })
            }
        },
    )
});

store_method!(store_stats, 0, |env, store, []| {
    // SAFETY: a valid out-pointer.
    let obj = out(|r| unsafe { sys::napi_create_object(env, r) })?;
    let [entries, keys, values] = store.stats();
    for (name, n) in [
        (c"entries", entries),
        (c"keyBytes", keys),
        (c"valueBytes", values),
    ] {
        let v = number(env, n)?;
        // SAFETY: `obj` is an object of this call; `name` is NUL-terminated.
        check(unsafe { sys::napi_set_named_property(env, obj, name.as_ptr(), v) })?;
    }
    Ok(obj)
});

thread_local! {
    /// The Store `instance` hands to the constructor it calls.
    static PENDING: Cell<*mut c_void> = const { Cell::new(ptr::null_mut()) };
    /// A strong reference to the Store constructor of this thread's env.
    static CONSTRUCTOR: Cell<sys::napi_ref> = const { Cell::new(ptr::null_mut()) };
}

// The constructor: wraps the Store `instance` left in `PENDING`; `new Store()` from JS is a
// TypeError.
callback!(construct, 0, |env, this, []| {
    let data = PENDING.with(|p| p.replace(ptr::null_mut()));
    if data.is_null() {
        return Err(Fail::Type("Store cannot be constructed: use createStore"));
    }
    // SAFETY: `this` is the new object; `data` is a `Box<RefCell<Store>>` whose ownership
    // passes to the wrap, freed by `finalize`.
    let status = unsafe {
        sys::napi_wrap(
            env,
            this,
            data,
            Some(finalize),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    if status != sys::Status::napi_ok {
        // SAFETY: the wrap failed, so the box is still ours.
        drop(unsafe { Box::from_raw(data.cast::<RefCell<Store>>()) });
        return Err(Fail::Pending);
    }
    // SAFETY: `this` is an object of this call; `TAG` lives for the program.
    check(unsafe { sys::napi_type_tag_object(env, this, &TAG) })?;
    Ok(this)
});

unsafe extern "C" fn finalize(_env: Env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the box wrapped by `construct`; N-API calls a wrap's finalizer once.
    drop(unsafe { Box::from_raw(data.cast::<RefCell<Store>>()) });
}

fn instance(env: Env, store: Store) -> R<Val> {
    let ctor_ref = CONSTRUCTOR.with(Cell::get);
    // SAFETY: `ctor_ref` is the strong reference `init` made in this env.
    let ctor = out(|r| unsafe { sys::napi_get_reference_value(env, ctor_ref, r) })?;
    let data = Box::into_raw(Box::new(RefCell::new(store))).cast::<c_void>();
    PENDING.with(|p| p.set(data));
    // SAFETY: `ctor` is a constructor of this env; no arguments are passed.
    let made = out(|r| unsafe { sys::napi_new_instance(env, ctor, 0, ptr::null(), r) });
    let left = PENDING.with(|p| p.replace(ptr::null_mut()));
    if !left.is_null() {
        // SAFETY: the constructor did not take the box: it is still ours.
        drop(unsafe { Box::from_raw(left.cast::<RefCell<Store>>()) });
    }
    made
}

fn method_descriptor(name: &'static CStr, cb: sys::napi_callback) -> sys::napi_property_descriptor {
    sys::napi_property_descriptor {
        utf8name: name.as_ptr(),
        name: ptr::null_mut(),
        method: cb,
        getter: None,
        setter: None,
        value: ptr::null_mut(),
        attributes: sys::PropertyAttributes::default,
        data: ptr::null_mut(),
    }
}

/// Defines the Store class and exports the functions onto `exports`.
fn init(env: Env, exports: Val) -> R<()> {
    let members = [
        method_descriptor(c"get", Some(store_get)),
        method_descriptor(c"getBuffer", Some(store_get_buffer)),
        method_descriptor(c"stats", Some(store_stats)),
    ];
    let ctor = out(|r| {
        // SAFETY: the name is NUL-terminated (length `usize::MAX` = up to the NUL); the
        // descriptors point at `'static` names and valid callbacks.
        unsafe {
            sys::napi_define_class(
                env,
                c"Store".as_ptr(),
                usize::MAX as isize,
                Some(construct),
                ptr::null_mut(),
                members.len(),
                members.as_ptr(),
                r,
            )
        }
    })?;
    // SAFETY: `ctor` is a value of this scope; a count of 1 makes the reference strong.
    let ctor_ref = out(|r| unsafe { sys::napi_create_reference(env, ctor, 1, r) })?;
    CONSTRUCTOR.with(|c| c.set(ctor_ref));
    let functions: [(&CStr, sys::napi_callback); 5] = [
        (c"noop", Some(noop)),
        (c"allocations", Some(allocations)),
        (c"xxh3", Some(xxh3)),
        (c"xxh3Number", Some(xxh3_number)),
        (c"createStore", Some(create_store)),
    ];
    for (name, cb) in functions {
        let f = out(|r| {
            // SAFETY: `name` is NUL-terminated; `cb` is a valid callback.
            unsafe {
                sys::napi_create_function(
                    env,
                    name.as_ptr(),
                    usize::MAX as isize,
                    cb,
                    ptr::null_mut(),
                    r,
                )
            }
        })?;
        // SAFETY: `exports` is the module's exports object; `name` is NUL-terminated.
        check(unsafe { sys::napi_set_named_property(env, exports, name.as_ptr(), f) })?;
    }
    Ok(())
}

/// Node's entry point when napi-rs's registration is left out.
///
/// # Safety
///
/// Called by Node with a live `env` and its `exports`, on the env's thread.
#[cfg(feature = "raw")]
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: Env, exports: Val) -> Val {
    match init(env, exports) {
        Ok(()) => exports,
        Err(_) => ptr::null_mut(),
    }
}

/// The N-API version the addon is built for.
#[cfg(feature = "raw")]
#[no_mangle]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
    9
}

/// The same callbacks, registered from napi-rs's module registration.
#[cfg(feature = "raw-registered")]
#[napi_derive::napi(module_exports)]
pub fn exports(env: napi::Env, exports: napi::bindgen_prelude::Object<'_>) -> napi::Result<()> {
    use napi::JsValue;
    init(env.raw(), exports.raw()).map_err(|_| napi::Error::from_reason("init failed"))
}
