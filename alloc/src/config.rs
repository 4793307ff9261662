//! `ULTRA_*` configuration: one [`Config`], read once from the environment.
//!
//! Every variable of the design's table is parsed here (the JS-side `ULTRA_FORCE_FALLBACK`
//! excepted). A value that does not parse is a [`ConfigError`] naming the variable, the value
//! and the accepted form; nothing is ignored silently. Sizes accept plain bytes or a `KiB`,
//! `MiB` or `GiB` suffix (`64KiB`, `16 MiB`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// A `ULTRA_*` variable (or builder option) whose value is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {var}={value:?}: expected {expected}")]
pub struct ConfigError {
    /// The variable's name, e.g. `ULTRA_POOL_INITIAL`.
    pub var: &'static str,
    /// The value as given.
    pub value: String,
    /// The accepted form, e.g. "a size in bytes, optionally with a KiB/MiB/GiB suffix".
    pub expected: &'static str,
}

/// Default port of the exporter when `ULTRA_EXPORTER_ADDR` names only a host.
pub const DEFAULT_EXPORTER_PORT: u16 = 9477;

/// The effective configuration. [`Config::default`] is the lean default of the design.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// `ULTRA_POOL_INITIAL`: buffers a pool allocates up front (default 0).
    pub pool_initial: usize,
    /// `ULTRA_POOL_MAX`: idle buffers kept per size class (default 8).
    pub pool_max: usize,
    /// `ULTRA_POOL_BUFFER_BYTES`: default buffer size of a pool (default 16 KiB).
    pub pool_buffer_bytes: usize,
    /// `ULTRA_ARENA_CHUNK_BYTES`: first chunk of an arena, reserved at first use (default 64 KiB).
    pub arena_chunk_bytes: usize,
    /// `ULTRA_ARENA_LIMIT_BYTES`: cap on the bytes an arena reserves (default 64 MiB).
    pub arena_limit_bytes: usize,
    /// `ULTRA_CACHE_MAX_ENTRIES`: default entry bound of caches created without options.
    pub cache_max_entries: Option<usize>,
    /// `ULTRA_CACHE_MAX_BYTES`: default byte bound of caches created without options.
    pub cache_max_bytes: Option<usize>,
    /// `ULTRA_CACHE_TTL_MS`: default TTL of caches created without options.
    pub cache_ttl_ms: Option<u64>,
    /// `ULTRA_JEMALLOC_DIRTY_DECAY_MS`: dirty-page decay (`-1` = never); unset keeps jemalloc's.
    pub jemalloc_dirty_decay_ms: Option<i64>,
    /// `ULTRA_JEMALLOC_BACKGROUND_THREAD`: jemalloc background purging; unset keeps jemalloc's.
    pub jemalloc_background_thread: Option<bool>,
    /// `ULTRA_TRIM_INTERVAL_MS`: period of the automatic purge; 0 = off (default).
    pub trim_interval_ms: u64,
    /// `ULTRA_EXPORTER_ADDR`: listen address of the exporter (default `127.0.0.1:9477`).
    pub exporter_addr: SocketAddr,
    /// `ULTRA_EXPORTER_SD_DIR`: folder for Prometheus file_sd target files (default unset).
    pub exporter_sd_dir: Option<PathBuf>,
    /// `ULTRA_EXPORTER_MAX_CONNECTIONS`: open connections the exporter's listener accepts
    /// (default 64, at least 1).
    pub exporter_max_connections: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pool_initial: 0,
            pool_max: 8,
            pool_buffer_bytes: 16 * 1024,
            arena_chunk_bytes: 64 * 1024,
            arena_limit_bytes: 64 * 1024 * 1024,
            cache_max_entries: None,
            cache_max_bytes: None,
            cache_ttl_ms: None,
            jemalloc_dirty_decay_ms: None,
            jemalloc_background_thread: None,
            trim_interval_ms: 0,
            exporter_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_EXPORTER_PORT),
            exporter_sd_dir: None,
            exporter_max_connections: 64,
        }
    }
}

const SIZE: &str = "a size in bytes, optionally with a KiB, MiB or GiB suffix (e.g. 65536, 64KiB)";
const COUNT: &str = "a non-negative integer";
const MILLIS: &str = "a non-negative integer number of milliseconds";
const DECAY: &str = "an integer number of milliseconds >= -1 (-1 = never decay)";
const BOOL: &str = "one of 1, 0, true, false, on, off";
const ADDR: &str =
    "an IP address or localhost, optionally with a port (e.g. 127.0.0.1:9477, [::1]:0, localhost:0)";
const POSITIVE: &str = "a positive integer";
const DIR: &str = "a non-empty folder path";

/// Every variable [`Config::from_env`] reads, with its default, for documentation and `--help`.
pub const VARIABLES: &[(&str, &str)] = &[
    ("ULTRA_POOL_INITIAL", "0"),
    ("ULTRA_POOL_MAX", "8"),
    ("ULTRA_POOL_BUFFER_BYTES", "16KiB"),
    ("ULTRA_ARENA_CHUNK_BYTES", "64KiB"),
    ("ULTRA_ARENA_LIMIT_BYTES", "64MiB"),
    ("ULTRA_CACHE_MAX_ENTRIES", "unset"),
    ("ULTRA_CACHE_MAX_BYTES", "unset"),
    ("ULTRA_CACHE_TTL_MS", "unset"),
    ("ULTRA_JEMALLOC_DIRTY_DECAY_MS", "jemalloc's (10000)"),
    ("ULTRA_JEMALLOC_BACKGROUND_THREAD", "jemalloc's (off)"),
    ("ULTRA_TRIM_INTERVAL_MS", "0 (off)"),
    ("ULTRA_EXPORTER_ADDR", "127.0.0.1:9477"),
    ("ULTRA_EXPORTER_SD_DIR", "unset"),
    ("ULTRA_EXPORTER_MAX_CONNECTIONS", "64"),
];

/// Parses a size: plain bytes or with a `KiB`/`MiB`/`GiB` suffix (also `B`), spaces allowed
/// between number and suffix. Returns `None` on anything else, including overflow.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let mult: u64 = match suffix.trim_start() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    usize::try_from(n.checked_mul(mult)?).ok()
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
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
        return port
            .parse()
            .ok()
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

fn err(var: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError {
        var,
        value: value.to_owned(),
        expected,
    }
}

/// Looks up `var`, then parses it with `parse`; unset or empty leaves the field alone.
fn field<T>(
    lookup: &mut impl FnMut(&str) -> Option<String>,
    var: &'static str,
    expected: &'static str,
    parse: impl Fn(&str) -> Option<T>,
    slot: &mut T,
) -> Result<(), ConfigError> {
    match lookup(var) {
        Some(v) if !v.trim().is_empty() => {
            *slot = parse(&v).ok_or_else(|| err(var, &v, expected))?;
            Ok(())
        }
        _ => Ok(()),
    }
}

impl Config {
    /// Reads every `ULTRA_*` variable of the process environment over the defaults.
    ///
    /// A variable that is set but not valid Unicode is an error too.
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut bad_unicode = None;
        let config = Config::from_lookup(|name| match std::env::var(name) {
            Ok(v) => Some(v),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(v)) => {
                bad_unicode.get_or_insert((name.to_owned(), v));
                None
            }
        })?;
        if let Some((name, v)) = bad_unicode {
            let var = VARIABLES
                .iter()
                .map(|(n, _)| *n)
                .find(|n| *n == name)
                .unwrap_or("ULTRA_*");
            return Err(err(var, &v.to_string_lossy(), "valid UTF-8 text"));
        }
        Ok(config)
    }

    /// Reads the variables through `lookup` (name → value) over the defaults. Used by
    /// [`Config::from_env`] and by tests, which need not touch the process environment.
    pub fn from_lookup(
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let l = &mut lookup;
        field(
            l,
            "ULTRA_POOL_INITIAL",
            COUNT,
            |s| s.trim().parse().ok(),
            &mut c.pool_initial,
        )?;
        field(
            l,
            "ULTRA_POOL_MAX",
            COUNT,
            |s| s.trim().parse().ok(),
            &mut c.pool_max,
        )?;
        field(
            l,
            "ULTRA_POOL_BUFFER_BYTES",
            SIZE,
            parse_pos_size,
            &mut c.pool_buffer_bytes,
        )?;
        field(
            l,
            "ULTRA_ARENA_CHUNK_BYTES",
            SIZE,
            parse_pos_size,
            &mut c.arena_chunk_bytes,
        )?;
        field(
            l,
            "ULTRA_ARENA_LIMIT_BYTES",
            SIZE,
            parse_pos_size,
            &mut c.arena_limit_bytes,
        )?;
        let some = |f: fn(&str) -> Option<usize>| move |s: &str| f(s).map(Some);
        field(
            l,
            "ULTRA_CACHE_MAX_ENTRIES",
            COUNT,
            some(|s| s.trim().parse().ok()),
            &mut c.cache_max_entries,
        )?;
        field(
            l,
            "ULTRA_CACHE_MAX_BYTES",
            SIZE,
            some(parse_size),
            &mut c.cache_max_bytes,
        )?;
        field(
            l,
            "ULTRA_CACHE_TTL_MS",
            MILLIS,
            |s| s.trim().parse().ok().map(Some),
            &mut c.cache_ttl_ms,
        )?;
        field(
            l,
            "ULTRA_JEMALLOC_DIRTY_DECAY_MS",
            DECAY,
            |s| s.trim().parse::<i64>().ok().filter(|v| *v >= -1).map(Some),
            &mut c.jemalloc_dirty_decay_ms,
        )?;
        field(
            l,
            "ULTRA_JEMALLOC_BACKGROUND_THREAD",
            BOOL,
            |s| parse_bool(s).map(Some),
            &mut c.jemalloc_background_thread,
        )?;
        field(
            l,
            "ULTRA_TRIM_INTERVAL_MS",
            MILLIS,
            |s| s.trim().parse().ok(),
            &mut c.trim_interval_ms,
        )?;
        field(
            l,
            "ULTRA_EXPORTER_ADDR",
            ADDR,
            parse_addr,
            &mut c.exporter_addr,
        )?;
        field(
            l,
            "ULTRA_EXPORTER_SD_DIR",
            DIR,
            |s| Some(Some(PathBuf::from(s))),
            &mut c.exporter_sd_dir,
        )?;
        field(
            l,
            "ULTRA_EXPORTER_MAX_CONNECTIONS",
            POSITIVE,
            |s| s.trim().parse().ok().filter(|n| *n > 0),
            &mut c.exporter_max_connections,
        )?;
        c.validate()?;
        Ok(c)
    }

    /// A builder over the defaults, for tests and embedders.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder(Config::default())
    }

    /// Checks relations between fields that single-variable parsing cannot.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.arena_chunk_bytes > self.arena_limit_bytes {
            return Err(err(
                "ULTRA_ARENA_CHUNK_BYTES",
                &self.arena_chunk_bytes.to_string(),
                "a first-chunk size no larger than ULTRA_ARENA_LIMIT_BYTES",
            ));
        }
        Ok(())
    }
}

fn parse_pos_size(s: &str) -> Option<usize> {
    parse_size(s).filter(|v| *v > 0)
}

/// Builds a [`Config`] field by field; [`ConfigBuilder::build`] validates it.
#[derive(Debug, Clone)]
pub struct ConfigBuilder(Config);

macro_rules! setters {
    ($($(#[$m:meta])* $name:ident: $t:ty),* $(,)?) => {
        impl ConfigBuilder {
            $($(#[$m])* pub fn $name(mut self, v: $t) -> Self { self.0.$name = v; self })*
        }
    };
}

setters! {
    /// Sets `pool_initial`.
    pool_initial: usize,
    /// Sets `pool_max`.
    pool_max: usize,
    /// Sets `pool_buffer_bytes`.
    pool_buffer_bytes: usize,
    /// Sets `arena_chunk_bytes`.
    arena_chunk_bytes: usize,
    /// Sets `arena_limit_bytes`.
    arena_limit_bytes: usize,
    /// Sets `cache_max_entries`.
    cache_max_entries: Option<usize>,
    /// Sets `cache_max_bytes`.
    cache_max_bytes: Option<usize>,
    /// Sets `cache_ttl_ms`.
    cache_ttl_ms: Option<u64>,
    /// Sets `jemalloc_dirty_decay_ms`.
    jemalloc_dirty_decay_ms: Option<i64>,
    /// Sets `jemalloc_background_thread`.
    jemalloc_background_thread: Option<bool>,
    /// Sets `trim_interval_ms`.
    trim_interval_ms: u64,
    /// Sets `exporter_addr`.
    exporter_addr: SocketAddr,
    /// Sets `exporter_sd_dir`.
    exporter_sd_dir: Option<PathBuf>,
    /// Sets `exporter_max_connections`.
    exporter_max_connections: usize,
}

impl ConfigBuilder {
    /// Validates and returns the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        let c = self.0;
        if c.pool_buffer_bytes == 0 {
            return Err(err("ULTRA_POOL_BUFFER_BYTES", "0", SIZE));
        }
        if c.arena_chunk_bytes == 0 {
            return Err(err("ULTRA_ARENA_CHUNK_BYTES", "0", SIZE));
        }
        if c.arena_limit_bytes == 0 {
            return Err(err("ULTRA_ARENA_LIMIT_BYTES", "0", SIZE));
        }
        if c.exporter_max_connections == 0 {
            return Err(err("ULTRA_EXPORTER_MAX_CONNECTIONS", "0", POSITIVE));
        }
        if matches!(c.jemalloc_dirty_decay_ms, Some(v) if v < -1) {
            let v = c.jemalloc_dirty_decay_ms.unwrap_or_default().to_string();
            return Err(err("ULTRA_JEMALLOC_DIRTY_DECAY_MS", &v, DECAY));
        }
        c.validate()?;
        Ok(c)
    }
}

/// Applies the jemalloc settings of `config` (decay, background thread), if any are set.
///
/// Nothing happens for unset fields. Without the `jemalloc` feature a set field is an error.
pub fn apply_jemalloc(config: &Config) -> Result<(), crate::JemallocError> {
    if let Some(ms) = config.jemalloc_dirty_decay_ms {
        crate::jemalloc::set_dirty_decay_ms(ms)?;
    }
    if let Some(on) = config.jemalloc_background_thread {
        crate::jemalloc::set_background_thread(on)?;
    }
    Ok(())
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
    fn defaults_are_lean() {
        let c = with(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.pool_initial, 0);
        assert_eq!(c.trim_interval_ms, 0);
        assert!(c.exporter_addr.ip().is_loopback());
        assert_eq!(VARIABLES.len(), 14);
    }

    #[test]
    fn sizes_accept_suffixes() {
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("64 KiB"), Some(65536));
        assert_eq!(parse_size("2MiB"), Some(2 << 20));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("12B"), Some(12));
        for bad in [
            "",
            "KiB",
            "64XB",
            "64kb",
            "-1",
            "1.5MiB",
            "99999999999999999999",
            "17179869184GiB",
        ] {
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
            ("ULTRA_JEMALLOC_BACKGROUND_THREAD", "true"),
            ("ULTRA_TRIM_INTERVAL_MS", "5000"),
            ("ULTRA_EXPORTER_ADDR", "[::1]:0"),
            ("ULTRA_EXPORTER_SD_DIR", "/tmp/sd"),
            ("ULTRA_EXPORTER_MAX_CONNECTIONS", "8"),
        ])
        .unwrap();
        assert_eq!(c.exporter_max_connections, 8);
        let local = with(&[("ULTRA_EXPORTER_ADDR", "localhost:0")]).unwrap();
        assert_eq!(local.exporter_addr, "127.0.0.1:0".parse().unwrap());
        let local = with(&[("ULTRA_EXPORTER_ADDR", "localhost")]).unwrap();
        assert_eq!(local.exporter_addr.port(), DEFAULT_EXPORTER_PORT);
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

    /// One bad-value test per variable: the error names the variable and the value.
    #[test]
    fn bad_values_name_the_variable() {
        let cases: &[(&str, &[&str])] = &[
            (
                "ULTRA_POOL_INITIAL",
                &["abc", "-1", "1.5", "99999999999999999999999"],
            ),
            ("ULTRA_POOL_MAX", &["many", "-3"]),
            (
                "ULTRA_POOL_BUFFER_BYTES",
                &["64XB", "0", "-1", "17179869184GiB"],
            ),
            ("ULTRA_ARENA_CHUNK_BYTES", &["1.5MiB", "0", "64kb"]),
            ("ULTRA_ARENA_LIMIT_BYTES", &["lots", "0"]),
            ("ULTRA_CACHE_MAX_ENTRIES", &["-5", "ten"]),
            ("ULTRA_CACHE_MAX_BYTES", &["10MB", "-1"]),
            ("ULTRA_CACHE_TTL_MS", &["NaN", "-1", "1e3"]),
            ("ULTRA_JEMALLOC_DIRTY_DECAY_MS", &["-2", "soon"]),
            ("ULTRA_JEMALLOC_BACKGROUND_THREAD", &["maybe", "2"]),
            ("ULTRA_TRIM_INTERVAL_MS", &["-100", "5s"]),
            (
                "ULTRA_EXPORTER_ADDR",
                &["localhost:abc", "999.1.1.1", ":9090", "example.com:80"],
            ),
            ("ULTRA_EXPORTER_MAX_CONNECTIONS", &["0", "-1", "lots"]),
        ];
        for (var, values) in cases {
            for value in *values {
                let e = with(&[(var, value)]).unwrap_err();
                assert_eq!(e.var, *var, "{var}={value}");
                assert_eq!(e.value, *value);
                let msg = e.to_string();
                assert!(msg.contains(var) && msg.contains(value), "{msg}");
                assert!(msg.contains("expected"), "{msg}");
            }
        }
        // ULTRA_EXPORTER_SD_DIR accepts any non-empty path; empty means unset.
        assert_eq!(
            with(&[("ULTRA_EXPORTER_SD_DIR", "")])
                .unwrap()
                .exporter_sd_dir,
            None
        );
    }

    #[test]
    fn chunk_larger_than_limit_is_rejected() {
        let e = with(&[
            ("ULTRA_ARENA_CHUNK_BYTES", "2MiB"),
            ("ULTRA_ARENA_LIMIT_BYTES", "1MiB"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "ULTRA_ARENA_CHUNK_BYTES");
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
}
