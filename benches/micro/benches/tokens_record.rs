//! What `TokenRecorder::record` costs the caller's thread: the checks (the
//! guard on every string field) and the hand-off to the writer thread,
//! which inserts into a SQLite file in a temporary directory meanwhile.
//!
//! `cargo xtask bench tokens` runs this beside the calibration benchmark;
//! `cargo bench -p telemetry-benches --bench tokens_record` runs it alone.

use divan::{Bencher, black_box};
use telemetry_tokens::simulate::Simulation;
use telemetry_tokens::{Estimator, TokenRecorder};

fn main() {
    divan::main();
}

/// Recording on. Building the record (its strings) is the caller's own
/// work and is left out; records the writer could not take in time are
/// dropped at the hand-off after all the checks, so they cost the same.
#[divan::bench(sample_count = 500, sample_size = 100)]
fn tokens_record(bencher: Bencher<'_, '_>) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tokens.db");
    let recorder = TokenRecorder::builder("bench")
        .unwrap()
        .env(|name| (name == "BENCH_TELEMETRY_DB_ENABLED").then(|| "1".to_owned()))
        .database(&db)
        .build();
    assert!(recorder.is_recording(), "{:?}", recorder.problems());
    let usage = Simulation::default()
        .records(&Estimator::default())
        .next()
        .unwrap();
    bencher
        .with_inputs(|| usage.clone())
        .bench_local_values(|usage| recorder.record(black_box(usage)));
    let counters = recorder.counters();
    eprintln!(
        "tokens_record: recorded {} dropped_channel_full {} refused {}",
        counters.recorded, counters.dropped_channel_full, counters.refused
    );
    assert_eq!(counters.refused, 0);
}
