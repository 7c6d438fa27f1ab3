//! `monitoring_config.json`: the DSPy telemetry design's configuration,
//! accepted as it is, and the same keys in TOML, read with [`figment`]:
//! the defaults, then the file (`.json` or `.toml`), then environment
//! variables `{PREFIX}DATASET_{SECTION}__{KEY}` (`MYAPP_DATASET_TELEMETRY__SAMPLING_RATE_PCT=5`,
//! `MYAPP_DATASET_TELEMETRY__ROTATION__MAX_SIZE_MB=50`).
//!
//! Unknown keys and bad values are errors naming the key and where it was
//! set (the file and line, or the variable), all of them at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Json, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};
use telemetry_runtime::config::{ConfigError, ConfigIssue};
use telemetry_runtime::sampling::{SamplingError, Threshold};

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
    /// Percentage of failed calls (`success == false`) kept (default 100:
    /// every failure).
    pub failure_sampling_rate_pct: f64,
    /// Per-module sampling percentages, overriding `sampling_rate_pct`.
    pub modules: BTreeMap<String, f64>,
    /// Per signature, the only `input` and `output` keys logged; a
    /// signature not listed logs every key (redacted).
    pub allowed_keys: BTreeMap<String, AllowedKeys>,
    /// The app-wide salt of the keyed hash that turns a request id that is
    /// not a UUID or trace id into sampling randomness: the same in every
    /// process that must agree (default `telemetry-dataset`).
    pub sampling_salt: String,
}

/// The keys of one signature kept in the log.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllowedKeys {
    /// Top-level keys of `input` kept.
    pub input: Vec<String>,
    /// Top-level keys of `output` kept.
    pub output: Vec<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            sampling_rate_pct: 10.0,
            log_file_path: PathBuf::from("logs/dspy_production.jsonl"),
            rotation: Rotation::default(),
            failure_sampling_rate_pct: 100.0,
            modules: BTreeMap::new(),
            allowed_keys: BTreeMap::new(),
            sampling_salt: "telemetry-dataset".to_owned(),
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
    /// Rotate when the live file's first record is older than this many
    /// hours, whatever its size (default 24).
    pub max_file_age_hours: u64,
    /// Delete the oldest rotated files while all the log's files together
    /// exceed this many MB (default: no cap).
    pub max_total_mb: Option<u64>,
}

impl Default for Rotation {
    fn default() -> Self {
        Self {
            max_size_mb: 100,
            max_age_days: 90,
            compression: Compression::Gzip,
            max_file_age_hours: 24,
            max_total_mb: None,
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

impl MonitoringConfig {
    /// Loads `file` (`.json`: `monitoring_config.json` as it is; `.toml`:
    /// the same keys), over the defaults, then the environment variables of
    /// `env` whose names start with `{env_prefix}DATASET_`; checks every
    /// value.
    pub fn load(
        file: Option<&Path>,
        env_prefix: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Named {
            name: "default".to_owned(),
            data: Serialized::defaults(Self::default()).data(),
        });
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError {
                    issues: vec![ConfigIssue {
                        key: String::new(),
                        source: path.display().to_string(),
                        problem: "not a readable file".to_owned(),
                    }],
                });
            }
            let toml = path.extension().is_some_and(|ext| ext == "toml");
            figment = if toml {
                figment.merge(Toml::file_exact(path))
            } else {
                figment.merge(Json::file_exact(path))
            };
        }
        let prefix = format!("{env_prefix}DATASET_");
        for (name, value) in env {
            if let Some(key) = name.strip_prefix(&prefix) {
                figment = figment.merge(env_provider(&name, key, &value));
            }
        }
        let config: Self = figment
            .extract()
            .map_err(|error| from_figment(&error, file))?;
        let issues: Vec<ConfigIssue> = config
            .problems()
            .into_iter()
            .map(|(key, problem)| ConfigIssue {
                source: source_of(&figment, &key, file),
                key,
                problem,
            })
            .collect();
        if issues.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { issues })
        }
    }

    /// Every value out of its range, as (key, what was expected).
    fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut percent = |key: String, value: f64| {
            if let Err(error) = Threshold::from_percent(value) {
                problems.push((key, percent_problem(&error)));
            }
        };
        let telemetry = &self.telemetry;
        percent(
            "telemetry.sampling_rate_pct".to_owned(),
            telemetry.sampling_rate_pct,
        );
        percent(
            "telemetry.failure_sampling_rate_pct".to_owned(),
            telemetry.failure_sampling_rate_pct,
        );
        for (module, &value) in &telemetry.modules {
            percent(format!("telemetry.modules.{module}"), value);
        }
        let mut check = |key: &str, ok: bool, expected: &str| {
            if !ok {
                problems.push((key.to_owned(), expected.to_owned()));
            }
        };
        let rotation = &telemetry.rotation;
        check(
            "telemetry.log_file_path",
            telemetry.log_file_path.file_name().is_some(),
            "a path to a file",
        );
        check(
            "telemetry.rotation.max_size_mb",
            rotation.max_size_mb >= 1,
            "at least 1",
        );
        check(
            "telemetry.rotation.max_age_days",
            rotation.max_age_days >= 1,
            "at least 1",
        );
        check(
            "telemetry.rotation.max_file_age_hours",
            rotation.max_file_age_hours >= 1,
            "at least 1",
        );
        check(
            "telemetry.rotation.max_total_mb",
            rotation
                .max_total_mb
                .is_none_or(|total| total >= rotation.max_size_mb),
            "at least max_size_mb",
        );
        let thresholds = &self.quality_thresholds;
        check(
            "quality_thresholds.min_success_rate",
            (0.0..=1.0).contains(&thresholds.min_success_rate),
            "a rate between 0 and 1",
        );
        check(
            "quality_thresholds.max_latency_p99_ms",
            thresholds.max_latency_p99_ms.is_finite() && thresholds.max_latency_p99_ms > 0.0,
            "a positive number of milliseconds",
        );
        check(
            "quality_thresholds.max_cost_p99_usd",
            thresholds.max_cost_p99_usd.is_finite() && thresholds.max_cost_p99_usd >= 0.0,
            "a cost in USD, 0 or more",
        );
        problems
    }
}

fn percent_problem(error: &SamplingError) -> String {
    format!("a percentage in (0, 100]: {error}")
}

/// A provider with a name of our choosing, so an error says `default`
/// rather than a type name.
struct Named {
    name: String,
    data: Result<Map<Profile, Dict>, figment::Error>,
}

impl Provider for Named {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.data.clone()
    }
}

/// `MYAPP_DATASET_TELEMETRY__ROTATION__MAX_SIZE_MB=50` as the nested key
/// `telemetry.rotation.max_size_mb`.
fn env_provider(name: &str, key: &str, value: &str) -> Named {
    let value: Value = value
        .parse()
        .unwrap_or_else(|never: std::convert::Infallible| match never {});
    let mut path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
    let leaf = path.pop().unwrap_or_default();
    let mut dict = Dict::new();
    dict.insert(leaf, value);
    while let Some(parent) = path.pop() {
        let mut outer = Dict::new();
        outer.insert(parent, Value::from(dict));
        dict = outer;
    }
    Named {
        name: format!("environment variable {name}"),
        data: Ok(Profile::Default.collect(dict)),
    }
}

/// Every issue of a figment error, each named by its key and source.
fn from_figment(error: &figment::Error, file: Option<&Path>) -> ConfigError {
    let issues = error
        .clone()
        .into_iter()
        .map(|error| {
            let key = error.path.join(".");
            let source = error.metadata.as_ref().map_or_else(
                || file.map_or_else(|| "configuration".to_owned(), |f| f.display().to_string()),
                |metadata| describe(metadata, &key, file),
            );
            let problem = match &error.kind {
                figment::error::Kind::UnknownField(_, expected) => {
                    format!("unknown key, expected one of {}", expected.join(", "))
                }
                kind => kind.to_string(),
            };
            ConfigIssue {
                key,
                source,
                problem,
            }
        })
        .collect();
    ConfigError { issues }
}

fn source_of(figment: &Figment, key: &str, file: Option<&Path>) -> String {
    figment.find_metadata(key).map_or_else(
        || "default".to_owned(),
        |metadata| describe(metadata, key, file),
    )
}

/// The variable, or the file and the line where the key is set.
fn describe(metadata: &Metadata, key: &str, file: Option<&Path>) -> String {
    let from_file = metadata.name.starts_with("TOML") || metadata.name.starts_with("JSON");
    match file {
        Some(path) if from_file => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let toml = path.extension().is_some_and(|ext| ext == "toml");
            let line = if toml {
                toml_line(&text, key)
            } else {
                json_line(&text, key)
            };
            match line {
                Some(line) => format!("{}, line {line}", path.display()),
                None => path.display().to_string(),
            }
        }
        _ => metadata.name.to_string(),
    }
}

/// The line (from 1) of a pretty-printed JSON file where the dotted `key`
/// is set: object members one per line, as `monitoring_config.json` is
/// written. `None` for other layouts.
fn json_line(text: &str, key: &str) -> Option<usize> {
    let mut path: Vec<String> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some((name, value)) = line
            .strip_prefix('"')
            .and_then(|rest| rest.split_once("\":"))
        {
            {
                let mut full = path.clone();
                full.push(name.to_owned());
                if full.join(".") == key {
                    return Some(index + 1);
                }
                if value.trim_start().starts_with('{') && !value.contains('}') {
                    path.push(name.to_owned());
                }
                continue;
            }
        }
        if line.starts_with('}') {
            path.pop();
        }
    }
    None
}

/// The line (from 1) of a TOML file where the dotted `key` is set, under
/// its `[table]` header or as a dotted key.
fn toml_line(text: &str, key: &str) -> Option<usize> {
    let mut table = String::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            header.trim_end_matches(']').trim().clone_into(&mut table);
            continue;
        }
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        let name: Vec<&str> = name
            .split('.')
            .map(|part| part.trim().trim_matches('"'))
            .collect();
        let full = if table.is_empty() {
            name.join(".")
        } else {
            format!("{table}.{}", name.join("."))
        };
        if full == key {
            return Some(index + 1);
        }
    }
    None
}
