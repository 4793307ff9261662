//! The exporter's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong while starting the listener or registering a file_sd target.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExporterError {
    /// The listen address could not be bound (most often: the port is taken).
    #[error(
        "cannot listen on {addr}: {source}; if another process holds the port, choose another \
         address with ULTRA_EXPORTER_ADDR (port 0 picks a free one)"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS answered.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server or its worker threads could not be started.
    #[error("cannot start the metrics listener on {addr}: {reason}")]
    Start {
        /// The address being served.
        addr: SocketAddr,
        /// What failed.
        reason: String,
    },
    /// The file_sd target file could not be written.
    #[error("cannot write the Prometheus file_sd target {path}: {source}")]
    FileSd {
        /// The file (or folder) that could not be written.
        path: PathBuf,
        /// What the OS answered.
        #[source]
        source: std::io::Error,
    },
}
