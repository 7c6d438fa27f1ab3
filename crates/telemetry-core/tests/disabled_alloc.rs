//! While telemetry is off, `capture` allocates nothing: the promise that an
//! application can leave its capture calls in place at no cost.
//!
//! A test binary of its own, because the counting allocator is global and a
//! test running beside this one would allocate into the count.

use std::path::PathBuf;

use telemetry_core::{Telemetry, TelemetrySafe};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// An event with a field for every conversion, as an application would send.
#[derive(TelemetrySafe)]
#[telemetry(event = "session_summary")]
struct Session {
    total_searches: u64,
    #[telemetry(hash)]
    repository: PathBuf,
    #[telemetry(boolean)]
    custom_config: Option<PathBuf>,
    #[telemetry(count)]
    open_files: Vec<PathBuf>,
    #[telemetry(text_count)]
    query: String,
    #[telemetry(distribution)]
    languages: Vec<String>,
    #[telemetry(aggregate = "mean")]
    tokens_per_search: Vec<u64>,
    #[telemetry(forbidden)]
    api_key: String,
}

#[test]
fn capture_allocates_nothing_while_telemetry_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = Telemetry::builder("myapp")
        .data_dir(dir.path())
        .env(|name| (name == "DO_NOT_TRACK").then(|| "1".to_owned()))
        .build()
        .unwrap();
    assert!(!telemetry.is_recording());
    let session = Session {
        total_searches: 4,
        repository: PathBuf::from("/home/ana/work/invoice-service"),
        custom_config: Some(PathBuf::from("/home/ana/.config/search/config.toml")),
        open_files: vec![PathBuf::from("/home/ana/work/invoice-service/src/main.rs")],
        query: "where do we round VAT amounts".to_owned(),
        languages: vec!["rust".into(), "sql".into()],
        tokens_per_search: vec![1_840, 920, 2_310],
        api_key: "sk-live-do-not-send".to_owned(),
    };

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
        telemetry.capture(std::hint::black_box(&session));
    }
    let after = dhat::HeapStats::get();
    dhat::assert_eq!(after.total_blocks, before.total_blocks);
    dhat::assert_eq!(after.total_bytes, before.total_bytes);
}
