//! `ultra_core::hash` against independent oracles: the official BLAKE3 test vectors (all three
//! modes, full extended outputs, one-shot and streaming) and the `twox-hash` implementation of
//! XXH3 (every input length 0..=4096, large inputs, seeds, random streaming splits).

use twox_hash::{XxHash3_128, XxHash3_64};
use ultra_core::hash::{
    self, Blake3Hasher, Blake3Mode, Digest, HashError, Xxh3Bits, Xxh3Hasher,
    BLAKE3_PARALLEL_THRESHOLD,
};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/blake3/test_vectors.json"
);

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Splits `data` into random chunks of 0..=max bytes (empty chunks included on purpose).
fn random_chunks<'a>(rng: &mut Rng, data: &'a [u8], max: usize) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = rng.below(max + 1).min(rest.len());
        let (head, tail) = rest.split_at(n);
        chunks.push(head);
        rest = tail;
    }
    chunks
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// The vectors' input: the repeating sequence 0, 1, …, 250.
fn vector_input(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

struct Vectors {
    key: [u8; 32],
    context: String,
    cases: Vec<(usize, [Vec<u8>; 3])>,
}

fn load_vectors() -> Vectors {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| {
        panic!("reading {VECTORS}: {e} (testdata/ holds the vendored oracles)")
    });
    let v: serde_json::Value = serde_json::from_str(&text).expect("vectors are JSON");
    let key: [u8; 32] = v["key"]
        .as_str()
        .expect("key")
        .as_bytes()
        .try_into()
        .expect("32-byte key");
    let context = v["context_string"].as_str().expect("context").to_owned();
    let cases = v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let len = c["input_len"].as_u64().expect("input_len") as usize;
            let get = |k: &str| unhex(c[k].as_str().expect("output"));
            (len, [get("hash"), get("keyed_hash"), get("derive_key")])
        })
        .collect();
    Vectors {
        key,
        context,
        cases,
    }
}

#[test]
fn blake3_official_vectors_one_shot() {
    let v = load_vectors();
    assert!(v.cases.len() >= 30, "expected the full vector set");
    for (len, [plain, keyed, derive]) in &v.cases {
        let input = vector_input(*len);
        let modes = [
            (Blake3Mode::Hash, plain),
            (Blake3Mode::Keyed(v.key), keyed),
            (Blake3Mode::DeriveKey(&v.context), derive),
        ];
        // Default-length outputs are the 32-byte prefixes of the extended ones.
        assert_eq!(&hash::blake3(&input)[..], &plain[..32], "hash, len {len}");
        assert_eq!(
            &hash::blake3_keyed(&v.key, &input)[..],
            &keyed[..32],
            "keyed, len {len}"
        );
        assert_eq!(
            &hash::blake3_derive_key(&v.context, &input)[..],
            &derive[..32],
            "derive_key, len {len}"
        );
        for (mode, expected) in modes {
            let out = hash::blake3_xof(mode, &input, expected.len()).expect("xof");
            assert_eq!(&out, expected, "{mode:?} xof, len {len}");
            let mut buf = vec![0u8; expected.len()];
            hash::blake3_xof_into(mode, &input, &mut buf);
            assert_eq!(&buf, expected, "{mode:?} xof_into, len {len}");
            // Every shorter output is a prefix.
            for short in [0, 1, 31, 32, 33, 64, 65] {
                let out = hash::blake3_xof(mode, &input, short).expect("xof");
                assert_eq!(
                    &out[..],
                    &expected[..short],
                    "{mode:?} xof {short}, len {len}"
                );
            }
            assert_eq!(hash::to_hex(&out), hash::to_hex(expected));
        }
    }
}

#[test]
fn blake3_official_vectors_streaming() {
    let v = load_vectors();
    let mut rng = Rng(0x5eed_b1a3);
    for (len, [plain, keyed, derive]) in &v.cases {
        let input = vector_input(*len);
        let modes = [
            (Blake3Mode::Hash, plain),
            (Blake3Mode::Keyed(v.key), keyed),
            (Blake3Mode::DeriveKey(&v.context), derive),
        ];
        for (mode, expected) in modes {
            let check = |h: &Blake3Hasher, how: &str| {
                assert_eq!(
                    &h.finalize()[..],
                    &expected[..32],
                    "{mode:?} {how}, len {len}"
                );
                assert_eq!(
                    &h.finalize_xof(expected.len()).expect("xof"),
                    expected,
                    "{mode:?} {how} xof, len {len}"
                );
                assert_eq!(h.count(), *len as u64);
            };
            // whole input, each threading choice
            let mut h = Blake3Hasher::with_mode(mode);
            h.update(&input);
            check(&h, "one update");
            let mut h = Blake3Hasher::with_mode(mode);
            h.update_single_threaded(&input);
            check(&h, "single-threaded");
            let mut h = Blake3Hasher::with_mode(mode);
            h.update_multi_threaded(&input);
            check(&h, "multi-threaded");
            // random splits, small and large chunks, mixing both threading paths
            for max in [1, 7, 64, 1023, 1025, 8192] {
                let mut h = Blake3Hasher::with_mode(mode);
                for (i, chunk) in random_chunks(&mut rng, &input, max).into_iter().enumerate() {
                    if i % 3 == 2 {
                        h.update_multi_threaded(chunk);
                    } else {
                        h.update(chunk);
                    }
                }
                check(&h, &format!("chunks of <= {max}"));
            }
            // the constructors agree with with_mode, and reset forgets input but keeps the mode
            let mut h = match mode {
                Blake3Mode::Hash => Blake3Hasher::new(),
                Blake3Mode::Keyed(key) => Blake3Hasher::keyed(&key),
                Blake3Mode::DeriveKey(c) => Blake3Hasher::derive_key(c),
            };
            h.update(b"something else first").reset();
            std::io::Write::write_all(&mut h, &input).expect("write");
            check(&h, "constructor, reset, io::Write");
        }
    }
}

#[test]
fn blake3_multi_threaded_path_is_identical() {
    let mut rng = Rng(42);
    let key = [7u8; 32];
    let ctx = "ultra 2025 multi-threaded test";
    let t = BLAKE3_PARALLEL_THRESHOLD;
    for len in [t - 1, t, t + 1, 1 << 20, (4 << 20) + 3] {
        let data = rng.bytes(len);
        // the blake3 crate's plain single-threaded one-shot functions are the reference
        let reference = [
            *blake3::hash(&data).as_bytes(),
            *blake3::keyed_hash(&key, &data).as_bytes(),
            blake3::derive_key(ctx, &data),
        ];
        assert_eq!(hash::blake3(&data), reference[0], "len {len}");
        assert_eq!(hash::blake3_keyed(&key, &data), reference[1], "len {len}");
        assert_eq!(
            hash::blake3_derive_key(ctx, &data),
            reference[2],
            "len {len}"
        );
        let modes = [
            Blake3Mode::Hash,
            Blake3Mode::Keyed(key),
            Blake3Mode::DeriveKey(ctx),
        ];
        for (mode, expected) in modes.into_iter().zip(reference) {
            let mut single = Blake3Hasher::with_mode(mode);
            single.update_single_threaded(&data);
            let mut multi = Blake3Hasher::with_mode(mode);
            multi.update_multi_threaded(&data);
            assert_eq!(single.finalize(), expected, "{mode:?} len {len}");
            assert_eq!(multi.finalize(), expected, "{mode:?} len {len}");
            assert_eq!(
                single.finalize_xof(1000).expect("xof"),
                multi.finalize_xof(1000).expect("xof"),
                "{mode:?} len {len}"
            );
            let mut split = Blake3Hasher::with_mode(mode);
            for chunk in random_chunks(&mut rng, &data, 300_000) {
                split.update(chunk);
            }
            assert_eq!(split.finalize(), expected, "{mode:?} split, len {len}");
        }
    }
}

#[test]
fn blake3_xof_limits_and_large_outputs() {
    assert_eq!(
        hash::blake3_xof(Blake3Mode::Hash, b"x", usize::MAX),
        Err(HashError::OutputTooLarge {
            requested: usize::MAX
        })
    );
    let long = hash::blake3_xof(Blake3Mode::Hash, b"abc", 1 << 20).expect("1 MiB of output");
    let mut reader = blake3::Hasher::new().update(b"abc").finalize_xof();
    let mut expected = vec![0u8; 1 << 20];
    reader.fill(&mut expected);
    assert_eq!(long, expected);
    // Debug never shows key bytes.
    let dbg = format!("{:?}", Blake3Mode::Keyed([0xab; 32]));
    assert!(!dbg.contains("171") && !dbg.contains("ab"), "{dbg}");
}

fn check_xxh3(data: &[u8], seed: u64, rng: &mut Rng) {
    let len = data.len();
    let e64 = XxHash3_64::oneshot_with_seed(seed, data);
    let e128 = XxHash3_128::oneshot_with_seed(seed, data);
    assert_eq!(
        hash::xxh3_64_with_seed(data, seed),
        e64,
        "64, len {len}, seed {seed}"
    );
    assert_eq!(
        hash::xxh3_128_with_seed(data, seed),
        e128,
        "128, len {len}, seed {seed}"
    );
    if seed == 0 {
        assert_eq!(hash::xxh3_64(data), e64, "64 unseeded, len {len}");
        assert_eq!(hash::xxh3_128(data), e128, "128 unseeded, len {len}");
    }
    for bits in [Xxh3Bits::Bits64, Xxh3Bits::Bits128] {
        let mut h = Xxh3Hasher::new(bits, seed);
        let max = [1, 16, 100, 1000, 70_000][rng.below(5)];
        for chunk in random_chunks(rng, data, max) {
            h.update(chunk);
        }
        let d = h.digest();
        match bits {
            Xxh3Bits::Bits64 => {
                assert_eq!(
                    d.to_u64(),
                    Some(e64),
                    "streaming 64, len {len}, seed {seed}"
                );
                assert_eq!(d.as_bytes(), e64.to_be_bytes());
            }
            Xxh3Bits::Bits128 => {
                assert_eq!(
                    d.to_u128(),
                    Some(e128),
                    "streaming 128, len {len}, seed {seed}"
                );
                assert_eq!(d.as_bytes(), e128.to_be_bytes());
            }
        }
        assert_eq!(h.digest_u64(), e64);
        assert_eq!(h.digest_u128(), e128);
    }
}

#[test]
fn xxh3_every_length_up_to_4096_against_twox_hash() {
    let mut rng = Rng(0xdead_beef);
    let data = rng.bytes(4096);
    for len in 0..=4096 {
        let input = &data[..len];
        check_xxh3(input, 0, &mut rng);
        let seed = rng.next();
        check_xxh3(input, seed, &mut rng);
    }
    // fresh random bytes at a spread of lengths (not just prefixes of one buffer)
    for len in (0..=4096).step_by(61) {
        let input = rng.bytes(len);
        let seed = rng.next();
        check_xxh3(&input, seed, &mut rng);
    }
}

#[test]
fn xxh3_large_inputs_against_twox_hash() {
    let mut rng = Rng(7);
    for len in [1 << 20, (4 << 20) + 3, 240 * 1024 + 1] {
        let data = rng.bytes(len);
        for seed in [0, 1, u64::MAX, rng.next()] {
            check_xxh3(&data, seed, &mut rng);
        }
    }
}

#[test]
fn output_helpers() {
    let v64 = 0x0123_4567_89ab_cdef_u64;
    let d = Digest::from_u64(v64);
    assert_eq!(d.len(), 8);
    assert_eq!(d.to_hex(), format!("{v64:016x}"));
    assert_eq!(d.to_string(), "0123456789abcdef");
    assert_eq!(format!("{d:x}"), "0123456789abcdef");
    assert_eq!(d.to_u64(), Some(v64));
    assert_eq!(d.to_u128(), Some(u128::from(v64)));

    let v128 = 0x00ff_0000_0000_0000_0000_0000_0000_0001_u128;
    let d = Digest::from_u128(v128);
    assert_eq!(d.as_bytes(), v128.to_be_bytes());
    assert_eq!(d.to_hex(), format!("{v128:032x}"));
    assert_eq!(d.to_u128(), Some(v128));
    assert_eq!(d.to_u64(), None);

    let b = hash::blake3(b"abc");
    let d = Digest::from_blake3(b);
    assert_eq!(d.as_bytes(), b);
    assert_eq!(d.to_u64(), None);
    assert_eq!(d.to_u128(), None);
    assert_eq!(d.to_hex(), blake3::hash(b"abc").to_hex().as_str());

    // writing hex into a caller buffer
    let mut buf = [0u8; 64];
    assert_eq!(d.write_hex(&mut buf).expect("fits"), d.to_hex());
    let mut small = [0u8; 63];
    assert_eq!(
        d.write_hex(&mut small),
        Err(HashError::BufferTooSmall {
            needed: 64,
            available: 63
        })
    );
    let mut buf = [b'x'; 10];
    assert_eq!(
        hash::hex_into(&[0x00, 0x0f, 0xf0, 0xff], &mut buf).expect("fits"),
        "000ff0ff"
    );
    assert_eq!(&buf[8..], b"xx", "bytes past the hex are untouched");
    assert_eq!(hash::hex_into(&[], &mut []).expect("empty"), "");
    assert_eq!(hash::to_hex(&[]), "");
    let all: Vec<u8> = (0..=255).collect();
    let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hash::to_hex(&all), expected);

    assert_eq!(Xxh3Bits::from_bits(64), Some(Xxh3Bits::Bits64));
    assert_eq!(Xxh3Bits::from_bits(128).map(Xxh3Bits::bits), Some(128));
    assert_eq!(Xxh3Bits::from_bits(32), None);
    let h = Xxh3Hasher::new(Xxh3Bits::Bits128, 9);
    assert_eq!((h.bits(), h.seed()), (Xxh3Bits::Bits128, 9));
    assert_eq!(h.digest().len(), 16);
}

#[test]
fn state_sizes_match_the_docs() {
    let (b, x) = (
        std::mem::size_of::<Blake3Hasher>(),
        std::mem::size_of::<Xxh3Hasher>(),
    );
    eprintln!("Blake3Hasher {b} bytes, Xxh3Hasher {x} bytes");
    assert!((1700..2200).contains(&b), "{b}");
    assert!((500..800).contains(&x), "{x}");
}
