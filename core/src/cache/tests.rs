//! Unit tests of the cache modules.

use std::sync::Arc;
use std::time::Duration;

use ultra_alloc::Config;

use super::store::PURGE_MIN;
use super::*;

fn opts(max_entries: Option<usize>, max_bytes: Option<usize>, ttl: Option<f64>) -> CacheOptions {
    CacheOptions {
        max_entries,
        max_bytes,
        ttl_ms: ttl,
        ..CacheOptions::default()
    }
}

#[test]
fn construction_errors_name_the_option() {
    for o in [
        opts(None, None, None),
        opts(Some(0), Some(0), None),
        opts(Some(0), Some(0), Some(0.0)),
        opts(None, None, Some(-0.0)),
    ] {
        let e = Cache::new(o).unwrap_err();
        assert_eq!(e, CacheError::NoBound);
        let msg = e.to_string();
        assert!(
            msg.contains("max_entries") && msg.contains("ULTRA_CACHE_TTL_MS"),
            "{msg}"
        );
    }
    for bad in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY, -1e-9] {
        let e = Cache::new(opts(Some(10), None, Some(bad))).unwrap_err();
        assert!(
            matches!(
                e,
                CacheError::InvalidTtl {
                    option: "ttl_ms",
                    ..
                }
            ),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.starts_with("invalid ttl_ms "), "{msg}");
    }
    let e = Cache::new(opts(None, Some(ENTRY_OVERHEAD - 1), None)).unwrap_err();
    assert!(e.to_string().starts_with("max_bytes "), "{e}");
    assert!(Cache::new(opts(None, Some(ENTRY_OVERHEAD), None)).is_ok());
    assert!(Cache::new(opts(Some(1), None, None)).is_ok());
    assert!(Cache::new(opts(None, None, Some(0.5))).is_ok());
    // Messages are lowercase sentences.
    for e in [
        CacheError::NoBound,
        CacheError::EmptyName,
        Cache::new(opts(Some(1), None, Some(f64::NAN))).unwrap_err(),
    ] {
        let msg = e.to_string();
        assert!(
            msg.chars().next().is_some_and(|c| c.is_lowercase()),
            "{msg}"
        );
    }
}

#[test]
fn errors_stay_small() {
    // Returned by every `set`: keep it to a few words.
    assert!(std::mem::size_of::<CacheError>() <= 32);
    assert!(std::mem::size_of::<Result<SetOutcome, CacheError>>() <= 32);
}

#[test]
fn from_config_reads_cache_defaults() {
    let c = Config::from_lookup(|v| match v {
        "ULTRA_CACHE_MAX_ENTRIES" => Some("100".into()),
        "ULTRA_CACHE_TTL_MS" => Some("250".into()),
        _ => None,
    })
    .unwrap();
    let o = CacheOptions::from_config(&c);
    assert_eq!(o, opts(Some(100), None, Some(250.0)));
    assert!(Cache::new(o).is_ok());
    assert_eq!(
        Cache::new(CacheOptions::from_config(&Config::default())).unwrap_err(),
        CacheError::NoBound
    );
}

#[test]
fn set_rejects_bad_ttl_and_heavy_entries() {
    let mut c = Cache::new(opts(None, Some(ENTRY_OVERHEAD + 10), None)).unwrap();
    for bad in [f64::NAN, -5.0, f64::INFINITY] {
        let e = c.set("k", "v", Some(bad)).unwrap_err();
        assert!(e.to_string().starts_with("invalid per-entry ttl_ms"), "{e}");
    }
    assert!(c.is_empty());
    assert_eq!(c.set("k", "123456789", None), Ok(SetOutcome::Inserted));
    assert_eq!(c.bytes(), ENTRY_OVERHEAD + 10);
    let e = c.set("k", "1234567890", None).unwrap_err();
    assert_eq!(
        e,
        CacheError::EntryTooLarge {
            weight: ENTRY_OVERHEAD + 11,
            max_bytes: ENTRY_OVERHEAD + 10,
            overhead: ENTRY_OVERHEAD
        }
    );
    assert!(e.to_string().starts_with("entry of "), "{e}");
    // The old value of the key is gone: never serve what the caller meant to replace.
    assert!(!c.has("k"));
    assert_eq!((c.len(), c.bytes()), (0, 0));
    // A huge finite TTL saturates to "never".
    c.set("k", "v", Some(f64::MAX)).unwrap();
    assert_eq!(c.remaining_ttl("k"), Some(RemainingTtl::NoExpiry));
}

#[test]
fn ttl_semantics() {
    let clock = Arc::new(ManualClock::new());
    let mut c = Cache::with_clock(
        CacheOptions {
            ttl_ms: Some(100.0),
            update_age_on_get: true,
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    c.set("a", "1", None).unwrap();
    c.set("forever", "2", Some(0.0)).unwrap();
    c.set("short", &b"3"[..], Some(0.25)).unwrap();
    assert_eq!(
        c.remaining_ttl("a"),
        Some(RemainingTtl::Expires(Duration::from_millis(100)))
    );
    assert_eq!(c.remaining_ttl("forever"), Some(RemainingTtl::NoExpiry));
    assert_eq!(
        c.remaining_ttl("forever").unwrap().as_ms_f64(),
        f64::INFINITY
    );
    clock.advance_ms(60);
    assert!(c.remaining_ttl("short").is_none());
    assert_eq!(c.stats().evictions_expired, 1);
    assert_eq!(c.get("a"), Some(Value::str("1"))); // restarts the TTL
    clock.advance_ms(60);
    assert!(c.peek("a").is_some());
    clock.advance_ms(40);
    // As in lru-cache, an entry is stale once its age exceeds its TTL, not when it meets it.
    assert!(c.peek("a").is_some(), "live at an age of exactly its TTL");
    assert_eq!(
        c.remaining_ttl("a"),
        Some(RemainingTtl::Expires(Duration::ZERO))
    );
    clock.advance(Duration::from_nanos(1));
    assert!(c.peek("a").is_none());
    assert_eq!(c.keys().collect::<Vec<_>>(), [b"forever"]);
    assert_eq!(
        c.get("forever")
            .and_then(|v| v.as_str().map(str::to_owned))
            .as_deref(),
        Some("2")
    );
    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.evictions_expired), (4, 1, 2));
    assert_eq!(c.purge_expired(), 0);
}

#[test]
fn a_policy_can_keep_the_figures_of_lru_cache() {
    let clock = Arc::new(ManualClock::new());
    let lru = |o: CacheOptions| CacheOptions {
        policy: Policy {
            weight: EntryWeight::Payload,
            count_peeks: false,
            peeks_remove_stale: false,
            delete_stale_is_eviction: false,
            count_refusals: true,
            ttl_autopurge: true,
        },
        ..o
    };
    // Weights without overhead (at least 1), a byte bound as low as 1, refusals counted.
    let mut c = Cache::with_clock(lru(opts(None, Some(20), None)), clock.clone()).unwrap();
    c.set("k1", "12345678", None).unwrap();
    c.set("k2", &[0u8; 8][..], None).unwrap();
    assert_eq!(c.bytes(), 20);
    c.set("k3", "x", None).unwrap(); // evicts k1 for size
    assert_eq!((c.bytes(), c.stats().evictions_size), (13, 1));
    assert!(matches!(
        c.set("k2", "é".repeat(20).as_str(), None),
        Err(CacheError::EntryTooLarge { overhead: 0, .. })
    ));
    assert_eq!((c.bytes(), c.stats().evictions_size), (3, 2));
    c.set("", "", None).unwrap();
    assert_eq!(c.bytes(), 4, "an empty entry weighs 1");
    assert!(Cache::new(lru(opts(None, Some(1), None))).is_ok());
    // Only `get` counts; peek, has and remaining_ttl leave an expired entry in place.
    let mut c = Cache::with_clock(lru(opts(Some(10), None, Some(10.0))), clock.clone()).unwrap();
    c.set("a", "1", None).unwrap();
    c.set("b", "2", None).unwrap();
    c.set("c", "3", None).unwrap();
    assert!(c.peek("a").is_some() && c.has("a") && !c.has("zz"));
    assert_eq!((c.stats().hits, c.stats().misses), (0, 0));
    clock.advance_ms(10);
    assert!(
        c.has("a"),
        "live at an age of exactly its TTL, as in lru-cache"
    );
    clock.advance_ms(1);
    assert!(!c.has("a") && c.peek("a").is_none() && c.remaining_ttl("a").is_none());
    assert_eq!((c.len(), c.stats().evictions_expired), (3, 0));
    assert!(c.delete("b"), "an expired entry is there, as in lru-cache");
    assert_eq!(
        (c.len(), c.stats().evictions_expired),
        (2, 0),
        "deleted, not counted"
    );
    assert!(c.get("a").is_none());
    assert_eq!((c.stats().misses, c.stats().evictions_expired), (1, 1));
    assert_eq!(c.purge_expired(), 1);
    // A TTL-only cache purges expired entries as it grows.
    let mut c = Cache::with_clock(lru(opts(None, None, Some(5.0))), clock.clone()).unwrap();
    for i in 0..1000 {
        c.set(&format!("k{i}"), "v", None).unwrap();
        clock.advance_ms(1);
    }
    assert!(c.len() <= 2 * PURGE_MIN.max(10), "len {}", c.len());
    assert_eq!(c.stats().evictions_expired as usize + c.len(), 1000);
}

#[test]
fn totals_follow_every_change_and_drop() {
    // Other tests run concurrently: the exact totals are checked in tests/cache_memory.rs.
    let mut a = Cache::new(opts(Some(2), None, None)).unwrap();
    let mut b = Cache::new(opts(None, Some(10_000), None)).unwrap();
    a.set("x", "1", None).unwrap();
    a.set("y", "2", None).unwrap();
    a.set("z", "3", None).unwrap();
    b.set("x", "12345", None).unwrap();
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!(sa.evictions_capacity, 1);
    assert_eq!(sa.entries + sb.entries, 3);
    assert_eq!(sb.bytes as usize, entry_weight(1, 5));
    let t = caches_total();
    assert!(t.caches >= 2 && t.entries >= 3 && t.bytes >= sa.bytes + sb.bytes);
}

#[test]
fn named_caches_are_shared_and_checked() {
    let o = opts(Some(16), None, None);
    let a = SharedCache::named("tests/named", o).unwrap();
    let b = SharedCache::named("tests/named", opts(Some(16), Some(0), Some(0.0))).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(a.name(), Some("tests/named"));
    a.set("k", "v", None).unwrap();
    assert_eq!(b.get("k"), Some(Value::str("v")));
    let e = SharedCache::named("tests/named", opts(Some(17), None, None)).unwrap_err();
    assert!(matches!(e, CacheError::OptionsMismatch { .. }));
    assert!(
        e.to_string()
            .starts_with("cache \"tests/named\" already exists"),
        "{e}"
    );
    assert_eq!(
        SharedCache::named("", o).unwrap_err(),
        CacheError::EmptyName
    );
    assert!(SharedCache::named("tests/bad", opts(None, None, None)).is_err());
    assert!(SharedCache::find_named("tests/named").is_some());
    assert!(SharedCache::named_caches()
        .iter()
        .any(|c| Arc::ptr_eq(c, &a)));
    drop((a, b));
    // Freed with its last Arc: the name is free for other options.
    assert!(SharedCache::find_named("tests/named").is_none());
    let c = SharedCache::named("tests/named", opts(Some(17), None, None)).unwrap();
    assert!(c.is_empty());
}

#[test]
fn named_stats_reads_each_live_named_cache_in_creation_order() {
    let o = opts(Some(16), None, None);
    let first = SharedCache::named("tests/stats-1", o).unwrap();
    let second = SharedCache::named("tests/stats-2", o).unwrap();
    first.set("k", "v", None).unwrap();
    assert!(first.get("k").is_some());
    assert!(second.get("k").is_none());
    // Other tests open named caches concurrently: look at ours only.
    let ours = |all: Vec<(Box<str>, CacheStats)>| -> Vec<(String, u64, u64)> {
        all.into_iter()
            .filter(|(n, _)| n.starts_with("tests/stats-"))
            .map(|(n, s)| (n.into(), s.hits, s.misses))
            .collect()
    };
    assert_eq!(
        ours(SharedCache::named_stats(usize::MAX)),
        [
            ("tests/stats-1".into(), 1, 0),
            ("tests/stats-2".into(), 0, 1)
        ]
    );
    assert!(SharedCache::named_stats(0).is_empty());
    drop(first);
    assert_eq!(
        ours(SharedCache::named_stats(usize::MAX)),
        [("tests/stats-2".into(), 0, 1)]
    );
}

#[test]
fn shared_cache_under_four_threads() {
    const THREADS: usize = 4;
    const KEYS: usize = 64;
    const ROUNDS: usize = 2_000;
    let cache = Arc::new(SharedCache::new(opts(Some(KEYS), None, None)).unwrap());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                let (mut hits, mut deleted) = (0u64, 0u64);
                for i in 0..ROUNDS {
                    let key = format!("t{t}-k{}", i % KEYS);
                    let value = format!("{t}:{i}");
                    cache.set(&key, value.as_str(), None).unwrap();
                    // Each thread touches only its own keys, so a value read back is the
                    // one just written (or absent, evicted by another thread meanwhile).
                    if let Some(v) = cache.get(&key) {
                        assert_eq!(v.as_str(), Some(value.as_str()));
                        hits += 1;
                    }
                    if i % 7 == 0 && cache.delete(&key) {
                        deleted += 1;
                    }
                }
                (hits, deleted)
            })
        })
        .collect();
    let (mut hits, mut deleted) = (0, 0);
    for h in handles {
        let (h, d) = h.join().unwrap();
        hits += h;
        deleted += d;
    }
    let s = cache.stats();
    assert_eq!(s.hits, hits);
    assert_eq!(s.hits + s.misses, (THREADS * ROUNDS) as u64);
    assert_eq!(s.inserts + s.updates, (THREADS * ROUNDS) as u64);
    assert!(s.entries as usize <= KEYS);
    assert_eq!(s.entries as usize, cache.len());
    assert_eq!(cache.keys().len(), cache.len());
    // Every insert is still here, was evicted, or was deleted.
    assert_eq!(s.inserts, s.entries + s.evictions_capacity + deleted);
    let weight: usize = cache.with(|c| c.keys().map(|k| k.len()).sum::<usize>());
    assert!(cache.bytes() > weight);
}

#[test]
fn each_policy_choice_changes_only_what_it_names() {
    let clock = Arc::new(ManualClock::new());
    let with = |policy: Policy| {
        let o = CacheOptions {
            max_entries: Some(10),
            max_bytes: Some(10_000),
            ttl_ms: Some(10.0),
            policy,
            ..CacheOptions::default()
        };
        let mut c = Cache::with_clock(o, clock.clone()).unwrap();
        for k in ["peeked", "had", "asked", "deleted"] {
            c.set(k, "v", None).unwrap();
        }
        c
    };
    // What every look-up of the four stale keys does, and the figures after a refusal.
    let run = |policy: Policy| {
        let mut c = with(policy);
        assert!(c.peek("peeked").is_some() && c.has("had"));
        clock.advance_ms(11);
        let seen = (
            c.peek("peeked").is_some(),
            c.has("had"),
            c.remaining_ttl("asked").is_some(),
            c.delete("deleted"),
        );
        let refused = c.set("big", "x".repeat(20_000).as_str(), None).is_err();
        let s = c.stats();
        (
            seen,
            refused,
            c.len(),
            (s.hits, s.misses),
            (s.evictions_expired, s.evictions_size),
            c.bytes(),
        )
    };
    let d = run(Policy::DEFAULT);
    assert_eq!(
        d,
        ((false, false, false, false), true, 0, (2, 2), (4, 0), 0)
    );
    let no_count = run(Policy {
        count_peeks: false,
        ..Policy::DEFAULT
    });
    assert_eq!(
        no_count,
        ((false, false, false, false), true, 0, (0, 0), (4, 0), 0)
    );
    let left = run(Policy {
        peeks_remove_stale: false,
        ..Policy::DEFAULT
    });
    assert_eq!(
        left,
        (
            (false, false, false, false),
            true,
            3,
            (2, 2),
            (1, 0),
            entry_weight(6, 1) + entry_weight(3, 1) + entry_weight(5, 1)
        )
    );
    let kept = run(Policy {
        delete_stale_is_eviction: false,
        ..Policy::DEFAULT
    });
    assert_eq!(
        kept,
        ((false, false, false, true), true, 0, (2, 2), (3, 0), 0)
    );
    let refusals = run(Policy {
        count_refusals: true,
        ..Policy::DEFAULT
    });
    assert_eq!(
        refusals,
        ((false, false, false, false), true, 0, (2, 2), (4, 1), 0)
    );
    let payload = run(Policy {
        weight: EntryWeight::Payload,
        ..Policy::DEFAULT
    });
    assert_eq!(payload, d);
    assert_eq!(
        Cache::new(CacheOptions {
            max_bytes: Some(1),
            policy: Policy {
                weight: EntryWeight::Payload,
                ..Policy::DEFAULT
            },
            ..CacheOptions::default()
        })
        .map(|c| c.bytes()),
        Ok(0)
    );
    assert!(Cache::new(opts(None, Some(1), None)).is_err());
    // ttl_autopurge is checked in a_policy_can_keep_the_figures_of_lru_cache; without it a
    // TTL-only cache keeps what it is never asked about.
    let mut c = Cache::with_clock(opts(None, None, Some(5.0)), clock.clone()).unwrap();
    for i in 0..200 {
        c.set(&format!("k{i}"), "v", None).unwrap();
        clock.advance_ms(1);
    }
    assert_eq!(c.len(), 200);
}
