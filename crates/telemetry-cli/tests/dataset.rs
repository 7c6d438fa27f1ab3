//! `telemetry dataset build|check` run as a user would: the text report
//! (a golden file), the JSON shapes, two builds at once, alerts and exit
//! codes, and bad flags.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::process::Stdio;

use assert_cmd::Command;
use predicates::str::contains;
use serde_json::{Value, json};

fn telemetry(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("telemetry").unwrap();
    command
        .current_dir(dir)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("DO_NOT_TRACK");
    command
}

fn record(module: &str, signature: &str, n: u64) -> Value {
    json!({
        "module_name": module,
        "module_version": "baseline",
        "signature": signature,
        "input": {"user_intent": format!("task {n}"), "context": {"project": "REST API", "files": ["a.rs", "b.rs"]}},
        "output": {"requirements": ["JWT token generation", "Password hashing with bcrypt"]},
        "timestamp_ms": 1_699_564_800_000_u64 + n,
        "latency_ms": 100 + (n % 50) * 20,
        "tokens": 120,
        "cost_usd": 0.001 * f64::from(u8::try_from(n % 7).unwrap() + 1),
        "model": "claude-haiku-4-5",
        "success": n % 10 != 9,
        "error": if n % 10 == 9 { json!("timeout") } else { Value::Null },
        "th": "e666",
        "adjusted_count": 10.0
    })
}

fn lines(records: impl IntoIterator<Item = impl std::borrow::Borrow<Value>>) -> String {
    records.into_iter().fold(String::new(), |mut text, record| {
        text.push_str(&record.borrow().to_string());
        text.push('\n');
        text
    })
}

fn write_log(path: &Path, records: impl IntoIterator<Item = Value>) {
    fs::write(path, lines(records)).unwrap();
}

/// Compares with `tests/views/NAME.txt`, or writes it with
/// `TELEMETRY_UPDATE_VIEWS=1` (then review the diff). Text, not an `insta`
/// snapshot: every `.snap` file is a payload the privacy audit reads.
fn assert_view(name: &str, shown: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/views")
        .join(format!("{name}.txt"));
    if std::env::var_os("TELEMETRY_UPDATE_VIEWS").is_some() {
        fs::write(&path, shown).unwrap();
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == shown,
        "{} differs from what `dataset build` prints now (regenerate with \
         TELEMETRY_UPDATE_VIEWS=1 and review the diff):\n{shown}",
        path.display()
    );
}

/// A log directory: a rotated file and the live one, with a duplicate, a
/// malformed line, a slow call and planted PII.
fn sample_logs(dir: &Path) {
    let logs = dir.join("logs");
    fs::create_dir_all(&logs).unwrap();
    write_log(
        &logs.join("prod.20251101T000000Z.jsonl"),
        (0..20).map(|n| record("reviewer", "extract_requirements", n)),
    );
    let mut live: Vec<Value> = (20..30)
        .map(|n| record("optimizer", "discover_skills", n))
        .collect();
    live.push(record("reviewer", "extract_requirements", 3));
    live[0]["input"]["contact"] = json!("mail ana@example.com");
    live[1]["latency_ms"] = json!(9000);
    let mut text = lines(&live);
    text.push_str("{\"module_name\": \"x\"}\n");
    fs::write(logs.join("prod.jsonl"), text).unwrap();
}

#[test]
fn build_prints_its_report_per_module_and_signature() {
    let dir = tempfile::tempdir().unwrap();
    sample_logs(dir.path());
    let output = telemetry(dir.path())
        .args([
            "dataset",
            "build",
            "--log-file",
            "logs",
            "--output-dir",
            "out",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(output).unwrap();
    assert_view("dataset_build", &text);
    assert!(
        dir.path()
            .join("out/extract_requirements/v1/manifest.json")
            .exists()
    );
    assert!(
        dir.path()
            .join("out/discover_skills/v1/examples.jsonl")
            .exists()
    );

    // Again: nothing new, no version, exit 0.
    telemetry(dir.path())
        .args([
            "dataset",
            "build",
            "--log-file",
            "logs",
            "--output-dir",
            "out",
        ])
        .assert()
        .success()
        .stdout(contains(
            "extract_requirements: nothing new, no version written",
        ));
    assert!(!dir.path().join("out/extract_requirements/v2").exists());
}

#[test]
fn build_json_has_the_reports_fields() {
    let dir = tempfile::tempdir().unwrap();
    sample_logs(dir.path());
    let output = telemetry(dir.path())
        .args([
            "dataset",
            "build",
            "--log-file",
            "logs/*.jsonl",
            "--output-dir",
            "out",
            "--json",
            "--source",
            "git",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&output).unwrap();
    let counts = &report["counts"];
    assert_eq!(counts["read"], 31);
    assert_eq!(counts["malformed"], 1);
    assert_eq!(counts["duplicates"], 1);
    assert_eq!(counts["redacted_spans"], 1);
    assert_eq!(counts["filtered"]["failed"], 3);
    assert_eq!(counts["filtered"]["latency"], 1);
    assert_eq!(report["problems"][0]["file"], "logs/prod.jsonl");
    assert_eq!(report["problems"][0]["line"], 12);
    assert_eq!(
        report["problems"][0]["reason"],
        "missing field `module_version`"
    );
    assert_eq!(report["quantile_relative_error"], 0.01);
    let group = &report["groups"][1];
    assert_eq!(group["module_name"], "reviewer");
    assert_eq!(group["signature"], "extract_requirements");
    assert_eq!(group["read"], 21);
    assert_eq!(group["written"], 18);
    for key in ["dedup_rate", "estimated_sampling_rate", "success_rate"] {
        assert!(group[key].is_f64(), "{key}");
    }
    assert!((group["estimated_sampling_rate"].as_f64().unwrap() - 0.1).abs() < 1e-12);
    assert_eq!(group["latency_ms"]["p99"]["samples"], 21);
    assert!(group["latency_ms"]["p50"]["value"].is_f64());
    assert_eq!(group["cost_usd"]["p99"]["samples"], 21);
    assert_eq!(report["versions"][1]["path"], "out/extract_requirements/v1");
    assert_eq!(report["versions"][1]["examples"], 18);
    let provenance = fs::read_to_string(
        dir.path()
            .join("out/extract_requirements/v1/provenance.jsonl"),
    )
    .unwrap();
    let first: Value = serde_json::from_str(provenance.lines().next().unwrap()).unwrap();
    assert_eq!(first["source"], "git");
}

#[test]
fn two_builds_at_once_write_two_versions_that_share_no_example() {
    let dir = tempfile::tempdir().unwrap();
    write_log(
        &dir.path().join("a.jsonl"),
        (0..30_000)
            .map(|n| record("m", "sig", n))
            .filter(|r| r["success"] == true),
    );
    write_log(
        &dir.path().join("b.jsonl"),
        (15_000..45_000)
            .map(|n| record("m", "sig", n))
            .filter(|r| r["success"] == true),
    );
    let binary = assert_cmd::cargo::cargo_bin("telemetry");
    let start = |log: &str| {
        std::process::Command::new(&binary)
            .current_dir(dir.path())
            .args([
                "--data-dir",
                "data",
                "dataset",
                "build",
                "--log-file",
                log,
                "--output-dir",
                "out",
                "--json",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start("a.jsonl"), start("b.jsonl"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let written: u64 = [a, b]
        .iter()
        .map(|output| {
            serde_json::from_slice::<Value>(&output.stdout).unwrap()["counts"]["written"]
                .as_u64()
                .unwrap()
        })
        .sum();
    let mut versions: Vec<String> = fs::read_dir(dir.path().join("out/sig"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with('.'))
        .collect();
    versions.sort();
    assert_eq!(versions, ["v1", "v2"]);
    let mut all = HashSet::new();
    for version in &versions {
        let path = dir.path().join("out/sig").join(version);
        let examples = fs::read_to_string(path.join("examples.jsonl")).unwrap();
        let manifest: Value =
            serde_json::from_slice(&fs::read(path.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(
            manifest["files"]["examples"]["lines"],
            examples.lines().count()
        );
        for line in examples.lines() {
            let example: Value = serde_json::from_str(line).unwrap();
            assert!(
                all.insert(example["example_id"].as_str().unwrap().to_owned()),
                "an example in two versions"
            );
        }
    }
    let distinct = (0..45_000).filter(|n| n % 10 != 9).count();
    assert_eq!(all.len(), distinct);
    assert_eq!(written, distinct as u64);
}

fn alerting_log(dir: &Path) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let now = u64::try_from(now).unwrap();
    write_log(
        &dir.join("recent.jsonl"),
        (0..200).map(|n| {
            let mut r = record("reviewer", "extract_requirements", n);
            r["timestamp_ms"] = json!(now - 3_600_000);
            r["success"] = json!(n % 100 >= 11);
            r
        }),
    );
}

#[test]
fn check_prints_alerts_in_the_reference_shape_and_fails_on_them_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    alerting_log(dir.path());
    telemetry(dir.path())
        .args(["dataset", "check", "--log-file", "recent.jsonl"])
        .assert()
        .success()
        .stdout(contains(
            "Alert: DSPy module success rate < 95%\nModule: reviewer\nSignature: extract_requirements\nCurrent: 89%\nThreshold: 95%\nAction: Investigate errors, consider rollback\n",
        ))
        .stdout(contains("1 alert: 1 module/signature pair checked"));
    telemetry(dir.path())
        .args([
            "dataset",
            "check",
            "--log-file",
            "recent.jsonl",
            "--fail-on-alert",
        ])
        .assert()
        .code(3)
        .stderr(contains("1 alert fired"));
    // Thresholds from the configuration, then a flag over it.
    fs::write(
        dir.path().join("monitoring_config.json"),
        r#"{"quality_thresholds": {"min_success_rate": 0.85}}"#,
    )
    .unwrap();
    telemetry(dir.path())
        .args([
            "dataset",
            "check",
            "--log-file",
            "recent.jsonl",
            "--config",
            "monitoring_config.json",
            "--fail-on-alert",
        ])
        .assert()
        .success()
        .stdout(contains("0 alerts"));
    telemetry(dir.path())
        .args([
            "dataset",
            "check",
            "--log-file",
            "recent.jsonl",
            "--config",
            "monitoring_config.json",
            "--min-success-rate",
            "0.9",
            "--fail-on-alert",
        ])
        .assert()
        .code(3);
    // Too few records for an alert.
    telemetry(dir.path())
        .args([
            "dataset",
            "check",
            "--log-file",
            "recent.jsonl",
            "--min-records",
            "500",
            "--fail-on-alert",
        ])
        .assert()
        .success()
        .stdout(contains(
            "with fewer than 500 records in the window not checked",
        ));
    // Outside the window.
    telemetry(dir.path())
        .args([
            "dataset",
            "check",
            "--log-file",
            "recent.jsonl",
            "--since",
            "30min",
            "--fail-on-alert",
        ])
        .assert()
        .success();
}

#[test]
fn check_json_has_the_fields_of_the_text() {
    let dir = tempfile::tempdir().unwrap();
    alerting_log(dir.path());
    let output = telemetry(dir.path())
        .args(["dataset", "check", "--log-file", "recent.jsonl", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&output).unwrap();
    let alert = &report["alerts"][0];
    assert_eq!(alert["kind"], "success_rate");
    assert_eq!(alert["alert"], "DSPy module success rate < 95%");
    assert_eq!(alert["module"], "reviewer");
    assert_eq!(alert["signature"], "extract_requirements");
    assert_eq!(alert["current"], 0.89);
    assert_eq!(alert["threshold"], 0.95);
    assert_eq!(alert["action"], "Investigate errors, consider rollback");
    assert_eq!(alert["records"], 200);
    assert_eq!(report["thresholds"]["max_latency_p99_ms"], 3000.0);
    assert_eq!(report["groups"][0]["latency_p99_ms"]["samples"], 200);
}

#[test]
fn bad_flags_and_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    alerting_log(dir.path());
    telemetry(dir.path())
        .args([
            "dataset",
            "check",
            "--log-file",
            "recent.jsonl",
            "--since",
            "3x",
        ])
        .assert()
        .code(2)
        .stderr(contains("invalid value '3x' for '--since <DURATION>'"))
        .stderr(contains("unknown time unit"));
    telemetry(dir.path())
        .args([
            "dataset",
            "build",
            "--log-file",
            "recent.jsonl",
            "--min-quality-score",
            "1.5",
        ])
        .assert()
        .code(2)
        .stderr(contains("1.5 is not between 0 and 1"));
    telemetry(dir.path())
        .args(["dataset", "build", "--log-file", "nothing/*.jsonl"])
        .assert()
        .code(1)
        .stderr(contains(
            "telemetry: error: nothing/*.jsonl: the pattern matches no file",
        ));
    fs::write(
        dir.path().join("bad.json"),
        r#"{"quality_thresholds": {"min_success_rate": "high"}}"#,
    )
    .unwrap();
    telemetry(dir.path())
        .args([
            "dataset",
            "check",
            "--log-file",
            "recent.jsonl",
            "--config",
            "bad.json",
        ])
        .assert()
        .code(1)
        .stderr(contains(
            "bad.json: invalid type: a string, expected f64 at line 1",
        ));
    telemetry(dir.path())
        .args(["dataset", "build"])
        .assert()
        .code(2)
        .stderr(contains("--log-file"));
}
