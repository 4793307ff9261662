//! Prometheus file-based service discovery: one target file per process.
//!
//! Many processes on one host (Node cluster workers, several services) each serve their own
//! `/metrics` on an ephemeral port. Each writes `<dir>/ultra-<pid>-<port>.json`:
//!
//! ```json
//! [{"targets":["127.0.0.1:PORT"],"labels":{"job":"ultra","pid":"PID"}}]
//! ```
//!
//! and a Prometheus with `file_sd_configs: [{files: ["<dir>/*.json"]}]` scrapes them all. The
//! file is written atomically (a hidden temporary file renamed into place, so Prometheus never
//! reads half a file) and removed when the [`Registration`] is dropped. A process that is
//! killed (`SIGKILL`, a crash) leaves its file behind; Prometheus then shows that target as
//! down until the file is deleted.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ultra_alloc::Subsystem;

use crate::ExporterError;

/// A file_sd target file that exists as long as this value does.
#[derive(Debug)]
pub struct Registration {
    path: PathBuf,
    target: SocketAddr,
}

impl Registration {
    /// Writes `<dir>/ultra-<pid>-<port>.json` naming `addr` as the target (creating `dir` if
    /// needed). An unspecified address (`0.0.0.0`, `::`) is written as the loopback address
    /// of the same family, which is where a Prometheus on the same host reaches it.
    ///
    /// # Errors
    ///
    /// [`ExporterError::FileSd`] if the folder or the file cannot be written.
    pub fn create(dir: impl AsRef<Path>, addr: SocketAddr) -> Result<Registration, ExporterError> {
        ultra_alloc::scope(Subsystem::Exporter, || create(dir.as_ref(), addr))
    }

    /// The target file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The address written as the target.
    pub fn target(&self) -> SocketAddr {
        self.target
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Already gone (someone cleaned the folder) is fine; nothing else can be done here.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The address a Prometheus on this host should scrape for a server bound to `addr`.
pub fn target_for(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// The JSON content of the target file for `target` and `pid`.
pub fn target_json(target: SocketAddr, pid: u32) -> String {
    format!(r#"[{{"targets":["{target}"],"labels":{{"job":"ultra","pid":"{pid}"}}}}]"#)
}

fn create(dir: &Path, addr: SocketAddr) -> Result<Registration, ExporterError> {
    let err = |path: &Path| {
        let path = path.to_owned();
        move |source| ExporterError::FileSd { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    let pid = std::process::id();
    let target = target_for(addr);
    let file_name = format!("ultra-{pid}-{}.json", addr.port());
    let path = dir.join(&file_name);
    // Hidden and not ending in `.json`: a `*.json` glob never picks up the half-written file.
    let tmp = dir.join(format!(".{file_name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(target_json(target, pid).as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    if let Err(source) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(&path)(source));
    }
    Ok(Registration { path, target })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_become_loopback() {
        let t = target_for("0.0.0.0:9477".parse().unwrap());
        assert_eq!(t, "127.0.0.1:9477".parse().unwrap());
        let t = target_for("[::]:1".parse().unwrap());
        assert_eq!(t, "[::1]:1".parse().unwrap());
        let t = target_for("127.0.0.2:5".parse().unwrap());
        assert_eq!(t, "127.0.0.2:5".parse().unwrap());
    }

    #[test]
    fn json_is_a_prometheus_target_group() {
        assert_eq!(
            target_json("[::1]:80".parse().unwrap(), 42),
            r#"[{"targets":["[::1]:80"],"labels":{"job":"ultra","pid":"42"}}]"#
        );
    }
}
