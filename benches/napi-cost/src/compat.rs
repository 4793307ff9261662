//! The napi-rs compat-mode variant: `#[js_function(N)]` callbacks reading a `CallContext`,
//! arguments as compat `Js*` handles, registration by `#[module_exports]`, the class wrapped
//! with `Env::wrap`/`Env::unwrap` (deprecated in napi-rs 3, kept for this mode). The class
//! constructor is kept as a napi-rs 3 `FunctionRef`: compat mode's `Ref` no longer takes a
//! function.
#![allow(deprecated)]
// napi-derive's expansion of `#[js_function(0)]` builds a zero-length argument array.
#![allow(clippy::zero_repeat_side_effects)]

use napi::bindgen_prelude::{FromNapiValue, Function, FunctionRef};
use napi::{
    CallContext, Either, Env, JsBuffer, JsNumber, JsObject, JsString, JsValue, Property, Result,
    Unknown,
};
use napi_derive::{js_function, module_exports};

use crate::Store;

#[js_function(0)]
fn noop(_ctx: CallContext<'_>) -> Result<()> {
    Ok(())
}

#[js_function(0)]
fn allocations(ctx: CallContext<'_>) -> Result<JsNumber<'_>> {
    ctx.env.create_double(crate::allocations())
}

#[js_function(1)]
fn xxh3(ctx: CallContext<'_>) -> Result<napi::JsBigInt> {
    let data = ctx.get::<JsBuffer>(0)?.into_value()?;
    ctx.env.create_bigint_from_u64(crate::xxh3(&data))
}

#[js_function(1)]
fn xxh3_number(ctx: CallContext<'_>) -> Result<JsNumber<'_>> {
    let data = ctx.get::<JsBuffer>(0)?.into_value()?;
    ctx.env.create_double(crate::xxh3_number(&data))
}

#[js_function(1)]
fn store_constructor(ctx: CallContext<'_>) -> Result<()> {
    let n = ctx.get::<JsNumber<'_>>(0)?.get_uint32()?;
    let mut this = ctx.this_unchecked::<JsObject>();
    ctx.env.wrap(&mut this, Store::new(n), None)
}

type Constructor = FunctionRef<u32, ()>;

#[js_function(1)]
fn create_store(ctx: CallContext<'_>) -> Result<Unknown<'_>> {
    let n = ctx.get::<u32>(0)?;
    let constructor = ctx
        .env
        .get_instance_data::<Constructor>()?
        .ok_or_else(|| napi::Error::from_reason("not initialised"))?;
    constructor.borrow_back(ctx.env)?.new_instance(n)
}

#[js_function(1)]
fn store_get(ctx: CallContext<'_>) -> Result<Either<JsString<'_>, ()>> {
    let this = ctx.this_unchecked::<JsObject>();
    let store = ctx.env.unwrap::<Store>(&this)?;
    let key = ctx.get::<JsString<'_>>(0)?.into_utf8()?;
    Ok(match store.get(key.as_slice()) {
        Some(v) => Either::A(ctx.env.create_string(String::from_utf8_lossy(v))?),
        None => Either::B(()),
    })
}

#[js_function(1)]
fn store_get_buffer(ctx: CallContext<'_>) -> Result<Either<JsBuffer, ()>> {
    let this = ctx.this_unchecked::<JsObject>();
    let store = ctx.env.unwrap::<Store>(&this)?;
    let key = ctx.get::<JsString<'_>>(0)?.into_utf8()?;
    Ok(match store.get(key.as_slice()) {
        Some(v) => Either::A(ctx.env.create_buffer_copy(v)?.into_raw()),
        None => Either::B(()),
    })
}

#[js_function(0)]
fn store_stats(ctx: CallContext<'_>) -> Result<JsObject> {
    let this = ctx.this_unchecked::<JsObject>();
    let store = ctx.env.unwrap::<Store>(&this)?;
    let [entries, keys, values] = store.stats();
    let mut obj = ctx.env.create_object()?;
    obj.set_named_property("entries", ctx.env.create_double(entries)?)?;
    obj.set_named_property("keyBytes", ctx.env.create_double(keys)?)?;
    obj.set_named_property("valueBytes", ctx.env.create_double(values)?)?;
    Ok(obj)
}

#[module_exports]
fn init(mut exports: JsObject, env: Env) -> Result<()> {
    exports.create_named_method("noop", noop)?;
    exports.create_named_method("allocations", allocations)?;
    exports.create_named_method("xxh3", xxh3)?;
    exports.create_named_method("xxh3Number", xxh3_number)?;
    exports.create_named_method("createStore", create_store)?;
    let class = env.define_class::<u32>(
        "Store",
        store_constructor,
        &[
            Property::new()
                .with_utf8_name("get")?
                .with_method(store_get),
            Property::new()
                .with_utf8_name("getBuffer")?
                .with_method(store_get_buffer),
            Property::new()
                .with_utf8_name("stats")?
                .with_method(store_stats),
        ],
    )?;
    // SAFETY: `class` is the constructor just defined, a function of this env; retyped only
    // so that its reference does not borrow `env` (`new_instance` ignores the return type).
    let class = unsafe { Function::<u32, ()>::from_napi_value(env.raw(), class.raw()) }?;
    let constructor: Constructor = class.create_ref()?;
    env.set_instance_data(constructor, (), |_| {})?;
    Ok(())
}
