//! Configuration: defaults, then a TOML file, then `TELEMETRY_COLLECTOR_*`
//! environment variables, then command-line flags, read with [`figment`].
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `listen` | `127.0.0.1:8000` | address to listen on; port 0 picks a free one |
//! | `data_dir` | the platform data directory (`~/.local/share/telemetry-collector`) | the SQLite database and local blobs |
//! | `database_url` | none: SQLite under `data_dir` | `postgres://user@host:port/db` |
//! | `database_pool_size` | 16 | PostgreSQL connections per instance |
//! | `blob_url` | none: `data_dir/blobs` | `s3://bucket/prefix` (with the `s3` feature) |
//! | `ingest_keys` | none: ingest only from loopback | keys for the ingest endpoints |
//! | `read_keys` | none: reads only from loopback | keys for `GET /api/v1/models` |
//! | `rate_limit_per_second` | 100 | requests a second per key (GCRA) |
//! | `rate_limit_burst` | 200 | requests at once per key |
//! | `rate_limit_max_keys` | 10000 | keys the limiter remembers |
//! | `trusted_proxies` | none | proxies whose `X-Forwarded-For` is believed |
//! | `max_in_flight` | 512 | requests served at once; more are answered 503 |
//! | `retention_days` | 90 | records older than this are deleted |
//! | `retention_interval_seconds` | 3600 | how often retention runs |
//! | `event_types` | none | operator event types: `[event_types.NAME]` with `field = "type"` |
//! | `log_origin` | `telemetry-collector/traces` | the trace log's name in its signed checkpoints |
//! | `log_signing_key` | none: one derived from the database's key | the log's Ed25519 key as a C2SP private key (`PRIVATE+KEY+name+id+…`) |
//! | `upload_token_ttl_seconds` | 3600 | how long a trace's upload token is good for |
//! | `qa` | see [`QaConfig`](crate::qa::QaConfig) | the QA pipeline: workers, attempts, runner, judge |
//!
//! The file is the one given with `--config`, else the one named by
//! `TELEMETRY_COLLECTOR_CONFIG`; both must exist. A key is set in the
//! environment as `TELEMETRY_COLLECTOR_` and the key in capitals
//! (`TELEMETRY_COLLECTOR_RETENTION_DAYS=30`), a section's key with `__`
//! (`TELEMETRY_COLLECTOR_QA__WORKERS=4`); lists are written
//! comma-separated (`TELEMETRY_COLLECTOR_INGEST_KEYS=k1,k2`).
//!
//! A key may be given as itself or as `sha256:` and the hex SHA-256 of it,
//! so that a configuration file need not hold the secret. An unknown key
//! or a wrong value is an error that names the key and where it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::value::Dict;
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Deserializer, Serialize};

use crate::schema::{FieldType, Schemas};

/// The environment prefix.
pub const ENV_PREFIX: &str = "TELEMETRY_COLLECTOR_";

/// The variable that names the configuration file.
pub const CONFIG_ENV: &str = "TELEMETRY_COLLECTOR_CONFIG";

/// The variable that sets what is logged (`info`, `debug`, a `tracing`
/// filter): read by the binary, not a configuration key.
pub const LOG_ENV: &str = "TELEMETRY_COLLECTOR_LOG";

/// The collector's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The SQLite database and local blobs.
    pub data_dir: PathBuf,
    /// PostgreSQL, instead of SQLite.
    pub database_url: Option<String>,
    /// PostgreSQL connections per instance.
    pub database_pool_size: usize,
    /// S3-compatible blob storage, instead of `data_dir/blobs`.
    pub blob_url: Option<String>,
    /// Keys for the ingest endpoints.
    #[serde(deserialize_with = "list")]
    pub ingest_keys: Vec<String>,
    /// Keys for the read endpoints.
    #[serde(deserialize_with = "list")]
    pub read_keys: Vec<String>,
    /// Requests a second per key.
    pub rate_limit_per_second: u32,
    /// Requests at once per key.
    pub rate_limit_burst: u32,
    /// Keys the rate limiter remembers.
    pub rate_limit_max_keys: usize,
    /// Proxies whose `X-Forwarded-For` is believed.
    #[serde(deserialize_with = "list")]
    pub trusted_proxies: Vec<IpAddr>,
    /// Requests served at once.
    pub max_in_flight: usize,
    /// Records older than this many days are deleted.
    pub retention_days: u32,
    /// How often retention runs, in seconds.
    pub retention_interval_seconds: u64,
    /// Operator event types: name → field → type (`integer`, `string[]`,
    /// `number?`).
    pub event_types: BTreeMap<String, BTreeMap<String, String>>,
    /// The trace log's name in its checkpoints (C2SP `origin`).
    pub log_origin: String,
    /// The trace log's signing key, a C2SP private key string; `None`
    /// derives one from the database's key, so that every instance on one
    /// database signs alike.
    pub log_signing_key: Option<String>,
    /// How long a trace's upload token is good for, in seconds.
    pub upload_token_ttl_seconds: u64,
    /// The QA pipeline (`[qa]`).
    #[serde(default)]
    pub qa: crate::qa::QaConfig,
}

/// A list from TOML or JSON, or a comma-separated string (an environment
/// variable).
fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr + Deserialize<'de>,
    T::Err: fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either<T> {
        List(Vec<T>),
        Text(String),
    }
    match Either::<T>::deserialize(deserializer)? {
        Either::List(items) => Ok(items),
        Either::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| item.parse().map_err(serde::de::Error::custom))
            .collect(),
    }
}

/// The platform's data directory for the collector.
#[must_use]
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "telemetry-collector").map_or_else(
        || PathBuf::from("telemetry-collector-data"),
        |dirs| dirs.data_dir().to_path_buf(),
    )
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            data_dir: default_data_dir(),
            database_url: None,
            database_pool_size: 16,
            blob_url: None,
            ingest_keys: Vec::new(),
            read_keys: Vec::new(),
            rate_limit_per_second: 100,
            rate_limit_burst: 200,
            rate_limit_max_keys: 10_000,
            trusted_proxies: Vec::new(),
            max_in_flight: 512,
            retention_days: 90,
            retention_interval_seconds: 3600,
            event_types: BTreeMap::new(),
            log_origin: "telemetry-collector/traces".to_owned(),
            log_signing_key: None,
            upload_token_ttl_seconds: 3600,
            qa: crate::qa::QaConfig::default(),
        }
    }
}

/// Values given on the command line, which win over every other source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// The configuration could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid collector configuration: {}", .issues.join("; "))]
pub struct ConfigError {
    /// Each wrong value: the key, where it came from, what was wrong.
    pub issues: Vec<String>,
}

impl ConfigError {
    fn one(issue: String) -> Self {
        Self {
            issues: vec![issue],
        }
    }
}

/// One environment variable as a figment provider, so that an error names
/// the variable.
struct EnvVar {
    name: String,
    key: String,
    value: String,
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> Result<figment::value::Map<Profile, Dict>, figment::Error> {
        let value: figment::value::Value = self
            .value
            .parse()
            .unwrap_or_else(|never: std::convert::Infallible| match never {});
        // `QA__WORKERS` is `qa.workers`.
        let mut parts = self.key.rsplit("__");
        let mut value = value;
        let mut key = parts.next().unwrap_or_default().to_owned();
        for outer in parts {
            let mut inner = Dict::new();
            inner.insert(std::mem::replace(&mut key, outer.to_owned()), value);
            value = inner.into();
        }
        let mut dict = Dict::new();
        dict.insert(key, value);
        Ok(Profile::Default.collect(dict))
    }
}

fn from_figment(error: figment::Error) -> ConfigError {
    let issues = error
        .into_iter()
        .map(|error| {
            let key = error.path.join(".");
            let source = error.metadata.as_ref().map_or_else(
                || "configuration".to_owned(),
                |metadata| match &metadata.source {
                    Some(figment::Source::File(path)) => path.display().to_string(),
                    _ => metadata.name.to_string(),
                },
            );
            let problem = match &error.kind {
                figment::error::Kind::UnknownField(_, expected) => {
                    format!("unknown key, expected one of: {}", expected.join(", "))
                }
                kind => kind.to_string(),
            };
            if key.is_empty() {
                format!("{source}: {problem}")
            } else {
                format!("`{key}` ({source}): {problem}")
            }
        })
        .collect();
    ConfigError { issues }
}

impl Config {
    /// Reads defaults, `file` (or the file in `TELEMETRY_COLLECTOR_CONFIG`),
    /// the environment variables `vars` (`std::env::vars()`), and
    /// `overrides`.
    pub fn load(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        let file = file.map(Path::to_path_buf).or_else(|| {
            vars.iter()
                .find(|(name, _)| name == CONFIG_ENV)
                .map(|(_, value)| PathBuf::from(value))
        });
        if let Some(path) = &file {
            if !path.is_file() {
                return Err(ConfigError::one(format!(
                    "{}: no such configuration file",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        for (name, value) in vars {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name == CONFIG_ENV || name == LOG_ENV {
                continue;
            }
            figment = figment.merge(EnvVar {
                key: key.to_ascii_lowercase(),
                name,
                value,
            });
        }
        figment = figment.merge(Serialized::defaults(overrides));
        let config: Self = figment.extract().map_err(from_figment)?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let mut issues = Vec::new();
        if self.rate_limit_per_second == 0 {
            issues.push("`rate_limit_per_second`: must be at least 1".to_owned());
        }
        if self.rate_limit_burst == 0 {
            issues.push("`rate_limit_burst`: must be at least 1".to_owned());
        }
        if self.max_in_flight == 0 {
            issues.push("`max_in_flight`: must be at least 1".to_owned());
        }
        if !(1..=crate::policy::MAX_RETENTION_DAYS).contains(&self.retention_days) {
            issues.push(format!(
                "`retention_days`: must be from 1 to {}",
                crate::policy::MAX_RETENTION_DAYS
            ));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            issues.push(
                "`database_url`: must start with postgres:// (without it, SQLite under data_dir is used)"
                    .to_owned(),
            );
        }
        for (name, key) in self
            .ingest_keys
            .iter()
            .map(|key| ("ingest_keys", key))
            .chain(self.read_keys.iter().map(|key| ("read_keys", key)))
        {
            if let Err(problem) = crate::auth::KeyHash::parse(key) {
                issues.push(format!("`{name}`: {problem}"));
            }
        }
        if let Err(problem) = self.schemas() {
            issues.push(problem);
        }
        if self.log_origin.is_empty()
            || self
                .log_origin
                .chars()
                .any(|c| c.is_whitespace() || c == '+')
        {
            issues.push(
                "`log_origin`: must be a non-empty name without white space or `+`".to_owned(),
            );
        }
        if let Some(key) = &self.log_signing_key
            && let Err(problem) = telemetry_trace::LogSigner::parse(key)
        {
            issues.push(format!("`log_signing_key`: {problem}"));
        }
        if !(60..=86_400).contains(&self.upload_token_ttl_seconds) {
            issues.push("`upload_token_ttl_seconds`: must be from 60 to 86400".to_owned());
        }
        issues.extend(self.qa.issues());
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { issues })
        }
    }

    /// The registered event types.
    pub fn schemas(&self) -> Result<Schemas, String> {
        let mut schemas = Schemas::default();
        for (name, fields) in &self.event_types {
            let mut types = BTreeMap::new();
            for (field, text) in fields {
                let field_type: FieldType = text
                    .parse()
                    .map_err(|problem| format!("`event_types.{name}.{field}`: {problem}"))?;
                types.insert(field.clone(), field_type);
            }
            schemas
                .register(name, types)
                .map_err(|problem| format!("`event_types.{name}`: {problem}"))?;
        }
        Ok(schemas)
    }

    /// How often retention runs.
    #[must_use]
    pub fn retention_interval(&self) -> Duration {
        Duration::from_secs(self.retention_interval_seconds.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collector.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let vars = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()));
        Config::load(file.map(|_| path.as_path()), vars, &Overrides::default())
    }

    #[test]
    fn the_qa_section_comes_from_the_file_and_nested_variables() {
        let config = load(
            Some("[qa]\nworkers = 3\nrunner = \"docker\"\n[qa.env]\nPYTHONHASHSEED = \"0\"\n"),
            &[("TELEMETRY_COLLECTOR_QA__MAX_ATTEMPTS", "5")],
        )
        .unwrap();
        assert_eq!(config.qa.workers, 3);
        assert_eq!(config.qa.max_attempts, 5);
        assert_eq!(config.qa.runner, crate::qa::config::RunnerKind::Docker);
        assert_eq!(config.qa.env["PYTHONHASHSEED"], "0");
        assert_eq!(load(None, &[]).unwrap().qa, crate::qa::QaConfig::default());
    }

    #[test]
    fn a_wrong_qa_value_names_its_key() {
        let error = load(Some("[qa]\nrunner = \"podman\"\n"), &[]).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("`qa.runner`"), "{text}");
        assert!(text.contains("sandbox"), "{text}");
        let error = load(None, &[("TELEMETRY_COLLECTOR_QA__WORKERS", "many")]).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("`qa.workers` (environment variable TELEMETRY_COLLECTOR_QA__WORKERS)"),
            "{text}"
        );
        let error = load(Some("[qa]\nmax_attempts = 0\n"), &[]).unwrap_err();
        assert!(error.to_string().contains("`qa.max_attempts`"), "{error}");
    }
}
