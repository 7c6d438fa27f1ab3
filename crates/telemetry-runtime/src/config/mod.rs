//! Configuration: the `[telemetry]` table of an application's
//! configuration file and its environment variables, which every sink's
//! configuration reads the same way (defaults, then the file, then the
//! environment, with figment; a wrong value named by its key and where it
//! came from).
//!
//! | key | default | read by |
//! | --- | --- | --- |
//! | `enabled` | `true` | every sink: `false` turns telemetry off (the environment's `{PREFIX}TELEMETRY_ENABLED` is the consent variable) |
//! | `posthog_api_key`, `posthog_host`, `strict_privacy` | | `telemetry-posthog` |
//! | `collector_url`, `collector_api_key` | | `telemetry-collector-client` |
//! | `batch_size`, `batch_interval_seconds`, `max_queue_bytes`, `max_retries`, `request_timeout_seconds`, `retry_initial_backoff_ms`, `retry_max_backoff_seconds` | see [`DeliveryKeys`] | every sink |
//! | `gzip` | `true` | every sink |
//!
//! Each key `key` is also read from the environment variable
//! `{PREFIX}TELEMETRY_{KEY}` ([`env_var_name`]). The file is the one named
//! explicitly ([`ConfigFile::Explicit`], a `--config` option: it must
//! exist), else the one in `{PREFIX}TELEMETRY_CONFIG` (which must exist),
//! else the application's usual file ([`ConfigFile::IfPresent`]) if there
//! is one. A key of the table not listed in [`TABLE_KEYS`] is an error.
//!
//! Inside the runtime, this module also holds what a
//! [`TelemetryBuilder`](crate::TelemetryBuilder) collected: the plain
//! configuration that [`Control`](crate::control::Control) and the handle
//! read. The builder fills it; nothing here starts a thread or opens a file.

mod file;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::consent::{self, ConsentPolicy, Decision, Mode};
use crate::policy;
use crate::queue::QueueConfig;
use crate::settings::SettingsStore;
use crate::sink::Sink;
use crate::{HashKey, names};

pub use file::{
    ApiKey, Checks, ConfigError, ConfigFile, ConfigIssue, DeliveryKeys, Loaded, TABLE, TABLE_KEYS,
    env_var_name, is_http_url, non_empty_key,
};

/// Reads one environment variable; injectable so tests and embedders need not
/// touch the process environment.
pub type EnvReader = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Decides, per event name, whether to keep an event (`true`) or drop it.
pub type Sampler = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// One application's telemetry configuration.
pub(crate) struct Config {
    pub(crate) app_name: String,
    pub(crate) policy: ConsentPolicy,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) app_key: Option<HashKey>,
    pub(crate) env: EnvReader,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) sink: Option<Box<dyn Sink>>,
    pub(crate) queue_max_bytes: Option<u64>,
    pub(crate) queue_max_age: Option<Duration>,
    pub(crate) channel_capacity: usize,
    pub(crate) unguarded_custom_events: bool,
    pub(crate) disabled_by: Option<String>,
    /// Problems met while configuring, reported with those met later.
    pub(crate) problems: Vec<String>,
}

impl Config {
    pub(crate) fn new(app_name: &str) -> Self {
        Self {
            app_name: app_name.to_owned(),
            policy: ConsentPolicy::default(),
            data_dir: None,
            app_key: None,
            env: Arc::new(|name| std::env::var(name).ok()),
            sampler: None,
            sink: None,
            queue_max_bytes: None,
            queue_max_age: None,
            channel_capacity: policy::CHANNEL_CAPACITY,
            unguarded_custom_events: false,
            disabled_by: None,
            problems: Vec::new(),
        }
    }

    /// The environment prefix: `MYAPP_` for `myapp`.
    pub(crate) fn env_prefix(&self) -> String {
        names::env_prefix(&self.app_name)
    }

    /// `{PREFIX}{suffix}` read through the configured environment.
    pub(crate) fn env_var(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    /// Where settings and the queue live: the configured directory,
    /// `{PREFIX}TELEMETRY_DIR`, or the platform's data directory.
    pub(crate) fn resolved_data_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.data_dir {
            return Some(dir.clone());
        }
        let var = format!("{}TELEMETRY_DIR", self.env_prefix());
        if let Some(dir) = self.env_var(&var).filter(|dir| !dir.trim().is_empty()) {
            return Some(PathBuf::from(dir));
        }
        SettingsStore::default_dir(&self.app_name)
    }

    /// The queue's configuration in `dir`, with the configured bounds.
    pub(crate) fn queue_config(&self, dir: PathBuf) -> QueueConfig {
        let mut config = QueueConfig::new(dir);
        if let Some(max_bytes) = self.queue_max_bytes {
            config.max_bytes = max_bytes;
            // A small bound needs segments small enough to drop one by one.
            config.segment_bytes = config.segment_bytes.min((max_bytes / 4).max(1));
        }
        if let Some(max_age) = self.queue_max_age {
            config.max_age = max_age;
        }
        config
    }

    /// The consent decision, given the user's saved choice.
    pub(crate) fn decide(&self, persisted: Option<Mode>) -> Decision {
        Decision::decide(
            |name| self.env_var(name),
            &self.env_prefix(),
            persisted,
            self.policy,
        )
        .unless_disabled_by(self.disabled_by.as_deref())
    }

    /// Whether `{PREFIX}TELEMETRY_DEBUG` asks to print every queued event.
    pub(crate) fn debug(&self) -> bool {
        self.env_var(&format!("{}TELEMETRY_DEBUG", self.env_prefix()))
            .and_then(|value| consent::parse_switch(&value))
            .unwrap_or(false)
    }
}
