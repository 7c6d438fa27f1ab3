//! `telemetry tokens …` run as a user would: the reference workflow end to
//! end on a simulated run, and every kind of bad input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

const ENABLED: &str = "TELEMETRY_TELEMETRY_DB_ENABLED";

fn telemetry(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("telemetry").unwrap();
    command
        .current_dir(dir)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("DO_NOT_TRACK")
        .env_remove(ENABLED)
        .env_remove("TELEMETRY_TELEMETRY_DATABASE_URL")
        .env("DATABASE_URL", "sqlite:///tokens.db");
    command
}

/// The files a calibration wrote in `dir`: (report, patch).
fn calibration_files(dir: &Path) -> (PathBuf, PathBuf) {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("token_estimator_calibration_")
        })
        .collect();
    found.sort();
    assert_eq!(found.len(), 2, "{found:?}");
    let stem = found[0].file_stem().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        stem.len(),
        "token_estimator_calibration_20260123_123456".len()
    );
    (found[1].clone(), found[0].clone())
}

/// The recorded estimates' median error in `calibrate`'s backtest line.
fn backtest_error_before(stdout: &str) -> f64 {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("backtest on "))
        .and_then(|rest| rest.split("median error ").nth(1))
        .and_then(|rest| rest.split('%').next())
        .unwrap_or_else(|| panic!("no backtest line in {stdout}"))
        .parse()
        .unwrap()
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "the workflow, one step after another"
)]
fn the_reference_workflow_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // Without the switch nothing is recorded, and check says why.
    telemetry(dir)
        .args(["tokens", "simulate"])
        .assert()
        .success()
        .stdout(contains(
            "none recorded: TELEMETRY_TELEMETRY_DB_ENABLED is not set",
        ));
    telemetry(dir)
        .args(["tokens", "check"])
        .assert()
        .code(1)
        .stderr(contains("tokens.db (from DATABASE_URL): no such database"))
        .stderr(contains("set TELEMETRY_TELEMETRY_DB_ENABLED=1"));

    telemetry(dir)
        .env(ENABLED, "1")
        .args(["tokens", "simulate", "--calls", "600"])
        .assert()
        .success()
        .stdout(contains("recorded 600 into tokens.db (from DATABASE_URL)"));
    telemetry(dir)
        .args(["tokens", "check"])
        .assert()
        .success()
        .stdout(contains("LLM usage events: 600"))
        .stdout(contains(
            "recording here:  off (TELEMETRY_TELEMETRY_DB_ENABLED is not set)",
        ))
        .stdout(contains("warning").not());

    let calibrated = telemetry(dir)
        .args([
            "tokens",
            "calibrate",
            "--min-samples",
            "5",
            "--confidence-threshold",
            "0.7",
        ])
        .output()
        .unwrap();
    assert!(calibrated.status.success());
    let stdout = String::from_utf8(calibrated.stdout).unwrap();
    assert!(stdout.contains("read 600 LLM usage events"), "{stdout}");
    let (report, patch) = calibration_files(dir);
    let markdown = std::fs::read_to_string(&report).unwrap();
    assert!(markdown.starts_with("# Token estimator calibration"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&patch).unwrap()).unwrap();
    let proposed = json["coefficients"].as_object().unwrap();
    assert!(!proposed.is_empty(), "{markdown}");
    let before = backtest_error_before(&stdout);

    // apply shows the diff and writes nothing without --yes.
    let coefficients = dir.join("coefficients.json");
    telemetry(dir)
        .args(["tokens", "apply"])
        .arg(&patch)
        .arg("--coefficients")
        .arg(&coefficients)
        .assert()
        .success()
        .stdout(contains("(does not exist yet)"))
        .stdout(contains("implementation/low: 2000 (default) -> "))
        .stdout(contains(
            "not written: review the change, then run again with --yes",
        ));
    assert!(!coefficients.exists());
    telemetry(dir)
        .args(["tokens", "apply"])
        .arg(&patch)
        .arg("--coefficients")
        .arg(&coefficients)
        .arg("--yes")
        .assert()
        .success()
        .stdout(contains(format!("{} coefficients changed", proposed.len())));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&coefficients).unwrap()).unwrap();
    assert_eq!(&written["coefficients"], &json["coefficients"]);

    // A new run with the applied coefficients estimates better.
    std::fs::remove_file(dir.join("tokens.db")).unwrap();
    std::fs::remove_file(&report).unwrap();
    std::fs::remove_file(&patch).unwrap();
    telemetry(dir)
        .env(ENABLED, "1")
        .args([
            "tokens",
            "simulate",
            "--calls",
            "600",
            "--seed",
            "7",
            "--coefficients",
        ])
        .arg(&coefficients)
        .assert()
        .success();
    let again = telemetry(dir)
        .args(["tokens", "calibrate", "--coefficients"])
        .arg(&coefficients)
        .output()
        .unwrap();
    let stdout = String::from_utf8(again.stdout).unwrap();
    let after = backtest_error_before(&stdout);
    assert!(
        after < before,
        "recorded estimates improved: {before}% then {after}%"
    );
}

#[test]
fn check_warns_when_nothing_was_ever_recorded() {
    let dir = tempfile::tempdir().unwrap();
    // Without the switch nothing is recorded, and check says why.
    telemetry(dir.path())
        .args(["tokens", "simulate"])
        .assert()
        .success()
        .stdout(contains(
            "none recorded: TELEMETRY_TELEMETRY_DB_ENABLED is not set",
        ));
    telemetry(dir.path())
        .args(["tokens", "check"])
        .assert()
        .code(1)
        .stderr(contains("tokens.db (from DATABASE_URL): no such database"))
        .stderr(contains("set TELEMETRY_TELEMETRY_DB_ENABLED=1"));
    // A database that exists but holds no events (created by another tool).
    telemetry_tokens::Store::open(
        &dir.path().join("tokens.db"),
        telemetry_tokens::Create::IfMissing,
    )
    .unwrap();
    telemetry(dir.path())
        .args(["tokens", "check"])
        .assert()
        .success()
        .stdout(contains("LLM usage events: 0"))
        .stdout(contains(
            "warning: LLM usage events: 0. Nothing was ever recorded here: set TELEMETRY_TELEMETRY_DB_ENABLED=1",
        ));
}

#[test]
fn the_apps_prefix_names_the_variables() {
    let dir = tempfile::tempdir().unwrap();
    telemetry(dir.path())
        .env("MY_APP_TELEMETRY_DB_ENABLED", "1")
        .env("MY_APP_TELEMETRY_DATABASE_URL", "sqlite:///mine.db")
        .args(["--app", "my-app", "tokens", "simulate", "--calls", "20"])
        .assert()
        .success()
        .stdout(contains(
            "recorded 20 into mine.db (from MY_APP_TELEMETRY_DATABASE_URL)",
        ));
}

#[test]
fn bad_input_says_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    telemetry(dir)
        .args(["tokens", "calibrate", "--confidence-threshold", "1.5"])
        .assert()
        .code(2)
        .stderr(contains("--confidence-threshold"))
        .stderr(contains("1.5 is not between 0 and 1"));
    telemetry(dir)
        .args(["tokens", "calibrate", "--min-samples", "0"])
        .assert()
        .code(2)
        .stderr(contains("--min-samples"));
    telemetry(dir)
        .args(["tokens", "calibrate", "--holdout", "95"])
        .assert()
        .code(2)
        .stderr(contains("--holdout"));
    telemetry(dir)
        .env("DATABASE_URL", "postgres://db.internal/app")
        .args(["tokens", "check"])
        .assert()
        .code(1)
        .stderr(contains(
            "DATABASE_URL: unsupported database scheme `postgres`",
        ));
    telemetry(dir)
        .env_remove("DATABASE_URL")
        .args(["tokens", "check"])
        .assert()
        .code(1)
        .stderr(contains("no token-usage database: pass --database PATH"));
    telemetry(dir)
        .args([
            "tokens",
            "check",
            "--database",
            "sqlite:///elsewhere/none.db",
        ])
        .assert()
        .code(1)
        .stderr(contains(
            "elsewhere/none.db (from --database): no such database",
        ));

    std::fs::write(dir.join("patch.json"), "[1, 2,\n oops]").unwrap();
    telemetry(dir)
        .args(["tokens", "apply", "patch.json", "--coefficients", "c.json"])
        .assert()
        .code(1)
        .stderr(contains("patch.json: not a calibration patch"))
        .stderr(contains("line 1"));
    telemetry(dir)
        .args(["tokens", "apply", "patch.json"])
        .assert()
        .code(2)
        .stderr(contains("--coefficients"));
    std::fs::write(dir.join("c.json"), "{\"coefficients\": {\"docs\": 1}}").unwrap();
    telemetry(dir)
        .env(ENABLED, "1")
        .args(["tokens", "simulate", "--coefficients", "c.json"])
        .assert()
        .code(1)
        .stderr(contains(
            "c.json: coefficient \"docs\": a key is `category/complexity`",
        ));
    telemetry(dir)
        .env(ENABLED, "1")
        .args(["tokens", "simulate", "--run-id", "/home/ana/x"])
        .assert()
        .code(2)
        .stderr(contains("field `run_id` looks like an absolute path"));
}
