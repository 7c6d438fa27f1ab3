//! What logging an interaction costs the caller's thread: for a kept call,
//! the sampling decision, the allow-list, span redaction of every string
//! and key of a 1 KiB record, serialization, and the hand-off to the writer
//! thread (which appends to a file in a temporary directory meanwhile); for
//! a call the sampler leaves out, the decision alone; with the logger
//! disabled, the wrapper around the call.
//!
//! `cargo xtask bench dataset` runs this beside the dataset build
//! comparison; `cargo bench -p telemetry-benches --bench dataset_log` runs
//! it alone.

use divan::{Bencher, black_box};
use serde_json::{Map, Value, json};
use telemetry_dataset::config::TelemetryConfig;
use telemetry_dataset::{InteractionLog, InteractionLogger, ModuleCall, ModuleOutput};

fn main() {
    divan::main();
}

/// A record of about 1 KiB once serialized, with one address to redact
/// (or, with `clean`, the same words without it).
fn record_with(clean: bool) -> InteractionLog {
    let input: Map<String, Value> = json!({
        "user_intent": "Implement user authentication with refresh tokens for the mobile client",
        "context": {
            "project": "service-17",
            "files": ["src/auth/session.rs", "src/auth/token.rs", "src/http/routes.rs"],
            "history": [
                {"role": "user", "text": "the login handler returns 500 when the session cache is cold, see the trace from yesterday"},
                {"role": "assistant", "text": "the cache miss path does not retry the database query; adding a bounded retry with backoff"},
                {"role": "user", "text": if clean {
                    "also reported by jane doe on the forum: refresh tokens expire too early on the mobile client"
                } else {
                    "also reported by jane.doe@example.com: refresh tokens expire too early on the mobile client"
                }},
            ],
        },
        "constraints": ["no new dependencies", "keep the public API", "tests for the retry"],
        "attempt": 2,
    })
    .as_object()
    .unwrap()
    .clone();
    let mut record = telemetry_dataset::log::record(
        "reviewer",
        "baseline",
        "extract_requirements",
        input,
        1_764_657_300_000,
    );
    json!({"requirements": ["JWT token generation", "Password hashing with bcrypt", "Session management"]})
        .as_object()
        .unwrap()
        .clone_into(&mut record.output);
    record.latency_ms = Some(250);
    record.tokens = Some(120);
    record.cost_usd = Some(0.0018);
    record.model = Some("claude-haiku-4-5".to_owned());
    record
}

fn record() -> InteractionLog {
    record_with(false)
}

fn logger(dir: &std::path::Path, pct: f64) -> InteractionLogger {
    let config = TelemetryConfig {
        enabled: true,
        sampling_rate_pct: pct,
        log_file_path: dir.join("interactions.jsonl"),
        ..TelemetryConfig::default()
    };
    InteractionLogger::open_with_env(&config, "BENCH_", |_| None).unwrap()
}

/// A kept call of about 1 KiB: everything the caller's thread does. A
/// record the writer could not take in time is dropped at the hand-off
/// after all the work, so it costs the same.
#[divan::bench(sample_count = 300, sample_size = 100)]
fn dataset_log_kept_1kib(bencher: Bencher<'_, '_>) {
    let dir = tempfile::tempdir().unwrap();
    let logger = logger(dir.path(), 100.0);
    let record = record();
    let size = serde_json::to_vec(&record).unwrap().len();
    assert!((900..1300).contains(&size), "{size} bytes");
    bencher
        .with_inputs(|| record.clone())
        .bench_local_values(|record| logger.log(black_box("req-7f3a"), black_box(record)));
    let counters = logger.counters();
    eprintln!(
        "dataset_log_kept_1kib: {size} bytes, kept {} dropped_full {} redacted_spans {}",
        counters.kept, counters.pipe.dropped_full, counters.redacted_spans
    );
    assert!(counters.redacted_spans >= counters.kept);
}

/// The same without the address: nothing to redact, one pass of the
/// detectors as the record is written.
#[divan::bench(sample_count = 300, sample_size = 100)]
fn dataset_log_kept_1kib_clean(bencher: Bencher<'_, '_>) {
    let dir = tempfile::tempdir().unwrap();
    let logger = logger(dir.path(), 100.0);
    let record = record_with(true);
    bencher
        .with_inputs(|| record.clone())
        .bench_local_values(|record| logger.log(black_box("req-7f3a"), black_box(record)));
    assert_eq!(logger.counters().redacted_spans, 0);
}

/// A call the sampler leaves out, through the wrapper: the timing and the
/// decision around a module that does nothing.
#[divan::bench(sample_count = 300, sample_size = 1000)]
fn dataset_call_sampled_out(bencher: Bencher<'_, '_>) {
    let dir = tempfile::tempdir().unwrap();
    let logger = logger(dir.path(), 1.0);
    let inputs = record().input;
    // A request id the 1% sampler leaves out (the decision is the id's).
    let sampler = logger.sampler().unwrap();
    let id = (0..10_000)
        .map(|n| format!("req-{n:04x}"))
        .find(|id| !sampler.decide("reviewer", id, true).keep)
        .unwrap();
    let call = ModuleCall::new("reviewer", "baseline", "extract_requirements", &id);
    bencher.bench_local(|| {
        logger.call_module_with_sampling(black_box(&call), black_box(&inputs), |_| {
            Ok::<_, std::io::Error>(ModuleOutput::default())
        })
    });
    assert_eq!(logger.counters().kept, 0);
}

/// The wrapper with the logger disabled: one branch around the call.
#[divan::bench(sample_count = 300, sample_size = 1000)]
fn dataset_call_disabled(bencher: Bencher<'_, '_>) {
    let logger = InteractionLogger::disabled();
    let inputs = record().input;
    let call = ModuleCall::new("reviewer", "baseline", "extract_requirements", "req-7f3a");
    bencher.bench_local(|| {
        logger.call_module_with_sampling(black_box(&call), black_box(&inputs), |_| {
            Ok::<_, std::io::Error>(ModuleOutput::default())
        })
    });
}
