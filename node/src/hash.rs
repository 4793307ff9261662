//! BLAKE3 and XXH3 for JS, on `ultra_core::hash`.
//!
//! The one-shot functions read Buffers and Uint8Arrays in place and strings through a stack
//! buffer, hash, and write the digest straight into the JS result (a string from a stack
//! buffer, a bigint, or a Buffer the digest is computed into): a call on a small input
//! allocates nothing on the Rust side, and hex is only formatted when asked for (it is the
//! default output, as in the JS API).

use napi::{sys, Env};
use ultra_alloc::{scope, Subsystem};
use ultra_core::hash::{self, Blake3Mode, Xxh3Bits, BLAKE3_KEY_LEN, BLAKE3_OUT_LEN};

use crate::error::{integer, one_of, range_error, type_error, Fail, R};
use crate::glue::{self, Class, Member};
use crate::raw::{self, Kind, Val};

/// Largest BLAKE3 output the API hands out (one place: `ultra_alloc::config`, which
/// `lib/validate.js` reads through `config-table.json`).
const MAX_BLAKE3_LENGTH: usize = ultra_alloc::config::MAX_BLAKE3_LENGTH as usize;

/// Runs `f` on the bytes of `data` (a string, Buffer or Uint8Array), or fails with the
/// TypeError of `function`.
pub fn with_input<T>(
    env: Env,
    function: &str,
    param: &str,
    data: Val,
    f: impl FnOnce(&[u8]) -> R<T>,
) -> R<T> {
    match raw::with_data(env, data, f)? {
        Some(v) => Ok(v),
        None => Err(type_error(function, param)),
    }
}

/// Whether `options` was given (`undefined` is not); anything but an object is a TypeError.
fn given(env: Env, function: &str, options: Val) -> R<bool> {
    match raw::kind(env, options)? {
        Kind::Undefined => Ok(false),
        Kind::Object if !raw::is_array(env, options)? => Ok(true),
        _ => Err(type_error(function, "options")),
    }
}

/// An integer option in `[min, max]`, `default` when undefined.
fn int_option(
    env: Env,
    function: &str,
    param: &str,
    v: Val,
    min: f64,
    max: f64,
    default: f64,
) -> R<f64> {
    if raw::kind(env, v)? == Kind::Undefined {
        return Ok(default);
    }
    integer(env, function, param, v, min, max)
}

// ------------------------------------------------------------------------------------------
// BLAKE3

/// A BLAKE3 mode read from `{ key, context }`, owning the context string.
enum Mode {
    Hash,
    Keyed([u8; BLAKE3_KEY_LEN]),
    DeriveKey(String),
}

impl Mode {
    fn as_core(&self) -> Blake3Mode<'_> {
        match self {
            Mode::Hash => Blake3Mode::Hash,
            Mode::Keyed(key) => Blake3Mode::Keyed(*key),
            Mode::DeriveKey(context) => Blake3Mode::DeriveKey(context),
        }
    }

    /// Reads `options.key` and `options.context` (at most one of them).
    fn read(env: Env, function: &str, options: Val) -> R<Mode> {
        let key = raw::get(env, options, c"key")?;
        let context = raw::get(env, options, c"context")?;
        let key_given = raw::kind(env, key)? != Kind::Undefined;
        let context_given = raw::kind(env, context)? != Kind::Undefined;
        if context_given {
            if raw::kind(env, context)? != Kind::String {
                return Err(type_error(function, "options.context"));
            }
            if key_given {
                return Err(type_error(function, "options.context"));
            }
            let text =
                raw::with_utf8(
                    env,
                    context,
                    |b| Ok(String::from_utf8_lossy(b).into_owned()),
                )?;
            return Ok(Mode::DeriveKey(text));
        }
        if key_given {
            let bytes = match raw::typed_array(env, key)? {
                Some(ta) if ta.is_uint8() => {
                    raw::with_data(env, key, |b| Ok(<[u8; BLAKE3_KEY_LEN]>::try_from(b).ok()))?
                        .flatten()
                }
                _ => return Err(type_error(function, "options.key")),
            };
            return match bytes {
                Some(k) => Ok(Mode::Keyed(k)),
                None => Err(range_error(function, "options.key")),
            };
        }
        Ok(Mode::Hash)
    }
}

/// The 32-byte digest of `mode` over `data` (multi-threaded for large inputs).
fn blake3_32(mode: &Mode, data: &[u8]) -> [u8; BLAKE3_OUT_LEN] {
    match mode {
        Mode::Hash => hash::blake3(data),
        Mode::Keyed(key) => hash::blake3_keyed(key, data),
        Mode::DeriveKey(context) => hash::blake3_derive_key(context, data),
    }
}

/// Writes a BLAKE3 output as JS: lowercase hex or a Buffer.
fn blake3_output(env: Env, length: usize, buffer: bool, fill: impl FnOnce(&mut [u8])) -> R<Val> {
    if buffer {
        return raw::buffer_filled(env, length, fill);
    }
    if length <= 64 {
        let mut digest = [0u8; 64];
        let mut hex = [0u8; 128];
        let digest = digest.get_mut(..length).unwrap_or_default();
        fill(digest);
        let text = hash::hex_into(digest, &mut hex).map_err(internal)?;
        return raw::string_latin1(env, text.as_bytes());
    }
    let (digest, mut hex) = scope(Subsystem::Hash, || {
        let mut digest = vec![0u8; length];
        fill(&mut digest);
        (digest, vec![0u8; 2 * length])
    });
    let text = hash::hex_into(&digest, &mut hex).map_err(internal)?;
    raw::string_latin1(env, text.as_bytes())
}

fn internal(e: impl std::fmt::Display) -> Fail {
    Fail::Error(format!("ultra-node: internal error: {e}"))
}

/// Output options of a BLAKE3 digest: `{ length, encoding }`.
fn blake3_out(env: Env, function: &str, options: Val) -> R<(usize, bool)> {
    let length = raw::get(env, options, c"length")?;
    let length = int_option(
        env,
        function,
        "options.length",
        length,
        1.0,
        MAX_BLAKE3_LENGTH as f64,
        BLAKE3_OUT_LEN as f64,
    )? as usize;
    let encoding = raw::get(env, options, c"encoding")?;
    let encoding = one_of(
        env,
        function,
        "options.encoding",
        encoding,
        &["hex", "buffer"],
    )?;
    Ok((length, encoding == "buffer"))
}

/// `blake3Hash(data, options?)`: BLAKE3 of `data` (a string is hashed as UTF-8), lowercase
/// hex by default; `options` `{ length, key, context, encoding: 'hex' | 'buffer' }`.
pub fn blake3_hash(env: Env, [data, options]: [Val; 2]) -> R<Val> {
    const F: &str = "blake3Hash";
    if !given(env, F, options)? {
        let digest = with_input(env, F, "data", data, |d| Ok(hash::blake3(d)))?;
        let mut hex = [0u8; 2 * BLAKE3_OUT_LEN];
        let text = hash::hex_into(&digest, &mut hex).map_err(internal)?;
        return raw::string_latin1(env, text.as_bytes());
    }
    let mode = Mode::read(env, F, options)?;
    let (length, buffer) = blake3_out(env, F, options)?;
    with_input(env, F, "data", data, |d| {
        blake3_output(env, length, buffer, |out| {
            if out.len() == BLAKE3_OUT_LEN {
                out.copy_from_slice(&blake3_32(&mode, d));
            } else {
                hash::blake3_xof_into(mode.as_core(), d, out);
            }
        })
    })
}

/// A streaming BLAKE3 hasher (the engine side of `createBlake3Hasher`): `update(data)`,
/// `digest(options?)`.
pub struct Blake3HasherObject {
    state: Box<hash::Blake3Hasher>,
}

impl Class for Blake3HasherObject {
    const NAME: &'static std::ffi::CStr = c"NativeBlake3Hasher";
    const TAG: sys::napi_type_tag = sys::napi_type_tag {
        lower: 0x756c_7472_615f_6233,
        upper: 0x0001,
    };
    const SLOT: usize = 2;
}

/// `createBlake3Hasher(mode?)`: a streaming hasher; `mode` is `{ key }` (keyed hash),
/// `{ context }` (key derivation) or absent (plain hash).
pub fn create_blake3_hasher(env: Env, [mode]: [Val; 1]) -> R<Val> {
    const F: &str = "createBlake3Hasher";
    let mode = if given(env, F, mode)? {
        Mode::read(env, F, mode)?
    } else {
        Mode::Hash
    };
    let state = scope(Subsystem::Hash, || {
        Box::new(hash::Blake3Hasher::with_mode(mode.as_core()))
    });
    glue::instance(env, Blake3HasherObject { state })
}

/// `update(data)`: adds `data` (a string is added as UTF-8).
fn blake3_update(env: Env, this: &mut Blake3HasherObject, [data]: [Val; 1]) -> R<Val> {
    with_input(env, "blake3Hasher.update", "data", data, |d| {
        this.state.update(d);
        Ok(())
    })?;
    raw::undefined(env)
}

/// `digest(options?)`: the digest of everything added so far, 32 bytes as hex by default;
/// `options` `{ length, encoding: 'hex' | 'buffer' }`. The hasher stays usable.
fn blake3_digest(env: Env, this: &mut Blake3HasherObject, [options]: [Val; 1]) -> R<Val> {
    const F: &str = "blake3Hasher.digest";
    let (length, buffer) = if given(env, F, options)? {
        blake3_out(env, F, options)?
    } else {
        (BLAKE3_OUT_LEN, false)
    };
    blake3_output(env, length, buffer, |out| this.state.finalize_xof_into(out))
}

glue::method!(
    blake3_update_cb,
    Blake3HasherObject,
    1,
    "blake3Hasher.update",
    blake3_update
);
glue::method!(
    blake3_digest_cb,
    Blake3HasherObject,
    1,
    "blake3Hasher.digest",
    blake3_digest
);

/// The members of `NativeBlake3Hasher`.
pub const BLAKE3_MEMBERS: &[Member] = &[
    Member::Method(c"update", blake3_update_cb),
    Member::Method(c"digest", blake3_digest_cb),
];

// ------------------------------------------------------------------------------------------
// XXH3

/// An XXH3 output encoding.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Hex,
    BigInt,
    Buffer,
}

fn encoding(env: Env, function: &str, param: &str, v: Val) -> R<Encoding> {
    Ok(
        match one_of(env, function, param, v, &["hex", "bigint", "buffer"])? {
            "bigint" => Encoding::BigInt,
            "buffer" => Encoding::Buffer,
            _ => Encoding::Hex,
        },
    )
}

/// Reads `{ bits, seed }`.
fn xxh3_mode(env: Env, function: &str, options: Val) -> R<(Xxh3Bits, u64)> {
    let bits_v = raw::get(env, options, c"bits")?;
    let bits = match raw::kind(env, bits_v)? {
        Kind::Undefined => Xxh3Bits::Bits64,
        Kind::Number => match raw::number(env, bits_v)? {
            Some(64.0) => Xxh3Bits::Bits64,
            Some(128.0) => Xxh3Bits::Bits128,
            _ => return Err(range_error(function, "options.bits")),
        },
        _ => return Err(type_error(function, "options.bits")),
    };
    let seed_v = raw::get(env, options, c"seed")?;
    let seed = match raw::kind(env, seed_v)? {
        Kind::Undefined => 0,
        Kind::BigInt => match raw::read_bigint_u128(env, seed_v)? {
            Some((false, v)) if v <= u128::from(u64::MAX) => v as u64,
            Some((true, 0)) => 0,
            _ => return Err(range_error(function, "options.seed")),
        },
        Kind::Number => match raw::number(env, seed_v)? {
            Some(n) if n.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&n) => n as u64,
            _ => return Err(range_error(function, "options.seed")),
        },
        _ => return Err(type_error(function, "options.seed")),
    };
    Ok((bits, seed))
}

/// Writes an XXH3 digest (`value`, of `bits` width) as JS.
fn xxh3_output(env: Env, bits: Xxh3Bits, value: u128, encoding: Encoding) -> R<Val> {
    let bytes = value.to_be_bytes();
    let digest = match bits {
        Xxh3Bits::Bits64 => bytes.get(8..).unwrap_or(&bytes),
        Xxh3Bits::Bits128 => &bytes[..],
    };
    match encoding {
        Encoding::Hex => {
            let mut hex = [0u8; 32];
            let text = hash::hex_into(digest, &mut hex).map_err(internal)?;
            raw::string_latin1(env, text.as_bytes())
        }
        Encoding::BigInt => raw::bigint_u128(env, value),
        Encoding::Buffer => raw::buffer_copy(env, digest),
    }
}

/// `xxh3Hash(data, options?)`: XXH3 of `data` (a string is hashed as UTF-8), 64-bit lowercase
/// hex by default; `options` `{ bits: 64 | 128, seed, encoding: 'hex' | 'bigint' | 'buffer' }`.
pub fn xxh3_hash(env: Env, [data, options]: [Val; 2]) -> R<Val> {
    const F: &str = "xxh3Hash";
    if !given(env, F, options)? {
        let value = with_input(env, F, "data", data, |d| Ok(hash::xxh3_64(d)))?;
        let mut hex = [0u8; 16];
        let text = hash::hex_into(&value.to_be_bytes(), &mut hex).map_err(internal)?;
        return raw::string_latin1(env, text.as_bytes());
    }
    let (bits, seed) = xxh3_mode(env, F, options)?;
    let enc_v = raw::get(env, options, c"encoding")?;
    let enc = encoding(env, F, "options.encoding", enc_v)?;
    let value = with_input(env, F, "data", data, |d| {
        Ok(match bits {
            Xxh3Bits::Bits64 => u128::from(hash::xxh3_64_with_seed(d, seed)),
            Xxh3Bits::Bits128 => hash::xxh3_128_with_seed(d, seed),
        })
    })?;
    xxh3_output(env, bits, value, enc)
}

/// `xxh3Hash64(data, encoding)`: the JS wrapper's fast path of `xxh3Hash` for the default mode
/// (64 bits, seed 0) with only an encoding given, positionally: `0` hex, `1` bigint, `2`
/// buffer. No options object crosses, so no property is read.
pub fn xxh3_hash64(env: Env, [data, encoding_v]: [Val; 2]) -> R<Val> {
    const F: &str = "xxh3Hash";
    let enc = match raw::number(env, encoding_v)? {
        Some(0.0) => Encoding::Hex,
        Some(1.0) => Encoding::BigInt,
        Some(2.0) => Encoding::Buffer,
        _ => return Err(type_error(F, "options.encoding")),
    };
    let value = with_input(env, F, "data", data, |d| Ok(u128::from(hash::xxh3_64(d))))?;
    xxh3_output(env, Xxh3Bits::Bits64, value, enc)
}

/// A streaming XXH3 hasher (the engine side of `createXxh3Hasher`): `update(data)`,
/// `digest(encoding?)`.
pub struct Xxh3HasherObject {
    state: Box<hash::Xxh3Hasher>,
}

impl Class for Xxh3HasherObject {
    const NAME: &'static std::ffi::CStr = c"NativeXxh3Hasher";
    const TAG: sys::napi_type_tag = sys::napi_type_tag {
        lower: 0x756c_7472_615f_7833,
        upper: 0x0001,
    };
    const SLOT: usize = 3;
}

/// `createXxh3Hasher(mode?)`: a streaming hasher; `mode` is `{ bits: 64 | 128, seed }`
/// (default 64, 0).
pub fn create_xxh3_hasher(env: Env, [mode]: [Val; 1]) -> R<Val> {
    const F: &str = "createXxh3Hasher";
    let (bits, seed) = if given(env, F, mode)? {
        xxh3_mode(env, F, mode)?
    } else {
        (Xxh3Bits::Bits64, 0)
    };
    let state = scope(Subsystem::Hash, || {
        Box::new(hash::Xxh3Hasher::new(bits, seed))
    });
    glue::instance(env, Xxh3HasherObject { state })
}

/// `update(data)`: adds `data` (a string is added as UTF-8).
fn xxh3_update(env: Env, this: &mut Xxh3HasherObject, [data]: [Val; 1]) -> R<Val> {
    with_input(env, "xxh3Hasher.update", "data", data, |d| {
        this.state.update(d);
        Ok(())
    })?;
    raw::undefined(env)
}

/// `digest(encoding?)`: the digest of everything added so far, `'hex'` (default), `'bigint'`
/// or `'buffer'`. The hasher stays usable.
fn xxh3_digest(env: Env, this: &mut Xxh3HasherObject, [encoding_v]: [Val; 1]) -> R<Val> {
    let enc = encoding(env, "xxh3Hasher.digest", "encoding", encoding_v)?;
    let bits = this.state.bits();
    let value = match bits {
        Xxh3Bits::Bits64 => u128::from(this.state.digest_u64()),
        Xxh3Bits::Bits128 => this.state.digest_u128(),
    };
    xxh3_output(env, bits, value, enc)
}

glue::method!(
    xxh3_update_cb,
    Xxh3HasherObject,
    1,
    "xxh3Hasher.update",
    xxh3_update
);
glue::method!(
    xxh3_digest_cb,
    Xxh3HasherObject,
    1,
    "xxh3Hasher.digest",
    xxh3_digest
);

/// The members of `NativeXxh3Hasher`.
pub const XXH3_MEMBERS: &[Member] = &[
    Member::Method(c"update", xxh3_update_cb),
    Member::Method(c"digest", xxh3_digest_cb),
];

glue::function!(blake3_hash_cb, 2, blake3_hash);
glue::function!(create_blake3_hasher_cb, 1, create_blake3_hasher);
glue::function!(xxh3_hash_cb, 2, xxh3_hash);
glue::function!(xxh3_hash64_cb, 2, xxh3_hash64);
glue::function!(create_xxh3_hasher_cb, 1, create_xxh3_hasher);

/// The functions of this module, by JS name.
pub const FUNCTIONS: &[(&std::ffi::CStr, glue::Callback)] = &[
    (c"blake3Hash", blake3_hash_cb),
    (c"createBlake3Hasher", create_blake3_hasher_cb),
    (c"xxh3Hash", xxh3_hash_cb),
    (c"xxh3Hash64", xxh3_hash64_cb),
    (c"createXxh3Hasher", create_xxh3_hasher_cb),
];
