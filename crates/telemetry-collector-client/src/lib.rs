//! Send `telemetry-runtime`'s durable queue to a telemetry collector's
//! registry endpoint, ask it to delete a client's records, and record
//! developer traces for it ([`trace`]).
//!
//! ```no_run
//! use telemetry_runtime::Telemetry;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let builder = Telemetry::builder("myapp").opt_in();
//! // Defaults, then `myapp.toml`'s `[telemetry]` table if present, then
//! // `MYAPP_TELEMETRY_*` environment variables.
//! let telemetry =
//!     telemetry_collector_client::configure(builder, Some("myapp.toml".as_ref()))?.build()?;
//! // … telemetry.capture(&registration) …
//! telemetry.shutdown(std::time::Duration::from_secs(2)).ok();
//! # Ok(())
//! # }
//! ```
//!
//! What happens then:
//!
//! - Without `collector_url`, nothing is sent: events stay in the local
//!   queue, where `telemetry preview` shows them. This is logged once.
//! - With one, and telemetry on, a background thread drains the queue in
//!   batches of `batch_size`, or every `batch_interval_seconds`, to
//!   `{collector_url}/api/v1/telemetry` as a JSON array of flat events (see
//!   [`wire`]), gzipped, with `Authorization: Bearer {collector_api_key}`
//!   when a key is set, in requests under 5 MiB; an event over 1 MiB is
//!   dropped and counted without being sent.
//! - A 200 answers `{accepted, rejected, errors}`: the batch is settled,
//!   never sent again, and each rejected event goes to the dead-letter file
//!   with the collector's reason. 429 and 5xx are retried (no sooner than
//!   `Retry-After`), 400 dead-letters the batch, 401 and 403 pause sending
//!   until the next start, 413 splits the batch: the rules of
//!   [`telemetry_runtime::delivery`].
//! - [`send_deletion_request`] asks the collector to delete what it holds
//!   for a client id; the `telemetry disable` command sends it.
//!
//! See [`config`] for every key.

pub mod config;
mod deletion;
mod http;
mod sink;
pub mod trace;
pub mod wire;

use std::path::Path;

use telemetry_runtime::TelemetryBuilder;
use telemetry_runtime::names;

pub use config::{ApiKey, CollectorConfig, ConfigError, ConfigFile, ConfigIssue};
pub use deletion::{DeletionError, send_deletion_request};
pub use http::MissingCollectorUrl;
pub use sink::RegistrySink;

/// Loads the configuration for `builder`'s application (its environment
/// prefix and environment reader; `file` if it exists, or
/// `{PREFIX}TELEMETRY_CONFIG`) and applies it with [`apply`].
pub fn configure(
    builder: TelemetryBuilder,
    file: Option<&Path>,
) -> Result<TelemetryBuilder, ConfigError> {
    configure_from(builder, file.map(ConfigFile::IfPresent))
}

/// Like [`configure`], with a file the user named ([`ConfigFile::Explicit`],
/// for a `--config` option) or the application's usual one.
pub fn configure_from(
    builder: TelemetryBuilder,
    file: Option<ConfigFile<'_>>,
) -> Result<TelemetryBuilder, ConfigError> {
    let config =
        CollectorConfig::load_from(&builder.env_prefix(), file, |name| builder.env_var(name))?;
    Ok(apply(builder, config))
}

/// Applies `config` to `builder`: the queue bound, `enabled = false` as a
/// kill switch, and the registry sink when there is a collector URL.
pub fn apply(builder: TelemetryBuilder, config: CollectorConfig) -> TelemetryBuilder {
    let builder = builder.queue_max_bytes(config.max_queue_bytes);
    if !config.enabled {
        let reason = match &config.file {
            Some(file) => format!("enabled = false in {}", file.display()),
            None => "enabled = false".to_owned(),
        };
        return builder.disabled_by(reason);
    }
    if config.collector_url.is_none() {
        tracing::info!(
            "no collector is configured, so events stay in the local queue; to send them, {}",
            config::url_hint(&builder.env_prefix())
        );
        return builder;
    }
    // An invalid application name fails `build` itself, which says so.
    match names::event_prefix(builder.app_name()) {
        Ok(prefix) => match RegistrySink::new(config, &prefix) {
            Ok(sink) => builder.sink(sink),
            Err(MissingCollectorUrl) => builder,
        },
        Err(_) => builder,
    }
}
