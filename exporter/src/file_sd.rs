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
//! killed (`SIGKILL`, a crash) leaves its file behind; the next registration in the folder
//! removes it ([`remove_stale`]: files named `ultra-<pid>-<port>.json` whose pid no longer
//! runs), so a dead process is a `down` target only until another one starts. A file whose
//! pid runs is never touched. The folder must belong to one host (one pid namespace): a pid
//! is only meaningful there.

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
    remove_stale(dir);
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

/// The pid in a target file name `ultra-<pid>-<port>.json` (or its hidden temporary
/// `.ultra-<pid>-<port>.json.tmp`), if it is one.
fn pid_of(file_name: &str) -> Option<u32> {
    let name = file_name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .unwrap_or(file_name);
    let (pid, port) = name
        .strip_prefix("ultra-")?
        .strip_suffix(".json")?
        .split_once('-')?;
    port.parse::<u16>().ok()?;
    pid.parse().ok()
}

/// Whether a process with this pid exists (`kill(pid, 0)`: `EPERM` means it runs as
/// another user).
fn runs(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

/// Removes from `dir` the target files (and left-over temporary files) of processes that no
/// longer run; returns the names removed. Other files, and those of live processes, are left
/// alone; errors (a file someone else removed first) are ignored.
pub fn remove_stale(dir: impl AsRef<Path>) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.as_ref()) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = pid_of(name) else { continue };
        if pid != std::process::id() && !runs(pid) && std::fs::remove_file(entry.path()).is_ok() {
            removed.push(name.to_owned());
        }
    }
    removed
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
    fn target_file_names_give_their_pid() {
        assert_eq!(pid_of("ultra-42-9477.json"), Some(42));
        assert_eq!(pid_of(".ultra-42-9477.json.tmp"), Some(42));
        for other in [
            "ultra-42.json",
            "ultra-x-1.json",
            "ultra-1-99999.json",
            "other-1-2.json",
        ] {
            assert_eq!(pid_of(other), None, "{other}");
        }
        assert!(runs(std::process::id()));
        assert!(runs(1), "pid 1 runs (EPERM counts as running)");
    }

    #[test]
    fn json_is_a_prometheus_target_group() {
        assert_eq!(
            target_json("[::1]:80".parse().unwrap(), 42),
            r#"[{"targets":["[::1]:80"],"labels":{"job":"ultra","pid":"42"}}]"#
        );
    }
}
