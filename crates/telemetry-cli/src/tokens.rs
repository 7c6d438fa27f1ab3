//! `telemetry tokens …`: the token-usage workflow (check, calibrate, apply,
//! and a simulated run for trying it), thin over `telemetry-tokens`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use telemetry_runtime::TelemetryBuilder;
use telemetry_tokens::estimator::Coefficients;
use telemetry_tokens::location::{self, DATABASE_URL};
use telemetry_tokens::simulate::Simulation;
use telemetry_tokens::{
    Create, Estimator, Location, Options, Store, StoreError, Switch, TokenRecorder, check, patch,
    report,
};

use crate::{Failure, plural};

/// `telemetry tokens …`.
#[derive(Debug, Clone, Subcommand)]
pub enum TokensCommand {
    /// Which database, how many usage events, how many usable, groups with
    /// enough samples (the reference workflow's `db_identity_check`).
    Check(CheckArgs),
    /// Write `token_estimator_calibration_YYYYMMDD_HHMMSS.md` and `.json`
    /// from the successful, untruncated calls.
    Calibrate(CalibrateArgs),
    /// Show what a calibration patch changes in a coefficients file; write
    /// it with `--yes`.
    Apply(ApplyArgs),
    /// Simulate a run of LLM calls and record them as an application would
    /// (only when `{APP}_TELEMETRY_DB_ENABLED=1`).
    Simulate(SimulateArgs),
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArg {
    /// The database: a path or `sqlite:///path.db` [default:
    /// `{APP}_TELEMETRY_DATABASE_URL`, else `DATABASE_URL`].
    #[arg(long, value_name = "PATH|URL")]
    pub database: Option<PathBuf>,
}

/// `telemetry tokens check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "flattened")]
    pub database: DatabaseArg,
    /// The samples a group needs to count as calibratable.
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub min_samples: u64,
}

/// `telemetry tokens calibrate`.
#[derive(Debug, Clone, Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "flattened")]
    pub database: DatabaseArg,
    /// Fewest successful, untruncated calls for a group to get a proposal.
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub min_samples: u64,
    /// Lowest confidence for a proposal, between 0 and 1.
    #[arg(long, default_value_t = 0.7, value_name = "C", value_parser = unit_interval)]
    pub confidence_threshold: f64,
    /// Also group by model (the report only: the estimator's coefficients
    /// are per category and complexity).
    #[arg(long)]
    pub by_model: bool,
    /// Also group by deliverable count (the report only).
    #[arg(long)]
    pub by_deliverables: bool,
    /// The backtest's held-out share, in percent.
    #[arg(long, default_value_t = 20, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=90))]
    pub holdout: u8,
    /// The coefficients in use, to propose from [default: the built-in ones].
    #[arg(long, value_name = "FILE")]
    pub coefficients: Option<PathBuf>,
    /// Where to write the report and the patch.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub output_dir: PathBuf,
}

/// `telemetry tokens apply`.
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// The calibration patch (`token_estimator_calibration_….json`).
    #[arg(value_name = "PATCH")]
    pub patch: PathBuf,
    /// The coefficients file to change (created if missing).
    #[arg(long, value_name = "FILE")]
    pub coefficients: PathBuf,
    /// Write the change; without it, only the diff is shown.
    #[arg(long)]
    pub yes: bool,
}

/// `telemetry tokens simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "flattened")]
    pub database: DatabaseArg,
    /// How many calls.
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub calls: usize,
    /// The seed: the same seed gives the same calls.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The run ids' prefix.
    #[arg(long, default_value = "sim", value_name = "PREFIX")]
    pub run_id: String,
    /// The coefficients the simulated estimator uses [default: built-in].
    #[arg(long, value_name = "FILE")]
    pub coefficients: Option<PathBuf>,
}

fn unit_interval(value: &str) -> Result<f64, String> {
    let number: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if (0.0..=1.0).contains(&number) {
        Ok(number)
    } else {
        Err(format!("{value} is not between 0 and 1"))
    }
}

/// The environment the token commands read, through the builder (so tests
/// and embedders can give their own).
struct Environment {
    app: String,
    prefix: String,
    vars: HashMap<String, String>,
}

impl Environment {
    fn new(builder: &TelemetryBuilder) -> Self {
        let prefix = builder.env_prefix();
        let names = [
            location::enabled_var(&prefix),
            location::database_url_var(&prefix),
            DATABASE_URL.to_owned(),
            "DO_NOT_TRACK".to_owned(),
        ];
        let vars = names
            .into_iter()
            .filter_map(|name| builder.env_var(&name).map(|value| (name, value)))
            .collect();
        Self {
            app: builder.app_name().to_owned(),
            prefix,
            vars,
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn enabled_var(&self) -> String {
        location::enabled_var(&self.prefix)
    }

    fn switch(&self) -> Switch {
        Switch::from_env(|name| self.get(name), &self.prefix)
    }

    fn location(&self, flag: &DatabaseArg) -> Result<Location, Failure> {
        match &flag.database {
            Some(path) => Location::from_flag(path),
            None => Location::from_env(|name| self.get(name), &self.prefix),
        }
        .map_err(|error| Failure::Failed(error.to_string()))
    }

    /// Opens an existing database for reading.
    fn open(&self, flag: &DatabaseArg) -> Result<(Location, Store), Failure> {
        let location = self.location(flag)?;
        let store = Store::open(&location.path, Create::MustExist).map_err(|error| match error {
            StoreError::Missing { .. } => Failure::Failed(format!(
                "{location}: no such database. It is created by the first recorded call: set {}=1 in the environment of the process that calls the LLM, with the same location",
                self.enabled_var()
            )),
            error => Failure::Failed(error.to_string()),
        })?;
        Ok((location, store))
    }
}

fn load_coefficients(path: Option<&Path>) -> Result<Coefficients, Failure> {
    path.map_or_else(
        || Ok(Coefficients::default()),
        |path| Coefficients::load(path).map_err(|error| Failure::Failed(error.to_string())),
    )
}

/// Runs a `tokens` command.
pub(crate) fn run(
    command: &TokensCommand,
    builder: &TelemetryBuilder,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let env = Environment::new(builder);
    match command {
        TokensCommand::Check(args) => {
            let (location, store) = env.open(&args.database)?;
            let identity = check::identity(&store, args.min_samples)
                .map_err(|error| Failure::Failed(error.to_string()))?;
            write!(
                out,
                "{}",
                check::render(&identity, &location, &env.switch(), &env.enabled_var())
            )?;
        }
        TokensCommand::Calibrate(args) => calibrate(args, &env, out)?,
        TokensCommand::Apply(args) => {
            let plan = patch::plan(&args.patch, &args.coefficients)
                .map_err(|error| Failure::Failed(error.to_string()))?;
            write!(out, "{}", plan.diff())?;
            if plan.changes.is_empty() {
            } else if args.yes {
                plan.write()
                    .map_err(|error| Failure::Failed(error.to_string()))?;
                writeln!(
                    out,
                    "wrote {} ({} coefficient{} changed)",
                    plan.path.display(),
                    plan.changes.len(),
                    plural(plan.changes.len())
                )?;
            } else {
                writeln!(
                    out,
                    "not written: review the change, then run again with --yes to write {}",
                    plan.path.display()
                )?;
            }
        }
        TokensCommand::Simulate(args) => simulate(args, &env, out)?,
    }
    Ok(())
}

fn calibrate(args: &CalibrateArgs, env: &Environment, out: &mut impl Write) -> Result<(), Failure> {
    let options = Options {
        min_samples: usize::try_from(args.min_samples).unwrap_or(usize::MAX),
        confidence_threshold: args.confidence_threshold,
        by_model: args.by_model,
        by_deliverables: args.by_deliverables,
        holdout_percent: args.holdout,
        ..Options::default()
    };
    options
        .validate()
        .map_err(|error| Failure::Usage(error.to_string()))?;
    let coefficients = load_coefficients(args.coefficients.as_deref())?;
    if !args.output_dir.is_dir() {
        return Err(Failure::Failed(format!(
            "--output-dir {}: not a directory",
            args.output_dir.display()
        )));
    }
    let (location, store) = env.open(&args.database)?;
    let calibration = telemetry_tokens::calibrate(&store, &coefficients, &options)
        .map_err(|error| Failure::Failed(error.to_string()))?;
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let (markdown_path, json_path) = report::file_paths(&args.output_dir, now);
    let write = |path: &Path, text: String| {
        std::fs::write(path, text)
            .map_err(|error| Failure::Failed(format!("{}: {error}", path.display())))
    };
    write(
        &markdown_path,
        report::markdown(&calibration, &location.path, now),
    )?;
    write(
        &json_path,
        report::patch(&calibration, &location.path, now).to_json(),
    )?;
    let proposals = calibration.proposals().count();
    writeln!(
        out,
        "read {} LLM usage event{} from {location}: {} successful and not truncated, in {} group{}",
        calibration.events,
        plural(calibration.events),
        calibration.usable,
        calibration.groups.len(),
        plural(calibration.groups.len())
    )?;
    writeln!(
        out,
        "{proposals} group{} with a proposal (--min-samples {} --confidence-threshold {:.2})",
        plural(proposals),
        options.min_samples,
        options.confidence_threshold
    )?;
    for (group, proposal) in calibration.proposals() {
        writeln!(
            out,
            "  {}: {} -> {} (x{:.2}, n={}, confidence={:.2})",
            group.key.label(),
            proposal.current_coefficient,
            proposal.proposed_coefficient,
            proposal.multiplier,
            group.n,
            group.confidence
        )?;
    }
    if let Some(backtest) = &calibration.backtest {
        writeln!(
            out,
            "backtest on {} held-out call{}: median error {:.1}% -> {:.1}%",
            backtest.held_out,
            plural(backtest.held_out),
            backtest.error_before * 100.0,
            backtest.error_after * 100.0
        )?;
    }
    if proposals == 0 {
        writeln!(
            out,
            "No high-confidence groups: collect more successful calls, or lower --confidence-threshold"
        )?;
    }
    writeln!(out, "wrote {}", markdown_path.display())?;
    writeln!(out, "wrote {}", json_path.display())?;
    Ok(())
}

fn simulate(args: &SimulateArgs, env: &Environment, out: &mut impl Write) -> Result<(), Failure> {
    let estimator = Estimator::new(load_coefficients(args.coefficients.as_deref())?);
    let vars = env.vars.clone();
    let mut recorder = TokenRecorder::builder(&env.app)
        .map_err(|error| Failure::Usage(error.to_string()))?
        .env(move |name| vars.get(name).cloned());
    if let Some(path) = &args.database.database {
        recorder = recorder.database(path);
    }
    let recorder = recorder.build();
    if let Some(problem) = recorder.problems().first() {
        return Err(Failure::Failed(problem.clone()));
    }
    let simulation = Simulation {
        seed: args.seed,
        calls: args.calls,
        run_prefix: args.run_id.clone(),
        ..Simulation::default()
    };
    let guard_error = |error: telemetry_tokens::RecordError| Failure::Usage(error.to_string());
    for (at, usage) in simulation.records(&estimator).enumerate() {
        recorder.record(usage).map_err(guard_error)?;
        // A simulation may outrun the writer; an application would drop
        // and count, a simulation waits so that every call lands.
        if at % 1024 == 1023 && recorder.is_recording() {
            let _ = recorder.flush(Duration::from_secs(30));
        }
    }
    if !recorder.is_recording() {
        writeln!(
            out,
            "simulated {} call{}; none recorded: {} (set {}=1 to record)",
            args.calls,
            plural(args.calls),
            recorder.reason(),
            env.enabled_var()
        )?;
        return Ok(());
    }
    recorder
        .flush(Duration::from_secs(60))
        .map_err(|error| Failure::Failed(error.to_string()))?;
    let counters = recorder.counters();
    writeln!(
        out,
        "simulated {} call{} in run{} {}-run-*; recorded {} into {}",
        args.calls,
        plural(args.calls),
        if args.calls > simulation.calls_per_run {
            "s"
        } else {
            ""
        },
        args.run_id,
        counters.written,
        recorder
            .location()
            .map_or_else(String::new, ToString::to_string)
    )?;
    Ok(())
}
