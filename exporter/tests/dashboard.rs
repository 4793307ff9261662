//! The Grafana dashboard and the Prometheus example beside it: every query names only families
//! the exporter really emits, every query parses as PromQL, the model has the datasource and
//! `instance` variables, and the example configuration is valid.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use ultra_alloc::Config;
use ultra_exporter::Exporter;

fn grafana_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana")
}

fn dashboard() -> Value {
    common::dashboard()
}

fn queries(v: &Value, out: &mut Vec<String>) {
    common::dashboard_queries(v, out)
}

/// Keywords, and aggregation operators (which may be followed by `by (…)` instead of `(`).
const FUNCTIONS_AND_KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
];

/// The metric names a PromQL expression selects: identifiers outside strings, label matchers
/// (`{…}`) and ranges (`[…]`), that are not function calls, keywords, grouping labels
/// (`by (…)`) or Grafana variables (`$x`).
fn metric_names(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    let mut skip_group = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    if chars[i] == '"' {
                        i += 1;
                        while i < chars.len() && chars[i] != '"' {
                            i += 1;
                        }
                    }
                    i += 1;
                }
                i += 1;
            }
            '$' => {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let is_call = chars.get(j) == Some(&'(');
                if skip_group {
                    // Inside `by (…)`: label names.
                } else if [
                    "by",
                    "without",
                    "on",
                    "ignoring",
                    "group_left",
                    "group_right",
                ]
                .contains(&word.as_str())
                {
                    if is_call {
                        skip_group = true;
                        i = j + 1;
                        continue;
                    }
                } else if !is_call && !FUNCTIONS_AND_KEYWORDS.contains(&word.as_str()) {
                    names.push(word);
                }
            }
            ')' if skip_group => {
                skip_group = false;
                i += 1;
            }
            _ => i += 1,
        }
    }
    names
}

#[test]
fn the_extractor_finds_metric_names_only() {
    assert_eq!(
        metric_names(
            r#"sum by (subsystem) (rate(ultra_a_total{instance=~"$instance",x="by(y)"}[$__rate_interval])) / on (job) ultra_b"#
        ),
        vec!["ultra_a_total", "ultra_b"]
    );
    assert_eq!(
        metric_names("histogram_quantile(0.5, sum by (le) (rate(ultra_h_bucket[5m])))"),
        vec!["ultra_h_bucket"]
    );
    assert_eq!(
        metric_names("label_values(ultra_build_info, instance)"),
        vec!["ultra_build_info", "instance"],
        "label_values' second argument is a label: the caller drops it"
    );
    assert_eq!(
        metric_names("rate(process_cpu_seconds_total[1m]) or nodejs_heap_size_used_bytes"),
        vec!["process_cpu_seconds_total", "nodejs_heap_size_used_bytes"]
    );
}

#[test]
fn every_query_names_only_families_the_exporter_emits() {
    // Every config gauge set, so that every family the exporter can emit is rendered.
    let exporter = Exporter::with_config(Config::every_gauge_set());
    // The listener's families appear once it serves.
    let _server = exporter
        .serve("127.0.0.1:0".parse().unwrap())
        .expect("serve");
    let text = exporter.render();
    let emitted: BTreeSet<String> = common::families_in(&text)
        .into_iter()
        .flat_map(|(name, (kind, _))| {
            let mut v = vec![name.clone()];
            if kind == "histogram" {
                for s in ["_bucket", "_sum", "_count"] {
                    v.push(format!("{name}{s}"));
                }
            }
            v
        })
        .collect();
    let mut all = Vec::new();
    queries(&dashboard(), &mut all);
    assert!(
        all.len() >= 20,
        "the dashboard has its queries: {}",
        all.len()
    );
    let mut used = BTreeSet::new();
    for q in &all {
        let mut names = metric_names(q);
        if q.starts_with("label_values(") {
            names.truncate(1);
        }
        assert!(!names.is_empty(), "no metric in {q}");
        for n in names {
            assert!(
                emitted.contains(&n),
                "`{n}` (in `{q}`) is not a family the exporter emits"
            );
            used.insert(n);
        }
    }
    // The panels the issue asks for are there.
    for needed in [
        "ultra_subsystem_live_bytes",
        "ultra_jemalloc_resident_bytes",
        "ultra_jemalloc_active_bytes",
        "ultra_process_resident_memory_bytes",
        "ultra_subsystem_allocated_bytes_total",
        "ultra_allocation_size_bytes_bucket",
        "ultra_cache_hits_total",
        "ultra_cache_evictions_total",
        "ultra_pool_buffers",
        "ultra_arena_reserved_bytes",
        "ultra_resident_bytes",
    ] {
        assert!(used.contains(needed), "no panel uses {needed}");
    }
}

/// The "who holds the RSS" panels: a stacked time series and a table of the latest split, both
/// over `ultra_resident_bytes` by `owner`, whose series the exporter really emits — every
/// owner the binary knows, `unattributed` included, and together the RSS of the scrape.
#[test]
fn the_rss_panels_query_the_owner_series_the_exporter_emits() {
    let d = dashboard();
    let panels = d["panels"].as_array().expect("panels");
    let panel = |title: &str| {
        panels
            .iter()
            .find(|p| p["title"] == title && p["type"] != "row")
            .unwrap_or_else(|| panic!("no panel {title:?}"))
    };
    let stacked = panel("Who holds the RSS");
    assert_eq!(stacked["type"], "timeseries");
    assert_eq!(
        stacked["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"],
        "normal"
    );
    let table = panel("RSS split now");
    assert_eq!(table["type"], "table");

    let text = Exporter::new().render();
    let owners: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ultra_resident_bytes{owner=\""))
        .map(|l| l.split('"').next().expect("label value").to_owned())
        .collect();
    for owner in common::BINARY_OWNERS {
        assert!(
            owners.contains(*owner),
            "owner {owner} not emitted: {owners:?}"
        );
    }
    for p in [stacked, table] {
        let mut qs = Vec::new();
        queries(p, &mut qs);
        let by_owner = qs
            .iter()
            .filter(|q| q.starts_with("sum by (owner) (ultra_resident_bytes{"))
            .count();
        assert!(by_owner >= 1, "{}: {qs:?}", p["title"]);
        for q in &qs {
            for n in metric_names(q) {
                assert!(
                    n == "ultra_resident_bytes" || n == "ultra_process_resident_memory_bytes",
                    "{}: `{n}` in `{q}`",
                    p["title"]
                );
            }
            // Any owner a query or an override singles out is one the exporter emits.
            for (i, _) in q.match_indices("owner=\"") {
                let value = q[i + 7..].split('"').next().expect("value");
                assert!(owners.contains(value), "{q}");
            }
        }
    }
    let overrides = stacked["fieldConfig"]["overrides"]
        .as_array()
        .expect("overrides");
    for o in overrides {
        let name = o["matcher"]["options"].as_str().expect("name");
        assert!(
            name == "rss" || owners.contains(name),
            "override for {name}"
        );
    }
}

#[test]
fn every_query_parses_as_promql() {
    // promtool parses recording rules: one rule per query, Grafana variables substituted.
    let mut all = Vec::new();
    queries(&dashboard(), &mut all);
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, q) in all
        .iter()
        .filter(|q| !q.starts_with("label_values("))
        .enumerate()
    {
        let expr = q
            .replace("$__rate_interval", "1m")
            .replace("$instance", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {}\n",
            serde_json::to_string(&expr).expect("quote")
        ));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, rules).expect("write rules");
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `promtool` ({e}): install Debian's `prometheus` package")
        });
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_model_is_importable_with_datasource_and_instance_variables() {
    let d = dashboard();
    let inputs = d["__inputs"].as_array().expect("__inputs");
    assert!(inputs
        .iter()
        .any(|i| i["name"] == "DS_PROMETHEUS" && i["pluginId"] == "prometheus"));
    let vars = d["templating"]["list"].as_array().expect("templating");
    let var = |name: &str| vars.iter().find(|v| v["name"] == name).cloned();
    let ds = var("DS_PROMETHEUS").expect("DS_PROMETHEUS variable");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    let instance = var("instance").expect("instance variable");
    assert_eq!(instance["type"], "query");
    assert!(d["uid"].is_string() && d["title"].is_string());
    assert!(d["id"].is_null(), "an importable model has no id");
    // Every panel and query uses the datasource variable, and every query the instance filter.
    let panels = d["panels"].as_array().expect("panels");
    for p in panels.iter().filter(|p| p["type"] != "row") {
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", p["title"]);
        for t in p["targets"].as_array().expect("targets") {
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", p["title"]);
            let expr = t["expr"].as_str().expect("expr");
            assert!(
                expr.contains(r#"instance=~"$instance""#),
                "{}: {expr}",
                p["title"]
            );
        }
    }
    let ids: BTreeSet<i64> = panels.iter().filter_map(|p| p["id"].as_i64()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
}

#[test]
fn the_prometheus_example_is_a_valid_config() {
    let out = Command::new("promtool")
        .args(["check", "config", "--syntax-only"])
        .arg(grafana_dir().join("prometheus.yml"))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `promtool` ({e}): install Debian's `prometheus` package")
        });
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(grafana_dir().join("prometheus.yml")).expect("read");
    assert!(text.contains("127.0.0.1:9477") && text.contains("file_sd_configs"));
}
