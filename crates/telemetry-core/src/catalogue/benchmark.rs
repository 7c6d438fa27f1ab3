use crate::validate::{self, InvalidEvent};
use crate::{TelemetrySafe, TelemetryValue};

/// The naive approach a tool is compared with.
#[derive(TelemetryValue, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[telemetry(rename_all = "snake_case")]
pub enum BaselineApproach {
    /// Every file whose content contains any keyword, returned whole (`grep -l` then `cat`).
    GrepFullFiles,
    /// Files whose name matches a keyword, plus every file in the same directories.
    FileNameWithDirectory,
}

/// The tool against a naive baseline on the same task: what each returned,
/// and how much the tool saved. Build it with [`PerformanceBenchmark::new`] or
/// from a [`ComparisonReport`](crate::baseline::ComparisonReport).
#[derive(TelemetrySafe, Debug, Clone, PartialEq)]
#[telemetry(event = "performance_benchmark")]
pub struct PerformanceBenchmark {
    /// What was compared, as an identifier chosen by the application (`search_vs_grep`).
    comparison_type: String,
    /// The naive approach.
    baseline_approach: BaselineApproach,
    /// What the naive approach would have returned (estimates).
    baseline: BenchmarkCounts,
    /// What the tool returned.
    actual: BenchmarkCounts,
    /// How much less the tool returned, in percent (negative when it returned more).
    improvement: Improvement,
}

/// What one side of a comparison returned.
#[derive(TelemetrySafe, Debug, Clone, Copy, PartialEq, Default)]
pub struct BenchmarkCounts {
    /// Files returned.
    pub files: u64,
    /// Lines returned.
    pub lines: u64,
    /// Tokens returned (estimated from bytes for the baseline).
    pub tokens: u64,
    /// Cost of those tokens, in US dollars.
    pub cost_usd: f64,
}

/// Reductions of the tool against the baseline, in percent: 0 when the
/// baseline is 0, negative when the tool returned more.
#[derive(TelemetrySafe, Debug, Clone, Copy, PartialEq, Default)]
pub struct Improvement {
    /// Fewer files, in percent.
    pub files_reduction_percent: f64,
    /// Fewer lines, in percent.
    pub lines_reduction_percent: f64,
    /// Fewer tokens, in percent.
    pub tokens_reduction_percent: f64,
    /// Lower cost, in percent.
    pub cost_savings_percent: f64,
}

/// Everything a [`PerformanceBenchmark`] holds, checked by
/// [`PerformanceBenchmark::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkInput {
    /// What was compared: 1 to 64 ASCII letters, digits, `_`, `-`, `.`.
    pub comparison_type: String,
    /// The naive approach.
    pub baseline_approach: BaselineApproach,
    /// What the baseline returned; `cost_usd` finite and not negative.
    pub baseline: BenchmarkCounts,
    /// What the tool returned; `cost_usd` finite and not negative.
    pub actual: BenchmarkCounts,
    /// Reductions in percent; each finite and at most 100.
    pub improvement: Improvement,
}

impl PerformanceBenchmark {
    /// Checks every field and builds the event.
    pub fn new(input: BenchmarkInput) -> Result<Self, InvalidEvent> {
        validate::identifier("comparison_type", &input.comparison_type)?;
        validate::non_negative("baseline.cost_usd", input.baseline.cost_usd)?;
        validate::non_negative("actual.cost_usd", input.actual.cost_usd)?;
        let improvement = input.improvement;
        validate::percent(
            "improvement.files_reduction_percent",
            improvement.files_reduction_percent,
        )?;
        validate::percent(
            "improvement.lines_reduction_percent",
            improvement.lines_reduction_percent,
        )?;
        validate::percent(
            "improvement.tokens_reduction_percent",
            improvement.tokens_reduction_percent,
        )?;
        validate::percent(
            "improvement.cost_savings_percent",
            improvement.cost_savings_percent,
        )?;
        Ok(Self {
            comparison_type: input.comparison_type,
            baseline_approach: input.baseline_approach,
            baseline: input.baseline,
            actual: input.actual,
            improvement,
        })
    }

    /// What the baseline returned.
    #[must_use]
    pub fn baseline(&self) -> BenchmarkCounts {
        self.baseline
    }

    /// What the tool returned.
    #[must_use]
    pub fn actual(&self) -> BenchmarkCounts {
        self.actual
    }

    /// The reductions.
    #[must_use]
    pub fn improvement(&self) -> Improvement {
        self.improvement
    }
}
