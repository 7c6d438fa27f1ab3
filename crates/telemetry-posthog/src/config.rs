//! Configuration: defaults, then an optional TOML file (`[telemetry]`
//! table), then the environment, read with [`figment`].
//!
//! | key | default | environment (app `myapp`) |
//! | --- | --- | --- |
//! | `enabled` | `true` | `MYAPP_TELEMETRY_ENABLED` (read by the consent rules) |
//! | `posthog_api_key` | none: events stay in the local queue | `MYAPP_TELEMETRY_POSTHOG_API_KEY` |
//! | `posthog_host` | `https://us.i.posthog.com` | `MYAPP_TELEMETRY_POSTHOG_HOST` |
//! | `batch_size` | 10 | `MYAPP_TELEMETRY_BATCH_SIZE` |
//! | `batch_interval_seconds` | 60 | `MYAPP_TELEMETRY_BATCH_INTERVAL_SECONDS` |
//! | `max_queue_bytes` | 8 MiB (the queue's own default) | `MYAPP_TELEMETRY_MAX_QUEUE_BYTES` |
//! | `max_retries` | 3 | `MYAPP_TELEMETRY_MAX_RETRIES` |
//! | `request_timeout_seconds` | 10 | `MYAPP_TELEMETRY_REQUEST_TIMEOUT_SECONDS` |
//! | `gzip` | `true` | `MYAPP_TELEMETRY_GZIP` |
//! | `strict_privacy` | `true` | `MYAPP_TELEMETRY_STRICT_PRIVACY` |
//! | `retry_initial_backoff_ms` | 500 | `MYAPP_TELEMETRY_RETRY_INITIAL_BACKOFF_MS` |
//! | `retry_max_backoff_seconds` | 300 | `MYAPP_TELEMETRY_RETRY_MAX_BACKOFF_SECONDS` |
//!
//! The file is the one named explicitly ([`ConfigFile::Explicit`], a
//! `--config` option: it must exist), else the one in
//! `MYAPP_TELEMETRY_CONFIG` (which must exist), else the application's usual
//! file ([`ConfigFile::IfPresent`]) if there is one. `enabled = false`
//! in the file turns telemetry off whatever the user chose; the environment
//! variable `MYAPP_TELEMETRY_ENABLED` follows the consent rules of
//! `telemetry-runtime` (`DO_NOT_TRACK` first, then that variable, parsed
//! strictly).
//!
//! A wrong value is an error that names the key, where it came from (file
//! and line, or environment variable) and what was expected. The API key is
//! never shown whole: `Debug` prints its last four characters.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::error::{Kind, OneOf};
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};
use telemetry_runtime::policy::{self, DeliveryConfig, RetryPolicy};
use telemetry_runtime::queue::QueueConfig;

/// PostHog's US cloud ingestion host.
pub const DEFAULT_HOST: &str = "https://us.i.posthog.com";

/// Every key, in the order of the table above.
pub const KEYS: [&str; 12] = [
    "enabled",
    "posthog_api_key",
    "posthog_host",
    "batch_size",
    "batch_interval_seconds",
    "max_queue_bytes",
    "max_retries",
    "request_timeout_seconds",
    "gzip",
    "strict_privacy",
    "retry_initial_backoff_ms",
    "retry_max_backoff_seconds",
];

/// The environment variable that sets `key` for the application whose
/// environment prefix is `env_prefix`: `MYAPP_TELEMETRY_BATCH_SIZE` for
/// `batch_size` and `MYAPP_`.
#[must_use]
pub fn env_var_name(env_prefix: &str, key: &str) -> String {
    format!("{env_prefix}TELEMETRY_{}", key.to_ascii_uppercase())
}

/// What to set so that there is a sink, in words: the variable, or the key
/// of the configuration file.
#[must_use]
pub fn api_key_hint(env_prefix: &str) -> String {
    format!(
        "set {} or `posthog_api_key` in the `[telemetry]` table of the configuration file",
        env_var_name(env_prefix, "posthog_api_key")
    )
}

/// Which configuration file to read, and how it ranks against the one that
/// `{PREFIX}TELEMETRY_CONFIG` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFile<'a> {
    /// The application's usual place: read if it exists. The file that
    /// `{PREFIX}TELEMETRY_CONFIG` names wins over it.
    IfPresent(&'a Path),
    /// Named by the user, as with a `--config` option: it must exist, and it
    /// wins over `{PREFIX}TELEMETRY_CONFIG`, as a command line wins over the
    /// environment.
    Explicit(&'a Path),
}

/// A PostHog project API key. Shown only by its last four characters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The whole key, for the request body.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: Vec<char> = self.0.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
        write!(f, "\"…{tail}\"")
    }
}

/// The PostHog transport's configuration; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct PostHogConfig {
    /// `false` turns telemetry off for the application.
    pub enabled: bool,
    /// The project API key (`phc_…`); without it nothing is sent.
    pub posthog_api_key: Option<ApiKey>,
    /// Where to send: PostHog cloud or a self-hosted instance, `http(s)`.
    pub posthog_host: String,
    /// Events per request.
    pub batch_size: usize,
    /// Queued events go out at least this often.
    pub batch_interval_seconds: u64,
    /// The local queue's bound in bytes; oldest events are dropped first.
    pub max_queue_bytes: u64,
    /// Retries of one batch in one run (at most `max_retries + 1` requests).
    pub max_retries: u32,
    /// Timeout of one request, connection included.
    pub request_timeout_seconds: u64,
    /// Compress request bodies.
    pub gzip: bool,
    /// Add `$process_person_profile: false` and `$geoip_disable: true` to
    /// every event, so PostHog creates no person profile and looks up no
    /// location.
    pub strict_privacy: bool,
    /// The first retry waits between this and twice this.
    pub retry_initial_backoff_ms: u64,
    /// No retry waits longer, except as `Retry-After` asks.
    pub retry_max_backoff_seconds: u64,
    /// Where the file part of the configuration came from, if anywhere.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

impl Default for PostHogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            posthog_api_key: None,
            posthog_host: DEFAULT_HOST.to_owned(),
            batch_size: policy::BATCH_SIZE,
            batch_interval_seconds: policy::BATCH_INTERVAL.as_secs(),
            max_queue_bytes: QueueConfig::DEFAULT_MAX_BYTES,
            max_retries: policy::MAX_RETRIES,
            request_timeout_seconds: 10,
            gzip: true,
            strict_privacy: true,
            retry_initial_backoff_ms: u64::try_from(policy::INITIAL_BACKOFF.as_millis())
                .unwrap_or(u64::MAX),
            retry_max_backoff_seconds: policy::MAX_BACKOFF.as_secs(),
            file: None,
        }
    }
}

/// One wrong value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The key (`batch_size`); empty when the file as a whole could not be
    /// read (a TOML syntax error).
    pub key: String,
    /// Where the value came from: `/etc/myapp.toml, line 3` or
    /// `environment variable MYAPP_TELEMETRY_BATCH_SIZE`.
    pub source: String,
    /// What was wrong and what was expected.
    pub problem: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.source, self.problem)
        } else {
            write!(f, "`{}` ({}): {}", self.key, self.source, self.problem)
        }
    }
}

/// The configuration could not be used; every wrong value is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The wrong values.
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid telemetry configuration")?;
        for (index, issue) in self.issues.iter().enumerate() {
            f.write_str(if index == 0 { ": " } else { "; " })?;
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    fn one(key: &str, source: String, problem: impl Into<String>) -> Self {
        Self {
            issues: vec![ConfigIssue {
                key: key.to_owned(),
                source,
                problem: problem.into(),
            }],
        }
    }
}

/// One environment variable as a figment provider, so that an error names
/// the variable.
struct EnvVar {
    name: String,
    key: &'static str,
    value: String,
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let value: Value = self
            .value
            .parse()
            .unwrap_or_else(|never: std::convert::Infallible| match never {});
        let mut dict = Dict::new();
        dict.insert(self.key.to_owned(), value);
        Ok(Profile::Default.collect(dict))
    }
}

impl PostHogConfig {
    /// Loads the configuration for the application whose environment prefix
    /// is `env_prefix` (`MYAPP_`): defaults, then `file` if it exists (or the
    /// file in `{PREFIX}TELEMETRY_CONFIG`), then the environment read through
    /// `env`. The same as [`load_from`](Self::load_from) with
    /// [`ConfigFile::IfPresent`].
    pub fn load(
        env_prefix: &str,
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::load_from(env_prefix, file.map(ConfigFile::IfPresent), env)
    }

    /// Loads the configuration for the application whose environment prefix
    /// is `env_prefix` (`MYAPP_`): defaults, then the file (see
    /// [`ConfigFile`] for which one), then the environment read through
    /// `env`.
    pub fn load_from(
        env_prefix: &str,
        file: Option<ConfigFile<'_>>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file = Self::choose_file(env_prefix, file, &env)?;
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(path) = &file {
            figment = figment.merge(Figment::from(Toml::file_exact(path)).focus("telemetry"));
        }
        for key in KEYS {
            // `enabled` in the environment is the consent variable, which
            // telemetry-runtime parses strictly.
            if key == "enabled" {
                continue;
            }
            let name = env_var_name(env_prefix, key);
            if let Some(value) = env(&name) {
                figment = figment.merge(EnvVar { name, key, value });
            }
        }
        let mut config: Self = figment
            .extract()
            .map_err(|error| from_figment(&error, file.as_deref()))?;
        config.file = file;
        // An empty key (`MYAPP_TELEMETRY_POSTHOG_API_KEY=`) means none.
        if config
            .posthog_api_key
            .as_ref()
            .is_some_and(|key| key.0.trim().is_empty())
        {
            config.posthog_api_key = None;
        }
        config.posthog_host = config.posthog_host.trim().trim_end_matches('/').to_owned();
        config.validate(&figment)?;
        Ok(config)
    }

    /// The file to read: an explicit one, else the one in
    /// `{PREFIX}TELEMETRY_CONFIG`, else the usual one if it exists. A file
    /// named explicitly or by the variable must exist.
    fn choose_file(
        env_prefix: &str,
        file: Option<ConfigFile<'_>>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<PathBuf>, ConfigError> {
        let missing = |source: String, path: &Path| {
            ConfigError::one(
                "config",
                source,
                format!("{} is not a readable file", path.display()),
            )
        };
        if let Some(ConfigFile::Explicit(path)) = file {
            return if path.is_file() {
                Ok(Some(path.to_path_buf()))
            } else {
                Err(missing("named explicitly".to_owned(), path))
            };
        }
        let config_var = format!("{env_prefix}TELEMETRY_CONFIG");
        if let Some(path) = env(&config_var).filter(|path| !path.trim().is_empty()) {
            let path = PathBuf::from(path);
            return if path.is_file() {
                Ok(Some(path))
            } else {
                Err(missing(format!("environment variable {config_var}"), &path))
            };
        }
        Ok(match file {
            Some(ConfigFile::IfPresent(path)) if path.is_file() => Some(path.to_path_buf()),
            _ => None,
        })
    }

    fn validate(&self, figment: &Figment) -> Result<(), ConfigError> {
        let mut issues = Vec::new();
        let mut check = |key: &str, ok: bool, expected: &str| {
            if !ok {
                issues.push(ConfigIssue {
                    key: key.to_owned(),
                    source: source_of(figment, key, self.file.as_deref()),
                    problem: expected.to_owned(),
                });
            }
        };
        check(
            "posthog_host",
            host_is_valid(&self.posthog_host),
            "expected an http:// or https:// URL with a host and no user name or password",
        );
        check(
            "posthog_api_key",
            self.posthog_api_key.as_ref().is_none_or(|key| {
                !key.0.trim().is_empty() && !key.0.chars().any(char::is_whitespace)
            }),
            "expected a non-empty API key without spaces",
        );
        check(
            "batch_size",
            (1..=1000).contains(&self.batch_size),
            "expected a number of events from 1 to 1000",
        );
        check(
            "batch_interval_seconds",
            self.batch_interval_seconds >= 1,
            "expected at least 1 second",
        );
        check(
            "max_queue_bytes",
            self.max_queue_bytes >= policy::MIN_QUEUE_BYTES,
            "expected at least 65536 bytes",
        );
        check(
            "max_retries",
            self.max_retries <= 100,
            "expected at most 100 retries",
        );
        check(
            "request_timeout_seconds",
            (1..=600).contains(&self.request_timeout_seconds),
            "expected 1 to 600 seconds",
        );
        check(
            "retry_max_backoff_seconds",
            self.retry_max_backoff_seconds <= 86_400,
            "expected at most 86400 seconds",
        );
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { issues })
        }
    }

    /// The request timeout.
    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds)
    }

    /// Batch size, interval and retries, for the delivery rules.
    #[must_use]
    pub fn delivery(&self) -> DeliveryConfig {
        DeliveryConfig::default()
            .with_batch_size(self.batch_size)
            .with_interval(Duration::from_secs(self.batch_interval_seconds))
            .with_retry(RetryPolicy::new(
                self.max_retries,
                Duration::from_millis(self.retry_initial_backoff_ms),
                Duration::from_secs(self.retry_max_backoff_seconds),
            ))
    }
}

fn host_is_valid(host: &str) -> bool {
    let Some(rest) = host
        .strip_prefix("https://")
        .or_else(|| host.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    !authority.is_empty()
        && !authority.contains('@')
        && !rest.contains(char::is_whitespace)
        && !rest.contains(['?', '#'])
}

/// Where the value of `key` came from, in words.
fn source_of(figment: &Figment, key: &str, file: Option<&Path>) -> String {
    figment.find_metadata(key).map_or_else(
        || "default".to_owned(),
        |metadata| describe(metadata, key, file),
    )
}

/// Where a value with `metadata` came from: the environment variable, the
/// file and line of `key`, or the provider's name.
fn describe(metadata: &Metadata, key: &str, file: Option<&Path>) -> String {
    if metadata.name.starts_with("TOML") {
        file_line(file, key)
    } else {
        metadata.name.to_string()
    }
}

/// `path, line N` for `key` in the `[telemetry]` table of the file.
fn file_line(file: Option<&Path>, key: &str) -> String {
    let Some(path) = file else {
        return "configuration file".to_owned();
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut in_table = false;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            in_table = line.trim_start_matches('[').trim_end_matches(']').trim() == "telemetry";
            continue;
        }
        let assigned = line
            .split_once('=')
            .is_some_and(|(name, _)| name.trim().trim_matches('"') == key);
        if in_table && assigned {
            return format!("{}, line {}", path.display(), index + 1);
        }
    }
    path.display().to_string()
}

fn from_figment(error: &figment::Error, file: Option<&Path>) -> ConfigError {
    let issues = error
        .clone()
        .into_iter()
        .map(|error| {
            let key = error.path.join(".");
            let mut source = error.metadata.as_ref().map_or_else(
                || "configuration".to_owned(),
                |metadata| describe(metadata, &key, file),
            );
            let problem = match &error.kind {
                // figment's own words wrap a list that is quoted already
                // ("expected `one of `a`, `b``").
                Kind::UnknownField(_, expected) => {
                    format!("unknown key, expected {}", OneOf(expected))
                }
                Kind::UnknownVariant(found, expected) => {
                    format!("unknown value `{found}`, expected {}", OneOf(expected))
                }
                // The file as a whole: a TOML syntax error, told on several
                // lines with a drawing of the spot.
                Kind::Message(message) if key.is_empty() => {
                    let (location, message) = syntax_error(message);
                    if let Some(location) = location {
                        source = format!("{source}, {location}");
                    }
                    message
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

/// A parser's error in one line: where (`line 2, column 14`), if it says,
/// and what, without the excerpt of the file drawn under it.
///
/// The TOML parser writes `TOML parse error at line 2, column 14`, then the
/// excerpt (lines that start with a gutter, `  |` or `2 |`), then the
/// message, itself on one or more lines.
fn syntax_error(message: &str) -> (Option<String>, String) {
    let mut lines = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty());
    let location = message
        .lines()
        .next()
        .and_then(|first| first.trim().strip_prefix("TOML parse error at "))
        .map(str::to_owned);
    if location.is_some() {
        lines.next();
    }
    let is_excerpt = |line: &&str| {
        line.trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start()
            .starts_with('|')
    };
    let what: Vec<&str> = lines.filter(|line| !is_excerpt(line)).collect();
    let what = what.join(", ");
    match location {
        Some(location) => (Some(location), format!("invalid TOML: {what}")),
        None => (None, what),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn defaults_apply_without_file_or_environment() {
        let config = PostHogConfig::load("MYAPP_", None, env(&[])).unwrap();
        assert_eq!(config, PostHogConfig::default());
        assert_eq!(config.posthog_host, "https://us.i.posthog.com");
        assert_eq!(config.delivery().retry.max_retries, 3);
    }

    #[test]
    fn the_environment_overrides_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("myapp.toml");
        std::fs::write(
            &path,
            "[other]\nbatch_size = 1\n\n[telemetry]\nbatch_size = 50\ngzip = false\nposthog_host = \"http://127.0.0.1:8000/\"\n",
        )
        .unwrap();
        let config = PostHogConfig::load(
            "MYAPP_",
            Some(&path),
            env(&[("MYAPP_TELEMETRY_BATCH_SIZE", "25")]),
        )
        .unwrap();
        assert_eq!(config.batch_size, 25);
        assert!(!config.gzip);
        assert_eq!(config.posthog_host, "http://127.0.0.1:8000");
        assert_eq!(config.file.as_deref(), Some(path.as_path()));
    }

    #[test]
    fn a_wrong_type_in_the_file_names_the_key_the_file_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("myapp.toml");
        std::fs::write(&path, "[telemetry]\ngzip = true\nbatch_size = \"ten\"\n").unwrap();
        let error = PostHogConfig::load("MYAPP_", Some(&path), env(&[])).unwrap_err();
        let issue = &error.issues[0];
        assert_eq!(issue.key, "batch_size");
        assert_eq!(issue.source, format!("{}, line 3", path.display()));
        assert!(
            issue.problem.contains("string \"ten\""),
            "{}",
            issue.problem
        );
        assert!(issue.problem.contains("usize"), "{}", issue.problem);
    }

    #[test]
    fn a_wrong_value_in_the_environment_names_the_variable() {
        let error = PostHogConfig::load(
            "MYAPP_",
            None,
            env(&[("MYAPP_TELEMETRY_MAX_RETRIES", "many")]),
        )
        .unwrap_err();
        assert_eq!(error.issues[0].key, "max_retries");
        assert_eq!(
            error.issues[0].source,
            "environment variable MYAPP_TELEMETRY_MAX_RETRIES"
        );
        let error = PostHogConfig::load(
            "MYAPP_",
            None,
            env(&[("MYAPP_TELEMETRY_POSTHOG_HOST", "ftp://example.com")]),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid telemetry configuration: `posthog_host` (environment variable MYAPP_TELEMETRY_POSTHOG_HOST): expected an http:// or https:// URL with a host and no user name or password"
        );
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("myapp.toml");
        std::fs::write(&path, "[telemetry]\nbatch_sise = 5\n").unwrap();
        let error = PostHogConfig::load("MYAPP_", Some(&path), env(&[])).unwrap_err();
        assert_eq!(error.issues[0].key, "batch_sise");
        assert_eq!(
            error.issues[0].problem,
            format!(
                "unknown key, expected one of {}",
                KEYS.map(|key| format!("`{key}`")).join(", ")
            )
        );
    }

    #[test]
    fn a_syntax_error_is_one_line_naming_the_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("myapp.toml");
        std::fs::write(&path, "[telemetry]\nbatch_size = \n").unwrap();
        let error = PostHogConfig::load("MYAPP_", Some(&path), env(&[])).unwrap_err();
        let shown = error.to_string();
        assert!(!shown.contains('\n'), "{shown}");
        assert!(
            shown.starts_with(&format!(
                "invalid telemetry configuration: {}, line 2, column 14: invalid TOML: ",
                path.display()
            )),
            "{shown}"
        );
        assert!(!shown.contains("``"), "{shown}");
    }

    #[test]
    fn a_config_variable_naming_a_missing_file_is_an_error() {
        let error = PostHogConfig::load(
            "MYAPP_",
            None,
            env(&[("MYAPP_TELEMETRY_CONFIG", "/nonexistent/telemetry.toml")]),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("MYAPP_TELEMETRY_CONFIG"),
            "{error}"
        );
    }

    #[test]
    fn an_explicit_file_must_exist_and_wins_over_the_config_variable() {
        let dir = tempfile::tempdir().unwrap();
        let explicit = dir.path().join("explicit.toml");
        let from_variable = dir.path().join("variable.toml");
        std::fs::write(&explicit, "[telemetry]\nbatch_size = 1\n").unwrap();
        std::fs::write(&from_variable, "[telemetry]\nbatch_size = 2\n").unwrap();
        let variable = from_variable.to_str().unwrap();
        let vars = [("MYAPP_TELEMETRY_CONFIG", variable)];

        let load = |file| PostHogConfig::load_from("MYAPP_", Some(file), env(&vars));
        let config = load(ConfigFile::Explicit(&explicit)).unwrap();
        assert_eq!(config.batch_size, 1);
        assert_eq!(config.file.as_deref(), Some(explicit.as_path()));
        let config = load(ConfigFile::IfPresent(&explicit)).unwrap();
        assert_eq!(
            config.batch_size, 2,
            "the variable wins over the usual file"
        );

        let missing = dir.path().join("missing.toml");
        let error = load(ConfigFile::Explicit(&missing)).unwrap_err();
        assert!(
            error.to_string().contains(&missing.display().to_string()),
            "{error}"
        );
        let config =
            PostHogConfig::load_from("MYAPP_", Some(ConfigFile::IfPresent(&missing)), env(&[]))
                .unwrap();
        assert_eq!(
            config,
            PostHogConfig::default(),
            "a usual file may be absent"
        );
    }

    #[test]
    fn the_api_key_is_never_shown_whole() {
        let config = PostHogConfig::load(
            "MYAPP_",
            None,
            env(&[("MYAPP_TELEMETRY_POSTHOG_API_KEY", "phc_secretsecretWXYZ")]),
        )
        .unwrap();
        let shown = format!("{config:?}");
        assert!(shown.contains("\"…WXYZ\""), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
