//! The run-time front door: capture → guard → writer thread → durable queue.

use std::collections::HashMap;
use std::time::Duration;

use telemetry_runtime::consent::Mode;
use telemetry_runtime::{Telemetry, TelemetrySafe};

/// A test event with a free-text field, so the guard has something to refuse.
#[derive(TelemetrySafe)]
#[telemetry(event = "probe")]
struct Probe {
    label: String,
    count: u32,
}

fn builder(dir: &tempfile::TempDir, vars: &[(&str, &str)]) -> telemetry_runtime::TelemetryBuilder {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Telemetry::builder("myapp")
        .data_dir(dir.path())
        .env(move |name| vars.get(name).cloned())
}

#[test]
fn captured_events_reach_the_queue_with_prefix_and_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = builder(&dir, &[]).build().unwrap();
    assert_eq!(telemetry.decision().mode, Mode::Local);
    for count in 0..10 {
        telemetry.capture(&Probe {
            label: "rust".into(),
            count,
        });
    }
    telemetry.flush(Duration::from_secs(10)).unwrap();
    let queued = telemetry.preview().unwrap();
    assert_eq!(queued.len(), 10);
    assert!(
        queued
            .iter()
            .all(|envelope| envelope.event == "myapp_probe")
    );
    assert_eq!(queued[3].properties.get(), r#"{"label":"rust","count":3}"#);
    let status = builder(&dir, &[]).control().unwrap().status().unwrap();
    assert_eq!(
        status.client_id.map(|id| id.to_string()),
        Some(queued[0].distinct_id.clone())
    );
    assert_eq!(telemetry.counters().captured, 10);
}

#[test]
fn the_guard_drops_personal_values_and_the_count_is_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = builder(&dir, &[]).build().unwrap();
    telemetry.capture(&Probe {
        label: "/home/ana/secret.txt".into(),
        count: 1,
    });
    telemetry.capture(&Probe {
        label: "ana@example.com".into(),
        count: 2,
    });
    telemetry.capture(&Probe {
        label: "fine".into(),
        count: 3,
    });
    telemetry.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(telemetry.counters().dropped_by_guard, 2);
    let control = builder(&dir, &[]).control().unwrap();
    let queued = control.preview().unwrap();
    assert_eq!(queued.len(), 1);
    assert!(!queued[0].properties.get().contains("ana"));
    assert_eq!(
        control
            .status()
            .unwrap()
            .queue
            .counters
            .get("dropped_by_guard"),
        2
    );
}

#[test]
fn off_records_nothing_and_starts_no_writer() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = builder(&dir, &[("DO_NOT_TRACK", "1")]).build().unwrap();
    assert!(!telemetry.is_recording());
    telemetry.capture(&Probe {
        label: "rust".into(),
        count: 1,
    });
    assert_eq!(
        telemetry.flush(Duration::from_secs(1)),
        Err(telemetry_runtime::FlushError::NotRecording)
    );
    assert_eq!(telemetry.counters().captured, 0);
    let status = builder(&dir, &[]).control().unwrap().status().unwrap();
    assert_eq!(status.queue.events, 0);
    assert_eq!(status.client_id, None, "no identity is created while off");
}

#[test]
fn after_shutdown_capture_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = builder(&dir, &[]).build().unwrap();
    telemetry.capture(&Probe {
        label: "a".into(),
        count: 1,
    });
    telemetry.shutdown(Duration::from_secs(10)).unwrap();
    telemetry.capture(&Probe {
        label: "b".into(),
        count: 2,
    });
    assert_eq!(
        builder(&dir, &[])
            .control()
            .unwrap()
            .preview()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_bad_app_name_is_the_only_build_error() {
    let error = Telemetry::builder("my app").build().unwrap_err();
    assert!(error.to_string().contains("\"my app\""), "{error}");
}

#[test]
fn a_full_channel_drops_and_counts_instead_of_blocking() {
    const EVENTS: u64 = 1000;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = builder(&dir, &[]).channel_capacity(2).build().unwrap();
    // The queue locks this file for every operation: holding it stalls the
    // writer thread in its first append, so the channel stays full.
    let lock = std::fs::File::open(dir.path().join("queue").join("queue.lock")).unwrap();
    lock.lock().unwrap();
    for count in 0..EVENTS {
        telemetry.capture(&Probe {
            label: "rust".into(),
            count: u32::try_from(count).unwrap(),
        });
    }
    let counters = telemetry.counters();
    assert!(counters.dropped_channel_full > 0, "{counters:?}");
    assert_eq!(counters.captured + counters.dropped_channel_full, EVENTS);

    lock.unlock().unwrap();
    telemetry.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(telemetry.counters(), counters, "flush captures nothing");
    let status = builder(&dir, &[]).control().unwrap().status().unwrap();
    assert_eq!(status.queue.events as u64, counters.captured);
    assert_eq!(
        status.queue.counters.get("dropped_channel_full"),
        counters.dropped_channel_full
    );
}
