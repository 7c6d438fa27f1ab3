//! Configuration: defaults, then an optional TOML file (`[telemetry]`
//! table), then the environment, read the way every sink reads them
//! ([`telemetry_runtime::config`]).
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
//! strictly). The table may hold other sinks' keys (`collector_url`), which
//! this configuration leaves alone; a key no sink reads is an error.
//!
//! A wrong value is an error that names the key, where it came from (file
//! and line, or environment variable) and what was expected. The API key is
//! never shown whole: `Debug` prints its last four characters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use telemetry_runtime::config::{DeliveryKeys, Loaded, is_http_url, non_empty_key};
use telemetry_runtime::policy::DeliveryConfig;

pub use telemetry_runtime::config::{ApiKey, ConfigError, ConfigFile, ConfigIssue, env_var_name};

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

/// What to set so that there is a sink, in words: the variable, or the key
/// of the configuration file.
#[must_use]
pub fn api_key_hint(env_prefix: &str) -> String {
    format!(
        "set {} or `posthog_api_key` in the `[telemetry]` table of the configuration file",
        env_var_name(env_prefix, "posthog_api_key")
    )
}

/// The PostHog transport's configuration; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
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
        let delivery = DeliveryKeys::default();
        Self {
            enabled: true,
            posthog_api_key: None,
            posthog_host: DEFAULT_HOST.to_owned(),
            batch_size: delivery.batch_size,
            batch_interval_seconds: delivery.batch_interval_seconds,
            max_queue_bytes: delivery.max_queue_bytes,
            max_retries: delivery.max_retries,
            request_timeout_seconds: delivery.request_timeout_seconds,
            gzip: true,
            strict_privacy: true,
            retry_initial_backoff_ms: delivery.retry_initial_backoff_ms,
            retry_max_backoff_seconds: delivery.retry_max_backoff_seconds,
            file: None,
        }
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
        let mut loaded = Loaded::<Self>::load(env_prefix, file, env, &KEYS)?;
        let config = &mut loaded.value;
        config.file.clone_from(&loaded.file);
        config.posthog_api_key = non_empty_key(config.posthog_api_key.take());
        config.posthog_host = config.posthog_host.trim().trim_end_matches('/').to_owned();
        let config = &loaded.value;
        let mut checks = loaded.checks();
        checks.check(
            "posthog_host",
            is_http_url(&config.posthog_host),
            "expected an http:// or https:// URL with a host and no user name or password",
        );
        checks.check(
            "posthog_api_key",
            config
                .posthog_api_key
                .as_ref()
                .is_none_or(ApiKey::is_well_formed),
            "expected a non-empty API key without spaces",
        );
        config.delivery_keys().check(&mut checks);
        checks.finish()?;
        Ok(loaded.value)
    }

    /// The keys every sink shares, as the runtime checks and applies them.
    fn delivery_keys(&self) -> DeliveryKeys {
        DeliveryKeys {
            batch_size: self.batch_size,
            batch_interval_seconds: self.batch_interval_seconds,
            max_queue_bytes: self.max_queue_bytes,
            max_retries: self.max_retries,
            request_timeout_seconds: self.request_timeout_seconds,
            retry_initial_backoff_ms: self.retry_initial_backoff_ms,
            retry_max_backoff_seconds: self.retry_max_backoff_seconds,
        }
    }

    /// The request timeout.
    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        self.delivery_keys().request_timeout()
    }

    /// Batch size, interval and retries, for the delivery rules.
    #[must_use]
    pub fn delivery(&self) -> DeliveryConfig {
        self.delivery_keys().delivery()
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
                telemetry_runtime::config::TABLE_KEYS
                    .iter()
                    .map(|key| format!("`{key}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
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
