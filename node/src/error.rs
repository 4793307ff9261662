//! How failures cross into JS: every entry point runs its body through [`run`], which catches
//! panics and throws the JS error a [`Fail`] names.
//!
//! Argument errors are worded once, by the package's `lib/validate.js`, which checks every
//! argument before either engine sees it. The addon's own checks are guards ([`type_error`],
//! [`range_error`]: the function and the parameter, nothing more). A refusal that depends on the
//! engine's state (an arena past its limit, a named cache opened with other bounds) is a
//! [`Fail::Refused`] with a `code` that `lib/` turns into its message.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::Env;

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
    /// A `RangeError` with a `code` property, for a refusal that depends on the engine's state;
    /// `lib/` words it (e.g. `ULTRA_ARENA_LIMIT` → `validate.arenaLimitError`).
    Refused {
        /// The `code` property, e.g. `ULTRA_ARENA_LIMIT`.
        code: &'static str,
        /// The message when the engine is called directly.
        message: String,
    },
    /// A plain `Error` with this message.
    Error(String),
}

/// Runs the body of an entry point (a callback of `glue`, the module registration): a panic
/// becomes a JS `Error` (it must never unwind into Node, which would abort the process) and a
/// [`Fail`] becomes the JS error it names. `None` means an exception is now pending: the
/// callback returns null.
pub fn run<T>(env: Env, body: impl FnOnce() -> R<T>) -> Option<T> {
    let fail = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => return Some(value),
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
    None
}

/// Throws the error `fail` names, unless an exception is already pending.
fn throw(env: Env, fail: Fail) {
    if raw::exception_pending(env) {
        return;
    }
    let mut code = None;
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
        Fail::Refused { code: c, message } => {
            code = Some(c);
            (ErrorClass::Range, message, None)
        }
        Fail::Error(m) => (ErrorClass::Error, m, None),
    };
    let thrown = raw::create_error(env, class, &message).and_then(|error| {
        if let Some(code) = code {
            raw::set(
                env,
                error,
                c"code",
                raw::string_latin1(env, code.as_bytes())?,
            )?;
        }
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

/// What every argument error of the engine says after `<function>: <param>`. The package's
/// `lib/` is the one layer that validates arguments and words their errors (`lib/validate.js`,
/// for both engines): it calls the engine only with arguments it has checked. The checks here
/// are guards, so that a direct call with anything else is an exception naming the function and
/// the parameter, never a crash or a wrong result.
const NOT_CHECKED: &str =
    "is not an argument the engine takes (call it through the ultra-node API, which checks arguments)";

/// A `TypeError` for argument `param` of `function`.
pub fn type_error(function: &str, param: &str) -> Fail {
    Fail::Type(format!("{function}: {param} {NOT_CHECKED}"))
}

/// A `RangeError` for argument `param` of `function`.
pub fn range_error(function: &str, param: &str) -> Fail {
    Fail::Range(format!("{function}: {param} {NOT_CHECKED}"))
}

/// Checks an integer argument in `[min, max]`: a TypeError unless it is a number, a
/// RangeError unless it is an integer in range. Allocates only to report a failure.
pub fn integer(env: Env, function: &str, param: &str, v: Val, min: f64, max: f64) -> R<f64> {
    match raw::number(env, v)? {
        None => Err(type_error(function, param)),
        Some(n) if n.fract() == 0.0 && n >= min && n <= max => Ok(n),
        Some(_) => Err(range_error(function, param)),
    }
}

/// Checks a string argument that must be one of `allowed` (`allowed[0]` when `undefined`).
/// Allocates only to report a failure.
pub fn one_of(
    env: Env,
    function: &str,
    param: &str,
    v: Val,
    allowed: &[&'static str],
) -> R<&'static str> {
    match raw::kind(env, v)? {
        Kind::Undefined => Ok(allowed[0]),
        Kind::String => {
            let found = raw::with_utf8(env, v, |s| Ok(allowed.iter().find(|a| a.as_bytes() == s)))?;
            found.copied().ok_or_else(|| range_error(function, param))
        }
        _ => Err(type_error(function, param)),
    }
}
