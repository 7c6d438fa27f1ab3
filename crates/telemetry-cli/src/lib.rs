//! The `telemetry` command: lets a user see, send, purge and disable
//! everything an application records.
//!
//! It is a binary (`telemetry --app myapp status`) and a `clap` subcommand an
//! application can embed in its own CLI:
//!
//! ```no_run
//! use clap::Parser;
//! use telemetry_cli::TelemetryCommand;
//! use telemetry_runtime::Telemetry;
//!
//! #[derive(Parser)]
//! enum MyApp {
//!     /// See and control what myapp records.
//!     #[command(subcommand)]
//!     Telemetry(TelemetryCommand),
//! }
//!
//! let MyApp::Telemetry(command) = MyApp::parse();
//! let code = telemetry_cli::run(&command, Telemetry::builder("myapp"), &mut std::io::stdout());
//! std::process::exit(code);
//! ```
//!
//! [`TelemetryCommand`] holds what a host's users need: the controls. The
//! standalone binary adds `demo`, a simulated session of a code-search tool,
//! through [`TelemetryCommandWithDemo`] and [`run_with_demo`]; a host embeds
//! those instead only if it wants its users to see it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod dataset;
mod demo;
mod pretty;
mod render;
mod tokens;
mod trace;
mod trace_view;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use telemetry_runtime::TelemetryBuilder;
use telemetry_runtime::config::env_var_name;
use telemetry_runtime::consent::{self, Decision, Mode, Source};
use telemetry_runtime::control::{Control, ControlError};
use uuid::Uuid;

pub use dataset::{
    DatasetBuildArgs, DatasetCheckArgs, DatasetCommand, DatasetSimulateArgs, LogFiles, SourceArg,
};
pub use demo::DemoArgs;
pub use tokens::{ApplyArgs, CalibrateArgs, CheckArgs, DatabaseArg, SimulateArgs, TokensCommand};
pub use trace::{CollectorArgs, ShowArgs, SubmitArgs, TraceCommand, VerifyArgs};

/// The commands a host application embeds, as a `clap` subcommand enum: see,
/// send, purge and disable. [`TelemetryCommandWithDemo`] adds `demo`.
#[derive(Debug, Clone, Subcommand)]
pub enum TelemetryCommand {
    /// Show the mode and why, the client id, the queue and what was dropped.
    Status(JsonFlag),
    /// Turn telemetry on: record and send with the configured sink.
    Enable,
    /// Turn telemetry off: record nothing, purge the queue, forget the client
    /// id, and ask a configured collector to delete its records.
    Disable,
    /// Record locally for review, never send.
    Local,
    /// Print exactly what would be sent: every queued envelope.
    Preview(JsonFlag),
    /// Show or purge the local queue.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Send queued events to the configured sink now.
    Send,
    /// Replace the client id and the hashing key.
    ResetId(Confirm),
}

/// [`TelemetryCommand`] and `demo`: the commands of the standalone
/// `telemetry` binary, run with [`run_with_demo`].
#[derive(Debug, Clone, Subcommand)]
pub enum TelemetryCommandWithDemo {
    /// The controls.
    #[command(flatten)]
    Control(TelemetryCommand),
    /// Simulate a short session of a code-search app on a directory and show
    /// what it records.
    Demo(DemoArgs),
    /// Token-usage telemetry: check the database, calibrate the estimator,
    /// apply a calibration patch.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Developer traces: submit a session directory to a collector, show a
    /// trace, verify a downloaded one offline.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Interaction logs: build versioned datasets, check for alerts.
    #[command(subcommand)]
    Dataset(DatasetCommand),
}

/// `--json` for machine-readable output.
#[derive(Debug, Clone, Args)]
pub struct JsonFlag {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `--yes` to confirm a destructive command.
#[derive(Debug, Clone, Args)]
pub struct Confirm {
    /// Confirm: the old client id and hashing key are gone for good.
    #[arg(long)]
    pub yes: bool,
}

/// `telemetry queue ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum QueueCommand {
    /// Print the queued envelopes (like `preview`).
    Show(JsonFlag),
    /// Delete every queued event.
    Purge,
}

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the operation failed; a one-line cause went to stderr.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code: the command was used wrongly.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: `disable` turned telemetry off and deleted the local data,
/// but the collector's deletion request failed; the collector may still
/// hold the records of the client id on stderr.
pub const EXIT_REMOTE_DELETION_FAILED: i32 = 3;
/// Exit code: `dataset check --fail-on-alert` found at least one alert
/// (printed on stdout).
pub const EXIT_ALERT: i32 = 3;

/// Global options of the standalone binary.
#[derive(Debug, Clone, Args)]
pub struct AppOptions {
    /// The application whose telemetry to show and control.
    #[arg(long, global = true, default_value = "telemetry")]
    pub app: String,
    /// Where its settings and queue live [default: `{APP}_TELEMETRY_DIR`, or the
    /// platform's data directory].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The application's telemetry configuration file (a `[telemetry]` table),
    /// for the sink used by `send` and `disable` (a collector or PostHog). It
    /// must exist, and it wins over `{APP}_TELEMETRY_CONFIG`.
    #[arg(long, global = true, value_name = "FILE", value_parser = existing_file)]
    pub config: Option<PathBuf>,
}

/// A `--config` that names no file is a mistake on the command line, not a
/// configuration to do without.
fn existing_file(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    match std::fs::metadata(&path) {
        Ok(metadata) if metadata.is_file() => Ok(path),
        Ok(_) => Err("not a file".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

/// Runs `command` for the application configured by `builder`, writing to
/// `out`; errors go to stderr as one line. Returns the exit code.
pub fn run(command: &TelemetryCommand, builder: TelemetryBuilder, out: &mut impl Write) -> i32 {
    exit_code(execute(command, builder, out))
}

/// Like [`run`], for the commands with `demo`.
pub fn run_with_demo(
    command: &TelemetryCommandWithDemo,
    builder: TelemetryBuilder,
    out: &mut impl Write,
) -> i32 {
    exit_code(match command {
        TelemetryCommandWithDemo::Control(command) => execute(command, builder, out),
        TelemetryCommandWithDemo::Demo(args) => demo::run(args, builder, out),
        TelemetryCommandWithDemo::Tokens(command) => tokens::run(command, &builder, out),
        TelemetryCommandWithDemo::Trace(command) => trace::run(command, out),
        TelemetryCommandWithDemo::Dataset(command) => dataset::run(command, out),
    })
}

/// Runs a `dataset` command, for a host that embeds [`DatasetCommand`] in
/// its own CLI. Returns the exit code: 0, 1 when the logs or the datasets
/// could not be read or written (the cause on stderr), 2 for a usage
/// error, [`EXIT_ALERT`] when `check --fail-on-alert` found an alert.
pub fn run_dataset(command: &DatasetCommand, out: &mut impl Write) -> i32 {
    exit_code(dataset::run(command, out))
}

/// Runs a `trace` command, for a host that embeds [`TraceCommand`] in its
/// own CLI. Returns the exit code: 0, or 1 when a trace does not verify or
/// the collector refused (the cause on stderr), 2 for a usage error.
pub fn run_trace(command: &TraceCommand, out: &mut impl Write) -> i32 {
    exit_code(trace::run(command, out))
}

/// Runs a `tokens` command for the application configured by `builder`
/// (its environment prefix names the variables), for a host that embeds
/// [`TokensCommand`] in its own CLI. Returns the exit code.
pub fn run_tokens(
    command: &TokensCommand,
    builder: &TelemetryBuilder,
    out: &mut impl Write,
) -> i32 {
    exit_code(tokens::run(command, builder, out))
}

/// The exit code of `result`, its cause printed to stderr.
fn exit_code(result: Result<(), Failure>) -> i32 {
    match result {
        Ok(()) => EXIT_OK,
        Err(Failure::Usage(message)) => {
            eprintln!("telemetry: {message}");
            EXIT_USAGE
        }
        Err(Failure::Failed(message)) => {
            eprintln!("telemetry: error: {message}");
            EXIT_FAILURE
        }
        Err(Failure::RemoteDeletion(message)) => {
            eprintln!("telemetry: error: {message}");
            EXIT_REMOTE_DELETION_FAILED
        }
        Err(Failure::Alert(alerts)) => {
            eprintln!("telemetry: {alerts} alert{} fired", plural(alerts));
            EXIT_ALERT
        }
    }
}

/// Why a command did not succeed.
enum Failure {
    Usage(String),
    Failed(String),
    /// Done here; the collector's deletion request failed.
    RemoteDeletion(String),
    /// `dataset check --fail-on-alert`: this many alerts fired.
    Alert(usize),
}

impl From<ControlError> for Failure {
    fn from(error: ControlError) -> Self {
        match error {
            // `--app` was given a name that cannot be one.
            ControlError::AppName(_) => Self::Usage(error.to_string()),
            _ => Self::Failed(error.to_string()),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self::Failed(format!("writing output: {error}"))
    }
}

fn execute(
    command: &TelemetryCommand,
    builder: TelemetryBuilder,
    out: &mut impl Write,
) -> Result<(), Failure> {
    if let TelemetryCommand::ResetId(Confirm { yes: false }) = command {
        return Err(Failure::Usage(
            "reset-id replaces the client id and the hashing key for good; run `reset-id --yes` to confirm".into(),
        ));
    }
    let advice = Advice::new(&builder);
    let mut control = builder.control()?;
    // `status` shows every problem itself, in its text and its JSON.
    if !matches!(command, TelemetryCommand::Status(_)) {
        for problem in control.problems() {
            eprintln!("telemetry: warning: {problem}");
        }
    }
    match command {
        TelemetryCommand::Status(flag) => {
            let status = control.status()?;
            let notes = advice.notes(&status.decision);
            if flag.json {
                writeln!(out, "{}", render::status_json(&status, &notes))?;
            } else {
                render::status_text(&status, &notes, &advice.sink, out)?;
            }
        }
        TelemetryCommand::Enable => change(&mut control, Mode::On, &advice, out)?,
        TelemetryCommand::Local => change(&mut control, Mode::Local, &advice, out)?,
        TelemetryCommand::Disable => {
            // Read before: turning telemetry off forgets it.
            let client_id = control.client_id();
            change(&mut control, Mode::Off, &advice, out)?;
            if let Some(client_id) = client_id {
                request_deletion(&mut control, client_id, out)?;
            }
        }
        TelemetryCommand::Preview(flag) | TelemetryCommand::Queue(QueueCommand::Show(flag)) => {
            let envelopes = control.preview()?;
            render::envelopes(&envelopes, flag.json, pretty::Numbers::AsQueued, out)?;
        }
        TelemetryCommand::Queue(QueueCommand::Purge) => {
            let purged = control.purge()?;
            writeln!(out, "purged {purged} queued event{}", plural(purged))?;
        }
        TelemetryCommand::Send => {
            let report = control.send().map_err(|error| match error {
                ControlError::NoSink => Failure::Failed(format!(
                    "no sink is configured: {}; until then events stay in the local queue (see `telemetry preview`)",
                    advice.sink
                )),
                error => error.into(),
            })?;
            writeln!(
                out,
                "sent {} event{} in {} request{}",
                report.sent,
                plural(report.sent),
                report.requests,
                plural(report.requests)
            )?;
            if report.dropped_too_large > 0 {
                writeln!(
                    out,
                    "dropped {} event{} too large to send",
                    report.dropped_too_large,
                    plural(report.dropped_too_large)
                )?;
            }
            if report.dead_lettered > 0 {
                writeln!(
                    out,
                    "moved {} rejected event{} to {}",
                    report.dead_lettered,
                    plural(report.dead_lettered),
                    control.dead_letter_path().display()
                )?;
            }
        }
        TelemetryCommand::ResetId(_) => {
            let client_id = control.reset_id()?;
            writeln!(out, "new client id: {client_id}")?;
            writeln!(
                out,
                "new hashing key drawn; events already queued keep the old id"
            )?;
        }
    }
    Ok(())
}

/// What the commands add to the runtime's answers: the
/// `{APP}_TELEMETRY_ENABLED` value a decision may have set aside, and what to
/// set for `send` to have a sink.
struct Advice {
    /// `{APP}_TELEMETRY_ENABLED` and its value, if set.
    enabled: Option<(String, String)>,
    /// What to set for a sink, in words.
    sink: String,
}

impl Advice {
    fn new(builder: &TelemetryBuilder) -> Self {
        let name = consent::enabled_var(&builder.env_prefix());
        let prefix = builder.env_prefix();
        Self {
            enabled: builder.env_var(&name).map(|value| (name, value)),
            sink: format!(
                "set {} (PostHog) or {} (a collector), or `posthog_api_key` or `collector_url` in the `[telemetry]` table of the configuration file",
                env_var_name(&prefix, "posthog_api_key"),
                env_var_name(&prefix, "collector_url"),
            ),
        }
    }

    /// Notes on `decision` when it set `{APP}_TELEMETRY_ENABLED` aside, so
    /// that a variable that changed nothing is not hidden.
    fn notes(&self, decision: &Decision) -> Vec<String> {
        let Some((name, value)) = &self.enabled else {
            return Vec::new();
        };
        let value = value.trim();
        let note = match &decision.source {
            Source::UserChoice
                if decision.mode == Mode::Off && consent::parse_switch(value) == Some(true) =>
            {
                format!(
                    "{name}={value} is set, but your saved `disable` wins over it; `telemetry enable` turns telemetry on"
                )
            }
            Source::DoNotTrack(_) => {
                format!("{name}={value} is set, but DO_NOT_TRACK comes first")
            }
            _ => return Vec::new(),
        };
        vec![note]
    }
}

fn change(
    control: &mut Control,
    mode: Mode,
    advice: &Advice,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let outcome = control.set_choice(mode)?;
    writeln!(out, "saved: telemetry {mode}")?;
    if outcome.purged > 0 || mode == Mode::Off {
        writeln!(
            out,
            "purged {} queued event{}; the client id and hashing key are deleted",
            outcome.purged,
            plural(outcome.purged)
        )?;
    }
    if let Some(client_id) = outcome.client_id {
        writeln!(out, "client id: {client_id}")?;
    }
    if outcome.decision.mode != mode {
        writeln!(
            out,
            "note: telemetry stays {} because {}",
            outcome.decision.mode, outcome.decision.source
        )?;
    }
    for note in advice.notes(&outcome.decision) {
        writeln!(out, "note: {note}")?;
    }
    if outcome.decision.mode == Mode::On && !control.has_sink() {
        writeln!(
            out,
            "note: no sink is configured, so events stay in the local queue; to send them, {}",
            advice.sink
        )?;
    }
    Ok(())
}

/// After a `disable`: asks the sink's destination, if it takes deletion
/// requests (a collector), to delete the records of `client_id`. The local
/// disable stands whatever the answer.
fn request_deletion(
    control: &mut Control,
    client_id: Uuid,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let sink = control.sink_name().unwrap_or_default();
    match control.request_deletion(client_id) {
        None => Ok(()),
        Some(Ok(deleted)) => {
            writeln!(
                out,
                "asked {sink} to delete the records of client id {client_id}: {deleted} deleted"
            )?;
            Ok(())
        }
        Some(Err(error)) => Err(Failure::RemoteDeletion(format!(
            "telemetry is off and the local data is deleted, but the deletion request failed: {}; {sink} may still hold the records of client id {client_id}: keep this id to ask its operators to delete them",
            error.reason
        ))),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
