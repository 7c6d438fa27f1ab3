//! `telemetry demo`: a short, simulated session of a code-search tool on a
//! real directory, through the whole pipeline into the local queue.
//!
//! The baselines are real: the directory is scanned (honouring `.gitignore`)
//! for what `grep` and a file-name search would have returned. The tool's own
//! answer is simulated: the top `--top` chunks of `--chunk-lines` lines each,
//! in the directory's most common language, and of the kinds of file it
//! holds (code, tests, documentation, configuration, told by extension and
//! place, never by content) in their proportions.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use ignore::WalkBuilder;
use telemetry_runtime::TelemetryBuilder;
use telemetry_runtime::baseline::{
    BaselineComparator, BaselineEstimate, ComparisonReport, ToolOutput, language_for_path,
};
use telemetry_runtime::catalogue::BaselineApproach;
use telemetry_runtime::{SearchRecord, SessionAggregator};

use crate::Failure;
use crate::pretty::Numbers;

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

    let mut corpus = Corpus::of(&args.dir);
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
        let categories = corpus.categories(tool.files);
        session.record(&SearchRecord {
            duration: elapsed,
            success: tool.files > 0,
            tokens_generated: grep_report.baseline_counts().tokens,
            tokens_delivered: tool.tokens,
            tokens_saved: grep_report
                .baseline_counts()
                .tokens
                .saturating_sub(tool.tokens),
            language: corpus.language,
            semantic_categories: &categories,
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
        "\nrecorded {} event{} in the local queue ({}, because {}); what would be sent, numbers rounded for reading (`telemetry preview` shows them as queued):\n",
        recorded.len(),
        if recorded.len() == 1 { "" } else { "s" },
        telemetry.decision().mode,
        telemetry.decision().source
    )?;
    crate::render::envelopes(recorded, false, Numbers::Rounded, out)?;
    writeln!(
        out,
        "\nsee them again with `telemetry preview`; delete them with `telemetry queue purge`"
    )?;
    Ok(())
}

/// What the simulated tool's chunks are taken to be about, from the names
/// and places of the directory's files (never their contents): its most
/// common language, and how many files of each kind it holds.
struct Corpus {
    language: Option<&'static str>,
    files_by_category: BTreeMap<&'static str, u64>,
    /// Chunks given to each category so far in the session.
    chunks_by_category: BTreeMap<&'static str, u64>,
}

impl Corpus {
    /// Walks `dir` as the scan does (`.gitignore` honoured, hidden files
    /// skipped); files of no known language are left out.
    fn of(dir: &Path) -> Self {
        let mut files_by_language: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut files_by_category = BTreeMap::new();
        let walk = WalkBuilder::new(dir).require_git(false).build();
        for entry in walk.flatten() {
            if !entry.file_type().is_some_and(|kind| kind.is_file()) {
                continue;
            }
            let path = entry.path().strip_prefix(dir).unwrap_or(entry.path());
            let Some(language) = language_for_path(path) else {
                continue;
            };
            *files_by_language.entry(language).or_default() += 1;
            *files_by_category
                .entry(category(path, language))
                .or_default() += 1;
        }
        // The most files; among equals, the first name.
        let language = files_by_language
            .iter()
            .rev()
            .max_by_key(|(_, files)| **files)
            .map(|(language, _)| *language);
        Self {
            language,
            files_by_category,
            chunks_by_category: BTreeMap::new(),
        }
    }

    /// The categories of the next `chunks` chunks of the session, so that
    /// the session's chunks follow the proportions of the files: each goes
    /// to the category with the most files per chunk given so far (the
    /// D'Hondt rule). Of a tree of 6 code files and 4 test files, 5 chunks
    /// are 3 `function` and 2 `test`.
    fn categories(&mut self, chunks: u64) -> Vec<&'static str> {
        let mut categories = Vec::new();
        for _ in 0..chunks {
            let mut best: Option<(&'static str, u64, u64)> = None;
            for (&category, &files) in &self.files_by_category {
                let so_far = self.chunks_by_category.get(category).copied().unwrap_or(0) + 1;
                // files / so_far > best_files / best_so_far, without division.
                let better = best.is_none_or(|(_, best_files, best_so_far)| {
                    u128::from(files) * u128::from(best_so_far)
                        > u128::from(best_files) * u128::from(so_far)
                });
                if better {
                    best = Some((category, files, so_far));
                }
            }
            let Some((category, _, _)) = best else {
                break;
            };
            *self.chunks_by_category.entry(category).or_default() += 1;
            categories.push(category);
        }
        categories
    }
}

/// The semantic category of a file of `language` at `path` (relative to
/// the searched directory), by its extension and place.
fn category(path: &Path, language: &str) -> &'static str {
    let in_tests = path.parent().is_some_and(|parent| {
        parent.components().any(|part| {
            matches!(
                part.as_os_str().to_str(),
                Some("test" | "tests" | "spec" | "__tests__")
            )
        })
    });
    // `test_lexer.py`, `lexer_test.go`, `app.test.ts`, `app.spec.ts`.
    let named_as_test = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .is_some_and(|stem| {
            let stem = stem.to_ascii_lowercase();
            let inner = Path::new(&stem)
                .extension()
                .and_then(|inner| inner.to_str());
            stem.starts_with("test_")
                || stem.ends_with("_test")
                || stem.ends_with("_spec")
                || matches!(inner, Some("test" | "spec"))
        });
    match language {
        "markdown" | "text" => "documentation",
        "json" | "yaml" | "toml" => "configuration",
        _ if in_tests || named_as_test => "test",
        _ => "function",
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_told_apart_by_extension_and_place() {
        for (path, language, expected) in [
            ("src/parse.rs", "rust", "function"),
            ("tests/cli.rs", "rust", "test"),
            ("src/parser/test_lexer.py", "python", "test"),
            ("web/app.test.ts", "typescript", "test"),
            ("web/App.Spec.ts", "typescript", "test"),
            ("README.md", "markdown", "documentation"),
            ("tests/fixtures/config.toml", "toml", "configuration"),
            ("contest.rs", "rust", "function"),
        ] {
            assert_eq!(category(Path::new(path), language), expected, "{path}");
        }
    }

    #[test]
    fn the_sessions_chunks_follow_the_proportions_of_the_files() {
        let mut corpus = Corpus {
            language: Some("rust"),
            files_by_category: BTreeMap::from([("function", 6), ("test", 4)]),
            chunks_by_category: BTreeMap::new(),
        };
        let mut first = corpus.categories(5);
        first.sort_unstable();
        assert_eq!(first, ["function", "function", "function", "test", "test"]);
        let mut session = first;
        session.extend(corpus.categories(5));
        let tests = session
            .iter()
            .filter(|category| **category == "test")
            .count();
        assert_eq!(tests, 4, "{session:?}");
        let empty = Corpus {
            language: None,
            files_by_category: BTreeMap::new(),
            chunks_by_category: BTreeMap::new(),
        }
        .categories(5);
        assert!(empty.is_empty());
    }
}
