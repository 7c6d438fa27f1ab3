//! `telemetry demo`: a short, simulated session of a code-search tool on a
//! real directory, through the whole pipeline into the local queue.
//!
//! The baselines are real: the directory is scanned (honouring `.gitignore`)
//! for what `grep` and a file-name search would have returned. The tool's own
//! answer is simulated: the top `--top` chunks of `--chunk-lines` lines each.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use telemetry_runtime::TelemetryBuilder;
use telemetry_runtime::baseline::{
    BaselineComparator, BaselineEstimate, ComparisonReport, ToolOutput,
};
use telemetry_runtime::catalogue::BaselineApproach;
use telemetry_runtime::{SearchRecord, SessionAggregator};

use crate::Failure;

/// Options of `telemetry demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// The directory to search.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// What the simulated user searches for; each word is also searched alone.
    #[arg(long, default_value = "config parse error")]
    pub query: String,
    /// How many chunks the simulated tool returns per search.
    #[arg(long, default_value_t = 5)]
    pub top: u64,
    /// Lines per returned chunk.
    #[arg(long, default_value_t = 40)]
    pub chunk_lines: u64,
}

pub(crate) fn run(
    args: &DemoArgs,
    builder: TelemetryBuilder,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let keywords: Vec<&str> = args.query.split_whitespace().collect();
    if keywords.is_empty() {
        return Err(Failure::Usage("--query needs at least one word".into()));
    }
    let telemetry = builder
        .build()
        .map_err(|error| Failure::Usage(error.to_string()))?;
    for problem in telemetry.problems() {
        eprintln!("telemetry: warning: {problem}");
    }

    let grep = BaselineComparator::new(BaselineApproach::GrepFullFiles);
    let by_name = BaselineComparator::new(BaselineApproach::FileNameWithDirectory);
    let mut session = SessionAggregator::new();
    let started = Instant::now();
    let mut searches: Vec<Vec<&str>> = vec![keywords.clone()];
    if keywords.len() > 1 {
        searches.extend(keywords.iter().map(|word| vec![*word]));
    }
    let mut first: Option<(ComparisonReport, ComparisonReport)> = None;
    for words in &searches {
        let timer = Instant::now();
        let grep_estimate = grep
            .scan_directory(&args.dir, words)
            .map_err(|error| Failure::Failed(error.to_string()))?;
        let name_estimate = by_name
            .scan_directory(&args.dir, words)
            .map_err(|error| Failure::Failed(error.to_string()))?;
        let elapsed = timer.elapsed();
        let tool = simulated_tool(&grep, &grep_estimate, args);
        let grep_report = grep.compare(grep_estimate, tool);
        let name_report = by_name.compare(name_estimate, tool);
        session.record(&SearchRecord {
            duration: elapsed,
            success: tool.files > 0,
            tokens_generated: grep_report.baseline_counts().tokens,
            tokens_delivered: tool.tokens,
            tokens_saved: grep_report
                .baseline_counts()
                .tokens
                .saturating_sub(tool.tokens),
            language: None,
            semantic_categories: &[],
        });
        first.get_or_insert((grep_report, name_report));
    }
    let (grep_report, name_report) = first.unwrap_or_else(|| unreachable!("at least one search"));

    comparison_table(&args.query, &grep_report, &name_report, out)?;

    if !telemetry.is_recording() {
        writeln!(
            out,
            "\ntelemetry is off ({}): nothing was recorded",
            telemetry.decision().source
        )?;
        return Ok(());
    }
    let events = [
        grep_report
            .to_benchmark("search_vs_grep")
            .map_err(|error| Failure::Failed(error.to_string()))?,
        name_report
            .to_benchmark("search_vs_file_names")
            .map_err(|error| Failure::Failed(error.to_string()))?,
    ];
    for event in &events {
        telemetry.capture(event);
    }
    let summary = session
        .summary_with_duration(started.elapsed())
        .map_err(|error| Failure::Failed(error.to_string()))?;
    telemetry.capture(&summary);
    telemetry
        .shutdown(Duration::from_secs(10))
        .map_err(|error| Failure::Failed(error.to_string()))?;

    let queued = telemetry.preview()?;
    let recorded = &queued[queued.len().saturating_sub(3)..];
    writeln!(
        out,
        "\nrecorded {} event{} in the local queue ({}, because {}); exactly what would be sent:\n",
        recorded.len(),
        if recorded.len() == 1 { "" } else { "s" },
        telemetry.decision().mode,
        telemetry.decision().source
    )?;
    crate::render::envelopes(recorded, false, out)?;
    writeln!(
        out,
        "\nsee them again with `telemetry preview`; delete them with `telemetry queue purge`"
    )?;
    Ok(())
}

/// The simulated tool: the top chunks, at most one per matching file.
/// The top `--top` chunks of `--chunk-lines` lines among the files grep
/// matched; a chunk is never longer than what those files hold.
fn simulated_tool(
    comparator: &BaselineComparator,
    matching: &BaselineEstimate,
    args: &DemoArgs,
) -> ToolOutput {
    let chunks = args.top.min(matching.files);
    let lines = (chunks * args.chunk_lines).min(matching.lines);
    // Lines as long as the matching files' lines on average.
    let bytes = matching
        .bytes
        .saturating_mul(lines)
        .checked_div(matching.lines)
        .unwrap_or_else(|| lines * u64::from(comparator.token_model().bytes_per_line().get()));
    let tokens = comparator.token_model().estimate_tokens("text", bytes);
    ToolOutput::new(chunks, lines, tokens)
}

fn comparison_table(
    query: &str,
    grep: &ComparisonReport,
    by_name: &ComparisonReport,
    out: &mut impl Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "search {query:?}: what each approach would hand to a language model\n"
    )?;
    writeln!(
        out,
        "{:<34} {:>8} {:>10} {:>12} {:>12}",
        "approach", "files", "lines", "tokens", "cost (USD)"
    )?;
    let rows = [
        ("grep, whole files (baseline)", grep.baseline_counts()),
        (
            "file name + directory (baseline)",
            by_name.baseline_counts(),
        ),
        ("tool, top chunks (simulated)", grep.actual()),
    ];
    for (name, counts) in rows {
        writeln!(
            out,
            "{name:<34} {:>8} {:>10} {:>12} {:>12.4}",
            counts.files, counts.lines, counts.tokens, counts.cost_usd
        )?;
    }
    writeln!(
        out,
        "\ntokens: {} than grep, {} than file-name search",
        relative(grep.improvement().tokens_reduction_percent),
        relative(by_name.improvement().tokens_reduction_percent)
    )
}

/// `70.0% fewer`, or `12.5% more` when the reduction is negative.
fn relative(reduction_percent: f64) -> String {
    if reduction_percent < 0.0 {
        format!("{:.1}% more", -reduction_percent)
    } else {
        format!("{reduction_percent:.1}% fewer")
    }
}
