//! The accept loop survives running out of file descriptors: with `RLIMIT_NOFILE` lowered to
//! 256 and every descriptor taken, `accept` fails (`EMFILE`); the listener counts it, backs
//! off and serves again as soon as descriptors are free. A test binary of its own, since the
//! limit is process-wide.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{agent, poll, sample};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use ultra_alloc::{Jemalloc, TrackingAllocator};
use ultra_exporter::Exporter;

#[global_allocator]
static GLOBAL: TrackingAllocator<Jemalloc> = TrackingAllocator::new(Jemalloc);

#[test]
fn the_accept_loop_survives_descriptor_exhaustion() {
    let max = getrlimit(Resource::Nofile).maximum;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(256),
            maximum: max,
        },
    )
    .expect("lower RLIMIT_NOFILE");
    let exporter = Exporter::new();
    let server = exporter
        .serve("127.0.0.1:0".parse().unwrap())
        .expect("serve");
    assert_eq!(
        agent().get(server.url()).call().expect("scrape").status(),
        200
    );

    // Take every descriptor but one, and spend that one on a connection: the server cannot
    // accept it.
    let mut hog = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        hog.push(f);
    }
    assert!(hog.len() > 100, "{} descriptors taken", hog.len());
    hog.pop();
    let mut pending = TcpStream::connect(server.local_addr()).expect("connect");
    let errors = |e: &Exporter| sample(&e.render(), "ultra_exporter_accept_errors_total");
    let failing = poll(Duration::from_secs(20), || {
        errors(&exporter).filter(|n| *n >= 2.0)
    });
    assert!(
        failing.is_some(),
        "accept keeps failing while no descriptor is free"
    );

    // Descriptors back: the pending connection is accepted and answered, and so are new ones.
    drop(hog);
    pending
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    pending
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    pending.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response:.40}");
    assert_eq!(
        agent().get(server.url()).call().expect("scrape").status(),
        200
    );
    let text = exporter.render();
    assert_eq!(
        sample(&text, "ultra_exporter_requests_total{code=\"200\"}"),
        Some(3.0)
    );
}
