//! `telemetry dataset …`: interaction logs into versioned datasets
//! (`build`) and alerts on their health (`check`), thin over
//! `telemetry-dataset`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use telemetry_dataset::{
    BuildOptions, CheckOptions, QualityFilter, QualityThresholds, ReadOptions, Source,
};

use crate::Failure;

/// `telemetry dataset …`.
#[derive(Debug, Clone, Subcommand)]
pub enum DatasetCommand {
    /// Turn interaction logs into versioned, deduplicated datasets with
    /// provenance: `<output-dir>/<signature>/v<N>/`.
    Build(DatasetBuildArgs),
    /// Alert when a module's success rate, p99 latency or p99 cost crosses
    /// its threshold over a recent window.
    Check(DatasetCheckArgs),
    /// Write a generated interaction log, to try `build` and `check` on:
    /// four modules, nested inputs, 10% failures, 5% duplicates, a few
    /// malformed lines.
    Simulate(DatasetSimulateArgs),
}

/// `telemetry dataset simulate`.
#[derive(Debug, Clone, Args)]
pub struct DatasetSimulateArgs {
    /// The log to write (replaced if it exists).
    #[arg(long, value_name = "FILE")]
    pub output: std::path::PathBuf,
    /// Its size in MiB.
    #[arg(long, default_value_t = 10)]
    pub mib: u64,
    /// The generator's seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The first record's time, in ms since the Unix epoch (default: 30
    /// days ago, so that `check --since 30d` sees most of the log).
    #[arg(long, value_name = "MS")]
    pub start_ms: Option<u64>,
}

/// The logs to read.
#[derive(Debug, Clone, Args)]
pub struct LogFiles {
    /// A log: a file (plain or gzip), a directory (its *.jsonl and
    /// *.jsonl.gz, rotated files oldest first, then the live one) or a glob
    /// pattern; repeat for more.
    #[arg(long = "log-file", value_name = "FILE|DIR|GLOB", required = true)]
    pub log_file: Vec<String>,
}

/// Where a dataset's records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    /// Production interaction logs.
    Telemetry,
    /// Examples mined from git history.
    Git,
    /// Generated examples.
    Synthetic,
}

impl From<SourceArg> for Source {
    fn from(source: SourceArg) -> Self {
        match source {
            SourceArg::Telemetry => Self::Telemetry,
            SourceArg::Git => Self::Git,
            SourceArg::Synthetic => Self::Synthetic,
        }
    }
}

/// `telemetry dataset build`.
#[derive(Debug, Clone, Args)]
pub struct DatasetBuildArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "flattened")]
    pub logs: LogFiles,
    /// Where the datasets are: `<DIR>/<signature>/v<N>/`.
    #[arg(long, value_name = "DIR", default_value = "training_data")]
    pub output_dir: PathBuf,
    /// Leave out records whose `quality_score` is below this (records
    /// without one pass).
    #[arg(long, value_name = "SCORE", default_value_t = 0.70, value_parser = unit_interval)]
    pub min_quality_score: f64,
    /// Leave out records slower than this (records without a latency pass).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub max_latency_ms: u64,
    /// Leave out records more expensive than this (records without a cost
    /// pass).
    #[arg(long, value_name = "USD", default_value_t = 0.10, value_parser = non_negative)]
    pub max_cost_usd: f64,
    /// What provenance records as the examples' source.
    #[arg(long, value_enum, default_value_t = SourceArg::Telemetry)]
    pub source: SourceArg,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `telemetry dataset check`.
#[derive(Debug, Clone, Args)]
pub struct DatasetCheckArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "flattened")]
    pub logs: LogFiles,
    /// How far back to look, by the records' `timestamp_ms`: `30d`, `12h`,
    /// `2w`.
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = duration)]
    pub since: Duration,
    /// `monitoring_config.json`, for its `quality_thresholds` [default:
    /// 0.95, 3000 ms, 0.05 USD].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Records a module and signature needs in the window before any alert.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub min_records: u64,
    /// Alert below this success rate (overrides the configuration).
    #[arg(long, value_name = "RATE", value_parser = unit_interval)]
    pub min_success_rate: Option<f64>,
    /// Alert above this p99 latency (overrides the configuration).
    #[arg(long, value_name = "MS", value_parser = non_negative)]
    pub max_latency_p99_ms: Option<f64>,
    /// Alert above this p99 cost (overrides the configuration).
    #[arg(long, value_name = "USD", value_parser = non_negative)]
    pub max_cost_p99_usd: Option<f64>,
    /// Print the alerts and the groups as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit with 3 when any alert fires, for cron jobs.
    #[arg(long)]
    pub fail_on_alert: bool,
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

fn non_negative(value: &str) -> Result<f64, String> {
    let number: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if number.is_finite() && number >= 0.0 {
        Ok(number)
    } else {
        Err(format!("{value} is not a number of at least 0"))
    }
}

fn duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value)
        .map_err(|error| format!("{error} (write it as 30d, 12h or 90min)"))
}

/// A progress bar on stderr when it is a terminal; otherwise nothing.
fn progress_bar(files: &[PathBuf]) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let total = files
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|metadata| metadata.len())
        .sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}, {eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Runs a `dataset` command.
pub(crate) fn run(command: &DatasetCommand, out: &mut impl Write) -> Result<(), Failure> {
    match command {
        DatasetCommand::Build(args) => build(args, out),
        DatasetCommand::Check(args) => check(args, out),
        DatasetCommand::Simulate(args) => simulate(args, out),
    }
}

fn simulate(args: &DatasetSimulateArgs, out: &mut impl Write) -> Result<(), Failure> {
    let start_ms = args.start_ms.unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        now.saturating_sub(30 * 86_400 * 1000)
    });
    let simulation = telemetry_dataset::simulate::Simulation {
        bytes: args.mib.saturating_mul(1024 * 1024),
        seed: args.seed,
        start_ms,
        ..telemetry_dataset::simulate::Simulation::default()
    };
    let failed = |error: std::io::Error| {
        Failure::Failed(format!("writing {}: {error}", args.output.display()))
    };
    let file = std::fs::File::create(&args.output).map_err(failed)?;
    let mut writer = std::io::BufWriter::new(file);
    let written = simulation.write(&mut writer).map_err(failed)?;
    std::io::Write::flush(&mut writer).map_err(failed)?;
    writeln!(
        out,
        "wrote {}: {} lines, {} bytes ({} failures, {} exact duplicates, {} differing only in number spelling, {} only in an address, {} malformed)",
        args.output.display(),
        written.lines,
        written.bytes,
        written.failures,
        written.exact_duplicates,
        written.number_duplicates,
        written.redaction_duplicates,
        written.malformed,
    )?;
    Ok(())
}

fn build(args: &DatasetBuildArgs, out: &mut impl Write) -> Result<(), Failure> {
    let files = telemetry_dataset::expand(&args.logs.log_file)
        .map_err(|error| Failure::Failed(error.to_string()))?;
    let mut options = BuildOptions::new(files, &args.output_dir);
    options.filter = QualityFilter {
        min_quality_score: args.min_quality_score,
        max_latency_ms: args.max_latency_ms,
        max_cost_usd: args.max_cost_usd,
    };
    options.source = args.source.into();
    let bar = progress_bar(&options.log_files);
    let report = telemetry_dataset::build(&options, &|bytes| bar.inc(bytes));
    bar.finish_and_clear();
    let report = report.map_err(|error| Failure::Failed(error.to_string()))?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)
            .map_err(|error| Failure::Failed(format!("writing output: {error}")))?;
        writeln!(out)?;
    } else {
        report.write_text(out)?;
    }
    Ok(())
}

fn check(args: &DatasetCheckArgs, out: &mut impl Write) -> Result<(), Failure> {
    let mut thresholds = match &args.config {
        Some(path) => telemetry_dataset::load_thresholds(path)
            .map_err(|error| Failure::Failed(error.to_string()))?,
        None => QualityThresholds::default(),
    };
    if let Some(rate) = args.min_success_rate {
        thresholds.min_success_rate = rate;
    }
    if let Some(ms) = args.max_latency_p99_ms {
        thresholds.max_latency_p99_ms = ms;
    }
    if let Some(usd) = args.max_cost_p99_usd {
        thresholds.max_cost_p99_usd = usd;
    }
    let files = telemetry_dataset::expand(&args.logs.log_file)
        .map_err(|error| Failure::Failed(error.to_string()))?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    let options = CheckOptions {
        log_files: files,
        thresholds,
        since: args.since,
        now_ms,
        min_records: args.min_records,
        read: ReadOptions::default(),
    };
    let bar = progress_bar(&options.log_files);
    let report = telemetry_dataset::check(&options, &|bytes| bar.inc(bytes));
    bar.finish_and_clear();
    let report = report.map_err(|error| Failure::Failed(error.to_string()))?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)
            .map_err(|error| Failure::Failed(format!("writing output: {error}")))?;
        writeln!(out)?;
    } else {
        report.write_text(out)?;
    }
    if args.fail_on_alert && !report.alerts.is_empty() {
        return Err(Failure::Alert(report.alerts.len()));
    }
    Ok(())
}
