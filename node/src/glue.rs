//! How the addon's functions and classes are registered with N-API: raw callbacks instead of
//! napi-rs's generated glue.
//!
//! Why raw callbacks: `benches/napi-cost` builds the same calls raw, with napi-rs `#[napi]`
//! and in napi-rs's compat mode, and measures them side by side (figures and the decision in
//! `lib.rs`, "Why raw N-API callbacks"). In short: napi-rs 3's `#[napi]` glue allocates twice
//! per call that has arguments (its "native borrow scope") and costs 2.5–3.0× a raw callback on
//! the engine's short calls, and its module registration (needed by any `#[napi]` item) costs
//! load memory. Here each call costs one `napi_get_cb_info` plus the work, and
//! allocates nothing. The addon registers itself (`napi_register_module_v1` in `lib.rs`,
//! which calls [`init`]).
//!
//! - A **function** is a body `fn(Env, [Val; N]) -> R<Val>` behind an `extern "C"`
//!   trampoline ([`function!`]); missing arguments arrive as `undefined`.
//! - A **class** is a Rust type implementing [`Class`]. Instances are only made by the addon
//!   ([`instance`]): JS cannot construct them (`new` throws a TypeError). Each instance wraps
//!   a `RefCell<T>` and carries the class's type tag; a method ([`method!`]) checks the tag of
//!   `this` (so a method applied to any other object is a TypeError, never a wrong cast) and
//!   borrows the value mutably (a re-entrant call on the same object, possible only through
//!   user getters on option objects, is an `Error`, never aliased `&mut`). When the object is
//!   collected the value is dropped through [`Class::finalize`].

// Trampolines, wraps and instance data are N-API calls and raw pointers to the boxed values
// JS objects own; each block says why it is sound.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::ffi::{c_void, CStr};
use std::ptr;

use napi::{sys, Env};

use crate::error::{run, Fail, R};
use crate::raw::{self, Val};

/// The signature N-API calls.
pub type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// Calls `body` with the first `N` arguments of the JS call (`undefined` for missing ones)
/// and turns its result into the callback's return value (null after a throw).
///
/// # Safety
///
/// `env` and `info` must be those N-API passed to the calling callback.
pub unsafe fn call<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    body: fn(Env, [Val; N]) -> R<Val>,
) -> sys::napi_value {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    // SAFETY: `info` is this call's; `argv` has room for `argc` values, and N-API fills the
    // ones not passed with `undefined`.
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    let env = Env::from(env);
    let result = run(env, || {
        if status != sys::Status::napi_ok {
            return Err(Fail::Error(format!(
                "ultra-node: napi_get_cb_info failed with status {status}"
            )));
        }
        body(env, argv.map(Val))
    });
    result.map_or(ptr::null_mut(), |v| v.0)
}

/// A class of the addon: its JS name, its type tag and its slot among the constructors.
pub trait Class: Sized + 'static {
    /// The constructor's name in JS.
    const NAME: &'static CStr;
    /// Distinguishes this class's instances from every other object (`napi_type_tag`).
    const TAG: sys::napi_type_tag;
    /// Index in the per-env constructor table ([`CLASSES`] slots).
    const SLOT: usize;

    /// Runs when the JS object is collected (or its env torn down). Drops the value by
    /// default.
    fn finalize(self, _env: Env) {}
}

/// Number of classes (constructor slots).
pub const CLASSES: usize = 6;

/// Calls `body` on the `T` wrapped by `this` (the body of a [`method!`] trampoline).
///
/// # Safety
///
/// As [`call`].
pub unsafe fn call_method<T: Class, const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    name: &'static str,
    body: fn(Env, &mut T, [Val; N]) -> R<Val>,
) -> sys::napi_value {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let mut this = ptr::null_mut();
    // SAFETY: `env` and `info` are this call's (the caller's contract); `argv` has room for
    // `argc` values (N-API fills the ones not passed with `undefined`) and `this` is a valid
    // out-pointer.
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
    let env = Env::from(env);
    let result = run(env, || {
        if status != sys::Status::napi_ok {
            return Err(Fail::Error(format!(
                "ultra-node: napi_get_cb_info failed with status {status}"
            )));
        }
        let cell = unwrap::<T>(env, Val(this), name)?;
        let mut value = cell.try_borrow_mut().map_err(|_| {
            Fail::Error(format!(
                "{name}: called again while a call on the same object is running"
            ))
        })?;
        body(env, &mut value, argv.map(Val))
    });
    result.map_or(ptr::null_mut(), |v| v.0)
}

/// The `RefCell<T>` wrapped by `this`, after checking `this` is a `T`.
fn unwrap<'a, T: Class>(env: Env, this: Val, name: &str) -> R<&'a RefCell<T>> {
    let mut is_t = false;
    // SAFETY: `this` is a value of this call; `T::TAG` lives for the program.
    let status = unsafe { sys::napi_check_object_type_tag(env.raw(), this.0, &T::TAG, &mut is_t) };
    if status != sys::Status::napi_ok || !is_t {
        return Err(Fail::Type(format!(
            "{name}: this must be a {}, got another value",
            T::NAME.to_string_lossy()
        )));
    }
    let mut data: *mut c_void = ptr::null_mut();
    // SAFETY: `this` carries `T::TAG`, which only `construct::<T>` sets, right after wrapping
    // a `Box<RefCell<T>>` into it; a wrap is never removed from such an object.
    let status = unsafe { sys::napi_unwrap(env.raw(), this.0, &mut data) };
    if status != sys::Status::napi_ok || data.is_null() {
        return Err(Fail::Error(format!(
            "{name}: the object has no native value"
        )));
    }
    // SAFETY: `data` is the `Box<RefCell<T>>` leaked by `instance::<T>`; it stays allocated
    // until the object is collected, which cannot happen while a method runs on it.
    Ok(unsafe { &*data.cast::<RefCell<T>>() })
}

/// Defines a function trampoline: `function!(name, N, body)`.
macro_rules! function {
    ($cb:ident, $n:literal, $body:path) => {
        // The trampoline is glue's unsafe code, wherever the macro is used: it only forwards
        // N-API's own arguments to `call`.
        #[allow(unsafe_code)]
        unsafe extern "C" fn $cb(
            env: napi::sys::napi_env,
            info: napi::sys::napi_callback_info,
        ) -> napi::sys::napi_value {
            // SAFETY: N-API calls this callback with the `env` and `info` of the call, which
            // is `call`'s whole contract.
            unsafe { $crate::glue::call::<$n>(env, info, $body) }
        }
    };
}

/// Defines a method trampoline: `method!(name, Type, N, "js.name", body)`.
macro_rules! method {
    ($cb:ident, $t:ty, $n:literal, $js:literal, $body:path) => {
        // As in `function!`: it only forwards N-API's own arguments to `call_method`.
        #[allow(unsafe_code)]
        unsafe extern "C" fn $cb(
            env: napi::sys::napi_env,
            info: napi::sys::napi_callback_info,
        ) -> napi::sys::napi_value {
            // SAFETY: N-API calls this callback with the `env` and `info` of the call, which
            // is `call_method`'s whole contract.
            unsafe { $crate::glue::call_method::<$t, $n>(env, info, $js, $body) }
        }
    };
}

pub(crate) use {function, method};

// ------------------------------------------------------------------------------------------
// Construction

thread_local! {
    /// The value `instance` hands to the constructor it is calling: (slot, `Box<RefCell<T>>`).
    static PENDING: Cell<(usize, *mut c_void)> = const { Cell::new((usize::MAX, ptr::null_mut())) };
}

/// The constructor callback of class `T`: wraps the value `instance` left in [`PENDING`].
unsafe extern "C" fn construct<T: Class>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let mut argc = 0;
    let mut this = ptr::null_mut();
    // SAFETY: N-API passed `env` and `info` to this constructor call; `argc` 0 with a null
    // `argv` reads no arguments, and `this` is a valid out-pointer.
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            ptr::null_mut(),
            &mut this,
            ptr::null_mut(),
        )
    };
    let env = Env::from(env);
    let result = run(env, || {
        let (slot, data) = PENDING.with(|p| p.replace((usize::MAX, ptr::null_mut())));
        if status != sys::Status::napi_ok || slot != T::SLOT || data.is_null() {
            return Err(Fail::Type(format!(
                "{} cannot be constructed: use the factory function",
                T::NAME.to_string_lossy()
            )));
        }
        // SAFETY: `this` is the new object; `data` is a `Box<RefCell<T>>` (its slot says so)
        // whose ownership passes to the wrap, freed by `finalize_wrapped::<T>`.
        let status = unsafe {
            sys::napi_wrap(
                env.raw(),
                this,
                data,
                Some(finalize_wrapped::<T>),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if status != sys::Status::napi_ok {
            // SAFETY: the wrap failed, so the box is still ours.
            drop(unsafe { Box::from_raw(data.cast::<RefCell<T>>()) });
            return Err(Fail::Error("ultra-node: napi_wrap failed".to_owned()));
        }
        // SAFETY: `this` is an object of this call; the tag lives for the program. Should
        // tagging fail, methods refuse the object (the wrap still frees the value).
        unsafe { sys::napi_type_tag_object(env.raw(), this, &T::TAG) };
        Ok(Val(this))
    });
    result.map_or(ptr::null_mut(), |v| v.0)
}

/// Frees the value of a collected instance.
unsafe extern "C" fn finalize_wrapped<T: Class>(
    env: sys::napi_env,
    data: *mut c_void,
    _hint: *mut c_void,
) {
    // SAFETY: `data` is the `Box<RefCell<T>>` wrapped by `construct::<T>`; N-API calls a
    // wrap's finalizer once.
    let value = unsafe { Box::from_raw(data.cast::<RefCell<T>>()) };
    let env = Env::from(env);
    // Never unwind into Node.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        value.into_inner().finalize(env);
    }));
}

/// Per-env data: a strong reference to each class's constructor.
struct EnvData {
    constructors: [sys::napi_ref; CLASSES],
}

/// Frees the per-env data at env teardown.
unsafe extern "C" fn finalize_env_data(env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the `Box<EnvData>` given to `napi_set_instance_data` in `init`.
    let data = unsafe { Box::from_raw(data.cast::<EnvData>()) };
    for r in data.constructors {
        if !r.is_null() {
            // SAFETY: `r` is a reference of this env, deleted once here.
            let _ = unsafe { sys::napi_delete_reference(env, r) };
        }
    }
}

fn env_data(env: Env) -> R<&'static EnvData> {
    let mut data: *mut c_void = ptr::null_mut();
    // SAFETY: the out-pointer is valid.
    let status = unsafe { sys::napi_get_instance_data(env.raw(), &mut data) };
    if status != sys::Status::napi_ok || data.is_null() {
        return Err(Fail::Error(
            "ultra-node: the addon was not initialised in this thread".to_owned(),
        ));
    }
    // SAFETY: `init` set a `Box<EnvData>` that lives until the env is torn down, after which
    // no call of it runs.
    Ok(unsafe { &*data.cast::<EnvData>() })
}

/// A new JS instance of class `T` wrapping `value`.
pub fn instance<T: Class>(env: Env, value: T) -> R<Val> {
    let constructor = env_data(env)?.constructors[T::SLOT];
    let mut ctor = ptr::null_mut();
    // SAFETY: `constructor` is a live strong reference of this env.
    let status = unsafe { sys::napi_get_reference_value(env.raw(), constructor, &mut ctor) };
    if status != sys::Status::napi_ok || ctor.is_null() {
        return Err(Fail::Error(
            "ultra-node: class constructor missing".to_owned(),
        ));
    }
    let data = Box::into_raw(Box::new(RefCell::new(value))).cast::<c_void>();
    PENDING.with(|p| p.set((T::SLOT, data)));
    let mut object = ptr::null_mut();
    // SAFETY: `ctor` is a constructor of this env; no arguments are passed.
    let status = unsafe { sys::napi_new_instance(env.raw(), ctor, 0, ptr::null(), &mut object) };
    let (_, left) = PENDING.with(|p| p.replace((usize::MAX, ptr::null_mut())));
    if !left.is_null() {
        // The constructor did not take it.
        // SAFETY: `left` is the box made above, not wrapped.
        drop(unsafe { Box::from_raw(left.cast::<RefCell<T>>()) });
    }
    if status != sys::Status::napi_ok {
        return Err(Fail::Pending);
    }
    Ok(Val(object))
}

// ------------------------------------------------------------------------------------------
// Registration

/// One property of a class prototype: a method or a getter.
pub enum Member {
    /// `name(...)`
    Method(&'static CStr, Callback),
    /// `get name()`
    Getter(&'static CStr, Callback),
}

fn descriptor(member: &Member) -> sys::napi_property_descriptor {
    let (name, method, getter) = match *member {
        Member::Method(name, cb) => (name, Some(cb), None),
        Member::Getter(name, cb) => (name, None, Some(cb)),
    };
    sys::napi_property_descriptor {
        utf8name: name.as_ptr(),
        name: ptr::null_mut(),
        method,
        getter,
        setter: None,
        value: ptr::null_mut(),
        attributes: sys::PropertyAttributes::default,
        data: ptr::null_mut(),
    }
}

/// Defines class `T` with `members` and returns a strong reference to its constructor.
pub fn define_class<T: Class>(env: Env, members: &[Member]) -> R<sys::napi_ref> {
    let descriptors: Vec<_> = members.iter().map(descriptor).collect();
    let mut ctor = ptr::null_mut();
    // SAFETY: the name is NUL-terminated (`usize::MAX` length = up to the NUL); the
    // descriptors point at `'static` names and valid callbacks.
    let status = unsafe {
        sys::napi_define_class(
            env.raw(),
            T::NAME.as_ptr(),
            usize::MAX as isize,
            Some(construct::<T>),
            ptr::null_mut(),
            descriptors.len(),
            descriptors.as_ptr(),
            &mut ctor,
        )
    };
    if status != sys::Status::napi_ok {
        return Err(Fail::Error(format!(
            "ultra-node: cannot define class {}",
            T::NAME.to_string_lossy()
        )));
    }
    let mut r = ptr::null_mut();
    // SAFETY: `ctor` is a value of this scope; a count of 1 makes the reference strong.
    let status = unsafe { sys::napi_create_reference(env.raw(), ctor, 1, &mut r) };
    if status != sys::Status::napi_ok {
        return Err(Fail::Error(
            "ultra-node: cannot keep a class constructor".to_owned(),
        ));
    }
    Ok(r)
}

/// Sets up the addon in one env (the main thread, or a worker): defines the classes,
/// stores their constructors as the env's instance data, and exports `functions`.
pub fn init(
    env: Env,
    exports: Val,
    classes: [sys::napi_ref; CLASSES],
    functions: &[(&'static CStr, Callback)],
) -> R<()> {
    let data = Box::into_raw(Box::new(EnvData {
        constructors: classes,
    }));
    // SAFETY: `data` is a fresh box whose ownership passes to the env (freed by
    // `finalize_env_data` at teardown).
    let status = unsafe {
        sys::napi_set_instance_data(
            env.raw(),
            data.cast(),
            Some(finalize_env_data),
            ptr::null_mut(),
        )
    };
    if status != sys::Status::napi_ok {
        // SAFETY: not handed over.
        drop(unsafe { Box::from_raw(data) });
        return Err(Fail::Error(
            "ultra-node: cannot set instance data".to_owned(),
        ));
    }
    for &(name, cb) in functions {
        let mut f = ptr::null_mut();
        // SAFETY: `name` is NUL-terminated; `cb` is a valid callback.
        let status = unsafe {
            sys::napi_create_function(
                env.raw(),
                name.as_ptr(),
                usize::MAX as isize,
                Some(cb),
                ptr::null_mut(),
                &mut f,
            )
        };
        if status != sys::Status::napi_ok {
            return Err(Fail::Error(format!(
                "ultra-node: cannot create {}",
                name.to_string_lossy()
            )));
        }
        raw::set(env, exports, name, Val(f))?;
    }
    Ok(())
}
