//! JSON for JS, on `ultra_core::json`.
//!
//! Validation, pointer look-ups and minification run natively on the bytes (a Buffer in
//! place, a string through its UTF-8 encoding), with `ultra_core::json`'s rules, limits
//! (nesting up to 1024 levels, inputs up to 64 MiB) and error reports: a rejected input is a
//! `SyntaxError` whose message is `<function>: <core's message>`, with the fault's byte
//! `offset` (`null` for an input over the size limit) and its `kind`.
//!
//! Where a JS value must be built — `parseJson` and the value `jsonPointer` finds — the addon
//! validates natively and then lets V8's own `JSON.parse` build the value from the
//! (sub-)document: building objects through N-API is several times slower than `JSON.parse`
//! (the simdjson binding measured 2–5× slower on full parses), and this keeps key order,
//! `__proto__` keys and number conversion exactly those of JavaScript. The native validation
//! runs first, so whatever `ultra_core::json` rejects (a number beyond `f64`, a lone surrogate
//! escape, a byte order mark) is rejected here too.

use napi::Env;
use ultra_core::json::{self, JsonError, JsonErrorKind};

use crate::error::{range_error, Fail, R};
use crate::glue;
use crate::hash::with_input;
use crate::raw::{self, Kind, Val};

/// The `SyntaxError` (or, for a fault of the parser itself, `Error`) for a document
/// `function` could not take.
/// Resolves the effective configuration first, which sizes JSON's input pool from it (see
/// `memory::effective_config`); a no-op after the first call.
fn pool_ready() -> R<()> {
    crate::memory::effective_config(&[]).map(|_| ())
}

fn document_error(function: &str, e: &JsonError) -> Fail {
    if e.kind() == JsonErrorKind::Internal {
        return Fail::Error(format!("{function}: {e}"));
    }
    Fail::Syntax {
        message: format!("{function}: {e}"),
        offset: e.offset(),
        kind: e.kind().name(),
    }
}

/// Validates `data` or fails as `function`.
fn validated(env: Env, function: &str, data: Val) -> R<()> {
    with_input(env, function, "data", data, |d| Ok(json::validate(d)))?
        .map_err(|e| document_error(function, &e))
}

/// `JSON.parse(text)` with V8's parser.
fn js_parse(env: Env, text: Val) -> R<Val> {
    let json = raw::get(env, raw::global(env)?, c"JSON")?;
    let parse = raw::get(env, json, c"parse")?;
    raw::call1(env, parse, text)
}

/// The JS string of `data`: itself if it is one, its UTF-8 decoding if it holds bytes.
fn as_js_string(env: Env, function: &str, data: Val) -> R<Val> {
    if raw::kind(env, data)? == Kind::String {
        return Ok(data);
    }
    with_input(env, function, "data", data, |d| raw::string_utf8(env, d))
}

/// Checks that `data` is one JSON document in UTF-8: `{ valid: true }`, or
/// `{ valid: false, offset, kind, message }` with the byte offset of the first fault (`null`
/// for an input over the size limit). Never throws for invalid JSON.
pub fn validate_json(env: Env, [data]: [Val; 1]) -> R<Val> {
    const F: &str = "validateJson";
    pool_ready()?;
    let result = with_input(env, F, "data", data, |d| Ok(json::validate(d)))?;
    let out = raw::object(env)?;
    match result {
        Ok(()) => raw::set(env, out, c"valid", raw::bool_val(env, true)?)?,
        Err(e) if e.kind() == JsonErrorKind::Internal => return Err(document_error(F, &e)),
        Err(e) => {
            raw::set(env, out, c"valid", raw::bool_val(env, false)?)?;
            let offset = match e.offset() {
                Some(offset) => raw::num(env, offset as f64)?,
                None => raw::null(env)?,
            };
            raw::set(env, out, c"offset", offset)?;
            raw::set(
                env,
                out,
                c"kind",
                raw::string_latin1(env, e.kind().name().as_bytes())?,
            )?;
            raw::set(
                env,
                out,
                c"message",
                raw::string_utf8(env, e.message().as_bytes())?,
            )?;
        }
    }
    Ok(out)
}

/// Parses `data`; throws a SyntaxError with the byte `offset` and `kind` of the fault when
/// invalid.
pub fn parse_json(env: Env, [data]: [Val; 1]) -> R<Val> {
    const F: &str = "parseJson";
    pool_ready()?;
    validated(env, F, data)?;
    js_parse(env, as_js_string(env, F, data)?)
}

/// The value at RFC 6901 `pointer` in `data`, or `undefined` when nothing is there; throws a
/// SyntaxError with the byte `offset` and `kind` when `data` is invalid.
pub fn json_pointer(env: Env, [data, pointer]: [Val; 2]) -> R<Val> {
    const F: &str = "jsonPointer";
    pool_ready()?;
    if raw::kind(env, pointer)? != Kind::String {
        return Err(crate::error::type_error(F, "pointer"));
    }
    let found = raw::with_utf8(env, pointer, |p| {
        let Ok(p) = std::str::from_utf8(p) else {
            return Ok(Err(range_error(F, "pointer")));
        };
        with_input(env, F, "data", data, |d| Ok(Ok(json::pointer(d, p))))
    })??;
    match found {
        Ok(Some(minified)) => js_parse(env, raw::string_utf8(env, &minified)?),
        Ok(None) => raw::undefined(env),
        Err(e) if e.kind() == JsonErrorKind::InvalidPointer => Err(range_error(F, "pointer")),
        Err(e) => Err(document_error(F, &e)),
    }
}

/// `data` without insignificant whitespace, every token kept as written; throws a
/// SyntaxError with the byte `offset` and `kind` when `data` is invalid.
pub fn minify_json(env: Env, [data]: [Val; 1]) -> R<Val> {
    const F: &str = "minifyJson";
    pool_ready()?;
    let minified = with_input(env, F, "data", data, |d| Ok(json::minify(d)))?
        .map_err(|e| document_error(F, &e))?;
    raw::string_utf8(env, &minified)
}

glue::function!(validate_json_cb, 1, validate_json);
glue::function!(parse_json_cb, 1, parse_json);
glue::function!(json_pointer_cb, 2, json_pointer);
glue::function!(minify_json_cb, 1, minify_json);

/// The functions of this module, by JS name.
pub const FUNCTIONS: &[(&std::ffi::CStr, glue::Callback)] = &[
    (c"validateJson", validate_json_cb),
    (c"parseJson", parse_json_cb),
    (c"jsonPointer", json_pointer_cb),
    (c"minifyJson", minify_json_cb),
];
