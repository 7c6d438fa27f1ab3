//! While telemetry is off, `capture` allocates nothing: the promise that an
//! application can leave its capture calls in place at no cost.
//!
//! A test binary of its own, because the counting allocator is global and a
//! test running beside this one would allocate into the count.

use std::time::Duration;

use telemetry_runtime::{SearchRecord, SessionAggregator, Telemetry};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[test]
fn capture_allocates_nothing_while_telemetry_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = Telemetry::builder("myapp")
        .data_dir(dir.path())
        .env(|name| (name == "DO_NOT_TRACK").then(|| "1".to_owned()))
        .build()
        .unwrap();
    assert!(!telemetry.is_recording());
    // The catalogue's session summary: nested structs, label maps, floats.
    let mut session = SessionAggregator::new();
    for (millis, language) in [(40, "rust"), (12, "python"), (95, "rust")] {
        session.record(&SearchRecord {
            duration: Duration::from_millis(millis),
            success: true,
            tokens_delivered: 1_200,
            tokens_saved: 8_800,
            language: Some(language),
            semantic_categories: &["function", "test"],
            ..SearchRecord::default()
        });
    }
    let summary = session
        .summary_with_duration(Duration::from_secs(600))
        .unwrap();

    // On failure the profile, with the allocating call stacks, goes here.
    let _profiler = dhat::Profiler::builder()
        .testing()
        .file_name(concat!(
            env!("CARGO_TARGET_TMPDIR"),
            "/disabled_alloc-dhat-heap.json"
        ))
        .build();
    let before = dhat::HeapStats::get();
    for _ in 0..10_000 {
        telemetry.capture(std::hint::black_box(&summary));
    }
    let after = dhat::HeapStats::get();
    dhat::assert_eq!(after.total_blocks, before.total_blocks);
    dhat::assert_eq!(after.total_bytes, before.total_bytes);
}
