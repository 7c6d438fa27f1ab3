//! Between runs, the queue is the retry: a process killed with events queued,
//! or a week offline, loses nothing.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use telemetry_runtime::TelemetryBuilder;
use telemetry_runtime::custom::CustomEvent;
use telemetry_runtime::{Telemetry, TelemetrySafe};
use telemetry_test_support::posthog::FakePostHog;

const KEY: &str = "phc_crashtest";
const CHILD: &str = "TELEMETRY_POSTHOG_CRASH_CHILD";
const EVENTS: u32 = 500;
const QUEUED: &str = "child: events queued";

#[derive(TelemetrySafe)]
#[telemetry(event = "search")]
struct Search {
    hits: u32,
}

fn builder(dir: &Path, url: &str, api_key: &str) -> TelemetryBuilder {
    let env: HashMap<String, String> = [
        ("MYAPP_TELEMETRY_ENABLED", "1"),
        ("MYAPP_TELEMETRY_POSTHOG_API_KEY", api_key),
        ("MYAPP_TELEMETRY_POSTHOG_HOST", url),
        ("MYAPP_TELEMETRY_BATCH_SIZE", "50"),
        ("MYAPP_TELEMETRY_MAX_RETRIES", "100"),
        ("MYAPP_TELEMETRY_RETRY_INITIAL_BACKOFF_MS", "20"),
        ("MYAPP_TELEMETRY_RETRY_MAX_BACKOFF_SECONDS", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let builder = Telemetry::builder("myapp")
        .data_dir(dir)
        .env(move |name| env.get(name).cloned());
    telemetry_posthog::configure(builder, None).unwrap()
}

/// Not a test on its own: does nothing unless [`CHILD`] is set. Then it
/// captures [`EVENTS`] events against a failing server, says [`QUEUED`] once
/// they are on disk, and waits to be killed mid-retry.
#[test]
fn child_process() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (dir, url) = spec.split_once(',').unwrap();
    let dir = Path::new(dir);
    let telemetry = builder(dir, url, KEY).build().unwrap();
    for hits in 0..EVENTS {
        telemetry.capture(&Search { hits });
    }
    let control = builder(dir, url, KEY).control().unwrap();
    while control.preview().unwrap().len() < EVENTS as usize {
        std::thread::sleep(Duration::from_millis(5));
    }
    // On a line of its own: the test harness may have started one.
    println!("\n{QUEUED}");
    std::thread::sleep(Duration::from_secs(600));
}

/// Kills the child however the test ends, so a failure leaves no sleeper.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_process_killed_while_retrying_loses_nothing() {
    let server = FakePostHog::start(KEY);
    server.always(Some(503));
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{},{}", dir.path().display(), server.url()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut child = KillOnDrop(child);
    let said_queued = stdout
        .lines()
        .any(|line| line.is_ok_and(|line| line.trim() == QUEUED));
    assert!(said_queued, "the child never queued its events");
    // Let it fail a few sends, then kill it mid-retry (SIGKILL).
    assert!(server.wait_for_requests(3, Duration::from_secs(20)) >= 3);
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    assert!(server.accepted().is_empty());

    server.always(None);
    let telemetry = builder(dir.path(), &server.url(), KEY).build().unwrap();
    telemetry.flush(Duration::from_secs(60)).unwrap();
    let hits: HashSet<u64> = server
        .accepted()
        .iter()
        .map(|event| event["properties"]["hits"].as_u64().unwrap())
        .collect();
    assert_eq!(hits, (0..u64::from(EVENTS)).collect());
}

#[test]
fn a_week_offline_then_online_delivers_everything_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    // Offline: no API key, so nothing is sent; events pile up in the queue.
    let offline = builder(dir.path(), "http://127.0.0.1:9", "")
        .build()
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    for day in (0..7).rev() {
        let at = now - time::Duration::days(day) - time::Duration::HOUR;
        offline
            .capture_custom(
                CustomEvent::new("daily")
                    .property("days_ago", day)
                    .timestamp(at),
            )
            .unwrap();
    }
    offline.shutdown(Duration::from_secs(10)).unwrap();

    let server = FakePostHog::start(KEY);
    let started = Instant::now();
    let online = builder(dir.path(), &server.url(), KEY).build().unwrap();
    // The backlog goes out at start, without waiting for a flush.
    assert_eq!(server.wait_for_requests(1, Duration::from_secs(10)), 1);
    assert!(started.elapsed() < Duration::from_secs(10));
    online.flush(Duration::from_secs(10)).unwrap();
    let days: Vec<i64> = server
        .accepted()
        .iter()
        .map(|event| event["properties"]["days_ago"].as_i64().unwrap())
        .collect();
    assert_eq!(days, [6, 5, 4, 3, 2, 1, 0]);
}
