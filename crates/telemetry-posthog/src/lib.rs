//! Send `telemetry-runtime`'s durable queue to PostHog, cloud or self-hosted.
//!
//! ```no_run
//! use telemetry_runtime::Telemetry;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let builder = Telemetry::builder("myapp").opt_in();
//! // Defaults, then `myapp.toml`'s `[telemetry]` table if present, then
//! // `MYAPP_TELEMETRY_*` environment variables.
//! let telemetry = telemetry_posthog::configure(builder, Some("myapp.toml".as_ref()))?.build()?;
//! // … telemetry.capture(&event) …
//! telemetry.shutdown(std::time::Duration::from_secs(2)).ok();
//! # Ok(())
//! # }
//! ```
//!
//! What happens then:
//!
//! - Without an API key, nothing is sent: events stay in the local queue,
//!   where `telemetry preview` shows them. This is logged once.
//! - With one, and telemetry on (the user's choice, the environment, or an
//!   opt-out application's default), a background thread drains the queue in
//!   batches of `batch_size`, or every `batch_interval_seconds`, to
//!   `{posthog_host}/batch/`, gzipped, in requests under 5 MiB, with the
//!   retries, splitting, dead-letter file and pause of
//!   [`telemetry_runtime::delivery`]. An envelope leaves the queue only after a
//!   2xx for the request that carried it.
//! - Every event gains `$lib` and `$lib_version`, and, with `strict_privacy`
//!   (the default), `$process_person_profile: false` (no person profiles for
//!   anonymous installations) and `$geoip_disable: true` (no location
//!   lookup from the sender's IP address).
//!
//! See [`config`] for every key and [`wire`] for the format on the wire.

pub mod config;
mod sink;
pub mod wire;

use std::path::Path;

use telemetry_runtime::TelemetryBuilder;

pub use config::{ApiKey, ConfigError, ConfigFile, ConfigIssue, PostHogConfig};
pub use sink::{MissingApiKey, PostHogSink};

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
        PostHogConfig::load_from(&builder.env_prefix(), file, |name| builder.env_var(name))?;
    Ok(apply(builder, config))
}

/// Applies `config` to `builder`: the queue bound, `enabled = false` as a
/// kill switch, and the PostHog sink when there is an API key.
pub fn apply(builder: TelemetryBuilder, config: PostHogConfig) -> TelemetryBuilder {
    let builder = builder.queue_max_bytes(config.max_queue_bytes);
    if !config.enabled {
        let reason = match &config.file {
            Some(file) => format!("enabled = false in {}", file.display()),
            None => "enabled = false".to_owned(),
        };
        return builder.disabled_by(reason);
    }
    if let Ok(sink) = PostHogSink::new(config) {
        builder.sink(sink)
    } else {
        tracing::info!(
            "no PostHog API key is configured, so events stay in the local queue; to send them, {}",
            config::api_key_hint(&builder.env_prefix())
        );
        builder
    }
}
