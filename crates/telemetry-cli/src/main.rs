//! `telemetry`: see, send, purge and disable everything an application
//! records. `telemetry --help` lists the commands.

use clap::Parser;
use telemetry_cli::{AppOptions, TelemetryCommandWithDemo};
use telemetry_posthog::{ConfigFile, PostHogConfig};
use telemetry_runtime::Telemetry;

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
    // A broken configuration must not stop a user from seeing or disabling
    // telemetry: it only leaves `send` without a sink, and is reported as a
    // problem (a warning, and a line of `status`).
    let config = PostHogConfig::load_from(
        &builder.env_prefix(),
        cli.options.config.as_deref().map(ConfigFile::Explicit),
        |name| builder.env_var(name),
    );
    let builder = match config {
        Ok(config) => telemetry_posthog::apply(builder, config),
        Err(error) => builder.problem(format!("sending is unavailable: {error}")),
    };
    let code = telemetry_cli::run_with_demo(&cli.command, builder, &mut std::io::stdout().lock());
    std::process::exit(code);
}
