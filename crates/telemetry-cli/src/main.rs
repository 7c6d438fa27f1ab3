//! `telemetry`: see, send, purge and disable everything an application
//! records. `telemetry --help` lists the commands.

use std::path::Path;

use clap::Parser;
use telemetry_cli::{AppOptions, TelemetryCommandWithDemo};
use telemetry_collector_client::CollectorConfig;
use telemetry_posthog::{ConfigFile, PostHogConfig};
use telemetry_runtime::{Telemetry, TelemetryBuilder};

/// See, send, purge and disable everything an application records.
#[derive(Parser)]
#[command(name = "telemetry", version)]
struct Cli {
    #[command(flatten)]
    options: AppOptions,
    #[command(subcommand)]
    command: TelemetryCommandWithDemo,
}

fn main() {
    let cli = Cli::parse();
    let mut builder = Telemetry::builder(&cli.options.app);
    if let Some(dir) = &cli.options.data_dir {
        builder = builder.data_dir(dir);
    }
    let builder = configure(builder, cli.options.config.as_deref());
    let code = telemetry_cli::run_with_demo(&cli.command, builder, &mut std::io::stdout().lock());
    std::process::exit(code);
}

/// The sink `send` and `disable` use: the collector when `collector_url` is
/// configured (even if PostHog is too, which is then reported as a
/// problem), else PostHog when `posthog_api_key` is, else none.
///
/// A broken configuration must not stop a user from seeing or disabling
/// telemetry: it only leaves `send` without a sink, and is reported as a
/// problem (a warning, and a line of `status`).
fn configure(builder: TelemetryBuilder, file: Option<&Path>) -> TelemetryBuilder {
    let prefix = builder.env_prefix();
    let file = file.map(ConfigFile::Explicit);
    let collector = CollectorConfig::load_from(&prefix, file, |name| builder.env_var(name));
    let posthog = PostHogConfig::load_from(&prefix, file, |name| builder.env_var(name));
    match (collector, posthog) {
        (Ok(collector), posthog) if collector.collector_url.is_some() => {
            let both = matches!(&posthog, Ok(posthog) if posthog.posthog_api_key.is_some());
            let builder = telemetry_collector_client::apply(builder, collector);
            if both {
                builder.problem(
                    "both `collector_url` and `posthog_api_key` are configured: events go to the collector, not to PostHog",
                )
            } else {
                builder
            }
        }
        (Ok(_), Ok(posthog)) => telemetry_posthog::apply(builder, posthog),
        (Err(error), _) | (Ok(_), Err(error)) => {
            builder.problem(format!("sending is unavailable: {error}"))
        }
    }
}
