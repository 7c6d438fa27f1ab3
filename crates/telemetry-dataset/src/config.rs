//! `monitoring_config.json`: the DSPy telemetry design's configuration,
//! accepted as it is, and the same keys in TOML.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// Sampling and the log.
    pub telemetry: TelemetryConfig,
    /// When `telemetry dataset check` alerts.
    pub quality_thresholds: QualityThresholds,
    /// Targets of the optimization cycle; read, kept, not acted on here.
    pub optimization: Optimization,
}

/// Sampling and the interaction log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Whether calls are sampled and logged at all (default off).
    pub enabled: bool,
    /// Percentage of calls kept, any value in (0, 100] (default 10).
    pub sampling_rate_pct: f64,
    /// The JSON Lines log (default `logs/dspy_production.jsonl`).
    pub log_file_path: PathBuf,
    /// When the log is rotated, compressed and deleted.
    pub rotation: Rotation,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            sampling_rate_pct: 10.0,
            log_file_path: PathBuf::from("logs/dspy_production.jsonl"),
            rotation: Rotation::default(),
        }
    }
}

/// Log rotation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rotation {
    /// Rotate when the live file exceeds this many MB (default 100).
    pub max_size_mb: u64,
    /// Delete rotated files older than this many days (default 90).
    pub max_age_days: u64,
    /// How rotated files are compressed (default gzip).
    pub compression: Compression,
}

impl Default for Rotation {
    fn default() -> Self {
        Self {
            max_size_mb: 100,
            max_age_days: 90,
            compression: Compression::Gzip,
        }
    }
}

/// Compression of rotated files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// `.gz`, in the background.
    Gzip,
    /// Rotated files are kept as they are.
    None,
}

/// Alert thresholds, per module and signature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityThresholds {
    /// Alert when the success rate is below this (default 0.95).
    pub min_success_rate: f64,
    /// Alert when the p99 latency is above this many ms (default 3000).
    pub max_latency_p99_ms: f64,
    /// Alert when the p99 cost is above this many USD (default 0.05).
    pub max_cost_p99_usd: f64,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self {
            min_success_rate: 0.95,
            max_latency_p99_ms: 3000.0,
            max_cost_p99_usd: 0.05,
        }
    }
}

/// The optimization cycle's targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Optimization {
    /// How often the cycle runs (default `monthly`).
    pub schedule: String,
    /// Telemetry examples wanted per signature (default 0: none until production).
    pub telemetry_target: u64,
    /// Examples mined from git wanted per signature (default 100).
    pub git_target: u64,
    /// Synthetic examples wanted per signature (default 20).
    pub synthetic_target: u64,
}

impl Default for Optimization {
    fn default() -> Self {
        Self {
            schedule: "monthly".to_owned(),
            telemetry_target: 0,
            git_target: 100,
            synthetic_target: 20,
        }
    }
}
