//! The parts of `lru-cache` 11's semantics that the cache keeps in its own terms: byte keys,
//! stale entries under [`ReadOptions`], `delete` of an expired entry under the [`Policy`] that
//! adds up to `lru-cache`'s behaviour, and restarting the TTL on `has`.

use std::sync::Arc;

use ultra_core::cache::{
    Cache, CacheError, CacheOptions, EntryWeight, ManualClock, Policy, ReadOptions, RemainingTtl,
    Value,
};

/// The choices that add up to `lru-cache`'s figures (those the Node API makes, but weighing
/// entries by payload as `lru-cache`'s `sizeCalculation` of a length would).
const LRU_CACHE: Policy = Policy {
    weight: EntryWeight::Payload,
    count_peeks: false,
    peeks_remove_stale: false,
    delete_stale_is_eviction: false,
    count_refusals: true,
    ttl_autopurge: true,
};

fn lru_ttl(ttl_ms: f64, clock: &Arc<ManualClock>) -> Cache {
    Cache::with_clock(
        CacheOptions {
            max_entries: Some(10),
            ttl_ms: Some(ttl_ms),
            policy: LRU_CACHE,
            ..CacheOptions::default()
        },
        clock.clone(),
    )
    .expect("valid options")
}

fn keys(c: &Cache) -> Vec<Vec<u8>> {
    c.keys().map(<[u8]>::to_vec).collect()
}

const STALE_ONCE: ReadOptions = ReadOptions {
    allow_stale: true,
    update_age: false,
    keep_stale: false,
};
const STALE_KEPT: ReadOptions = ReadOptions {
    allow_stale: true,
    update_age: false,
    keep_stale: true,
};
const KEEP_ONLY: ReadOptions = ReadOptions {
    allow_stale: false,
    update_age: false,
    keep_stale: true,
};

#[test]
fn keys_are_bytes_and_distinct_byte_strings_are_distinct_keys() {
    // The WTF-8 encodings of U+D800, U+DC00 and U+FFFD, and arbitrary bytes.
    let ks: [&[u8]; 5] = [
        b"\xED\xA0\x80",
        b"\xED\xB0\x80",
        "\u{FFFD}".as_bytes(),
        b"\xFF",
        b"",
    ];
    let mut c = Cache::new(CacheOptions {
        max_entries: Some(10),
        ..CacheOptions::default()
    })
    .unwrap();
    for (i, k) in ks.iter().enumerate() {
        c.set(*k, i.to_string().as_str(), None).unwrap();
    }
    assert_eq!(c.len(), ks.len());
    for (i, k) in ks.iter().enumerate() {
        assert_eq!(c.get(*k), Some(Value::str(&i.to_string())));
    }
    // `&str` keys are their UTF-8 bytes.
    c.set("\u{FFFD}", "str", None).unwrap();
    assert_eq!(c.get("\u{FFFD}".as_bytes()), Some(Value::str("str")));
    assert_eq!(c.len(), ks.len());
}

#[test]
fn a_stale_get_is_a_miss_that_may_serve_the_value_once_or_keep_it() {
    let clock = Arc::new(ManualClock::new());
    let mut c = lru_ttl(10.0, &clock);
    c.set("a", "1", None).unwrap();
    c.set("b", "2", None).unwrap();
    c.set("c", "3", Some(0.0)).unwrap(); // never expires
    clock.advance_ms(10);

    // Without allow_stale and with keep_stale: a miss, the entry stays where it was.
    assert_eq!(c.get_with_options("a", KEEP_ONLY, Value::clone), None);
    assert_eq!(keys(&c), [b"c".to_vec()], "keys() lists live entries only");
    assert_eq!(c.len(), 3);
    // Served and kept, as often as asked, without moving.
    for _ in 0..3 {
        assert_eq!(
            c.get_with_options("a", STALE_KEPT, Value::clone),
            Some(Value::str("1"))
        );
    }
    assert_eq!(c.len(), 3);
    // Served once, then removed (an expired eviction).
    assert_eq!(
        c.get_with_options("a", STALE_ONCE, Value::clone),
        Some(Value::str("1"))
    );
    assert_eq!(c.get_with_options("a", STALE_ONCE, Value::clone), None);
    assert_eq!(c.len(), 2);
    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.evictions_expired), (0, 6, 1));
    // The default read options: a miss, removed.
    assert_eq!(c.get("b"), None);
    assert_eq!((c.len(), c.stats().evictions_expired), (1, 2));
    // A live entry read with keep_stale is still promoted.
    assert_eq!(
        c.get_with_options("c", KEEP_ONLY, Value::clone),
        Some(Value::str("3"))
    );
    assert_eq!(c.stats().hits, 1);
}

#[test]
fn keep_stale_leaves_the_recency_order_alone_and_promotes_live_hits() {
    let clock = Arc::new(ManualClock::new());
    let mut c = Cache::with_clock(
        CacheOptions {
            max_entries: Some(3),
            policy: LRU_CACHE,
            ..CacheOptions::default()
        },
        clock.clone(),
    )
    .unwrap();
    c.set("old", "x", Some(5.0)).unwrap();
    c.set("mid", "y", None).unwrap();
    c.set("new", "z", None).unwrap();
    clock.advance_ms(5);
    // A stale read of "old" does not make it the most recent: it is still the first evicted.
    assert!(c
        .get_with_options("old", STALE_KEPT, Value::clone)
        .is_some());
    assert!(c.get_with_options("mid", KEEP_ONLY, Value::clone).is_some()); // promoted
    c.set("4th", "w", None).unwrap();
    assert!(c
        .peek_with_options("old", STALE_KEPT, Value::clone)
        .is_none());
    assert_eq!(
        keys(&c),
        [b"4th".to_vec(), b"mid".to_vec(), b"new".to_vec()]
    );
    assert_eq!(
        c.stats().evictions_expired,
        1,
        "the stale victim counts as expired"
    );
}

#[test]
fn peek_serves_stale_values_on_request_and_never_removes_under_lru_cache() {
    let clock = Arc::new(ManualClock::new());
    let mut c = lru_ttl(10.0, &clock);
    c.set("k", "v", None).unwrap();
    clock.advance_ms(10);
    assert_eq!(c.peek("k"), None);
    assert_eq!(
        c.peek_with_options("k", STALE_ONCE, Value::clone),
        Some(Value::str("v"))
    );
    assert_eq!(c.len(), 1);
    assert!(!c.has("k"));
    assert_eq!(c.stats().evictions_expired, 0);
    // Under the default policy a stale peek removes the entry unless keep_stale.
    let mut m = Cache::with_clock(
        CacheOptions {
            ttl_ms: Some(10.0),
            ..CacheOptions::default()
        },
        clock.clone(),
    )
    .unwrap();
    m.set("k", "v", None).unwrap();
    clock.advance_ms(10);
    assert!(m.peek_with_options("k", STALE_KEPT, Value::clone).is_some());
    assert_eq!(m.len(), 1);
    assert!(m.peek_with_options("k", STALE_ONCE, Value::clone).is_some());
    assert_eq!((m.len(), m.stats().evictions_expired), (0, 1));
}

#[test]
fn delete_of_an_expired_entry_answers_as_lru_cache_does() {
    let clock = Arc::new(ManualClock::new());
    let mut c = lru_ttl(10.0, &clock);
    c.set("k", "v", None).unwrap();
    clock.advance_ms(10);
    assert!(c.delete("k"), "lru-cache: true, the key was there");
    assert!(!c.delete("k"));
    assert_eq!((c.len(), c.stats().evictions_expired), (0, 0));
    // The default policy keeps "a live entry was removed".
    let mut m = Cache::with_clock(
        CacheOptions {
            ttl_ms: Some(10.0),
            ..CacheOptions::default()
        },
        clock.clone(),
    )
    .unwrap();
    m.set("k", "v", None).unwrap();
    clock.advance_ms(10);
    assert!(!m.delete("k"));
    assert_eq!(m.stats().evictions_expired, 1);
}

#[test]
fn has_with_update_age_restarts_a_live_ttl_only() {
    let clock = Arc::new(ManualClock::new());
    let mut c = lru_ttl(100.0, &clock);
    c.set("k", "v", None).unwrap();
    clock.advance_ms(60);
    assert!(c.has("k"));
    assert_eq!(
        c.remaining_ttl("k"),
        Some(RemainingTtl::Expires(std::time::Duration::from_millis(40)))
    );
    assert!(c.has_with_options("k", true));
    assert_eq!(
        c.remaining_ttl("k"),
        Some(RemainingTtl::Expires(std::time::Duration::from_millis(100)))
    );
    clock.advance_ms(100);
    assert!(
        !c.has_with_options("k", true),
        "a stale entry is not revived"
    );
    assert_eq!(c.remaining_ttl("k"), None);
}

#[test]
fn an_entry_above_max_entry_bytes_is_refused_and_evicts_nothing() {
    let mut c = Cache::new(CacheOptions {
        max_entries: Some(3),
        max_bytes: Some(100),
        max_entry_bytes: Some(10),
        policy: LRU_CACHE,
        ..CacheOptions::default()
    })
    .unwrap();
    c.set("a", "123456789", None).unwrap(); // 10 bytes: fits
    c.set("b", "1", None).unwrap();
    c.set("c", "2", None).unwrap();
    let e = c.set("big", "x".repeat(50).as_str(), None).unwrap_err();
    assert!(
        matches!(
            e,
            CacheError::EntryTooLarge {
                weight: 53,
                max_bytes: 10,
                overhead: 0
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("max_entry_bytes"), "{e}");
    assert_eq!(
        keys(&c),
        [b"c".to_vec(), b"b".to_vec(), b"a".to_vec()],
        "nothing evicted"
    );
    let s = c.stats();
    assert_eq!(
        (s.evictions_capacity, s.evictions_size),
        (0, 1),
        "the refusal is counted"
    );
    // Replacing a key with a too-large value removes its old value, and only that.
    assert!(c.set("a", "1234567890", None).is_err());
    assert_eq!(keys(&c), [b"c".to_vec(), b"b".to_vec()]);
    // max_entry_bytes above max_bytes changes nothing; below the smallest entry it is refused.
    let mut wide = Cache::new(CacheOptions {
        max_bytes: Some(10),
        max_entry_bytes: Some(1000),
        policy: LRU_CACHE,
        ..CacheOptions::default()
    })
    .unwrap();
    assert!(wide.set("k", "x".repeat(20).as_str(), None).is_err());
    assert!(matches!(
        Cache::new(CacheOptions {
            max_entries: Some(1),
            max_entry_bytes: Some(50),
            ..CacheOptions::default()
        })
        .unwrap_err(),
        CacheError::MaxEntryBytesTooSmall { .. }
    ));
    // 0 means no entry bound, and max_entry_bytes alone is no bound of the cache.
    assert!(Cache::new(CacheOptions {
        max_entries: Some(1),
        max_entry_bytes: Some(0),
        ..CacheOptions::default()
    })
    .is_ok());
    assert_eq!(
        Cache::new(CacheOptions {
            max_entry_bytes: Some(1000),
            ..CacheOptions::default()
        })
        .unwrap_err(),
        CacheError::NoBound
    );
}

#[test]
fn the_cache_read_options_are_the_default_of_every_look_up() {
    let clock = Arc::new(ManualClock::new());
    let mut c = Cache::with_clock(
        CacheOptions {
            max_entries: Some(10),
            ttl_ms: Some(10.0),
            allow_stale: true,
            keep_stale: true,
            policy: LRU_CACHE,
            ..CacheOptions::default()
        },
        clock.clone(),
    )
    .unwrap();
    c.set("k", "v", None).unwrap();
    clock.advance_ms(10);
    assert_eq!(c.get("k"), Some(Value::str("v")));
    assert_eq!(c.get("k"), Some(Value::str("v")));
    assert_eq!(c.peek("k"), Some(Value::str("v")));
    assert!(!c.has("k"), "has never answers true for a stale entry");
    assert_eq!(c.len(), 1);
    // Per-call options override them.
    assert_eq!(
        c.get_with_options("k", ReadOptions::default(), Value::clone),
        None
    );
    assert_eq!(c.len(), 0);
}

#[test]
fn entries_show_recency_ttl_and_age_and_set_aged_restores_them() {
    let clock = Arc::new(ManualClock::new());
    let mut c = lru_ttl(100.0, &clock);
    c.set("a", "1", None).unwrap();
    clock.advance_ms(30);
    c.set("b", &b"\x00\x01"[..], Some(0.0)).unwrap();
    c.set("c", "3", Some(20.0)).unwrap();
    c.get("a"); // a is now the most recent
    clock.advance_ms(20); // c is stale
    let seen: Vec<_> = c
        .entries(true)
        .map(|e| (e.key.to_vec(), e.value.clone(), e.ttl, e.age, e.stale))
        .collect();
    let ms = std::time::Duration::from_millis;
    assert_eq!(
        seen,
        [
            (b"a".to_vec(), Value::str("1"), Some(ms(100)), ms(50), false),
            (b"c".to_vec(), Value::str("3"), Some(ms(20)), ms(20), true),
            (b"b".to_vec(), Value::bytes(b"\x00\x01"), None, ms(0), false),
        ]
    );
    assert_eq!(c.entries(false).count(), 2, "stale entries only on request");
    // Restored least recent first into another cache, with the same ages: the same entries.
    let mut d = lru_ttl(100.0, &clock);
    for e in seen.iter().rev() {
        let ttl_ms = Some(e.2.map_or(0.0, |t| t.as_secs_f64() * 1e3));
        d.set_aged(&e.0, &e.1, ttl_ms, e.3).unwrap();
    }
    let again: Vec<_> = d
        .entries(true)
        .map(|e| (e.key.to_vec(), e.value.clone(), e.ttl, e.age, e.stale))
        .collect();
    assert_eq!(again, seen);
    assert_eq!(d.remaining_ttl("a"), Some(RemainingTtl::Expires(ms(50))));
    assert_eq!(d.get("c"), None, "restored stale");
}
