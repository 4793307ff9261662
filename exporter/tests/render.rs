//! `Exporter::render` under the tracking allocator over jemalloc: promtool, families, values.

mod common;

use std::sync::Mutex;

use common::{check_generated, families_in, promtool_check, sample};
use ultra_alloc::{Config, Jemalloc, Subsystem, TrackingAllocator};
use ultra_exporter::workload::{Gateway, GatewayOptions};
use ultra_exporter::{families, family, Exporter, Kind};

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

/// Every test takes this lock: some compare figures before and after an action, which
/// another test allocating at the same time would disturb.
static QUIET: Mutex<()> = Mutex::new(());

fn quiet() -> std::sync::MutexGuard<'static, ()> {
    QUIET.lock().unwrap_or_else(|e| e.into_inner())
}

/// A configuration with every optional knob set, so that every `ultra_config_*` family shows.
fn full_config() -> Config {
    Config::builder()
        .cache_max_entries(Some(1000))
        .cache_max_bytes(Some(1 << 20))
        .cache_ttl_ms(Some(1500))
        .jemalloc_dirty_decay_ms(Some(-1))
        .jemalloc_background_thread(Some(false))
        .trim_interval_ms(250)
        .build()
        .expect("valid config")
}

/// Drives some gateway traffic so that every figure has moved.
fn some_traffic() {
    let gw = Gateway::new(GatewayOptions::from_config(&Config::default())).expect("gateway");
    let mut w = gw.worker(3);
    for _ in 0..2000 {
        w.handle_one();
    }
}

#[test]
fn promtool_accepts_the_text_without_a_remark() {
    let _q = quiet();
    some_traffic();
    for exporter in [Exporter::new(), Exporter::with_config(full_config())] {
        let text = exporter.render();
        let (status, printed) = promtool_check(&text);
        assert!(
            status.success() && printed.is_empty(),
            "promtool check metrics: {status}\n{printed}\n--- text ---\n{text}"
        );
    }
}

#[test]
fn every_family_is_listed_described_and_typed_as_in_the_table() {
    let _q = quiet();
    let exporter = Exporter::with_config(Config::every_gauge_set());
    // The listener's families appear once the exporter has served.
    let before = families_in(&exporter.render());
    assert!(!before.contains_key("ultra_exporter_connections_open"));
    let _server = exporter
        .serve("127.0.0.1:0".parse().unwrap())
        .expect("serve");
    let text = exporter.render();
    let rendered = families_in(&text);
    for (name, (kind, help)) in &rendered {
        let f = family(name).unwrap_or_else(|| panic!("{name} is rendered but not in families()"));
        assert_eq!(kind, f.kind.as_str(), "{name}");
        assert_eq!(help, f.help, "{name}");
        assert!(!name.starts_with("process_") && !name.starts_with("nodejs_"));
    }
    // Built with jemalloc and attribution, on Linux, with every knob set: all are present.
    for f in families() {
        assert!(rendered.contains_key(f.name), "{} is missing", f.name);
    }
    // Label names are those of the table.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = line.split(['{', ' ']).next().unwrap_or("");
        let fam = family(name)
            .or_else(|| {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).and_then(family))
                    .filter(|f| f.kind == Kind::Histogram)
            })
            .unwrap_or_else(|| panic!("sample of unknown family: {line}"));
        let labels: Vec<&str> = line
            .split_once('{')
            .map(|(_, rest)| rest.split('}').next().unwrap_or(""))
            .map(|l| l.split(',').filter_map(|kv| kv.split('=').next()).collect())
            .unwrap_or_default();
        let expected: Vec<&str> = fam.labels.to_vec();
        let mut got: Vec<&str> = labels.into_iter().filter(|l| *l != "le").collect();
        got.sort_unstable();
        let mut want = expected;
        want.sort_unstable();
        assert_eq!(got, want, "{line}");
    }
}

#[test]
fn families_come_out_in_table_order() {
    let _q = quiet();
    let text = Exporter::new().render();
    let order: Vec<usize> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|rest| {
            let name = rest.split(' ').next().unwrap_or("");
            families()
                .iter()
                .position(|f| f.name == name)
                .expect("listed")
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert_eq!(text, text.trim_start());
}

#[test]
fn unset_knobs_are_absent_and_set_ones_in_base_units() {
    let _q = quiet();
    let default = Exporter::with_config(Config::default()).render();
    for absent in [
        "ultra_config_cache_max_entries",
        "ultra_config_cache_max_bytes",
        "ultra_config_cache_ttl_seconds",
        "ultra_config_jemalloc_dirty_decay_seconds",
        "ultra_config_jemalloc_background_thread",
    ] {
        assert!(!default.contains(absent), "{absent} shown while unset");
    }
    assert_eq!(
        sample(&default, "ultra_config_trim_interval_seconds"),
        Some(0.0)
    );
    assert_eq!(
        sample(&default, "ultra_config_pool_buffer_bytes"),
        Some(16384.0)
    );

    let full = Exporter::with_config(full_config()).render();
    assert_eq!(
        sample(&full, "ultra_config_cache_max_entries"),
        Some(1000.0)
    );
    assert_eq!(
        sample(&full, "ultra_config_cache_max_bytes"),
        Some(1048576.0)
    );
    assert_eq!(sample(&full, "ultra_config_cache_ttl_seconds"), Some(1.5));
    assert_eq!(
        sample(&full, "ultra_config_jemalloc_dirty_decay_seconds"),
        Some(-1.0)
    );
    assert_eq!(
        sample(&full, "ultra_config_jemalloc_background_thread"),
        Some(0.0)
    );
    assert_eq!(
        sample(&full, "ultra_config_trim_interval_seconds"),
        Some(0.25)
    );
}

#[test]
fn build_info_and_subsystems() {
    let _q = quiet();
    let text = Exporter::new().render();
    let info = format!(
        "ultra_build_info{{version=\"{}\",jemalloc=\"true\",attribution=\"true\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sample(&text, &info), Some(1.0), "{text}");
    for s in Subsystem::ALL {
        for fam in ["ultra_subsystem_live_bytes", "ultra_subsystem_peak_bytes"] {
            let series = format!("{fam}{{subsystem=\"{}\"}}", s.name());
            assert!(sample(&text, &series).is_some(), "{series}");
        }
    }
    for state in ["idle", "in_use"] {
        assert!(sample(&text, &format!("ultra_pool_buffers{{state=\"{state}\"}}")).is_some());
    }
    for reason in ["capacity", "size", "expired"] {
        let series = format!("ultra_cache_evictions_total{{cache=\"\",reason=\"{reason}\"}}");
        assert!(sample(&text, &series).is_some(), "{series}");
    }
    assert!(sample(&text, "ultra_jemalloc_resident_bytes").unwrap_or(0.0) > 0.0);
    assert!(sample(&text, "ultra_process_resident_memory_bytes").unwrap_or(0.0) > 0.0);
}

#[test]
fn values_are_those_of_a_fresh_snapshot() {
    let _q = quiet();
    let exporter = Exporter::new();
    let live = |text: &str| {
        sample(text, "ultra_subsystem_live_bytes{subsystem=\"cache\"}").expect("cache live")
    };
    let before = live(&exporter.render());
    let block = ultra_alloc::scope(Subsystem::Cache, || vec![1u8; 1 << 20]);
    let during = live(&exporter.render());
    drop(block);
    let after = live(&exporter.render());
    assert_eq!(during - before, (1 << 20) as f64);
    assert_eq!(after, before);
}

#[test]
fn the_size_histogram_is_cumulative_and_complete() {
    let _q = quiet();
    let text = Exporter::new().render();
    let stats_after = ultra_alloc::stats();
    let mut last = 0.0;
    let mut les = Vec::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("ultra_allocation_size_bytes_bucket"))
    {
        let le = line
            .split("le=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("le");
        let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(v >= last, "not cumulative at {line}");
        last = v;
        les.push(le.to_owned());
    }
    let expected: Vec<String> = (0..ultra_alloc::HISTOGRAM_BUCKETS)
        .map(|i| ultra_alloc::histogram_bucket_le(i).map_or("+Inf".into(), |le| le.to_string()))
        .collect();
    assert_eq!(les, expected);
    let count = sample(&text, "ultra_allocation_size_bytes_count").expect("count");
    assert_eq!(count, last, "+Inf bucket equals _count");
    assert!(count > 0.0 && count <= stats_after.allocations as f64);
    assert_eq!(
        count,
        sample(&text, "ultra_allocator_allocations_total").expect("allocations"),
        "histogram and counter come from one snapshot"
    );
    assert!(sample(&text, "ultra_allocation_size_bytes_sum").unwrap_or(0.0) > 0.0);
}

#[test]
fn the_scrape_counter_counts_renders_across_clones() {
    let _q = quiet();
    let e = Exporter::new();
    assert_eq!(
        sample(&e.render(), "ultra_exporter_scrapes_total"),
        Some(1.0)
    );
    let clone = e.clone();
    assert_eq!(
        sample(&clone.render(), "ultra_exporter_scrapes_total"),
        Some(2.0)
    );
    assert_eq!(e.scrapes(), 2);
}

#[test]
fn rendering_keeps_nothing_between_scrapes() {
    let _q = quiet();
    let exporter = Exporter::new();
    // First renders initialise lazy statics (metrics-process, procfs).
    for _ in 0..5 {
        drop(exporter.render());
    }
    let sub = |s: Subsystem| ultra_alloc::stats().subsystem(s).expect("attribution");
    let before = sub(Subsystem::Exporter);
    for _ in 0..200 {
        drop(exporter.render());
    }
    let after = sub(Subsystem::Exporter);
    assert_eq!(
        after.live_bytes, before.live_bytes,
        "the exporter's live bytes grew over 200 renders"
    );
    assert!(
        after.allocated_bytes > before.allocated_bytes,
        "renders are credited to exporter"
    );
}

#[test]
fn samples_cover_every_family() {
    let _q = quiet();
    let exporter = Exporter::with_config(full_config());
    // The listener's families need a listener.
    let _server = exporter
        .serve("127.0.0.1:0".parse().unwrap())
        .expect("serve");
    let samples = exporter.samples();
    let names: std::collections::BTreeSet<&str> = samples.iter().map(|s| s.family).collect();
    for f in families() {
        assert!(names.contains(f.name), "{} has no sample", f.name);
    }
    let info = samples
        .iter()
        .find(|s| s.family == "ultra_build_info")
        .expect("build info");
    assert_eq!(info.value, 1.0);
    assert_eq!(
        info.labels[0],
        ("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned())
    );
    let inf = samples
        .iter()
        .find(|s| s.name == "ultra_allocation_size_bytes_bucket" && s.labels[0].1 == "+Inf")
        .expect("+Inf bucket");
    let count = samples
        .iter()
        .find(|s| s.name == "ultra_allocation_size_bytes_count")
        .expect("count");
    assert_eq!(inf.family, "ultra_allocation_size_bytes");
    assert_eq!(inf.value, count.value);
    let subsystems = samples
        .iter()
        .filter(|s| s.family == "ultra_subsystem_live_bytes")
        .count();
    assert_eq!(subsystems, Subsystem::COUNT);
    // One render per call.
    assert_eq!(exporter.scrapes(), 1);
}

/// The metrics table of the crate docs lists exactly the families, with their types.
#[test]
fn the_documented_table_matches_the_families() {
    let lib = include_str!("../src/lib.rs");
    let mut documented = Vec::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! | `ultra_") else {
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let name = format!("ultra_{}", cells[0].trim_end_matches('`'));
        documented.push((name, cells[1].to_owned()));
    }
    // The `ultra_config_*` gauges are one row, documented by the configuration table (generated
    // from `ultra_alloc::VARIABLES`, their source).
    assert!(documented.iter().any(|(n, _)| n == "ultra_config_*"));
    documented.retain(|(n, _)| n != "ultra_config_*");
    let expected: Vec<(String, String)> = families()
        .iter()
        .filter(|f| !f.name.starts_with("ultra_config_"))
        .map(|f| (f.name.to_owned(), f.kind.as_str().to_owned()))
        .collect();
    let mut sorted_doc = documented.clone();
    sorted_doc.sort();
    let mut sorted_expected = expected.clone();
    sorted_expected.sort();
    assert_eq!(sorted_doc, sorted_expected);
}

/// Figures a snapshot lacks are left out, never rendered as zero.
#[test]
fn missing_figures_are_absent_not_zero() {
    let _q = quiet();
    let mut snap = ultra_core::Snapshot::take();
    snap.alloc.subsystems = None;
    snap.jemalloc = Err(ultra_core::JemallocUnavailable::NotCompiledIn);
    snap.process = None;
    let text = Exporter::new().render_snapshot(&snap);
    for prefix in [
        "ultra_subsystem_",
        "ultra_jemalloc_",
        "ultra_process_resident_memory_peak_bytes",
    ] {
        assert!(
            !text.lines().any(|l| l.contains(prefix)),
            "{prefix}* rendered without its figures"
        );
    }
    assert!(text.contains("attribution=\"false\""), "{text}");
    assert!(sample(&text, "ultra_allocator_live_bytes").is_some());
    let (status, printed) = promtool_check(&text);
    assert!(status.success() && printed.is_empty(), "{printed}");
}

/// `ultra_resident_bytes`: its series are the owners of one `Explanation` and add up to the
/// RSS of that reading exactly; owners are never negative; V8's owner appears only when given.
#[test]
fn resident_owners_sum_to_the_rss_of_their_reading() {
    let _q = quiet();
    some_traffic();
    let exporter = Exporter::new();
    let snap = ultra_core::Snapshot::take();
    let e = ultra_core::Explanation::read(&snap, exporter.explain_options()).expect("Linux /proc");
    let text = exporter.render_explained(&snap, Some(&e));
    let mut sum = 0f64;
    let mut owners = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("ultra_resident_bytes{owner=\"") else {
            continue;
        };
        let (owner, value) = rest.split_once("\"} ").expect("one label");
        let value: f64 = value.parse().expect("value");
        if owner != "unattributed" {
            assert!(value >= 0.0, "{owner} {value}");
        }
        sum += value;
        owners.push(owner.to_owned());
    }
    assert_eq!(sum, e.rss_bytes as f64, "{text}");
    for owner in common::BINARY_OWNERS {
        assert!(
            owners.iter().any(|o| o == owner),
            "{owner} missing: {owners:?}"
        );
    }
    assert!(!owners.iter().any(|o| o == "v8_heap" || o == "addon_code"));
    assert_eq!(
        sample(&text, r#"ultra_resident_bytes{owner="ultra"}"#),
        Some(snap.alloc.live_bytes as f64)
    );

    let with_v8 = exporter.render_with_v8(12_345_678);
    assert_eq!(
        sample(&with_v8, r#"ultra_resident_bytes{owner="v8_heap"}"#),
        Some(12_345_678.0)
    );
    let (status, printed) = promtool_check(&with_v8);
    assert!(status.success() && printed.is_empty(), "{printed}");
}

/// `node/lib/families.json` — the families' names, HELP texts, types and labels for the Node
/// fallback, which renders its own figures under them — is what the table generates now.
/// `UPDATE_GENERATED=1 cargo test -p ultra-exporter --test render` rewrites it.
#[test]
fn the_node_family_table_is_generated_from_the_families() {
    let rows: Vec<String> = families()
        .iter()
        .map(|f| {
            let row = serde_json::json!({
                "name": f.name,
                "type": f.kind.as_str(),
                "labels": f.labels,
                "help": f.help,
            });
            format!("  {row}")
        })
        .collect();
    let generated = format!("{{\n\"families\": [\n{}\n]\n}}\n", rows.join(",\n"));
    check_generated("node/lib/families.json", None, &generated);
}

/// The `cache` label values of the `ultra_cache_hits_total` series, in rendered order.
fn cache_labels(samples: &[ultra_exporter::Sample]) -> Vec<String> {
    samples
        .iter()
        .filter(|s| s.family == "ultra_cache_hits_total")
        .map(|s| s.labels[0].1.clone())
        .collect()
}

/// Named caches carry `cache="<name>"` (escaped in the text), unnamed ones are together under
/// `cache=""`, and every family's series sum to the process total.
#[test]
fn named_caches_get_a_cache_label_and_the_series_sum_to_the_total() {
    use ultra_core::cache::{Cache, CacheOptions, SharedCache};
    let _q = quiet();
    let options = CacheOptions {
        max_entries: Some(2),
        ..CacheOptions::default()
    };
    let odd = "odd \"name\" \\ with\nline";
    let sessions = SharedCache::named("sessions", options).expect("named");
    let oddly = SharedCache::named(odd, options).expect("named");
    let mut unnamed = Cache::new(options).expect("cache");
    for k in ["a", "b", "c"] {
        sessions.set(k, "v", None).expect("set");
        unnamed.set(k, "v", None).expect("set");
    }
    assert!(sessions.get("c").is_some());
    assert!(sessions.get("a").is_none());
    oddly.set("k", "v", None).expect("set");

    let exporter = Exporter::new();
    let samples = exporter.samples();
    let labels = cache_labels(&samples);
    assert_eq!(labels[0], "", "the unnamed caches come first");
    assert!(labels.iter().any(|l| l == "sessions") && labels.iter().any(|l| l == odd));
    let value = |family: &str, cache: &str, reason: Option<&str>| {
        samples
            .iter()
            .find(|s| {
                s.family == family
                    && s.labels[0] == ("cache".to_owned(), cache.to_owned())
                    && reason.is_none_or(|r| s.labels[1].1 == r)
            })
            .map(|s| s.value)
    };
    let st = sessions.stats();
    assert_eq!(
        value("ultra_cache_hits_total", "sessions", None),
        Some(st.hits as f64)
    );
    assert_eq!(
        value("ultra_cache_misses_total", "sessions", None),
        Some(st.misses as f64)
    );
    assert_eq!(value("ultra_cache_entries", "sessions", None), Some(2.0));
    assert_eq!(
        value("ultra_cache_evictions_total", "sessions", Some("capacity")),
        Some(1.0)
    );
    assert_eq!(value("ultra_cache_inserts_total", odd, None), Some(1.0));

    // One snapshot: the series of each family add up to the process total.
    let snap = ultra_core::Snapshot::take();
    let samples = exporter.samples_explained(&snap, None);
    let total = |f: &str| -> f64 {
        samples
            .iter()
            .filter(|s| s.family == f)
            .map(|s| s.value)
            .sum()
    };
    let c = &snap.caches;
    assert_eq!(total("ultra_cache_hits_total"), c.hits as f64);
    assert_eq!(total("ultra_cache_inserts_total"), c.inserts as f64);
    assert_eq!(total("ultra_cache_entries"), c.entries as f64);
    assert_eq!(total("ultra_cache_bytes"), c.bytes as f64);
    assert_eq!(
        total("ultra_cache_evictions_total"),
        c.evictions_total() as f64
    );

    // The text escapes the name and passes promtool.
    let text = exporter.render();
    let escaped = r#"ultra_cache_entries{cache="odd \"name\" \\ with\nline"} 1"#;
    assert!(text.lines().any(|l| l == escaped), "{text}");
    let (status, printed) = promtool_check(&text);
    assert!(status.success() && printed.is_empty(), "{printed}");
}

/// Beyond `MAX_CACHE_LABELS` live named caches, later ones are counted under `cache=""`.
#[test]
fn cache_labels_are_bounded() {
    use ultra_alloc::config::MAX_CACHE_LABELS;
    use ultra_core::cache::{CacheOptions, SharedCache};
    let _q = quiet();
    let options = CacheOptions {
        max_entries: Some(10),
        ..CacheOptions::default()
    };
    let caches: Vec<_> = (0..MAX_CACHE_LABELS + 3)
        .map(|i| SharedCache::named(&format!("bounded-{i:03}"), options).expect("named"))
        .collect();
    for c in &caches {
        c.set("k", "v", None).expect("set");
    }
    let snap = ultra_core::Snapshot::take();
    let samples = Exporter::new().samples_explained(&snap, None);
    let labels = cache_labels(&samples);
    // Other tests' named caches are gone (dropped); these are the first live ones.
    assert_eq!(labels.len(), MAX_CACHE_LABELS + 1, "{labels:?}");
    let expected: Vec<String> = std::iter::once(String::new())
        .chain((0..MAX_CACHE_LABELS).map(|i| format!("bounded-{i:03}")))
        .collect();
    assert_eq!(labels, expected);
    // The three beyond the bound are in the remainder, so the total still adds up.
    let inserts: f64 = samples
        .iter()
        .filter(|s| s.family == "ultra_cache_inserts_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(inserts, snap.caches.inserts as f64);
    drop(caches);
    let after = cache_labels(&Exporter::new().samples());
    assert_eq!(after, [""], "dropped named caches lose their label");
}

/// The README's metrics table is the crate docs' (which `the_documented_table_matches_the_families`
/// checks against the families). `UPDATE_GENERATED=1 cargo test -p ultra-exporter --test render`
/// rewrites it.
#[test]
fn the_readme_metrics_table_is_the_crate_docs_table() {
    let lib = include_str!("../src/lib.rs");
    let table: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//! "))
        .skip_while(|l| !l.starts_with("| family | type | labels | meaning |"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(table.len() > 40, "the crate docs' metrics table");
    let (start, end) = (
        "<!-- metrics-table: generated from the table in exporter/src/lib.rs -->\n",
        "<!-- /metrics-table -->",
    );
    check_generated(
        "README.md",
        Some((start, end)),
        &format!("{}\n", table.join("\n")),
    );
}

/// `samples` and `render` of one snapshot give the same series, in the same order, with the
/// same values (the figures read live at each scrape aside).
#[test]
fn samples_and_text_of_one_snapshot_agree() {
    let _q = quiet();
    let exporter = Exporter::with_config(full_config());
    let snap = ultra_core::Snapshot::take();
    let text = exporter.render_explained(&snap, None);
    let samples = exporter.samples_explained(&snap, None);
    // The listener's and the process collector's figures are read live at each scrape.
    let moving = |name: &str| {
        name.starts_with("ultra_exporter_")
            || (name.starts_with("ultra_process_") && !name.contains("_peak_"))
    };
    let from_text: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter(|l| !moving(l))
        .map(str::to_owned)
        .collect();
    let from_samples: Vec<String> = samples
        .iter()
        .filter(|s| !moving(&s.name))
        .map(|s| {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", labels.join(","))
            };
            let value = if s.value == f64::INFINITY {
                "+Inf".to_owned()
            } else {
                s.value.to_string()
            };
            format!("{}{labels} {value}", s.name)
        })
        .collect();
    assert!(from_text.len() > 80, "{text}");
    assert_eq!(from_samples, from_text);
}
