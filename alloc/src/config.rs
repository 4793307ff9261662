//! `ULTRA_*` configuration: one table of variables, one parser, one [`Config`].
//!
//! [`VARIABLES`] is the single table of the configuration: for each variable its name, its
//! JavaScript key, the kind of value it takes, the accepted range, the default, the help text and
//! the `ultra_config_*` gauge that shows it. The [`Config`] struct, its defaults, its builder, the
//! parser and its error texts all come from that table (the `variables!` invocation below holds
//! one row per variable). Everything else is generated from it or checked against it by a test:
//! the Node package's fallback parser reads `node/lib/config-table.json`, which
//! [`table_json`] writes; the configuration tables of the READMEs and the `MemoryConfig` types of
//! `node/index.d.ts` are written by [`readme_table`] and [`typescript_types`]; and a shared table
//! of good and bad inputs (`alloc/tests/config_cases.json`) runs against both parsers.
//!
//! A value that does not parse is a [`ConfigError`] naming the variable, the value and the
//! accepted form; nothing is ignored silently; an empty (or all-whitespace) value counts as
//! unset. Sizes accept plain bytes or a `B`, `KiB`, `MiB` or `GiB` suffix (`64KiB`,
//! `16 MiB`); booleans accept `1/0`, `true/false`, `on/off` and `yes/no` in any case.
//!
//! Adding a variable: one row here (with its metric, if it has one), its consumer reading the
//! new field of [`Config`], and its cases in the shared test table; then
//! `UPDATE_GENERATED=1 cargo test -p ultra-alloc --test config_table` rewrites the generated
//! files.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// A `ULTRA_*` variable (or builder option) whose value is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {var}={}: expected {expected}", quote(.value))]
pub struct ConfigError {
    /// The variable's name, e.g. `ULTRA_POOL_INITIAL`.
    pub var: &'static str,
    /// The value as given.
    pub value: String,
    /// The accepted form, e.g. "an integer in [0, 1048576]".
    pub expected: String,
}

/// Default port of the exporter when `ULTRA_EXPORTER_ADDR` names only a host.
pub const DEFAULT_EXPORTER_PORT: u16 = 9477;
/// `Number.MAX_SAFE_INTEGER`: the largest integer a JavaScript number holds exactly, the upper
/// bound of every byte budget and duration (of the configuration and of the Node API).
pub const MAX_SAFE: i64 = (1 << 53) - 1;
/// Largest number of buffers a pool keeps or creates up front.
pub const MAX_POOL_BUFFERS: i64 = 1 << 20;
/// Largest entry bound of a cache (the fallback pre-allocates index arrays of that length).
pub const MAX_CACHE_ENTRIES: i64 = 1 << 24;
/// What one cache entry holds beyond its key and value bytes, on 64-bit targets: the bytes a
/// cache's `max_bytes` (Node: `maxBytes`) counts per entry on top of them, so that the bound is
/// one on the memory the cache really holds. ultra-core derives the figure from its entry's
/// layout and fails to compile if the two disagree; the Node fallback weighs entries with it
/// (through the generated `config-table.json`, `limits`).
pub const CACHE_ENTRY_OVERHEAD: i64 = 142;
/// Longest name of a named cache, in UTF-16 code units (JS string length).
pub const MAX_CACHE_NAME_LENGTH: i64 = 256;
/// Largest BLAKE3 output the Node API hands out (1 MiB; BLAKE3's output is extendable).
pub const MAX_BLAKE3_LENGTH: i64 = 1 << 20;
/// Most named caches that get a `cache="<name>"` label of their own on the `ultra_cache_*`
/// families (a bound on label cardinality): the first this many live named caches, in the
/// order their names were first opened. Named caches beyond them, like every unnamed cache,
/// are counted under `cache=""`.
pub const MAX_CACHE_LABELS: usize = 32;
/// Largest `ULTRA_EXPORTER_MAX_CONNECTIONS`.
pub const MAX_CONNECTIONS: i64 = 1 << 20;
/// Largest buffer ultra hands out or sizes by default: 4 GiB, the largest Buffer of Node 20 on
/// 64-bit (`buffer.constants.MAX_LENGTH`). The Node package's checks use the smaller of this and
/// the running Node's `MAX_LENGTH`, the addon this; both read it from here (the JS side through
/// the generated `config-table.json`, `limits`).
pub const MAX_BUFFER_BYTES: i64 = 1 << 32;
/// Largest mean interval between two heap-profile samples (`ULTRA_HEAP_PROFILE_SAMPLE_BYTES`):
/// 4 GiB, beyond which a profile would hold next to nothing.
pub const MAX_PROFILE_SAMPLE_BYTES: i64 = 1 << 32;

/// What a variable's value is, which decides how it is parsed and how its range reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A plain integer, e.g. `8`.
    Count,
    /// Bytes: an integer with an optional `B`/`KiB`/`MiB`/`GiB` suffix, e.g. `64KiB`.
    Size,
    /// Milliseconds: a plain integer.
    Millis,
    /// `1/0`, `true/false`, `on/off`, `yes/no` (any case).
    Bool,
    /// An IP address with an optional port (the exporter's default port otherwise).
    Addr,
    /// A folder path.
    Dir,
}

impl Kind {
    /// The kind's name in the generated JSON table.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Count => "count",
            Kind::Size => "size",
            Kind::Millis => "millis",
            Kind::Bool => "bool",
            Kind::Addr => "addr",
            Kind::Dir => "dir",
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Kind::Count | Kind::Size | Kind::Millis)
    }
}

/// How a variable's `ultra_config_*` gauge reads its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The value itself (booleans as 1/0).
    Same,
    /// Milliseconds shown in seconds; a negative value (`-1`, never) stays `-1`.
    MillisToSeconds,
}

/// The `ultra_config_*` gauge of a variable: absent from the output while the variable is unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The family name, e.g. `ultra_config_pool_max_idle_buffers`.
    pub name: &'static str,
    /// Its HELP text, exactly as rendered.
    pub help: &'static str,
    /// How the value is shown.
    pub scale: Scale,
}

/// One row of the configuration table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// The environment variable, e.g. `ULTRA_POOL_MAX`.
    pub name: &'static str,
    /// The key of the effective configuration in JavaScript (and of the option of
    /// `initMemorySubsystem`, if [`Variable::option`]), e.g. `poolMax`.
    pub key: &'static str,
    /// The kind of value.
    pub kind: Kind,
    /// Smallest accepted value (numeric kinds).
    pub min: i64,
    /// Largest accepted value (numeric kinds).
    pub max: i64,
    /// Whether the variable may be unset (`None` in [`Config`], `null` in JavaScript).
    pub optional: bool,
    /// What an unset optional variable means, e.g. `unset` or `jemalloc's (10000)`.
    pub unset: &'static str,
    /// Whether `initMemorySubsystem(options)` takes it as an option.
    pub option: bool,
    /// What the variable does (README, `--help`, `index.d.ts`).
    pub help: &'static str,
    /// The gauge that shows it, if any.
    pub metric: Option<Metric>,
}

impl Variable {
    /// The accepted form, as error messages write it.
    pub fn expected(&self) -> String {
        let (min, max) = (self.min, self.max);
        match self.kind {
            Kind::Count => format!("an integer in [{min}, {max}]"),
            Kind::Millis => format!("an integer number of milliseconds in [{min}, {max}]"),
            Kind::Size => format!(
                "a size in bytes in [{min}, {max}], optionally with a B, KiB, MiB or GiB suffix (e.g. 65536, 64KiB)"
            ),
            Kind::Bool => "one of 1, 0, true, false, on, off, yes, no".to_owned(),
            Kind::Addr => "an IP address or localhost, optionally with a port (e.g. 127.0.0.1:9477, [::1]:0, localhost:0)".to_owned(),
            Kind::Dir => "a folder path".to_owned(),
        }
    }

    /// Parses one value of this variable as the environment gives it; `Ok(None)` when empty
    /// (unset). The error names the variable.
    pub fn parse(&self, raw: &str) -> Result<Option<Value>, ConfigError> {
        let s = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        if s.is_empty() {
            return Ok(None);
        }
        let value = match self.kind {
            Kind::Count | Kind::Millis => parse_integer(s, false),
            Kind::Size => parse_integer(s, true),
            Kind::Bool => parse_bool(s).map(Value::Bool),
            Kind::Addr => parse_addr(s).map(|a| Value::Text(a.to_string())),
            Kind::Dir => Some(Value::Text(s.to_owned())),
        };
        match value {
            Some(v) if self.accepts(&v) => Ok(Some(v)),
            _ => Err(self.error(raw)),
        }
    }

    /// Whether `v` is of this variable's kind and within its range.
    pub fn accepts(&self, v: &Value) -> bool {
        match v {
            Value::Unset => self.optional,
            Value::Int(n) => self.kind.numeric() && (self.min..=self.max).contains(n),
            Value::Bool(_) => self.kind == Kind::Bool,
            Value::Text(_) => matches!(self.kind, Kind::Addr | Kind::Dir),
        }
    }

    /// The error for a value of this variable that is not acceptable.
    pub fn error(&self, value: &str) -> ConfigError {
        ConfigError {
            var: self.name,
            value: value.to_owned(),
            expected: self.expected(),
        }
    }

    /// The default as documentation writes it: `8`, `16KiB`, `127.0.0.1:9477`, or what unset
    /// means.
    pub fn default_text(&self) -> String {
        match Config::default().get(self) {
            Value::Unset => self.unset.to_owned(),
            Value::Int(n) if self.kind == Kind::Size => size_text(n),
            Value::Int(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Text(t) => t,
        }
    }
}

/// One value of the configuration, in the form JavaScript sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Unset (`null`).
    Unset,
    /// An integer (counts, sizes, milliseconds).
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// An address or a path.
    Text(String),
}

/// Conversion between a field of [`Config`] and a [`Value`].
trait Field: Sized {
    fn to_value(&self) -> Value;
    fn from_value(v: Value) -> Option<Self>;
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
            fn from_value(v: Value) -> Option<Self> {
                match v {
                    Value::Int(n) => <$t>::try_from(n).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
int_field!(usize, u64, i64);

impl Field for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

impl Field for SocketAddr {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Text(t) => parse_addr(&t),
            _ => None,
        }
    }
}

impl Field for PathBuf {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string_lossy().into_owned())
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Text(t) => Some(PathBuf::from(t)),
            _ => None,
        }
    }
}

impl<T: Field> Field for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Unset, T::to_value)
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Unset => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

const fn metric(name: &'static str, help: &'static str) -> Option<Metric> {
    Some(Metric {
        name,
        help,
        scale: Scale::Same,
    })
}

const fn metric_seconds(name: &'static str, help: &'static str) -> Option<Metric> {
    Some(Metric {
        name,
        help,
        scale: Scale::MillisToSeconds,
    })
}

/// Defines [`Config`] (one field per row), its defaults, [`VARIABLES`], the generic accessors
/// and the builder's setters, all from one row per variable.
macro_rules! variables {
    ($(
        $field:ident: $ty:ty = $default:expr, $name:literal, $key:literal, $kind:ident,
        [$min:expr, $max:expr], option: $option:literal, unset: $unset:literal,
        help: $help:literal, metric: $metric:expr;
    )*) => {
        /// The effective configuration: one field per row of [`VARIABLES`].
        /// [`Config::default`] is the lean default of the design.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Config {
            $(
                #[doc = concat!("`", $name, "`: ", $help)]
                pub $field: $ty,
            )*
        }

        impl Default for Config {
            fn default() -> Self {
                Config { $($field: $default,)* }
            }
        }

        /// Every variable [`Config::from_env`] reads, in documentation order.
        pub static VARIABLES: &[Variable] = &[$(
            Variable {
                name: $name,
                key: $key,
                kind: Kind::$kind,
                min: $min,
                max: $max,
                optional: is_option::<$ty>(),
                unset: $unset,
                option: $option,
                help: $help,
                metric: $metric,
            },
        )*];

        impl Config {
            /// The value of `var`'s field.
            pub fn get(&self, var: &Variable) -> Value {
                match var.name {
                    $($name => self.$field.to_value(),)*
                    _ => Value::Unset,
                }
            }

            /// Sets `var`'s field to `value`, if the table accepts it (kind and range).
            pub fn set(&mut self, var: &Variable, value: Value) -> Result<(), ConfigError> {
                let shown = value_text(&value);
                if !var.accepts(&value) {
                    return Err(var.error(&shown));
                }
                let ok = match var.name {
                    $($name => <$ty as Field>::from_value(value).map(|v| self.$field = v).is_some(),)*
                    _ => false,
                };
                if ok { Ok(()) } else { Err(var.error(&shown)) }
            }
        }

        impl ConfigBuilder {
            $(
                #[doc = concat!("Sets `", stringify!($field), "` (`", $name, "`).")]
                pub fn $field(mut self, v: $ty) -> Self {
                    self.0.$field = v;
                    self
                }
            )*
        }
    };
}

/// Whether a field type is an `Option` (the variable may be unset).
const fn is_option<T: ?Sized + IsOption>() -> bool {
    T::OPTION
}

trait IsOption {
    const OPTION: bool;
}
impl<T> IsOption for Option<T> {
    const OPTION: bool = true;
}
macro_rules! not_option {
    ($($t:ty),*) => {$(impl IsOption for $t { const OPTION: bool = false; })*};
}
not_option!(usize, u64, i64, bool, SocketAddr, PathBuf);

const LOCALHOST: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_EXPORTER_PORT);

variables! {
    pool_initial: usize = 0, "ULTRA_POOL_INITIAL", "poolInitial", Count, [0, MAX_POOL_BUFFERS],
        option: true, unset: "", help: "buffers allocated up front per pool",
        metric: metric("ultra_config_pool_initial_buffers", "ULTRA_POOL_INITIAL: buffers a pool allocates up front.");
    pool_max: usize = 8, "ULTRA_POOL_MAX", "poolMax", Count, [0, MAX_POOL_BUFFERS],
        option: true, unset: "",
        help: "idle buffers kept per size class; beyond it released buffers are freed",
        metric: metric("ultra_config_pool_max_idle_buffers", "ULTRA_POOL_MAX: idle buffers a pool keeps per size class.");
    pool_buffer_bytes: usize = 16 << 10, "ULTRA_POOL_BUFFER_BYTES", "poolBufferBytes", Size,
        [1, MAX_BUFFER_BYTES], option: true, unset: "", help: "default buffer size of a pool",
        metric: metric("ultra_config_pool_buffer_bytes", "ULTRA_POOL_BUFFER_BYTES: default buffer size of a pool.");
    arena_chunk_bytes: usize = 64 << 10, "ULTRA_ARENA_CHUNK_BYTES", "arenaChunkBytes", Size,
        [1, MAX_BUFFER_BYTES], option: true, unset: "",
        help: "an arena's first chunk, reserved on first allocation, never at creation",
        metric: metric("ultra_config_arena_chunk_bytes", "ULTRA_ARENA_CHUNK_BYTES: size of an arena's first chunk.");
    arena_limit_bytes: usize = 64 << 20, "ULTRA_ARENA_LIMIT_BYTES", "arenaLimitBytes", Size,
        [1, MAX_SAFE], option: true, unset: "",
        help: "cap on the bytes one arena reserves; past it an allocation is an error",
        metric: metric("ultra_config_arena_limit_bytes", "ULTRA_ARENA_LIMIT_BYTES: cap on the bytes one arena reserves.");
    cache_max_entries: Option<usize> = None, "ULTRA_CACHE_MAX_ENTRIES", "cacheMaxEntries", Count,
        [1, MAX_CACHE_ENTRIES], option: true, unset: "unset",
        help: "entry bound of caches created without options",
        metric: metric("ultra_config_cache_max_entries", "ULTRA_CACHE_MAX_ENTRIES: default entry bound of caches created without options.");
    cache_max_bytes: Option<usize> = None, "ULTRA_CACHE_MAX_BYTES", "cacheMaxBytes", Size,
        [CACHE_ENTRY_OVERHEAD, MAX_SAFE], option: true, unset: "unset",
        help: "byte bound of caches created without options, an entry weighing key + value + its overhead",
        metric: metric("ultra_config_cache_max_bytes", "ULTRA_CACHE_MAX_BYTES: default byte bound of caches created without options.");
    cache_ttl_ms: Option<u64> = None, "ULTRA_CACHE_TTL_MS", "cacheTtlMs", Millis, [0, MAX_SAFE],
        option: true, unset: "unset", help: "TTL of caches created without options (`0` = none)",
        metric: metric_seconds("ultra_config_cache_ttl_seconds", "ULTRA_CACHE_TTL_MS: default time to live of caches created without options, in seconds.");
    jemalloc_dirty_decay_ms: Option<i64> = None, "ULTRA_JEMALLOC_DIRTY_DECAY_MS",
        "jemallocDirtyDecayMs", Millis, [-1, MAX_SAFE], option: true, unset: "jemalloc's (10000)",
        help: "how long freed pages stay resident before jemalloc purges them (`-1` = never)",
        metric: metric_seconds("ultra_config_jemalloc_dirty_decay_seconds", "ULTRA_JEMALLOC_DIRTY_DECAY_MS: jemalloc dirty-page decay time in seconds; -1 means never.");
    jemalloc_background_thread: Option<bool> = None, "ULTRA_JEMALLOC_BACKGROUND_THREAD",
        "jemallocBackgroundThread", Bool, [0, 1], option: true, unset: "jemalloc's (off)",
        help: "whether jemalloc purges dirty pages from a background thread",
        metric: metric("ultra_config_jemalloc_background_thread", "ULTRA_JEMALLOC_BACKGROUND_THREAD: 1 if jemalloc background purging was switched on, 0 if off.");
    trim_interval_ms: u64 = 0, "ULTRA_TRIM_INTERVAL_MS", "trimIntervalMs", Millis, [0, MAX_SAFE],
        option: true, unset: "", help: "period of an automatic purge of all arenas; `0` = off",
        metric: metric_seconds("ultra_config_trim_interval_seconds", "ULTRA_TRIM_INTERVAL_MS: period of the automatic purge of dirty pages in seconds; 0 means off.");
    heap_profile: bool = false, "ULTRA_HEAP_PROFILE", "heapProfile", Bool, [0, 1], option: false,
        unset: "",
        help: "sample allocations for heap profiles from the start (needs the `profiling` build)",
        metric: None;
    heap_profile_sample_bytes: usize = 512 << 10, "ULTRA_HEAP_PROFILE_SAMPLE_BYTES",
        "heapProfileSampleBytes", Size, [1, MAX_PROFILE_SAMPLE_BYTES], option: false, unset: "",
        help: "mean bytes allocated between two heap-profile samples (rounded down to a power of two)",
        metric: None;
    exporter_addr: SocketAddr = LOCALHOST, "ULTRA_EXPORTER_ADDR", "exporterAddr", Addr, [0, 0],
        option: false, unset: "",
        help: "listen address of the exporter (`host` or `host:port`, `[::1]:port`, `localhost` = 127.0.0.1, port `0` = ephemeral); a non-loopback address is served with a one-line warning",
        metric: None;
    exporter_sd_dir: Option<PathBuf> = None, "ULTRA_EXPORTER_SD_DIR", "exporterSdDir", Dir, [0, 0],
        option: false, unset: "unset",
        help: "folder where each process writes its Prometheus file_sd target (targets of dead processes there are removed at start)",
        metric: None;
    exporter_max_connections: usize = 64, "ULTRA_EXPORTER_MAX_CONNECTIONS",
        "exporterMaxConnections", Count, [1, MAX_CONNECTIONS], option: false, unset: "",
        help: "open connections the exporter's listener holds; past it the oldest that has not sent a complete request is closed",
        metric: None;
}

/// Pairs `(a, b)` of variables where `a` may not exceed `b`, checked after every variable and
/// option is read.
pub static AT_MOST: &[(&str, &str)] = &[("ULTRA_ARENA_CHUNK_BYTES", "ULTRA_ARENA_LIMIT_BYTES")];

/// Looks a variable up by its name.
pub fn variable(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|v| v.name == name)
}

/// Parses a size: plain bytes or with a `B`/`KiB`/`MiB`/`GiB` suffix, spaces allowed between
/// number and suffix. Returns `None` on anything else, including overflow.
pub fn parse_size(s: &str) -> Option<usize> {
    match parse_integer(s.trim_matches(|c: char| c.is_ascii_whitespace()), true)? {
        Value::Int(n) => usize::try_from(n).ok(),
        _ => None,
    }
}

/// `-?digits`, then (when `suffix`) optional spaces and a `B`/`KiB`/`MiB`/`GiB` suffix.
fn parse_integer(s: &str, suffix: bool) -> Option<Value> {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let split = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, tail) = rest.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let mult: i64 = match (
        suffix,
        tail.trim_start_matches(|c: char| c.is_ascii_whitespace()),
    ) {
        (_, "") => 1,
        (true, "B") => 1,
        (true, "KiB") => 1 << 10,
        (true, "MiB") => 1 << 20,
        (true, "GiB") => 1 << 30,
        _ => return None,
    };
    // Out of i64 range is out of every variable's range: saturate, the range check refuses it.
    let n = digits.parse::<i64>().unwrap_or(i64::MAX);
    let n = n.saturating_mul(mult);
    Some(Value::Int(if negative { -n } else { n }))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// Parses a listen address as `ULTRA_EXPORTER_ADDR` takes it: an IP address or `localhost`
/// (= `127.0.0.1`), optionally with a port (`127.0.0.1:9477`, `[::1]:0`, `localhost:0`, `::1`);
/// without a port, [`DEFAULT_EXPORTER_PORT`]. The one address syntax of the binary and Node.
pub fn parse_addr(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Some(addr);
    }
    let localhost = |h: &str| {
        h.eq_ignore_ascii_case("localhost")
            .then_some(Ipv4Addr::LOCALHOST)
    };
    if let Some((host, port)) = s.rsplit_once(':').filter(|(h, _)| !h.contains(':')) {
        let ip = localhost(host)?;
        // Digits only, as `SocketAddr`'s own parser reads a port (`u16::from_str` takes a `+`).
        return port
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| port.parse().ok())
            .flatten()
            .map(|p| SocketAddr::new(IpAddr::V4(ip), p));
    }
    let host = s
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(s);
    let ip = match localhost(host) {
        Some(v4) => IpAddr::V4(v4),
        None => host.parse::<IpAddr>().ok()?,
    };
    Some(SocketAddr::new(ip, DEFAULT_EXPORTER_PORT))
}

/// `16384` → `16KiB`: the largest binary suffix that divides the size.
fn size_text(n: i64) -> String {
    for (suffix, unit) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n != 0 && n % unit == 0 {
            return format!("{}{suffix}", n / unit);
        }
    }
    n.to_string()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Unset => "null".to_owned(),
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Text(t) => t.clone(),
    }
}

/// `JSON.stringify` of a string: how error messages quote the value (the same in JavaScript).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Config {
    /// Reads every `ULTRA_*` variable of the process environment over the defaults.
    ///
    /// A variable that is set but not valid Unicode is an error too.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::resolve(env_lookup, &[])
    }

    /// Reads every `ULTRA_*` variable of the process environment over the defaults, then the
    /// explicit `options` (each overrides its variable): the effective configuration of a
    /// program that takes options too (the Node addon's `initMemorySubsystem`).
    pub fn from_env_with_options(options: &[(&Variable, Value)]) -> Result<Config, ConfigError> {
        Config::resolve(env_lookup, options)
    }

    /// Reads the variables through `lookup` (name → value) over the defaults. Used by
    /// [`Config::from_env`] and by tests, which need not touch the process environment.
    pub fn from_lookup(
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Config::resolve(|name| Ok(lookup(name)), &[])
    }

    /// The effective configuration: the defaults, then each variable `lookup` gives (name →
    /// value; `Err` holds a value that is not valid Unicode), then each explicit option (which
    /// overrides its variable), then the relations of [`AT_MOST`].
    pub fn resolve(
        mut lookup: impl FnMut(&str) -> Result<Option<String>, String>,
        options: &[(&Variable, Value)],
    ) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        for var in VARIABLES {
            let raw = match lookup(var.name) {
                Ok(Some(raw)) => raw,
                Ok(None) => continue,
                Err(lossy) => {
                    return Err(ConfigError {
                        var: var.name,
                        value: lossy,
                        expected: "valid UTF-8 text".to_owned(),
                    })
                }
            };
            if let Some(value) = var.parse(&raw)? {
                c.set(var, value)?;
            }
        }
        for (var, value) in options {
            c.set(var, value.clone())?;
        }
        c.validate()?;
        Ok(c)
    }

    /// A builder over the defaults, for tests and embedders.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder(Config::default())
    }

    /// Checks the table's ranges on every field and the relations of [`AT_MOST`].
    fn validate(&self) -> Result<(), ConfigError> {
        for var in VARIABLES {
            let v = self.get(var);
            if !var.accepts(&v) {
                return Err(var.error(&value_text(&v)));
            }
        }
        for &(small, large) in AT_MOST {
            let (Some(a), Some(b)) = (variable(small), variable(large)) else {
                continue;
            };
            if let (Value::Int(x), Value::Int(y)) = (self.get(a), self.get(b)) {
                if x > y {
                    return Err(ConfigError {
                        var: a.name,
                        value: x.to_string(),
                        expected: format!("at most {} ({y})", b.name),
                    });
                }
            }
        }
        Ok(())
    }

    /// The defaults with every variable that has a gauge set (numbers to their smallest positive
    /// accepted value, booleans to `false`): for tests that need every `ultra_config_*` family
    /// rendered, whatever variables the table holds.
    pub fn every_gauge_set() -> Config {
        let mut c = Config::default();
        for var in VARIABLES.iter().filter(|v| v.metric.is_some()) {
            let value = match var.kind {
                Kind::Bool => Value::Bool(false),
                _ => Value::Int(var.min.max(1).min(var.max)),
            };
            // Every row accepts that value; a row that would not keeps its default, and the
            // test that needs the gauge then says which one is missing.
            let _ = c.set(var, value);
        }
        c
    }

    /// The value `var`'s `ultra_config_*` gauge shows, `None` when it has no gauge or is unset.
    pub fn metric_value(&self, var: &Variable) -> Option<f64> {
        let metric = var.metric?;
        let n = match self.get(var) {
            Value::Int(n) => n as f64,
            Value::Bool(b) => f64::from(u8::from(b)),
            Value::Unset | Value::Text(_) => return None,
        };
        Some(match metric.scale {
            Scale::Same => n,
            Scale::MillisToSeconds if n < 0.0 => -1.0,
            Scale::MillisToSeconds => n / 1000.0,
        })
    }
}

fn env_lookup(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(v.to_string_lossy().into_owned()),
    }
}

/// Builds a [`Config`] field by field; [`ConfigBuilder::build`] validates it against the table.
#[derive(Debug, Clone)]
pub struct ConfigBuilder(Config);

impl ConfigBuilder {
    /// Validates and returns the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        self.0.validate()?;
        Ok(self.0)
    }
}

/// Applies the jemalloc settings of `config` (decay, background thread, heap profiling), if any
/// are set.
///
/// Nothing happens for unset fields. Without the `jemalloc` feature a set field is an error;
/// `ULTRA_HEAP_PROFILE=1` without the `profiling` feature too. The heap-profile interval is
/// applied whenever the profiler exists, so that sampling switched on later uses it
/// ([`crate::profile`]).
pub fn apply_jemalloc(config: &Config) -> Result<(), crate::JemallocError> {
    if let Some(ms) = config.jemalloc_dirty_decay_ms {
        crate::jemalloc::set_dirty_decay_ms(ms)?;
    }
    if let Some(on) = config.jemalloc_background_thread {
        crate::jemalloc::set_background_thread(on)?;
    }
    crate::profile::apply(config).map_err(|e| crate::JemallocError::Ctl {
        name: "prof.active",
        reason: format!("ULTRA_HEAP_PROFILE={}: {e}", config.heap_profile),
    })?;
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Generated views of the table (checked against the committed files by `tests/config_table.rs`)

/// The table as JSON, for the Node package's fallback parser (`node/lib/config-table.json`).
pub fn table_json() -> String {
    let mut s = String::from("{\n  \"variables\": [\n");
    for (i, v) in VARIABLES.iter().enumerate() {
        let default = match Config::default().get(v) {
            Value::Unset => "null".to_owned(),
            Value::Int(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Text(t) => quote(&t),
        };
        let metric = match v.metric {
            None => "null".to_owned(),
            Some(m) => format!(
                "{{ \"name\": {}, \"help\": {}, \"seconds\": {} }}",
                quote(m.name),
                quote(m.help),
                m.scale == Scale::MillisToSeconds
            ),
        };
        let _ = writeln!(
            s,
            "    {{ \"name\": {}, \"key\": {}, \"kind\": {}, \"min\": {}, \"max\": {}, \"optional\": {}, \"option\": {}, \"default\": {}, \"expected\": {}, \"metric\": {} }}{}",
            quote(v.name),
            quote(v.key),
            quote(v.kind.as_str()),
            v.min,
            v.max,
            v.optional,
            v.option,
            default,
            quote(&v.expected()),
            metric,
            if i + 1 < VARIABLES.len() { "," } else { "" }
        );
    }
    s.push_str("  ],\n  \"atMost\": [");
    let pairs: Vec<String> = AT_MOST
        .iter()
        .map(|(a, b)| format!("[{}, {}]", quote(a), quote(b)))
        .collect();
    s.push_str(&pairs.join(", "));
    let _ = write!(
        s,
        "],\n  \"defaultExporterPort\": {DEFAULT_EXPORTER_PORT},\n  \"limits\": {{ \"maxSafe\": {MAX_SAFE}, \"maxBufferBytes\": {MAX_BUFFER_BYTES}, \"maxPoolBuffers\": {MAX_POOL_BUFFERS}, \"maxCacheEntries\": {MAX_CACHE_ENTRIES}, \"maxBlake3Length\": {MAX_BLAKE3_LENGTH}, \"cacheEntryOverhead\": {CACHE_ENTRY_OVERHEAD}, \"maxCacheNameLength\": {MAX_CACHE_NAME_LENGTH}, \"maxCacheLabels\": {MAX_CACHE_LABELS} }}\n}}\n"
    );
    s
}

/// The Markdown configuration table of the READMEs: `| variable | meaning | default | gauge |`,
/// with the `initMemorySubsystem` option key as a second column when `with_key`.
pub fn readme_table(with_key: bool) -> String {
    let mut s = if with_key {
        String::from("| variable | option | meaning | default | gauge |\n|---|---|---|---|---|\n")
    } else {
        String::from("| variable | meaning | default | gauge |\n|---|---|---|---|\n")
    };
    for v in VARIABLES {
        let default = match Config::default().get(v) {
            Value::Unset => v.unset.to_owned(),
            _ => format!("`{}`", v.default_text()),
        };
        let gauge = match v.metric {
            None => "—".to_owned(),
            Some(m) if m.scale == Scale::MillisToSeconds => format!("`{}` (seconds)", m.name),
            Some(m) => format!("`{}`", m.name),
        };
        let _ = write!(s, "| `{}` | ", v.name);
        if with_key {
            let key = if v.option {
                format!("`{}`", v.key)
            } else {
                "—".to_owned()
            };
            let _ = write!(s, "{key} | ");
        }
        let _ = writeln!(s, "{} | {default} | {gauge} |", v.help);
    }
    s
}

/// The `MemoryConfig` and `MemoryConfigOptions` declarations of `node/index.d.ts`.
pub fn typescript_types() -> String {
    let mut config = String::from(
        "/** The effective configuration (`ULTRA_*` environment and options). `null`: unset. */\nexport interface MemoryConfig {\n",
    );
    let mut options = String::from(
        "/** Explicit configuration; each option overrides its `ULTRA_*` variable. */\nexport interface MemoryConfigOptions {\n",
    );
    for v in VARIABLES {
        let ty = match v.kind {
            Kind::Count | Kind::Size | Kind::Millis => "number",
            Kind::Bool => "boolean",
            Kind::Addr | Kind::Dir => "string",
        };
        let doc = format!(
            "  /** {} (`{}`, default {}). */\n",
            capitalise(v.help),
            v.name,
            v.default_text()
        );
        let null = if v.optional { " | null" } else { "" };
        let _ = writeln!(config, "{doc}  {}: {ty}{null}", v.key);
        if v.option {
            let _ = writeln!(options, "{doc}  {}?: {ty}", v.key);
        }
    }
    config.push_str("}\n\n");
    options.push_str("}\n");
    config + &options
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_lean_and_in_range() {
        let c = with(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.pool_initial, 0);
        assert_eq!(c.pool_max, 8);
        assert_eq!(c.trim_interval_ms, 0);
        assert!(c.exporter_addr.ip().is_loopback());
        assert!(Config::builder().build().is_ok());
    }

    #[test]
    fn every_row_is_unique_and_documented() {
        for (i, v) in VARIABLES.iter().enumerate() {
            assert!(v.name.starts_with("ULTRA_"), "{}", v.name);
            assert!(!v.help.is_empty(), "{}", v.name);
            assert!(v.min <= v.max, "{}", v.name);
            assert!(v.max <= MAX_SAFE, "{}", v.name);
            assert_eq!(v.optional, !v.unset.is_empty(), "{}: unset text", v.name);
            for w in &VARIABLES[i + 1..] {
                assert!(v.name != w.name && v.key != w.key, "{} twice", v.name);
            }
            if let Some(m) = v.metric {
                assert!(m.name.starts_with("ultra_config_"), "{}", m.name);
                assert!(m.help.starts_with(v.name), "{}", m.help);
            }
        }
        for (a, b) in AT_MOST {
            assert!(variable(a).is_some() && variable(b).is_some());
        }
    }

    #[test]
    fn sizes_accept_suffixes() {
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("64 KiB"), Some(65536));
        assert_eq!(parse_size("2MiB"), Some(2 << 20));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("12B"), Some(12));
        for bad in ["", "KiB", "64XB", "64kb", "-1", "1.5MiB", "+5"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_variable_parses_good_values() {
        let c = with(&[
            ("ULTRA_POOL_INITIAL", "4"),
            ("ULTRA_POOL_MAX", "32"),
            ("ULTRA_POOL_BUFFER_BYTES", "4KiB"),
            ("ULTRA_ARENA_CHUNK_BYTES", "1MiB"),
            ("ULTRA_ARENA_LIMIT_BYTES", "1GiB"),
            ("ULTRA_CACHE_MAX_ENTRIES", "1000"),
            ("ULTRA_CACHE_MAX_BYTES", "10MiB"),
            ("ULTRA_CACHE_TTL_MS", "60000"),
            ("ULTRA_JEMALLOC_DIRTY_DECAY_MS", "-1"),
            ("ULTRA_JEMALLOC_BACKGROUND_THREAD", "yes"),
            ("ULTRA_TRIM_INTERVAL_MS", "5000"),
            ("ULTRA_EXPORTER_ADDR", "[::1]:0"),
            ("ULTRA_EXPORTER_SD_DIR", "/tmp/sd"),
            ("ULTRA_HEAP_PROFILE", "on"),
            ("ULTRA_HEAP_PROFILE_SAMPLE_BYTES", "1MiB"),
        ])
        .unwrap();
        assert!(c.heap_profile);
        assert_eq!(c.heap_profile_sample_bytes, 1 << 20);
        assert_eq!(c.pool_initial, 4);
        assert_eq!(c.pool_max, 32);
        assert_eq!(c.pool_buffer_bytes, 4096);
        assert_eq!(c.arena_chunk_bytes, 1 << 20);
        assert_eq!(c.arena_limit_bytes, 1 << 30);
        assert_eq!(c.cache_max_entries, Some(1000));
        assert_eq!(c.cache_max_bytes, Some(10 << 20));
        assert_eq!(c.cache_ttl_ms, Some(60000));
        assert_eq!(c.jemalloc_dirty_decay_ms, Some(-1));
        assert_eq!(c.jemalloc_background_thread, Some(true));
        assert_eq!(c.trim_interval_ms, 5000);
        assert_eq!(c.exporter_addr, "[::1]:0".parse().unwrap());
        assert_eq!(c.exporter_sd_dir, Some(PathBuf::from("/tmp/sd")));
        let host_only = with(&[("ULTRA_EXPORTER_ADDR", "127.0.0.2")]).unwrap();
        assert_eq!(host_only.exporter_addr.port(), DEFAULT_EXPORTER_PORT);
    }

    #[test]
    fn options_override_variables_and_are_range_checked() {
        let pool_max = variable("ULTRA_POOL_MAX").unwrap();
        let c = Config::resolve(
            |n| Ok((n == "ULTRA_POOL_MAX").then(|| "9".to_owned())),
            &[(pool_max, Value::Int(3))],
        )
        .unwrap();
        assert_eq!(c.pool_max, 3);
        let e = Config::resolve(|_| Ok(None), &[(pool_max, Value::Int(-1))]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid ULTRA_POOL_MAX=\"-1\": expected an integer in [0, 1048576]"
        );
        let e = Config::resolve(|_| Ok(None), &[(pool_max, Value::Bool(true))]).unwrap_err();
        assert_eq!(e.var, "ULTRA_POOL_MAX");
    }

    #[test]
    fn a_value_that_is_not_unicode_names_the_variable() {
        let e = Config::resolve(
            |n| match n {
                "ULTRA_POOL_MAX" => Err("\u{fffd}".to_owned()),
                _ => Ok(None),
            },
            &[],
        )
        .unwrap_err();
        assert_eq!(e.var, "ULTRA_POOL_MAX");
        assert!(e.to_string().contains("valid UTF-8"), "{e}");
    }

    #[test]
    fn chunk_larger_than_limit_is_rejected() {
        let e = with(&[
            ("ULTRA_ARENA_CHUNK_BYTES", "2MiB"),
            ("ULTRA_ARENA_LIMIT_BYTES", "1MiB"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "ULTRA_ARENA_CHUNK_BYTES");
        assert_eq!(
            e.to_string(),
            "invalid ULTRA_ARENA_CHUNK_BYTES=\"2097152\": expected at most ULTRA_ARENA_LIMIT_BYTES (1048576)"
        );
    }

    #[test]
    fn builder_validates() {
        assert!(Config::builder().pool_initial(3).build().is_ok());
        assert_eq!(
            Config::builder()
                .arena_limit_bytes(0)
                .build()
                .unwrap_err()
                .var,
            "ULTRA_ARENA_LIMIT_BYTES"
        );
        assert!(Config::builder()
            .jemalloc_dirty_decay_ms(Some(-7))
            .build()
            .is_err());
    }

    #[test]
    fn metric_values_follow_the_scale() {
        let c = Config::builder()
            .jemalloc_dirty_decay_ms(Some(-1))
            .cache_ttl_ms(Some(250))
            .jemalloc_background_thread(Some(true))
            .build()
            .unwrap();
        let value = |name| c.metric_value(variable(name).unwrap());
        assert_eq!(value("ULTRA_JEMALLOC_DIRTY_DECAY_MS"), Some(-1.0));
        assert_eq!(value("ULTRA_CACHE_TTL_MS"), Some(0.25));
        assert_eq!(value("ULTRA_JEMALLOC_BACKGROUND_THREAD"), Some(1.0));
        assert_eq!(value("ULTRA_POOL_MAX"), Some(8.0));
        assert_eq!(value("ULTRA_CACHE_MAX_BYTES"), None);
        assert_eq!(value("ULTRA_EXPORTER_ADDR"), None);
    }

    #[test]
    fn every_gauge_set_sets_every_gauge() {
        let c = Config::every_gauge_set();
        assert!(c.validate().is_ok());
        for var in VARIABLES.iter().filter(|v| v.metric.is_some()) {
            assert!(c.metric_value(var).is_some(), "{}", var.name);
        }
    }

    #[test]
    fn defaults_read_as_documented() {
        let text = |name| variable(name).unwrap().default_text();
        assert_eq!(text("ULTRA_POOL_BUFFER_BYTES"), "16KiB");
        assert_eq!(text("ULTRA_ARENA_LIMIT_BYTES"), "64MiB");
        assert_eq!(text("ULTRA_EXPORTER_ADDR"), "127.0.0.1:9477");
        assert_eq!(text("ULTRA_CACHE_TTL_MS"), "unset");
    }
}
