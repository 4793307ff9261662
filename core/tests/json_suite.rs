//! `ultra_core::json` against JSONTestSuite (`y_*` accepted, `n_*` rejected, `i_*` as the
//! module docs say), RFC 6901, serde_json, and its own limits.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Value};
use ultra_core::json::{self, Json, JsonError, JsonErrorKind, JsonLimits};

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/jsontestsuite/test_parsing"
);

/// The module's source, whose docs hold the table of `i_*` outcomes.
const JSON_RS: &str = include_str!("../src/json.rs");

/// The common verdict of all entry points; a rejection carries the error's message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Rejected(String),
}

impl Outcome {
    /// The table row for file `name`.
    fn row(&self, name: &str) -> String {
        match self {
            Outcome::Accepted => format!("//! | `{name}` | accepted | |"),
            Outcome::Rejected(why) => format!("//! | `{name}` | rejected | {why} |"),
        }
    }
}

/// Runs one input through every entry point and checks they agree with each other and leave
/// the input alone. Returns the common verdict.
fn run_all(name: &str, input: &[u8]) -> Outcome {
    let copy = input.to_vec();
    let validated = json::validate(input);
    let parsed = json::parse(input);
    let minified = json::minify(input);
    let whole = json::pointer(input, "");
    let whole_value = json::pointer_value(input, "");
    assert_eq!(input, &copy[..], "{name}: caller's bytes changed");

    match (&validated, &parsed, &minified) {
        (Ok(()), Ok(value), Ok(min)) => {
            // the minified document is valid, minimal, and means the same
            assert_eq!(
                json::minify(min).as_ref(),
                Ok(min),
                "{name}: minify is idempotent"
            );
            assert_eq!(
                json::parse(min).as_ref(),
                Ok(value),
                "{name}: minify changed meaning"
            );
            assert!(
                min.iter().filter(|b| b.is_ascii_whitespace()).count()
                    <= input.iter().filter(|b| b.is_ascii_whitespace()).count()
            );
            assert_eq!(
                whole.as_ref(),
                Ok(&Some(min.clone())),
                "{name}: pointer \"\""
            );
            assert_eq!(whole_value.as_ref(), Ok(&Some(value.clone())), "{name}");
            Outcome::Accepted
        }
        (Err(v), Err(p), Err(m)) => {
            for e in [v, p, m] {
                check_error_shape(name, input, e);
            }
            assert_eq!(v, p, "{name}: validate and parse disagree");
            assert_eq!(v, m, "{name}: validate and minify disagree");
            assert_eq!(whole.as_ref().err(), Some(v), "{name}: pointer disagrees");
            assert_eq!(whole_value.as_ref().err(), Some(v), "{name}");
            Outcome::Rejected(v.message().replace('|', "\\|"))
        }
        _ => panic!(
            "{name}: entry points disagree: validate {validated:?}, parse {:?}, minify {:?}",
            parsed.map(|_| ()),
            minified.map(|_| ())
        ),
    }
}

fn check_error_shape(name: &str, input: &[u8], e: &JsonError) {
    let msg = e.message();
    assert!(!msg.is_empty(), "{name}: empty message");
    assert!(
        !msg.starts_with(|c: char| c.is_ascii_uppercase()),
        "{name}: message not lowercase: {msg}"
    );
    if let Some(offset) = e.offset() {
        assert!(
            offset <= input.len(),
            "{name}: offset {offset} past the end"
        );
        assert!(
            e.to_string().ends_with(&format!(" at byte {offset}")),
            "{e}"
        );
    }
}

/// Every file of the suite, read in order of name.
fn suite_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(SUITE)
        .unwrap_or_else(|e| panic!("reading {SUITE}: {e} (testdata/ holds the vendored oracles)"))
        .map(|entry| {
            let path = entry.expect("dir entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&path).expect("readable file");
            (name, bytes)
        })
        .filter(|(name, _)| name.ends_with(".json"))
        .collect();
    files.sort();
    files
}

/// The `i_*` table in the `json` module docs.
fn documented_i_outcomes() -> BTreeMap<String, Outcome> {
    JSON_RS
        .lines()
        .filter_map(|line| {
            let row = line.strip_prefix("//! | `i_")?;
            let (name, rest) = row.split_once("` | ")?;
            let outcome = match rest.trim_end_matches('|').trim().split_once(" | ") {
                Some(("accepted", "")) | None if rest.starts_with("accepted") => Outcome::Accepted,
                Some(("rejected", why)) => Outcome::Rejected(why.to_owned()),
                _ => panic!("bad row {line:?} in the docs' table"),
            };
            Some((format!("i_{name}"), outcome))
        })
        .collect()
}

/// Runs the whole suite on a worker thread; a file that takes more than 30 s is a hang, a
/// panic is reported with the file's name.
#[test]
fn json_test_suite() {
    let files = suite_files();
    assert!(
        files.len() >= 318,
        "expected the whole suite, found {}",
        files.len()
    );
    let (tx, rx) = mpsc::channel::<(String, Result<Outcome, String>)>();
    let worker = std::thread::spawn(move || {
        for (name, bytes) in files {
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| run_all(&name, &bytes)))
                .map_err(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                });
            if tx.send((name, result)).is_err() {
                return;
            }
        }
    });
    let mut outcomes = BTreeMap::new();
    let mut failures = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok((name, Ok(outcome))) => {
                let wrong = match &name[..2] {
                    "y_" => outcome != Outcome::Accepted,
                    "n_" => outcome == Outcome::Accepted,
                    _ => false,
                };
                if wrong {
                    failures.push(format!("{name}: {outcome:?}"));
                }
                outcomes.insert(name, outcome);
            }
            Ok((name, Err(panic))) => failures.push(format!("{name}: panicked: {panic}")),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!(
                    "no result for 30 s after {:?}: hang",
                    outcomes.keys().last()
                )
            }
        }
    }
    worker.join().expect("worker thread");
    assert!(
        failures.is_empty(),
        "suite failures:\n{}",
        failures.join("\n")
    );

    let count = |p: &str| outcomes.keys().filter(|n| n.starts_with(p)).count();
    assert_eq!((count("y_"), count("n_")), (95, 188));

    let actual: BTreeMap<String, Outcome> = outcomes
        .iter()
        .filter(|(n, _)| n.starts_with("i_"))
        .map(|(n, o)| (n.clone(), o.clone()))
        .collect();
    let table: String = actual.iter().map(|(n, o)| o.row(n) + "\n").collect();
    assert_eq!(
        documented_i_outcomes(),
        actual,
        "the i_* table in core/src/json.rs is out of date; the current outcomes are:\n{table}"
    );
}

/// Exact equality, except that floats may differ by one unit in the last place (serde_json's
/// default float parsing is not always correctly rounded; simd-json's is).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || x.to_bits().abs_diff(y.to_bits()) <= 1,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && same_value(vx, vy))
        }
        _ => a == b,
    }
}

#[test]
fn agrees_with_serde_json_on_the_suite() {
    for (name, bytes) in suite_files() {
        let ours = json::parse(&bytes);
        let theirs = serde_json::from_slice::<Value>(&bytes);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) if name.starts_with("y_") => assert_eq!(a, b, "{name}"),
            (Ok(a), Ok(b)) => assert!(same_value(a, b), "{name}: {a} vs {b}"),
            (Err(_), Err(_)) => {}
            // serde_json stops at 128 levels of nesting; we allow 1024.
            (Ok(_), Err(e)) if name == "i_structure_500_nested_arrays.json" => {
                assert!(e.to_string().contains("recursion limit"), "{e}")
            }
            _ => panic!(
                "{name}: ours {:?}, serde_json {:?}",
                ours.is_ok(),
                theirs.is_ok()
            ),
        }
    }
}

#[test]
fn error_offsets_and_messages() {
    let cases: &[(&[u8], JsonErrorKind, Option<usize>, &str)] = &[
        (
            b"",
            JsonErrorKind::Syntax,
            Some(0),
            "unexpected end of input",
        ),
        (
            b"   ",
            JsonErrorKind::Syntax,
            Some(3),
            "unexpected end of input",
        ),
        (
            br#"{"a": tru}"#,
            JsonErrorKind::Syntax,
            Some(6),
            "invalid literal",
        ),
        (b"[1,]", JsonErrorKind::Syntax, Some(3), "expected a value"),
        (
            b"[1 2]",
            JsonErrorKind::Syntax,
            Some(3),
            "expected ',' or ']'",
        ),
        (
            br#"{"a" 1}"#,
            JsonErrorKind::Syntax,
            Some(5),
            "expected ':' after an object key",
        ),
        (
            br#"{"a":1,}"#,
            JsonErrorKind::Syntax,
            Some(7),
            "expected a string key",
        ),
        (
            b"[1] x",
            JsonErrorKind::Syntax,
            Some(4),
            "trailing characters after the document",
        ),
        (
            b"01",
            JsonErrorKind::Syntax,
            Some(0),
            "invalid number: leading zero",
        ),
        (
            br#"["abc"#,
            JsonErrorKind::Syntax,
            Some(5),
            "unexpected end of input",
        ),
        (
            b"[\"a\x01\"]",
            JsonErrorKind::Syntax,
            Some(3),
            "control character in string",
        ),
        (
            br#"["\x"]"#,
            JsonErrorKind::Syntax,
            Some(2),
            "invalid escape",
        ),
        (
            br#"["\ud800"]"#,
            JsonErrorKind::Utf8,
            Some(2),
            "unpaired surrogate in \\u escape",
        ),
        (
            b"[\"ok\", \"\xff\"]",
            JsonErrorKind::Utf8,
            Some(8),
            "invalid utf-8",
        ),
        (
            b"[1e400]",
            JsonErrorKind::NumberOutOfRange,
            Some(1),
            "number out of range",
        ),
    ];
    for &(input, kind, offset, message) in cases {
        let shown = String::from_utf8_lossy(input);
        let e = json::validate(input).expect_err(&shown);
        assert_eq!(
            (e.kind(), e.offset(), e.message()),
            (kind, offset, message),
            "{shown}"
        );
        match offset {
            Some(at) => assert_eq!(e.to_string(), format!("{message} at byte {at}")),
            None => assert_eq!(e.to_string(), message),
        }
    }
    assert_eq!(JsonErrorKind::TooDeep.name(), "too_deep");
    assert_eq!(JsonErrorKind::InvalidPointer.to_string(), "invalid_pointer");
}

#[test]
fn depth_limit() {
    let nested = |depth: usize| {
        let mut doc = "[".repeat(depth);
        doc.push_str(&"]".repeat(depth));
        doc.into_bytes()
    };
    // exactly the default limit passes, one more fails
    assert!(json::validate(&nested(1024)).is_ok());
    assert!(json::parse(&nested(1024)).is_ok());
    let e = json::validate(&nested(1025)).expect_err("too deep");
    assert_eq!(e.kind(), JsonErrorKind::TooDeep);
    assert_eq!(e.offset(), Some(1024));
    assert_eq!(e.message(), "nesting deeper than 1024 levels");

    // 100 000 levels, open only, closed, and as objects: an error, never a stack overflow
    let open = vec![b'['; 100_000];
    let closed = nested(100_000);
    let objects = r#"{"a":"#.repeat(100_000).into_bytes();
    for doc in [&open, &closed, &objects] {
        for e in [
            json::validate(doc).expect_err("deep"),
            json::parse(doc).expect_err("deep"),
            json::minify(doc).expect_err("deep"),
            json::pointer(doc, "/0").expect_err("deep"),
        ] {
            assert_eq!(e.kind(), JsonErrorKind::TooDeep, "{e}");
        }
    }

    // a configured limit; and a limit raised far enough that 100 000 levels are fine for the
    // iterative paths (parse is left out: the caller would drop a 100 000-deep Value)
    let shallow = Json::new(JsonLimits {
        max_depth: 3,
        ..JsonLimits::default()
    });
    assert!(shallow.validate(br#"[{"a":[1]}]"#).is_ok());
    assert_eq!(
        shallow.validate(br#"[{"a":[[]]}]"#).map_err(|e| e.kind()),
        Err(JsonErrorKind::TooDeep)
    );
    assert!(Json::new(JsonLimits {
        max_depth: 0,
        ..JsonLimits::default()
    })
    .validate(b"42")
    .is_ok());
    let deep = Json::new(JsonLimits {
        max_depth: usize::MAX,
        ..JsonLimits::default()
    });
    assert!(deep.validate(&closed).is_ok());
    assert_eq!(deep.minify(&closed).as_ref(), Ok(&closed));
    let mut path = "/0".repeat(99_999);
    assert_eq!(deep.pointer(&closed, &path), Ok(Some(b"[]".to_vec())));
    path.push_str("/0");
    assert_eq!(deep.pointer(&closed, &path), Ok(None));
    assert_eq!(
        deep.validate(&open).map_err(|e| e.kind()),
        Err(JsonErrorKind::Syntax)
    );
}

#[test]
fn size_limit() {
    let limited = Json::new(JsonLimits {
        max_input_bytes: 10,
        ..JsonLimits::default()
    });
    assert!(limited.validate(b"[1,2,3,45]").is_ok());
    let e = limited.validate(b"[1,2,3,456]").expect_err("too large");
    assert_eq!(e.kind(), JsonErrorKind::TooLarge);
    assert_eq!(e.offset(), None);
    assert_eq!(
        e.to_string(),
        "input of 11 bytes exceeds the limit of 10 bytes"
    );
    assert_eq!(
        limited.pointer(b"[1,2,3,456]", "/0").map_err(|e| e.kind()),
        Err(JsonErrorKind::TooLarge)
    );
    assert_eq!(JsonLimits::default().max_input_bytes, 64 << 20);
    assert_eq!(JsonLimits::default().max_depth, 1024);
    assert_eq!(Json::default().limits(), JsonLimits::DEFAULT);
    // a big document within the default limit
    let big = serde_json::to_vec(&vec![json!({"k": "v", "n": [1, 2.5, null]}); 100_000])
        .expect("serialise");
    assert!(big.len() > 2 << 20);
    assert_eq!(json::minify(&big).as_ref(), Ok(&big));
}

/// RFC 6901, section 5.
#[test]
fn rfc6901_examples() {
    let doc = br#"{
      "foo": ["bar", "baz"],
      "": 0,
      "a/b": 1,
      "c%d": 2,
      "e^f": 3,
      "g|h": 4,
      "i\\j": 5,
      "k\"l": 6,
      " ": 7,
      "m~n": 8
   }"#;
    let value: Value = serde_json::from_slice(doc).expect("valid");
    let cases: &[(&str, &str)] = &[
        ("", ""),
        ("/foo", r#"["bar","baz"]"#),
        ("/foo/0", r#""bar""#),
        ("/", "0"),
        ("/a~1b", "1"),
        ("/c%d", "2"),
        ("/e^f", "3"),
        ("/g|h", "4"),
        ("/i\\j", "5"),
        ("/k\"l", "6"),
        ("/ ", "7"),
        ("/m~0n", "8"),
    ];
    for &(ptr, expected) in cases {
        let bytes = json::pointer(doc, ptr).expect("valid").expect("present");
        if ptr.is_empty() {
            assert_eq!(bytes, json::minify(doc).expect("valid"));
        } else {
            assert_eq!(String::from_utf8_lossy(&bytes), expected, "{ptr}");
        }
        let v = json::pointer_value(doc, ptr).expect("valid");
        assert_eq!(v.as_ref(), value.pointer(ptr), "{ptr}");
    }
}

#[test]
fn pointer_details() {
    let doc = br#" { "a" : { "b" : [ 10 , { "c" : "x y" } , [ ] , -0 ] } ,
        "dup" : 1 , "dup" : { "last" : true } , "esc\u002fkey" : "s" , "~1" : "tilde-one",
        "n" : null , "num" : 1.50e+2 } "#;
    let get =
        |p: &str| json::pointer(doc, p).map(|o| o.map(|b| String::from_utf8(b).expect("utf8")));
    let some = |s: &str| Ok(Some(s.to_owned()));
    assert_eq!(get("/a/b/1/c"), some(r#""x y""#));
    assert_eq!(get("/a/b/1"), some(r#"{"c":"x y"}"#));
    assert_eq!(get("/a/b/2"), some("[]"));
    assert_eq!(get("/a/b/3"), some("-0"));
    assert_eq!(get("/a/b/0"), some("10"));
    assert_eq!(get("/num"), some("1.50e+2"), "numbers keep their spelling");
    assert_eq!(get("/n"), some("null"));
    // the last of duplicated keys wins, as in parse
    assert_eq!(get("/dup"), some(r#"{"last":true}"#));
    assert_eq!(get("/dup/last"), some("true"));
    // keys are compared unescaped; pointer escapes are decoded once (~01 is "~1")
    assert_eq!(get("/esc~1key"), some(r#""s""#));
    assert_eq!(get("/~01"), some(r#""tilde-one""#));
    // absent values
    for p in [
        "/a/b/4",
        "/a/b/-",
        "/a/b/01",
        "/a/b/+1",
        "/a/b/1e0",
        "/a/b/x",
        "/a/b/0/0",
        "/zz",
        "/n/x",
        "/a/b/99999999999999999999999",
        "/a/",
        "//",
    ] {
        assert_eq!(get(p), Ok(None), "{p}");
    }
    // malformed pointers
    for p in ["a", "a/b", "/~", "/~2", "/a~", "/x/~x"] {
        let e = json::pointer(doc, p).expect_err(p);
        assert_eq!(e.kind(), JsonErrorKind::InvalidPointer, "{p}");
        assert_eq!(e.offset(), None);
        assert_eq!(
            json::pointer_value(doc, p).map_err(|e| e.kind()),
            Err(JsonErrorKind::InvalidPointer)
        );
    }
    // the pointer is checked before the document
    assert_eq!(
        json::pointer(b"{", "x").map_err(|e| e.kind()),
        Err(JsonErrorKind::InvalidPointer)
    );
    assert_eq!(
        json::pointer(b"{", "/x").map_err(|e| e.kind()),
        Err(JsonErrorKind::Syntax)
    );
    // values
    assert_eq!(json::pointer_value(doc, "/a/b/3"), Ok(Some(json!(-0.0))));
    assert_eq!(json::pointer_value(doc, "/num"), Ok(Some(json!(150.0))));
    assert_eq!(
        json::pointer_value(doc, "/a/b/1"),
        Ok(Some(json!({"c": "x y"})))
    );
    assert_eq!(json::pointer_value(doc, "/nope"), Ok(None));
    // scalars at the top
    assert_eq!(
        json::pointer(b" \"top\" ", ""),
        Ok(Some(br#""top""#.to_vec()))
    );
    assert_eq!(json::pointer(b" 12 ", "/0"), Ok(None));
}

#[test]
fn minify_keeps_everything_but_whitespace() {
    let doc = b" { \"a b\" : [ 1 , 2.0e-3 , \"\\\" \\\\ \\u00e9 \\n\" , true , false , null ] ,\r\n\t\"\xc3\xa9\" : { } } \n";
    let min = json::minify(doc).expect("valid");
    assert_eq!(
        min,
        b"{\"a b\":[1,2.0e-3,\"\\\" \\\\ \\u00e9 \\n\",true,false,null],\"\xc3\xa9\":{}}".to_vec()
    );
    assert_eq!(json::minify(b" 7 "), Ok(b"7".to_vec()));
    assert_eq!(json::minify(b"\"  \""), Ok(b"\"  \"".to_vec()));
}

#[test]
fn parse_values() {
    let v = json::parse(
        br#"{"i": -5, "u": 18446744073709551615, "f": 0.5, "z": -0, "big": 1e300,
        "huge_int": 123456789012345678901234567890, "s": "\u00e9\ud83d\ude00", "a": [[], {}]}"#,
    )
    .expect("valid");
    assert_eq!(v["i"], json!(-5));
    assert_eq!(v["u"], json!(u64::MAX));
    assert_eq!(v["f"], json!(0.5));
    assert!(v["z"]
        .as_f64()
        .is_some_and(|z| z == 0.0 && z.is_sign_negative()));
    assert_eq!(v["big"], json!(1e300));
    assert_eq!(v["huge_int"], json!(1.2345678901234568e29));
    assert_eq!(v["s"], json!("é😀"));
    assert_eq!(v["a"], json!([[], {}]));
    assert_eq!(json::parse(b"[1, 2]"), Ok(json!([1, 2])));
    assert_eq!(json::parse(br#"{"k": 1, "k": 2}"#), Ok(json!({"k": 2})));
}

#[test]
fn caller_bytes_are_never_changed() {
    // escapes are what simd-json rewrites in place
    let docs: [&[u8]; 4] = [
        br#"{"a\nb": "c\"d\\e\u00e9\ud83d\ude00", "x": ["\t", "\/"]}"#,
        br#"["\u0041\u0042", "plain", 1.5, -0]"#,
        br#"{"bad": "\u00zz"}"#,
        b"\"\xff\"",
    ];
    for doc in docs {
        let copy = doc.to_vec();
        let _ = json::validate(doc);
        let _ = json::parse(doc);
        let _ = json::minify(doc);
        let _ = json::pointer(doc, "/a\nb");
        let _ = json::pointer_value(doc, "/0");
        assert_eq!(doc, &copy[..]);
    }
}

#[test]
fn buffers_come_from_the_pool() {
    let pool = json::pool();
    let before = pool.stats();
    json::validate(br#"{"a": [1, 2, 3]}"#).expect("valid");
    let after = pool.stats();
    assert!(after.hits + after.misses > before.hits + before.misses);
    // the buffer went back: at least one idle buffer exists now (other tests may hold some)
    assert!(after.idle >= 1 || after.in_use >= 1);
}

/// Any JSON value serde_json can write.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z~/ ]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z~/ ]{0,4}|\\PC{0,4}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `compact` with random whitespace around every structural character.
fn add_whitespace(compact: &[u8], noise: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(compact.len() * 2);
    let mut noise = noise.iter().cycle();
    let mut ws = |out: &mut Vec<u8>| {
        let n = noise.next().copied().unwrap_or(0);
        for i in 0..n % 4 {
            out.push(b" \t\n\r"[usize::from((n >> (2 + i)) % 4)]);
        }
    };
    let (mut in_string, mut escaped) = (false, false);
    ws(&mut out);
    for &b in compact {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b"{}[],:".contains(&b) {
            ws(&mut out);
            out.push(b);
            ws(&mut out);
        } else {
            in_string = b == b'"';
            out.push(b);
        }
    }
    ws(&mut out);
    out
}

/// Every pointer into `v`, up to `max` of them.
fn all_pointers(v: &Value, prefix: String, out: &mut Vec<String>, max: usize) {
    if out.len() >= max {
        return;
    }
    out.push(prefix.clone());
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                all_pointers(item, format!("{prefix}/{i}"), out, max);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let token = k.replace('~', "~0").replace('/', "~1");
                all_pointers(item, format!("{prefix}/{token}"), out, max);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn minify_round_trips(value in arb_json(), noise in prop::collection::vec(any::<u8>(), 1..64)) {
        let compact = serde_json::to_vec(&value).expect("serialise");
        let pretty = serde_json::to_vec_pretty(&value).expect("serialise");
        let noisy = add_whitespace(&compact, &noise);
        for doc in [&compact, &pretty, &noisy] {
            let copy = doc.clone();
            let min = json::minify(doc).expect("valid");
            // serde_json's compact form is exactly the minified document
            prop_assert_eq!(&min, &compact);
            let reparsed: Value = serde_json::from_slice(&min).expect("valid");
            let original: Value = serde_json::from_slice(doc).expect("valid");
            prop_assert_eq!(reparsed, original);
            // and parse gives back the value itself (floats are parsed correctly rounded)
            prop_assert_eq!(json::parse(doc).expect("valid"), value.clone());
            prop_assert!(json::validate(doc).is_ok());
            prop_assert_eq!(doc, &copy);
        }
    }

    #[test]
    fn pointers_agree_with_serde_json(value in arb_json(), noise in prop::collection::vec(any::<u8>(), 1..64)) {
        let compact = serde_json::to_vec(&value).expect("serialise");
        let noisy = add_whitespace(&compact, &noise);
        let mut pointers = Vec::new();
        all_pointers(&value, String::new(), &mut pointers, 200);
        for p in &pointers {
            let expected = value.pointer(p);
            let got = json::pointer_value(&noisy, p).expect("valid");
            prop_assert_eq!(got.as_ref(), expected);
            let bytes = json::pointer(&noisy, p).expect("valid");
            prop_assert_eq!(bytes, expected.map(|v| serde_json::to_vec(v).expect("serialise")));
        }
        // one step past every leaf designates nothing
        for p in &pointers {
            let past = format!("{p}/0");
            let got = json::pointer_value(&noisy, &past).expect("valid");
            prop_assert_eq!(got.as_ref(), value.pointer(&past));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let copy = bytes.clone();
        let v = json::validate(&bytes);
        prop_assert_eq!(v.is_ok(), serde_json::from_slice::<Value>(&bytes).is_ok());
        let _ = json::parse(&bytes);
        let _ = json::minify(&bytes);
        let _ = json::pointer(&bytes, "/0/a");
        prop_assert_eq!(bytes, copy);
    }

    #[test]
    fn json_like_bytes_agree_with_serde_json(bytes in prop::collection::vec(
        prop::sample::select(b"{}[],:\"\\ 0123456789-+.eEtrufalsn\nx\x01".to_vec()), 0..48)
    ) {
        let ours = json::validate(&bytes);
        let theirs = serde_json::from_slice::<Value>(&bytes);
        // serde_json keeps -0 and huge numbers differently, never validity on these bytes
        prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}: {:?}", String::from_utf8_lossy(&bytes), ours);
        if let (Err(e), false) = (&ours, bytes.is_empty()) {
            prop_assert!(e.offset().is_some_and(|o| o <= bytes.len()));
        }
    }
}
