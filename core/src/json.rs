//! JSON validation, parsing, minification and JSON Pointer look-ups on simd-json, credited to
//! [`Subsystem::Json`].
//!
//! ```
//! use ultra_core::json;
//!
//! let doc = br#"{ "user": { "name": "ada", "tags": [ "x", "y" ] }, "a/b": 1 }"#;
//! json::validate(doc)?;
//! assert_eq!(json::minify(doc)?, br#"{"user":{"name":"ada","tags":["x","y"]},"a/b":1}"#);
//! assert_eq!(json::pointer(doc, "/user/tags/1")?, Some(br#""y""#.to_vec()));
//! assert_eq!(json::pointer(doc, "/a~1b")?, Some(b"1".to_vec()));
//! assert_eq!(json::pointer(doc, "/user/age")?, None);
//! let v: serde_json::Value = json::parse(doc)?;
//! assert_eq!(v["user"]["name"], "ada");
//!
//! let err = json::validate(br#"{"a": tru}"#).unwrap_err();
//! assert_eq!(err.offset(), Some(6));
//! assert_eq!(err.to_string(), "invalid literal at byte 6");
//! # Ok::<(), json::JsonError>(())
//! ```
//!
//! # Entry points
//!
//! The free functions use [`JsonLimits::default()`]; [`Json`] carries other limits.
//!
//! - [`validate`]: accept or reject, with the byte offset of the first error.
//! - [`parse`]: a `serde_json::Value`, the tree Rust callers already know (maps are
//!   `serde_json::Map`; a duplicated key keeps its last value, as in serde_json). simd-json's own
//!   value types are not exposed, so the parser can change without breaking callers.
//! - [`minify`]: the document without insignificant whitespace. Everything else, including
//!   escapes and the exact spelling of numbers, is kept byte for byte.
//! - [`pointer()`] / [`pointer_value`]: the sub-document at an RFC 6901 JSON Pointer, as minified
//!   bytes or as a value, or `None` when nothing is there.
//!
//! # How the caller's bytes are kept intact
//!
//! simd-json rewrites its input in place (it unescapes strings there). Every call therefore
//! copies the input into a buffer from the process-wide [`pool()`] with simd-json's padding
//! after it, parses that copy into simd-json's tape, and gives the buffer back when the call
//! ends (inputs over [`POOLED_COPY_MAX_BYTES`] get a one-off buffer instead, so that a few
//! large documents do not leave large idle buffers behind). The caller's slice is only read. Pointer look-ups walk the tape and simd-json's
//! structural index side by side: the tape says which member matches, the index says where its
//! bytes are in the caller's input, which are then minified. No owned tree is built.
//!
//! # Limits
//!
//! [`JsonLimits`] bounds nesting depth (default 1024 levels of arrays and objects) and input
//! size (default 64 MiB). Both are checked before any work that depends on them: size before
//! the copy, depth inside simd-json's iterative parser. Nothing here recurses over the
//! document, so a hostile input cannot overflow the stack. A returned `serde_json::Value` is
//! dropped recursively by serde_json, though: with the default depth that needs well under
//! 1 MiB of stack, but a limit raised far beyond it should come with a bigger stack.
//!
//! # Conformance
//!
//! Every file of JSONTestSuite's `test_parsing` folder is run through [`validate`], [`parse`],
//! [`minify`] and [`pointer()`] (`core/tests/json_suite.rs`): all 95 `y_*` files are accepted
//! and all 188 `n_*` files rejected, by all of them, with the same error. simd-json 0.19
//! gets every `y_*` and `n_*` verdict right on its own; no check had to be added.
//!
//! The `i_*` files are implementation-defined. This is what every entry point does with them
//! (the test reads this table and fails if behaviour and table ever disagree):
//!
//! | file | outcome | error |
//! |---|---|---|
//! | `i_number_double_huge_neg_exp.json` | accepted | |
//! | `i_number_huge_exp.json` | rejected | number out of range |
//! | `i_number_neg_int_huge_exp.json` | rejected | number out of range |
//! | `i_number_pos_double_huge_exp.json` | rejected | number out of range |
//! | `i_number_real_neg_overflow.json` | rejected | number out of range |
//! | `i_number_real_pos_overflow.json` | rejected | number out of range |
//! | `i_number_real_underflow.json` | accepted | |
//! | `i_number_too_big_neg_int.json` | accepted | |
//! | `i_number_too_big_pos_int.json` | accepted | |
//! | `i_number_very_big_negative_int.json` | accepted | |
//! | `i_object_key_lone_2nd_surrogate.json` | rejected | unpaired surrogate in \u escape |
//! | `i_string_1st_surrogate_but_2nd_missing.json` | rejected | unpaired surrogate in \u escape |
//! | `i_string_1st_valid_surrogate_2nd_invalid.json` | rejected | unpaired surrogate in \u escape |
//! | `i_string_UTF-16LE_with_BOM.json` | rejected | invalid utf-8 |
//! | `i_string_UTF-8_invalid_sequence.json` | rejected | invalid utf-8 |
//! | `i_string_UTF8_surrogate_U+D800.json` | rejected | invalid utf-8 |
//! | `i_string_incomplete_surrogate_and_escape_valid.json` | rejected | unpaired surrogate in \u escape |
//! | `i_string_incomplete_surrogate_pair.json` | rejected | unpaired surrogate in \u escape |
//! | `i_string_incomplete_surrogates_escape_valid.json` | rejected | unpaired surrogate in \u escape |
//! | `i_string_invalid_lonely_surrogate.json` | rejected | unpaired surrogate in \u escape |
//! | `i_string_invalid_surrogate.json` | rejected | unpaired surrogate in \u escape |
//! | `i_string_invalid_utf-8.json` | rejected | invalid utf-8 |
//! | `i_string_inverted_surrogates_U+1D11E.json` | rejected | unpaired surrogate in \u escape |
//! | `i_string_iso_latin_1.json` | rejected | invalid utf-8 |
//! | `i_string_lone_second_surrogate.json` | rejected | unpaired surrogate in \u escape |
//! | `i_string_lone_utf8_continuation_byte.json` | rejected | invalid utf-8 |
//! | `i_string_not_in_unicode_range.json` | rejected | invalid utf-8 |
//! | `i_string_overlong_sequence_2_bytes.json` | rejected | invalid utf-8 |
//! | `i_string_overlong_sequence_6_bytes.json` | rejected | invalid utf-8 |
//! | `i_string_overlong_sequence_6_bytes_null.json` | rejected | invalid utf-8 |
//! | `i_string_truncated-utf-8.json` | rejected | invalid utf-8 |
//! | `i_string_utf16BE_no_BOM.json` | rejected | expected a value |
//! | `i_string_utf16LE_no_BOM.json` | rejected | expected a value |
//! | `i_structure_500_nested_arrays.json` | accepted | |
//! | `i_structure_UTF-8_BOM_empty_object.json` | rejected | byte order mark before the document |
//!
//! In words:
//!
//! - Numbers: integers that fit `i64` or `u64` stay integers; other integers and all numbers
//!   with a fraction or exponent become the nearest `f64` (correctly rounded; serde_json's
//!   default parser can be one unit in the last place off on such inputs). Underflow gives 0.
//!   A magnitude beyond `f64` is rejected ("number out of range"), as in serde_json. `-0` is
//!   the float `-0.0`, as in serde_json and JavaScript.
//! - Strings: the input must be valid UTF-8 and `\u` escapes valid UTF-16, so a lone or
//!   inverted surrogate is rejected and every accepted string is a Rust `String`.
//! - A byte order mark, or UTF-16 input, is rejected.
//! - 500 nested arrays are within the default depth of 1024 (serde_json itself stops at 128).

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Number, Value};
use simd_json::{Buffers, ErrorType, Node, StaticNode, Tape, INPUT_PADDING};
use ultra_alloc::{scope, BufferPool, Config, PoolConfig, Subsystem};

/// Default [`JsonLimits::max_depth`]: 1024 levels of nested arrays and objects.
pub const DEFAULT_MAX_DEPTH: usize = 1024;

/// Default [`JsonLimits::max_input_bytes`]: 64 MiB.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 64 << 20;

/// Bounds on what a call accepts. Exceeding one is a [`JsonError`], never a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLimits {
    /// Deepest nesting of arrays and objects accepted: `[[1]]` has depth 2, a scalar depth 0.
    pub max_depth: usize,
    /// Largest input accepted, in bytes. simd-json itself stops at 4 GiB.
    pub max_input_bytes: usize,
}

impl Default for JsonLimits {
    fn default() -> Self {
        JsonLimits::DEFAULT
    }
}

impl JsonLimits {
    /// [`DEFAULT_MAX_DEPTH`] and [`DEFAULT_MAX_INPUT_BYTES`].
    pub const DEFAULT: JsonLimits = JsonLimits {
        max_depth: DEFAULT_MAX_DEPTH,
        max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
    };
}

/// What kind of failure a [`JsonError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// The input is not JSON (RFC 8259).
    Syntax,
    /// The input is not valid UTF-8, or a string escape is not valid UTF-16.
    Utf8,
    /// A number's magnitude does not fit an `f64`.
    NumberOutOfRange,
    /// Nesting deeper than [`JsonLimits::max_depth`].
    TooDeep,
    /// Input longer than [`JsonLimits::max_input_bytes`].
    TooLarge,
    /// A JSON Pointer that does not follow RFC 6901.
    InvalidPointer,
    /// A failure inside the parser that is not the input's fault (a bug: please report it).
    Internal,
}

impl JsonErrorKind {
    /// Lowercase name (`"syntax"`, `"too_deep"`, …), for metrics labels and JS error codes.
    pub const fn name(self) -> &'static str {
        match self {
            JsonErrorKind::Syntax => "syntax",
            JsonErrorKind::Utf8 => "utf8",
            JsonErrorKind::NumberOutOfRange => "number_out_of_range",
            JsonErrorKind::TooDeep => "too_deep",
            JsonErrorKind::TooLarge => "too_large",
            JsonErrorKind::InvalidPointer => "invalid_pointer",
            JsonErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for JsonErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A rejected input or pointer: what went wrong ([`JsonError::kind`]), where in the input
/// ([`JsonError::offset`], in bytes from the start), and a lowercase message saying so.
///
/// `Display` gives `"<message> at byte <offset>"`, or the message alone without an offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", Offset(*offset))]
pub struct JsonError {
    kind: JsonErrorKind,
    offset: Option<usize>,
    message: Cow<'static, str>,
}

struct Offset(Option<usize>);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(offset) => write!(f, " at byte {offset}"),
            None => Ok(()),
        }
    }
}

impl JsonError {
    fn new(
        kind: JsonErrorKind,
        offset: Option<usize>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        JsonError {
            kind,
            offset,
            message: message.into(),
        }
    }

    fn internal(what: &'static str) -> Self {
        JsonError::new(JsonErrorKind::Internal, None, what)
    }

    /// The kind of failure.
    pub fn kind(&self) -> JsonErrorKind {
        self.kind
    }

    /// Byte offset in the input where the problem was found, when there is one (size limits and
    /// pointer errors have none).
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }

    /// The lowercase message, without the offset.
    pub fn message(&self) -> &str {
        &self.message
    }
}

static POOL: OnceLock<BufferPool> = OnceLock::new();
static POOL_CONFIG: OnceLock<PoolConfig> = OnceLock::new();

/// Sizes the process-wide input pool from `config`, the host's effective configuration, unless
/// it was sized already; returns whether it took effect. Nothing is allocated here: the pool
/// is still created at first use. Hosts that resolve their configuration themselves (the Node
/// addon, the exporter binary) call it when they do, so that JSON reads the same
/// `ULTRA_POOL_*` values as everything else.
pub fn configure_pool(config: &Config) -> bool {
    POOL.get().is_none() && POOL_CONFIG.set(PoolConfig::from(config)).is_ok()
}

/// The process-wide pool the input copies come from, created on first use: sized as
/// [`configure_pool`] said, or else by `ULTRA_POOL_*` ([`Config::from_env`]; defaults if the
/// environment does not parse — a library user who wants that error sees it from
/// `Config::from_env` and passes the result to [`configure_pool`]).
pub fn pool() -> &'static BufferPool {
    POOL.get_or_init(|| {
        let config = POOL_CONFIG
            .get()
            .copied()
            .unwrap_or_else(|| PoolConfig::from(&Config::from_env().unwrap_or_default()));
        BufferPool::new(config)
    })
}

/// [`Json::validate`] with default limits.
///
/// # Errors
///
/// A [`JsonError`] for the first problem found.
pub fn validate(input: &[u8]) -> Result<(), JsonError> {
    Json::default().validate(input)
}

/// [`Json::parse`] with default limits.
///
/// # Errors
///
/// A [`JsonError`] for the first problem found.
pub fn parse(input: &[u8]) -> Result<Value, JsonError> {
    Json::default().parse(input)
}

/// [`Json::minify`] with default limits.
///
/// # Errors
///
/// A [`JsonError`] for the first problem found.
pub fn minify(input: &[u8]) -> Result<Vec<u8>, JsonError> {
    Json::default().minify(input)
}

/// [`Json::pointer`] with default limits.
///
/// # Errors
///
/// A [`JsonError`] for an invalid pointer or document.
pub fn pointer(input: &[u8], pointer: &str) -> Result<Option<Vec<u8>>, JsonError> {
    Json::default().pointer(input, pointer)
}

/// [`Json::pointer_value`] with default limits.
///
/// # Errors
///
/// A [`JsonError`] for an invalid pointer or document.
pub fn pointer_value(input: &[u8], pointer: &str) -> Result<Option<Value>, JsonError> {
    Json::default().pointer_value(input, pointer)
}

/// The JSON operations under given [`JsonLimits`].
///
/// ```
/// use ultra_core::json::{Json, JsonErrorKind, JsonLimits};
/// let strict = Json::new(JsonLimits { max_depth: 2, max_input_bytes: 1024 });
/// assert!(strict.validate(b"[[1]]").is_ok());
/// assert_eq!(strict.validate(b"[[[1]]]").unwrap_err().kind(), JsonErrorKind::TooDeep);
/// assert_eq!(strict.validate(&[b' '; 2000]).unwrap_err().kind(), JsonErrorKind::TooLarge);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json {
    limits: JsonLimits,
}

impl Json {
    /// Operations bounded by `limits`.
    pub const fn new(limits: JsonLimits) -> Json {
        Json { limits }
    }

    /// The limits in force.
    pub const fn limits(&self) -> JsonLimits {
        self.limits
    }

    /// Checks that `input` is one JSON document (RFC 8259, UTF-8) within the limits.
    ///
    /// # Errors
    ///
    /// A [`JsonError`] for the first problem found, with its byte offset.
    pub fn validate(&self, input: &[u8]) -> Result<(), JsonError> {
        self.with_tape(input, |_| Ok(()))
    }

    /// Parses `input` into a `serde_json::Value`.
    ///
    /// # Errors
    ///
    /// A [`JsonError`] for the first problem found, with its byte offset.
    pub fn parse(&self, input: &[u8]) -> Result<Value, JsonError> {
        self.with_tape(input, |doc| {
            doc.to_value(At {
                node: 0,
                structural: 0,
            })
        })
    }

    /// `input` without insignificant whitespace; all other bytes are kept as they are.
    ///
    /// # Errors
    ///
    /// A [`JsonError`] if `input` is not valid JSON within the limits.
    pub fn minify(&self, input: &[u8]) -> Result<Vec<u8>, JsonError> {
        self.with_tape(input, |_| Ok(minify_valid(input)))
    }

    /// The minified bytes of the value `pointer` (RFC 6901) designates in `input`, or `None`
    /// when there is no such value.
    ///
    /// `""` is the whole document; otherwise the pointer starts with `/` and its tokens use
    /// `~0` for `~` and `~1` for `/`. On an array a token must be an index without leading
    /// zeros (`-`, `01` or `x` designate nothing). If an object has a key twice, its last
    /// value is taken (as in [`Json::parse`]).
    ///
    /// # Errors
    ///
    /// [`JsonErrorKind::InvalidPointer`] for a malformed pointer (checked first), otherwise
    /// the errors of [`Json::validate`].
    pub fn pointer(&self, input: &[u8], pointer: &str) -> Result<Option<Vec<u8>>, JsonError> {
        let tokens = scope(Subsystem::Json, || parse_pointer(pointer))?;
        self.with_tape(input, |doc| {
            let Some(at) = doc.resolve(&tokens)? else {
                return Ok(None);
            };
            let span = doc.byte_span(at)?;
            let bytes = input
                .get(span)
                .ok_or(JsonError::internal("value outside the input"))?;
            Ok(Some(minify_valid(bytes)))
        })
    }

    /// The value `pointer` designates in `input` as a `serde_json::Value` (only that value is
    /// built), or `None`; see [`Json::pointer`].
    ///
    /// # Errors
    ///
    /// As [`Json::pointer`].
    pub fn pointer_value(&self, input: &[u8], pointer: &str) -> Result<Option<Value>, JsonError> {
        let tokens = scope(Subsystem::Json, || parse_pointer(pointer))?;
        self.with_tape(input, |doc| match doc.resolve(&tokens)? {
            Some(at) => doc.to_value(at).map(Some),
            None => Ok(None),
        })
    }

    /// Copies `input` into a pooled, padded buffer, runs simd-json on it and hands the tape and
    /// structural index to `f`, all inside the `Json` scope.
    fn with_tape<R>(
        &self,
        input: &[u8],
        f: impl FnOnce(&Doc<'_, '_>) -> Result<R, JsonError>,
    ) -> Result<R, JsonError> {
        scope(Subsystem::Json, || {
            if input.len() > self.limits.max_input_bytes {
                return Err(JsonError::new(
                    JsonErrorKind::TooLarge,
                    None,
                    format!(
                        "input of {} bytes exceeds the limit of {} bytes",
                        input.len(),
                        self.limits.max_input_bytes
                    ),
                ));
            }
            let padded_len = input.len().saturating_add(INPUT_PADDING);
            let mut copy = if padded_len <= POOLED_COPY_MAX_BYTES {
                InputCopy::Pooled(pool().acquire(padded_len))
            } else {
                InputCopy::Owned(Vec::with_capacity(padded_len))
            };
            let buf = copy.vec();
            buf.extend_from_slice(input);
            buf.resize(padded_len, b' ');
            // No input copy of simd-json's own: the padded path parses `buf` in place.
            let mut scratch = Scratch::take(self.limits.max_depth);
            let mut tape = std::mem::replace(&mut scratch.tape, Tape(Vec::new())).reset();
            let result = match simd_json::fill_tape_padded(
                buf,
                input.len(),
                &mut scratch.buffers,
                &mut tape,
            ) {
                Err(e) => Err(self.explain(input, &e)),
                Ok(()) => f(&Doc {
                    input,
                    nodes: &tape.0,
                    structurals: scratch.buffers.structural_indexes(),
                }),
            };
            scratch.tape = tape.reset();
            if input.len() <= SCRATCH_KEEP_MAX_INPUT {
                scratch.give_back();
            }
            result
        })
    }

    /// Turns a simd-json error into a [`JsonError`] with a useful offset and message.
    fn explain(&self, input: &[u8], e: &simd_json::Error) -> JsonError {
        let at = e.character().map(|_| e.index().min(input.len()));
        match e.error() {
            ErrorType::DepthLimitExceeded => JsonError::new(
                JsonErrorKind::TooDeep,
                at,
                format!("nesting deeper than {} levels", self.limits.max_depth),
            ),
            ErrorType::InputTooLarge => JsonError::new(
                JsonErrorKind::TooLarge,
                None,
                "input exceeds the parser's limit of 4 GiB",
            ),
            ErrorType::InsufficientPadding | ErrorType::SimdUnsupported | ErrorType::Io(_) => {
                JsonError::internal("parser setup failed")
            }
            other => match locate_error(input, self.limits.max_depth) {
                // Our own scan finds the first problem in byte order, with a precise offset.
                Some(found) => found,
                None => JsonError::new(number_kind(other), at, simd_message(other)),
            },
        }
    }
}

/// Inputs whose padded copy is larger than this (1 MiB) are copied into a one-off buffer that
/// is freed when the call returns, instead of a pooled one: the pool keeps up to
/// `ULTRA_POOL_MAX` idle buffers per size class, and idle copies of a few large documents
/// would hold tens of megabytes for good.
pub const POOLED_COPY_MAX_BYTES: usize = 1 << 20;

/// Parser scratch space (simd-json's buffers and tape) used for inputs of at most this many
/// bytes (16 KiB) is kept for the thread's next call; see [`Scratch`].
const SCRATCH_KEEP_MAX_INPUT: usize = 16 << 10;

/// simd-json's working memory: string buffer, structural index, stack and tape. Allocating it
/// afresh costs about as much as parsing a small document, so each thread keeps the last one
/// it used, provided it only ever served inputs up to [`SCRATCH_KEEP_MAX_INPUT`] (which bounds
/// what a thread holds to a few hundred KiB in the worst case, a few KiB typically). The kept
/// memory stays credited to [`Subsystem::Json`].
struct Scratch {
    max_depth: usize,
    buffers: Buffers,
    tape: Tape<'static>,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Option<Scratch>> = const { std::cell::Cell::new(None) };
}

impl Scratch {
    /// This thread's kept scratch if it suits `max_depth`, or a new one.
    fn take(max_depth: usize) -> Scratch {
        let kept = SCRATCH.try_with(std::cell::Cell::take).ok().flatten();
        match kept {
            Some(scratch) if scratch.max_depth == max_depth => scratch,
            _ => Scratch {
                max_depth,
                // No input-copy buffer: the padded path parses our pooled copy in place.
                buffers: Buffers::with_max_depth(0, max_depth),
                tape: Tape(Vec::new()),
            },
        }
    }

    /// Keeps this scratch for the thread's next call.
    fn give_back(self) {
        // During thread teardown the slot may be gone; the scratch is then simply freed.
        let _ = SCRATCH.try_with(|slot| slot.set(Some(self)));
    }
}

/// The padded copy of the input: pooled for inputs up to [`POOLED_COPY_MAX_BYTES`].
enum InputCopy<'p> {
    Pooled(ultra_alloc::PoolBuf<'p>),
    Owned(Vec<u8>),
}

impl InputCopy<'_> {
    fn vec(&mut self) -> &mut Vec<u8> {
        match self {
            InputCopy::Pooled(buf) => buf,
            InputCopy::Owned(buf) => buf,
        }
    }
}

fn number_kind(e: &ErrorType) -> JsonErrorKind {
    match e {
        ErrorType::InvalidNumber | ErrorType::InvalidExponent => JsonErrorKind::NumberOutOfRange,
        ErrorType::InvalidUtf8 | ErrorType::InvalidUnicodeCodepoint => JsonErrorKind::Utf8,
        _ => JsonErrorKind::Syntax,
    }
}

fn simd_message(e: &ErrorType) -> &'static str {
    match e {
        ErrorType::InvalidNumber | ErrorType::InvalidExponent => "number out of range",
        ErrorType::InvalidUtf8 => "invalid utf-8",
        ErrorType::InvalidUnicodeCodepoint | ErrorType::InvalidUnicodeEscape => {
            "invalid unicode escape"
        }
        ErrorType::InvalidEscape => "invalid escape",
        ErrorType::Eof => "unexpected end of input",
        ErrorType::TrailingData => "trailing characters after the document",
        _ => "invalid json",
    }
}

// ---------------------------------------------------------------------------------------------
// The parsed document: simd-json's tape plus its structural index over the caller's bytes
// ---------------------------------------------------------------------------------------------

/// A value's position: its tape node and its structural character.
#[derive(Debug, Clone, Copy)]
struct At {
    node: usize,
    structural: usize,
}

struct Doc<'t, 'de> {
    /// The caller's bytes (never the parsed copy).
    input: &'t [u8],
    nodes: &'t [Node<'de>],
    /// Byte offsets of every structural character (`{}[]:,`, opening quotes, first bytes of
    /// numbers and literals), in order.
    structurals: &'t [u32],
}

fn bad_tape() -> JsonError {
    JsonError::internal("unexpected parser output")
}

impl Doc<'_, '_> {
    fn byte_at(&self, structural: usize) -> Result<(usize, u8), JsonError> {
        let pos = *self.structurals.get(structural).ok_or_else(bad_tape)? as usize;
        let byte = *self.input.get(pos).ok_or_else(bad_tape)?;
        Ok((pos, byte))
    }

    /// Number of tape nodes of the value at `node`.
    fn node_span(&self, node: usize) -> Result<usize, JsonError> {
        match self.nodes.get(node).ok_or_else(bad_tape)? {
            Node::Object { count, .. } | Node::Array { count, .. } => Ok(count + 1),
            _ => Ok(1),
        }
    }

    /// The structural index just past the value starting at structural `s`.
    fn skip_value(&self, s: usize) -> Result<usize, JsonError> {
        let (_, first) = self.byte_at(s)?;
        if first != b'{' && first != b'[' {
            return Ok(s + 1);
        }
        let mut depth = 0usize;
        for (i, &pos) in self.structurals.iter().enumerate().skip(s) {
            match self.input.get(pos as usize) {
                Some(b'{' | b'[') => depth += 1,
                Some(b'}' | b']') => {
                    depth = depth.checked_sub(1).ok_or_else(bad_tape)?;
                    if depth == 0 {
                        return Ok(i + 1);
                    }
                }
                Some(_) => {}
                None => return Err(bad_tape()),
            }
        }
        Err(bad_tape())
    }

    /// The bytes of the value at `at` in the caller's input (maybe with whitespace after it).
    fn byte_span(&self, at: At) -> Result<std::ops::Range<usize>, JsonError> {
        let (start, first) = self.byte_at(at.structural)?;
        let after = self.skip_value(at.structural)?;
        let end = if first == b'{' || first == b'[' {
            // just past the closing bracket
            self.byte_at(after - 1)?.0 + 1
        } else {
            // up to the next structural character (or the end): the token and whitespace
            self.structurals
                .get(after)
                .map_or(self.input.len(), |&next| next as usize)
        };
        Ok(start..end)
    }

    /// Follows `tokens` from the root.
    fn resolve(&self, tokens: &[Cow<'_, str>]) -> Result<Option<At>, JsonError> {
        let mut at = At {
            node: 0,
            structural: 0,
        };
        for token in tokens {
            match *self.nodes.get(at.node).ok_or_else(bad_tape)? {
                Node::Object { len, .. } => {
                    let mut node = at.node + 1;
                    let mut structural = at.structural + 1;
                    let mut found = None;
                    for _ in 0..len {
                        let Some(Node::String(key)) = self.nodes.get(node) else {
                            return Err(bad_tape());
                        };
                        // key, ':', value
                        let value = At {
                            node: node + 1,
                            structural: structural + 2,
                        };
                        if *key == token.as_ref() {
                            found = Some(value); // keep going: the last duplicate wins
                        }
                        node = value.node + self.node_span(value.node)?;
                        // past the value comes ',' or '}'; the next key follows the ','
                        structural = self.skip_value(value.structural)? + 1;
                    }
                    match found {
                        Some(value) => at = value,
                        None => return Ok(None),
                    }
                }
                Node::Array { len, .. } => {
                    let Some(index) = array_index(token).filter(|&i| i < len) else {
                        return Ok(None);
                    };
                    let mut node = at.node + 1;
                    let mut structural = at.structural + 1;
                    for _ in 0..index {
                        node += self.node_span(node)?;
                        structural = self.skip_value(structural)? + 1;
                    }
                    at = At { node, structural };
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(at))
    }

    /// Builds the `serde_json::Value` of the value at `at`, iteratively.
    ///
    /// The structural index is followed alongside the tape (every node but the separators
    /// `,` `:` `]` `}` has one structural character) for the one thing the tape loses: the
    /// sign of `-0`, which serde_json (and JavaScript) keep as the float `-0.0`.
    fn to_value(&self, at: At) -> Result<Value, JsonError> {
        enum Frame {
            Array(Vec<Value>, usize),
            Object(Map<String, Value>, usize, String),
        }
        let mut stack: Vec<Frame> = Vec::new();
        let mut nodes = self.nodes.get(at.node..).ok_or_else(bad_tape)?.iter();
        let mut structural = at.structural;
        // The byte that starts the next node, moving the structural cursor past it.
        let node_start = |structural: &mut usize| -> Result<u8, JsonError> {
            loop {
                let (_, byte) = self.byte_at(*structural)?;
                *structural += 1;
                if !matches!(byte, b',' | b':' | b']' | b'}') {
                    return Ok(byte);
                }
            }
        };
        let next_key = |nodes: &mut std::slice::Iter<'_, Node<'_>>, structural: &mut usize| {
            node_start(structural)?;
            match nodes.next() {
                Some(Node::String(key)) => Ok((*key).to_owned()),
                _ => Err(bad_tape()),
            }
        };
        loop {
            let first = node_start(&mut structural)?;
            let mut value = match *nodes.next().ok_or_else(bad_tape)? {
                Node::Static(StaticNode::I64(0) | StaticNode::U64(0)) if first == b'-' => {
                    Value::Number(Number::from_f64(-0.0).ok_or_else(bad_tape)?)
                }
                Node::Static(s) => static_value(s)?,
                Node::String(s) => Value::String(s.to_owned()),
                Node::Array { len: 0, .. } => Value::Array(Vec::new()),
                Node::Object { len: 0, .. } => Value::Object(Map::new()),
                Node::Array { len, .. } => {
                    stack.push(Frame::Array(Vec::with_capacity(len), len));
                    continue;
                }
                Node::Object { len, .. } => {
                    let key = next_key(&mut nodes, &mut structural)?;
                    stack.push(Frame::Object(Map::new(), len, key));
                    continue;
                }
            };
            // Attach the finished value to its parent; close every parent it completes.
            loop {
                match stack.last_mut() {
                    None => return Ok(value),
                    Some(Frame::Array(items, left)) => {
                        items.push(value);
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        let Some(Frame::Array(items, _)) = stack.pop() else {
                            return Err(bad_tape());
                        };
                        value = Value::Array(items);
                    }
                    Some(Frame::Object(map, left, key)) => {
                        map.insert(std::mem::take(key), value);
                        *left -= 1;
                        if *left > 0 {
                            *key = next_key(&mut nodes, &mut structural)?;
                            break;
                        }
                        let Some(Frame::Object(map, _, _)) = stack.pop() else {
                            return Err(bad_tape());
                        };
                        value = Value::Object(map);
                    }
                }
            }
        }
    }
}

fn static_value(node: StaticNode) -> Result<Value, JsonError> {
    use simd_json::prelude::ValueAsScalar;
    Ok(match node {
        StaticNode::Null => Value::Null,
        StaticNode::Bool(b) => Value::Bool(b),
        StaticNode::I64(i) => Value::Number(i.into()),
        StaticNode::U64(u) => Value::Number(u.into()),
        other => {
            let f = other.cast_f64().ok_or_else(bad_tape)?;
            Value::Number(Number::from_f64(f).ok_or_else(|| {
                JsonError::new(JsonErrorKind::NumberOutOfRange, None, "number out of range")
            })?)
        }
    })
}

/// Minifies bytes already known to be valid JSON: drops whitespace outside strings.
fn minify_valid(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => {
                    in_string = true;
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON Pointer (RFC 6901)
// ---------------------------------------------------------------------------------------------

fn parse_pointer(pointer: &str) -> Result<Vec<Cow<'_, str>>, JsonError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(JsonError::new(
            JsonErrorKind::InvalidPointer,
            None,
            "a json pointer must be empty or start with '/'",
        ));
    };
    rest.split('/')
        .map(|token| {
            if !token.contains('~') {
                return Ok(Cow::Borrowed(token));
            }
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => out.push('~'),
                    Some('1') => out.push('/'),
                    _ => {
                        return Err(JsonError::new(
                            JsonErrorKind::InvalidPointer,
                            None,
                            format!(
                                "invalid escape in json pointer token {token:?}: '~' must be \
                                 followed by '0' or '1'"
                            ),
                        ))
                    }
                }
            }
            Ok(Cow::Owned(out))
        })
        .collect()
}

/// An RFC 6901 array index: `0`, or digits without a leading zero.
fn array_index(token: &str) -> Option<usize> {
    let bytes = token.as_bytes();
    let valid = match bytes {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if valid {
        token.parse().ok()
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Error location: a plain iterative RFC 8259 scan, run only once simd-json has said no
// ---------------------------------------------------------------------------------------------

fn syntax(offset: usize, message: &'static str) -> JsonError {
    JsonError::new(JsonErrorKind::Syntax, Some(offset), message)
}

/// The first error in `input` in byte order, or `None` if this scan finds it valid.
fn locate_error(input: &[u8], max_depth: usize) -> Option<JsonError> {
    if input.starts_with(b"\xef\xbb\xbf") {
        return Some(syntax(0, "byte order mark before the document"));
    }
    if let Err(e) = std::str::from_utf8(input) {
        // Grammar errors before the bad byte come first.
        let head = input.get(..e.valid_up_to()).unwrap_or_default();
        return match scan(head, max_depth, true) {
            Err(found) => Some(found),
            Ok(()) => Some(JsonError::new(
                JsonErrorKind::Utf8,
                Some(e.valid_up_to()),
                "invalid utf-8",
            )),
        };
    }
    scan(input, max_depth, false).err()
}

/// Scans `input`; with `truncated`, running out of input is not an error.
fn scan(input: &[u8], max_depth: usize, truncated: bool) -> Result<(), JsonError> {
    #[derive(Clone, Copy)]
    enum Want {
        Value,
        /// A value or `]` (just after `[`).
        ValueOrClose,
        /// A key or `}` (just after `{`).
        KeyOrClose,
        Key,
        /// `,` or the close of the innermost container, or the end of input at the top.
        AfterValue,
    }
    let eof = |at: usize| -> Result<(), JsonError> {
        if truncated {
            Ok(())
        } else {
            Err(syntax(at, "unexpected end of input"))
        }
    };
    let mut stack: Vec<u8> = Vec::new();
    let mut want = Want::Value;
    let mut pos = 0usize;
    loop {
        pos = skip_ws(input, pos);
        let Some(&c) = input.get(pos) else {
            return match (want, stack.is_empty()) {
                (Want::AfterValue, true) => Ok(()),
                _ => eof(pos),
            };
        };
        want = match want {
            Want::Value | Want::ValueOrClose => match c {
                b']' if matches!(want, Want::ValueOrClose) => {
                    stack.pop();
                    pos += 1;
                    Want::AfterValue
                }
                b'[' | b'{' => {
                    if stack.len() >= max_depth {
                        return Err(JsonError::new(
                            JsonErrorKind::TooDeep,
                            Some(pos),
                            format!("nesting deeper than {max_depth} levels"),
                        ));
                    }
                    stack.push(c);
                    pos += 1;
                    if c == b'[' {
                        Want::ValueOrClose
                    } else {
                        Want::KeyOrClose
                    }
                }
                b'"' => {
                    match scan_string(input, pos)? {
                        Some(end) => pos = end,
                        None => return eof(input.len()),
                    }
                    Want::AfterValue
                }
                b't' | b'f' | b'n' => {
                    let word: &[u8] = match c {
                        b't' => b"true",
                        b'f' => b"false",
                        _ => b"null",
                    };
                    let have = input.get(pos..).unwrap_or_default();
                    let common = have.iter().zip(word).take_while(|(a, b)| a == b).count();
                    if common < word.len() {
                        if truncated && common == have.len() {
                            return Ok(());
                        }
                        return Err(syntax(pos, "invalid literal"));
                    }
                    pos += word.len();
                    Want::AfterValue
                }
                b'-' | b'0'..=b'9' => {
                    match scan_number(input, pos)? {
                        Some(end) => pos = end,
                        None => return eof(input.len()),
                    }
                    Want::AfterValue
                }
                _ => return Err(syntax(pos, "expected a value")),
            },
            Want::KeyOrClose | Want::Key => match c {
                b'}' if matches!(want, Want::KeyOrClose) => {
                    stack.pop();
                    pos += 1;
                    Want::AfterValue
                }
                b'"' => {
                    match scan_string(input, pos)? {
                        Some(end) => pos = skip_ws(input, end),
                        None => return eof(input.len()),
                    }
                    match input.get(pos) {
                        Some(b':') => pos += 1,
                        Some(_) => return Err(syntax(pos, "expected ':' after an object key")),
                        None => return eof(pos),
                    }
                    Want::Value
                }
                _ => return Err(syntax(pos, "expected a string key")),
            },
            Want::AfterValue => match (stack.last(), c) {
                (None, _) => return Err(syntax(pos, "trailing characters after the document")),
                (Some(_), b',') => {
                    pos += 1;
                    if stack.last() == Some(&b'{') {
                        Want::Key
                    } else {
                        Want::Value
                    }
                }
                (Some(b'['), b']') | (Some(b'{'), b'}') => {
                    stack.pop();
                    pos += 1;
                    Want::AfterValue
                }
                (Some(b'['), _) => return Err(syntax(pos, "expected ',' or ']'")),
                (Some(_), _) => return Err(syntax(pos, "expected ',' or '}'")),
            },
        };
    }
}

fn skip_ws(input: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = input.get(pos) {
        pos += 1;
    }
    pos
}

/// Scans the string whose opening quote is at `start`; `Ok(None)` if the input ends inside.
fn scan_string(input: &[u8], start: usize) -> Result<Option<usize>, JsonError> {
    let mut pos = start + 1;
    // A high surrogate escape waiting for its low half, and where it started.
    let mut pending_high: Option<usize> = None;
    loop {
        let Some(&b) = input.get(pos) else {
            return Ok(None);
        };
        let is_low_escape = b == b'\\'
            && input.get(pos + 1) == Some(&b'u')
            && hex4(input, pos + 2).is_some_and(|u| (0xDC00..0xE000).contains(&u));
        if let Some(high) = pending_high.take() {
            if !is_low_escape {
                return Err(JsonError::new(
                    JsonErrorKind::Utf8,
                    Some(high),
                    "unpaired surrogate in \\u escape",
                ));
            }
            pos += 6;
            continue;
        }
        match b {
            b'"' => return Ok(Some(pos + 1)),
            0x00..=0x1f => return Err(syntax(pos, "control character in string")),
            b'\\' => match input.get(pos + 1) {
                None => return Ok(None),
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => pos += 2,
                Some(b'u') => {
                    let available = input.len().saturating_sub(pos + 2);
                    let Some(unit) = hex4(input, pos + 2) else {
                        let digits = input.get(pos + 2..).unwrap_or_default();
                        if available < 4 && digits.iter().all(u8::is_ascii_hexdigit) {
                            return Ok(None);
                        }
                        return Err(syntax(pos, "invalid \\u escape"));
                    };
                    match unit {
                        0xD800..=0xDBFF => pending_high = Some(pos),
                        0xDC00..=0xDFFF => {
                            return Err(JsonError::new(
                                JsonErrorKind::Utf8,
                                Some(pos),
                                "unpaired surrogate in \\u escape",
                            ))
                        }
                        _ => {}
                    }
                    pos += 6;
                }
                Some(_) => return Err(syntax(pos, "invalid escape")),
            },
            _ => pos += 1,
        }
    }
}

fn hex4(input: &[u8], at: usize) -> Option<u32> {
    let digits = input.get(at..at.checked_add(4)?)?;
    digits.iter().try_fold(0u32, |acc, &d| {
        let v = char::from(d).to_digit(16)?;
        Some(acc * 16 + v)
    })
}

/// Scans the number starting at `start`; `Ok(None)` if the input ends where more is needed.
fn scan_number(input: &[u8], start: usize) -> Result<Option<usize>, JsonError> {
    let mut pos = start;
    let digits = |pos: &mut usize| {
        let from = *pos;
        while input.get(*pos).is_some_and(u8::is_ascii_digit) {
            *pos += 1;
        }
        *pos - from
    };
    if input.get(pos) == Some(&b'-') {
        pos += 1;
    }
    match input.get(pos) {
        None => return Ok(None),
        Some(b'0') => {
            pos += 1;
            if input.get(pos).is_some_and(u8::is_ascii_digit) {
                return Err(syntax(start, "invalid number: leading zero"));
            }
        }
        Some(b'1'..=b'9') => {
            digits(&mut pos);
        }
        Some(_) => return Err(syntax(start, "invalid number")),
    }
    if input.get(pos) == Some(&b'.') {
        pos += 1;
        if digits(&mut pos) == 0 {
            return match input.get(pos) {
                None => Ok(None),
                Some(_) => Err(syntax(start, "invalid number: digits expected after '.'")),
            };
        }
    }
    if let Some(b'e' | b'E') = input.get(pos) {
        pos += 1;
        if let Some(b'+' | b'-') = input.get(pos) {
            pos += 1;
        }
        if digits(&mut pos) == 0 {
            return match input.get(pos) {
                None => Ok(None),
                Some(_) => Err(syntax(start, "invalid number: digits expected in exponent")),
            };
        }
    }
    Ok(Some(pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error locator must never blame a byte simd-json would accept, nor miss an error
    /// simd-json finds (except numbers out of range, which it leaves to simd-json).
    fn agree(input: &[u8]) {
        let simd = {
            let mut copy = input.to_vec();
            copy.resize(input.len() + INPUT_PADDING, b' ');
            let mut buffers = Buffers::with_max_depth(0, DEFAULT_MAX_DEPTH);
            let mut tape = Tape::null();
            simd_json::fill_tape_padded(&mut copy, input.len(), &mut buffers, &mut tape).is_ok()
        };
        let ours = locate_error(input, DEFAULT_MAX_DEPTH);
        let shown = String::from_utf8_lossy(input);
        match (&ours, simd) {
            (None, true) | (Some(_), false) => {}
            (None, false) => {
                let e = validate(input).expect_err("simd-json rejects it");
                assert_eq!(e.kind(), JsonErrorKind::NumberOutOfRange, "{shown}: {e}");
            }
            (Some(e), true) => panic!("{shown}: locator says {e}, simd-json accepts"),
        }
    }

    #[test]
    fn locator_agrees_with_simd_json_on_the_suite() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/jsontestsuite/test_parsing"
        );
        let entries = std::fs::read_dir(dir).expect("the vendored oracles (testdata/) are present");
        let mut n = 0;
        for entry in entries {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("readable");
            agree(&bytes);
            n += 1;
        }
        assert!(n >= 318);
    }

    #[test]
    fn locator_agrees_with_simd_json_on_json_like_bytes() {
        const ALPHABET: &[u8] = b"{}[],:\"\\ 0123456789-+.eEtrufalsn\nu\x01\xc3\xa9";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..100_000 {
            let len = (next() % 24) as usize;
            let doc: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            agree(&doc);
        }
    }

    #[test]
    fn pointer_tokens() {
        assert_eq!(parse_pointer(""), Ok(vec![]));
        assert_eq!(parse_pointer("/"), Ok(vec![Cow::Borrowed("")]));
        assert_eq!(
            parse_pointer("/a~1b/~0~01/x"),
            Ok(vec![
                Cow::Borrowed("a/b"),
                Cow::Borrowed("~~1"),
                Cow::Borrowed("x")
            ])
        );
        assert!(parse_pointer("x").is_err());
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("10"), Some(10));
        for bad in ["", "-", "01", "+1", "1.0", " 1", "18446744073709551616"] {
            assert_eq!(array_index(bad), None, "{bad}");
        }
    }
}
