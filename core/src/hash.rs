//! BLAKE3 and XXH3 hashing, one-shot and streaming, credited to [`Subsystem::Hash`].
//!
//! | function | output | notes |
//! |---|---|---|
//! | [`blake3()`], [`blake3_keyed`], [`blake3_derive_key`] | `[u8; 32]` | the three BLAKE3 modes |
//! | [`blake3_xof`], [`blake3_xof_into`] | any length | extended output of any [`Blake3Mode`] |
//! | [`Blake3Hasher`] | `[u8; 32]` or any length | streaming, all three modes |
//! | [`xxh3_64`], [`xxh3_64_with_seed`] | `u64` | |
//! | [`xxh3_128`], [`xxh3_128_with_seed`] | `u128` | |
//! | [`Xxh3Hasher`] | [`Digest`] of 8 or 16 bytes | streaming, either width, seeded |
//!
//! ```
//! use ultra_core::hash::{self, Blake3Hasher, Digest, Xxh3Bits, Xxh3Hasher};
//!
//! let d = hash::blake3(b"abc");
//! assert_eq!(
//!     hash::to_hex(&d),
//!     "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
//! );
//!
//! let mut h = Blake3Hasher::new();
//! h.update(b"a").update(b"bc");
//! assert_eq!(h.finalize(), d);
//!
//! let mut x = Xxh3Hasher::new(Xxh3Bits::Bits64, 0);
//! x.update(b"abc");
//! let digest: Digest = x.digest();
//! assert_eq!(digest.to_u64(), Some(hash::xxh3_64(b"abc")));
//! assert_eq!(digest.to_hex(), "78af5f94892f3950"); // canonical big-endian form
//! ```
//!
//! # Outputs
//!
//! BLAKE3 outputs are bytes. XXH3 outputs are integers; their byte form ([`Digest::as_bytes`],
//! [`Digest::to_hex`]) is the canonical big-endian digest that `xxhsum` prints, so the hex of
//! an XXH3-64 value is `format!("{:016x}", value)`. Hex is lowercase; [`hex_into`] and
//! [`Digest::write_hex`] write it into a caller buffer without allocating, [`to_hex`] returns a
//! `String`.
//!
//! # Multi-threaded BLAKE3
//!
//! Inputs of [`BLAKE3_PARALLEL_THRESHOLD`] bytes or more (one-shot functions, and each
//! [`Blake3Hasher::update`] call) are hashed with `blake3`'s `update_rayon` on rayon's global
//! pool, which is started (one thread per core) by the first such call. Smaller inputs stay on
//! the calling thread. [`Blake3Hasher::update_single_threaded`] and
//! [`Blake3Hasher::update_multi_threaded`] force either path; both give identical digests.
//!
//! The threshold was measured on the 2-core development machine (a Firecracker VM on AMD EPYC)
//! with `cargo run --release -p ultra-core --example blake3_threshold`. It times the plain
//! one-shot `blake3::hash` and `Hasher::update_rayon` alternately, in two regimes: back to back
//! ("warm", rayon's workers awake) and each call after 2 ms of sleep ("after idle", workers
//! asleep, as for a service that hashes a large input now and then). Medians of one run during
//! which other processes used at most 2% of the CPU (9% on the last row):
//!
//! | input | single, warm | rayon, warm | speed-up | single, after idle | rayon, after idle | speed-up |
//! |---|---|---|---|---|---|---|
//! | 64 KiB | 6.8 µs | 25.1 µs | 0.27× | 7.3 µs | 49.9 µs | 0.15× |
//! | 128 KiB | 13.3 µs | 36.8 µs | 0.36× | 14.0 µs | 59.2 µs | 0.24× |
//! | 256 KiB | 26.5 µs | 44.6 µs | 0.59× | 27.8 µs | 74.1 µs | 0.37× |
//! | 512 KiB | 52.2 µs | 54.1 µs | 0.96× | 57.1 µs | 107.3 µs | 0.53× |
//! | 1 MiB | 107.0 µs | 100.1 µs | 1.07× | 115.4 µs | 166.4 µs | 0.69× |
//! | 2 MiB | 215.4 µs | 150.0 µs | 1.44× | 243.9 µs | 297.2 µs | 0.82× |
//! | 4 MiB | 432.1 µs | 253.1 µs | 1.71× | 525.2 µs | 571.2 µs | 0.92× |
//! | 8 MiB | 895.7 µs | 485.3 µs | 1.85× | 1.1 ms | 1.1 ms | 0.97× |
//! | 16 MiB | 2.2 ms | 1.3 ms | 1.70× | 2.2 ms | 1.6 ms | 1.43× |
//!
//! Three more runs agreed: after idle, 0.97–1.01× at 8 MiB and 1.34–1.75× at 16 MiB; warm,
//! 0.63–1.27× at 1 MiB and 1.73–1.89× at 8 MiB. On this VM a sleeping rayon worker takes about a
//! millisecond to wake, so a lone call gets no help from the second core below ~8 MiB and pays
//! for the hand-off; the blake3 authors' rule of thumb for x86_64 (128 KiB) is far too low
//! here. The threshold is 8 MiB: the smallest size at which multi-threading does not lose
//! measurably in either regime (−3% to +1% after idle) while warm calls run 1.7–1.9× faster.
//! Callers hashing bursts of large buffers can call [`Blake3Hasher::update_multi_threaded`]
//! themselves from 2 MiB on.
//!
//! # Allocation
//!
//! Hashing itself allocates nothing: the streaming states are plain values (a
//! [`Blake3Hasher`] is 1.9 KiB, an [`Xxh3Hasher`] 640 bytes) that live wherever
//! the caller puts them. The allocating entry points ([`blake3_xof`],
//! [`Blake3Hasher::finalize_xof`], [`to_hex`], [`Digest::to_hex`], and the first
//! multi-threaded call, which starts rayon's pool) run inside
//! [`scope`]`(`[`Subsystem::Hash`]`, ..)`.

use std::fmt;

use ultra_alloc::{scope, Subsystem};

/// Length of a default BLAKE3 digest, in bytes.
pub const BLAKE3_OUT_LEN: usize = 32;

/// Length of a BLAKE3 key, in bytes.
pub const BLAKE3_KEY_LEN: usize = 32;

/// Inputs of at least this many bytes are hashed by BLAKE3 on rayon's pool (measured: see the
/// [module docs](self)).
pub const BLAKE3_PARALLEL_THRESHOLD: usize = 8 << 20;

/// Largest extended output [`blake3_xof`] and [`Blake3Hasher::finalize_xof`] return as a
/// `Vec` (1 GiB). Larger outputs can still be written with [`blake3_xof_into`].
pub const MAX_XOF_VEC_LEN: usize = 1 << 30;

/// Errors of the hashing helpers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// A caller buffer is too small for the output.
    #[error("output buffer too small: {needed} bytes needed, {available} available")]
    BufferTooSmall {
        /// Bytes the output needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// The requested extended output is larger than [`MAX_XOF_VEC_LEN`], or could not be
    /// allocated.
    #[error(
        "extended output of {requested} bytes is too large (at most {MAX_XOF_VEC_LEN} as a \
         vector); write it into a caller buffer with `blake3_xof_into` instead"
    )]
    OutputTooLarge {
        /// Bytes requested.
        requested: usize,
    },
}

// ---------------------------------------------------------------------------------------------
// BLAKE3
// ---------------------------------------------------------------------------------------------

/// Which of the three BLAKE3 functions to compute.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Blake3Mode<'a> {
    /// The plain hash.
    Hash,
    /// The keyed hash (a MAC / PRF) under a 32-byte key.
    Keyed([u8; BLAKE3_KEY_LEN]),
    /// Key derivation: the context string (hard-coded, globally unique, application-specific)
    /// and the key material as input.
    DeriveKey(&'a str),
}

impl fmt::Debug for Blake3Mode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blake3Mode::Hash => f.write_str("Hash"),
            // Never print key bytes.
            Blake3Mode::Keyed(_) => f.write_str("Keyed(<redacted>)"),
            Blake3Mode::DeriveKey(context) => f.debug_tuple("DeriveKey").field(context).finish(),
        }
    }
}

/// BLAKE3 hash of `data` (32 bytes). Multi-threaded from [`BLAKE3_PARALLEL_THRESHOLD`] bytes.
pub fn blake3(data: &[u8]) -> [u8; BLAKE3_OUT_LEN] {
    if data.len() < BLAKE3_PARALLEL_THRESHOLD {
        return *::blake3::hash(data).as_bytes();
    }
    Blake3Hasher::new().update(data).finalize()
}

/// BLAKE3 keyed hash of `data` under `key` (32 bytes).
pub fn blake3_keyed(key: &[u8; BLAKE3_KEY_LEN], data: &[u8]) -> [u8; BLAKE3_OUT_LEN] {
    if data.len() < BLAKE3_PARALLEL_THRESHOLD {
        return *::blake3::keyed_hash(key, data).as_bytes();
    }
    Blake3Hasher::keyed(key).update(data).finalize()
}

/// BLAKE3 key derivation: a 32-byte key for `context` from `material`.
pub fn blake3_derive_key(context: &str, material: &[u8]) -> [u8; BLAKE3_OUT_LEN] {
    if material.len() < BLAKE3_PARALLEL_THRESHOLD {
        return ::blake3::derive_key(context, material);
    }
    Blake3Hasher::derive_key(context)
        .update(material)
        .finalize()
}

/// Fills `out` with the extended output of `mode` over `data`: `out.len()` bytes, any length.
///
/// The first 32 bytes equal the default-length digest; a shorter output is a prefix of a longer
/// one. Does not allocate.
pub fn blake3_xof_into(mode: Blake3Mode<'_>, data: &[u8], out: &mut [u8]) {
    let mut hasher = Blake3Hasher::with_mode(mode);
    hasher.update(data);
    hasher.finalize_xof_into(out);
}

/// The extended output of `mode` over `data`, `out_len` bytes long.
///
/// # Errors
///
/// [`HashError::OutputTooLarge`] if `out_len` exceeds [`MAX_XOF_VEC_LEN`] or cannot be
/// allocated.
pub fn blake3_xof(mode: Blake3Mode<'_>, data: &[u8], out_len: usize) -> Result<Vec<u8>, HashError> {
    let mut hasher = Blake3Hasher::with_mode(mode);
    hasher.update(data);
    hasher.finalize_xof(out_len)
}

/// Streaming BLAKE3 in any of the three modes.
///
/// ```
/// use ultra_core::hash::{blake3_xof, Blake3Hasher, Blake3Mode};
/// let mut h = Blake3Hasher::derive_key("example.com 2025 session keys");
/// h.update(b"secret ").update(b"material");
/// let long = h.finalize_xof(100)?;
/// assert_eq!(&long[..32], &h.finalize());
/// assert_eq!(
///     long,
///     blake3_xof(Blake3Mode::DeriveKey("example.com 2025 session keys"), b"secret material", 100)?
/// );
/// # Ok::<(), ultra_core::hash::HashError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Blake3Hasher {
    inner: ::blake3::Hasher,
}

impl Blake3Hasher {
    /// A hasher for the plain hash.
    pub fn new() -> Self {
        Blake3Hasher {
            inner: ::blake3::Hasher::new(),
        }
    }

    /// A hasher for the keyed hash under `key`.
    pub fn keyed(key: &[u8; BLAKE3_KEY_LEN]) -> Self {
        Blake3Hasher {
            inner: ::blake3::Hasher::new_keyed(key),
        }
    }

    /// A hasher for key derivation with `context`; feed it the key material.
    pub fn derive_key(context: &str) -> Self {
        Blake3Hasher {
            inner: ::blake3::Hasher::new_derive_key(context),
        }
    }

    /// A hasher for `mode`.
    pub fn with_mode(mode: Blake3Mode<'_>) -> Self {
        match mode {
            Blake3Mode::Hash => Self::new(),
            Blake3Mode::Keyed(key) => Self::keyed(&key),
            Blake3Mode::DeriveKey(context) => Self::derive_key(context),
        }
    }

    /// Adds `data`; uses rayon's pool when `data` has at least [`BLAKE3_PARALLEL_THRESHOLD`]
    /// bytes.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        if data.len() >= BLAKE3_PARALLEL_THRESHOLD {
            self.update_multi_threaded(data)
        } else {
            self.update_single_threaded(data)
        }
    }

    /// Adds `data` on the calling thread only.
    pub fn update_single_threaded(&mut self, data: &[u8]) -> &mut Self {
        self.inner.update(data);
        self
    }

    /// Adds `data` using rayon's global pool, whatever its size (slower than
    /// [`Blake3Hasher::update_single_threaded`] for small inputs).
    pub fn update_multi_threaded(&mut self, data: &[u8]) -> &mut Self {
        // The first call starts rayon's pool: credit that to Hash.
        scope(Subsystem::Hash, || self.inner.update_rayon(data));
        self
    }

    /// The 32-byte digest of everything added so far. The hasher can keep going.
    pub fn finalize(&self) -> [u8; BLAKE3_OUT_LEN] {
        *self.inner.finalize().as_bytes()
    }

    /// Fills `out` with the extended output (any length) of everything added so far.
    pub fn finalize_xof_into(&self, out: &mut [u8]) {
        self.inner.finalize_xof().fill(out);
    }

    /// The extended output of everything added so far, `out_len` bytes long.
    ///
    /// # Errors
    ///
    /// [`HashError::OutputTooLarge`] if `out_len` exceeds [`MAX_XOF_VEC_LEN`] or cannot be
    /// allocated.
    pub fn finalize_xof(&self, out_len: usize) -> Result<Vec<u8>, HashError> {
        let too_large = HashError::OutputTooLarge { requested: out_len };
        if out_len > MAX_XOF_VEC_LEN {
            return Err(too_large);
        }
        scope(Subsystem::Hash, || {
            let mut out = Vec::new();
            out.try_reserve_exact(out_len).map_err(|_| too_large)?;
            out.resize(out_len, 0);
            self.finalize_xof_into(&mut out);
            Ok(out)
        })
    }

    /// Number of input bytes added so far.
    pub fn count(&self) -> u64 {
        self.inner.count()
    }

    /// Forgets all input, keeping the mode (and key or context).
    pub fn reset(&mut self) -> &mut Self {
        self.inner.reset();
        self
    }
}

impl std::io::Write for Blake3Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// XXH3
// ---------------------------------------------------------------------------------------------

/// XXH3-64 of `data` (seed 0).
pub fn xxh3_64(data: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(data)
}

/// XXH3-64 of `data` with `seed`.
pub fn xxh3_64_with_seed(data: &[u8], seed: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(data, seed)
}

/// XXH3-128 of `data` (seed 0).
pub fn xxh3_128(data: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(data)
}

/// XXH3-128 of `data` with `seed`.
pub fn xxh3_128_with_seed(data: &[u8], seed: u64) -> u128 {
    xxhash_rust::xxh3::xxh3_128_with_seed(data, seed)
}

/// Width of an XXH3 digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Xxh3Bits {
    /// XXH3-64.
    Bits64,
    /// XXH3-128.
    Bits128,
}

impl Xxh3Bits {
    /// `Bits64` for 64, `Bits128` for 128, `None` otherwise.
    pub const fn from_bits(bits: u32) -> Option<Xxh3Bits> {
        match bits {
            64 => Some(Xxh3Bits::Bits64),
            128 => Some(Xxh3Bits::Bits128),
            _ => None,
        }
    }

    /// 64 or 128.
    pub const fn bits(self) -> u32 {
        match self {
            Xxh3Bits::Bits64 => 64,
            Xxh3Bits::Bits128 => 128,
        }
    }
}

/// Streaming XXH3, 64 or 128 bits, with a seed.
///
/// ```
/// use ultra_core::hash::{xxh3_128_with_seed, Xxh3Bits, Xxh3Hasher};
/// let mut h = Xxh3Hasher::new(Xxh3Bits::Bits128, 42);
/// h.update(b"hello ");
/// h.update(b"world");
/// assert_eq!(h.digest().to_u128(), Some(xxh3_128_with_seed(b"hello world", 42)));
/// ```
#[derive(Clone)]
pub struct Xxh3Hasher {
    inner: xxhash_rust::xxh3::Xxh3,
    bits: Xxh3Bits,
    seed: u64,
}

impl fmt::Debug for Xxh3Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Xxh3Hasher")
            .field("bits", &self.bits.bits())
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Xxh3Hasher {
    /// A hasher producing `bits`-wide digests with `seed` (0 is the unseeded XXH3).
    pub fn new(bits: Xxh3Bits, seed: u64) -> Self {
        Xxh3Hasher {
            inner: xxhash_rust::xxh3::Xxh3::with_seed(seed),
            bits,
            seed,
        }
    }

    /// The digest width.
    pub fn bits(&self) -> Xxh3Bits {
        self.bits
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        self.inner.update(data);
        self
    }

    /// The digest of everything added so far, of the hasher's width. The hasher can keep going.
    pub fn digest(&self) -> Digest {
        match self.bits {
            Xxh3Bits::Bits64 => Digest::from_u64(self.inner.digest()),
            Xxh3Bits::Bits128 => Digest::from_u128(self.inner.digest128()),
        }
    }

    /// XXH3-64 of everything added so far (whatever the hasher's width).
    pub fn digest_u64(&self) -> u64 {
        self.inner.digest()
    }

    /// XXH3-128 of everything added so far (whatever the hasher's width).
    pub fn digest_u128(&self) -> u128 {
        self.inner.digest128()
    }

    /// Forgets all input, keeping width and seed.
    pub fn reset(&mut self) -> &mut Self {
        self.inner.reset();
        self
    }
}

impl std::io::Write for Xxh3Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

/// A fixed-size digest in canonical byte order: 8 bytes (XXH3-64), 16 (XXH3-128) or 32
/// (BLAKE3). Copy, no allocation.
///
/// `Display` and `LowerHex` print the lowercase hex form.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest {
    bytes: [u8; BLAKE3_OUT_LEN],
    len: u8,
}

impl Digest {
    /// The 8-byte big-endian digest of an XXH3-64 value.
    pub fn from_u64(value: u64) -> Digest {
        let mut bytes = [0; BLAKE3_OUT_LEN];
        bytes[..8].copy_from_slice(&value.to_be_bytes());
        Digest { bytes, len: 8 }
    }

    /// The 16-byte big-endian digest of an XXH3-128 value.
    pub fn from_u128(value: u128) -> Digest {
        let mut bytes = [0; BLAKE3_OUT_LEN];
        bytes[..16].copy_from_slice(&value.to_be_bytes());
        Digest { bytes, len: 16 }
    }

    /// A 32-byte BLAKE3 digest.
    pub fn from_blake3(bytes: [u8; BLAKE3_OUT_LEN]) -> Digest {
        Digest {
            bytes,
            len: BLAKE3_OUT_LEN as u8,
        }
    }

    /// The digest bytes (8, 16 or 32 of them).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes
            .get(..usize::from(self.len))
            .unwrap_or(&self.bytes)
    }

    /// Number of bytes: 8, 16 or 32.
    #[allow(clippy::len_without_is_empty)] // a digest is never empty
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// The value of an 8-byte (XXH3-64) digest; `None` for other widths.
    pub fn to_u64(&self) -> Option<u64> {
        <[u8; 8]>::try_from(self.as_bytes())
            .ok()
            .map(u64::from_be_bytes)
    }

    /// The value of a 16-byte (XXH3-128) digest, or of an 8-byte one widened; `None` for
    /// 32-byte digests.
    pub fn to_u128(&self) -> Option<u128> {
        match <[u8; 16]>::try_from(self.as_bytes()) {
            Ok(b) => Some(u128::from_be_bytes(b)),
            Err(_) => self.to_u64().map(u128::from),
        }
    }

    /// Lowercase hex written into `out` (which needs `2 * len()` bytes), returned as `&str`.
    ///
    /// # Errors
    ///
    /// [`HashError::BufferTooSmall`] if `out` is shorter than `2 * len()`.
    pub fn write_hex<'a>(&self, out: &'a mut [u8]) -> Result<&'a str, HashError> {
        hex_into(self.as_bytes(), out)
    }

    /// Lowercase hex as a `String`.
    pub fn to_hex(&self) -> String {
        to_hex(self.as_bytes())
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self:x})")
    }
}

impl fmt::LowerHex for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 2 * BLAKE3_OUT_LEN];
        let hex = self.write_hex(&mut buf).map_err(|_| fmt::Error)?;
        f.write_str(hex)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(self, f)
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn hex_pair(byte: u8) -> [u8; 2] {
    [
        HEX_DIGITS[usize::from(byte >> 4)],
        HEX_DIGITS[usize::from(byte & 0x0f)],
    ]
}

/// Writes the lowercase hex of `bytes` into the start of `out` and returns it as `&str`.
/// Does not allocate.
///
/// ```
/// let mut buf = [0u8; 8];
/// assert_eq!(ultra_core::hash::hex_into(&[0xde, 0xad], &mut buf)?, "dead");
/// # Ok::<(), ultra_core::hash::HashError>(())
/// ```
///
/// # Errors
///
/// [`HashError::BufferTooSmall`] if `out` is shorter than `2 * bytes.len()`.
pub fn hex_into<'a>(bytes: &[u8], out: &'a mut [u8]) -> Result<&'a str, HashError> {
    let available = out.len();
    let too_small = |needed| HashError::BufferTooSmall { needed, available };
    let needed = bytes.len().checked_mul(2).ok_or(too_small(usize::MAX))?;
    let head = out.get_mut(..needed).ok_or(too_small(needed))?;
    for (pair, &byte) in head.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&hex_pair(byte));
    }
    // Only ASCII digits were written, so this never fails.
    std::str::from_utf8(head).map_err(|_| too_small(needed))
}

/// Lowercase hex of `bytes` as a new `String`.
pub fn to_hex(bytes: &[u8]) -> String {
    scope(Subsystem::Hash, || {
        let mut s = String::with_capacity(bytes.len().saturating_mul(2));
        for &byte in bytes {
            let [hi, lo] = hex_pair(byte);
            s.push(char::from(hi));
            s.push(char::from(lo));
        }
        s
    })
}
