//! `check` on real files: the three alerts, the window, the minimum number
//! of records, and the configuration file.

use std::fs;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use telemetry_dataset::check::ConfigError;
use telemetry_dataset::read::ReadOptions;
use telemetry_dataset::{AlertKind, CheckOptions, QualityThresholds, check, load_thresholds};

const NOW_MS: u64 = 1_700_000_000_000;
const DAY_MS: u64 = 86_400_000;

fn record(
    module: &str,
    signature: &str,
    n: u64,
    success: bool,
    latency_ms: u64,
    cost_usd: f64,
    age_ms: u64,
) -> Value {
    json!({
        "module_name": module,
        "module_version": "baseline",
        "signature": signature,
        "input": {"n": n},
        "output": {},
        "timestamp_ms": NOW_MS - age_ms,
        "latency_ms": latency_ms,
        "cost_usd": cost_usd,
        "success": success,
    })
}

fn options(log: &Path) -> CheckOptions {
    CheckOptions {
        log_files: vec![log.to_path_buf()],
        thresholds: QualityThresholds::default(),
        since: Duration::from_secs(30 * 86_400),
        now_ms: NOW_MS,
        min_records: 100,
        read: ReadOptions {
            workers: 2,
            batch_bytes: 4096,
            batches_in_flight: 4,
            max_line_bytes: 1 << 20,
        },
    }
}

/// reviewer/extract: 89% success; optimizer/discover: p99 latency 4200 ms;
/// planner/plan: p99 cost $0.08; healthy/ok: fine; small/few: 50 bad
/// records, below the minimum; and 200 failures 40 days old.
fn write_log(path: &Path) {
    let mut text = String::new();
    let mut push = |r: Value| {
        text.push_str(&r.to_string());
        text.push('\n');
    };
    for n in 0..200 {
        push(record(
            "reviewer",
            "extract",
            n,
            n % 100 >= 11,
            200,
            0.001,
            DAY_MS,
        ));
        let slow = if n % 50 == 0 { 4200 } else { 300 };
        push(record(
            "optimizer",
            "discover",
            n,
            true,
            slow,
            0.001,
            2 * DAY_MS,
        ));
        let dear = if n % 25 == 0 { 0.08 } else { 0.01 };
        push(record("planner", "plan", n, true, 300, dear, 3 * DAY_MS));
        push(record("healthy", "ok", n, true, 300, 0.01, DAY_MS));
        push(record("healthy", "ok", n, false, 300, 0.01, 40 * DAY_MS));
    }
    for n in 0..50 {
        push(record("small", "few", n, false, 9000, 1.0, DAY_MS));
    }
    text.push_str("{\"broken\n");
    fs::write(path, text).unwrap();
}

#[test]
fn each_threshold_alerts_once_for_its_module_and_signature() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    write_log(&log);
    let report = check(&options(&log), &|_| {}).unwrap();
    let alerts: Vec<(AlertKind, &str, &str)> = report
        .alerts
        .iter()
        .map(|a| (a.kind, a.module.as_str(), a.signature.as_str()))
        .collect();
    assert_eq!(
        alerts,
        [
            (AlertKind::LatencyP99, "optimizer", "discover"),
            (AlertKind::CostP99, "planner", "plan"),
            (AlertKind::SuccessRate, "reviewer", "extract"),
        ]
    );
    let success = &report.alerts[2];
    assert_eq!(success.current, 0.89);
    assert_eq!(success.threshold, 0.95);
    assert_eq!(success.records, 200);
    assert_eq!(success.alert, "DSPy module success rate < 95%");
    let latency = &report.alerts[0];
    assert!(
        (latency.current - 4200.0).abs() <= 42.0,
        "{}",
        latency.current
    );
    assert_eq!(latency.alert, "DSPy module p99 latency > 3s");
    assert_eq!(report.alerts[1].alert, "DSPy module p99 cost > $0.05");

    // The window left out the old failures; the small group was not checked.
    assert_eq!(report.counts.read, 1050);
    assert_eq!(report.counts.in_window, 850);
    assert_eq!(report.counts.malformed, 1);
    let small = report
        .groups
        .iter()
        .find(|g| g.module_name == "small")
        .unwrap();
    assert!(!small.checked);
    assert_eq!(small.records, 50);
    let healthy = report
        .groups
        .iter()
        .find(|g| g.module_name == "healthy")
        .unwrap();
    assert_eq!(healthy.success_rate, 1.0);

    let mut text = Vec::new();
    report.write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(
            "Alert: DSPy module success rate < 95%\nModule: reviewer\nSignature: extract\nCurrent: 89%\nThreshold: 95%\nAction: Investigate errors, consider rollback\n"
        ),
        "{text}"
    );
    assert!(text.contains("Alert: DSPy module p99 latency > 3s\nModule: optimizer\nSignature: discover\nCurrent: 4"), "{text}");
    assert!(
        text.contains("Threshold: 3000ms\nAction: Optimize prompt, reduce context\n"),
        "{text}"
    );
    assert!(text.contains("  small / few: 50 records\n"), "{text}");
}

#[test]
fn a_longer_window_and_a_lower_minimum_change_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    write_log(&log);
    let mut options = options(&log);
    options.since = Duration::from_secs(60 * 86_400);
    options.min_records = 10;
    let report = check(&options, &|_| {}).unwrap();
    let flagged: Vec<&str> = report.alerts.iter().map(|a| a.module.as_str()).collect();
    // healthy/ok: 200 successes and 200 old failures: 50%.
    assert!(flagged.contains(&"healthy"), "{flagged:?}");
    // small/few: every threshold.
    assert_eq!(flagged.iter().filter(|m| **m == "small").count(), 3);
}

#[test]
fn thresholds_come_from_monitoring_config_json() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("monitoring_config.json");
    fs::write(
        &config,
        r#"{"telemetry": {"enabled": true, "sampling_rate_pct": 10}, "quality_thresholds": {"min_success_rate": 0.8, "max_latency_p99_ms": 5000}}"#,
    )
    .unwrap();
    let thresholds = load_thresholds(&config).unwrap();
    assert_eq!(thresholds.min_success_rate, 0.8);
    assert_eq!(thresholds.max_latency_p99_ms, 5000.0);
    assert_eq!(thresholds.max_cost_p99_usd, 0.05);

    fs::write(
        &config,
        r#"{"quality_thresholds": {"min_success_rat": 0.8}}"#,
    )
    .unwrap();
    let error = load_thresholds(&config).unwrap_err();
    assert!(matches!(error, ConfigError::Invalid { .. }));
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "{}: unknown field `min_success_rat`",
            config.display()
        )),
        "{message}"
    );
}
