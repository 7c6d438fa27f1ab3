//! What `Telemetry::capture` costs the caller's thread: recording to the
//! local queue (filter, guard, envelope, hand-off to the writer thread), and
//! off (one atomic load).
//!
//! `cargo xtask bench` runs this with the other benchmarks;
//! `cargo bench -p telemetry-benches --bench capture` runs it alone.

use divan::{Bencher, black_box};
use telemetry_runtime::Telemetry;
use telemetry_test_support::events::SearchCompleted;

fn main() {
    divan::main();
}

/// Recording locally (opt-in, no user choice yet): the writer thread appends
/// to a queue in a temporary directory meanwhile. Events the writer could
/// not take in time are dropped at the hand-off, after all the work was done,
/// so they cost the caller the same.
#[divan::bench(sample_count = 500, sample_size = 100)]
fn capture_enabled(bencher: Bencher<'_, '_>) {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = Telemetry::builder("bench")
        .data_dir(dir.path())
        .env(|_| None)
        .build()
        .unwrap();
    assert!(telemetry.is_recording());
    let event = SearchCompleted::sample(1);
    bencher.bench_local(|| telemetry.capture(black_box(&event)));
    let counters = telemetry.counters();
    eprintln!(
        "capture_enabled: captured {} dropped_channel_full {} dropped_by_guard {}",
        counters.captured, counters.dropped_channel_full, counters.dropped_by_guard
    );
    assert_eq!(counters.dropped_by_guard, 0);
    telemetry.shutdown(std::time::Duration::from_secs(30)).ok();
}

/// Off (`DO_NOT_TRACK=1`). `tests/disabled_alloc.rs` checks that this path
/// allocates nothing.
#[divan::bench(sample_count = 500)]
fn capture_disabled(bencher: Bencher<'_, '_>) {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = Telemetry::builder("bench")
        .data_dir(dir.path())
        .env(|name| (name == "DO_NOT_TRACK").then(|| "1".to_owned()))
        .build()
        .unwrap();
    assert!(!telemetry.is_recording());
    let event = SearchCompleted::sample(1);
    bencher.bench_local(|| telemetry.capture(black_box(&event)));
}
