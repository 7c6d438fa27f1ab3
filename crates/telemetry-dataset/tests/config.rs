//! `monitoring_config.json` as the DSPy telemetry design writes it, the same
//! keys in TOML, the environment, and errors that name the key and where
//! it was set.

use std::path::Path;

use telemetry_dataset::MonitoringConfig;
use telemetry_dataset::config::Compression;

/// The design's example file, as it is.
const REFERENCE: &str = r#"{
  "telemetry": {
    "enabled": true,
    "sampling_rate_pct": 10,
    "log_file_path": "logs/dspy_production.jsonl",
    "rotation": {
      "max_size_mb": 100,
      "max_age_days": 90,
      "compression": "gzip"
    }
  },
  "quality_thresholds": {
    "min_success_rate": 0.95,
    "max_latency_p99_ms": 3000,
    "max_cost_p99_usd": 0.05
  },
  "optimization": {
    "schedule": "monthly",
    "telemetry_target": 50,
    "git_target": 100,
    "synthetic_target": 20
  }
}
"#;

fn load(path: Option<&Path>, env: &[(&str, &str)]) -> Result<MonitoringConfig, String> {
    let env = env
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()));
    MonitoringConfig::load(path, "MYAPP_", env).map_err(|error| error.to_string())
}

#[test]
fn the_reference_file_loads_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monitoring_config.json");
    std::fs::write(&path, REFERENCE).unwrap();
    let config = load(Some(&path), &[]).unwrap();
    assert!(config.telemetry.enabled);
    assert_eq!(config.telemetry.sampling_rate_pct, 10.0);
    assert_eq!(
        config.telemetry.log_file_path,
        Path::new("logs/dspy_production.jsonl")
    );
    assert_eq!(config.telemetry.rotation.max_size_mb, 100);
    assert_eq!(config.telemetry.rotation.compression, Compression::Gzip);
    assert_eq!(config.quality_thresholds.max_latency_p99_ms, 3000.0);
    assert_eq!(config.optimization.telemetry_target, 50);
}

#[test]
fn the_defaults_are_the_reference_designs() {
    let config = load(None, &[]).unwrap();
    assert!(!config.telemetry.enabled, "disabled by default");
    assert_eq!(config.telemetry.sampling_rate_pct, 10.0);
    assert_eq!(
        config.telemetry.log_file_path,
        Path::new("logs/dspy_production.jsonl")
    );
    assert_eq!(config.telemetry.rotation.max_size_mb, 100);
    assert_eq!(config.telemetry.rotation.max_age_days, 90);
    assert_eq!(config.telemetry.rotation.compression, Compression::Gzip);
    assert_eq!(config.quality_thresholds.min_success_rate, 0.95);
    assert_eq!(config.quality_thresholds.max_latency_p99_ms, 3000.0);
    assert_eq!(config.quality_thresholds.max_cost_p99_usd, 0.05);
    assert_eq!(config.optimization.telemetry_target, 0);
    assert_eq!(config.optimization.schedule, "monthly");
}

#[test]
fn the_same_keys_in_toml_give_the_same_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("monitoring_config.json");
    std::fs::write(&json, REFERENCE).unwrap();
    let from_json = load(Some(&json), &[]).unwrap();
    let toml = dir.path().join("monitoring.toml");
    std::fs::write(
        &toml,
        r#"
[telemetry]
enabled = true
sampling_rate_pct = 10
log_file_path = "logs/dspy_production.jsonl"

[telemetry.rotation]
max_size_mb = 100
max_age_days = 90
compression = "gzip"

[quality_thresholds]
min_success_rate = 0.95
max_latency_p99_ms = 3000
max_cost_p99_usd = 0.05

[optimization]
schedule = "monthly"
telemetry_target = 50
git_target = 100
synthetic_target = 20
"#,
    )
    .unwrap();
    assert_eq!(load(Some(&toml), &[]).unwrap(), from_json);
}

#[test]
fn environment_variables_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monitoring_config.json");
    std::fs::write(&path, REFERENCE).unwrap();
    let config = load(
        Some(&path),
        &[
            ("MYAPP_DATASET_TELEMETRY__SAMPLING_RATE_PCT", "2.5"),
            ("MYAPP_DATASET_TELEMETRY__ROTATION__MAX_SIZE_MB", "50"),
            ("MYAPP_DATASET_QUALITY_THRESHOLDS__MIN_SUCCESS_RATE", "0.9"),
            ("OTHERAPP_DATASET_TELEMETRY__SAMPLING_RATE_PCT", "99"),
        ],
    )
    .unwrap();
    assert_eq!(config.telemetry.sampling_rate_pct, 2.5);
    assert_eq!(config.telemetry.rotation.max_size_mb, 50);
    assert_eq!(config.quality_thresholds.min_success_rate, 0.9);
}

#[test]
fn unknown_keys_and_bad_values_name_the_key_and_where_it_was_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monitoring_config.json");
    let typo = REFERENCE.replace("\"max_age_days\"", "\"max_age_dayz\"");
    std::fs::write(&path, &typo).unwrap();
    let error = load(Some(&path), &[]).unwrap_err();
    assert!(error.contains("telemetry.rotation.max_age_dayz"), "{error}");
    assert!(error.contains("unknown key"), "{error}");
    assert!(
        error.contains(&format!("{}, line 8", path.display())),
        "{error}"
    );

    let bad = REFERENCE.replace("\"sampling_rate_pct\": 10", "\"sampling_rate_pct\": 250");
    std::fs::write(&path, &bad).unwrap();
    let error = load(Some(&path), &[]).unwrap_err();
    assert!(error.contains("`telemetry.sampling_rate_pct`"), "{error}");
    assert!(
        error.contains(&format!("{}, line 4", path.display())),
        "{error}"
    );
    assert!(error.contains("250"), "{error}");

    let wrong_type = REFERENCE.replace("\"gzip\"", "\"zstd\"");
    std::fs::write(&path, &wrong_type).unwrap();
    let error = load(Some(&path), &[]).unwrap_err();
    assert!(error.contains("telemetry.rotation.compression"), "{error}");
    assert!(error.contains("zstd"), "{error}");

    let error = load(
        None,
        &[("MYAPP_DATASET_QUALITY_THRESHOLDS__MIN_SUCCESS_RATE", "1.5")],
    )
    .unwrap_err();
    assert!(
        error.contains("quality_thresholds.min_success_rate"),
        "{error}"
    );
    assert!(
        error.contains("environment variable MYAPP_DATASET_QUALITY_THRESHOLDS__MIN_SUCCESS_RATE"),
        "{error}"
    );

    let error = load(Some(&dir.path().join("missing.json")), &[]).unwrap_err();
    assert!(error.contains("missing.json"), "{error}");
}
