//! ultra-benches: side-by-side benchmarks of ultra against raw allocators and the crates it
//! wraps. This library only builds the inputs the benches share, deterministically, so that
//! every run (and the Node benches in `benches/node/`, which port the same generator) measures
//! the same bytes.
//!
//! The benches themselves are in `benches/benches/` (criterion, `harness = false`):
//!
//! | bench | measures |
//! |---|---|
//! | `allocator` | raw System and jemalloc against `TrackingAllocator` over each, with and without a subsystem scope |
//! | `cache` | `ultra_core::Cache` and `SharedCache` against `lru::LruCache` and `HashMap` |
//! | `hash` | BLAKE3 and XXH3-64/128 throughput by input size, single- and multi-threaded BLAKE3 |
//! | `json` | validate, parse, pointer and minify against serde_json |
//!
//! `benches/README.md` has the commands, the results and how to read them.
//!
//! ```
//! let doc = ultra_benches::json_document(1024);
//! assert!(doc.bytes.len() >= 1024 && doc.bytes.len() < 2048);
//! assert!(doc.pointer.starts_with("/items/"));
//! ```

/// A generated JSON document and a pointer to a field in its middle.
#[derive(Debug, Clone)]
pub struct JsonDoc {
    /// The UTF-8 bytes: an object whose `items` array holds records of about 330 bytes each,
    /// pretty-printed with two-space indentation so that minification has work to do.
    pub bytes: Vec<u8>,
    /// RFC 6901 pointer to a string field of the middle record (`/items/<n>/address/city`).
    pub pointer: String,
    /// How many records `items` holds.
    pub records: usize,
}

/// A small deterministic generator (xorshift64*), so inputs are identical across runs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed (zero is replaced by a fixed constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const NAMES: [&str; 8] = [
    "ada", "grace", "edsger", "barbara", "donald", "frances", "ken", "radia",
];
const CITIES: [&str; 6] = [
    "Zürich",
    "Lyon",
    "São Paulo",
    "Kraków",
    "Osaka",
    "New \\\"York\\\"",
];
const TAGS: [&str; 6] = ["admin", "beta", "ops", "billing", "eu", "on-call"];

/// One record of the `items` array, pretty-printed at the indentation of an array element.
fn record(i: usize, rng: &mut Rng) -> String {
    let name = NAMES[rng.below(NAMES.len() as u64) as usize];
    let city = CITIES[rng.below(CITIES.len() as u64) as usize];
    let t1 = TAGS[rng.below(TAGS.len() as u64) as usize];
    let t2 = TAGS[rng.below(TAGS.len() as u64) as usize];
    let score = rng.below(1_000_000) as f64 / 1000.0;
    let active = rng.below(2) == 0;
    let big = rng.next_u64() >> 11;
    format!(
        "    {{\n      \"id\": {i},\n      \"name\": \"{name}-{i}\",\n      \"email\": \"{name}.{i}@example.com\",\n      \"active\": {active},\n      \"score\": {score},\n      \"counter\": {big},\n      \"tags\": [\"{t1}\", \"{t2}\", \"t\\u00e9st\"],\n      \"address\": {{ \"street\": \"{n} Main St\", \"city\": \"{city}\", \"zip\": \"{zip:05}\" }},\n      \"note\": null\n    }}",
        n = 1 + rng.below(999),
        zip = rng.below(100_000),
    )
}

/// A JSON document of at least `min_bytes` bytes (and less than `min_bytes` + one record,
/// about 330 bytes), with at least one record.
pub fn json_document(min_bytes: usize) -> JsonDoc {
    let mut rng = Rng::new(0x5EED);
    let head = "{\n  \"generator\": \"ultra-benches\",\n  \"version\": 1,\n  \"items\": [\n";
    let tail = "\n  ]\n}\n";
    let mut records = Vec::new();
    let mut len = head.len() + tail.len();
    while records.is_empty() || len < min_bytes {
        let r = record(records.len(), &mut rng);
        len += r.len() + 2;
        records.push(r);
    }
    let mut s = String::with_capacity(len);
    s.push_str(head);
    s.push_str(&records.join(",\n"));
    s.push_str(tail);
    let n = records.len();
    JsonDoc {
        bytes: s.into_bytes(),
        pointer: format!("/items/{}/address/city", n / 2),
        records: n,
    }
}

/// `n` distinct cache keys shaped like a gateway's (`route:/api/v1/users/<i>?page=<j>`).
pub fn cache_keys(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("route:/api/v1/users/{i}?page={}", i % 7))
        .collect()
}

/// A value of `len` bytes (printable ASCII, so it is also a valid string value).
pub fn value_bytes(len: usize, salt: u64) -> Vec<u8> {
    let mut rng = Rng::new(salt.wrapping_add(1));
    (0..len).map(|_| b'a' + rng.below(26) as u8).collect()
}

/// `len` bytes of pseudo-random data for the hash benches.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut rng = Rng::new(0xB1A4E3);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_valid_json_of_the_asked_size() {
        for size in [1, 1024, 64 * 1024, 1 << 20] {
            let doc = json_document(size);
            assert!(doc.bytes.len() >= size);
            assert!(doc.bytes.len() < size.max(1) + 600, "{}", doc.bytes.len());
            let v: serde_json::Value = serde_json::from_slice(&doc.bytes).expect("valid JSON");
            let at = v.pointer(&doc.pointer).expect("pointer resolves");
            assert!(at.is_string());
            assert_eq!(v["items"].as_array().unwrap().len(), doc.records);
        }
    }

    #[test]
    fn keys_are_distinct() {
        let keys = cache_keys(1000);
        let set: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(set.len(), 1000);
    }
}
