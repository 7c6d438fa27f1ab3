//! Calibration of a generated database of 1,000,000 calls in 30 groups,
//! beside reading the same rows alone (the floor) and beside the reference
//! workflow's way in Python (`sqlite3` rows, `statistics.median` per
//! group), on the same file in the same run. Prints one line for
//! `cargo xtask bench tokens`:
//!
//! `tokens rows=… groups=… generate_s=… read_floor_s=… calibrate_s=… python_s=… medians=… max_median_diff=…`
//!
//! Each time is the median of three runs. `cargo bench -p telemetry-benches
//! --bench tokens_calibrate [-- ROWS]` runs it alone.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use telemetry_tokens::simulate::Simulation;
use telemetry_tokens::{Coefficients, Create, Estimator, Options, Store, calibrate};

/// The reference workflow's calibration, medians only.
const PYTHON: &str = r#"
import json, sqlite3, statistics, sys, time
started = time.perf_counter()
connection = sqlite3.connect(sys.argv[1])
groups = {}
for category, complexity, estimated, actual in connection.execute(
    "SELECT category, complexity, estimated_output_tokens, actual_output_tokens "
    "FROM token_estimation_v2_events WHERE success = 1 AND truncated = 0"
):
    groups.setdefault(f"{category}/{complexity}", []).append(actual / estimated)
medians = {key: statistics.median(ratios) for key, ratios in groups.items()}
print(json.dumps({"seconds": time.perf_counter() - started, "medians": medians}))
"#;

/// The rows and columns calibration reads, touched and nothing more.
const FLOOR_QUERY: &str = "SELECT category, complexity, run_id, phase_id, estimated_output_tokens,
    actual_output_tokens, actual_max_tokens, success, truncated
    FROM token_estimation_v2_events";

fn median_of_three(mut run: impl FnMut() -> f64) -> f64 {
    let mut times = [run(), run(), run()];
    times.sort_by(f64::total_cmp);
    times[1]
}

fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");

    let started = Instant::now();
    let mut store = Store::open(&path, Create::IfMissing).unwrap();
    let estimator = Estimator::default();
    let simulation = Simulation {
        calls: rows,
        ..Simulation::default()
    };
    let mut batch = Vec::with_capacity(50_000);
    for usage in simulation.records(&estimator) {
        batch.push(usage);
        if batch.len() == batch.capacity() {
            store.insert(&batch).unwrap();
            batch.clear();
        }
    }
    store.insert(&batch).unwrap();
    let generate_s = started.elapsed().as_secs_f64();

    let read_floor_s = median_of_three(|| {
        let started = Instant::now();
        let mut statement = store.connection().prepare(FLOOR_QUERY).unwrap();
        let mut result = statement.query([]).unwrap();
        let mut seen = 0_usize;
        while let Some(row) = result.next().unwrap() {
            for column in 0..9 {
                black_box(row.get_ref(column).unwrap());
            }
            seen += 1;
        }
        assert_eq!(seen, rows);
        started.elapsed().as_secs_f64()
    });

    let options = Options::default();
    let coefficients = Coefficients::default();
    let mut last = None;
    let calibrate_s = median_of_three(|| {
        let started = Instant::now();
        let calibration = calibrate(&store, &coefficients, &options).unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        last = Some(calibration);
        elapsed
    });
    let calibration = last.unwrap();
    assert_eq!(calibration.events, rows);

    let mut python = Vec::new();
    let python_s = median_of_three(|| {
        let output = Command::new("python3")
            .arg("-c")
            .arg(PYTHON)
            .arg(&path)
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        python.push(answer["medians"].clone());
        answer["seconds"].as_f64().unwrap()
    });

    // The same medians, group by group.
    let theirs: BTreeMap<String, f64> = python[0]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, value)| (key.clone(), value.as_f64().unwrap()))
        .collect();
    let ours: BTreeMap<String, f64> = calibration
        .groups
        .iter()
        .filter_map(|group| Some((group.key.label(), group.median_ratio?)))
        .collect();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    let max_diff = ours
        .iter()
        .map(|(key, median)| (median - theirs[key]).abs())
        .fold(0.0_f64, f64::max);
    println!(
        "tokens rows={rows} groups={} generate_s={generate_s:.3} read_floor_s={read_floor_s:.4} calibrate_s={calibrate_s:.4} python_s={python_s:.4} medians={} max_median_diff={max_diff:e}",
        calibration.groups.len(),
        ours.len(),
    );
}
