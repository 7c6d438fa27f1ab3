//! The token-usage workflow through the public API, on real SQLite files:
//! recording (on, off, refused, dropped when full), the migration of a
//! version-1 database, calibration on fixtures whose statistics are worked
//! out by hand, the backtest, the report and the patch, and applying it.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use telemetry_runtime::Timestamp;
use telemetry_tokens::calibrate::{Interpretation, is_held_out};
use telemetry_tokens::patch::{self, ApplyError};
use telemetry_tokens::{
    Coefficients, Create, Estimator, Options, RecordError, Store, TokenCounts, TokenRecorder,
    TokenUsage, calibrate, check, report,
};

/// A successful, untruncated call unless changed.
fn call(category: &str, complexity: &str, estimated: u64, actual: u64) -> TokenUsage {
    TokenUsage {
        timestamp: Timestamp::parse("2026-01-23T12:00:00Z").unwrap(),
        run_id: "run-1".into(),
        phase_id: format!("phase-{category}-{actual}"),
        provider: "anthropic".into(),
        model: "claude-sonnet-4".into(),
        category: category.into(),
        complexity: complexity.into(),
        deliverable_count: 1,
        estimated_output_tokens: estimated,
        selected_budget: 4000,
        actual_max_tokens: 4000,
        counts: TokenCounts::reported(1000, actual),
        success: true,
        truncated: false,
    }
}

fn store_with(dir: &Path, records: &[TokenUsage]) -> Store {
    let mut store = Store::open(&dir.join("tokens.db"), Create::IfMissing).unwrap();
    store.insert(records).unwrap();
    store
}

/// The fixture of the calibration tests, by hand:
///
/// - `implementation/low`: ratios 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 5.0, plus a
///   truncated and a failed call. Median 1.1; deviations 0.3, 0.2, 0.1, 0,
///   0.1, 0.2, 3.9 → MAD 0.2; 5.0 has z = 0.6745 × 3.9 / 0.2 = 13.2 (an
///   outlier), 0.8 has 1.0; n = 7 gives ranks 1 and 7 (P(B = 0) = 1/128 ≤
///   0.025 < P(B ≤ 1) = 8/128), so the interval is [0.8, 5.0];
///   confidence 7/9 × 1/(1 + 0.2/1.1) = 0.6581; truncation 1/9; waste
///   4000 / actual, median 4000/1100 = 3.636.
/// - `tests/low`: four calls at ratio 1.5 → n = 4 < 5.
/// - `docs/low`: ten calls at ratio 0.5 → MAD 0, confidence 10/12, interval
///   ranks 2 and 9, both 0.5; overestimating.
fn fixture() -> Vec<TokenUsage> {
    let mut records: Vec<TokenUsage> = [800, 900, 1000, 1100, 1200, 1300, 5000]
        .into_iter()
        .map(|actual| call("implementation", "low", 1000, actual))
        .collect();
    let mut truncated = call("implementation", "low", 1000, 4000);
    truncated.truncated = true;
    let mut failed = call("implementation", "low", 1000, 10);
    failed.success = false;
    records.extend([truncated, failed]);
    records.extend((0..4).map(|i| call("tests", "low", 1000 + i, (1000 + i) * 3 / 2)));
    records.extend((0..10).map(|i| {
        let mut usage = call("docs", "low", 1000, 500);
        usage.phase_id = format!("docs-{i}");
        usage
    }));
    records
}

fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-4,
        "{actual} is not {expected}"
    );
}

#[test]
fn groups_statistics_and_gates_match_the_hand_worked_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &fixture());
    let calibration = calibrate(&store, &Coefficients::default(), &Options::default()).unwrap();
    assert_eq!(calibration.events, 23);
    assert_eq!(calibration.usable, 21);
    let labels: Vec<String> = calibration.groups.iter().map(|g| g.key.label()).collect();
    assert_eq!(labels, ["docs/low", "implementation/low", "tests/low"]);

    let docs = &calibration.groups[0];
    assert_eq!((docs.n, docs.calls, docs.outliers), (10, 10, 0));
    assert_eq!(docs.median_ratio, Some(0.5));
    assert_eq!(docs.mad, Some(0.0));
    assert_eq!(docs.interval, Some((0.5, 0.5)));
    close(docs.confidence, 10.0 / 12.0);
    assert_eq!(docs.interpretation(), Some(Interpretation::Overestimating));
    let proposal = docs.proposal.expect("docs/low passes both gates");
    assert_eq!(proposal.multiplier, 0.5);
    assert_eq!(proposal.current_coefficient, 2000.0);
    assert_eq!(proposal.proposed_coefficient, 1000.0);

    let implementation = &calibration.groups[1];
    assert_eq!(
        (
            implementation.calls,
            implementation.truncated,
            implementation.n
        ),
        (9, 1, 7)
    );
    close(implementation.median_ratio.unwrap(), 1.1);
    close(implementation.mad.unwrap(), 0.2);
    assert_eq!(implementation.interval, Some((0.8, 5.0)));
    assert_eq!(implementation.outliers, 1);
    close(implementation.truncation_rate, 1.0 / 9.0);
    close(implementation.median_waste.unwrap(), 4000.0 / 1100.0);
    close(implementation.confidence, 7.0 / 9.0 / (1.0 + 0.2 / 1.1));
    assert_eq!(implementation.proposal, None);
    assert_eq!(
        implementation.reason.as_deref(),
        Some("confidence 0.658 < --confidence-threshold 0.7")
    );

    let tests = &calibration.groups[2];
    assert_eq!(tests.n, 4);
    assert_eq!(tests.interval, None, "n = 4 is too few for a 95% interval");
    assert_eq!(tests.proposal, None);
    assert_eq!(tests.reason.as_deref(), Some("n = 4 < --min-samples 5"));

    // A lower threshold lets implementation/low through, with its outlier kept.
    let lenient = Options {
        confidence_threshold: 0.6,
        ..Options::default()
    };
    let calibration = calibrate(&store, &Coefficients::default(), &lenient).unwrap();
    let proposal = calibration.groups[1].proposal.unwrap();
    close(proposal.multiplier, 1.1);
    assert_eq!(proposal.proposed_coefficient, 2200.0);
    assert_eq!(
        calibration.groups[1].interpretation(),
        Some(Interpretation::WithinRange)
    );
    // And fewer samples let tests/low through: 1.5 is underestimating.
    let few = Options {
        min_samples: 4,
        ..Options::default()
    };
    let calibration = calibrate(&store, &Coefficients::default(), &few).unwrap();
    assert_eq!(
        calibration.groups[2].interpretation(),
        Some(Interpretation::Underestimating)
    );
    assert!(
        calibration.groups[2].proposal.is_none(),
        "4/6 = 0.667 < 0.7"
    );
}

#[test]
fn proposals_start_from_the_coefficients_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &fixture());
    let coefficients =
        Coefficients::parse(r#"{"coefficients": {"docs/low": 1500}}"#, "c.json").unwrap();
    let calibration = calibrate(&store, &coefficients, &Options::default()).unwrap();
    let proposal = calibration.groups[0].proposal.unwrap();
    assert_eq!(proposal.current_coefficient, 1500.0);
    assert_eq!(proposal.proposed_coefficient, 750.0);
}

#[test]
fn grouping_by_model_and_deliverables_splits_groups() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = fixture();
    records[0].model = "gpt-4.1".into();
    records[1].deliverable_count = 3;
    let store = store_with(dir.path(), &records);
    let by_model = Options {
        by_model: true,
        ..Options::default()
    };
    let calibration = calibrate(&store, &Coefficients::default(), &by_model).unwrap();
    let labels: Vec<String> = calibration.groups.iter().map(|g| g.key.label()).collect();
    assert_eq!(
        labels,
        [
            "docs/low · claude-sonnet-4",
            "implementation/low · claude-sonnet-4",
            "implementation/low · gpt-4.1",
            "tests/low · claude-sonnet-4"
        ]
    );
    assert!(!calibration.applicable());
    let by_deliverables = Options {
        by_deliverables: true,
        ..Options::default()
    };
    let calibration = calibrate(&store, &Coefficients::default(), &by_deliverables).unwrap();
    assert_eq!(calibration.groups.len(), 4);
    assert!(
        calibration
            .groups
            .iter()
            .any(|g| g.key.label() == "implementation/low · 3 deliverables")
    );
}

#[test]
fn the_backtest_fits_on_the_rest_and_measures_the_held_out_calls() {
    let dir = tempfile::tempdir().unwrap();
    // Every call used twice its estimate: error before |a - e| / a = 0.5;
    // the multiplier fitted on the training share is 2, so error after 0.
    let records: Vec<TokenUsage> = (0..60)
        .map(|i| {
            let mut usage = call("tests", "medium", 1000, 2000);
            usage.run_id = format!("run-{}", i / 5);
            usage.phase_id = format!("phase-{i}");
            usage
        })
        .collect();
    let held = records
        .iter()
        .filter(|usage| is_held_out(usage.run_id.as_bytes(), usage.phase_id.as_bytes(), 20))
        .count();
    assert!(
        held > 0 && held < 60,
        "the split holds out some, not all: {held}"
    );
    let store = store_with(dir.path(), &records);
    let calibration = calibrate(&store, &Coefficients::default(), &Options::default()).unwrap();
    let group = &calibration.groups[0];
    let backtest = group.backtest.expect("a proposal with held-out calls");
    assert_eq!(backtest.held_out, held);
    assert_eq!(backtest.fitted_multiplier, Some(2.0));
    assert_eq!((backtest.error_before, backtest.error_after), (0.5, 0.0));
    assert_eq!(calibration.backtest.unwrap().held_out, held);
    // No held-out share, no backtest.
    let none = Options {
        holdout_percent: 0,
        ..Options::default()
    };
    let calibration = calibrate(&store, &Coefficients::default(), &none).unwrap();
    assert_eq!(calibration.backtest, None);
    assert!(calibration.groups[0].proposal.is_some());
}

#[test]
fn the_split_is_a_fixed_function_of_run_and_phase() {
    // FNV-1a 64 of "run-1", 0xff, "phase-1", worked once and pinned: a
    // changed hash would move calls between shares between versions.
    let hash = telemetry_tokens::calibrate::split_hash(b"run-1", b"phase-1");
    let mut expected: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"run-1".iter().chain(&[0xff]).chain(b"phase-1") {
        expected = (expected ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    assert_eq!(hash, expected);
    let share = (0..10_000)
        .filter(|i| is_held_out(b"r", format!("p{i}").as_bytes(), 20))
        .count();
    assert!((1800..2200).contains(&share), "about 20%: {share}");
}

#[test]
fn reports_are_byte_identical_for_identical_input_and_named_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &fixture());
    let at = time::macros::datetime!(2026-01-23 12:34:56 UTC);
    let render = || {
        let calibration = calibrate(&store, &Coefficients::default(), &Options::default()).unwrap();
        (
            report::markdown(&calibration, Path::new("tokens.db"), at),
            report::patch(&calibration, Path::new("tokens.db"), at).to_json(),
        )
    };
    let (markdown, json) = render();
    assert_eq!(render(), (markdown.clone(), json.clone()));
    let (md_path, json_path) = report::file_paths(dir.path(), at);
    assert_eq!(
        md_path.file_name().unwrap(),
        "token_estimator_calibration_20260123_123456.md"
    );
    assert_eq!(
        json_path.file_name().unwrap(),
        "token_estimator_calibration_20260123_123456.json"
    );
    assert!(markdown.contains("| docs/low | 10 | 10 | 0.500 | 0.500 – 0.500 | 0.000 | 0 | 0.0% | 8.00 | 0.83 | overestimating | ×0.50: 2000 → 1000 |"), "{markdown}");
    assert!(
        markdown.contains("none: n = 4 < --min-samples 5"),
        "{markdown}"
    );
    assert!(markdown.contains(report::CONFIDENCE_FORMULA));
    assert!(
        markdown.contains("- docs/low: 2000 → 1000 (-50%, n=10, confidence=0.83, overestimating)"),
        "{markdown}"
    );
    // The estimator loads the patch as it is.
    std::fs::write(&json_path, &json).unwrap();
    let loaded = Coefficients::load(&json_path).unwrap();
    assert_eq!(loaded.coefficients.len(), 1);
    assert_eq!(
        Estimator::new(loaded).estimate("docs", "low").output_tokens,
        1000
    );
}

#[test]
fn apply_shows_the_diff_and_writes_only_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &fixture());
    let at = time::macros::datetime!(2026-01-23 12:34:56 UTC);
    let calibration = calibrate(&store, &Coefficients::default(), &Options::default()).unwrap();
    let patch_path = dir.path().join("patch.json");
    std::fs::write(
        &patch_path,
        report::patch(&calibration, Path::new("t.db"), at).to_json(),
    )
    .unwrap();
    let coefficients = dir.path().join("coefficients.json");
    std::fs::write(&coefficients, r#"{"coefficients": {"tests/low": 3000}}"#).unwrap();

    let plan = patch::plan(&patch_path, &coefficients).unwrap();
    assert_eq!(plan.changes.len(), 1);
    let diff = plan.diff();
    assert!(
        diff.contains("  docs/low: 2000 (default) -> 1000 (x0.50)"),
        "{diff}"
    );
    assert_eq!(
        std::fs::read_to_string(&coefficients).unwrap(),
        r#"{"coefficients": {"tests/low": 3000}}"#,
        "planning writes nothing"
    );
    plan.write().unwrap();
    let after = Coefficients::load(&coefficients).unwrap();
    assert_eq!(after.get("docs", "low"), 1000.0);
    assert_eq!(after.get("tests", "low"), 3000.0, "other coefficients stay");
    let again = patch::plan(&patch_path, &coefficients).unwrap();
    assert!(again.changes.is_empty());
}

#[test]
fn apply_refuses_malformed_and_inapplicable_patches_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let coefficients = dir.path().join("c.json");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"format\": \n").unwrap();
    let error = patch::plan(&broken, &coefficients).unwrap_err();
    assert!(matches!(error, ApplyError::NotAPatch { .. }));
    let text = error.to_string();
    assert!(
        text.contains("broken.json: not a calibration patch") && text.contains("line 2"),
        "{text}"
    );

    let store = store_with(dir.path(), &fixture());
    let by_model = Options {
        by_model: true,
        ..Options::default()
    };
    let calibration = calibrate(&store, &Coefficients::default(), &by_model).unwrap();
    let at = time::macros::datetime!(2026-01-23 12:34:56 UTC);
    let fine = dir.path().join("by-model.json");
    std::fs::write(
        &fine,
        report::patch(&calibration, Path::new("t.db"), at).to_json(),
    )
    .unwrap();
    let error = patch::plan(&fine, &coefficients).unwrap_err();
    assert!(matches!(error, ApplyError::NotApplicable { .. }), "{error}");
    assert!(!coefficients.exists());

    let bad_value = dir.path().join("bad.json");
    let mut json: serde_json::Value = serde_json::from_str(
        &report::patch(
            &calibrate(&store, &Coefficients::default(), &Options::default()).unwrap(),
            Path::new("t.db"),
            at,
        )
        .to_json(),
    )
    .unwrap();
    json["coefficients"]["docs/low"] = serde_json::json!(-3);
    std::fs::write(&bad_value, json.to_string()).unwrap();
    let error = patch::plan(&bad_value, &coefficients).unwrap_err();
    assert!(
        error.to_string().contains("coefficient \"docs/low\""),
        "{error}"
    );
}

/// The committed fixture: a database as version 1 wrote it.
fn version_1_sql() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema_v1.sql"),
    )
    .unwrap()
}

#[test]
fn a_version_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let sql = version_1_sql();
    Connection::open(&path)
        .unwrap()
        .execute_batch(&sql)
        .unwrap();

    let mut store = Store::open(&path, Create::MustExist).unwrap();
    assert_eq!(store.upgraded_from(), Some(1));
    assert_eq!(store.schema_version().unwrap(), 2);
    let identity = check::identity(&store, 1).unwrap();
    assert_eq!(
        (identity.events, identity.usable, identity.without_ceiling),
        (3, 2, 3)
    );
    // Old rows keep their values; the new column is NULL in them.
    let (output, ceiling): (i64, Option<i64>) = store
        .connection()
        .query_row(
            "SELECT actual_output_tokens, actual_max_tokens FROM token_estimation_v2_events WHERE id = 2",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((output, ceiling), (2600, None));
    // New rows record the ceiling, and calibration reads both.
    store
        .insert(&[call("implementation", "low", 2000, 2500)])
        .unwrap();
    let calibration = calibrate(&store, &Coefficients::default(), &Options::default()).unwrap();
    let group = calibration
        .groups
        .iter()
        .find(|g| g.key.category == "implementation")
        .unwrap();
    assert_eq!(group.n, 3);
    assert_eq!(group.median_ratio, Some(1.25));
    assert_eq!(
        group.median_waste,
        Some(4000.0 / 2500.0),
        "only the row with a ceiling"
    );
    drop(store);
    let reopened = Store::open(&path, Create::MustExist).unwrap();
    assert_eq!(reopened.upgraded_from(), None, "upgraded once");
}

#[test]
fn a_table_without_a_version_number_is_read_for_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unversioned.db");
    let sql = version_1_sql().replace("PRAGMA user_version = 1;", "");
    Connection::open(&path)
        .unwrap()
        .execute_batch(&sql)
        .unwrap();
    let store = Store::open(&path, Create::MustExist).unwrap();
    assert_eq!(store.upgraded_from(), Some(1));
    assert_eq!(store.schema_version().unwrap(), 2);
}

fn enabled_env(db: &Path) -> impl Fn(&str) -> Option<String> + 'static {
    let url = format!("sqlite:///{}", db.display());
    move |name| match name {
        "MYAPP_TELEMETRY_DB_ENABLED" => Some("1".to_owned()),
        "DATABASE_URL" => Some(url.clone()),
        _ => None,
    }
}

#[test]
fn recording_writes_batches_off_the_callers_thread() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tokens.db");
    let recorder = TokenRecorder::builder("myapp")
        .unwrap()
        .env(enabled_env(&db))
        .build();
    assert!(recorder.is_recording(), "{}", recorder.reason());
    assert_eq!(recorder.reason(), "MYAPP_TELEMETRY_DB_ENABLED=1 is set");
    for record in fixture() {
        recorder.record(record).unwrap();
    }
    recorder.flush(Duration::from_secs(10)).unwrap();
    let counters = recorder.counters();
    assert_eq!((counters.recorded, counters.written), (23, 23));
    let store = Store::open(&db, Create::MustExist).unwrap();
    assert_eq!(check::identity(&store, 5).unwrap().events, 23);
    // Dropping the last handle writes what is left.
    let clone = recorder.clone();
    drop(recorder);
    clone.record(call("docs", "low", 1, 1)).unwrap();
    drop(clone);
    assert_eq!(check::identity(&store, 5).unwrap().events, 24);
}

#[test]
fn recording_is_off_unless_enabled_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tokens.db");
    let url = format!("sqlite:///{}", db.display());
    let recorder = TokenRecorder::builder("myapp")
        .unwrap()
        .env(move |name| (name == "DATABASE_URL").then(|| url.clone()))
        .build();
    assert!(!recorder.is_recording());
    assert_eq!(recorder.reason(), "MYAPP_TELEMETRY_DB_ENABLED is not set");
    recorder.record(call("docs", "low", 1000, 900)).unwrap();
    assert_eq!(recorder.counters().recorded, 0);
    assert!(!db.exists());
    // An unusable location leaves it off, with the problem.
    let broken = TokenRecorder::builder("myapp")
        .unwrap()
        .env(|name| match name {
            "MYAPP_TELEMETRY_DB_ENABLED" => Some("1".to_owned()),
            "DATABASE_URL" => Some("postgres://db/tokens".to_owned()),
            _ => None,
        })
        .build();
    assert!(!broken.is_recording());
    assert!(
        broken.problems()[0].contains("unsupported database scheme `postgres`"),
        "{:?}",
        broken.problems()
    );
}

#[test]
fn a_flagged_field_is_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tokens.db");
    let recorder = TokenRecorder::builder("myapp")
        .unwrap()
        .env(enabled_env(&db))
        .build();
    let mut leaky = call("docs", "low", 1000, 900);
    leaky.run_id = "ana@example.com".into();
    let error = recorder.record(leaky).unwrap_err();
    assert!(matches!(
        error,
        RecordError::Guard {
            field: "run_id",
            ..
        }
    ));
    assert!(
        error
            .to_string()
            .contains("field `run_id` looks like an e-mail address"),
        "{error}"
    );
    recorder.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(recorder.counters().refused, 1);
    assert_eq!(recorder.counters().written, 0);
}

#[test]
fn a_full_channel_drops_and_counts_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tokens.db");
    drop(Store::open(&db, Create::IfMissing).unwrap());
    // Another connection holds the write lock, so the writer waits.
    let blocker = Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let recorder = TokenRecorder::builder("myapp")
        .unwrap()
        .env(enabled_env(&db))
        .channel_capacity(2)
        .build();
    let started = std::time::Instant::now();
    for i in 0..50 {
        recorder.record(call("docs", "low", 1000, 900 + i)).unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "record never waits"
    );
    let counters = recorder.counters();
    assert!(counters.dropped_channel_full > 0, "{counters:?}");
    assert_eq!(counters.recorded + counters.dropped_channel_full, 50);
    blocker.execute_batch("COMMIT").unwrap();
    recorder.flush(Duration::from_secs(20)).unwrap();
    let counters = recorder.counters();
    assert_eq!(
        counters.written + counters.dropped_write_failed,
        counters.recorded
    );
}
