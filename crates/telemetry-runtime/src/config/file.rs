//! The `[telemetry]` table of an application's configuration file and the
//! `{PREFIX}TELEMETRY_*` environment variables beside it, read with
//! [`figment`] the same way for every sink: defaults, then the file, then
//! the environment; every wrong value named by its key and where it came
//! from (file and line, or environment variable).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::error::{Kind, OneOf};
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::policy::{self, DeliveryConfig, RetryPolicy};
use crate::queue::QueueConfig;

/// The table of the configuration file that holds telemetry's keys.
pub const TABLE: &str = "telemetry";

/// Every key the `[telemetry]` table may hold, whichever sink reads it: a
/// key not listed is an error (most likely a typo), and one sink's keys are
/// no error for another's configuration. A sink with keys of its own adds
/// them here.
pub const TABLE_KEYS: &[&str] = &[
    "enabled",
    "posthog_api_key",
    "posthog_host",
    "collector_url",
    "collector_api_key",
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
    format!(
        "{env_prefix}{}_{}",
        TABLE.to_ascii_uppercase(),
        key.to_ascii_uppercase()
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

/// An API key. Shown only by its last four characters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The whole key, for the request.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key is usable: not empty and without white space.
    #[must_use]
    pub fn is_well_formed(&self) -> bool {
        !self.0.trim().is_empty() && !self.0.chars().any(char::is_whitespace)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: Vec<char> = self.0.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
        write!(f, "\"…{tail}\"")
    }
}

/// An empty key (`MYAPP_TELEMETRY_POSTHOG_API_KEY=`) means none.
#[must_use]
pub fn non_empty_key(key: Option<ApiKey>) -> Option<ApiKey> {
    key.filter(|key| !key.0.trim().is_empty())
}

/// Whether `url` is an `http://` or `https://` URL with a host, no user
/// name or password, no query and no fragment.
#[must_use]
pub fn is_http_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    !authority.is_empty()
        && !authority.contains('@')
        && !rest.contains(char::is_whitespace)
        && !rest.contains(['?', '#'])
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

/// The keys every sink's configuration shares that shape delivery, with
/// their defaults and their rules (see [`check`](Self::check)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryKeys {
    /// `batch_size`: events per request, 1 to 1000 (default 10).
    pub batch_size: usize,
    /// `batch_interval_seconds`: queued events go out at least this often,
    /// at least 1 (default 60).
    pub batch_interval_seconds: u64,
    /// `max_queue_bytes`: the local queue's bound, at least 64 KiB (default
    /// 8 MiB).
    pub max_queue_bytes: u64,
    /// `max_retries`: retries of one batch in one run, at most 100
    /// (default 3).
    pub max_retries: u32,
    /// `request_timeout_seconds`: one request, connection included, 1 to
    /// 600 (default 10).
    pub request_timeout_seconds: u64,
    /// `retry_initial_backoff_ms`: the first retry waits between this and
    /// twice this (default 500).
    pub retry_initial_backoff_ms: u64,
    /// `retry_max_backoff_seconds`: no retry waits longer, except as
    /// `Retry-After` asks; at most 86400 (default 300).
    pub retry_max_backoff_seconds: u64,
}

impl Default for DeliveryKeys {
    fn default() -> Self {
        Self {
            batch_size: policy::BATCH_SIZE,
            batch_interval_seconds: policy::BATCH_INTERVAL.as_secs(),
            max_queue_bytes: QueueConfig::DEFAULT_MAX_BYTES,
            max_retries: policy::MAX_RETRIES,
            request_timeout_seconds: 10,
            retry_initial_backoff_ms: u64::try_from(policy::INITIAL_BACKOFF.as_millis())
                .unwrap_or(u64::MAX),
            retry_max_backoff_seconds: policy::MAX_BACKOFF.as_secs(),
        }
    }
}

impl DeliveryKeys {
    /// Adds an issue to `checks` for every value out of its range.
    pub fn check(&self, checks: &mut Checks<'_>) {
        checks.check(
            "batch_size",
            (1..=1000).contains(&self.batch_size),
            "expected a number of events from 1 to 1000",
        );
        checks.check(
            "batch_interval_seconds",
            self.batch_interval_seconds >= 1,
            "expected at least 1 second",
        );
        checks.check(
            "max_queue_bytes",
            self.max_queue_bytes >= policy::MIN_QUEUE_BYTES,
            "expected at least 65536 bytes",
        );
        checks.check(
            "max_retries",
            self.max_retries <= 100,
            "expected at most 100 retries",
        );
        checks.check(
            "request_timeout_seconds",
            (1..=600).contains(&self.request_timeout_seconds),
            "expected 1 to 600 seconds",
        );
        checks.check(
            "retry_max_backoff_seconds",
            self.retry_max_backoff_seconds <= 86_400,
            "expected at most 86400 seconds",
        );
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

/// A sink's configuration as loaded by [`Loaded::load`], with what is
/// needed to say where each value came from.
pub struct Loaded<T> {
    /// The configuration.
    pub value: T,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    figment: Figment,
}

impl<T: fmt::Debug> fmt::Debug for Loaded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("value", &self.value)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl<T: Serialize + DeserializeOwned + Default> Loaded<T> {
    /// Loads `T` for the application whose environment prefix is
    /// `env_prefix` (`MYAPP_`): `T::default()`, then the `[telemetry]` table
    /// of the file (see [`ConfigFile`] for which one), then, for each of
    /// `keys`, its environment variable read through `env`
    /// ([`env_var_name`]). `enabled` is never read from the environment:
    /// `{PREFIX}TELEMETRY_ENABLED` is the consent variable, which the
    /// [consent rules](crate::consent) parse strictly.
    ///
    /// Fails, naming every wrong value, on a key of the file that is not in
    /// [`TABLE_KEYS`] or a value `T` cannot hold. Keys of the table that
    /// `T` does not have are left to the sinks that read them.
    pub fn load(
        env_prefix: &str,
        file: Option<ConfigFile<'_>>,
        env: impl Fn(&str) -> Option<String>,
        keys: &[&'static str],
    ) -> Result<Self, ConfigError> {
        let file = choose_file(env_prefix, file, &env)?;
        let mut figment = Figment::from(Defaults(Serialized::defaults(T::default())));
        if let Some(path) = &file {
            figment = figment.merge(Figment::from(Toml::file_exact(path)).focus(TABLE));
        }
        for &key in keys {
            if key == "enabled" {
                continue;
            }
            let name = env_var_name(env_prefix, key);
            if let Some(value) = env(&name) {
                figment = figment.merge(EnvVar { name, key, value });
            }
        }
        let unknown = unknown_keys(&figment, file.as_deref());
        let value = figment.extract::<T>();
        let mut issues = unknown;
        match value {
            Ok(value) if issues.is_empty() => Ok(Self {
                value,
                file,
                figment,
            }),
            Ok(_) => Err(ConfigError { issues }),
            Err(error) => {
                issues.extend(from_figment(&error, file.as_deref()).issues);
                Err(ConfigError { issues })
            }
        }
    }
}

impl<T> Loaded<T> {
    /// Checks of the values against their rules, naming where each came
    /// from; [`Checks::finish`] gives the result.
    #[must_use]
    pub fn checks(&self) -> Checks<'_> {
        Checks {
            figment: &self.figment,
            file: self.file.as_deref(),
            issues: Vec::new(),
        }
    }
}

/// The issues found checking a [`Loaded`] configuration.
#[derive(Debug)]
pub struct Checks<'a> {
    figment: &'a Figment,
    file: Option<&'a Path>,
    issues: Vec<ConfigIssue>,
}

impl Checks<'_> {
    /// Adds an issue for `key`, expecting `expected`, unless `ok`.
    pub fn check(&mut self, key: &str, ok: bool, expected: &str) {
        if !ok {
            self.issues.push(ConfigIssue {
                key: key.to_owned(),
                source: source_of(self.figment, key, self.file),
                problem: expected.to_owned(),
            });
        }
    }

    /// `Ok` without issues, else every issue found.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                issues: self.issues,
            })
        }
    }
}

/// The keys of the merged configuration that no sink reads, each as an
/// issue naming where it was set.
fn unknown_keys(figment: &Figment, file: Option<&Path>) -> Vec<ConfigIssue> {
    let Ok(data) = figment.data() else {
        // A file that cannot be parsed: extracting says so, once.
        return Vec::new();
    };
    data.values()
        .flat_map(|dict| dict.keys())
        .filter(|key| !TABLE_KEYS.contains(&key.as_str()))
        .map(|key| ConfigIssue {
            key: key.clone(),
            source: source_of(figment, key, file),
            problem: format!("unknown key, expected {}", OneOf(TABLE_KEYS)),
        })
        .collect()
}

/// A configuration's defaults as a figment provider named `default`, so
/// that a check of a value nobody set says so.
struct Defaults<T>(Serialized<T>);

impl<T: Serialize> Provider for Defaults<T> {
    fn metadata(&self) -> Metadata {
        Metadata::named("default")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.0.data()
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
    let config_var = env_var_name(env_prefix, "config");
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
            in_table = line.trim_start_matches('[').trim_end_matches(']').trim() == TABLE;
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

    /// A configuration of two keys, as a sink declares one.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(default)]
    struct Example {
        batch_size: usize,
        gzip: bool,
    }

    impl Default for Example {
        fn default() -> Self {
            Self {
                batch_size: 10,
                gzip: true,
            }
        }
    }

    const KEYS: &[&str] = &["batch_size", "gzip"];

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn load(file: Option<&Path>, vars: &[(&str, &str)]) -> Result<Example, ConfigError> {
        Loaded::<Example>::load("MYAPP_", file.map(ConfigFile::IfPresent), env(vars), KEYS)
            .map(|loaded| loaded.value)
    }

    #[test]
    fn another_sink_s_keys_are_no_error_and_a_typo_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("myapp.toml");
        std::fs::write(
            &path,
            "[telemetry]\nposthog_host = \"https://eu.i.posthog.com\"\ncollector_url = \"http://127.0.0.1:8000\"\nbatch_size = 5\n",
        )
        .unwrap();
        assert_eq!(
            load(Some(&path), &[]).unwrap(),
            Example {
                batch_size: 5,
                gzip: true
            }
        );
        std::fs::write(&path, "[telemetry]\ngzip = false\ncolector_url = 1\n").unwrap();
        let error = load(Some(&path), &[]).unwrap_err();
        assert_eq!(error.issues.len(), 1, "{error}");
        assert_eq!(error.issues[0].key, "colector_url");
        assert_eq!(
            error.issues[0].source,
            format!("{}, line 3", path.display())
        );
        assert_eq!(
            error.issues[0].problem,
            format!(
                "unknown key, expected one of {}",
                TABLE_KEYS
                    .iter()
                    .map(|key| format!("`{key}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        );
    }

    #[test]
    fn only_the_sink_s_own_variables_are_read_and_enabled_never() {
        let example = load(
            None,
            &[
                ("MYAPP_TELEMETRY_GZIP", "false"),
                ("MYAPP_TELEMETRY_ENABLED", "maybe"),
                ("MYAPP_TELEMETRY_COLLECTOR_URL", "not a url"),
            ],
        )
        .unwrap();
        assert!(!example.gzip);
    }

    #[test]
    fn an_unknown_key_and_a_wrong_value_are_both_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("myapp.toml");
        std::fs::write(&path, "[telemetry]\nbatch_size = \"ten\"\nbatch_sise = 1\n").unwrap();
        let error = load(Some(&path), &[]).unwrap_err();
        let keys: Vec<&str> = error
            .issues
            .iter()
            .map(|issue| issue.key.as_str())
            .collect();
        assert_eq!(keys, ["batch_sise", "batch_size"], "{error}");
    }

    #[test]
    fn checks_name_where_each_value_came_from() {
        let loaded = Loaded::<Example>::load(
            "MYAPP_",
            None,
            env(&[("MYAPP_TELEMETRY_BATCH_SIZE", "0")]),
            KEYS,
        )
        .unwrap();
        let mut checks = loaded.checks();
        let keys = DeliveryKeys {
            batch_size: loaded.value.batch_size,
            ..DeliveryKeys::default()
        };
        keys.check(&mut checks);
        checks.check("gzip", false, "expected a planted failure");
        let error = checks.finish().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid telemetry configuration: `batch_size` (environment variable MYAPP_TELEMETRY_BATCH_SIZE): expected a number of events from 1 to 1000; `gzip` (default): expected a planted failure"
        );
        assert!(loaded.checks().finish().is_ok());
    }

    #[test]
    fn delivery_keys_give_the_delivery_rules() {
        let keys = DeliveryKeys {
            batch_size: 50,
            batch_interval_seconds: 5,
            max_retries: 7,
            retry_initial_backoff_ms: 20,
            retry_max_backoff_seconds: 2,
            ..DeliveryKeys::default()
        };
        let delivery = keys.delivery();
        assert_eq!(delivery.batch_size, 50);
        assert_eq!(delivery.interval, Duration::from_secs(5));
        assert_eq!(
            delivery.retry,
            RetryPolicy::new(7, Duration::from_millis(20), Duration::from_secs(2))
        );
        assert_eq!(
            DeliveryKeys::default().delivery(),
            DeliveryConfig::default(),
            "the defaults are the runtime's"
        );
    }

    #[test]
    fn urls_need_a_scheme_and_a_host_and_no_credentials() {
        assert!(is_http_url("https://registry.example.com"));
        assert!(is_http_url("http://127.0.0.1:8000/prefix"));
        for bad in [
            "ftp://example.com",
            "https://",
            "https://ana:pw@example.com",
            "https://example.com/?key=1",
            "example.com",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    #[test]
    fn an_api_key_is_never_shown_whole() {
        let key = ApiKey::new("phc_secretsecretWXYZ");
        assert_eq!(format!("{key:?}"), "\"…WXYZ\"");
        assert!(key.is_well_formed());
        assert!(!ApiKey::new("two words").is_well_formed());
        assert_eq!(non_empty_key(Some(ApiKey::new(" "))), None);
    }
}
