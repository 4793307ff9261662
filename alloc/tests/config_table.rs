//! The configuration table against its views: the shared table of inputs
//! (`config_cases.json`, also run by the Node fallback's tests) through Rust's parser, and every
//! file generated from [`ultra_alloc::VARIABLES`] against what the table generates now.
//!
//! `UPDATE_GENERATED=1 cargo test -p ultra-alloc --test config_table` rewrites the generated
//! files (after a change to the table).

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use ultra_alloc::config::{self, Config, Value, VARIABLES};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cases() -> Json {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config_cases.json"),
    )
    .expect("tests/config_cases.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn to_json(v: Value) -> Json {
    match v {
        Value::Unset => Json::Null,
        Value::Int(n) => Json::from(n),
        Value::Bool(b) => Json::Bool(b),
        Value::Text(t) => Json::String(t),
    }
}

fn from_json(v: &Json) -> Value {
    match v {
        Json::Null => Value::Unset,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Int(n.as_i64().expect("an integer option")),
        Json::String(s) => Value::Text(s.clone()),
        other => panic!("not an option value: {other}"),
    }
}

/// Resolves one case: its `env` as the environment, its `options` as explicit options.
fn resolve(case: &Json) -> Result<Config, ultra_alloc::ConfigError> {
    let env = case["env"].as_object().expect("env");
    let options: Vec<_> = case
        .get("options")
        .and_then(Json::as_object)
        .map(|o| {
            o.iter()
                .map(|(key, v)| {
                    let var = VARIABLES
                        .iter()
                        .find(|r| r.key == key)
                        .expect("a known key");
                    (var, from_json(v))
                })
                .collect()
        })
        .unwrap_or_default();
    Config::resolve(
        |name| {
            Ok(env
                .get(name)
                .map(|v| v.as_str().expect("a string").to_owned()))
        },
        &options,
    )
}

#[test]
fn good_inputs_give_the_expected_configuration() {
    let cases = cases();
    for case in cases["good"].as_array().expect("good") {
        let config = resolve(case).unwrap_or_else(|e| panic!("{case}: {e}"));
        for (key, want) in case["expect"].as_object().expect("expect") {
            let var = VARIABLES
                .iter()
                .find(|v| v.key == key)
                .expect("a known key");
            assert_eq!(&to_json(config.get(var)), want, "{case}: {key}");
        }
    }
}

#[test]
fn bad_inputs_are_refused_in_the_same_words() {
    let cases = cases();
    for case in cases["bad"].as_array().expect("bad") {
        let error = resolve(case).expect_err(&case.to_string());
        assert_eq!(
            error.to_string(),
            case["error"].as_str().expect("error"),
            "{case}"
        );
        assert!(
            case["env"].as_object().unwrap().contains_key(error.var)
                || case.get("options").is_some()
        );
    }
}

#[test]
fn every_variable_has_good_and_bad_cases() {
    let cases = cases();
    let text = cases.to_string();
    for v in VARIABLES {
        let bad = cases["bad"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["env"].get(v.name).is_some());
        assert!(text.contains(v.name), "{}: no case", v.name);
        assert!(
            bad || v.kind == config::Kind::Dir,
            "{}: no bad case",
            v.name
        );
    }
}

/// Compares (or, with `UPDATE_GENERATED=1`, rewrites) the part of `file` between the lines
/// `start` and `end`; with both `None`, the whole file.
fn check_generated(file: &str, markers: Option<(&str, &str)>, generated: &str) {
    let path = repo().join(file);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let wanted = match markers {
        None => generated.to_owned(),
        Some((start, end)) => {
            let (head, rest) = current
                .split_once(start)
                .unwrap_or_else(|| panic!("{file}: no line {start:?}"));
            let (_, tail) = rest
                .split_once(end)
                .unwrap_or_else(|| panic!("{file}: no line {end:?}"));
            format!("{head}{start}\n{generated}{end}{tail}")
        }
    };
    if current == wanted {
        return;
    }
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(&path, wanted).expect("write");
        return;
    }
    panic!(
        "{file} is not what the table in alloc/src/config.rs generates; run \
         `UPDATE_GENERATED=1 cargo test -p ultra-alloc --test config_table`"
    );
}

#[test]
fn generated_files_match_the_table() {
    check_generated("node/lib/config-table.json", None, &config::table_json());
    let readme = (
        "<!-- config-table: generated from alloc/src/config.rs -->",
        "<!-- /config-table -->",
    );
    check_generated("README.md", Some(readme), &config::readme_table(false));
    check_generated("node/README.md", Some(readme), &config::readme_table(true));
    let types = (
        "// <config-types: generated from alloc/src/config.rs>",
        "// </config-types>",
    );
    check_generated("node/index.d.ts", Some(types), &config::typescript_types());
}
