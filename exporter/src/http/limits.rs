//! The listener's limits: one struct, its defaults written once, here.

use std::time::Duration;

use ultra_alloc::Config;

/// Bounds that keep the `/metrics` listener alive whatever its clients do.
///
/// [`Limits::default`] holds the defaults (listed below, and in the crate docs); only
/// `max_connections` comes from the environment (`ULTRA_EXPORTER_MAX_CONNECTIONS`, through
/// [`Limits::from_config`]). Tests and embedders set the fields directly.
///
/// | field | default | beyond it |
/// |---|---|---|
/// | `max_connections` | 64 | a connection is closed to make room: the oldest that has not sent a complete request, else the one waiting longest for its client; if every one is being answered, the new connection is closed at once |
/// | `max_requests_in_flight` | 16 | `503 Service Unavailable` |
/// | `render_threads` | 2 | requests wait (within `max_requests_in_flight`) |
/// | `header_read_timeout` | 10 s | from the first byte of a request (or from accept) to its complete header; the connection is closed |
/// | `idle_timeout` | 30 s | a kept-alive connection that sends nothing after a response is closed |
/// | `write_timeout` | 10 s | a client that accepts no response bytes for this long is cut off |
/// | `max_header_bytes` | 16 KiB | `431 Request Header Fields Too Large` and close (hyper's read buffer, at least 8 KiB) |
/// | `max_url_bytes` | 2 KiB | `414 URI Too Long` and close |
/// | `shutdown_timeout` | 5 s | in-flight responses still unfinished when closing are cut off |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most (`ULTRA_EXPORTER_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Requests being rendered or waiting for a render thread at most; `503` beyond.
    pub max_requests_in_flight: usize,
    /// Threads that render (and compress) responses; started with the listener.
    pub render_threads: usize,
    /// Time a client has to send a complete request header, counted from its first byte
    /// (from accept for a connection's first request).
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may stay silent between requests.
    pub idle_timeout: Duration,
    /// Time a response write may make no progress (the client does not read).
    pub write_timeout: Duration,
    /// Largest request head (request line and headers); `431` beyond. At least 8 KiB.
    pub max_header_bytes: usize,
    /// Longest request target (path and query); `414` beyond.
    pub max_url_bytes: usize,
    /// Time [`Server::close`](crate::Server::close) gives in-flight responses to finish.
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: Config::default().exporter_max_connections,
            max_requests_in_flight: 16,
            render_threads: 2,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_url_bytes: 2 * 1024,
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// hyper's smallest read buffer.
pub(crate) const MIN_HEADER_BYTES: usize = 8 * 1024;

impl Limits {
    /// The defaults, with `max_connections` from `config` (`ULTRA_EXPORTER_MAX_CONNECTIONS`).
    pub fn from_config(config: &Config) -> Limits {
        Limits {
            max_connections: config.exporter_max_connections,
            ..Limits::default()
        }
    }

    /// The same limits with every zero count raised to 1 and the header limit to hyper's
    /// minimum, so that no setting can stop the listener from serving at all.
    pub(crate) fn sane(&self) -> Limits {
        Limits {
            max_connections: self.max_connections.max(1),
            max_requests_in_flight: self.max_requests_in_flight.max(1),
            render_threads: self.render_threads.max(1),
            max_header_bytes: self.max_header_bytes.max(MIN_HEADER_BYTES),
            max_url_bytes: self.max_url_bytes.max(1),
            ..self.clone()
        }
    }
}
