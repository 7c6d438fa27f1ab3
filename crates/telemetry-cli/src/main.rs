//! `telemetry`: see, send, purge and disable everything an application
//! records. `telemetry --help` lists the commands.

use clap::Parser;
use telemetry_cli::{AppOptions, TelemetryCommand};
use telemetry_core::Telemetry;

/// See, send, purge and disable everything an application records.
#[derive(Parser)]
#[command(name = "telemetry", version)]
struct Cli {
    #[command(flatten)]
    options: AppOptions,
    #[command(subcommand)]
    command: TelemetryCommand,
}

fn main() {
    let cli = Cli::parse();
    let mut builder = Telemetry::builder(&cli.options.app);
    if let Some(dir) = &cli.options.data_dir {
        builder = builder.data_dir(dir);
    }
    let code = telemetry_cli::run(&cli.command, builder, &mut std::io::stdout().lock());
    std::process::exit(code);
}
