//! A process that drops its last handle and exits at once keeps what it
//! captured: dropping flushes to disk within `policy::DROP_DEADLINE`.

use std::process::Command;
use std::time::{Duration, Instant};

use telemetry_runtime::{Telemetry, TelemetrySafe};

const CHILD: &str = "TELEMETRY_RUNTIME_EXIT_CHILD";
const EVENTS: u32 = 3000;

#[derive(TelemetrySafe)]
#[telemetry(event = "search")]
struct Search {
    hits: u32,
}

/// Not a test on its own: does nothing unless [`CHILD`] names a data
/// directory. Then it captures [`EVENTS`] events, drops the handle without
/// `shutdown` or `flush`, and exits the process at once.
#[test]
fn child_process() {
    let Ok(dir) = std::env::var(CHILD) else {
        return;
    };
    let telemetry = Telemetry::builder("myapp")
        .data_dir(&dir)
        .env(|_| None)
        .channel_capacity(EVENTS as usize)
        .build()
        .unwrap();
    for hits in 0..EVENTS {
        telemetry.capture(&Search { hits });
    }
    let started = Instant::now();
    drop(telemetry);
    // The bound holds: dropping waited no longer than the deadline.
    assert!(
        started.elapsed() < telemetry_runtime::policy::DROP_DEADLINE + Duration::from_millis(500)
    );
    std::process::exit(0);
}

#[test]
fn dropping_the_last_handle_writes_what_was_captured() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process", "--nocapture"])
        .env(CHILD, dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    let control = Telemetry::builder("myapp")
        .data_dir(dir.path())
        .env(|_| None)
        .control()
        .unwrap();
    assert_eq!(control.preview().unwrap().len(), EVENTS as usize);
}
