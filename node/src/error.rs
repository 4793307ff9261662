//! How failures cross into JS: every `#[napi]` entry point runs its body through [`run`],
//! which catches panics and throws the JS error a [`Fail`] names.
//!
//! Argument errors use the message format of `lib/validate.js`,
//! `<function>: <parameter> must be <rule>, got <value>`, so that the addon called directly
//! fails in the same words as the checked API in front of it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::{Env, Status};

use crate::raw::{self, ErrorClass, Kind, Val};

/// Result of the addon's own functions.
pub type R<T> = std::result::Result<T, Fail>;

/// A failure to report to JS.
#[derive(Debug)]
pub enum Fail {
    /// An exception is already pending (thrown by JS code the addon called, or by N-API).
    Pending,
    /// A `TypeError` with this message.
    Type(String),
    /// A `RangeError` with this message.
    Range(String),
    /// A `SyntaxError` of a rejected JSON input, with the byte offset of the fault (`null`
    /// when it has none) and its kind, set as the error's `offset` and `kind` properties.
    Syntax {
        /// The message.
        message: String,
        /// The byte offset of the fault.
        offset: Option<usize>,
        /// The kind of fault (`ultra_core::json::JsonErrorKind::name`).
        kind: &'static str,
    },
    /// A plain `Error` with this message.
    Error(String),
}

/// Runs the body of a `#[napi]` function: a panic becomes a JS `Error` (it must never unwind
/// into Node, which would abort the process) and a [`Fail`] becomes the JS error it names.
pub fn run<T>(env: Env, body: impl FnOnce() -> R<T>) -> napi::Result<T> {
    let fail = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(fail)) => fail,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            // A payload whose Drop panics would unwind out of here: leak it instead.
            std::mem::forget(payload);
            Fail::Error(format!(
                "ultra-node: internal error (a bug, please report it): {what}"
            ))
        }
    };
    throw(env, fail);
    Err(napi::Error::from_status(Status::PendingException))
}

/// Throws the error `fail` names, unless an exception is already pending.
fn throw(env: Env, fail: Fail) {
    if raw::exception_pending(env) {
        return;
    }
    let (class, message, json) = match fail {
        Fail::Pending => (
            ErrorClass::Error,
            "ultra-node: an N-API call failed without an exception".to_owned(),
            None,
        ),
        Fail::Type(m) => (ErrorClass::Type, m, None),
        Fail::Range(m) => (ErrorClass::Range, m, None),
        Fail::Syntax {
            message,
            offset,
            kind,
        } => (ErrorClass::Syntax, message, Some((offset, kind))),
        Fail::Error(m) => (ErrorClass::Error, m, None),
    };
    let thrown = raw::create_error(env, class, &message).and_then(|error| {
        if let Some((offset, kind)) = json {
            let offset = match offset {
                Some(offset) => raw::num(env, offset as f64)?,
                None => raw::null(env)?,
            };
            raw::set(env, error, c"offset", offset)?;
            raw::set(
                env,
                error,
                c"kind",
                raw::string_latin1(env, kind.as_bytes())?,
            )?;
        }
        raw::throw(env, error)
    });
    // If even creating the error failed, the env is tearing down: nothing can receive it.
    drop(thrown);
}

/// The message of every argument error: `<function>: <param> must be <rule>, got <value>`.
pub fn message(function: &str, param: &str, rule: &str, got: &str) -> String {
    format!("{function}: {param} must be {rule}, got {got}")
}

/// A `TypeError` for argument `param` of `function`, describing the value `v`.
pub fn type_error(env: Env, function: &str, param: &str, rule: &str, v: Val) -> Fail {
    match describe(env, v) {
        Ok(got) => Fail::Type(message(function, param, rule, &got)),
        Err(fail) => fail,
    }
}

/// A `RangeError` for argument `param` of `function`, describing the value `v`.
pub fn range_error(env: Env, function: &str, param: &str, rule: &str, v: Val) -> Fail {
    match describe(env, v) {
        Ok(got) => Fail::Range(message(function, param, rule, &got)),
        Err(fail) => fail,
    }
}

/// Checks an integer argument in `[min, max]`: a TypeError unless it is a number, a
/// RangeError unless it is an integer in range (the rule of `validate.integer`). Allocates
/// only to report a failure.
pub fn integer(env: Env, function: &str, param: &str, v: Val, min: f64, max: f64) -> R<f64> {
    let rule = || format!("an integer in [{min}, {max}]");
    match raw::number(env, v)? {
        None => Err(type_error(env, function, param, &rule(), v)),
        Some(n) if n.fract() == 0.0 && n >= min && n <= max => Ok(n),
        Some(_) => Err(range_error(env, function, param, &rule(), v)),
    }
}

/// Checks a string argument that must be one of `allowed` (`allowed[0]` when `undefined`), as
/// `validate.oneOf`. Allocates only to report a failure.
pub fn one_of(
    env: Env,
    function: &str,
    param: &str,
    v: Val,
    allowed: &[&'static str],
) -> R<&'static str> {
    let rule = || {
        let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
        format!("one of {}", quoted.join(", "))
    };
    match raw::kind(env, v)? {
        Kind::Undefined => Ok(allowed[0]),
        Kind::String => {
            let found = raw::with_utf8(env, v, |s| Ok(allowed.iter().find(|a| a.as_bytes() == s)))?;
            found
                .copied()
                .ok_or_else(|| range_error(env, function, param, &rule(), v))
        }
        _ => Err(type_error(env, function, param, &rule(), v)),
    }
}

/// Describes a value for an error message without calling user code, as `describe` of
/// `lib/validate.js` does (Buffers are described as Uint8Arrays: N-API cannot tell them
/// apart without running JS).
pub fn describe(env: Env, v: Val) -> R<String> {
    Ok(match raw::kind(env, v)? {
        Kind::String => describe_string(&raw::utf16(env, v)?),
        Kind::Number => {
            let n = raw::number(env, v)?.unwrap_or(f64::NAN);
            if n == 0.0 && n.is_sign_negative() {
                "-0".to_owned()
            } else {
                raw::primitive_to_string(env, v)?
            }
        }
        Kind::BigInt => format!("{}n", raw::primitive_to_string(env, v)?),
        Kind::Boolean => raw::boolean(env, v)?.unwrap_or_default().to_string(),
        Kind::Undefined => "undefined".to_owned(),
        Kind::Null => "null".to_owned(),
        Kind::Symbol => "a symbol".to_owned(),
        Kind::Function => "a function".to_owned(),
        Kind::External => "an object".to_owned(),
        Kind::Object => {
            if raw::is_array(env, v)? {
                "an array".to_owned()
            } else if let Some(ta) = raw::typed_array(env, v)? {
                format!(
                    "a {} of {} bytes",
                    typed_array_name(ta.ty),
                    ta.len * ta.element_bytes()
                )
            } else if raw::is_dataview(env, v)? {
                "a DataView".to_owned()
            } else {
                "an object".to_owned()
            }
        }
    })
}

fn typed_array_name(ty: napi::sys::napi_typedarray_type) -> &'static str {
    use napi::sys::TypedarrayType as T;
    match ty {
        T::int8_array => "Int8Array",
        T::uint8_array => "Uint8Array",
        T::uint8_clamped_array => "Uint8ClampedArray",
        T::int16_array => "Int16Array",
        T::uint16_array => "Uint16Array",
        T::int32_array => "Int32Array",
        T::uint32_array => "Uint32Array",
        T::float32_array => "Float32Array",
        T::float64_array => "Float64Array",
        T::bigint64_array => "BigInt64Array",
        T::biguint64_array => "BigUint64Array",
        _ => "TypedArray",
    }
}

/// `JSON.stringify(s)`, or of its first 40 UTF-16 units followed by `...` when longer, as
/// `describe` of `lib/validate.js` writes a string.
pub fn describe_string(units: &[u16]) -> String {
    const MAX: usize = 40;
    let cut = units.len() > MAX;
    let head = units.get(..MAX.min(units.len())).unwrap_or(units);
    let mut out = json_quote(head);
    if cut {
        out.push_str("...");
    }
    out
}

/// `JSON.stringify` of a string given as UTF-16 units (lone surrogates as `\udXXX`).
pub fn json_quote(units: &[u16]) -> String {
    let mut out = String::with_capacity(units.len() + 2);
    out.push('"');
    for c in char::decode_utf16(units.iter().copied()) {
        match c {
            Ok('"') => out.push_str("\\\""),
            Ok('\\') => out.push_str("\\\\"),
            Ok('\u{8}') => out.push_str("\\b"),
            Ok('\u{c}') => out.push_str("\\f"),
            Ok('\n') => out.push_str("\\n"),
            Ok('\r') => out.push_str("\\r"),
            Ok('\t') => out.push_str("\\t"),
            Ok(c) if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            Ok(c) => out.push(c),
            Err(e) => out.push_str(&format!("\\u{:04x}", e.unpaired_surrogate())),
        }
    }
    out.push('"');
    out
}
