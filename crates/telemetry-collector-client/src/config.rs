//! Configuration: defaults, then an optional TOML file (`[telemetry]`
//! table), then the environment, read the way every sink reads them
//! ([`telemetry_runtime::config`]).
//!
//! | key | default | environment (app `myapp`) |
//! | --- | --- | --- |
//! | `enabled` | `true` | `MYAPP_TELEMETRY_ENABLED` (read by the consent rules) |
//! | `collector_url` | none: no sink, events stay in the local queue | `MYAPP_TELEMETRY_COLLECTOR_URL` |
//! | `collector_api_key` | none: no `Authorization` header | `MYAPP_TELEMETRY_COLLECTOR_API_KEY` |
//! | `batch_size` | 10 | `MYAPP_TELEMETRY_BATCH_SIZE` |
//! | `batch_interval_seconds` | 60 | `MYAPP_TELEMETRY_BATCH_INTERVAL_SECONDS` |
//! | `max_queue_bytes` | 8 MiB (the queue's own default) | `MYAPP_TELEMETRY_MAX_QUEUE_BYTES` |
//! | `max_retries` | 3 | `MYAPP_TELEMETRY_MAX_RETRIES` |
//! | `request_timeout_seconds` | 10 | `MYAPP_TELEMETRY_REQUEST_TIMEOUT_SECONDS` |
//! | `gzip` | `true` | `MYAPP_TELEMETRY_GZIP` |
//! | `retry_initial_backoff_ms` | 500 | `MYAPP_TELEMETRY_RETRY_INITIAL_BACKOFF_MS` |
//! | `retry_max_backoff_seconds` | 300 | `MYAPP_TELEMETRY_RETRY_MAX_BACKOFF_SECONDS` |
//!
//! `collector_url` is the collector's base URL (`https://registry.example.com`);
//! the client posts to `{collector_url}/api/v1/telemetry` and
//! `{collector_url}/api/v1/deletion`. The file is chosen as for every sink
//! ([`ConfigFile`]); the table may hold other sinks' keys
//! (`posthog_api_key`), which this configuration leaves alone. A wrong value
//! is an error that names the key and where it came from; the API key is
//! never shown whole.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use telemetry_runtime::config::{DeliveryKeys, Loaded, is_http_url, non_empty_key};
use telemetry_runtime::policy::DeliveryConfig;

pub use telemetry_runtime::config::{ApiKey, ConfigError, ConfigFile, ConfigIssue, env_var_name};

/// Every key, in the order of the table above.
pub const KEYS: [&str; 11] = [
    "enabled",
    "collector_url",
    "collector_api_key",
    "batch_size",
    "batch_interval_seconds",
    "max_queue_bytes",
    "max_retries",
    "request_timeout_seconds",
    "gzip",
    "retry_initial_backoff_ms",
    "retry_max_backoff_seconds",
];

/// What to set so that there is a collector, in words.
#[must_use]
pub fn url_hint(env_prefix: &str) -> String {
    format!(
        "set {} or `collector_url` in the `[telemetry]` table of the configuration file",
        env_var_name(env_prefix, "collector_url")
    )
}

/// The collector client's configuration; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CollectorConfig {
    /// `false` turns telemetry off for the application.
    pub enabled: bool,
    /// The collector's base URL, `http(s)`, without a trailing `/`; without
    /// it there is no sink.
    pub collector_url: Option<String>,
    /// The ingest key, sent as `Authorization: Bearer …`.
    pub collector_api_key: Option<ApiKey>,
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
    /// Compress request bodies (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// The first retry waits between this and twice this.
    pub retry_initial_backoff_ms: u64,
    /// No retry waits longer, except as `Retry-After` asks.
    pub retry_max_backoff_seconds: u64,
    /// Where the file part of the configuration came from, if anywhere.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        let delivery = DeliveryKeys::default();
        Self {
            enabled: true,
            collector_url: None,
            collector_api_key: None,
            batch_size: delivery.batch_size,
            batch_interval_seconds: delivery.batch_interval_seconds,
            max_queue_bytes: delivery.max_queue_bytes,
            max_retries: delivery.max_retries,
            request_timeout_seconds: delivery.request_timeout_seconds,
            gzip: true,
            retry_initial_backoff_ms: delivery.retry_initial_backoff_ms,
            retry_max_backoff_seconds: delivery.retry_max_backoff_seconds,
            file: None,
        }
    }
}

impl CollectorConfig {
    /// A configuration that sends to `url` (`http://127.0.0.1:8000`), with
    /// every other key at its default.
    #[must_use]
    pub fn for_url(url: &str) -> Self {
        Self {
            collector_url: Some(url.trim().trim_end_matches('/').to_owned()),
            ..Self::default()
        }
    }

    /// Sets the ingest key.
    #[must_use]
    pub fn with_api_key(mut self, key: ApiKey) -> Self {
        self.collector_api_key = Some(key);
        self
    }

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
        config.collector_api_key = non_empty_key(config.collector_api_key.take());
        // An empty URL (`MYAPP_TELEMETRY_COLLECTOR_URL=`) means none.
        config.collector_url = config
            .collector_url
            .take()
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty());
        let config = &loaded.value;
        let mut checks = loaded.checks();
        checks.check(
            "collector_url",
            config.collector_url.as_deref().is_none_or(is_http_url),
            "expected an http:// or https:// URL with a host and no user name, password, query or fragment",
        );
        checks.check(
            "collector_api_key",
            config
                .collector_api_key
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
    fn without_a_url_there_is_no_collector() {
        let config = CollectorConfig::load("MYAPP_", None, env(&[])).unwrap();
        assert_eq!(config, CollectorConfig::default());
        assert_eq!(config.collector_url, None);
        let config = CollectorConfig::load(
            "MYAPP_",
            None,
            env(&[("MYAPP_TELEMETRY_COLLECTOR_URL", "  ")]),
        )
        .unwrap();
        assert_eq!(config.collector_url, None, "empty means none");
    }

    #[test]
    fn the_environment_overrides_the_file_which_shares_its_table_with_posthog() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("myapp.toml");
        std::fs::write(
            &path,
            "[telemetry]\nposthog_api_key = \"phc_x\"\ncollector_url = \"http://127.0.0.1:8000/\"\nbatch_size = 50\ngzip = false\n",
        )
        .unwrap();
        let config = CollectorConfig::load(
            "MYAPP_",
            Some(&path),
            env(&[
                ("MYAPP_TELEMETRY_BATCH_SIZE", "25"),
                ("MYAPP_TELEMETRY_COLLECTOR_API_KEY", "ingest-key-WXYZ"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.collector_url.as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(config.batch_size, 25);
        assert!(!config.gzip);
        assert_eq!(config.delivery().batch_size, 25);
        assert_eq!(config.file.as_deref(), Some(path.as_path()));
        let shown = format!("{config:?}");
        assert!(
            shown.contains("\"…WXYZ\"") && !shown.contains("ingest-key"),
            "{shown}"
        );
    }

    #[test]
    fn a_wrong_value_names_the_key_and_where_it_came_from() {
        let error = CollectorConfig::load(
            "MYAPP_",
            None,
            env(&[(
                "MYAPP_TELEMETRY_COLLECTOR_URL",
                "https://user:pw@registry.example.com",
            )]),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid telemetry configuration: `collector_url` (environment variable MYAPP_TELEMETRY_COLLECTOR_URL): expected an http:// or https:// URL with a host and no user name, password, query or fragment"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("myapp.toml");
        std::fs::write(
            &path,
            "[telemetry]\ncollector_url = \"http://x\"\nmax_retries = 1000\n",
        )
        .unwrap();
        let error = CollectorConfig::load("MYAPP_", Some(&path), env(&[])).unwrap_err();
        assert_eq!(error.issues.len(), 1, "{error}");
        assert_eq!(error.issues[0].key, "max_retries");
        assert_eq!(
            error.issues[0].source,
            format!("{}, line 3", path.display())
        );
    }

    #[test]
    fn a_key_with_spaces_is_refused() {
        let error = CollectorConfig::load(
            "MYAPP_",
            None,
            env(&[("MYAPP_TELEMETRY_COLLECTOR_API_KEY", "two words")]),
        )
        .unwrap_err();
        assert_eq!(error.issues[0].key, "collector_api_key");
    }
}
