//! Differential test: `Cache` against a naive model (a `Vec` in recency order with an explicit
//! clock) over random operation sequences, plus a table of known cases.
//!
//! After every operation both must agree on the result, the hits and misses, the inserts and
//! updates, the evictions per reason, the number of entries, their weight, and the live keys
//! in recency order.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use ultra_core::cache::{
    entry_weight, Cache, CacheError, CacheOptions, CacheStats, ManualClock, RemainingTtl,
    SetOutcome, Value, ValueKind, ValueRef, ENTRY_OVERHEAD,
};

// ---------------------------------------------------------------------------------------------
// The model

#[derive(Debug, Clone)]
struct ModelEntry {
    key: String,
    value: Value,
    /// 0 = no expiry.
    ttl: u64,
    /// Expired after this time (ms), as in lru-cache; `None` = never.
    expires: Option<u64>,
}

#[derive(Debug)]
struct Model {
    /// Most recent first.
    entries: Vec<ModelEntry>,
    now: u64,
    max_entries: usize,
    max_bytes: usize,
    default_ttl: u64,
    update_age_on_get: bool,
    stats: CacheStats,
}

impl Model {
    fn new(o: &CacheOptions) -> Model {
        Model {
            entries: Vec::new(),
            now: 0,
            max_entries: o.max_entries.filter(|&n| n > 0).unwrap_or(usize::MAX),
            max_bytes: o.max_bytes.filter(|&n| n > 0).unwrap_or(usize::MAX),
            default_ttl: o.ttl_ms.map_or(0, |t| t as u64),
            update_age_on_get: o.update_age_on_get,
            stats: CacheStats {
                caches: 1,
                ..CacheStats::default()
            },
        }
    }

    fn weight(e: &ModelEntry) -> usize {
        e.key.len() + e.value.data.len() + ENTRY_OVERHEAD
    }

    fn expired(&self, e: &ModelEntry) -> bool {
        e.expires.is_some_and(|x| self.now > x)
    }

    fn bytes(&self) -> usize {
        self.entries.iter().map(Model::weight).sum()
    }

    fn find(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.key == key)
    }

    /// Finds a live entry; an expired one is removed (an `expired` eviction).
    fn live(&mut self, key: &str) -> Option<usize> {
        let i = self.find(key)?;
        if self.expired(&self.entries[i]) {
            self.entries.remove(i);
            self.stats.evictions_expired += 1;
            None
        } else {
            Some(i)
        }
    }

    fn lookup(&mut self, key: &str) -> Option<usize> {
        let found = self.live(key);
        match found {
            Some(_) => self.stats.hits += 1,
            None => self.stats.misses += 1,
        }
        found
    }

    fn get(&mut self, key: &str) -> Option<Value> {
        let i = self.lookup(key)?;
        let mut e = self.entries.remove(i);
        if self.update_age_on_get && e.ttl != 0 {
            e.expires = Some(self.now + e.ttl);
        }
        let v = e.value.clone();
        self.entries.insert(0, e);
        Some(v)
    }

    fn peek(&mut self, key: &str) -> Option<Value> {
        let i = self.lookup(key)?;
        Some(self.entries[i].value.clone())
    }

    fn has(&mut self, key: &str) -> bool {
        self.lookup(key).is_some()
    }

    fn set(
        &mut self,
        key: &str,
        value: ValueRef<'_>,
        ttl: Option<f64>,
    ) -> Result<SetOutcome, CacheError> {
        let ttl = match ttl {
            None => self.default_ttl,
            Some(t) if t.is_finite() && t >= 0.0 => t as u64,
            Some(t) => {
                return Err(CacheError::InvalidTtl {
                    option: "per-entry ttl_ms",
                    value: t,
                })
            }
        };
        let weight = key.len() + value.data.len() + ENTRY_OVERHEAD;
        if weight > self.max_bytes {
            if let Some(i) = self.find(key) {
                let e = self.entries.remove(i);
                if self.expired(&e) {
                    self.stats.evictions_expired += 1;
                }
            }
            return Err(CacheError::EntryTooLarge {
                weight,
                max_bytes: self.max_bytes,
                overhead: ENTRY_OVERHEAD,
            });
        }
        let outcome = match self.find(key) {
            Some(i) => {
                let old = self.entries.remove(i);
                if self.expired(&old) {
                    self.stats.evictions_expired += 1;
                    self.stats.inserts += 1;
                    SetOutcome::Inserted
                } else {
                    self.stats.updates += 1;
                    SetOutcome::Updated
                }
            }
            None => {
                self.stats.inserts += 1;
                SetOutcome::Inserted
            }
        };
        self.entries.insert(
            0,
            ModelEntry {
                key: key.to_owned(),
                value: value.to_value(),
                ttl,
                expires: (ttl != 0).then(|| self.now + ttl),
            },
        );
        loop {
            let over_entries = self.entries.len() > self.max_entries;
            if !over_entries && self.bytes() <= self.max_bytes {
                break;
            }
            let Some(victim) = self.entries.pop() else {
                break;
            };
            if self.expired(&victim) {
                self.stats.evictions_expired += 1;
            } else if over_entries {
                self.stats.evictions_capacity += 1;
            } else {
                self.stats.evictions_size += 1;
            }
        }
        Ok(outcome)
    }

    fn delete(&mut self, key: &str) -> bool {
        let Some(i) = self.find(key) else {
            return false;
        };
        let e = self.entries.remove(i);
        if self.expired(&e) {
            self.stats.evictions_expired += 1;
            false
        } else {
            true
        }
    }

    fn purge_expired(&mut self) -> usize {
        let before = self.entries.len();
        let now = self.now;
        self.entries.retain(|e| e.expires.is_none_or(|x| now <= x));
        let n = before - self.entries.len();
        self.stats.evictions_expired += n as u64;
        n
    }

    fn remaining_ttl(&mut self, key: &str) -> Option<RemainingTtl> {
        let i = self.live(key)?;
        let e = &self.entries[i];
        Some(match e.expires {
            None => RemainingTtl::NoExpiry,
            Some(x) => RemainingTtl::Expires(Duration::from_millis(x - self.now)),
        })
    }

    fn keys(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| !self.expired(e))
            .map(|e| e.key.clone())
            .collect()
    }

    fn full_stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len() as u64,
            bytes: self.bytes() as u64,
            ..self.stats
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

#[derive(Debug, Clone)]
enum Op {
    Get(&'static str),
    Peek(&'static str),
    Has(&'static str),
    Set(&'static str, ValueKind, Vec<u8>, Option<f64>),
    Delete(&'static str),
    Purge,
    RemainingTtl(&'static str),
    Advance(u64),
    Clear,
}

/// Keys of 0 to 6 bytes, so that the key counts in the weight.
const KEYS: [&str; 8] = ["", "a", "b", "c", "dd", "eee", "ffff", "gggggg"];

#[derive(Debug, PartialEq)]
enum Out {
    Value(Option<Value>),
    Bool(bool),
    Set(Result<SetOutcome, CacheError>),
    Count(usize),
    Ttl(Option<RemainingTtl>),
    Unit,
}

fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&KEYS[..])
}

fn ttl() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(0.0)),
        4 => (1u64..60).prop_map(|t| Some(t as f64)),
        1 => prop_oneof![Just(-1.0), Just(f64::NAN), Just(f64::INFINITY)].prop_map(Some),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => key().prop_map(Op::Get),
        2 => key().prop_map(Op::Peek),
        2 => key().prop_map(Op::Has),
        8 => (
            key(),
            prop_oneof![Just(ValueKind::Str), Just(ValueKind::Bytes)],
            prop::collection::vec(any::<u8>(), 0..48),
            ttl()
        )
            .prop_map(|(k, kind, data, ttl)| Op::Set(k, kind, data, ttl)),
        2 => key().prop_map(Op::Delete),
        1 => Just(Op::Purge),
        1 => key().prop_map(Op::RemainingTtl),
        3 => (0u64..40).prop_map(Op::Advance),
        1 => Just(Op::Clear),
    ]
}

fn options() -> impl Strategy<Value = CacheOptions> {
    (
        prop_oneof![Just(None), (1usize..6).prop_map(Some)],
        prop_oneof![
            Just(None),
            (ENTRY_OVERHEAD..ENTRY_OVERHEAD * 4 + 100).prop_map(Some)
        ],
        prop_oneof![Just(None), (1u64..50).prop_map(|t| Some(t as f64))],
        any::<bool>(),
    )
        .prop_map(|(max_entries, max_bytes, ttl_ms, update_age_on_get)| {
            let mut o = CacheOptions {
                max_entries,
                max_bytes,
                ttl_ms,
                update_age_on_get,
                ..CacheOptions::default()
            };
            if o.max_entries.is_none() && o.max_bytes.is_none() && o.ttl_ms.is_none() {
                o.max_entries = Some(4);
            }
            o
        })
}

fn apply(cache: &mut Cache, clock: &ManualClock, op: &Op) -> Out {
    match op {
        Op::Get(k) => Out::Value(cache.get(k)),
        Op::Peek(k) => Out::Value(cache.peek(k)),
        Op::Has(k) => Out::Bool(cache.has(k)),
        Op::Set(k, kind, data, ttl) => Out::Set(cache.set(k, ValueRef { kind: *kind, data }, *ttl)),
        Op::Delete(k) => Out::Bool(cache.delete(k)),
        Op::Purge => Out::Count(cache.purge_expired()),
        Op::RemainingTtl(k) => Out::Ttl(cache.remaining_ttl(k)),
        Op::Advance(ms) => {
            clock.advance_ms(*ms);
            Out::Unit
        }
        Op::Clear => {
            cache.clear();
            Out::Unit
        }
    }
}

fn apply_model(model: &mut Model, op: &Op) -> Out {
    match op {
        Op::Get(k) => Out::Value(model.get(k)),
        Op::Peek(k) => Out::Value(model.peek(k)),
        Op::Has(k) => Out::Bool(model.has(k)),
        Op::Set(k, kind, data, ttl) => Out::Set(model.set(k, ValueRef { kind: *kind, data }, *ttl)),
        Op::Delete(k) => Out::Bool(model.delete(k)),
        Op::Purge => Out::Count(model.purge_expired()),
        Op::RemainingTtl(k) => Out::Ttl(model.remaining_ttl(k)),
        Op::Advance(ms) => {
            model.now += ms;
            Out::Unit
        }
        Op::Clear => {
            model.entries.clear();
            Out::Unit
        }
    }
}

/// `Out` with NaN TTLs in errors made comparable.
fn comparable(o: Out) -> Out {
    match o {
        Out::Set(Err(CacheError::InvalidTtl { option, value })) if value.is_nan() => {
            Out::Set(Err(CacheError::InvalidTtl {
                option,
                value: -0.5,
            }))
        }
        o => o,
    }
}

fn run(options: CacheOptions, ops: &[Op]) -> Result<(), TestCaseError> {
    let clock = Arc::new(ManualClock::new());
    let mut cache = Cache::with_clock(options, clock.clone()).expect("valid options");
    let mut model = Model::new(&options);
    for (i, op) in ops.iter().enumerate() {
        let got = comparable(apply(&mut cache, &clock, op));
        let want = comparable(apply_model(&mut model, op));
        prop_assert_eq!(got, want, "result of op #{} {:?}", i, op);
        prop_assert_eq!(
            cache.stats(),
            model.full_stats(),
            "stats after op #{} {:?}",
            i,
            op
        );
        prop_assert_eq!(cache.len(), model.entries.len());
        prop_assert_eq!(cache.bytes(), model.bytes());
        let keys: Vec<&str> = cache
            .keys()
            .map(|k| std::str::from_utf8(k).expect("keys are UTF-8 here"))
            .collect();
        prop_assert_eq!(keys, model.keys(), "keys after op #{} {:?}", i, op);
        prop_assert!(cache.len() <= options.max_entries.unwrap_or(usize::MAX));
        prop_assert!(cache.bytes() <= options.max_bytes.unwrap_or(usize::MAX));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 5000,
        // The default persistence (`SourceParallel`) reads and writes
        // `tests/cache_model.proptest-regressions` beside this file: its committed cases are
        // replayed before any new ones.
        ..ProptestConfig::default()
    })]

    #[test]
    fn cache_matches_model(options in options(), ops in prop::collection::vec(op(), 1..120)) {
        run(options, &ops)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Known cases

fn entries(n: usize) -> CacheOptions {
    CacheOptions {
        max_entries: Some(n),
        ..CacheOptions::default()
    }
}

fn set(k: &'static str, v: &str) -> Op {
    Op::Set(k, ValueKind::Str, v.as_bytes().to_vec(), None)
}

fn set_ttl(k: &'static str, v: &str, ttl: f64) -> Op {
    Op::Set(k, ValueKind::Str, v.as_bytes().to_vec(), Some(ttl))
}

#[test]
fn known_cases() {
    let cases: Vec<(&str, CacheOptions, Vec<Op>)> = vec![
        (
            "get refreshes recency, peek does not",
            entries(2),
            vec![
                set("a", "1"),
                set("b", "2"),
                Op::Peek("a"),
                Op::Get("b"),
                set("c", "3"),
            ],
        ),
        (
            "the least recent entry goes first",
            entries(2),
            vec![
                set("a", "1"),
                set("b", "2"),
                Op::Get("a"),
                set("c", "3"),
                Op::Has("b"),
            ],
        ),
        (
            "byte bound evicts for size",
            CacheOptions {
                max_bytes: Some(2 * entry_weight(1, 4)),
                ..CacheOptions::default()
            },
            vec![
                set("a", "1234"),
                set("b", "1234"),
                set("c", "12"),
                Op::Get("a"),
            ],
        ),
        (
            "an expired victim counts as expired, not capacity",
            entries(1),
            vec![set_ttl("a", "1", 5.0), Op::Advance(6), set("b", "2")],
        ),
        (
            "ttl boundary: live at t + d (as in lru-cache), gone after",
            CacheOptions {
                ttl_ms: Some(10.0),
                ..CacheOptions::default()
            },
            vec![
                set("a", "1"),
                Op::Advance(9),
                Op::RemainingTtl("a"),
                Op::Advance(1),
                Op::RemainingTtl("a"),
                Op::Advance(1),
                Op::Get("a"),
            ],
        ),
        (
            "per-entry ttl 0 overrides the default",
            CacheOptions {
                ttl_ms: Some(10.0),
                ..CacheOptions::default()
            },
            vec![
                set_ttl("a", "1", 0.0),
                Op::Advance(1000),
                Op::RemainingTtl("a"),
                Op::Purge,
            ],
        ),
        (
            "setting over an expired key is an insert",
            entries(4),
            vec![
                set_ttl("a", "1", 1.0),
                Op::Advance(2),
                set("a", "2"),
                set("a", "3"),
            ],
        ),
        (
            "update_age_on_get restarts the ttl",
            CacheOptions {
                ttl_ms: Some(10.0),
                update_age_on_get: true,
                ..CacheOptions::default()
            },
            vec![
                set("a", "1"),
                Op::Advance(8),
                Op::Get("a"),
                Op::Advance(8),
                Op::Peek("a"),
            ],
        ),
        (
            "too heavy an entry is refused and removes the old value",
            CacheOptions {
                max_bytes: Some(entry_weight(1, 2)),
                ..CacheOptions::default()
            },
            vec![set("a", "12"), set("a", "123"), Op::Has("a")],
        ),
    ];
    for (name, options, ops) in cases {
        if let Err(e) = run(options, &ops) {
            panic!("{name}: {e}");
        }
    }

    // And a few exact expectations, not only agreement with the model.
    let clock = Arc::new(ManualClock::new());
    let mut c = Cache::with_clock(entries(2), clock.clone()).unwrap();
    c.set("a", "1", None).unwrap();
    c.set("b", "2", None).unwrap();
    assert_eq!(c.get("a"), Some(Value::str("1")));
    c.set("c", "3", None).unwrap();
    assert_eq!(c.keys().collect::<Vec<_>>(), [b"c", b"a"]);
    let mut c = Cache::with_clock(entries(1), clock.clone()).unwrap();
    c.set("a", "1", Some(5.0)).unwrap();
    clock.advance_ms(6); // stale once its age exceeds its TTL, as in lru-cache
    c.set("b", "2", None).unwrap();
    let s = c.stats();
    assert_eq!((s.evictions_expired, s.evictions_capacity), (1, 0));
}
