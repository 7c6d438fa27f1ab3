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
    assert_eq!(
        telemetry.counters(),
        telemetry_runtime::CaptureCounters {
            written: counters.captured,
            ..counters
        },
        "flush captures nothing, and the writer wrote what was captured"
    );
    let status = builder(&dir, &[]).control().unwrap().status().unwrap();
    assert_eq!(status.queue.events as u64, counters.captured);
    assert_eq!(
        status.queue.counters.get("dropped_channel_full"),
        counters.dropped_channel_full
    );
}

/// An event with a field hashed with the app-wide key: without one, it does
/// not serialize and is dropped.
#[derive(TelemetrySafe)]
#[telemetry(event = "shared")]
struct Shared {
    #[telemetry(hash(scope = "app"))]
    model: String,
}

#[test]
fn flush_reports_what_was_written_and_dropped_since_the_previous_flush() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = builder(&dir, &[]).build().unwrap();
    telemetry.capture(&Probe {
        label: "rust".into(),
        count: 1,
    });
    telemetry.capture(&Probe {
        label: "/home/ana/secret.txt".into(),
        count: 2,
    });
    telemetry.capture(&Shared {
        model: "all-minilm".into(),
    });
    let report = telemetry.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.captured, 1);
    assert_eq!(report.written, 1);
    assert_eq!(report.dropped_by_guard, 1);
    assert_eq!(report.dropped_unserializable, 1);
    assert_eq!(report.not_durable(), 0);
    // The next flush reports only what came after this one.
    telemetry.capture(&Probe {
        label: "go".into(),
        count: 3,
    });
    let report = telemetry.flush(Duration::from_secs(10)).unwrap();
    assert_eq!((report.written, report.dropped_by_guard), (1, 0));
    assert_eq!(telemetry.preview().unwrap().len(), 2);
}

#[test]
fn flush_fails_when_captured_events_could_not_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = builder(&dir, &[]).build().unwrap();
    telemetry.capture(&Probe {
        label: "first".into(),
        count: 0,
    });
    telemetry.flush(Duration::from_secs(10)).unwrap();
    // Every later write fails: the newest segment is now a directory.
    let queue = dir.path().join("queue");
    let segment = std::fs::read_dir(&queue)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .unwrap();
    std::fs::remove_file(&segment).unwrap();
    std::fs::create_dir(&segment).unwrap();
    for count in 0..5 {
        telemetry.capture(&Probe {
            label: "lost".into(),
            count,
        });
    }
    let error = telemetry.flush(Duration::from_secs(10)).unwrap_err();
    let telemetry_runtime::FlushError::NotDurable(report) = error else {
        panic!("expected NotDurable, got {error:?}");
    };
    assert_eq!(report.dropped_write_failed, 5);
    assert_eq!(report.written, 0);
    assert!(
        error_text(&telemetry_runtime::FlushError::NotDurable(report))
            .starts_with("5 captured events are not on disk (5 failed to write"),
    );
    // What the counters say is what the disk holds: nothing of the five.
    assert_eq!(telemetry.counters().written, 1);
    std::fs::remove_dir(&segment).unwrap();
    assert!(
        telemetry
            .preview()
            .unwrap()
            .iter()
            .all(|envelope| !envelope.properties.get().contains("lost"))
    );
    assert_eq!(
        telemetry.shutdown(Duration::from_secs(5)),
        Ok(()),
        "the shutdown after the failed flush has nothing new to report"
    );
}

fn error_text(error: &telemetry_runtime::FlushError) -> String {
    error.to_string()
}

#[test]
fn capture_custom_returns_the_uuid_it_queued() {
    use telemetry_runtime::custom::CustomEvent;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = builder(&dir, &[]).build().unwrap();
    let uuid = telemetry
        .capture_custom(CustomEvent::new("interop").property("n", 1))
        .unwrap()
        .expect("queued");
    let refused = telemetry
        .capture_custom(CustomEvent::new("leaky").property("file", "/home/ana/notes.txt"))
        .unwrap();
    assert_eq!(refused, None);
    telemetry.flush(Duration::from_secs(10)).unwrap();
    let queued = telemetry.preview().unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].uuid, uuid);
}

#[test]
fn a_backdated_custom_event_is_kept_with_its_timestamp_in_utc_and_costs_no_other_event() {
    use telemetry_runtime::custom::CustomEvent;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = builder(&dir, &[]).build().unwrap();
    telemetry.capture(&Probe {
        label: "recent".into(),
        count: 1,
    });
    let month_ago = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+5:30))
        - time::Duration::days(31);
    telemetry
        .capture_custom(CustomEvent::new("imported").timestamp(month_ago))
        .unwrap()
        .expect("queued");
    // The backdated event is the newest line of the segment: its own
    // timestamp must not make the segment look a month old.
    telemetry.flush(Duration::from_secs(10)).unwrap();
    let queued = telemetry.preview().unwrap();
    assert_eq!(queued.len(), 2);
    let imported = &queued[1];
    assert_eq!(
        imported.timestamp.as_offset_date_time(),
        month_ago.to_offset(time::UtcOffset::UTC)
    );
    assert!(
        imported.timestamp.to_string().ends_with('Z'),
        "{}",
        imported.timestamp
    );
    let status = builder(&dir, &[]).control().unwrap().status().unwrap();
    assert_eq!(status.queue.counters.dropped_by_bounds(), 0);
}
